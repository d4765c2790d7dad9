// ProxyDHCP load for scripts/bench-pxe: UEFI PXE DISCOVERs broadcast out of IFACE to port 67,
// up to WINDOW unanswered at once, each from another of 100,000 MACs (so the per-MAC answer
// limit never bites), for SECONDS; the OFFERs come back broadcast to port 68. Each answer is
// checked (its xid was asked, its boot file is snponly.efi). One thread and epoll.
//
//   dhcp_load IFACE WINDOW SECONDS
// prints: "answers N seconds S per_s R p50_ms A p99_ms B lost L client_cpu_s C"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "load_stats.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::string discover(std::uint32_t xid, std::uint32_t n) {
    std::string p(236, '\0');
    p[0] = 1, p[1] = 1, p[2] = 6;
    for (int i = 0; i < 4; ++i) p[4 + i] = static_cast<char>(xid >> (24 - 8 * i));
    p[10] = static_cast<char>(0x80);  // broadcast
    const unsigned char mac[6] = {0x52,
                                  0x54,
                                  0x01,
                                  static_cast<unsigned char>(n >> 16),
                                  static_cast<unsigned char>(n >> 8),
                                  static_cast<unsigned char>(n)};
    std::memcpy(&p[28], mac, 6);
    p += std::string("\x63\x82\x53\x63", 4);
    p += std::string("\x35\x01\x01", 3);  // DISCOVER
    const std::string vendor = "PXEClient:Arch:00007:UNDI:003016";
    p += '\x3c';
    p += static_cast<char>(vendor.size());
    p += vendor;
    p += std::string("\x5d\x02\x00\x07", 4);  // arch 7
    p += '\xff';
    p.resize(300, '\0');
    return p;
}

int bound_socket(const char* iface, int port) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface, static_cast<socklen_t>(std::strlen(iface)));
    const int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("bind");
        std::exit(1);
    }
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: dhcp_load IFACE WINDOW SECONDS\n");
        return 2;
    }
    const char* iface = argv[1];
    const unsigned window = static_cast<unsigned>(std::atoi(argv[2]));
    const double seconds = std::atof(argv[3]);
    const int fd = bound_socket(iface, 68);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(67);
    to.sin_addr.s_addr = htonl(INADDR_BROADCAST);

    std::unordered_map<std::uint32_t, Clock::time_point> waiting;
    std::vector<double> latencies;
    std::uint64_t answers = 0, lost = 0, bad = 0;
    std::uint32_t next_xid = 1;
    const auto start = Clock::now();
    const auto stop =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<char> buffer(2048);
    auto last_check = start;
    while (true) {
        const auto now = Clock::now();
        while (now < stop && waiting.size() < window) {
            const std::uint32_t xid = next_xid++;
            const auto packet = discover(xid, xid % 100000);
            if (::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to),
                         sizeof to) < 0)
                break;
            waiting.emplace(xid, now);
        }
        if (now >= stop && waiting.empty()) break;
        if (now - last_check > std::chrono::milliseconds(200)) {  // unanswered for 1 s: lost
            last_check = now;
            for (auto it = waiting.begin(); it != waiting.end();)
                if (now - it->second > std::chrono::seconds(1)) {
                    ++lost;
                    it = waiting.erase(it);
                } else {
                    ++it;
                }
        }
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 10);
        for (;;) {
            const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
            if (n < 0) break;
            if (n < 240 || buffer[0] != 2) continue;
            std::uint32_t xid = 0;
            for (int i = 0; i < 4; ++i) xid = xid << 8 | static_cast<unsigned char>(buffer[4 + i]);
            const auto it = waiting.find(xid);
            if (it == waiting.end()) continue;
            if (std::string(buffer.data() + 108, 11) != "snponly.efi") ++bad;
            latencies.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
            waiting.erase(it);
            ++answers;
        }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    auto pct = [&](double q) { return bootcfg::bench::percentile(latencies, q); };
    const double cpu = bootcfg::bench::cpu_seconds();
    std::printf(
        "answers %llu seconds %.2f per_s %.0f p50_ms %.3f p99_ms %.3f lost %llu client_cpu_s "
        "%.2f\n",
        static_cast<unsigned long long>(answers), elapsed, static_cast<double>(answers) / elapsed,
        pct(0.5), pct(0.99), static_cast<unsigned long long>(lost), cpu);
    return bad == 0 && answers > 0 ? 0 : 1;
}
