#include "dhcp/proxy_dhcp.hpp"

#include <cstdio>

namespace bootcfg::dhcp {

namespace {

constexpr std::size_t kFixed = 236;  // op .. file
constexpr std::uint8_t kCookie[4] = {99, 130, 83, 99};

std::uint8_t byte(std::string_view p, std::size_t at) {
    return static_cast<std::uint8_t>(p[at]);
}

// Option 93 from the vendor class when the client left the option out:
// "PXEClient:Arch:00007:UNDI:003016".
std::optional<std::uint16_t> arch_from_vendor_class(std::string_view v) {
    const auto at = v.find(":Arch:");
    if (at == std::string_view::npos || v.size() < at + 11) return std::nullopt;
    unsigned value = 0;
    for (char c : v.substr(at + 6, 5)) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value <= 0xffff ? std::optional<std::uint16_t>(static_cast<std::uint16_t>(value))
                           : std::nullopt;
}

void option(std::string& out, std::uint8_t code, std::string_view value) {
    // Longer values would need RFC 3396 splitting; every value here is short.
    out += static_cast<char>(code);
    out += static_cast<char>(value.size());
    out += value;
}

}  // namespace

std::string mac_text(const Mac& mac) {
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                  mac[3], mac[4], mac[5]);
    return text;
}

std::optional<Request> parse_request(std::string_view p, std::string& why) {
    if (p.size() < kFixed + 4) {
        why = "shorter than a DHCP packet";
        return std::nullopt;
    }
    if (p.size() > kMaxPacket) {
        why = "longer than " + std::to_string(kMaxPacket) + " bytes";
        return std::nullopt;
    }
    if (byte(p, 0) != 1) {
        why = "not a BOOTREQUEST";
        return std::nullopt;
    }
    if (byte(p, 1) != 1 || byte(p, 2) != 6) {
        why = "not an Ethernet client";
        return std::nullopt;
    }
    for (int i = 0; i < 4; ++i)
        if (byte(p, kFixed + i) != kCookie[i]) {
            why = "no DHCP magic cookie";
            return std::nullopt;
        }
    Request r;
    r.xid = static_cast<std::uint32_t>(byte(p, 4)) << 24 |
            static_cast<std::uint32_t>(byte(p, 5)) << 16 |
            static_cast<std::uint32_t>(byte(p, 6)) << 8 | byte(p, 7);
    r.flags = static_cast<std::uint16_t>(byte(p, 10) << 8 | byte(p, 11));
    for (int i = 0; i < 4; ++i) {
        r.ciaddr[i] = byte(p, 12 + i);
        r.giaddr[i] = byte(p, 24 + i);
    }
    for (int i = 0; i < 6; ++i) r.mac[i] = byte(p, 28 + i);
    // Options: code, length, value; 0 pads, 255 ends. Each is bounded by the packet.
    std::size_t at = kFixed + 4;
    while (at < p.size()) {
        const std::uint8_t code = byte(p, at);
        if (code == 255) break;
        if (code == 0) {
            ++at;
            continue;
        }
        if (at + 2 > p.size() || at + 2 + byte(p, at + 1) > p.size()) {
            why = "option " + std::to_string(code) + " runs past the packet";
            return std::nullopt;
        }
        const std::string_view value = p.substr(at + 2, byte(p, at + 1));
        at += 2 + value.size();
        switch (code) {
            case 53:
                if (value.size() == 1) r.type = static_cast<std::uint8_t>(value[0]);
                break;
            case 60:
                r.vendor_class = std::string(value);
                break;
            case 93:
                if (value.size() >= 2)
                    r.arch = static_cast<std::uint16_t>(static_cast<std::uint8_t>(value[0]) << 8 |
                                                        static_cast<std::uint8_t>(value[1]));
                break;
            case 97:
                if (value.size() == 17) r.uuid = std::string(value);
                break;
            case 77:
                // A user class is a list of length-prefixed strings (RFC 3004); iPXE sends
                // "iPXE" both as such and plainly.
                if (value == "iPXE" || value == std::string_view("\x04iPXE", 5)) r.ipxe = true;
                break;
            case 175:
                r.ipxe = true;
                break;
            default:
                break;
        }
    }
    if (r.type == 0) {
        why = "no DHCP message type";
        return std::nullopt;
    }
    if (!r.arch) r.arch = arch_from_vendor_class(r.vendor_class);
    return r;
}

Answer answer(const Request& request, const Settings& settings, bool port_4011,
              const Overrides& overrides) {
    Answer a;
    const bool pxe = request.vendor_class.starts_with("PXEClient");
    const bool http = request.vendor_class.starts_with("HTTPClient");
    if (!pxe && !http) {
        a.what = "not a PXE or HTTP boot client";
        return a;
    }
    const std::uint8_t wanted = port_4011 ? kRequest : kDiscover;
    if (request.type != wanted) {
        a.what = std::string("a DHCP message of type ") + std::to_string(request.type) +
                 " on port " + (port_4011 ? "4011" : "67") +
                 " (answered: " + (port_4011 ? "REQUEST" : "DISCOVER") + ")";
        return a;
    }
    const std::uint16_t arch = request.arch.value_or(0);
    std::string file;
    std::string kind;
    if (request.ipxe) {
        kind = "iPXE";
        file = settings.http_base + "/boot.ipxe";
    } else if (http && (arch == 16 || arch == 15)) {
        kind = "UEFI HTTP boot x64";
        file = settings.http_boot_file;
        if (file.empty()) {
            a.what = kind + ": no HTTP boot file configured";
            return a;
        }
    } else if (http && arch == 19) {
        a.what = "UEFI HTTP boot arm64: not answered (no arm64 HTTP boot URL)";
        return a;
    } else if (arch == 0) {
        kind = "BIOS PXE";
        file = settings.bios_file;
    } else if (arch == 7 || arch == 9) {
        kind = "UEFI x64 PXE";
        file = settings.uefi_file;
    } else if (arch == 11) {
        kind = "UEFI arm64 PXE";
        file = settings.arm64_file;
        if (file.empty()) {
            a.what = "UEFI arm64 PXE: no arm64 iPXE binary configured (-ipxe-dir)";
            return a;
        }
    } else {
        a.what = "client architecture " + std::to_string(arch) + ": no boot file for it";
        return a;
    }
    const auto& override = http ? overrides.http : overrides.pxe;
    if (override && !request.ipxe) {
        if (*override == "-") {
            a.what = kind + ": its group's " + (http ? "http" : "pxe") +
                     "_boot_file is \"-\" (no answer)";
            return a;
        }
        if (!override->empty()) file = *override;
    }
    // HTTP boot takes a URL: a plain name is an iPXE binary bootcfgd serves.
    if (http && !file.starts_with("http://") && !file.starts_with("https://"))
        file = settings.http_base + "/ipxe-bin/" + file;
    if (file.size() > 127) {  // the BOOTP file field; option 67 has 255
        a.what = kind + ": boot file name longer than 127 bytes";
        return a;
    }

    std::string out(kFixed, '\0');
    out[0] = 2;  // BOOTREPLY
    out[1] = 1;
    out[2] = 6;
    for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<char>(request.xid >> (24 - 8 * i));
    out[10] = static_cast<char>(request.flags >> 8);
    out[11] = static_cast<char>(request.flags & 0xff);
    for (int i = 0; i < 4; ++i) {
        if (port_4011) out[12 + i] = static_cast<char>(request.ciaddr[i]);
        // siaddr even with a URL: iPXE takes a ProxyDHCP answer only with it and a file.
        out[20 + i] = static_cast<char>(settings.server[i]);
        out[24 + i] = static_cast<char>(request.giaddr[i]);
    }
    for (int i = 0; i < 6; ++i) out[28 + i] = static_cast<char>(request.mac[i]);
    out.replace(108, file.size(), file);  // the file field
    out.append(reinterpret_cast<const char*>(kCookie), 4);
    option(out, 53, std::string(1, static_cast<char>(port_4011 ? kAck : kOffer)));
    option(out, 54, std::string(settings.server.begin(), settings.server.end()));
    option(out, 60, http ? "HTTPClient" : "PXEClient");
    if (request.uuid) option(out, 97, *request.uuid);
    // PXE discovery control: take the boot file from this offer, no boot server discovery.
    if (pxe) option(out, 43, std::string("\x06\x01\x08\xff", 4));
    option(out, 67, file);
    out += static_cast<char>(255);
    if (out.size() < 300) out.resize(300, '\0');  // BOOTP's minimum, which some ROMs expect
    a.reply = std::move(out);
    a.what = kind + " -> " + file;
    return a;
}

}  // namespace bootcfg::dhcp
