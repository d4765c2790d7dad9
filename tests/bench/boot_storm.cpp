// The boot storm's load generator (scripts/bench-storm): MACHINES simulated machines, CONCURRENCY
// of them in flight at once, each with its own MAC and UUID walking the chain a real one does,
// one new connection per request: the chain script, the boot script, the kernel, the initrd,
// the config, then the check-in URL found in the config. One thread; Beast parses each header,
// a body's first 64 KiB are read (the check-in URL is looked for there) and the rest dropped in
// the kernel, so the generator costs little of the CPU it shares with the server (it prints its
// own CPU time to show it).
//
// Then it checks that every machine got its own answers, byte for byte: each machine's chain
// script, boot script and config are fetched again one at a time after the storm and compared
// with what the storm got (the signed check-in query in a config is the one part allowed to
// differ: it carries an expiry time; the check-in answers, which name the machine the signature
// was for, must match). With -check-assets the kernel and initrd are fetched once before the
// storm and every machine's copy is compared with them as it arrives (that copies every byte out
// of the kernel, so the timed runs of scripts/bench-storm leave it off).
//
// Prints one line per figure: "machines N failed F seconds S machines_per_s R", a line
// "step NAME count C p50_ms A p99_ms B max_ms M bytes N" per step, "client_cpu_s C" (the storm
// only), "checked N machines byte for byte: STEPS", and the first failure, if any, as
// "error ...". Exit 1 when any machine failed or differed.
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
#include <memory>
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

constexpr std::size_t kKeep = 64 * 1024;  // bytes of a body kept (and compared when small)
constexpr std::array<std::size_t, 2> kAssetSteps = {2, 3};

bool is_asset(std::size_t step) {
    return std::find(kAssetSteps.begin(), kAssetSteps.end(), step) != kAssetSteps.end();
}

struct Options {
    std::string host = "127.0.0.1", port;
    std::size_t machines = 1000, concurrency = 100, first = 0;
    std::array<std::string, 5> paths;  // chain .. config; {mac} and {uuid} filled in
    bool check_assets = false;
};

struct Reply {
    unsigned status = 0;
    std::uint64_t bytes = 0;
    std::string body_start;  // the first 64 KiB: where the check-in URL is looked for
    std::string error;
};

// What one machine got in the storm: the small answers whole (the assets are compared as they
// arrive, or not at all).
struct Answers {
    bool failed = false;
    std::array<Reply, kSteps.size()> replies;
};

struct Storm {
    Options options;
    tcp::endpoint server;
    std::size_t next = 0, failed = 0;
    std::array<std::vector<double>, kSteps.size()> latency_ms;
    std::array<std::uint64_t, kSteps.size()> bytes{};
    std::array<std::string, kSteps.size()> expected_asset;  // by step, with -check-assets
    std::vector<Answers> answers;                           // by machine
    // recv(MSG_TRUNC)'s: never written, so never paged in (new char[], not zero-filled).
    static constexpr std::size_t kDrain = 64 << 20;
    std::unique_ptr<char[]> drain{new char[kDrain]};
    std::string first_error;

    void fail(std::string what) {
        ++failed;
        if (first_error.empty()) first_error = std::move(what);
    }
};

std::string mac_of(std::size_t i) {
    char mac[18];
    std::snprintf(mac, sizeof mac, "52:54:03:%02zx:%02zx:%02zx", (i >> 16) & 255, (i >> 8) & 255,
                  i & 255);
    return mac;
}

std::string uuid_of(std::size_t i) {
    char uuid[37];
    std::snprintf(uuid, sizeof uuid, "5707a000-0000-4000-8000-%012zx", i);
    return uuid;
}

std::string fill(std::string path, const std::string& mac, const std::string& uuid) {
    for (auto [key, value] : {std::pair{std::string_view("{mac}"), &mac}, {"{uuid}", &uuid}})
        for (std::size_t at; (at = path.find(key)) != std::string::npos;)
            path.replace(at, key.size(), *value);
    return path;
}

// Where the check-in path is in a rendered config (JSON's "\u0026" read as '&'): the body with
// that done, and the path's start and length (npos when there is none).
struct CheckinAt {
    std::string body;
    std::size_t start = std::string::npos, size = 0;
};

CheckinAt find_checkin(std::string body) {
    for (std::size_t at; (at = body.find("\\u0026")) != std::string::npos;)
        body.replace(at, 6, "&");
    CheckinAt c{std::move(body)};
    c.start = c.body.find("/checkin?");
    if (c.start != std::string::npos)
        c.size = std::min(c.body.find_first_of("\"' \t\r\n\\<", c.start), c.body.size()) - c.start;
    return c;
}

// The check-in path in a rendered config: "/checkin?..." up to the end of its string.
std::string checkin_path(const std::string& body) {
    const CheckinAt c = find_checkin(body);
    return c.start == std::string::npos ? "" : c.body.substr(c.start, c.size);
}

// A config with its check-in query (signed, with an expiry time) left out, for comparing.
std::string without_checkin_query(const std::string& body) {
    CheckinAt c = find_checkin(body);
    if (c.start == std::string::npos) return c.body;
    const std::size_t query = c.start + std::string_view("/checkin?").size();
    return c.body.replace(query, c.start + c.size - query, "...");
}

// One GET on a new connection; the first `keep` bytes of the body are kept. With `expect`, every
// byte of the body is read and compared with it; otherwise bytes past those kept are dropped
// unread.
asio::awaitable<Reply> fetch(Storm& storm, const std::string& target,
                             const std::string* expect = nullptr, std::size_t keep = kKeep) {
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
    auto take = [&](const char* data, std::size_t n) {
        if (expect && r.error.empty() &&
            (r.bytes + n > expect->size() ||
             std::string_view(data, n) != std::string_view(*expect).substr(r.bytes, n)))
            r.error = "body differs from the expected bytes within bytes " +
                      std::to_string(r.bytes) + ".." + std::to_string(r.bytes + n);
        r.bytes += n;
        if (r.body_start.size() < keep)
            r.body_start.append(data, std::min(n, keep - r.body_start.size()));
    };
    const auto already = buffer.data();  // body bytes read along with the header
    take(static_cast<const char*>(already.data()), already.size());
    std::vector<char> chunk(64 * 1024);
    while (!length || r.bytes < *length) {
        std::size_t n = 0;
        if (expect || r.body_start.size() < keep) {
            n = co_await socket.async_read_some(asio::buffer(chunk), token);
        } else {
            // Past what is looked at: MSG_TRUNC has TCP drop the bytes without copying them out
            // (tcp(7)), so a 32 MiB initrd costs the generator next to nothing. The length is
            // the drain buffer's (64 MiB, more than a socket holds) although nothing is written to
            // it: ASan's recv() counts what is returned as written.
            co_await socket.async_wait(tcp::socket::wait_read, token);
            if (ec) co_return r.error = "read body: " + ec.message(), r;
            const ssize_t got = ::recv(socket.native_handle(), storm.drain.get(), Storm::kDrain,
                                       MSG_TRUNC | MSG_DONTWAIT);
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
            if (got < 0)
                ec.assign(errno, boost::system::system_category());
            else if (got == 0)
                ec = asio::error::eof;
            n = got > 0 ? static_cast<std::size_t>(got) : 0;
        }
        if (ec == asio::error::eof && !length) break;  // Connection: close ends the body
        if (ec) co_return r.error = "read body: " + ec.message(), r;
        if (expect || r.body_start.size() < keep)
            take(chunk.data(), n);
        else
            r.bytes += n;
    }
    if (length && *length != r.bytes)
        r.error = "body of " + std::to_string(r.bytes) + " bytes, Content-Length " +
                  std::to_string(*length);
    if (expect && r.error.empty() && r.bytes != expect->size())
        r.error = "body of " + std::to_string(r.bytes) + " bytes, expected " +
                  std::to_string(expect->size());
    co_return r;
}

asio::awaitable<void> machines(Storm& storm) {
    const Options& o = storm.options;
    while (storm.next < o.machines) {
        const std::size_t k = storm.next++, i = o.first + k;
        const std::string mac = mac_of(i), uuid = uuid_of(i);
        Answers& got = storm.answers[k];
        std::string checkin;
        for (std::size_t step = 0; step < kSteps.size(); ++step) {
            const std::string target =
                step == kCheckinStep ? checkin : fill(o.paths[step], mac, uuid);
            const std::string* expect =
                storm.expected_asset[step].empty() ? nullptr : &storm.expected_asset[step];
            const auto start = Clock::now();
            Reply& r = got.replies[step] = co_await fetch(storm, target, expect);
            storm.latency_ms[step].push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - start).count());
            storm.bytes[step] += r.bytes;
            if (r.error.empty() && r.status != 200) r.error = "HTTP " + std::to_string(r.status);
            if (r.error.empty() && step == kConfigStep &&
                (checkin = checkin_path(r.body_start)).empty())
                r.error = "no /checkin? URL in the config";
            if (!r.error.empty()) {
                storm.fail(mac + " " + kSteps[step] + " " + target + ": " + r.error);
                got.failed = true;
                break;
            }
            if (is_asset(step)) std::string().swap(r.body_start);  // checked or not: not kept
        }
    }
}

// Before the storm, with -check-assets: the kernel and initrd as one request alone gets them.
asio::awaitable<void> fetch_assets(Storm& storm) {
    const Options& o = storm.options;
    for (std::size_t step : kAssetSteps) {
        const std::string target = fill(o.paths[step], mac_of(o.first), uuid_of(o.first));
        Reply r = co_await fetch(storm, target, nullptr, std::numeric_limits<std::size_t>::max());
        if (r.error.empty() && r.status != 200) r.error = "HTTP " + std::to_string(r.status);
        if (r.error.empty() && r.body_start.empty()) r.error = "empty body";
        if (!r.error.empty())
            storm.fail(std::string("fetching the ") + kSteps[step] + " " + target +
                       " before the storm: " + r.error);
        storm.expected_asset[step] = std::move(r.body_start);
    }
}

// After the storm: each machine's small answers fetched again one at a time and compared.
asio::awaitable<void> check_answers(Storm& storm, std::size_t& checked) {
    const Options& o = storm.options;
    for (std::size_t k = 0; k < storm.answers.size(); ++k) {
        const Answers& got = storm.answers[k];
        if (got.failed) continue;  // counted already
        const std::string mac = mac_of(o.first + k), uuid = uuid_of(o.first + k);
        std::string problem, checkin;
        for (std::size_t step = 0; step < kSteps.size() && problem.empty(); ++step) {
            if (is_asset(step)) continue;
            const std::string target =
                step == kCheckinStep ? checkin : fill(o.paths[step], mac, uuid);
            const Reply again = co_await fetch(storm, target);
            const Reply& storm_reply = got.replies[step];
            if (!again.error.empty() || again.status != 200)
                problem =
                    "fetching it again: " +
                    (again.error.empty() ? "HTTP " + std::to_string(again.status) : again.error);
            else if (again.bytes > kKeep || storm_reply.bytes > kKeep)
                problem = "an answer over 64 KiB, not compared";
            else if (step == kConfigStep ? without_checkin_query(storm_reply.body_start) !=
                                               without_checkin_query(again.body_start)
                                         : storm_reply.body_start != again.body_start)
                problem = "the storm's answer (" + std::to_string(storm_reply.bytes) +
                          " bytes) differs from the one fetched alone (" +
                          std::to_string(again.bytes) + " bytes)";
            if (step == kConfigStep) checkin = checkin_path(again.body_start);
            if (!problem.empty())
                problem = std::string(kSteps[step]) + " " + target + ": " + problem;
        }
        if (problem.empty())
            ++checked;
        else
            storm.fail(mac + " " + problem);
    }
}

int usage() {
    std::fputs(
        "usage: boot_storm [-check-assets] PORT MACHINES CONCURRENCY FIRST CHAIN SCRIPT KERNEL\n"
        "                  INITRD CONFIG\n"
        "  paths on 127.0.0.1:PORT; {mac} and {uuid} are filled in; machine i (from FIRST) has\n"
        "  MAC 52:54:03:xx:xx:xx and UUID 5707a000-0000-4000-8000-<i in hex>\n",
        stderr);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Storm storm;
    Options& o = storm.options;
    if (argc > 1 && std::string_view(argv[1]) == "-check-assets") {
        o.check_assets = true;
        --argc, ++argv;
    }
    if (argc != 10) return usage();
    o.port = argv[1];
    o.machines = std::strtoull(argv[2], nullptr, 10);
    o.concurrency = std::max<std::size_t>(1, std::strtoull(argv[3], nullptr, 10));
    o.first = std::strtoull(argv[4], nullptr, 10);
    for (std::size_t i = 0; i < o.paths.size(); ++i) o.paths[i] = argv[5 + i];
    storm.server = tcp::endpoint(asio::ip::make_address(o.host),
                                 static_cast<unsigned short>(std::atoi(argv[1])));
    storm.answers.resize(o.machines);
    asio::io_context ioc(1);
    if (o.check_assets) {
        asio::co_spawn(ioc, fetch_assets(storm), asio::detached);
        ioc.run();
        ioc.restart();
        if (storm.failed) {
            std::printf("error %s\n", storm.first_error.c_str());
            return 1;
        }
    }
    for (std::size_t i = 0; i < std::min(o.concurrency, o.machines); ++i)
        asio::co_spawn(ioc, machines(storm), asio::detached);
    const double cpu_before = bootcfg::bench::cpu_seconds();
    const auto start = Clock::now();
    ioc.run();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double cpu = bootcfg::bench::cpu_seconds() - cpu_before;
    const std::size_t storm_failed = storm.failed;
    std::printf("machines %zu failed %zu seconds %.3f machines_per_s %.1f\n", o.machines,
                storm_failed, seconds, static_cast<double>(o.machines - storm_failed) / seconds);
    for (std::size_t step = 0; step < kSteps.size(); ++step)
        std::printf("step %s count %zu p50_ms %.2f p99_ms %.2f max_ms %.2f bytes %llu\n",
                    kSteps[step], storm.latency_ms[step].size(),
                    bootcfg::bench::percentile(storm.latency_ms[step], 0.50),
                    bootcfg::bench::percentile(storm.latency_ms[step], 0.99),
                    bootcfg::bench::percentile(storm.latency_ms[step], 1.0),
                    static_cast<unsigned long long>(storm.bytes[step]));
    std::printf("client_cpu_s %.2f\n", cpu);
    std::size_t checked = 0;
    ioc.restart();
    asio::co_spawn(ioc, check_answers(storm, checked), asio::detached);
    ioc.run();
    std::printf("checked %zu machines byte for byte: chain script config checkin%s\n", checked,
                o.check_assets ? " kernel initrd" : "");
    if (!storm.first_error.empty()) std::printf("error %s\n", storm.first_error.c_str());
    return storm.failed ? 1 : 0;
}
