// TFTP load for scripts/bench-pxe: CLIENTS clients at once, each downloading FILE over and over
// (blksize BLKSIZE, one block per window as PXE ROMs do) from 127.0.0.1:PORT for SECONDS, every
// block checked against the local copy of the file, each download from its own loopback address.
// One thread and epoll, so that the client costs little of the two cores it shares with the server
// (its CPU time is printed).
//
//   tftp_load PORT NAME LOCAL-COPY BLKSIZE CLIENTS SECONDS
// prints: "transfers N bytes B seconds S mib_per_s M p50_ms A p99_ms B client_cpu_s C errors E"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "load_stats.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Client {
    int fd = -1;
    sockaddr_in server{};  // port 69 for the request, then the transfer's own port
    bool locked = false;
    std::uint64_t next = 1;  // next block index expected
    std::size_t received = 0;
    Clock::time_point started, last_packet;
    std::string last_sent;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 7) {
        std::fprintf(stderr, "usage: tftp_load PORT NAME LOCAL-COPY BLKSIZE CLIENTS SECONDS\n");
        return 2;
    }
    const int port = std::atoi(argv[1]);
    const std::string name = argv[2];
    std::ifstream in(argv[3], std::ios::binary);
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t blksize = std::strtoul(argv[4], nullptr, 10);
    const int clients = std::atoi(argv[5]);
    const double seconds = std::atof(argv[6]);

    std::string request;
    request += '\0';
    request += '\1';
    request += name + '\0' + "octet" + '\0';
    if (blksize != 512) request += std::string("blksize") + '\0' + std::to_string(blksize) + '\0';

    const int ep = epoll_create1(0);
    std::vector<Client> all(clients);
    std::vector<double> times;
    std::uint64_t transfers = 0, bytes = 0, errors = 0;
    std::uint32_t next_address = 0;
    auto send = [](Client& c, std::string packet) {
        c.last_sent = std::move(packet);
        ::sendto(c.fd, c.last_sent.data(), c.last_sent.size(), 0,
                 reinterpret_cast<sockaddr*>(&c.server), sizeof c.server);
    };
    auto begin = [&](Client& c) {
        if (c.fd >= 0) ::close(c.fd);  // a new port per transfer, as firmware does
        c.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        // Each download from an address of its own (127.1.0.0/16 onwards, all loopback), as
        // each machine of a fleet has one: the server's per-address limits are for one machine.
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr.s_addr = htonl(0x7f010000u + (next_address++ % 0xfff0u) + 1);
        ::bind(c.fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &c;
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
        c.server = {};
        c.server.sin_family = AF_INET;
        c.server.sin_port = htons(static_cast<std::uint16_t>(port));
        c.server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        c.locked = false;
        c.next = 1;
        c.received = 0;
        c.started = c.last_packet = Clock::now();
        send(c, request);
    };
    auto ack = [](std::uint16_t block) {
        return std::string{0, 4, static_cast<char>(block >> 8), static_cast<char>(block & 0xff)};
    };

    const auto start = Clock::now();
    const auto stop =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    for (auto& c : all) begin(c);
    std::vector<epoll_event> events(256);
    std::vector<char> buffer(70000);
    int running = clients;
    while (running > 0) {
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        const auto now = Clock::now();
        for (int i = 0; i < n; ++i) {
            auto& c = *static_cast<Client*>(events[i].data.ptr);
            for (;;) {
                sockaddr_in from{};
                socklen_t len = sizeof from;
                const ssize_t got = ::recvfrom(c.fd, buffer.data(), buffer.size(), 0,
                                               reinterpret_cast<sockaddr*>(&from), &len);
                if (got < 0) break;
                if (got < 4) continue;
                if (!c.locked) {
                    c.server.sin_port = from.sin_port;
                    c.locked = true;
                }
                c.last_packet = now;
                const int op = buffer[1];
                const std::uint16_t block =
                    static_cast<std::uint16_t>((static_cast<unsigned char>(buffer[2]) << 8) |
                                               static_cast<unsigned char>(buffer[3]));
                if (op == 6) {  // OACK
                    send(c, ack(0));
                    continue;
                }
                if (op != 3) {
                    ++errors;
                    std::fprintf(stderr, "error packet: %.*s\n", static_cast<int>(got - 4),
                                 buffer.data() + 4);
                    begin(c);
                    break;
                }
                if (block != static_cast<std::uint16_t>(c.next)) {  // a repeat: ack it again
                    send(c, ack(block));
                    continue;
                }
                const std::size_t size = static_cast<std::size_t>(got - 4);
                if (c.received + size > file.size() ||
                    std::memcmp(buffer.data() + 4, file.data() + c.received, size) != 0) {
                    ++errors;
                    std::fprintf(stderr, "block %llu differs\n",
                                 static_cast<unsigned long long>(c.next));
                }
                c.received += size;
                ++c.next;
                send(c, ack(block));
                if (size < blksize) {
                    if (c.received != file.size()) ++errors;
                    ++transfers;
                    bytes += c.received;
                    times.push_back(
                        std::chrono::duration<double, std::milli>(now - c.started).count());
                    if (now < stop) {
                        begin(c);
                    } else {
                        ::close(c.fd);
                        c.fd = -1;
                        --running;
                    }
                    break;
                }
            }
        }
        for (auto& c : all)  // a lost packet: say the last thing again
            if (c.fd >= 0 && now - c.last_packet > std::chrono::seconds(2)) {
                c.last_packet = now;
                ::sendto(c.fd, c.last_sent.data(), c.last_sent.size(), 0,
                         reinterpret_cast<sockaddr*>(&c.server), sizeof c.server);
            }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    auto pct = [&](double q) { return bootcfg::bench::percentile(times, q); };
    const double cpu = bootcfg::bench::cpu_seconds();
    std::printf(
        "transfers %llu bytes %llu seconds %.2f mib_per_s %.1f p50_ms %.1f p99_ms %.1f "
        "client_cpu_s %.2f errors %llu\n",
        static_cast<unsigned long long>(transfers), static_cast<unsigned long long>(bytes), elapsed,
        static_cast<double>(bytes) / 1048576.0 / elapsed, pct(0.5), pct(0.99), cpu,
        static_cast<unsigned long long>(errors));
    return errors == 0 ? 0 : 1;
}
