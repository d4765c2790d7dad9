// The admin API: reads answered from the current snapshot, writes landed in the store's backend
// and the snapshot patched with them swapped in before the reply. One writer at a time.
#pragma once

#include <string>
#include <string_view>

#include "admin/power.hpp"
#include "admin/resources.hpp"
#include "inventory/inventory.hpp"
#include "metrics/metrics.hpp"
#include "store/live_store.hpp"

namespace bootcfg::admin {

struct ApiRequest {
    std::string_view method;
    std::string_view target;  // path and query
    std::string_view body;
    std::string_view if_match;       // "", "*" or a quoted revision
    std::string_view if_none_match;  // "" or "*"
    std::string who;                 // for the audit line: certificate subject, token name, peer
    // A profile may name templates not written yet: matchbox's clients (Terraform) write a
    // profile before its Ignition. The reference is served once the template arrives.
    bool templates_may_follow = false;
};

class AdminApi {
  public:
    explicit AdminApi(LiveStore& store, inventory::Inventory* inventory = nullptr)
        : store_(store), inventory_(inventory) {}

    ApiReply handle(const ApiRequest& request);
    const LiveStore& store() const { return store_; }
    // The event log GET /api/v1/events streams; null when the inventory is off.
    inventory::EventLog* events() { return inventory_ ? &inventory_->events() : nullptr; }
    // GET /metrics on the admin listeners (-metrics-address naming one of them).
    void serve_metrics(const metrics::Metrics* m) { metrics_ = m; }
    // Deadlines and retries of BMC calls (-bmc-timeout).
    void bmc_options(const bmc::BmcOptions& options) { bmc_calls_.options = options; }

  private:
    ApiReply write(Kind kind, const std::string& name, const ApiRequest& request);

    LiveStore& store_;
    inventory::Inventory* inventory_;
    const metrics::Metrics* metrics_ = nullptr;
    BmcCalls bmc_calls_;
};

}  // namespace bootcfg::admin
