#include "client/admin_client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <boost/asio.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <functional>
#include <mutex>
#include <optional>
#include <type_traits>

namespace bootcfg {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

struct Endpoint {
    enum class Scheme { http, https, unix_socket } scheme;
    std::string host, port, path;
};

Endpoint parse_endpoint(const std::string& text) {
    Endpoint e{};
    std::string rest;
    if (text.starts_with("unix:")) {
        e.scheme = Endpoint::Scheme::unix_socket;
        e.path = text.substr(5);
        if (e.path.empty()) throw ConnectError("endpoint '" + text + "': unix: needs a path");
        return e;
    }
    if (text.starts_with("https://")) {
        e.scheme = Endpoint::Scheme::https;
        rest = text.substr(8);
    } else if (text.starts_with("http://")) {
        e.scheme = Endpoint::Scheme::http;
        rest = text.substr(7);
    } else {
        throw ConnectError("endpoint '" + text +
                           "' is not https://HOST:PORT, http://HOST:PORT or unix:/PATH");
    }
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.empty() || rest.find('/') != std::string::npos)
        throw ConnectError("endpoint '" + text + "' needs HOST[:PORT] and no path");
    const auto colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find(']', colon) == std::string::npos) {
        e.host = rest.substr(0, colon);
        e.port = rest.substr(colon + 1);
        if (e.port.empty() || e.host.empty())
            throw ConnectError("endpoint '" + text + "' needs HOST[:PORT]");
    } else {
        e.host = rest;
        e.port = e.scheme == Endpoint::Scheme::https ? "443" : "80";
    }
    if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']')
        e.host = e.host.substr(1, e.host.size() - 2);
    return e;
}

constexpr std::uint64_t kBodyLimit = 64u << 20;
constexpr std::size_t kErrorBodyLimit = 64u << 10;

void take_header(const http::response_header<>& header, ClientResponse& out) {
    out.status = header.result_int();
    std::string etag(header[http::field::etag]);
    if (etag.size() >= 2 && etag.front() == '"') etag = etag.substr(1, etag.size() - 2);
    out.etag = std::move(etag);
    for (const auto& field : header)
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
}

// A stream only receives: in quick-ack mode (which Linux re-enters by itself) every message
// costs the receiving CPU an ACK segment out and the sender's processing of it; delayed ACKs
// halve that (an etcd watch at 100 changes/s: 0.05 ms less per change on the watching CPU).
template <class Socket>
void delay_acks(Socket& socket) {
    if constexpr (std::is_same_v<typename Socket::protocol_type, tcp>) {
        const int off = 0;  // an optimisation only: a failure changes nothing else
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &off, sizeof off);
    }
}

// One request and its response. Without a sink the body is read whole; with one, a 200's body
// goes to the sink piece by piece as it arrives (each piece within `timeout` of the last) until
// it ends or the sink returns false.
template <class Stream>
asio::awaitable<void> exchange(Stream& stream, http::request<http::string_body>& req,
                               ClientResponse& out, error_code& ec,
                               std::chrono::milliseconds timeout, const BodySink* sink) {
    beast::get_lowest_layer(stream).expires_after(timeout);
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    beast::flat_buffer buffer;
    // Beast reads as much as the buffer has room for: without room, 512 bytes per system call
    // (a 27 MB etcd listing took 54,000 of them).
    buffer.reserve(64 * 1024);
    if (!sink) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(kBodyLimit);
        if (req.method() == http::verb::head) parser.skip(true);  // headers only, whatever length
        beast::get_lowest_layer(stream).expires_after(timeout);
        // The header first: Boost 1.74's async_read does not always apply body_limit to a
        // Content-Length that arrives with the first body bytes, and read the body whole.
        co_await http::async_read_header(stream, buffer, parser,
                                         asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        if (!parser.skip() && parser.content_length() && *parser.content_length() > kBodyLimit) {
            ec = http::error::body_limit;
            co_return;
        }
        co_await http::async_read(stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        take_header(parser.get().base(), out);
        out.body = std::move(parser.get().body());
        co_return;
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);  // a stream never ends by size; the sink decides
    beast::get_lowest_layer(stream).expires_after(timeout);
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    take_header(parser.get().base(), out);
    const bool streamed = out.status == 200;
    char piece[16384];
    while (!parser.is_done()) {
        parser.get().body().data = piece;
        parser.get().body().size = sizeof piece;
        beast::get_lowest_layer(stream).expires_after(timeout);
        // read_some: a piece as soon as it arrives, not once the buffer is full.
        co_await http::async_read_some(stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) co_return;
        delay_acks(beast::get_lowest_layer(stream).socket());
        const std::string_view got(piece, sizeof piece - parser.get().body().size);
        if (!streamed) {  // an error's reason: kept whole up to a bound
            out.body.append(
                got.substr(0, kErrorBodyLimit - std::min(kErrorBodyLimit, out.body.size())));
            if (out.body.size() >= kErrorBodyLimit) co_return;
        } else if (!got.empty() && !(*sink)(got)) {
            co_return;
        }
    }
}

}  // namespace

namespace {

// `track` (if set) is told the io_context the request runs on, and nullptr when it is done, so
// another thread can stop it.
ClientResponse perform(const std::function<void(asio::io_context*)>& track, const ClientOptions& o,
                       const std::string& method, const std::string& target,
                       const std::string& body,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const BodySink* sink) {
    const Endpoint ep = parse_endpoint(o.endpoint);
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, ep.scheme == Endpoint::Scheme::unix_socket ? "localhost" : ep.host);
    req.set(http::field::user_agent, "bootcfg/" BOOTCFG_VERSION);
    if (!o.token.empty()) req.set(http::field::authorization, "Bearer " + o.token);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "PUT") {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
    }
    req.prepare_payload();
    req.keep_alive(false);

    ClientResponse res;
    error_code ec;
    std::string stage = "connect to";
    long verify_result = X509_V_OK;  // why the server's certificate was refused, if it was
    std::optional<ssl::context> tls;
    if (ep.scheme == Endpoint::Scheme::https) {
        tls.emplace(ssl::context::tls_client);
        auto load = [&](const char* flag, const std::string& file, auto fn) {
            try {
                fn();
            } catch (const boost::system::system_error& e) {
                throw ConnectError(std::string(flag) + " " + file + ": " + e.code().message());
            }
        };
        if (o.ca_file.empty())
            tls->set_default_verify_paths();
        else
            load("--ca-file", o.ca_file, [&] { tls->load_verify_file(o.ca_file); });
        if (!o.cert_file.empty())
            load("--cert-file", o.cert_file, [&] { tls->use_certificate_chain_file(o.cert_file); });
        if (!o.key_file.empty())
            load("--key-file", o.key_file,
                 [&] { tls->use_private_key_file(o.key_file, ssl::context::pem); });
        tls->set_verify_mode(o.insecure ? ssl::verify_none : ssl::verify_peer);
    }
    auto run = [&]() -> asio::awaitable<void> {
        const auto ioc = co_await asio::this_coro::executor;
        if (ep.scheme == Endpoint::Scheme::unix_socket) {
            beast::basic_stream<asio::local::stream_protocol> stream(ioc);
            stream.expires_after(o.timeout);
            co_await stream.async_connect(asio::local::stream_protocol::endpoint(ep.path),
                                          asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            stage = "talk to";
            co_await exchange(stream, req, res, ec, o.timeout, sink);
            co_return;
        }
        tcp::resolver resolver(ioc);
        auto results = co_await resolver.async_resolve(
            ep.host, ep.port, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        if (ep.scheme == Endpoint::Scheme::http) {
            beast::tcp_stream stream(ioc);
            stream.expires_after(o.timeout);
            co_await stream.async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            // A request goes out as soon as it is written, not after the peer's delayed ACK.
            stream.socket().set_option(tcp::no_delay(true), ec);
            stage = "talk to";
            co_await exchange(stream, req, res, ec, o.timeout, sink);
            co_return;
        }
        beast::ssl_stream<beast::tcp_stream> stream(ioc, *tls);
        if (!SSL_set_tlsext_host_name(stream.native_handle(), ep.host.c_str())) {
            ec = error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
            co_return;
        }
        // OpenSSL's own name check (DNS or IP SAN), so a mismatch is reported as one.
        boost::system::error_code ip_ec;
        asio::ip::make_address(ep.host, ip_ec);
        const bool named = ip_ec
                               ? SSL_set1_host(stream.native_handle(), ep.host.c_str()) == 1
                               : X509_VERIFY_PARAM_set1_ip_asc(
                                     SSL_get0_param(stream.native_handle()), ep.host.c_str()) == 1;
        if (!named) {
            ec = asio::error::invalid_argument;
            co_return;
        }
        beast::get_lowest_layer(stream).expires_after(o.timeout);
        co_await beast::get_lowest_layer(stream).async_connect(
            results, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        beast::get_lowest_layer(stream).socket().set_option(tcp::no_delay(true), ec);
        stage = "complete TLS with";
        co_await stream.async_handshake(ssl::stream_base::client,
                                        asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            verify_result = SSL_get_verify_result(stream.native_handle());
            co_return;
        }
        stage = "talk to";
        co_await exchange(stream, req, res, ec, o.timeout, sink);
    };
    {
        // Declared after everything the request's coroutine refers to, so a stopped run's
        // frame is destroyed while those still exist.
        asio::io_context ioc;
        if (track) track(&ioc);
        asio::co_spawn(ioc, run(), asio::detached);
        ioc.run();
        if (track) track(nullptr);
    }
    if (ec) {
        std::string reason = ec.message();
        if (ec.category() == asio::error::get_ssl_category()) {
            char buf[256];
            ::ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
            reason = buf;
            if (verify_result == X509_V_ERR_HOSTNAME_MISMATCH ||
                verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH)
                reason = "the server's certificate does not name " + ep.host +
                         " (no matching subjectAltName); give the server a certificate for it, "
                         "e.g. scripts/tls-gen DIR --host " +
                         ep.host;
            else if (verify_result != X509_V_OK)
                reason += std::string(" (") + X509_verify_cert_error_string(verify_result) + ")";
        }
        // The admin API is off unless bootcfgd was started with -admin-address: say so.
        if (stage == "connect to" && ep.scheme == Endpoint::Scheme::unix_socket &&
            (ec == asio::error::not_found || ec == boost::system::errc::no_such_file_or_directory ||
             ec == asio::error::connection_refused))
            reason +=
                " (is bootcfgd's admin API on? It is off by default: start bootcfgd with "
                "-admin-address=" +
                o.endpoint + ")";
        throw ConnectError("cannot " + stage + " " + o.endpoint + ": " + reason);
    }
    return res;
}

}  // namespace

ClientResponse admin_request(const ClientOptions& options, const std::string& method,
                             const std::string& target, const std::string& body,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
    return perform({}, options, method, target, body, headers, nullptr);
}

struct StreamingRequest::Impl {
    std::mutex mutex;
    asio::io_context* running = nullptr;
    bool cancelled = false;
};

StreamingRequest::StreamingRequest() : impl_(std::make_unique<Impl>()) {}
StreamingRequest::~StreamingRequest() = default;

ClientResponse StreamingRequest::run(
    const ClientOptions& options, const std::string& method, const std::string& target,
    const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers,
    const BodySink& sink) {
    Impl& impl = *impl_;
    auto track = [&impl](asio::io_context* ioc) {
        std::lock_guard guard(impl.mutex);
        impl.running = ioc;
        if (ioc && impl.cancelled) ioc->stop();
    };
    ClientResponse response = perform(track, options, method, target, body, headers, &sink);
    std::lock_guard guard(impl.mutex);
    if (impl.cancelled) throw ConnectError("cancelled");
    return response;
}

void StreamingRequest::cancel() {
    std::lock_guard guard(impl_->mutex);
    impl_->cancelled = true;
    if (impl_->running) impl_->running->stop();
}

std::string ClientResponse::header(const std::string& name) const {
    for (const auto& [k, v] : headers)
        if (beast::iequals(k, name)) return v;
    return "";
}

void check_endpoint(const std::string& endpoint) {
    parse_endpoint(endpoint);
}

std::pair<std::string, std::string> split_url(const std::string& url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos ||
        (!url.starts_with("http://") && !url.starts_with("https://")))
        throw ConnectError("'" + url + "' is not an http:// or https:// URL");
    const auto slash = url.find('/', scheme_end + 3);
    std::string path = slash == std::string::npos ? "" : url.substr(slash);
    while (!path.empty() && path.back() == '/') path.pop_back();
    const std::string endpoint = url.substr(0, slash);
    parse_endpoint(endpoint);  // the same checks as a request would make
    return {endpoint, path};
}

}  // namespace bootcfg
