#include "store/store.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <chrono>

#include "logging/log_text.hpp"

namespace bootcfg {

Snapshot::Snapshot(StoreContents contents, std::uint64_t generation)
    : groups_(std::move(contents.groups)),
      problems_(std::move(contents.problems)),
      index_(groups_),
      generation_(generation) {
    for (int k = 0; k < 3; ++k) templates_[k] = std::move(contents.templates[k]);
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

const TemplateEntry* Snapshot::template_entry(TemplateKind kind, const std::string& name) const {
    const auto& map = templates_[static_cast<int>(kind)];
    auto it = map.find(name);
    return it == map.end() ? nullptr : &it->second;
}

StoreContents Snapshot::contents() const {
    StoreContents c;
    c.profiles.reserve(profiles_.size());
    for (const auto& [_, p] : profiles_) c.profiles.push_back(p);
    std::sort(c.profiles.begin(), c.profiles.end(),
              [](const Profile& a, const Profile& b) { return a.source < b.source; });
    c.groups = groups_;
    for (int k = 0; k < 3; ++k) c.templates[k] = templates_[k];
    c.problems = problems_;
    return c;
}

std::size_t Snapshot::template_count() const {
    return templates_[0].size() + templates_[1].size() + templates_[2].size();
}

// Escaped: a file name may hold a newline, and this text goes to logs and -validate's lines.
std::string LoadProblem::to_string() const {
    return log_escape(path) + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " +
           log_escape(reason);
}

const std::string& template_id(const Profile& profile, TemplateKind kind) {
    switch (kind) {
        case TemplateKind::ignition:
            return profile.ignition_id;
        case TemplateKind::cloud:
            return profile.cloud_id;
        case TemplateKind::generic:
            return profile.generic_id;
    }
    return profile.cloud_id;
}

const char* template_dir(TemplateKind kind) {
    switch (kind) {
        case TemplateKind::ignition:
            return "ignition";
        case TemplateKind::cloud:
            return "cloud";
        case TemplateKind::generic:
            return "generic";
    }
    return "";
}

std::shared_ptr<const Snapshot> load_snapshot(const StoreSource& source, const Snapshot* previous) {
    const auto start = std::chrono::steady_clock::now();
    auto contents = source.load(previous);
    for (const auto& p : contents.problems) spdlog::warn("data: {}", p.to_string());
    const std::uint64_t generation = previous ? previous->generation() + 1 : 1;
    auto snapshot = std::make_shared<const Snapshot>(std::move(contents), generation);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    spdlog::info(
        "loaded {} (generation {}): {} groups, {} profiles, {} templates, {} problems "
        "in {} ms",
        source.describe(), generation, snapshot->groups().size(), snapshot->profile_count(),
        snapshot->template_count(), snapshot->problems().size(), ms);
    return snapshot;
}

}  // namespace bootcfg
