// The admin API's BMC endpoints of one machine: its BMC settings (PUT/GET/DELETE .../bmc, the
// password taken, stored as a secret and never returned), its power (GET/POST .../power) and
// its next boot device (GET/PUT .../next-boot), the last two through the BMC, audited.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "admin/resources.hpp"
#include "bmc/bmc.hpp"
#include "inventory/inventory.hpp"

namespace bootcfg::admin {

struct ApiRequest;

// Does this request wait on a BMC (seconds, when it does not answer)? The admin listener runs
// those on worker threads instead of its own.
bool talks_to_bmc(std::string_view path);

struct BmcCalls {
    bmc::BmcOptions options;
    std::size_t limit = 16;  // BMC calls in progress at once; beyond: 503
    std::atomic<std::size_t> running{0};
};

// `id`: the machine's record id; `part`: "bmc", "power" or "next-boot".
ApiReply machine_bmc_request(inventory::Inventory& inventory, BmcCalls& calls,
                             const ApiRequest& request, const std::string& id,
                             std::string_view part);

}  // namespace bootcfg::admin
