// ProxyDHCP (PXE 2.1) as pure functions: a client's DHCP packet parsed, and the answer that adds
// only boot information (never an address: the site's DHCP server gives that). Only PXE and
// HTTP-boot clients (option 60 "PXEClient..." / "HTTPClient...") are answered; everything else
// is ignored, so the proxy can sit beside any DHCP server.
//
// Boot file by client: already iPXE (option 77 "iPXE" or option 175) -> the chain script's URL;
// BIOS (arch 0) -> BIOS loader over TFTP; UEFI x64 (7, 9) -> UEFI loader over TFTP; UEFI HTTP
// boot x64 (16) -> an http:// URL of the UEFI iPXE; arm64 (11, 19) only when an arm64 loader is
// configured; anything else is ignored with the reason.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bootcfg::dhcp {

using Ipv4 = std::array<std::uint8_t, 4>;
using Mac = std::array<std::uint8_t, 6>;

enum MessageType : std::uint8_t { kDiscover = 1, kOffer = 2, kRequest = 3, kAck = 5, kInform = 8 };

constexpr std::size_t kMaxPacket = 1500;

struct Request {
    std::uint8_t type = 0;  // option 53
    std::uint32_t xid = 0;
    std::uint16_t flags = 0;
    Ipv4 ciaddr{}, giaddr{};
    Mac mac{};
    std::string vendor_class;           // option 60
    std::optional<std::uint16_t> arch;  // option 93 (first entry)
    std::optional<std::string> uuid;    // option 97, raw (type byte + 16 bytes)
    bool ipxe = false;                  // option 77 "iPXE" or option 175
};

// A BOOTREQUEST from an Ethernet client with a DHCP message type, or nullopt with the reason in
// `why` (short, for a debug log: most of what a DHCP port sees is not for us).
std::optional<Request> parse_request(std::string_view packet, std::string& why);

struct Settings {
    Ipv4 server{};          // this host on the boot network (option 54, siaddr)
    std::string http_base;  // "http://HOST:PORT": iPXE gets /boot.ipxe, HTTP boot /ipxe-bin/NAME
    std::string bios_file = "undionly.kpxe";
    std::string uefi_file = "snponly.efi";
    std::string http_boot_file = "ipxe.efi";  // served as /ipxe-bin/NAME; empty: not answered
    std::string arm64_file;                   // empty: arm64 clients are ignored
};

struct Answer {
    std::optional<std::string> reply;  // the packet to send, when answered
    std::string what;  // for the log: the client kind and its boot file, or why not answered
};

// What a machine's group says instead of the loader by architecture (match.hpp's
// boot_file_override): a file name (over TFTP; for HTTP boot, /ipxe-bin/NAME), an http:// URL,
// or "-" (no answer). PXE firmware gets `pxe`, UEFI HTTP boot `http`; iPXE always the chain
// script.
struct Overrides {
    std::optional<std::string> pxe, http;
};

// The answer to a client packet that came to port 67 (a DISCOVER gets an OFFER) or to port 4011
// (a REQUEST gets an ACK, as PXE's boot server discovery wants).
Answer answer(const Request& request, const Settings& settings, bool port_4011,
              const Overrides& overrides = {});

// "52:54:00:12:34:56"
std::string mac_text(const Mac& mac);

}  // namespace bootcfg::dhcp
