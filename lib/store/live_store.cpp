#include "store/live_store.hpp"

#include <chrono>
#include <unordered_set>

#include <spdlog/spdlog.h>

namespace bootcfg {

void LiveStore::reload() {
    std::lock_guard guard(mutex_);
    reload_locked();
}

void LiveStore::reload_locked() {
    swap_in(load_snapshot(source_, holder_.get().get()));
}

void LiveStore::swap_in(std::shared_ptr<const Snapshot> next) {
    auto previous = holder_.get();
    holder_.set(std::move(next));
    std::lock_guard guard(retired_mutex_);
    retired_.push_back(std::move(previous));
}

void LiveStore::release_retired() {
    std::vector<std::shared_ptr<const Snapshot>> unused;
    {
        std::lock_guard guard(retired_mutex_);
        for (auto& s : retired_)
            if (s.use_count() == 1) unused.push_back(std::move(s));
        std::erase(retired_, nullptr);
    }
}  // `unused` is freed here, outside the lock

std::shared_ptr<const Snapshot> LiveStore::patched(const Snapshot& base,
                                                   std::vector<LocationChange> changes) {
    return std::make_shared<const Snapshot>(base, std::move(changes), base.generation() + 1);
}

std::optional<LiveStore::Applied> LiveStore::apply(const std::vector<std::string>& locations) {
    std::lock_guard guard(mutex_);
    const auto start = std::chrono::steady_clock::now();
    const auto previous = holder_.get();
    auto changes = source_.read_changes(locations, *previous);
    if (!changes) {
        reload_locked();
        return std::nullopt;
    }
    const std::unordered_set<std::string> changed(locations.begin(), locations.end());
    auto next = patched(*previous, std::move(*changes));
    // Only what this change brought: a file's own problems, and cross-file ones that are new.
    std::unordered_set<std::string> known;
    for (const auto& p : previous->problems()) known.insert(p.to_string());
    for (const auto& p : next->problems())
        if (changed.count(p.path) || !known.count(p.to_string()))
            spdlog::warn("data: {}", p.to_string());
    swap_in(next);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    return Applied{locations.size(), us, next->summary()};
}

}  // namespace bootcfg
