#include "admin/admin_server.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "admin/power.hpp"
#include "http/parse_refusal.hpp"
#include "logging/log_text.hpp"
#include "result/result.hpp"
#include "ui/ui.hpp"
#include "values/values.hpp"

namespace bootcfg::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

struct Token {
    std::string name;
    std::string secret;
};

// Who is on the other end before any credentials: the audit name without a token.
struct Peer {
    std::string address;       // "unix:uid=1000,pid=42" or "127.0.0.1:5555"
    std::string cert_subject;  // a verified client certificate's subject
};

Result<std::vector<Token>> load_tokens(const std::string& path) {
    std::ifstream in(path);
    if (!in) return fail("-admin-token-file " + path + ": cannot read it");
    std::vector<Token> tokens;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.find_first_not_of(" \t\r") == std::string::npos ||
            line[line.find_first_not_of(" \t")] == '#')
            continue;
        std::istringstream fields(line);
        Token t;
        std::string extra;
        if (!(fields >> t.name >> t.secret) || (fields >> extra))
            return fail("-admin-token-file " + path + ":" + std::to_string(n) +
                        ": expected 'NAME TOKEN'");
        if (t.secret.size() < 16)
            return fail("-admin-token-file " + path + ":" + std::to_string(n) + ": token of '" +
                        t.name + "' is shorter than 16 characters");
        tokens.push_back(std::move(t));
    }
    if (tokens.empty()) return fail("-admin-token-file " + path + ": no tokens in it");
    return tokens;
}

http::response<http::string_body> make_response(unsigned status, const ApiReply& reply,
                                                unsigned version) {
    http::response<http::string_body> res{static_cast<http::status>(status), version};
    res.set(http::field::server, "bootcfgd");
    res.set(http::field::content_type, reply.content_type);
    res.set(http::field::cache_control, "no-store");
    if (!reply.etag.empty()) res.set(http::field::etag, "\"" + reply.etag + "\"");
    if (status == 405) res.set(http::field::allow, "GET, HEAD, PUT, PATCH, DELETE");
    if (status == 401) res.set(http::field::www_authenticate, "Bearer realm=\"bootcfg\"");
    res.body() = reply.body;
    res.prepare_payload();
    return res;
}

}  // namespace

struct AdminServer::Impl {
    AdminServerOptions opt;
    AdminApi* api;  // null only for AdminServer::check
    // Before ioc: coroutine frames destroyed with it still touch these.
    std::size_t open_connections = 0;  // touched only on the admin thread
    WarningLimiter warnings;
    asio::io_context ioc{1};
    // BMC calls (power, next boot) wait on the BMC for seconds: on these threads, not the
    // listener's. After ioc: joined before it goes.
    asio::thread_pool bmc_pool{2};
    std::optional<ssl::context> tls;
    std::vector<Token> tokens;
    bool loopback_or_unix = false;
    std::unique_ptr<tcp::acceptor> tcp_acceptor;
    std::unique_ptr<unix_socket::acceptor> unix_acceptor;
    std::string unix_path;
    std::string bound;
    std::thread thread;

    Impl(AdminServerOptions o, AdminApi* a) : opt(std::move(o)), api(a) {}
    tcp::endpoint tcp_endpoint;  // resolved by configure()

    void configure();

    // The audit name for a request, or nullopt with the reason for a 401.
    std::optional<std::string> authenticate(const Peer& peer,
                                            const http::request<http::string_body>& req,
                                            std::string& why) const {
        if (!peer.cert_subject.empty()) return "cert:" + peer.cert_subject;
        auto auth = req[http::field::authorization];
        if (!auth.empty()) {
            constexpr std::string_view bearer = "Bearer ";
            if (!auth.starts_with(bearer) || tokens.empty()) {
                why =
                    "unsupported Authorization (this listener takes Bearer tokens from "
                    "-admin-token-file)";
                return std::nullopt;
            }
            const auto given = auth.substr(bearer.size());
            for (const auto& t : tokens)
                if (given.size() == t.secret.size() &&
                    CRYPTO_memcmp(given.data(), t.secret.data(), given.size()) == 0)
                    return "token:" + t.name;
            why = "invalid bearer token";
            return std::nullopt;
        }
        if (tokens.empty() && loopback_or_unix) return peer.address;
        why = tls && opt.ca_file.size()
                  ? "a client certificate or a bearer token is required"
                  : "a bearer token is required (Authorization: Bearer TOKEN)";
        return std::nullopt;
    }

    // A refusal before the request is handled: logged (rate-limited: a client can repeat it at
    // will) and answered with the connection closed, the body (if any) left unread.
    http::response<http::string_body> refuse(const Peer& peer, std::string_view method,
                                             std::string_view target, unsigned status,
                                             const std::string& reason, unsigned version) {
        warnings.warn("refused " + std::to_string(status) + " " + reason,
                      "admin: " + log_escape(method.empty() ? "-" : method) + " " +
                          log_target(target.empty() ? "-" : target) + " from " +
                          log_escape(peer.address) + ": " + std::to_string(status) + " " +
                          log_escape(reason));
        auto res = make_response(status, api_error(status, reason), version);
        res.keep_alive(false);
        return res;
    }

    // The header alone decides whether a request is taken: framing, Host, credentials and the
    // declared size are checked before one byte of the body is read.
    std::optional<http::response<http::string_body>> check_header(
        const Peer& peer, const http::request_parser<http::string_body>& parser, std::string& who) {
        const auto& h = parser.get();
        const auto method = h.method_string();
        const auto target = h.target();
        const auto te = h[http::field::transfer_encoding];
        const auto hosts = h.count(http::field::host);
        if (!te.empty() && !parser.chunked())
            return refuse(peer, method, target, 501,
                          "Transfer-Encoding not implemented (only chunked)", h.version());
        if (hosts > 1)
            return refuse(peer, method, target, 400, "more than one Host header", h.version());
        if (hosts == 0 && h.version() >= 11)
            return refuse(peer, method, target, 400, "missing Host header (required in HTTP/1.1)",
                          h.version());
        const auto length = parser.content_length();
        // The dashboard's login page asks for the token: it is served to anyone, without a body.
        if (ui::is_public(method, target)) {
            if ((length && *length > 0) || parser.chunked())
                return refuse(peer, method, target, 413, "no body is taken on /ui/", h.version());
            who = peer.address;
            return std::nullopt;
        }
        std::string why;
        auto name = authenticate(peer, h, why);
        if (!name) return refuse(peer, method, target, 401, why, h.version());
        who = std::move(*name);
        if (length && *length > opt.body_limit)
            return refuse(peer, method, target, 413,
                          "body larger than " + std::to_string(opt.body_limit) + " bytes",
                          h.version());
        return std::nullopt;
    }

    static http::response<http::string_body> ui_response(
        const http::request<http::string_body>& req) {
        const auto reply =
            ui::ui_request(req.method_string(), req.target(), req[http::field::if_none_match]);
        http::response<http::string_body> res;
        if (!reply.reason.empty()) {
            res = make_response(reply.status, api_error(reply.status, reply.reason), req.version());
        } else {
            res = {static_cast<http::status>(reply.status), req.version()};
            res.set(http::field::server, "bootcfgd");
            if (req.method() != http::verb::head) res.body() = reply.body;
        }
        for (const auto& [name, value] : reply.headers) res.set(name, value);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        if (req.method() == http::verb::head) res.content_length(reply.body.size());
        return res;
    }

    template <class Stream>
    asio::awaitable<void> serve_http(Stream& stream, Peer peer) {
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(16 * 1024);
            parser.body_limit(opt.body_limit);
            error_code ec;
            beast::get_lowest_layer(stream).expires_after(opt.timeout);
            co_await http::async_read_header(stream, buffer, parser,
                                             asio::redirect_error(asio::use_awaitable, ec));
            if (ec == http::error::end_of_stream) co_return;
            std::optional<http::response<http::string_body>> early;
            std::string who;
            if (!ec) {
                early = check_header(peer, parser, who);
                if (!early && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
                    http::response<http::empty_body> cont{http::status::continue_,
                                                          parser.get().version()};
                    co_await http::async_write(stream, cont,
                                               asio::redirect_error(asio::use_awaitable, ec));
                    if (ec) co_return;
                }
                if (!early)
                    co_await http::async_read(stream, buffer, parser,
                                              asio::redirect_error(asio::use_awaitable, ec));
            }
            if (!early && ec) {
                auto refusal =
                    parse_refusal(ec, "request header fields larger than 16 KiB",
                                  "body larger than " + std::to_string(opt.body_limit) + " bytes");
                if (!refusal) co_return;  // timeout, reset, TLS error
                // A body over the limit comes after a parsed header: the log names the request.
                const auto& h = parser.get();
                const bool head_known = ec == http::error::body_limit;
                early = refuse(peer, head_known ? h.method_string() : std::string_view{},
                               head_known ? h.target() : std::string_view{}, refusal->status,
                               refusal->reason, 11);
            }
            if (early) {
                co_await http::async_write(stream, *early,
                                           asio::redirect_error(asio::use_awaitable, ec));
                co_return;
            }
            auto req = parser.release();
            if (req.target() == "/api/v1/events" || req.target().starts_with("/api/v1/events?")) {
                spdlog::info("admin: {} {} stream who=\"{}\"", log_escape(req.method_string()),
                             log_target(req.target()), log_escape(who));
                co_await stream_events(stream, req);
                co_return;
            }
            if (ui::is_ui_target(req.target())) {
                auto res = ui_response(req);
                beast::get_lowest_layer(stream).expires_after(opt.timeout);
                co_await http::async_write(stream, res,
                                           asio::redirect_error(asio::use_awaitable, ec));
                if (ec || !res.keep_alive()) co_return;
                continue;
            }
            ApiReply reply;
            ApiRequest api_request{req.method_string(),
                                   req.target(),
                                   req.body(),
                                   req[http::field::if_match],
                                   req[http::field::if_none_match],
                                   who};
            try {
                if (talks_to_bmc(req.target().substr(0, req.target().find('?'))))
                    reply = co_await asio::co_spawn(
                        bmc_pool,
                        [&]() -> asio::awaitable<ApiReply> { co_return api->handle(api_request); },
                        asio::use_awaitable);
                else
                    reply = api->handle(api_request);
            } catch (const std::exception& e) {
                spdlog::error("admin: {} {}: {}", log_escape(req.method_string()),
                              log_target(req.target()), log_escape(e.what()));
                reply = api_error(500, "internal error");
            }
            spdlog::info("admin: {} {} {} who=\"{}\"", log_escape(req.method_string()),
                         log_target(req.target()), reply.status, log_escape(who));
            auto res = make_response(reply.status, reply, req.version());
            res.keep_alive(req.keep_alive());
            if (req.method() == http::verb::head) {
                res.body().clear();
                res.content_length(reply.body.size());
            }
            beast::get_lowest_layer(stream).expires_after(opt.timeout);
            co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
            if (ec || !res.keep_alive()) co_return;
        }
    }

    // GET /api/v1/events: Server-Sent Events from the event log, from Last-Event-ID (or from
    // now) until the client goes; a comment line every 15 s keeps proxies from closing it.
    template <class Stream>
    asio::awaitable<void> stream_events(Stream& stream,
                                        const http::request<http::string_body>& req) {
        error_code ec;
        auto refuse_with = [&](unsigned status,
                               const std::string& reason) -> asio::awaitable<void> {
            auto res = make_response(status, api_error(status, reason), req.version());
            res.keep_alive(false);
            beast::get_lowest_layer(stream).expires_after(opt.timeout);
            co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        };
        inventory::EventLog* log = api->events();
        if (req.method() != http::verb::get) {
            co_await refuse_with(405, "the event stream takes GET");
            co_return;
        }
        if (!log) {
            co_await refuse_with(404, "the event stream needs the machine inventory (-state-path)");
            co_return;
        }
        std::uint64_t after = log->last_id();
        const auto last = req["Last-Event-ID"];
        if (!last.empty()) {
            const auto [end, err] = std::from_chars(last.data(), last.data() + last.size(), after);
            if (err != std::errc() || end != last.data() + last.size()) {
                co_await refuse_with(400, "Last-Event-ID is not an event id (a number)");
                co_return;
            }
        }
        http::response<http::empty_body> res{http::status::ok, req.version()};
        res.set(http::field::server, "bootcfgd");
        res.set(http::field::content_type, "text/event-stream");
        res.set(http::field::cache_control, "no-store");
        res.chunked(true);
        http::response_serializer<http::empty_body> head(res);
        beast::get_lowest_layer(stream).expires_after(opt.timeout);
        co_await http::async_write_header(stream, head,
                                          asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        asio::steady_timer tick(ioc);
        auto quiet_since = std::chrono::steady_clock::now();
        bool told_gap = false;
        for (;;) {
            bool gap = false;
            std::string out;
            for (const auto& e : log->since(after, 256, gap)) {
                out += "id: " + std::to_string(e.id) + "\nevent: " + e.type + "\ndata: " + e.data +
                       "\n\n";
                after = e.id;
            }
            if (gap && !told_gap)  // resumed from an id the log no longer holds
                out =
                    "event: gap\ndata: {\"reason\": \"older events were dropped; reload the "
                    "full state\"}\n\n" +
                    out;
            told_gap = told_gap || gap;
            const auto now = std::chrono::steady_clock::now();
            if (out.empty() && now - quiet_since > std::chrono::seconds(15))
                out = ": keepalive\n\n";
            if (!out.empty()) {
                quiet_since = now;
                beast::get_lowest_layer(stream).expires_after(opt.timeout);
                co_await asio::async_write(stream, http::make_chunk(asio::buffer(out)),
                                           asio::redirect_error(asio::use_awaitable, ec));
                if (ec) co_return;
            }
            tick.expires_after(std::chrono::milliseconds(100));
            co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
        }
    }

    asio::awaitable<void> tcp_session(tcp::socket socket) {
        error_code ec;
        Peer peer;
        auto remote = socket.remote_endpoint(ec);
        peer.address =
            ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
        if (!tls) {
            beast::tcp_stream stream(std::move(socket));
            co_await serve_http(stream, peer);
            stream.socket().shutdown(tcp::socket::shutdown_both, ec);
            co_return;
        }
        beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
        beast::get_lowest_layer(stream).expires_after(opt.timeout);
        co_await stream.async_handshake(ssl::stream_base::server,
                                        asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            const long verify = SSL_get_verify_result(stream.native_handle());
            const std::string why =
                ec.message() +
                (verify == X509_V_OK
                     ? std::string()
                     : std::string(" (") + X509_verify_cert_error_string(verify) + ")");
            // One line per kind of failure and interval: a client can fail handshakes at will.
            warnings.warn("tls " + why,
                          "admin: TLS handshake with " + peer.address + " failed: " + why);
            co_return;
        }
        if (X509* cert = SSL_get1_peer_certificate(stream.native_handle())) {
            if (SSL_get_verify_result(stream.native_handle()) == X509_V_OK) {
                char subject[512];
                X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
                peer.cert_subject = subject;
            }
            X509_free(cert);
        }
        co_await serve_http(stream, peer);
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
        co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    }

    asio::awaitable<void> unix_session(unix_socket::socket socket) {
        Peer peer;
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
            peer.address =
                "unix:uid=" + std::to_string(cred.uid) + ",pid=" + std::to_string(cred.pid);
        else
            peer.address = "unix:?";
        beast::basic_stream<unix_socket> stream(std::move(socket));
        co_await serve_http(stream, peer);
    }

    template <class Socket, class Session>
    asio::awaitable<void> counted(Socket socket, Session session) {
        struct Release {
            std::size_t& n;
            ~Release() { --n; }
        } release{++open_connections};
        co_await (this->*session)(std::move(socket));
    }

    // Over the cap a connection is closed at once (plain HTTP gets a 503 first): the admin
    // listener must never take the file descriptors the machine listener needs.
    template <class Socket>
    void shed(Socket& socket) {
        warnings.warn("admin cap",
                      "admin: at -admin-max-connections=" + std::to_string(opt.max_connections) +
                          ": refusing connections");
        error_code ignored;
        if (!tls) {
            static constexpr std::string_view kReply =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                "Content-Length: 34\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
                "{\"error\": \"too many connections\"}\n";
            socket.non_blocking(true, ignored);
            socket.write_some(asio::buffer(kReply.data(), kReply.size()), ignored);
        }
        socket.close(ignored);
    }

    template <class Acceptor, class Session>
    asio::awaitable<void> accept_loop(Acceptor& acceptor, Session session) {
        asio::steady_timer backoff(ioc);
        for (;;) {
            error_code ec;
            auto socket =
                co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ec) {
                // EMFILE and friends: the pending connection stays queued; retrying at once
                // would spin.
                warnings.warn("admin accept",
                              "admin: accept failed: " + ec.message() + " (retrying every 100 ms)");
                backoff.expires_after(std::chrono::milliseconds(100));
                co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                continue;
            }
            if (open_connections >= opt.max_connections) {
                shed(socket);
                continue;
            }
            asio::co_spawn(ioc, counted(std::move(socket), session), asio::detached);
        }
    }

    // SIGHUP re-reads -admin-token-file: a removed token stops working, a new one starts. A
    // file that no longer loads keeps the tokens in force (and says why).
    asio::awaitable<void> reload_tokens_on_hup() {
        asio::signal_set hup(ioc, SIGHUP);
        for (;;) {
            error_code ec;
            co_await hup.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            auto loaded = load_tokens(opt.token_file);
            if (!loaded) {
                spdlog::error("admin: SIGHUP: {}; keeping the {} tokens loaded before",
                              log_escape(loaded.failure().reason), tokens.size());
                continue;
            }
            tokens = std::move(*loaded);
            spdlog::info("admin: SIGHUP: {} tokens loaded from {}", tokens.size(),
                         log_escape(opt.token_file));
        }
    }
};

AdminServer::AdminServer(AdminServerOptions options, AdminApi& api)
    : impl_(std::make_unique<Impl>(std::move(options), &api)) {}

AdminServer::~AdminServer() {
    stop();
}

std::vector<AdminServerOptions> admin_listeners(const AdminServerOptions& options) {
    std::vector<std::string> addresses;
    for (std::size_t at = 0; at <= options.address.size();) {
        const std::size_t comma = std::min(options.address.find(',', at), options.address.size());
        const std::string one = options.address.substr(at, comma - at);
        if (one.empty())
            throw std::runtime_error("-admin-address '" + options.address +
                                     "': an empty address in the list");
        addresses.push_back(one);
        at = comma + 1;
    }
    std::vector<AdminServerOptions> out;
    for (const auto& address : addresses) {
        AdminServerOptions o = options;
        o.address = address;
        if (addresses.size() > 1 && address.starts_with("unix:"))
            o.cert_file.clear(), o.key_file.clear(), o.ca_file.clear();
        out.push_back(std::move(o));
    }
    return out;
}

namespace {

// TLS 1.2 or later with the certificate chain and key; with a CA, client certificates are
// verified against it and required. Throws a one-line reason naming the flag and file.
ssl::context tls_server_context(const std::string& cert_file, const std::string& key_file,
                                const std::string& ca_file) {
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    auto load = [](const char* flag, const std::string& file, auto fn) {
        try {
            fn();
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error(std::string(flag) + " " + file + ": " + e.code().message());
        }
    };
    load("-cert-file", cert_file, [&] { ctx.use_certificate_chain_file(cert_file); });
    load("-key-file", key_file, [&] { ctx.use_private_key_file(key_file, ssl::context::pem); });
    if (!ca_file.empty()) {
        load("-ca-file", ca_file, [&] { ctx.load_verify_file(ca_file); });
        ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    } else {
        ctx.set_verify_mode(ssl::verify_none);
    }
    return ctx;
}

}  // namespace

void check_certificates(const std::string& cert_file, const std::string& key_file,
                        const std::string& ca_file) {
    tls_server_context(cert_file, key_file, ca_file);
}

void AdminServer::check(const AdminServerOptions& options) {
    Impl(options, nullptr).configure();
}

// Everything but binding: the security policy, certificates, tokens, the address.
void AdminServer::Impl::configure() {
    auto& im = *this;
    const auto& o = im.opt;
    if (o.cert_file.empty() != o.key_file.empty())
        throw std::runtime_error("-cert-file and -key-file go together (TLS for the admin API)");
    if (!o.ca_file.empty() && o.cert_file.empty())
        throw std::runtime_error(
            "-ca-file needs -cert-file and -key-file (client certificates are checked over TLS)");
    if (!o.token_file.empty()) {
        auto loaded = load_tokens(o.token_file);
        if (!loaded) throw std::runtime_error(loaded.failure().reason);  // start-up: see main
        im.tokens = std::move(*loaded);
    }

    const bool is_unix = o.address.starts_with("unix:");
    if (is_unix && !o.cert_file.empty())
        throw std::runtime_error("-admin-address " + o.address +
                                 ": a unix socket takes no TLS (-cert-file)");
    if (!o.cert_file.empty()) {
        im.tls.emplace(tls_server_context(o.cert_file, o.key_file, o.ca_file));
        // With tokens too, either credential will do; without, the certificate is required.
        if (!o.ca_file.empty() && !im.tokens.empty()) im.tls->set_verify_mode(ssl::verify_peer);
    }

    if (is_unix) {
        im.unix_path = o.address.substr(5);
        if (im.unix_path.empty()) throw std::runtime_error("-admin-address unix: needs a path");
        struct stat st {};
        if (::lstat(im.unix_path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
            throw std::runtime_error("-admin-address " + o.address +
                                     ": exists and is not a socket");
        im.loopback_or_unix = true;
        return;
    }
    const auto hp = split_host_port(o.address);
    if (!hp)
        throw std::runtime_error("-admin-address '" + o.address +
                                 "' is not HOST:PORT or unix:/PATH");
    error_code ec;
    tcp::resolver resolver(im.ioc);
    auto results = resolver.resolve(hp->host, hp->port, ec);
    if (ec || results.empty())
        throw std::runtime_error("-admin-address " + o.address + ": " +
                                 (ec ? ec.message() : "no address"));
    const tcp::endpoint ep = *results.begin();
    im.loopback_or_unix = ep.address().is_loopback();
    if (!im.loopback_or_unix) {
        if (!im.tls)
            throw std::runtime_error("-admin-address " + o.address +
                                     " is not loopback: it needs TLS (-cert-file, -key-file)");
        if (o.ca_file.empty() && im.tokens.empty())
            throw std::runtime_error(
                "-admin-address " + o.address +
                " is not loopback: it needs -ca-file (client certificates) or -admin-token-file");
    }
    im.tcp_endpoint = ep;
}

void AdminServer::listen() {
    auto& im = *impl_;
    const auto& o = im.opt;
    im.configure();
    error_code ec;
    if (!im.unix_path.empty()) {
        ::unlink(im.unix_path.c_str());  // a socket left by a previous run (configure checked)
        im.unix_acceptor = std::make_unique<unix_socket::acceptor>(im.ioc);
        unix_socket::endpoint ep(im.unix_path);
        im.unix_acceptor->open(ep.protocol(), ec);
        if (!ec) im.unix_acceptor->bind(ep, ec);
        if (!ec) ::chmod(im.unix_path.c_str(), 0660);  // owner and group only
        if (!ec) im.unix_acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) throw std::runtime_error("-admin-address " + o.address + ": " + ec.message());
        im.bound = o.address;
        return;
    }
    const tcp::endpoint& ep = im.tcp_endpoint;
    im.tcp_acceptor = std::make_unique<tcp::acceptor>(im.ioc);
    im.tcp_acceptor->open(ep.protocol(), ec);
    if (!ec) im.tcp_acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) im.tcp_acceptor->bind(ep, ec);
    if (!ec) im.tcp_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("-admin-address " + o.address + ": " + ec.message());
    const auto local = im.tcp_acceptor->local_endpoint();
    im.bound = join_host_port(local.address().to_string(), std::to_string(local.port()));
}

std::string AdminServer::local_address() const {
    return impl_->bound;
}

std::string AdminServer::security() const {
    const auto& im = *impl_;
    std::string s = im.tls ? "TLS" : "plain HTTP";
    if (im.tls && !im.opt.ca_file.empty()) s += ", client certificates";
    if (!im.tokens.empty()) s += ", bearer tokens";
    if (im.tokens.empty() && im.loopback_or_unix) s += ", local clients without credentials";
    return s;
}

void AdminServer::start() {
    auto& im = *impl_;
    if (im.tcp_acceptor)
        asio::co_spawn(im.ioc, im.accept_loop(*im.tcp_acceptor, &Impl::tcp_session),
                       asio::detached);
    if (im.unix_acceptor)
        asio::co_spawn(im.ioc, im.accept_loop(*im.unix_acceptor, &Impl::unix_session),
                       asio::detached);
    if (!im.opt.token_file.empty())
        asio::co_spawn(im.ioc, im.reload_tokens_on_hup(), asio::detached);
    im.thread = std::thread([&im] {
        for (;;) {
            try {
                im.ioc.run();
                return;
            } catch (const std::exception& e) {
                spdlog::error("admin: {}", e.what());
            }
        }
    });
}

void AdminServer::stop() {
    auto& im = *impl_;
    if (!im.thread.joinable()) return;
    asio::post(im.ioc, [&im] {
        error_code ec;
        if (im.tcp_acceptor) im.tcp_acceptor->close(ec);
        if (im.unix_acceptor) im.unix_acceptor->close(ec);
    });
    // A write in progress finishes (handlers are not interrupted); idle connections just end.
    im.ioc.stop();
    im.thread.join();
    im.bmc_pool.join();
    if (!im.unix_path.empty()) ::unlink(im.unix_path.c_str());
}

}  // namespace bootcfg::admin
