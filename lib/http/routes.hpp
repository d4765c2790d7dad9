// Routing for machine endpoints: (snapshot, request line, a few headers) -> a reply to write.
// No sockets here; the Beast shell (http_server.hpp) only parses, calls a handler and writes.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "assets/assets.hpp"
#include "inventory/inventory.hpp"
#include "metrics/metrics.hpp"
#include "store/store.hpp"

namespace bootcfg {

struct MachineRequest {
    std::string_view method;
    std::string_view target;
    ConditionalHeaders conditional;
    std::string_view client_ip = {};  // the peer's address, for the inventory
    std::string_view host = {};       // the Host header, for check-in URLs
};

// What the machine endpoints know of machines beyond the config. inventory null: off.
struct MachineServices {
    inventory::Inventory* inventory = nullptr;
    std::string public_url;  // base of check-in URLs ("http://boot.lab:8080"); empty: from Host
    const AssetRoot* ipxe_dir = nullptr;  // /ipxe-bin/NAME (UEFI HTTP boot); null: 404
};

// Move-only: an asset's open file travels with it and is closed when the reply is done.
struct Reply {
    unsigned status = 200;
    std::string_view content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string_view, std::string>> headers;  // extra header fields
    std::optional<OpenAsset> file;  // body is file bytes [plan.offset, +plan.length)
    AssetPlan plan;
    std::string selected;    // which config answered, for the access log
    std::string log_detail;  // why a 5xx happened, for the log (the body stays short)
    metrics::MatchOutcome match = metrics::MatchOutcome::not_selected;  // for /metrics
};

// assets may be null (serving assets disabled); source, if given, is asked for /healthz;
// machines, if given, records each machine request and answers /checkin.
Reply route(const Snapshot& snapshot, const AssetRoot* assets, const MachineRequest& request,
            const StoreSource* source = nullptr, const MachineServices* machines = nullptr);

// A one-line plain-text error reply.
Reply error_reply(unsigned status, std::string reason);

// What the server calls for each parsed request.
using RequestHandler = std::function<Reply(const MachineRequest&)>;

// The machine endpoints over the current snapshot (assets may be null: disabled). Each thread
// keeps its own reference to the snapshot and re-fetches it only when the holder's version
// moves, so the request path takes no lock and no shared reference count.
RequestHandler machine_routes(const SnapshotHolder& store, const AssetRoot* assets,
                              const StoreSource* source = nullptr,
                              const MachineServices* machines = nullptr);

// Only /assets/ and /images/ (for `bootcfg run --serve`); anything else is 404.
RequestHandler asset_routes(const AssetRoot& assets);

}  // namespace bootcfg
