#include "http/machine_metrics.hpp"

namespace bootcfg {

metrics::ScrapeValues scrape_values(const SnapshotHolder& holder, const StoreSource* source,
                                    const inventory::Inventory* inventory,
                                    std::size_t open_connections) {
    metrics::ScrapeValues v;
    const auto snapshot = holder.get();
    v.snapshots = holder.version() + 1;  // the first load is published before any swap
    v.problems = snapshot->problems().size();
    v.groups = snapshot->group_count();
    v.profiles = snapshot->profile_count();
    v.templates = snapshot->template_count();
    v.store_reachable = !source || source->health().empty();
    v.connections = open_connections;
    if (inventory) {
        v.inventory = true;
        for (const auto& [state, n] : inventory->count_by_state())
            v.machines_by_state.emplace_back(state, n);
        const auto st = inventory->stats();
        v.queue_depth = st.queue_depth;
        v.queue_peak = st.peak_queue_depth;
        v.dropped = st.dropped;
        v.written = st.applied;
        v.batches = st.batches;
        v.write_errors = st.write_errors;
        v.remote_changes = st.remote_changes;
    }
    return v;
}

}  // namespace bootcfg
