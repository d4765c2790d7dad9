#include "store/store.hpp"

namespace bootcfg {

Snapshot::Snapshot(StoreContents contents, std::uint64_t generation)
    : groups_(std::move(contents.groups)),
      cloud_configs_(std::move(contents.cloud_configs)),
      problems_(std::move(contents.problems)),
      index_(groups_),
      generation_(generation) {
    profiles_.reserve(contents.profiles.size());
    for (auto& p : contents.profiles) {
        std::string id = p.id;
        profiles_.emplace(std::move(id), std::move(p));
    }
}

const Profile* Snapshot::profile(const std::string& id) const {
    auto it = profiles_.find(id);
    return it == profiles_.end() ? nullptr : &it->second;
}

const std::string* Snapshot::cloud_config(const std::string& name) const {
    auto it = cloud_configs_.find(name);
    return it == cloud_configs_.end() ? nullptr : &it->second;
}

}  // namespace bootcfg

#include <spdlog/spdlog.h>

#include <chrono>

namespace bootcfg {

std::shared_ptr<const Snapshot> load_snapshot(const StoreSource& source, const Snapshot* previous) {
    const auto start = std::chrono::steady_clock::now();
    auto contents = source.load(previous);
    for (const auto& p : contents.problems) spdlog::warn("data: {}: {}", p.path, p.reason);
    const std::uint64_t generation = previous ? previous->generation() + 1 : 1;
    auto snapshot = std::make_shared<const Snapshot>(std::move(contents), generation);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    spdlog::info(
        "loaded {} (generation {}): {} groups, {} profiles, {} cloud-configs, {} problems "
        "in {} ms",
        source.describe(), generation, snapshot->groups().size(), snapshot->profile_count(),
        snapshot->cloud_config_count(), snapshot->problems().size(), ms);
    return snapshot;
}

}  // namespace bootcfg
