// The ProxyDHCP listener: UDP 67 on one interface (broadcast answers, as the client has no
// address yet) and 4011 (PXE boot server requests, answered to the sender), on its own thread.
// What to answer is proxy_dhcp.hpp's; this only moves packets. Bounded: per client MAC at most
// `answers_per_second` answers (a burst of twice that); beyond it, silence.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "dhcp/proxy_dhcp.hpp"

namespace bootcfg {

struct ProxyDhcpOptions {
    std::string interface;     // e.g. "br0"
    dhcp::Settings settings;   // its server address is filled in from the interface by listen()
    unsigned short port = 67;  // 0: ephemeral
    unsigned short discovery_port = 4011;
    unsigned answers_per_second = 10;
};

struct ProxyDhcpStats {
    std::uint64_t answered = 0;
    std::uint64_t ignored = 0;  // not PXE, not for us, malformed
    std::uint64_t dropped = 0;  // over the per-client limit
};

class ProxyDhcpServer {
  public:
    explicit ProxyDhcpServer(ProxyDhcpOptions options);
    ~ProxyDhcpServer();
    ProxyDhcpServer(const ProxyDhcpServer&) = delete;
    ProxyDhcpServer& operator=(const ProxyDhcpServer&) = delete;

    // Finds the interface's IPv4 address and binds both ports to it; throws std::runtime_error
    // with one line (the interface, the port, CAP_NET_BIND_SERVICE / CAP_NET_RAW when denied).
    void listen();
    dhcp::Ipv4 address() const;    // the interface's address listen() found
    std::string describe() const;  // "br0 192.168.77.1, ports 67 and 4011"
    // Before start(): this server's HTTP base ("http://HOST:PORT"), and what a machine's
    // group says instead of the loader by architecture (by MAC; see dhcp::Overrides).
    void set_http_base(std::string base);
    void set_lookup(std::function<dhcp::Overrides(const std::string& mac)> lookup);
    void start();
    void stop();
    ProxyDhcpStats stats() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

// The first IPv4 address of an interface, or nullopt.
std::optional<dhcp::Ipv4> interface_ipv4(const std::string& interface);

}  // namespace bootcfg
