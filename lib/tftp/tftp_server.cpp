#include "tftp/tftp_server.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "assets/assets.hpp"
#include "service/rate_limiter.hpp"
#include "tftp/transfer.hpp"

namespace bootcfg {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;

namespace {

std::string endpoint_text(const udp::endpoint& e) {
    const auto a = e.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(e.port());
}

// Reads the file as the transfer asks: octet straight from the page cache with pread; netascii
// converted as it goes (the transfer asks for its bytes in order, once each).
tftp::Transfer::Reader file_reader(int fd, bool netascii) {
    if (!netascii)
        return
            [fd](std::uint64_t offset, char* out, std::size_t max) -> std::optional<std::size_t> {
                std::size_t got = 0;
                while (got < max) {
                    const ssize_t n =
                        ::pread(fd, out + got, max - got, static_cast<off_t>(offset + got));
                    if (n < 0 && errno == EINTR) continue;
                    if (n < 0) return std::nullopt;
                    if (n == 0) break;
                    got += static_cast<std::size_t>(n);
                }
                return got;
            };
    auto pending = std::make_shared<std::string>();
    auto at_end = std::make_shared<bool>(false);
    return [fd, pending, at_end](std::uint64_t, char* out,
                                 std::size_t max) -> std::optional<std::size_t> {
        char chunk[8192];
        while (pending->size() < max && !*at_end) {
            const ssize_t n = ::read(fd, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return std::nullopt;
            if (n == 0) *at_end = true;
            *pending += tftp::to_netascii(std::string_view(chunk, static_cast<std::size_t>(n)));
        }
        const std::size_t n = std::min(max, pending->size());
        pending->copy(out, n);
        pending->erase(0, n);
        return n;
    };
}

}  // namespace

struct TftpServer::Impl {
    TftpServerOptions options;
    asio::io_context io{1};
    udp::socket socket{io};
    std::unique_ptr<AssetRoot> ipxe;
    std::array<char, tftp::kMaxRequestBytes + 1> request{};
    udp::endpoint from;
    std::thread thread;

    struct Session;
    std::set<std::shared_ptr<Session>> sessions;
    std::map<asio::ip::address, unsigned> per_client;
    RateLimiter<asio::ip::address> requests;

    mutable std::mutex stats_mutex;
    TftpStats stats;

    explicit Impl(TftpServerOptions o)
        : options(std::move(o)),
          requests(options.requests_per_second, 2.0 * options.requests_per_second) {}

    void count(std::uint64_t TftpStats::*field, std::uint64_t n = 1) {
        std::lock_guard lock(stats_mutex);
        stats.*field += n;
    }

    void receive();
    void on_request(std::string_view packet, const udp::endpoint& client);
    void refuse(const udp::endpoint& client, tftp::ErrorCode code, const std::string& why,
                const std::string& name);
    void ended(const std::shared_ptr<Session>& session);
};

struct TftpServer::Impl::Session : std::enable_shared_from_this<Session> {
    Impl& server;
    udp::socket socket;
    asio::steady_timer timer;
    udp::endpoint peer;
    std::string name;
    UniqueFd fd;
    tftp::Transfer transfer;
    Clock::time_point started = Clock::now();
    std::array<char, 2048> reply{};
    bool over = false;
    Clock::time_point deadline;
    bool timer_waiting = false;

    Session(Impl& s, udp::endpoint p, std::string n, UniqueFd f, tftp::Negotiated negotiated,
            bool netascii)
        : server(s),
          socket(s.io),
          timer(s.io),
          peer(std::move(p)),
          name(std::move(n)),
          fd(std::move(f)),
          transfer(std::move(negotiated), file_reader(fd.get(), netascii), s.options.max_retries) {}

    void begin() {
        // Its own port, connected to the client: the kernel passes only the client's packets.
        socket.open(peer.protocol());
        socket.bind(udp::endpoint(server.socket.local_endpoint().address(), 0));
        socket.connect(peer);
        send(transfer.start());
        receive();
    }

    void receive() {
        socket.async_receive(asio::buffer(reply), [self = shared_from_this()](
                                                      boost::system::error_code ec, std::size_t n) {
            if (self->over || ec == asio::error::operation_aborted) return;
            if (ec) {  // e.g. ICMP port unreachable: the client has gone
                self->finish("the client is unreachable (" + ec.message() + ")");
                return;
            }
            self->send(self->transfer.on_packet(std::string_view(self->reply.data(), n)));
            if (!self->over) self->receive();
        });
    }

    // The retransmission deadline moves with every send; the timer is not re-armed each time
    // (a cancel and a new wait per block), it wakes at the old deadline and sleeps on to the
    // new one.
    void arm() {
        deadline = Clock::now() + transfer.negotiated().timeout;
        if (!timer_waiting) wait_for_deadline();
    }

    void wait_for_deadline() {
        timer_waiting = true;
        timer.expires_at(deadline);
        timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            self->timer_waiting = false;
            if (ec || self->over) return;
            if (Clock::now() < self->deadline) {
                self->wait_for_deadline();
                return;
            }
            self->send(self->transfer.on_timeout());
        });
    }

    // One sendmmsg(2) for the control packet and every block of the window.
    void send(const tftp::Transfer::Send& s) {
        const unsigned n = (s.control.empty() ? 0 : 1) + s.blocks;
        if (n > 0) {
            // On the stack: a window is at most kMaxWindowSize blocks (plus an OACK).
            std::array<unsigned char, 4 * tftp::kMaxWindowSize> headers;
            std::array<iovec, 2 * (tftp::kMaxWindowSize + 1)> iov;
            std::array<mmsghdr, tftp::kMaxWindowSize + 1> msgs;
            std::memset(msgs.data(), 0, n * sizeof(mmsghdr));
            unsigned m = 0;
            if (!s.control.empty()) {
                iov[0] = {const_cast<char*>(s.control.data()), s.control.size()};
                msgs[m].msg_hdr.msg_iov = &iov[0];
                msgs[m].msg_hdr.msg_iovlen = 1;
                ++m;
            }
            for (unsigned b = 0; b < s.blocks; ++b, ++m) {
                const auto index = s.first_block + b;
                tftp::data_header(tftp::Transfer::wire(index), &headers[4 * std::size_t{b}]);
                const auto data = transfer.block(index);
                iov[2 * m] = {&headers[4 * std::size_t{b}], 4};
                iov[2 * m + 1] = {const_cast<char*>(data.data()), data.size()};
                msgs[m].msg_hdr.msg_iov = &iov[2 * m];
                msgs[m].msg_hdr.msg_iovlen = 2;
            }
            // A full socket buffer drops the rest of the window; the timer resends it.
            for (unsigned sent = 0; sent < n;) {
                const int r = ::sendmmsg(socket.native_handle(), msgs.data() + sent, n - sent,
                                         MSG_DONTWAIT | MSG_NOSIGNAL);
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) break;
                sent += static_cast<unsigned>(r);
            }
        }
        if (transfer.status() != tftp::Transfer::Status::running) {
            finish(transfer.failure());
            return;
        }
        if (n > 0) arm();
    }

    void finish(const std::string& failure) {
        if (over) return;
        over = true;
        boost::system::error_code ignored;
        timer.cancel();
        socket.close(ignored);
        const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
        const auto& n = transfer.negotiated();
        const bool done = transfer.status() == tftp::Transfer::Status::done;
        server.count(&TftpStats::bytes, transfer.bytes_acknowledged());
        server.count(done ? &TftpStats::completed : &TftpStats::failed);
        const auto line = fmt::format(
            "tftp: {} {} {} {} bytes in {:.3f} s (blksize {}, windowsize {}, {} retransmissions)",
            endpoint_text(peer), name, done ? "sent" : "ended: " + failure + ";",
            transfer.bytes_acknowledged(), seconds, n.blksize, n.windowsize,
            transfer.retransmissions());
        // A client ending a transfer on purpose (OVMF asks the size first, then aborts) is
        // normal; a transfer the server gave up is worth a warning.
        if (done || transfer.client_aborted())
            spdlog::info("{}", line);
        else
            spdlog::warn("{}", line);
        server.ended(shared_from_this());
    }
};

void TftpServer::Impl::receive() {
    socket.async_receive_from(asio::buffer(request), from,
                              [this](boost::system::error_code ec, std::size_t n) {
                                  if (ec == asio::error::operation_aborted) return;
                                  if (!ec) on_request(std::string_view(request.data(), n), from);
                                  receive();
                              });
}

void TftpServer::Impl::refuse(const udp::endpoint& client, tftp::ErrorCode code,
                              const std::string& why, const std::string& name) {
    count(&TftpStats::refused);
    const auto packet = tftp::error_packet(code, why);
    boost::system::error_code ignored;
    socket.send_to(asio::buffer(packet), client, 0, ignored);
    spdlog::info("tftp: {} {}refused: {}", endpoint_text(client), name.empty() ? "" : name + " ",
                 why);
}

void TftpServer::Impl::on_request(std::string_view packet, const udp::endpoint& client) {
    const auto address = client.address();
    if (client.port() == 0 || !requests.allow(address)) {
        count(&TftpStats::dropped);
        return;
    }
    const auto parsed = tftp::parse_request(packet);
    if (const auto* r = std::get_if<tftp::Refusal>(&parsed)) {
        refuse(client, r->code, r->message, "");
        return;
    }
    const auto& request = std::get<tftp::ReadRequest>(parsed);
    // The name as logged: printable, bounded.
    std::string shown;
    for (char c : request.filename.substr(0, 120))
        shown += (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
    shown = "\"" + shown + "\"";
    if (sessions.size() >= options.max_transfers ||
        per_client[address] >= options.max_transfers_per_client) {
        count(&TftpStats::dropped);
        spdlog::warn("tftp: {} {} dropped: {} transfers running (limits {} in all, {} a client)",
                     endpoint_text(client), shown, sessions.size(), options.max_transfers,
                     options.max_transfers_per_client);
        if (per_client[address] == 0) per_client.erase(address);
        return;
    }
    const auto path = tftp::relative_path(request.filename);
    if (!path) {
        refuse(client, tftp::kAccessViolation, "file name not allowed", shown);
        return;
    }
    std::optional<OpenAsset> file;
    if (path->starts_with("assets/")) {
        if (options.assets) file = options.assets->open(path->substr(7));
    } else {
        file = ipxe->open_entry(*path);
    }
    if (!file) {
        refuse(client, tftp::kFileNotFound, "file not found", shown);
        return;
    }
    const auto size = request.netascii ? std::nullopt : std::optional<std::uint64_t>(file->size);
    auto session = std::make_shared<Session>(*this, client, shown, std::move(file->fd),
                                             tftp::negotiate(request, size), request.netascii);
    try {
        session->begin();
    } catch (const boost::system::system_error& e) {
        refuse(client, tftp::kNotDefined, "cannot open a transfer socket", shown);
        spdlog::warn("tftp: transfer socket for {}: {}", endpoint_text(client), e.what());
        return;
    }
    count(&TftpStats::transfers);
    if (!session->over) {
        sessions.insert(session);
        ++per_client[address];
    }
}

void TftpServer::Impl::ended(const std::shared_ptr<Session>& session) {
    if (sessions.erase(session) == 0) return;  // ended inside begin(), never counted
    const auto address = session->peer.address();
    if (auto it = per_client.find(address); it != per_client.end() && --it->second == 0)
        per_client.erase(it);
}

TftpServer::TftpServer(TftpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

TftpServer::~TftpServer() {
    stop();
}

void TftpServer::listen() {
    auto& o = impl_->options;
    try {
        impl_->ipxe = std::make_unique<AssetRoot>(o.ipxe_dir, false);
    } catch (const std::runtime_error&) {
        throw std::runtime_error("iPXE directory " + o.ipxe_dir + ": " + std::strerror(errno));
    }
    const std::string where = "TFTP address " + o.host + ":" + o.port;
    // Resolved as the HTTP listener's address is (numeric port, a name or an address).
    boost::system::error_code ec;
    udp::resolver resolver(impl_->io);
    const auto found = resolver.resolve(o.host, o.port, udp::resolver::passive, ec);
    if (ec || found.empty())
        throw std::runtime_error(where + ": " + (ec ? ec.message() : "no such address"));
    const udp::endpoint endpoint = *found.begin();
    const unsigned port = endpoint.port();
    impl_->socket.open(endpoint.protocol(), ec);
    if (!ec) impl_->socket.bind(endpoint, ec);
    if (ec) {
        const bool privileged = ec == boost::system::errc::permission_denied && port < 1024;
        throw std::runtime_error(
            "cannot listen on " + where + ": " + ec.message() +
            (privileged ? " (ports below 1024 need CAP_NET_BIND_SERVICE)" : ""));
    }
}

std::string TftpServer::local_address() const {
    return endpoint_text(impl_->socket.local_endpoint());
}

void TftpServer::start() {
    impl_->receive();
    impl_->thread = std::thread([this] { impl_->io.run(); });
}

void TftpServer::stop() {
    if (!impl_ || !impl_->thread.joinable()) return;
    asio::post(impl_->io, [impl = impl_.get()] {
        boost::system::error_code ignored;
        impl->socket.close(ignored);
        for (const auto& session : std::vector(impl->sessions.begin(), impl->sessions.end()))
            session->finish("the server is stopping");
    });
    impl_->thread.join();
}

TftpStats TftpServer::stats() const {
    std::lock_guard lock(impl_->stats_mutex);
    return impl_->stats;
}

}  // namespace bootcfg
