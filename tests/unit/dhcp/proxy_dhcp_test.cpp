#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "dhcp/proxy_dhcp.hpp"

using namespace bootcfg::dhcp;

namespace {

// A client packet: BOOTREQUEST from 52:54:00:12:34:56, xid 0x01020304, broadcast flag, then the
// options given (code -> value) and an end.
std::string client_packet(const std::map<int, std::string>& options, std::uint8_t op = 1) {
    std::string p(236, '\0');
    p[0] = static_cast<char>(op);
    p[1] = 1;
    p[2] = 6;
    p[4] = 1, p[5] = 2, p[6] = 3, p[7] = 4;
    p[10] = static_cast<char>(0x80);
    p[12] = 192, p[13] = static_cast<char>(168), p[14] = 77, p[15] = 120;  // ciaddr
    const char mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    p.replace(28, 6, mac, 6);
    p += std::string("\x63\x82\x53\x63", 4);
    for (const auto& [code, value] : options) {
        p += static_cast<char>(code);
        p += static_cast<char>(value.size());
        p += value;
    }
    p += static_cast<char>(255);
    return p;
}

std::string type(MessageType t) {
    return std::string(1, static_cast<char>(t));
}
std::string arch(int a) {
    return std::string{static_cast<char>(a >> 8), static_cast<char>(a & 0xff)};
}

Request parsed(const std::string& packet) {
    std::string why;
    auto r = parse_request(packet, why);
    INFO(why);
    REQUIRE(r);
    return *r;
}

// The options of a reply, code -> value.
std::map<int, std::string> options_of(const std::string& reply) {
    std::map<int, std::string> out;
    REQUIRE(reply.size() >= 240);
    CHECK(reply.substr(236, 4) == std::string("\x63\x82\x53\x63", 4));
    for (std::size_t at = 240; at < reply.size();) {
        const auto code = static_cast<std::uint8_t>(reply[at]);
        if (code == 255) break;
        if (code == 0) {
            ++at;
            continue;
        }
        const auto len = static_cast<std::uint8_t>(reply[at + 1]);
        out[code] = reply.substr(at + 2, len);
        at += 2 + len;
    }
    return out;
}

Settings settings() {
    Settings s;
    s.server = {192, 168, 77, 1};
    s.http_base = "http://192.168.77.1:8080";
    return s;
}

const std::string kUuid = std::string(1, '\0') + std::string(16, '\x11');

}  // namespace

TEST_CASE("ProxyDHCP answers a BIOS PXE DISCOVER with the BIOS loader and no address") {
    auto r = parsed(client_packet({{53, type(kDiscover)},
                                   {60, "PXEClient:Arch:00000:UNDI:002001"},
                                   {93, arch(0)},
                                   {97, kUuid}}));
    auto a = answer(r, settings(), false);
    REQUIRE(a.reply);
    CHECK(a.what == "BIOS PXE -> undionly.kpxe");
    const auto& p = *a.reply;
    CHECK(p[0] == 2);
    CHECK(p.substr(4, 4) == std::string("\1\2\3\4", 4));           // xid
    CHECK(static_cast<std::uint8_t>(p[10]) == 0x80);               // broadcast flag kept
    CHECK(p.substr(16, 4) == std::string(4, '\0'));                // yiaddr: no address from us
    CHECK(p.substr(20, 4) == std::string("\xc0\xa8\x4d\x01", 4));  // siaddr: TFTP here
    CHECK(p.substr(28, 6) == std::string("\x52\x54\x00\x12\x34\x56", 6));
    CHECK(p.substr(108, 14) == std::string("undionly.kpxe\0", 14));
    CHECK(p.size() >= 300);
    auto o = options_of(p);
    CHECK(o[53] == type(kOffer));
    CHECK(o[54] == std::string("\xc0\xa8\x4d\x01", 4));
    CHECK(o[60] == "PXEClient");
    CHECK(o[43] == std::string("\x06\x01\x08\xff", 4));  // take the file, no discovery
    CHECK(o[67] == "undionly.kpxe");
    CHECK(o[97] == kUuid);
}

TEST_CASE("ProxyDHCP picks the boot file by client") {
    auto file_for = [](std::map<int, std::string> options, Settings s = settings()) {
        options[53] = type(kDiscover);
        auto a = answer(parsed(client_packet(options)), s, false);
        return a.reply ? options_of(*a.reply)[67] : "(not answered: " + a.what + ")";
    };
    CHECK(file_for({{60, "PXEClient:Arch:00007:UNDI:003016"}, {93, arch(7)}}) == "snponly.efi");
    CHECK(file_for({{60, "PXEClient:Arch:00009:UNDI:003016"}, {93, arch(9)}}) == "snponly.efi");
    // Option 93 left out: the arch from the vendor class.
    CHECK(file_for({{60, "PXEClient:Arch:00007:UNDI:003016"}}) == "snponly.efi");
    CHECK(file_for({{60, "PXEClient"}}) == "undionly.kpxe");
    auto ipxe_efi = settings();
    ipxe_efi.uefi_file = "ipxe.efi";
    CHECK(file_for({{60, "PXEClient:Arch:00007"}, {93, arch(7)}}, ipxe_efi) == "ipxe.efi");
    // Already iPXE: the chain script, over HTTP (siaddr set all the same: iPXE ignores a
    // ProxyDHCP answer without it).
    CHECK(file_for({{60, "PXEClient:Arch:00000"}, {93, arch(0)}, {175, "\x01\x01\x01"}}) ==
          "http://192.168.77.1:8080/boot.ipxe");
    CHECK(file_for({{60, "PXEClient:Arch:00007"}, {77, "iPXE"}}) ==
          "http://192.168.77.1:8080/boot.ipxe");
    auto ipxe = answer(parsed(client_packet({{53, type(kDiscover)}, {60, "PXEClient"}, {175, ""}})),
                       settings(), false);
    REQUIRE(ipxe.reply);
    CHECK(ipxe.reply->substr(20, 4) == std::string("\xc0\xa8\x4d\x01", 4));
    // arm64 only with a loader for it; IA32 and unknown architectures never.
    CHECK(file_for({{60, "PXEClient:Arch:00011"}, {93, arch(11)}}) ==
          "(not answered: UEFI arm64 PXE: no arm64 iPXE binary configured (-ipxe-dir))");
    auto arm = settings();
    arm.arm64_file = "snponly-arm64.efi";
    CHECK(file_for({{60, "PXEClient:Arch:00011"}, {93, arch(11)}}, arm) == "snponly-arm64.efi");
    CHECK(file_for({{60, "PXEClient:Arch:00006"}, {93, arch(6)}}) ==
          "(not answered: client architecture 6: no boot file for it)");
    // UEFI HTTP boot: a URL of the UEFI iPXE bootcfgd serves, HTTPClient in option 60, and no
    // PXE vendor options.
    auto http = settings();
    auto a = answer(
        parsed(client_packet(
            {{53, type(kDiscover)}, {60, "HTTPClient:Arch:00016:UNDI:003001"}, {93, arch(16)}})),
        http, false);
    REQUIRE(a.reply);
    auto o = options_of(*a.reply);
    CHECK(o[60] == "HTTPClient");
    CHECK(o[67] == "http://192.168.77.1:8080/ipxe-bin/ipxe.efi");
    CHECK(o.count(43) == 0);
    http.http_boot_file.clear();
    CHECK(file_for({{60, "HTTPClient:Arch:00016:UNDI:003001"}, {93, arch(16)}}, http) ==
          "(not answered: UEFI HTTP boot x64: no HTTP boot file configured)");
}

TEST_CASE("ProxyDHCP: a machine's group names another loader, or none") {
    auto file_for = [](std::map<int, std::string> options, std::optional<std::string> override) {
        options[53] = type(kDiscover);
        // The same override for both kinds; which applies is the client's.
        auto a = answer(parsed(client_packet(options)), settings(), false, {override, override});
        return a.reply ? options_of(*a.reply)[67] : "(not answered: " + a.what + ")";
    };
    const std::map<int, std::string> uefi = {{60, "PXEClient:Arch:00007"}, {93, arch(7)}};
    CHECK(file_for(uefi, "ipxe.efi") == "ipxe.efi");
    CHECK(file_for(uefi, "http://10.0.0.9/custom.efi") == "http://10.0.0.9/custom.efi");
    CHECK(file_for(uefi, "-") ==
          "(not answered: UEFI x64 PXE: its group's pxe_boot_file is \"-\" (no answer))");
    CHECK(file_for(uefi, std::nullopt) == "snponly.efi");
    CHECK(file_for(uefi, "") == "snponly.efi");
    // Each kind its own: no PXE answer does not mean no HTTP boot answer.
    const auto pxe_only = Overrides{"-", std::nullopt};
    CHECK_FALSE(answer(parsed(client_packet({{53, type(kDiscover)}, {60, "PXEClient:Arch:00007"}})),
                       settings(), false, pxe_only)
                    .reply);
    CHECK(answer(parsed(client_packet({{53, type(kDiscover)}, {60, "HTTPClient:Arch:00016"}})),
                 settings(), false, pxe_only)
              .reply);
    // HTTP boot: a plain name becomes the URL bootcfgd serves it at.
    CHECK(file_for({{60, "HTTPClient:Arch:00016"}, {93, arch(16)}}, "snponly.efi") ==
          "http://192.168.77.1:8080/ipxe-bin/snponly.efi");
    // iPXE always gets the chain script: the group's boot config answers there.
    CHECK(file_for({{60, "PXEClient"}, {175, ""}}, "-") == "http://192.168.77.1:8080/boot.ipxe");
    // Too long for the BOOTP file field.
    CHECK(file_for(uefi, std::string(128, 'a')) ==
          "(not answered: UEFI x64 PXE: boot file name longer than 127 bytes)");
}

TEST_CASE("ProxyDHCP ignores what is not a PXE client's, and answers port 4011's REQUEST") {
    auto not_answered = [](const std::string& packet, bool port_4011) {
        return !answer(parsed(packet), settings(), port_4011).reply;
    };
    CHECK(not_answered(client_packet({{53, type(kDiscover)}}), false));
    CHECK(not_answered(client_packet({{53, type(kDiscover)}, {60, "MSFT 5.0"}}), false));
    CHECK(not_answered(client_packet({{53, type(kRequest)}, {60, "PXEClient"}}), false));
    CHECK(not_answered(client_packet({{53, type(kDiscover)}, {60, "PXEClient"}}), true));
    auto a = answer(parsed(client_packet({{53, type(kRequest)}, {60, "PXEClient:Arch:00007"}})),
                    settings(), true);
    REQUIRE(a.reply);
    CHECK(options_of(*a.reply)[53] == type(kAck));
    CHECK(a.reply->substr(12, 4) == std::string("\xc0\xa8\x4d\x78", 4));  // ciaddr echoed
    CHECK(options_of(*a.reply)[67] == "snponly.efi");
}

TEST_CASE("ProxyDHCP parsing refuses malformed packets with a reason") {
    auto why = [](const std::string& packet) {
        std::string reason;
        CHECK_FALSE(parse_request(packet, reason));
        return reason;
    };
    CHECK(why("short") == "shorter than a DHCP packet");
    CHECK(why(client_packet({{53, type(kDiscover)}}, 2)) == "not a BOOTREQUEST");
    auto no_cookie = client_packet({{53, type(kDiscover)}});
    no_cookie[236] = 0;
    CHECK(why(no_cookie) == "no DHCP magic cookie");
    auto overrun = client_packet({{53, type(kDiscover)}});
    overrun.back() = 60;  // an option whose length byte is missing
    overrun += static_cast<char>(200);
    CHECK(why(overrun) == "option 60 runs past the packet");
    CHECK(why(client_packet({{60, "PXEClient"}})) == "no DHCP message type");
    CHECK(why(client_packet({{53, type(kDiscover)}}) + std::string(1400, '\0')) ==
          "longer than 1500 bytes");
    // Pads and a missing end are fine.
    auto padded = client_packet({{53, type(kDiscover)}, {60, "PXEClient"}});
    padded.pop_back();
    padded += std::string(20, '\0');
    CHECK(parsed(padded).vendor_class == "PXEClient");
}
