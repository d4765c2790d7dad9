// Redfish (DMTF) documents a boot server reads and writes: the Systems collection, a
// ComputerSystem (power state, the Reset action and its allowed values, the boot override), the
// PATCH that sets the next boot, and the error bodies. Pure, unit-tested; redfish_bmc.cpp
// does the HTTPS.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bmc/bmc.hpp"
#include "result/result.hpp"

namespace bootcfg::bmc::redfish {

// The one system of a Systems collection; a failure when it holds none or several (then the
// URL must name one).
Result<std::string> only_system(const nlohmann::json& collection);

struct ComputerSystem {
    std::string power_state;                // "On", "Off", "PoweringOn", ...
    std::string reset_target;               // the Reset action's URL
    std::vector<std::string> reset_types;   // allowed; empty: the system does not say
    std::vector<std::string> boot_targets;  // allowed override targets; empty: not said
    std::string etag;                       // @odata.etag, when the body carries it
    std::optional<NextBoot> next_boot;      // the override now; nullopt: disabled/none of ours
};
Result<ComputerSystem> parse_system(const nlohmann::json& system, const std::string& path);

// The ResetType for an action on a system in this power state, among the allowed ones.
// cycle: PowerCycle, else ForceRestart; a system that is off is turned on instead.
Result<std::string> reset_type(PowerAction action, const ComputerSystem& system);

// {"Boot": {"BootSourceOverrideTarget": "Pxe" | "UefiHttp" | "Hdd", "BootSourceOverrideEnabled":
// "Once" | "Continuous", "BootSourceOverrideMode": "UEFI" | "Legacy"}}; without Mode for BMCs
// that reject it.
Result<nlohmann::json> boot_patch(const NextBoot& next, const ComputerSystem& system,
                                  bool with_mode);

// Does this refusal of a boot PATCH name BootSourceOverrideMode (so it can go without it)?
bool refuses_boot_mode(const std::string& body);

// The facts worth keeping in a machine record: manufacturer, model, serial, UUID, CPU and
// memory summary, NIC MACs.
nlohmann::json hardware_facts(const nlohmann::json& system, const std::vector<std::string>& macs);

// "HTTP 400: The property BootSourceOverrideMode is not supported" from a Redfish error body
// (error.message and its @Message.ExtendedInfo), or the start of whatever the body holds.
std::string error_text(unsigned status, const std::string& body);

}  // namespace bootcfg::bmc::redfish
