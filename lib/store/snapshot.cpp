#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "logging/log_text.hpp"
#include "store/store.hpp"

namespace bootcfg {

namespace {

enum Slot { kProfile = 0, kGroup = 1, kTemplate = 2 };  // kTemplate + TemplateKind

template <class T>
bool by_source(const std::shared_ptr<const T>& a, const std::shared_ptr<const T>& b) {
    return a->source < b->source;
}

// Inserts a definition in source order; returns the one served before (the first), if any.
template <class T>
const T* insert_definition(std::vector<std::shared_ptr<const T>>& defs,
                           std::shared_ptr<const T> item) {
    const T* served = defs.empty() ? nullptr : defs.front().get();
    defs.insert(std::upper_bound(defs.begin(), defs.end(), item, by_source<T>), std::move(item));
    return served;
}

template <class T, class Id>
std::vector<const T*> served_in_load_order(
    const ObjectMap<std::vector<std::shared_ptr<const T>>>& map, Id id) {
    std::vector<const T*> out;
    out.reserve(map.size());
    map.for_each([&](const std::string&, const auto& defs) { out.push_back(defs.front().get()); });
    std::sort(out.begin(), out.end(), [&](const T* a, const T* b) {
        return a->source != b->source ? a->source < b->source : id(*a) < id(*b);
    });
    return out;
}

// "/d/profiles/web.json" -> "web"
std::string_view file_stem(std::string_view path) {
    path = path.substr(path.rfind('/') + 1);
    const auto dot = path.rfind('.');
    return dot == 0 || dot == std::string_view::npos ? path : path.substr(0, dot);
}

}  // namespace

Snapshot::Snapshot(StoreContents contents, std::uint64_t generation) : generation_(generation) {
    file_problems_ = std::move(contents.problems);
    contents.problems.clear();
    add(std::move(contents));
    check_references();
}

Snapshot::Snapshot(const Snapshot& previous, std::vector<LocationChange> changes,
                   std::uint64_t generation)
    : profiles_(previous.profiles_),
      groups_(previous.groups_),
      templates_{previous.templates_[0], previous.templates_[1], previous.templates_[2]},
      locations_(previous.locations_),
      index_(previous.index_),
      file_problems_(previous.file_problems_),
      generation_(generation) {
    for (auto& change : changes) {
        std::erase_if(file_problems_,
                      [&](const LoadProblem& p) { return p.path == change.location; });
        if (!change.keep_previous) drop_location(change.location);
        auto problems = std::move(change.now.problems);
        change.now.problems.clear();
        add(std::move(change.now));
        file_problems_.insert(file_problems_.end(), std::make_move_iterator(problems.begin()),
                              std::make_move_iterator(problems.end()));
    }
    check_references();
}

void Snapshot::add(StoreContents contents) {
    for (auto& p : contents.profiles) {
        auto item = std::make_shared<const Profile>(std::move(p));
        locations_.edit(item->source).objects.emplace_back(kProfile, item->id);
        auto& defs = profiles_.edit(item->id);
        insert_definition(defs, std::move(item));
    }
    for (auto& g : contents.groups) {
        auto item = std::make_shared<const Group>(std::move(g));
        locations_.edit(item->source).objects.emplace_back(kGroup, item->id);
        auto& defs = groups_.edit(item->id);
        const Group* served = insert_definition(defs, std::move(item));
        if (served != defs.front().get()) {
            if (served) index_.erase(*served);
            index_.insert(defs.front());
        }
    }
    for (int k = 0; k < 3; ++k)
        for (auto& t : contents.templates[k]) {
            auto item = std::make_shared<const TemplateEntry>(std::move(t));
            locations_.edit(item->source).objects.emplace_back(kTemplate + k, item->name);
            auto& defs = templates_[k].edit(item->name);
            insert_definition(defs, std::move(item));
        }
}

void Snapshot::drop_location(const std::string& location) {
    const Held* held = locations_.find(location);
    if (!held) return;
    const auto objects = held->objects;
    locations_.erase(location);
    auto drop = [&](auto& map, const std::string& id, auto on_served_change) {
        if (!map.find(id)) return;
        auto& defs = map.edit(id);
        const auto* served = defs.front().get();
        const auto it = std::find_if(defs.begin(), defs.end(),
                                     [&](const auto& d) { return d->source == location; });
        if (it == defs.end()) return;
        if (it->get() == served) on_served_change(*served, defs.size() > 1 ? defs[1] : nullptr);
        defs.erase(it);
        if (defs.empty()) map.erase(id);
    };
    for (const auto& [slot, id] : objects) {
        if (slot == kProfile) {
            drop(profiles_, id, [](const Profile&, const auto&) {});
        } else if (slot == kGroup) {
            drop(groups_, id, [&](const Group& served, const GroupPtr& next) {
                index_.erase(served);
                if (next) index_.insert(next);
            });
        } else {
            drop(templates_[slot - kTemplate], id, [](const TemplateEntry&, const auto&) {});
        }
    }
}

// Cross-file checks: duplicate ids, dangling references, ambiguous groups. Recomputed for the
// whole snapshot on every change (a scan, no allocation per object), so no change can leave a
// stale one behind.
void Snapshot::check_references() {
    struct Found {
        int slot;
        LoadProblem problem;
    };
    std::vector<Found> found;
    auto problem = [&](int slot, const std::string& path, std::string reason, const char* field) {
        found.push_back({slot, {path, 0, std::move(reason), field}});
    };
    // A reference to a file that exists but was refused: the refusal is the useful part.
    auto rejected = [&](const std::string& relative) -> std::string {
        for (const auto& p : file_problems_)
            if (p.path.size() > relative.size() && p.path.ends_with("/" + relative))
                return " (" + relative + " was rejected: " + p.reason + ")";
        return "";
    };
    profiles_.for_each([&](const std::string& id, const Definitions<Profile>& defs) {
        for (std::size_t i = 1; i < defs.size(); ++i)
            problem(
                kProfile, defs[i]->source,
                "profile id '" + id + "' is already defined in " + defs[0]->source + "; ignored",
                "id");
        const Profile& p = *defs[0];
        if (!from_layout(p.id) && file_stem(p.source) != p.id)
            problem(kProfile, p.source,
                    "profile id '" + p.id +
                        "' differs from its file name (matchbox looks profiles up as "
                        "profiles/<id>.json)",
                    "id");
        for (auto kind : {TemplateKind::ignition, TemplateKind::cloud, TemplateKind::generic}) {
            const std::string& ref = template_id(p, kind);
            if (ref.empty() || templates_[static_cast<int>(kind)].find(ref)) continue;
            const std::string dir = template_dir(kind);
            const std::string why = rejected(dir + "/" + ref);
            problem(kProfile, p.source,
                    dir + " template '" + ref +
                        (why.empty() ? "' does not exist (" + dir + "/" + ref + ")"
                                     : "' is not served" + why),
                    kind == TemplateKind::ignition ? "ignition_id"
                    : kind == TemplateKind::cloud  ? "cloud_id"
                                                   : "generic_id");
        }
    });
    groups_.for_each([&](const std::string& id, const Definitions<Group>& defs) {
        for (std::size_t i = 1; i < defs.size(); ++i)
            problem(kGroup, defs[i]->source,
                    "group id '" + id + "' is already defined in " + defs[0]->source + "; ignored",
                    "id");
        const Group& g = *defs[0];
        if (!g.falls_through && !profile(g.profile))
            problem(kGroup, g.source,
                    "group '" + g.id + "' names missing profile '" + g.profile + "'" +
                        rejected("profiles/" + g.profile + ".json"),
                    "profile");
    });
    index_.for_each_shared_selector([&](const GroupIndex::Bucket& bucket) {
        std::vector<const Group*> same;
        for (const auto& g : bucket)
            if (!g->falls_through) same.push_back(g.get());
        if (same.size() < 2) return;
        std::sort(same.begin(), same.end(),
                  [](const Group* a, const Group* b) { return a->source < b->source; });
        for (std::size_t i = 1; i < same.size(); ++i)
            problem(
                kGroup, same[i]->source,
                same[i]->selector.empty()
                    ? "second default group (no selector) besides " + same[0]->source +
                          "; the one with the smaller id wins"
                    : "same selector as " + same[0]->source + "; the one with the smaller id wins",
                "selector");
    });
    // In load order: profiles, then groups, each by file.
    std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
        return a.slot != b.slot ? a.slot < b.slot : a.problem.path < b.problem.path;
    });
    problems_ = file_problems_;
    problems_.reserve(problems_.size() + found.size());
    for (auto& f : found) problems_.push_back(std::move(f.problem));
}

const Profile* Snapshot::profile(std::string_view id) const {
    const auto* defs = profiles_.find(id);
    return defs ? defs->front().get() : nullptr;
}

const Group* Snapshot::group(std::string_view id) const {
    const auto* defs = groups_.find(id);
    return defs ? defs->front().get() : nullptr;
}

const TemplateEntry* Snapshot::template_entry(TemplateKind kind, std::string_view name) const {
    const auto* defs = templates_[static_cast<int>(kind)].find(name);
    return defs ? defs->front().get() : nullptr;
}

std::vector<const Profile*> Snapshot::profiles() const {
    return served_in_load_order(profiles_,
                                [](const Profile& p) -> const std::string& { return p.id; });
}

std::vector<const Group*> Snapshot::groups() const {
    return served_in_load_order(groups_, [](const Group& g) -> const std::string& { return g.id; });
}

std::vector<const TemplateEntry*> Snapshot::templates(TemplateKind kind) const {
    return served_in_load_order(
        templates_[static_cast<int>(kind)],
        [](const TemplateEntry& t) -> const std::string& { return t.name; });
}

std::size_t Snapshot::template_count() const {
    return templates_[0].size() + templates_[1].size() + templates_[2].size();
}

std::string revision(const TemplateEntry& t) {
    return revision_of(t.text);
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
    const std::uint64_t generation = previous ? previous->generation() + 1 : 1;
    auto snapshot = std::make_shared<const Snapshot>(std::move(contents), generation);
    for (const auto& p : snapshot->problems()) spdlog::warn("data: {}", p.to_string());
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    spdlog::info(
        "loaded {} (generation {}): {} groups, {} profiles, {} templates, {} problems "
        "in {} ms",
        source.describe(), generation, snapshot->group_count(), snapshot->profile_count(),
        snapshot->template_count(), snapshot->problems().size(), ms);
    return snapshot;
}

}  // namespace bootcfg
