#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "tftp/tftp_protocol.hpp"
#include "tftp/transfer.hpp"

using namespace bootcfg::tftp;

namespace {

std::string rrq(std::initializer_list<std::string> fields, std::uint16_t op = kRrq) {
    std::string p;
    p += static_cast<char>(op >> 8);
    p += static_cast<char>(op & 0xff);
    for (const auto& f : fields) {
        p += f;
        p += '\0';
    }
    return p;
}

std::string ack(std::uint16_t block) {
    return std::string{0, 4, static_cast<char>(block >> 8), static_cast<char>(block & 0xff)};
}

ReadRequest request_of(const std::string& packet) {
    auto parsed = parse_request(packet);
    REQUIRE(std::holds_alternative<ReadRequest>(parsed));
    return std::get<ReadRequest>(parsed);
}

Transfer::Reader reader_of(const std::string& content) {
    return
        [content](std::uint64_t offset, char* out, std::size_t max) -> std::optional<std::size_t> {
            if (offset >= content.size()) return 0;
            return content.copy(out, max, static_cast<std::size_t>(offset));
        };
}

// A receiving client over a lossy path: `lose(n)` says whether the n-th packet (either way) is
// lost. It acknowledges as RFC 7440 receivers do: at the end of each window, on the last block,
// and on a gap; it has no timer of its own (the server's timer drives recovery).
struct Client {
    unsigned windowsize = 1;
    std::size_t blksize = 512;
    std::function<bool(unsigned)> lose = [](unsigned) { return false; };
    std::string received;
    std::uint64_t expected = 1;  // next block index
    unsigned packets = 0;
    unsigned in_window = 0;
    bool finished = false;

    // Feeds what the server sent; returns the client's answers (not lost on the way back).
    std::vector<std::string> take(const Transfer& t, const Transfer::Send& s) {
        std::vector<std::string> out;
        auto reply = [&](std::string p) {
            if (!lose(packets++)) out.push_back(std::move(p));
        };
        if (!s.control.empty() && !lose(packets++) && s.control[1] == kOack) reply(ack(0));
        for (unsigned i = 0; i < s.blocks; ++i) {
            const auto index = s.first_block + i;
            const auto data = t.block(index);
            if (lose(packets++)) continue;
            if (index != expected) {  // a gap or a repeat: say what arrived in order
                reply(ack(Transfer::wire(expected - 1)));
                in_window = 0;
                return out;
            }
            received += data;
            ++expected;
            const bool last = data.size() < blksize;
            if (last) finished = true;
            if (last || ++in_window == windowsize) {
                in_window = 0;
                reply(ack(Transfer::wire(index)));
            }
        }
        return out;
    }
};

// Runs a transfer to its end; each round either delivers the client's answers or times out.
void run(Transfer& t, Client& c, unsigned max_rounds = 1000000) {
    auto pending = c.take(t, t.start());
    for (unsigned round = 0; round < max_rounds && t.status() == Transfer::Status::running;
         ++round) {
        if (pending.empty()) {
            pending = c.take(t, t.on_timeout());
            continue;
        }
        std::vector<std::string> next;
        for (const auto& p : pending) {
            auto more = c.take(t, t.on_packet(p));
            next.insert(next.end(), more.begin(), more.end());
        }
        pending = std::move(next);
    }
}

std::string content_of(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
    return s;
}

}  // namespace

TEST_CASE("TFTP read requests: what is taken, what is refused") {
    auto r = request_of(rrq({"undionly.kpxe", "OCTET", "BlkSize", "1432", "tsize", "0",
                             "windowsize", "4", "timeout", "3", "multicast", "", "foo", "bar"}));
    CHECK(r.filename == "undionly.kpxe");
    CHECK_FALSE(r.netascii);
    CHECK(r.blksize == 1432u);
    CHECK(r.tsize);
    CHECK(r.windowsize == 4u);
    CHECK(r.timeout_s == 3u);
    CHECK(request_of(rrq({"x", "netascii"})).netascii);
    // Out-of-range values are not taken (RFC 2347 lets the server leave an option out).
    auto odd = request_of(rrq({"x", "octet", "blksize", "7", "windowsize", "0", "timeout", "256",
                               "tsize", "5", "blksize", "-1"}));
    CHECK_FALSE(odd.blksize);
    CHECK_FALSE(odd.windowsize);
    CHECK_FALSE(odd.timeout_s);
    CHECK_FALSE(odd.tsize);
    CHECK(request_of(rrq({"x", "octet", "blksize", "99999999"})).blksize == kMaxBlockSize);

    auto refusal = [](const std::string& packet) {
        auto parsed = parse_request(packet);
        REQUIRE(std::holds_alternative<Refusal>(parsed));
        return std::get<Refusal>(parsed);
    };
    CHECK(refusal(rrq({"x", "octet"}, kWrq)).code == kAccessViolation);
    CHECK(refusal(rrq({"x", "octet"}, kAck)).code == kIllegalOperation);
    CHECK(refusal(rrq({"x", "mail"})).code == kIllegalOperation);
    CHECK(refusal(rrq({"x"})).code == kIllegalOperation);
    CHECK(refusal(rrq({"x", "octet", "blksize"})).code == kIllegalOperation);
    CHECK(refusal(std::string("\0\1x\0octet", 9)).code == kIllegalOperation);  // no final NUL
    CHECK(refusal(std::string(1, '\0')).code == kIllegalOperation);
    CHECK(refusal(rrq({std::string(kMaxRequestBytes, 'a'), "octet"})).code == kIllegalOperation);
}

TEST_CASE("TFTP option negotiation and the OACK") {
    auto plain = negotiate(request_of(rrq({"x", "octet"})), 1000);
    CHECK_FALSE(plain.oack);
    CHECK(plain.blksize == 512u);

    auto n = negotiate(request_of(rrq({"x", "octet", "blksize", "1432", "tsize", "0"})), 74213);
    CHECK(n.oack);
    CHECK(oack_packet(n) == std::string("\0\6blksize\0"
                                        "1432\0tsize\0"
                                        "74213\0",
                                        27));

    // The window is bounded in bytes: 64 blocks of 8,192 would hold 512 KiB.
    auto big = negotiate(request_of(rrq({"x", "octet", "blksize", "8192", "windowsize", "64"})), 1);
    CHECK(big.windowsize == kMaxWindowBytes / 8192);
    CHECK(oack_packet(big).find(std::string("windowsize\0"
                                            "32\0",
                                            14)) != std::string::npos);

    // tsize of a netascii transfer is not known in advance: not answered, so no OACK.
    auto ascii = negotiate(request_of(rrq({"x", "netascii", "tsize", "0"})), std::nullopt);
    CHECK_FALSE(ascii.oack);
}

TEST_CASE("TFTP file names: relative to the root, never out of it") {
    CHECK(relative_path("undionly.kpxe") == "undionly.kpxe");
    CHECK(relative_path("/pxelinux.0") == "pxelinux.0");
    CHECK(relative_path("\\boot\\ipxe.efi") == "boot/ipxe.efi");
    CHECK(relative_path("assets/lab/vmlinuz") == "assets/lab/vmlinuz");
    for (const std::string& bad : std::vector<std::string>{
             "", "/", "..", ".", "../x", "a/../../x", "a/./b", "a//b", "..\\x", "a\\..\\..\\x",
             "a/", std::string("a\0b", 3), "a\nb", std::string(256, 'a'), "\x7f"}) {
        INFO(bad);
        CHECK_FALSE(relative_path(bad));
    }
}

TEST_CASE("netascii conversion") {
    CHECK(to_netascii("a\nb\rc") == std::string("a\r\nb\r\0c", 7));
    CHECK(to_netascii("") == "");
}

TEST_CASE("TFTP transfers deliver every byte, whatever the window and size") {
    for (std::size_t size : {0u, 1u, 511u, 512u, 513u, 5120u, 100000u}) {
        for (unsigned window : {1u, 4u}) {
            INFO("size " << size << " window " << window);
            const auto content = content_of(size);
            ReadRequest r;
            if (window > 1) r.windowsize = window;
            Transfer t(negotiate(r, size), reader_of(content));
            Client c;
            c.windowsize = window;
            run(t, c);
            CHECK(t.status() == Transfer::Status::done);
            CHECK(c.received == content);
            CHECK(t.bytes_acknowledged() == size);
            CHECK(t.retransmissions() == 0);
        }
    }
}

TEST_CASE("TFTP block numbers roll over past 65,535") {
    const auto content = content_of(8 * 70000 + 3);  // 70,001 blocks of 8 bytes
    ReadRequest r;
    r.blksize = 8;
    r.windowsize = 16;
    Transfer t(negotiate(r, content.size()), reader_of(content));
    Client c;
    c.blksize = 8;
    c.windowsize = 16;
    run(t, c);
    CHECK(t.status() == Transfer::Status::done);
    CHECK(c.received == content);
}

TEST_CASE("TFTP retransmits what was lost, and gives up on a silent client") {
    const auto content = content_of(300000);
    for (unsigned window : {1u, 8u}) {
        INFO("window " << window);
        ReadRequest r;
        r.blksize = 1432;
        r.tsize = true;
        if (window > 1) r.windowsize = window;
        Transfer t(negotiate(r, content.size()), reader_of(content));
        Client c;
        c.blksize = 1432;
        c.windowsize = window;
        c.lose = [](unsigned n) { return n % 7 == 3 || n == 0; };  // the OACK too
        run(t, c);
        CHECK(t.status() == Transfer::Status::done);
        CHECK(c.received == content);
        CHECK(t.retransmissions() > 0);
    }

    Transfer silent(negotiate(ReadRequest{}, 10), reader_of("0123456789"), 5);
    auto first = silent.start();
    CHECK(first.blocks == 1);
    for (int i = 0; i < 5; ++i) CHECK(silent.on_timeout().blocks == 1);
    auto last = silent.on_timeout();
    CHECK(silent.status() == Transfer::Status::failed);
    CHECK(last.control.substr(0, 4) == std::string("\0\5\0\0", 4));
    CHECK(silent.failure() == "no acknowledgement after 5 retransmissions");
}

TEST_CASE("TFTP duplicates, strangers and client errors") {
    const auto content = content_of(2000);
    SECTION("a duplicate ACK with one block a window sends nothing (no Sorcerer's Apprentice)") {
        Transfer t(negotiate(ReadRequest{}, content.size()), reader_of(content));
        t.start();
        CHECK(t.on_packet(ack(1)).blocks == 1);
        auto dup = t.on_packet(ack(1));
        CHECK(dup.blocks == 0);
        CHECK(dup.control.empty());
        CHECK(t.on_packet(ack(9)).blocks == 0);  // not of this window: ignored
        CHECK(t.status() == Transfer::Status::running);
    }
    SECTION("with windows, an ACK of the block before the window resends it") {
        ReadRequest r;
        r.windowsize = 4;
        Transfer t(negotiate(r, content.size()), reader_of(content));
        CHECK(t.start().control[1] == kOack);
        auto w = t.on_packet(ack(0));
        CHECK(w.first_block == 1);
        CHECK(w.blocks == 4);
        auto again = t.on_packet(ack(0));
        CHECK(again.first_block == 1);
        CHECK(again.blocks == 4);
        auto next = t.on_packet(ack(2));  // blocks 1-2 arrived: the window moves to 3
        CHECK(next.first_block == 3);
        CHECK(next.blocks == 2);  // 2,000 bytes: blocks 3 and 4 (the last, 464 bytes)
        CHECK(t.on_packet(ack(4)).blocks == 0);
        CHECK(t.status() == Transfer::Status::done);
    }
    SECTION("a client's error packet ends it; OVMF's size probe is one") {
        ReadRequest r;
        r.tsize = true;
        Transfer t(negotiate(r, content.size()), reader_of(content));
        t.start();
        auto s = t.on_packet(std::string("\0\5\0\x08User aborted the transfer\0", 31));
        CHECK(s.control.empty());
        CHECK(t.status() == Transfer::Status::failed);
        CHECK(t.client_aborted());
        CHECK(t.failure() == "the client ended it (error 8: User aborted the transfer)");
    }
    SECTION("anything but an ACK is refused with error 4") {
        Transfer t(negotiate(ReadRequest{}, content.size()), reader_of(content));
        t.start();
        auto s = t.on_packet(rrq({"x", "octet"}));
        CHECK(s.control.substr(0, 4) == std::string("\0\5\0\4", 4));
        CHECK(t.status() == Transfer::Status::failed);
    }
    SECTION("a read error ends it with an error packet") {
        Transfer t(
            negotiate(ReadRequest{}, 10),
            [](std::uint64_t, char*, std::size_t) -> std::optional<std::size_t> { return {}; });
        auto s = t.start();
        CHECK(s.blocks == 0);
        CHECK(s.control.substr(0, 4) == std::string("\0\5\0\0", 4));
        CHECK(t.status() == Transfer::Status::failed);
    }
}
