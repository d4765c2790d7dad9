#include "bmc/bmc.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "bmc/ipmi_codec.hpp"
#include "bmc/protocols.hpp"

namespace bootcfg::bmc {

namespace {

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

bool ipv6_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
}

bool path_char(char c) {
    return host_char(c) || c == '/' || c == '~';
}

constexpr std::size_t kMaxUser = 64;  // IPMI allows 16; Redfish BMCs a little more
constexpr std::size_t kMaxPath = 1024;

}  // namespace

Result<BmcAddress> parse_bmc_url(std::string_view url) {
    BmcAddress a;
    std::string_view rest;
    const auto usage = [&](const std::string& why) {
        return fail(why + " (ipmi://HOST[:PORT] or redfish://HOST[:PORT][/redfish/v1/Systems/ID])",
                    "url");
    };
    if (url.starts_with("ipmi://")) {
        a.protocol = Protocol::ipmi;
        a.port = 623;
        rest = url.substr(7);
    } else if (url.starts_with("redfish://")) {
        a.protocol = Protocol::redfish;
        a.port = 443;
        rest = url.substr(10);
    } else {
        return usage("not a BMC URL");
    }
    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    std::string_view port;
    if (authority.starts_with('[')) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return usage("an IPv6 address without its ']'");
        a.host = std::string(authority.substr(1, close - 1));
        if (a.host.empty() || !std::all_of(a.host.begin(), a.host.end(), ipv6_char))
            return usage("not an IPv6 address");
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (!after.starts_with(':')) return usage("text after the IPv6 address");
            port = after.substr(1);
        }
    } else {
        const std::size_t colon = authority.find(':');
        a.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
        if (a.host.empty() || a.host.size() > 253 ||
            !std::all_of(a.host.begin(), a.host.end(), host_char))
            return usage("no host, or a host with characters a host name cannot have");
    }
    if (!port.empty()) {
        unsigned p = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535)
            return usage("port '" + std::string(port) + "' is not 1-65535");
        a.port = p;
    }
    if (!path.empty()) {
        if (a.protocol == Protocol::ipmi) return usage("an ipmi:// URL has no path");
        std::string_view system = path;
        while (system.size() > 1 && system.ends_with('/')) system.remove_suffix(1);
        if (!system.starts_with("/redfish/v1/Systems/") || system.size() > kMaxPath ||
            !std::all_of(system.begin(), system.end(), path_char) ||
            system.find("..") != std::string_view::npos)
            return usage("the path is not a system's (/redfish/v1/Systems/ID)");
        if (system != "/redfish/v1/Systems") a.system = std::string(system);
    }
    return a;
}

Result<BmcAddress> check_settings(const BmcSettings& s) {
    auto address = parse_bmc_url(s.url);
    if (!address) return address.failure();
    if (s.user.size() > kMaxUser || std::any_of(s.user.begin(), s.user.end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        }))
        return fail("a user name of at most " + std::to_string(kMaxUser) +
                        " characters, none of them control characters",
                    "user");
    if (auto flags = ipmi::workaround_flags(s.ipmi_workarounds); !flags) return flags.failure();
    if (s.cipher_suite < 0 || s.cipher_suite > 17)
        return fail("cipher suite " + std::to_string(s.cipher_suite) + " is not 0-17",
                    "cipher_suite");
    if (s.ca_file.size() > kMaxPath) return fail("a path too long", "ca_file");
    if (s.insecure && !s.ca_file.empty())
        return fail("insecure turns certificate checks off: no ca_file with it", "insecure");
    if (address->protocol == Protocol::ipmi && (s.insecure || !s.ca_file.empty()))
        return fail("IPMI has no certificates: ca_file and insecure are for redfish://",
                    s.insecure ? "insecure" : "ca_file");
    return address;
}

nlohmann::json settings_json(const BmcSettings& s) {
    nlohmann::json j{{"url", s.url}, {"user", s.user}};
    if (!s.ipmi_workarounds.empty()) j["ipmi_workarounds"] = s.ipmi_workarounds;
    if (s.cipher_suite != 3) j["cipher_suite"] = s.cipher_suite;
    if (!s.ca_file.empty()) j["ca_file"] = s.ca_file;
    if (s.insecure) j["insecure"] = true;
    return j;
}

Result<BmcSettings> settings_from_json(const nlohmann::json& j) {
    if (!j.is_object()) return fail("the BMC settings are not a JSON object");
    BmcSettings s;
    for (const auto& [key, value] : j.items()) {
        if (key == "url" || key == "user" || key == "ca_file") {
            if (!value.is_string()) return fail("not a string", key);
            (key == "url" ? s.url : key == "user" ? s.user : s.ca_file) = value.get<std::string>();
        } else if (key == "ipmi_workarounds") {
            if (!value.is_array() || value.size() > 16) return fail("not a list of names", key);
            for (const auto& w : value) {
                if (!w.is_string()) return fail("not a list of names", key);
                s.ipmi_workarounds.push_back(w.get<std::string>());
            }
        } else if (key == "cipher_suite") {
            if (!value.is_number_integer()) return fail("not a number", key);
            const auto n = value.get<long long>();
            s.cipher_suite = n < -1 || n > 255 ? -1 : static_cast<int>(n);
        } else if (key == "insecure") {
            if (!value.is_boolean()) return fail("not true or false", key);
            s.insecure = value.get<bool>();
        } else if (key != "password") {  // the admin API's body carries it beside the settings
            return fail("unknown field", key);
        }
    }
    if (s.url.empty()) return fail("missing", "url");
    if (auto ok = check_settings(s); !ok) return ok.failure();
    return s;
}

namespace {

constexpr std::pair<std::string_view, PowerAction> kPowerActions[] = {
    {"on", PowerAction::on},       {"off", PowerAction::off},   {"cycle", PowerAction::cycle},
    {"reset", PowerAction::reset}, {"soft", PowerAction::soft},
};
constexpr std::pair<std::string_view, BootDevice> kBootDevices[] = {
    {"pxe", BootDevice::pxe}, {"http", BootDevice::http}, {"disk", BootDevice::disk}};

// A word and its value, both ways, from one table.
template <class T, std::size_t N>
std::optional<T> by_name(const std::pair<std::string_view, T> (&table)[N], std::string_view word) {
    for (const auto& [name, value] : table)
        if (name == word) return value;
    return std::nullopt;
}
template <class T, std::size_t N>
std::string_view name_of(const std::pair<std::string_view, T> (&table)[N], T value) {
    for (const auto& [name, v] : table)
        if (v == value) return name;
    return "?";
}

}  // namespace

std::optional<PowerAction> parse_power_action(std::string_view w) {
    return by_name(kPowerActions, w);
}

std::string_view power_action_name(PowerAction a) {
    return name_of(kPowerActions, a);
}

std::optional<BootDevice> parse_boot_device(std::string_view w) {
    return by_name(kBootDevices, w);
}

std::string_view boot_device_name(BootDevice d) {
    return name_of(kBootDevices, d);
}

nlohmann::json next_boot_json(const std::optional<NextBoot>& next) {
    if (!next) return {{"device", nullptr}};
    return {{"device", boot_device_name(next->device)},
            {"uefi", next->uefi},
            {"persistent", next->persistent}};
}

Result<std::unique_ptr<Bmc>> connect(const BmcSettings& settings, const std::string& password,
                                     const BmcOptions& options) {
    auto address = check_settings(settings);
    if (!address) return address.failure();
    if (address->protocol == Protocol::redfish)
        return make_redfish_bmc(*address, settings, password, options);
    return make_ipmi_bmc(*address, settings, password, options);
}

}  // namespace bootcfg::bmc
