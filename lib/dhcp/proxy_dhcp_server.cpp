#include "dhcp/proxy_dhcp_server.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "service/rate_limiter.hpp"

namespace bootcfg {

namespace asio = boost::asio;
using udp = asio::ip::udp;

std::optional<dhcp::Ipv4> interface_ipv4(const std::string& interface) {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return std::nullopt;
    std::optional<dhcp::Ipv4> found;
    for (auto* i = list; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || interface != i->ifa_name) continue;
        const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
        dhcp::Ipv4 ip;
        std::memcpy(ip.data(), &in->sin_addr.s_addr, 4);
        found = ip;
    }
    ::freeifaddrs(list);
    return found;
}

struct ProxyDhcpServer::Impl {
    ProxyDhcpOptions options;
    asio::io_context io{1};
    udp::socket main{io}, discovery{io};
    std::array<char, dhcp::kMaxPacket + 1> buffer{};
    udp::endpoint from;
    std::thread thread;
    RateLimiter<dhcp::Mac> answers;
    mutable std::mutex stats_mutex;
    ProxyDhcpStats stats;
    std::function<dhcp::Overrides(const std::string& mac)> lookup;

    explicit Impl(ProxyDhcpOptions o)
        : options(std::move(o)),
          answers(options.answers_per_second, 2.0 * options.answers_per_second) {}

    void count(std::uint64_t ProxyDhcpStats::*field) {
        std::lock_guard lock(stats_mutex);
        ++(stats.*field);
    }

    void receive(udp::socket& socket, bool port_4011) {
        socket.async_receive_from(
            asio::buffer(buffer), from,
            [this, &socket, port_4011](boost::system::error_code ec, std::size_t n) {
                if (ec == asio::error::operation_aborted || !socket.is_open()) return;
                if (!ec) on_packet(socket, std::string_view(buffer.data(), n), port_4011);
                receive(socket, port_4011);
            });
    }

    void on_packet(udp::socket& socket, std::string_view packet, bool port_4011) {
        std::string why;
        const auto request = dhcp::parse_request(packet, why);
        if (!request) {
            count(&ProxyDhcpStats::ignored);
            spdlog::debug("proxydhcp: {} ignored: {}", from.address().to_string(), why);
            return;
        }
        const auto mac = dhcp::mac_text(request->mac);
        const auto a = dhcp::answer(*request, options.settings, port_4011,
                                    lookup ? lookup(mac) : dhcp::Overrides{});
        if (!a.reply) {
            count(&ProxyDhcpStats::ignored);
            // Other machines' DHCP is no news; a PXE client left unanswered is.
            if (request->vendor_class.starts_with("PXEClient") ||
                request->vendor_class.starts_with("HTTPClient"))
                spdlog::info("proxydhcp: {} not answered: {}", mac, a.what);
            return;
        }
        if (!answers.allow(request->mac)) {
            count(&ProxyDhcpStats::dropped);
            return;
        }
        // Port 67: the client has no address yet, so broadcast (or to its relay); 4011: it has.
        udp::endpoint to = from;
        if (!port_4011) {
            const auto& g = request->giaddr;
            to = g != dhcp::Ipv4{} ? udp::endpoint(asio::ip::address_v4(g), 67)
                                   : udp::endpoint(asio::ip::address_v4::broadcast(), 68);
        }
        boost::system::error_code ec;
        socket.send_to(asio::buffer(*a.reply), to, 0, ec);
        if (ec) {
            spdlog::warn("proxydhcp: answer to {} via {}: {}", mac, to.address().to_string(),
                         ec.message());
            return;
        }
        count(&ProxyDhcpStats::answered);
        spdlog::info("proxydhcp: {} {} ({}, port {})", mac, a.what,
                     port_4011 ? "REQUEST" : "DISCOVER",
                     port_4011 ? options.discovery_port : options.port);
    }
};

ProxyDhcpServer::ProxyDhcpServer(ProxyDhcpOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

ProxyDhcpServer::~ProxyDhcpServer() {
    stop();
}

void ProxyDhcpServer::listen() {
    auto& o = impl_->options;
    const auto ip = interface_ipv4(o.interface);
    if (!ip)
        throw std::runtime_error("-proxy-dhcp: interface " + o.interface + " has no IPv4 address");
    o.settings.server = *ip;
    auto open = [&](udp::socket& socket, unsigned short& port, bool broadcast) {
        const std::string where = "ProxyDHCP port " + std::to_string(port) + " on " + o.interface;
        boost::system::error_code ec;
        socket.open(udp::v4(), ec);
        if (!ec) socket.set_option(udp::socket::reuse_address(true), ec);
        if (!ec && broadcast) socket.set_option(asio::socket_base::broadcast(true), ec);
        // Only this interface's packets (and answers out of it), whatever its address.
        if (!ec &&
            ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, o.interface.c_str(),
                         static_cast<socklen_t>(o.interface.size())) != 0)
            ec = boost::system::error_code(errno, boost::system::system_category());
        // 67 hears broadcasts only when bound to the wildcard address.
        const auto address = broadcast ? asio::ip::address_v4::any() : asio::ip::address_v4(*ip);
        if (!ec) socket.bind(udp::endpoint(address, port), ec);
        if (ec) {
            const bool denied = ec == boost::system::errc::permission_denied ||
                                ec == boost::system::errc::operation_not_permitted;
            throw std::runtime_error(
                "cannot listen on " + where + ": " + ec.message() +
                (denied ? " (needs CAP_NET_BIND_SERVICE and CAP_NET_RAW)" : ""));
        }
        if (port == 0) port = socket.local_endpoint().port();
    };
    open(impl_->main, o.port, true);
    open(impl_->discovery, o.discovery_port, false);
}

dhcp::Ipv4 ProxyDhcpServer::address() const {
    return impl_->options.settings.server;
}

std::string ProxyDhcpServer::describe() const {
    const auto& o = impl_->options;
    return o.interface + " " + asio::ip::address_v4(o.settings.server).to_string() + ", ports " +
           std::to_string(o.port) + " and " + std::to_string(o.discovery_port);
}

void ProxyDhcpServer::set_http_base(std::string base) {
    impl_->options.settings.http_base = std::move(base);
}

void ProxyDhcpServer::set_lookup(std::function<dhcp::Overrides(const std::string& mac)> lookup) {
    impl_->lookup = std::move(lookup);
}

void ProxyDhcpServer::start() {
    impl_->receive(impl_->main, false);
    impl_->receive(impl_->discovery, true);
    impl_->thread = std::thread([this] { impl_->io.run(); });
}

void ProxyDhcpServer::stop() {
    if (!impl_ || !impl_->thread.joinable()) return;
    asio::post(impl_->io, [impl = impl_.get()] {
        boost::system::error_code ignored;
        impl->main.close(ignored);
        impl->discovery.close(ignored);
    });
    impl_->thread.join();
}

ProxyDhcpStats ProxyDhcpServer::stats() const {
    std::lock_guard lock(impl_->stats_mutex);
    return impl_->stats;
}

}  // namespace bootcfg
