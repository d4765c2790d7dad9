// ProxyDHCP's parser and answer on hostile packets: parsing never reads past the packet; an
// answer is a well-formed BOOTREPLY (at least 300 bytes, the request's xid and MAC, no address
// offered, options that parse back to the end) for a PXE or HTTP boot client only, and its boot
// file is one the settings or the override named. Input: FLAGS(1) OVERRIDE-LEN(1) OVERRIDE
// PACKET; FLAGS bit 0: port 4011, bit 1: the override applies to HTTP boot instead of PXE.
#include <cstring>

#include "dhcp/proxy_dhcp.hpp"
#include "fuzz_support.hpp"

using namespace bootcfg;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const bool port_4011 = data[0] & 1;
    const std::size_t override_size = std::min<std::size_t>(data[1], size - 2);
    std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
    const std::string override(input.substr(0, override_size));
    const auto packet = input.substr(override_size);

    std::string why;
    const auto request = dhcp::parse_request(packet, why);
    if (!request) {
        fuzz::require(!why.empty());
        return 0;
    }
    dhcp::Settings settings;
    settings.server = {192, 168, 77, 1};
    settings.http_base = "http://192.168.77.1:8080";
    settings.arm64_file = "snponly-arm64.efi";
    dhcp::Overrides overrides;
    (data[0] & 2 ? overrides.http : overrides.pxe) = override;
    const auto a = dhcp::answer(*request, settings, port_4011, overrides);
    fuzz::require(!a.what.empty());
    if (!a.reply) return 0;
    const std::string& r = *a.reply;
    fuzz::require(request->vendor_class.starts_with("PXEClient") ||
                  request->vendor_class.starts_with("HTTPClient"));
    fuzz::require(r.size() >= 300 && r[0] == 2);
    fuzz::require(std::memcmp(r.data() + 4, packet.data() + 4, 4) == 0);    // xid
    fuzz::require(std::memcmp(r.data() + 28, packet.data() + 28, 6) == 0);  // MAC
    fuzz::require(r.substr(16, 4) == std::string(4, '\0'));                 // yiaddr
    fuzz::require(r.substr(236, 4) == std::string("\x63\x82\x53\x63", 4));
    std::string file;
    std::size_t at = 240;
    while (at < r.size() && static_cast<std::uint8_t>(r[at]) != 255) {
        fuzz::require(at + 2 <= r.size());
        const std::size_t len = static_cast<std::uint8_t>(r[at + 1]);
        fuzz::require(at + 2 + len <= r.size());
        if (static_cast<std::uint8_t>(r[at]) == 67) file = r.substr(at + 2, len);
        at += 2 + len;
    }
    fuzz::require(at < r.size());  // an end option
    fuzz::require(!file.empty() && file.size() <= 127 && file != "-");
    const bool named = file == override || file == settings.http_base + "/ipxe-bin/" + override ||
                       file == settings.http_base + "/boot.ipxe" || file == settings.bios_file ||
                       file == settings.uefi_file || file == settings.arm64_file ||
                       file == settings.http_base + "/ipxe-bin/" + settings.http_boot_file ||
                       file == settings.http_base + "/ipxe-bin/" + settings.uefi_file ||
                       file == settings.http_base + "/ipxe-bin/" + settings.bios_file ||
                       file == settings.http_base + "/ipxe-bin/" + settings.arm64_file;
    fuzz::require(named);
    return 0;
}
