// What a /metrics scrape reads from the store, the inventory and the machine listener.
#pragma once

#include <cstddef>

#include "inventory/inventory.hpp"
#include "metrics/metrics.hpp"
#include "store/store.hpp"

namespace bootcfg {

// source and inventory may be null (a store without health, the inventory off).
metrics::ScrapeValues scrape_values(const SnapshotHolder& holder, const StoreSource* source,
                                    const inventory::Inventory* inventory,
                                    std::size_t open_connections);

}  // namespace bootcfg
