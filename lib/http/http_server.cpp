#include "http/http_server.hpp"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include <csignal>

#include <spdlog/spdlog.h>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/parse_refusal.hpp"
#include "http/request_parser.hpp"
#include "http/routes.hpp"
#include "logging/log_text.hpp"
#include "values/values.hpp"

namespace bootcfg {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

class Session;

const std::string& date_now() {
    thread_local std::time_t cached_at = 0;
    thread_local std::string cached;
    const std::time_t now = std::time(nullptr);
    if (now != cached_at) {
        cached_at = now;
        cached = http_date(now);
    }
    return cached;
}

// Asio marks a socket it did not open itself (accepted sockets come in through assign) as
// possibly dup(2)ed, and so takes it out of epoll with epoll_ctl(DEL) before closing it: a
// system call per connection that close(2) does anyway for a descriptor nobody else holds.
class AcceptedSocket : public tcp::socket {
  public:
    explicit AcceptedSocket(tcp::socket&& socket) : tcp::socket(std::move(socket)) {
        impl_.get_implementation().state_ &= ~asio::detail::socket_ops::possible_dup;
    }
};

using defer_accept = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_DEFER_ACCEPT>;

std::string format_endpoint(const tcp::endpoint& ep) {
    return join_host_port(ep.address().to_string(), std::to_string(ep.port()));
}

}  // namespace

// One single-threaded io_context per core, all accepting on the same listening socket: a
// connection lives on one thread for good, so sessions need no strand and the schedulers no
// cross-thread hand-offs on the request path.

struct Worker {
    // Its live sessions, for shutdown. Per worker, so connections opening and closing on
    // different threads never meet on a lock; declared before the io_context, whose destruction
    // frees sessions that unregister here.
    std::mutex sessions_mutex;
    std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
    asio::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    asio::steady_timer accept_retry{ioc};
    tcp::endpoint peer;  // filled by accept(2) itself: no getpeername(2) per connection
    // Access lines, handed to the logger thread together 20 ms after the first (or at 64 KiB):
    // waking it for every short connection cost a tenth of the rate of new connections.
    std::string access_lines;
    asio::steady_timer access_flush{ioc};

    void log_access(const AccessRecord& record) {
        if (access_lines.empty()) {
            access_flush.expires_after(std::chrono::milliseconds(20));
            access_flush.async_wait([this](beast::error_code ec) {
                if (!ec) flush_access();
            });
        }
        access_lines += access_line(record);
        access_lines += '\n';
        if (access_lines.size() >= 64 * 1024) {
            access_flush.cancel();
            flush_access();
        }
    }
    void flush_access() {
        log_access_lines(access_lines);
        access_lines.clear();
    }
};

struct HttpServer::Impl {
    Impl(HttpServerOptions o, RequestHandler h) : options(std::move(o)), handler(std::move(h)) {
        unsigned n = options.threads ? options.threads : std::thread::hardware_concurrency();
        for (unsigned i = 0; i < std::max(1u, n); ++i)
            workers.push_back(std::make_unique<Worker>());
    }

    HttpServerOptions options;
    RequestHandler handler;

    std::atomic<std::size_t> connections{0};
    std::atomic<std::uint64_t> shed{0};  // connections refused at max_connections
    std::atomic<std::int64_t> shed_logged_at{0};
    std::atomic<bool> stopping{false};
    WarningLimiter warnings;
    // Set while the workers are destroyed (their threads have ended): sessions freed with their
    // io_context's pending handlers must not post to a context that may already be gone.
    std::atomic<bool> tearing_down{false};

    ~Impl() { tearing_down = true; }

    std::vector<std::unique_ptr<Worker>> workers;
    // Signals and the shutdown timer live on the first worker.
    asio::io_context& control() { return workers[0]->ioc; }
    std::optional<asio::signal_set> signals;
    std::optional<asio::steady_timer> grace_timer;

    void do_accept(Worker& w);
    void shed_connection(tcp::socket socket);
    void begin_stop();
    void add_session(Worker& w, Session* raw, std::weak_ptr<Session> weak);
    void remove_session(Worker& w, Session* raw);
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(tcp::socket&& socket, Worker& worker, HttpServer::Impl& server)
        : stream_(std::move(socket)),
          server_(server),
          worker_(worker),
          send_timer_(stream_.get_executor()) {
        const tcp::endpoint& peer = worker.peer;
        remote_ = format_endpoint(peer);
        remote_ip_ = peer.address().to_string();
    }

    ~Session() { server_.remove_session(worker_, this); }

    void start() {
        server_.add_session(worker_, this, weak_from_this());
        asio::dispatch(stream_.get_executor(),
                       [self = shared_from_this()] { self->wait_for_request(); });
    }

    // When the server stops: an idle connection closes now; a busy one after its response.
    void post_shutdown() {
        asio::post(stream_.get_executor(),
                   [self = shared_from_this()] { self->shutdown_if_idle(); });
    }

  private:
    void shutdown_if_idle() {
        if (idle_) {
            beast::error_code ec;
            stream_.socket().cancel(ec);
        }
    }

    void wait_for_request() {
        if (server_.stopping) return close();
        if (buffer_.size() > 0) return read_request();
        idle_ = true;
        stream_.expires_after(server_.options.idle_timeout);
        stream_.async_read_some(
            buffer_.prepare(4096),
            beast::bind_front_handler(&Session::on_first_bytes, shared_from_this()));
    }

    void on_first_bytes(beast::error_code ec, std::size_t n) {
        idle_ = false;
        if (ec) return close();
        buffer_.commit(n);
        read_request();
    }

    void read_request() {
        started_ = Clock::now();
        parser_.emplace(head_fields_);
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
        stream_.expires_after(server_.options.read_timeout);
        http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&Session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec == http::error::header_limit) {
            // The parser records the target once the request line is complete: without one,
            // the request line alone was too long.
            const auto& t = head_fields_.target;
            if (t.empty() || t.size() > server_.options.target_limit)
                return send_error(414, "request target too long", false);
        }
        if (ec == http::error::bad_field && head_fields_.refusal_status)
            return send_error(head_fields_.refusal_status, head_fields_.refusal, true);
        if (ec) {
            auto refusal = parse_refusal(ec, "request header fields too large",
                                         "request bodies are not accepted here");
            if (!refusal) return close();
            // After a body was announced the request line is known (the access log shows it).
            return send_error(refusal->status, std::move(refusal->reason),
                              ec == http::error::unexpected_body);
        }

        if (head_fields_.target.size() > server_.options.target_limit)
            return send_error(414, "request target too long", false);
        keep_alive_ = parser_->keep_alive();
        client_closes_ = !keep_alive_;
        head_ = head_fields_.verb == http::verb::head;

        MachineRequest request;
        request.method = head_fields_.method;
        request.target = head_fields_.target;
        request.conditional.if_none_match = head_fields_.if_none_match;
        request.conditional.if_modified_since = head_fields_.if_modified_since;
        request.conditional.range = head_fields_.range;
        request.conditional.if_range = head_fields_.if_range;
        request.client_ip = remote_ip_;
        request.host = head_fields_.host;
        send(route_or_500(request));
    }

    // Handlers report known failures as replies; anything else thrown is a bug, which must
    // cost one request, not the worker thread and every connection on it.
    Reply route_or_500(const MachineRequest& request) {
        try {
            return server_.handler(request);
        } catch (const std::exception& e) {
            Reply r = error_reply(500, "internal error");
            r.log_detail = std::string("unexpected exception: ") + e.what();
            return r;
        }
    }

    void send_error(unsigned status, std::string reason, bool request_line_known) {
        keep_alive_ = false;
        client_closes_ = false;
        head_ = false;
        if (!request_line_known) head_fields_.target.clear();
        send(error_reply(status, std::move(reason)));
    }

    // Status line and header fields into out_head_ (its capacity is reused across requests).
    void format_head(const Reply& reply, std::uint64_t content_length) {
        const bool keep = keep_alive_ && !server_.stopping;
        const int version = head_fields_.version;
        std::string& h = out_head_;
        h.clear();
        h += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
        h += std::to_string(reply.status);
        h += ' ';
        h += http::obsolete_reason(static_cast<http::status>(reply.status));
        h += "\r\nServer: bootcfg\r\nDate: ";
        h += date_now();
        h += "\r\nContent-Type: ";
        h += reply.content_type;
        h += "\r\nContent-Length: ";
        h += std::to_string(content_length);
        for (const auto& [name, value] : reply.headers) {
            h += "\r\n";
            h += name;
            h += ": ";
            h += value;
        }
        if (!keep && version != 10) h += "\r\nConnection: close";
        if (keep && version == 10) h += "\r\nConnection: keep-alive";
        h += "\r\n\r\n";
        keep_alive_ = keep;
    }

    void send(Reply reply) {
        if (!reply.log_detail.empty())
            spdlog::warn("{} {}: {}", log_escape(head_fields_.method),
                         log_target(head_fields_.target), log_escape(reply.log_detail));
        status_ = reply.status;
        match_ = reply.match;
        selected_ = std::move(reply.selected);
        // A refusal's one-line body is its reason: the log says why, not only the status.
        if (reply.status >= 400 && !reply.file)
            reason_ = reply.body.substr(0, std::min<std::size_t>(reply.body.find('\n'), 200));
        stream_.expires_after(server_.options.write_timeout);
        if (reply.file) {
            file_ = std::move(reply.file->fd);
            file_offset_ = static_cast<off_t>(reply.plan.offset);
            file_left_ = head_ ? 0 : reply.plan.length;
            format_head(reply, reply.plan.length);
            asio::async_write(
                stream_, asio::buffer(out_head_),
                beast::bind_front_handler(&Session::on_file_head, shared_from_this()));
            return;
        }
        format_head(reply, reply.body.size());
        out_body_ = std::move(reply.body);
        if (head_) out_body_.clear();
        const std::array<asio::const_buffer, 2> buffers{asio::buffer(out_head_),
                                                        asio::buffer(out_body_)};
        asio::async_write(stream_, buffers,
                          beast::bind_front_handler(&Session::on_written, shared_from_this()));
    }

    void on_written(beast::error_code ec, std::size_t bytes) {
        bytes_ += bytes;
        if (ec) return finish(false);
        finish(true);
    }

    void on_file_head(beast::error_code ec, std::size_t bytes) {
        bytes_ += bytes;
        if (ec) return finish(false);
        stream_.expires_never();
        beast::error_code ignored;
        stream_.socket().native_non_blocking(true, ignored);
        send_file_body();
    }

    // The body goes from the page cache to the socket with sendfile(2): no copy through user
    // space, no buffer per connection. At most kSendTurn bytes per turn (nginx's
    // sendfile_max_chunk), then the connection queues behind the thread's other work: a client
    // draining a large file as fast as it comes (loopback, a fast LAN) must not keep the thread.
    static constexpr std::uint64_t kSendTurn = 1 << 20;
    void send_file_body() {
        const int sock = stream_.socket().native_handle();
        std::uint64_t this_turn = 0;
        while (file_left_ > 0) {
            if (this_turn >= kSendTurn)
                return asio::post(stream_.get_executor(),
                                  [self = shared_from_this()] { self->send_file_body(); });
            const std::size_t chunk = std::min<std::uint64_t>(file_left_, kSendTurn);
            const ssize_t n = ::sendfile(sock, file_.get(), &file_offset_, chunk);
            if (n > 0) {
                file_left_ -= static_cast<std::uint64_t>(n);
                this_turn += static_cast<std::uint64_t>(n);
                bytes_ += static_cast<std::size_t>(n);
                file_bytes_ += static_cast<std::uint64_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                send_timer_.expires_after(server_.options.write_timeout);
                send_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
                    if (!ec) {
                        beast::error_code ignored;
                        self->stream_.socket().cancel(ignored);
                    }
                });
                stream_.socket().async_wait(tcp::socket::wait_write,
                                            [self = shared_from_this()](beast::error_code ec) {
                                                self->send_timer_.cancel();
                                                if (ec) return self->finish(false);
                                                self->send_file_body();
                                            });
                return;
            }
            // n == 0: the file shrank under us; the promised length cannot be kept.
            return finish(false);
        }
        finish(true);
    }

    void finish(bool ok) {
        file_.reset();
        const auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_).count();
        AccessRecord record;
        record.remote = remote_;
        record.method = head_fields_.method;
        record.target = head_fields_.target;
        record.status = status_;
        record.bytes = bytes_;
        record.micros = us;
        record.selected = selected_;
        record.reason = reason_;
        record.aborted = !ok;
        if (spdlog::should_log(spdlog::level::info)) worker_.log_access(record);
        if (auto* m = server_.options.metrics) {
            const auto target = std::string_view(head_fields_.target);
            m->observe({metrics::endpoint_of(target.substr(0, target.find('?'))), status_,
                        std::chrono::microseconds(us), file_bytes_, match_});
        }
        file_bytes_ = 0;
        match_ = metrics::MatchOutcome::not_selected;
        selected_.clear();
        reason_.clear();
        bytes_ = 0;
        parser_.reset();
        // A client that asked to close and sent nothing more: close(2) alone sends the FIN.
        if (ok && client_closes_ && buffer_.size() == 0) return close(false);
        if (!ok || !keep_alive_ || server_.stopping) return close();
        wait_for_request();
    }

    // `flush`: the FIN first, so that a peer still sending gets the answer before the reset
    // that closing with unread bytes causes.
    void close(bool flush = true) {
        beast::error_code ec;
        if (flush) stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream_.socket().close(ec);
    }

    beast::tcp_stream stream_;
    HttpServer::Impl& server_;
    Worker& worker_;
    asio::steady_timer send_timer_;
    beast::flat_buffer buffer_;
    RequestHead head_fields_;
    std::optional<RequestParser> parser_;
    std::string out_head_;
    std::string out_body_;
    std::string remote_;
    std::string remote_ip_;  // the peer address alone, for the inventory
    bool idle_ = false;
    bool keep_alive_ = false;
    bool client_closes_ = false;  // the request said close and was read whole
    bool head_ = false;
    UniqueFd file_;
    off_t file_offset_ = 0;
    std::uint64_t file_left_ = 0;
    Clock::time_point started_ = Clock::now();
    unsigned status_ = 0;
    std::string reason_;  // a 4xx/5xx body's first line, for the access log
    std::size_t bytes_ = 0;
    std::string selected_;
    std::uint64_t file_bytes_ = 0;
    metrics::MatchOutcome match_ = metrics::MatchOutcome::not_selected;
};

}  // namespace

void HttpServer::Impl::add_session(Worker& w, Session* raw, std::weak_ptr<Session> weak) {
    connections.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(w.sessions_mutex);
    w.sessions.emplace(raw, std::move(weak));
}

void HttpServer::Impl::remove_session(Worker& w, Session* raw) {
    {
        std::lock_guard lock(w.sessions_mutex);
        w.sessions.erase(raw);
    }
    // The last connection gone while stopping: no need to wait out the grace period.
    if (connections.fetch_sub(1, std::memory_order_acq_rel) == 1 && stopping && !tearing_down)
        asio::post(control(), [this] {
            if (grace_timer) grace_timer->cancel();
        });
}

// Over max_connections: a short 503 and a close, written without waiting (a new socket's send
// buffer takes it whole), so an overloaded server stays answerable and keeps fds for the rest.
void HttpServer::Impl::shed_connection(tcp::socket socket) {
    static constexpr std::string_view kReply =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 21\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        "too many connections\n";
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(kReply.data(), kReply.size()), ignored);
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
    const auto n = shed.fetch_add(1, std::memory_order_relaxed) + 1;
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    auto last = shed_logged_at.load(std::memory_order_relaxed);
    if (now != last && shed_logged_at.compare_exchange_strong(last, now))
        spdlog::warn("at -max-connections={}: {} connections refused with 503 so far",
                     options.max_connections, n);
}

void HttpServer::Impl::do_accept(Worker& w) {
    w.acceptor.async_accept(w.peer, [this, &w](beast::error_code ec, tcp::socket socket) {
        if (stopping || ec == asio::error::operation_aborted) return;
        if (ec) {
            // Typically EMFILE: back off briefly instead of spinning on the error.
            warnings.warn("accept", "accept failed: " + ec.message() + " (retrying every 100 ms)");
            w.accept_retry.expires_after(std::chrono::milliseconds(100));
            w.accept_retry.async_wait([this, &w](beast::error_code e) {
                if (!e) do_accept(w);
            });
            return;
        }
        if (connections.load(std::memory_order_relaxed) >= options.max_connections)
            shed_connection(std::move(socket));
        else  // TCP_NODELAY comes from the listening socket (Linux copies it to accepted ones)
            std::make_shared<Session>(AcceptedSocket(std::move(socket)), w, *this)->start();
        do_accept(w);
    });
}

void HttpServer::Impl::begin_stop() {
    asio::post(control(), [this] {
        if (stopping.exchange(true)) return;
        spdlog::info("shutting down: no new connections, finishing in-flight requests");
        beast::error_code ec;
        if (signals) signals->cancel(ec);
        for (auto& w : workers)
            asio::post(w->ioc, [&w = *w] {
                beast::error_code e;
                w.acceptor.close(e);
                w.accept_retry.cancel();
            });
        std::vector<std::shared_ptr<Session>> live;
        for (auto& w : workers) {
            std::lock_guard lock(w->sessions_mutex);
            for (auto& [_, weak] : w->sessions)
                if (auto s = weak.lock()) live.push_back(std::move(s));
        }
        if (live.empty()) return;
        for (auto& s : live) s->post_shutdown();
        grace_timer.emplace(control());
        grace_timer->expires_after(options.shutdown_grace);
        grace_timer->async_wait([this](beast::error_code e) {
            if (e) return;
            spdlog::warn("shutdown grace period over; dropping remaining connections");
            for (auto& w : workers) w->ioc.stop();
        });
    });
}

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {
    // sendfile(2) has no MSG_NOSIGNAL: a client resetting a download would raise SIGPIPE, whose
    // default action ends the process. EPIPE from the call is handled like any write error.
    ::signal(SIGPIPE, SIG_IGN);
}

HttpServer::~HttpServer() = default;

void HttpServer::listen() {
    auto& im = *impl_;
    beast::error_code ec;
    tcp::resolver resolver(im.control());
    auto results = resolver.resolve(im.options.host, im.options.port,
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    const std::string where = im.options.host + ":" + im.options.port;
    if (ec || results.empty())
        throw std::runtime_error("cannot resolve listen address " + where + ": " + ec.message());
    const tcp::endpoint ep = results.begin()->endpoint();
    auto& first = im.workers[0]->acceptor;
    first.open(ep.protocol(), ec);
    if (!ec) first.set_option(asio::socket_base::reuse_address(true), ec);
    // Inherited by every accepted connection: one setsockopt(2) here instead of one per
    // connection.
    if (!ec) first.set_option(tcp::no_delay(true), ec);
    if (!ec) first.bind(ep, ec);
    // The kernel hands over a connection once its first bytes are in (or after a second without
    // any): the first read then finds the request instead of failing and waiting for epoll, two
    // system calls fewer per connection, and a client that connects and stays silent holds no
    // descriptor meanwhile.
    if (!ec) first.set_option(defer_accept(1), ec);
    if (!ec) first.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
    // The other workers accept on duplicates of the same socket (not SO_REUSEPORT, which would
    // let a second bootcfgd silently share a port that is already taken).
    for (std::size_t i = 1; i < im.workers.size(); ++i) {
        const int fd = ::dup(first.native_handle());
        if (fd < 0)
            throw std::runtime_error("cannot listen on " + where + ": " + std::strerror(errno));
        im.workers[i]->acceptor.assign(ep.protocol(), fd, ec);
        if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
    }
}

std::string HttpServer::local_address() const {
    beast::error_code ec;
    auto ep = impl_->workers[0]->acceptor.local_endpoint(ec);
    return ec ? "-" : format_endpoint(ep);
}

void HttpServer::run(const std::function<void()>& on_ready) {
    auto& im = *impl_;
    if (im.options.handle_signals) {
        im.signals.emplace(im.control(), SIGINT, SIGTERM);
        im.signals->async_wait([this](beast::error_code ec, int) {
            if (!ec) stop();
        });
    }
    for (auto& w : im.workers) im.do_accept(*w);
    if (on_ready) on_ready();
    std::vector<std::thread> pool;
    for (std::size_t i = 1; i < im.workers.size(); ++i)
        pool.emplace_back([w = im.workers[i].get()] {
            w->ioc.run();
            w->flush_access();  // lines a stop() left waiting
        });
    im.workers[0]->ioc.run();
    im.workers[0]->flush_access();
    for (auto& t : pool) t.join();
}

void HttpServer::stop() {
    impl_->begin_stop();
}

std::size_t HttpServer::open_connections() const {
    return impl_->connections.load(std::memory_order_relaxed);
}

}  // namespace bootcfg
