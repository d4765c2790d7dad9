#include "bmc/redfish_codec.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

#include "model/limits.hpp"

namespace bootcfg::bmc::redfish {

namespace {

using nlohmann::json;

std::string string_at(const json& j, const char* key) {
    if (!j.is_object()) return "";
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> strings_at(const json& j, const char* key) {
    std::vector<std::string> out;
    if (!j.is_object()) return out;
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return out;
    for (const auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

bool allowed(const std::vector<std::string>& list, const std::string& value) {
    return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

std::string joined(const std::vector<std::string>& list) {
    std::string s;
    for (const auto& v : list) s += (s.empty() ? "" : ", ") + v;
    return s;
}

// Redfish's BootSourceOverrideTarget for each boot device, read and written by one table.
constexpr std::pair<BootDevice, std::string_view> kTargets[] = {
    {BootDevice::pxe, "Pxe"}, {BootDevice::http, "UefiHttp"}, {BootDevice::disk, "Hdd"}};

std::string target_of(BootDevice d) {
    for (const auto& [device, target] : kTargets)
        if (device == d) return std::string(target);
    return "None";
}

std::optional<BootDevice> device_of(std::string_view target) {
    for (const auto& [device, name] : kTargets)
        if (name == target) return device;
    return std::nullopt;
}

// Text from a BMC, bounded and on one line.
std::string one_line(std::string s) {
    if (s.size() > 300) s = s.substr(0, 300) + "...";
    for (char& c : s)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    return s;
}

}  // namespace

Result<std::string> only_system(const json& collection) {
    if (!collection.is_object() || !collection.contains("Members") ||
        !collection["Members"].is_array())
        return fail("the Systems collection has no Members list");
    const json& members = collection["Members"];
    if (members.empty()) return fail("the Systems collection is empty");
    if (members.size() > 1)
        return fail(std::to_string(members.size()) +
                    " systems; name one in the URL (redfish://HOST/redfish/v1/Systems/ID)");
    const std::string path = string_at(members[0], "@odata.id");
    if (!path.starts_with("/redfish/v1/Systems/"))
        return fail("a system member without its @odata.id");
    return path;
}

Result<ComputerSystem> parse_system(const json& j, const std::string& path) {
    if (!j.is_object()) return fail(path + " is not a ComputerSystem");
    ComputerSystem s;
    s.power_state = string_at(j, "PowerState");
    if (s.power_state.empty()) return fail(path + " has no PowerState");
    s.etag = string_at(j, "@odata.etag");
    if (auto actions = j.find("Actions"); actions != j.end() && actions->is_object()) {
        if (auto reset = actions->find("#ComputerSystem.Reset");
            reset != actions->end() && reset->is_object()) {
            s.reset_target = string_at(*reset, "target");
            // A path on this BMC's service, nowhere else.
            if (!s.reset_target.starts_with("/redfish/v1/") ||
                s.reset_target.find_first_of(" \r\n\t?#") != std::string::npos ||
                s.reset_target.find("..") != std::string::npos)
                return fail(path + ": its Reset action's target is not a Redfish path");
            s.reset_types = strings_at(*reset, "ResetType@Redfish.AllowableValues");
        }
    }
    if (auto boot = j.find("Boot"); boot != j.end() && boot->is_object()) {
        s.boot_targets = strings_at(*boot, "BootSourceOverrideTarget@Redfish.AllowableValues");
        const std::string enabled = string_at(*boot, "BootSourceOverrideEnabled");
        const std::string target = string_at(*boot, "BootSourceOverrideTarget");
        if (enabled == "Once" || enabled == "Continuous") {
            if (const auto device = device_of(target)) {  // else an override not ours
                NextBoot next;
                next.device = *device;
                next.persistent = enabled == "Continuous";
                next.uefi = string_at(*boot, "BootSourceOverrideMode") == "UEFI";
                s.next_boot = next;
            }
        }
    }
    return s;
}

Result<std::string> reset_type(PowerAction action, const ComputerSystem& s) {
    const bool on = s.power_state != "Off";
    std::vector<std::string> wanted;
    switch (action) {
        case PowerAction::on:
            wanted = {"On"};
            break;
        case PowerAction::off:
            wanted = {"ForceOff"};
            break;
        case PowerAction::soft:
            wanted = {"GracefulShutdown"};
            break;
        case PowerAction::reset:
            wanted = {"ForceRestart"};
            break;
        case PowerAction::cycle:
            wanted = on ? std::vector<std::string>{"PowerCycle", "ForceRestart"}
                        : std::vector<std::string>{"On"};
            break;
    }
    for (const auto& w : wanted)
        if (allowed(s.reset_types, w)) return w;
    return fail("the system allows no " + joined(wanted) + " reset (it allows " +
                joined(s.reset_types) + ")");
}

Result<json> boot_patch(const NextBoot& next, const ComputerSystem& s, bool with_mode) {
    const std::string target = target_of(next.device);
    if (!allowed(s.boot_targets, target))
        return fail("the system has no " + target + " boot override (it has " +
                        joined(s.boot_targets) + ")",
                    "device");
    json boot{{"BootSourceOverrideTarget", target},
              {"BootSourceOverrideEnabled", next.persistent ? "Continuous" : "Once"}};
    if (with_mode) boot["BootSourceOverrideMode"] = next.uefi ? "UEFI" : "Legacy";
    return json{{"Boot", std::move(boot)}};
}

bool refuses_boot_mode(const std::string& body) {
    return body.find("BootSourceOverrideMode") != std::string::npos;
}

json hardware_facts(const json& system, const std::vector<std::string>& macs) {
    json facts = json::object();
    for (const char* key : {"Manufacturer", "Model", "SerialNumber", "UUID", "SKU"}) {
        const std::string v = string_at(system, key);
        if (!v.empty()) facts[key] = one_line(v);
    }
    for (const char* key : {"ProcessorSummary", "MemorySummary"}) {
        auto it = system.is_object() ? system.find(key) : system.end();
        if (!system.is_object() || it == system.end() || !it->is_object()) continue;
        json summary = json::object();
        for (const char* field :
             {"Count", "Model", "TotalSystemMemoryGiB", "LogicalProcessorCount"})
            if (auto f = it->find(field); f != it->end() && (f->is_number() || f->is_string()))
                summary[field] = f->is_string() ? json(one_line(f->get<std::string>())) : *f;
        facts[key] = std::move(summary);
    }
    if (!macs.empty()) facts["MACs"] = macs;
    return facts;
}

std::string error_text(unsigned status, const std::string& body) {
    std::string message;
    try {
        const json j = parse_json_bounded(body);
        const json& error = j.is_object() && j.contains("error") ? j["error"] : json();
        message = string_at(error, "message");
        if (error.is_object() && error.contains("@Message.ExtendedInfo") &&
            error["@Message.ExtendedInfo"].is_array())
            for (const auto& info : error["@Message.ExtendedInfo"]) {
                const std::string m = string_at(info, "Message");
                if (!m.empty()) message += (message.empty() ? "" : ": ") + m;
            }
    } catch (const json::exception&) {
    }
    if (message.empty()) message = body.substr(0, body.find('\n'));
    return "HTTP " + std::to_string(status) + (message.empty() ? "" : ": " + one_line(message));
}

}  // namespace bootcfg::bmc::redfish
