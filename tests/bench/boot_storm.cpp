// The boot storm's load generator (scripts/bench-storm): MACHINES simulated machines, CONCURRENCY
// of them in flight at once, each with its own MAC and UUID walking the chain a real one does,
// one new connection per request: the chain script, the boot script, the kernel, the initrd,
// the config, then the check-in URL found in the config. One thread; Beast parses each header,
// a body's first 64 KiB are read (the check-in URL is looked for there) and the rest dropped in
// the kernel, so the generator costs little of the CPU it shares with the server (it prints its
// own CPU time to show it).
//
// Prints one line per figure: "machines N failed F seconds S machines_per_s R", a line
// "step NAME count C p50_ms A p99_ms B max_ms M bytes N" per step, "client_cpu_s C", and the
// first failure, if any, as "error ...". Exit 1 when any machine failed.
#include <sys/socket.h>

#include <utility>  // before Asio's awaitable.hpp, which uses std::exchange

#include <algorithm>
#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

#include "load_stats.hpp"

namespace {

constexpr std::array<const char*, 6> kSteps = {"chain",  "script", "kernel",
                                               "initrd", "config", "checkin"};
constexpr std::size_t kConfigStep = 4, kCheckinStep = 5;

struct Options {
    std::string host = "127.0.0.1", port;
    std::size_t machines = 1000, concurrency = 100, first = 0;
    std::array<std::string, 5> paths;  // chain .. config; {mac} and {uuid} filled in
};

struct Reply {
    unsigned status = 0;
    std::uint64_t bytes = 0;
    std::string body_start;  // the first 64 KiB: where the check-in URL is looked for
    std::string error;
};

struct Storm {
    Options options;
    tcp::endpoint server;
    std::size_t next = 0, failed = 0;
    std::array<std::vector<double>, kSteps.size()> latency_ms;
    std::array<std::uint64_t, kSteps.size()> bytes{};
    std::string first_error;
};

std::string fill(std::string path, const std::string& mac, const std::string& uuid) {
    for (auto [key, value] : {std::pair{std::string_view("{mac}"), &mac}, {"{uuid}", &uuid}})
        for (std::size_t at; (at = path.find(key)) != std::string::npos;)
            path.replace(at, key.size(), *value);
    return path;
}

// The check-in path in a rendered config: "/checkin?..." up to the end of its string.
std::string checkin_path(std::string body) {
    for (std::size_t at; (at = body.find("\\u0026")) != std::string::npos;)
        body.replace(at, 6, "&");
    const auto start = body.find("/checkin?");
    if (start == std::string::npos) return "";
    const auto end = body.find_first_of("\"' \t\r\n\\<", start);
    return body.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

asio::awaitable<Reply> fetch(Storm& storm, const std::string& target) {
    Reply r;
    beast::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(storm.server, token);
    if (ec) co_return r.error = "connect: " + ec.message(), r;
    socket.set_option(tcp::no_delay(true), ec);
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, storm.options.host + ":" + storm.options.port);
    request.set(http::field::connection, "close");
    co_await http::async_write(socket, request, token);
    if (ec) co_return r.error = "write: " + ec.message(), r;
    // Beast parses the header; the body is read straight from the socket into one buffer and
    // dropped (through Beast's parser it would be copied once more, and read in smaller pieces).
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // the header only: the body is read below
    co_await http::async_read_header(socket, buffer, parser, token);
    if (ec) co_return r.error = "read header: " + ec.message(), r;
    r.status = parser.get().result_int();
    const auto length = parser.content_length();
    auto keep = [&](const char* data, std::size_t n) {
        r.bytes += n;
        if (r.body_start.size() < 65536)
            r.body_start.append(data, std::min(n, 65536 - r.body_start.size()));
    };
    const auto already = buffer.data();  // body bytes read along with the header
    keep(static_cast<const char*>(already.data()), already.size());
    std::vector<char> chunk(64 * 1024);
    while (!length || r.bytes < *length) {
        std::size_t n = 0;
        if (r.body_start.size() < 65536) {
            n = co_await socket.async_read_some(asio::buffer(chunk), token);
        } else {
            // Past what is looked at: MSG_TRUNC has TCP drop the bytes without copying them out
            // (tcp(7)), so a 32 MiB initrd costs the generator next to nothing.
            co_await socket.async_wait(tcp::socket::wait_read, token);
            if (ec) co_return r.error = "read body: " + ec.message(), r;
            const ssize_t got =
                ::recv(socket.native_handle(), chunk.data(), 1 << 30, MSG_TRUNC | MSG_DONTWAIT);
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
            if (got < 0)
                ec.assign(errno, boost::system::system_category());
            else if (got == 0)
                ec = asio::error::eof;
            n = got > 0 ? static_cast<std::size_t>(got) : 0;
        }
        if (ec == asio::error::eof && !length) break;  // Connection: close ends the body
        if (ec) co_return r.error = "read body: " + ec.message(), r;
        if (r.body_start.size() < 65536)
            keep(chunk.data(), n);
        else
            r.bytes += n;
    }
    if (length && *length != r.bytes)
        r.error = "body of " + std::to_string(r.bytes) + " bytes, Content-Length " +
                  std::to_string(*length);
    co_return r;
}

asio::awaitable<void> machines(Storm& storm) {
    const Options& o = storm.options;
    while (storm.next < o.machines) {
        const std::size_t i = o.first + storm.next++;
        char mac[18], uuid[37];
        std::snprintf(mac, sizeof mac, "52:54:03:%02zx:%02zx:%02zx", (i >> 16) & 255,
                      (i >> 8) & 255, i & 255);
        std::snprintf(uuid, sizeof uuid, "5707a000-0000-4000-8000-%012zx", i);
        std::string checkin;
        for (std::size_t step = 0; step < kSteps.size(); ++step) {
            const std::string target =
                step == kCheckinStep ? checkin : fill(o.paths[step], mac, uuid);
            const auto start = Clock::now();
            Reply r = co_await fetch(storm, target);
            storm.latency_ms[step].push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - start).count());
            storm.bytes[step] += r.bytes;
            if (r.error.empty() && r.status != 200) r.error = "HTTP " + std::to_string(r.status);
            if (r.error.empty() && step == kConfigStep &&
                (checkin = checkin_path(r.body_start)).empty())
                r.error = "no /checkin? URL in the config";
            if (!r.error.empty()) {
                if (storm.first_error.empty())
                    storm.first_error =
                        std::string(mac) + " " + kSteps[step] + " " + target + ": " + r.error;
                ++storm.failed;
                break;
            }
        }
    }
}

int usage() {
    std::fputs(
        "usage: boot_storm PORT MACHINES CONCURRENCY FIRST CHAIN SCRIPT KERNEL INITRD CONFIG\n"
        "  paths on 127.0.0.1:PORT; {mac} and {uuid} are filled in; machine i (from FIRST) has\n"
        "  MAC 52:54:03:xx:xx:xx and UUID 5707a000-0000-4000-8000-<i in hex>\n",
        stderr);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 10) return usage();
    Storm storm;
    Options& o = storm.options;
    o.port = argv[1];
    o.machines = std::strtoull(argv[2], nullptr, 10);
    o.concurrency = std::max<std::size_t>(1, std::strtoull(argv[3], nullptr, 10));
    o.first = std::strtoull(argv[4], nullptr, 10);
    for (std::size_t i = 0; i < o.paths.size(); ++i) o.paths[i] = argv[5 + i];
    storm.server = tcp::endpoint(asio::ip::make_address(o.host),
                                 static_cast<unsigned short>(std::atoi(argv[1])));
    asio::io_context ioc(1);
    for (std::size_t i = 0; i < std::min(o.concurrency, o.machines); ++i)
        asio::co_spawn(ioc, machines(storm), asio::detached);
    const auto start = Clock::now();
    ioc.run();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double cpu = bootcfg::bench::cpu_seconds();
    std::printf("machines %zu failed %zu seconds %.3f machines_per_s %.1f\n", o.machines,
                storm.failed, seconds, static_cast<double>(o.machines - storm.failed) / seconds);
    for (std::size_t step = 0; step < kSteps.size(); ++step)
        std::printf("step %s count %zu p50_ms %.2f p99_ms %.2f max_ms %.2f bytes %llu\n",
                    kSteps[step], storm.latency_ms[step].size(),
                    bootcfg::bench::percentile(storm.latency_ms[step], 0.50),
                    bootcfg::bench::percentile(storm.latency_ms[step], 0.99),
                    bootcfg::bench::percentile(storm.latency_ms[step], 1.0),
                    static_cast<unsigned long long>(storm.bytes[step]));
    std::printf("client_cpu_s %.2f\n", cpu);
    if (!storm.first_error.empty()) std::printf("error %s\n", storm.first_error.c_str());
    return storm.failed ? 1 : 0;
}
