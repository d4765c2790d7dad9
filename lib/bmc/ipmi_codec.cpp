#include "bmc/ipmi_codec.hpp"

#include <freeipmi/api/ipmi-api.h>

#include <cstdio>
#include <utility>

namespace bootcfg::bmc::ipmi {

namespace {

constexpr std::uint8_t kBootFlagsParameter = 5;
constexpr std::uint8_t kBootInfoAckParameter = 4;
// Boot flags, data 1.
constexpr std::uint8_t kFlagsValid = 0x80, kFlagsPersistent = 0x40, kFlagsEfi = 0x20;
// Boot device selector (data 2, bits 5:2).
constexpr std::uint8_t kDevicePxe = 0x1, kDeviceDisk = 0x2;

std::string hex(std::uint8_t b) {
    char s[8];
    std::snprintf(s, sizeof s, "0x%02x", b);
    return s;
}

}  // namespace

std::vector<std::uint8_t> chassis_status_request() {
    return {kGetChassisStatus};
}

std::vector<std::uint8_t> chassis_control_request(PowerAction action) {
    std::uint8_t code = 0;
    switch (action) {
        case PowerAction::off:
            code = 0x00;
            break;
        case PowerAction::on:
            code = 0x01;
            break;
        case PowerAction::cycle:
            code = 0x02;
            break;
        case PowerAction::reset:
            code = 0x03;
            break;
        case PowerAction::soft:
            code = 0x05;
            break;  // ACPI soft shutdown
    }
    return {kChassisControl, code};
}

std::vector<std::uint8_t> boot_info_ack_request() {
    // Mask 0x01, data 0x01: the BIOS/POST bit of "boot info acknowledge" cleared for the new flags.
    return {kSetBootOptions, kBootInfoAckParameter, 0x01, 0x01};
}

Result<std::vector<std::uint8_t>> boot_flags_request(const NextBoot& next) {
    std::uint8_t device = 0;
    switch (next.device) {
        case BootDevice::pxe:
            device = kDevicePxe;
            break;
        case BootDevice::disk:
            device = kDeviceDisk;
            break;
        case BootDevice::http:
            return fail(
                "IPMI has no HTTP boot device; use pxe (bootcfgd's ProxyDHCP answers "
                "both) or a Redfish BMC",
                "device");
    }
    std::uint8_t flags = kFlagsValid;
    if (next.persistent) flags |= kFlagsPersistent;
    if (next.uefi) flags |= kFlagsEfi;
    return std::vector<std::uint8_t>{kSetBootOptions,
                                     kBootFlagsParameter,
                                     flags,
                                     static_cast<std::uint8_t>(device << 2),
                                     0,
                                     0,
                                     0};
}

std::vector<std::uint8_t> get_boot_flags_request() {
    return {kGetBootOptions, kBootFlagsParameter, 0, 0};
}

std::string completion_code_text(std::uint8_t code) {
    const char* text = nullptr;
    switch (code) {
        case 0x80:
            text = "parameter not supported";
            break;
        case 0xc0:
            text = "node busy";
            break;
        case 0xc1:
            text = "invalid command";
            break;
        case 0xc3:
            text = "timeout while processing the command";
            break;
        case 0xc7:
            text = "request data length invalid";
            break;
        case 0xc9:
            text = "parameter out of range";
            break;
        case 0xcc:
            text = "invalid data field in request";
            break;
        case 0xce:
            text = "command response could not be provided";
            break;
        case 0xd4:
            text = "insufficient privilege level";
            break;
        case 0xd5:
            text = "command not supported in present state";
            break;
        case 0xff:
            text = "unspecified error";
            break;
        default:
            text = "error";
            break;
    }
    return std::string(text) + " (" + hex(code) + ")";
}

Result<std::span<const std::uint8_t>> response_data(std::span<const std::uint8_t> response,
                                                    std::uint8_t command) {
    if (response.size() < 2)
        return fail("a response of " + std::to_string(response.size()) +
                    " bytes, too short for IPMI");
    if (response[0] != command)
        return fail("a response to command " + hex(response[0]) + " instead of " + hex(command));
    if (response[1] != 0) return fail(completion_code_text(response[1]));
    return response.subspan(2);
}

Result<bool> power_is_on(std::span<const std::uint8_t> data) {
    if (data.empty()) return fail("a chassis status without its power state");
    return (data[0] & 0x01) != 0;
}

Result<std::optional<NextBoot>> boot_flags(std::span<const std::uint8_t> data) {
    // Parameter version, parameter selector, then the five bytes of the flags.
    if (data.size() < 7) return fail("boot flags of " + std::to_string(data.size()) + " bytes");
    if ((data[1] & 0x7f) != kBootFlagsParameter)
        return fail("boot option parameter " + std::to_string(data[1] & 0x7f) +
                    " instead of the boot flags");
    const std::uint8_t flags = data[2];
    const std::uint8_t device = (data[3] >> 2) & 0x0f;
    NextBoot next;
    next.persistent = (flags & kFlagsPersistent) != 0;
    next.uefi = (flags & kFlagsEfi) != 0;
    if (device == kDevicePxe)
        next.device = BootDevice::pxe;
    else if (device == kDeviceDisk)
        next.device = BootDevice::disk;
    else
        return std::optional<NextBoot>{};  // no override, or one this server does not set
    return std::optional<NextBoot>{next};
}

Result<unsigned> workaround_flags(const std::vector<std::string>& names) {
    static const std::pair<const char*, unsigned> known[] = {
        {"authcap", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_AUTHENTICATION_CAPABILITIES},
        {"intel20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_INTEL_2_0_SESSION},
        {"supermicro20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUPERMICRO_2_0_SESSION},
        {"sun20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUN_2_0_SESSION},
        {"opensesspriv", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE},
        {"integritycheckvalue",
         IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NON_EMPTY_INTEGRITY_CHECK_VALUE},
        {"nochecksumcheck", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NO_CHECKSUM_CHECK},
    };
    unsigned flags = 0;
    for (const auto& name : names) {
        bool found = false;
        for (const auto& [known_name, flag] : known)
            if (name == known_name) {
                flags |= flag;
                found = true;
            }
        if (!found)
            return fail("unknown IPMI workaround '" + name +
                            "' (authcap, intel20, supermicro20, sun20, opensesspriv, "
                            "integritycheckvalue, nochecksumcheck)",
                        "ipmi_workarounds");
    }
    return flags;
}

}  // namespace bootcfg::bmc::ipmi
