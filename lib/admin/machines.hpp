// The admin API's machine endpoints over the inventory: list with filters, one record, set its
// state (audited), forget it. Pure request -> reply over the Inventory facade.
#pragma once

#include <string_view>

#include "admin/power.hpp"
#include "admin/resources.hpp"
#include "inventory/inventory.hpp"

namespace bootcfg::admin {

struct ApiRequest;

// /api/v1/machines[/ID] for GET, PATCH and DELETE, /api/v1/machines/ID/{bmc,power,next-boot}
// (power.hpp); inventory null: the inventory is off.
ApiReply machines_request(inventory::Inventory* inventory, BmcCalls& bmc_calls,
                          const ApiRequest& request, std::string_view path, std::string_view query);

}  // namespace bootcfg::admin
