// A machine's baseboard management controller: power and the next boot device, over IPMI v2.0
// lanplus (FreeIPMI) or Redfish. One interface; each protocol stays in its own .cpp file, and
// the bytes and documents they exchange are built and read by the pure functions of
// ipmi_codec.hpp, which are unit-tested apart.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result/result.hpp"

namespace bootcfg::bmc {

enum class Protocol { ipmi, redfish };

struct BmcAddress {
    Protocol protocol = Protocol::ipmi;
    std::string host;    // a name, an IPv4 address or an IPv6 address (without brackets)
    unsigned port = 0;   // 623 (ipmi) or 443 (redfish) when the URL names none
    std::string system;  // redfish: the system's path ("/redfish/v1/Systems/ID"); "": the only one
};

// "ipmi://HOST[:PORT]" or "redfish://HOST[:PORT][/redfish/v1/Systems/ID]"; IPv6 in brackets.
Result<BmcAddress> parse_bmc_url(std::string_view url);

// How to reach a machine's BMC: everything but the password, which is kept apart (secret).
struct BmcSettings {
    std::string url;
    std::string user;
    // IPMI: FreeIPMI's workaround names, as ipmipower's -W takes them: authcap, intel20,
    // supermicro20, sun20, opensesspriv, integritycheckvalue, nochecksumcheck.
    std::vector<std::string> ipmi_workarounds;
    int cipher_suite = 3;  // IPMI 2.0 cipher suite ID: 3 (HMAC-SHA1, AES) or 17 (SHA256, AES)
    // Redfish: the CA that signed the BMC's certificate (default: the system's); insecure turns
    // certificate verification off, for BMCs with self-signed certificates and no CA to name.
    std::string ca_file;
    bool insecure = false;
};

// Checks every field; the failure names the field ("url", "ipmi_workarounds", ...). The
// address the URL names, parsed.
Result<BmcAddress> check_settings(const BmcSettings& settings);
// As machine records and the admin API hold them, and back (checked).
nlohmann::json settings_json(const BmcSettings& settings);
Result<BmcSettings> settings_from_json(const nlohmann::json& j);

enum class PowerAction { on, off, cycle, reset, soft };
std::optional<PowerAction> parse_power_action(std::string_view word);
std::string_view power_action_name(PowerAction action);

enum class BootDevice { pxe, http, disk };
std::optional<BootDevice> parse_boot_device(std::string_view word);
std::string_view boot_device_name(BootDevice device);

struct NextBoot {
    BootDevice device = BootDevice::pxe;
    bool uefi = false;
    bool persistent = false;  // every boot from now on, not only the next one
};
nlohmann::json next_boot_json(const std::optional<NextBoot>& next);

struct BmcOptions {
    std::chrono::milliseconds timeout{5000};  // per attempt
    int attempts = 2;                         // tries of a call that timed out
};

// One BMC. Each call opens its own session, so calls on different objects run in parallel.
// A failure's reason is one line naming the BMC and what it answered.
class Bmc {
  public:
    virtual ~Bmc() = default;
    virtual Result<bool> powered_on() = 0;
    // cycle: off, then on; a machine that is off is just turned on.
    virtual Result<void> power(PowerAction action) = 0;
    virtual Result<void> set_next_boot(const NextBoot& next) = 0;
    // nullopt: no override set (the firmware's own order).
    virtual Result<std::optional<NextBoot>> next_boot() = 0;
    // What the BMC tells of the machine (Redfish: manufacturer, model, serial, UUID, CPU and
    // memory, NIC MACs) for its record; null when it tells nothing (IPMI).
    virtual Result<nlohmann::json> hardware() { return nlohmann::json(); }
    virtual std::string where() const = 0;  // "ipmi://host:port", for messages
};

Result<std::unique_ptr<Bmc>> connect(const BmcSettings& settings, const std::string& password,
                                     const BmcOptions& options);

}  // namespace bootcfg::bmc
