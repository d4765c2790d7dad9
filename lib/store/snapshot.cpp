#include <algorithm>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "logging/log_text.hpp"
#include "store/store.hpp"

namespace bootcfg {

namespace {

enum Slot { kProfile = 0, kGroup = 1, kTemplate = 2 };  // kTemplate + TemplateKind

// Runs `work` on a second thread when there are enough groups to pay for one (from 4,096 on, a
// bulk load is faster on two cores), else here; the caller joins the thread if it is joinable.
template <class Work>
std::thread beside_if_large(std::size_t groups, Work work) {
    if (groups >= 4096) return std::thread(std::move(work));
    work();
    return {};
}

template <class T>
bool by_source(const std::shared_ptr<const T>& a, const std::shared_ptr<const T>& b) {
    return a->source < b->source;
}

// Inserts a definition in source order; returns the one served before (the first), if any.
template <class T>
const T* insert_definition(Definitions<T>& defs, std::shared_ptr<const T> item) {
    const T* served = defs.empty() ? nullptr : defs.front().get();
    defs.insert(std::upper_bound(defs.begin(), defs.end(), item, by_source<T>), std::move(item));
    return served;
}

template <class T, class Id>
std::vector<const T*> served_in_load_order(const ObjectMap<Definitions<T>>& map, Id id) {
    std::vector<const T*> out;
    out.reserve(map.size());
    map.for_each([&](const std::string&, const auto& defs) { out.push_back(defs.front().get()); });
    std::sort(out.begin(), out.end(), [&](const T* a, const T* b) {
        return a->source != b->source ? a->source < b->source : id(*a) < id(*b);
    });
    return out;
}

// Every definition of an id after the served one, reported as ignored.
template <class T>
void duplicates(const char* what, const std::string& id, const Definitions<T>& defs,
                std::vector<LoadProblem>& out) {
    for (std::size_t i = 1; i < defs.size(); ++i)
        out.push_back({defs[i]->source, 0,
                       std::string(what) + " id '" + id + "' is already defined in " +
                           defs.front()->source + "; ignored",
                       "id"});
}

// Keeps an id's problems, or forgets the id when it has none (the maps hold no empty lists).
void keep(ObjectMap<std::vector<LoadProblem>>& map, const std::string& id,
          std::vector<LoadProblem> found) {
    if (!found.empty())
        map.edit(id) = std::move(found);
    else
        map.erase(id);
}

// "/d/profiles/web.json" -> "web"
// A profile's file name without ".json", or an etcd key's last part: what its id should be.
std::string_view file_stem(std::string_view path) {
    path = path.substr(path.rfind('/') + 1);
    if (path.size() > 5 && path.ends_with(".json")) path.remove_suffix(5);
    return path;
}

}  // namespace

Snapshot::Snapshot(StoreContents contents, std::uint64_t generation) : generation_(generation) {
    file_problems_ = std::move(contents.problems);
    contents.problems.clear();
    profiles_.reserve(contents.profiles.size());
    groups_.reserve(contents.groups.size());
    locations_.reserve(contents.profiles.size());  // most groups are found by their file name
    add(std::move(contents));
    check_all();
    collect_problems();
}

Snapshot::Snapshot(const Snapshot& previous, std::vector<LocationChange> changes,
                   std::uint64_t generation)
    : profiles_(previous.profiles_),
      groups_(previous.groups_),
      templates_{previous.templates_[0], previous.templates_[1], previous.templates_[2]},
      locations_(previous.locations_),
      index_(previous.index_),
      file_problems_(previous.file_problems_),
      profile_problems_(previous.profile_problems_),
      group_problems_(previous.group_problems_),
      generation_(generation) {
    // Changes to group files only (the common case in a fleet: one file per machine) recheck
    // the changed groups and those sharing a selector with them; anything else rechecks all.
    bool groups_only = true;
    std::vector<std::string> group_ids;
    std::vector<Labels> selectors;
    auto note = [&](const Held& held) {
        for (const auto& [slot, id] : held) {
            if (slot != kGroup) {
                groups_only = false;
                continue;
            }
            group_ids.push_back(id);
            if (const Group* g = group(id)) selectors.push_back(g->selector);
        }
    };
    for (const auto& change : changes) {
        note(held_at(change.location));
        for (const auto& p : file_problems_)
            if (p.path == change.location) groups_only = false;
        if (!change.now.problems.empty() || !change.now.profiles.empty()) groups_only = false;
        for (const auto& t : change.now.templates) groups_only = groups_only && t.empty();
        for (const auto& g : change.now.groups) {
            group_ids.push_back(g.id);
            selectors.push_back(g.selector);
        }
    }
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
    if (!groups_only) {
        check_all();
    } else {
        for (const auto& id : group_ids)
            if (const Group* g = group(id)) selectors.push_back(g->selector);
        for (const auto& selector : selectors)
            if (const auto* bucket = index_.bucket(selector))
                for (const auto& g : *bucket) group_ids.push_back(g->id);
        std::sort(group_ids.begin(), group_ids.end());
        group_ids.erase(std::unique(group_ids.begin(), group_ids.end()), group_ids.end());
        for (const auto& id : group_ids) check_group(id);
    }
    collect_problems();
}

void Snapshot::add(StoreContents contents) {
    for (auto& p : contents.profiles) {
        auto item = std::make_shared<const Profile>(std::move(p));
        locations_.edit(item->source).emplace_back(kProfile, item->id);
        auto& defs = profiles_.edit(item->id);
        insert_definition(defs, std::move(item));
    }
    std::vector<GroupPtr> groups;
    groups.reserve(contents.groups.size());
    for (auto& g : contents.groups) groups.push_back(std::make_shared<const Group>(std::move(g)));
    std::vector<Group>().swap(contents.groups);  // the moved-from shells: ~190 MB at 1M groups
    // The index is built beside the maps (a bulk load takes half the time on two cores); what a
    // duplicate id hides is taken out of it once both are done.
    auto index_all = [&] {
        for (const auto& g : groups) index_.insert(g);
    };
    std::thread indexer = beside_if_large(groups.size(), index_all);
    std::vector<const std::string*> shared_ids;
    for (const auto& item : groups) {
        if (file_stem(item->source) != item->id)
            locations_.edit(item->source).emplace_back(kGroup, item->id);
        auto& defs = groups_.edit(item->id);
        insert_definition(defs, item);
        if (defs.size() > 1) shared_ids.push_back(&item->id);
    }
    if (indexer.joinable()) indexer.join();
    for (const std::string* id : shared_ids) {
        const auto& defs = *groups_.find(*id);
        for (const auto& d : defs) index_.erase(*d);
        index_.insert(defs.front());
    }
    for (int k = 0; k < 3; ++k)
        for (auto& t : contents.templates[k]) {
            auto item = std::make_shared<const TemplateEntry>(std::move(t));
            locations_.edit(item->source).emplace_back(kTemplate + k, item->name);
            auto& defs = templates_[k].edit(item->name);
            insert_definition(defs, std::move(item));
        }
}

StoreContents Snapshot::objects_at(std::string_view location) const {
    StoreContents out;
    auto copy = [&](const auto& map, const std::string& id, auto& into) {
        if (const auto* defs = map.find(id))
            for (const auto& d : *defs)
                if (d->source == location) into.push_back(*d);
    };
    for (const auto& [slot, id] : held_at(location)) {
        if (slot == kProfile)
            copy(profiles_, id, out.profiles);
        else if (slot == kGroup)
            copy(groups_, id, out.groups);
        else
            copy(templates_[slot - kTemplate], id, out.templates[slot - kTemplate]);
    }
    return out;
}

Snapshot::Held Snapshot::held_at(std::string_view location) const {
    Held held;
    if (const Held* listed = locations_.find(location)) held = *listed;
    const std::string_view stem = file_stem(location);
    if (const auto* defs = groups_.find(stem))
        for (const auto& d : *defs)
            if (d->source == location && d->id == stem) {
                held.emplace_back(kGroup, std::string(stem));
                break;
            }
    return held;
}

void Snapshot::drop_location(const std::string& location) {
    const Held objects = held_at(location);
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

// A reference to a file (or etcd key) that exists but was refused: the refusal is the useful
// part. `relative` is "profiles/ID.json" or "ignition/NAME"; an etcd key has no ".json".
std::string Snapshot::rejected(const std::string& relative) const {
    const std::string key =
        relative.ends_with(".json") ? relative.substr(0, relative.size() - 5) : relative;
    for (const auto& p : file_problems_)
        if (p.path.ends_with("/" + relative) || p.path.ends_with("/" + key))
            return " (" + relative + " was rejected: " + p.reason + ")";
    return "";
}

void Snapshot::check_profile(const std::string& id) {
    keep(profile_problems_, id, profile_problems(id));
}

void Snapshot::check_group(const std::string& id) {
    keep(group_problems_, id, group_problems(id));
}

// Cross-file checks of one profile id: duplicates, template references, the file name.
std::vector<LoadProblem> Snapshot::profile_problems(const std::string& id) const {
    std::vector<LoadProblem> found;
    if (const auto* defs = profiles_.find(id)) {
        duplicates("profile", id, *defs, found);
        const Profile& p = *defs->front();
        if (!from_layout(p.id) && file_stem(p.source) != p.id)
            found.push_back({p.source, 0,
                             "profile id '" + p.id +
                                 "' differs from its file name (matchbox looks profiles up as "
                                 "profiles/<id>.json)",
                             "id", true});
        for (auto kind : {TemplateKind::ignition, TemplateKind::cloud, TemplateKind::generic}) {
            const std::string& ref = template_id(p, kind);
            if (ref.empty() || templates_[static_cast<int>(kind)].find(ref)) continue;
            const std::string dir = template_dir(kind);
            const std::string why = rejected(dir + "/" + ref);
            found.push_back({p.source, 0,
                             dir + " template '" + ref +
                                 (why.empty() ? "' does not exist (" + dir + "/" + ref + ")"
                                              : "' is not served" + why),
                             kind == TemplateKind::ignition ? "ignition_id"
                             : kind == TemplateKind::cloud  ? "cloud_id"
                                                            : "generic_id"});
        }
    }
    return found;
}

// Cross-file checks of one group id: duplicates, its profile, a selector another group has too
// (reported on each but the first by file name, which the smaller id need not be).
std::vector<LoadProblem> Snapshot::group_problems(const std::string& id) const {
    std::vector<LoadProblem> found;
    if (const auto* defs = groups_.find(id)) {
        duplicates("group", id, *defs, found);
        const Group& g = *defs->front();
        if (!g.falls_through && !profile(g.profile))
            found.push_back({g.source, 0,
                             "group '" + g.id + "' names missing profile '" + g.profile + "'" +
                                 rejected("profiles/" + g.profile + ".json"),
                             "profile"});
        const Group* first = nullptr;
        if (const auto* bucket = g.falls_through ? nullptr : index_.bucket(g.selector))
            for (const auto& other : *bucket)
                if (!other->falls_through && (!first || other->source < first->source))
                    first = other.get();
        if (first && first != &g)
            found.push_back(
                {g.source, 0,
                 g.selector.empty()
                     ? "second default group (no selector) besides " + first->source +
                           "; the one with the smaller id wins"
                     : "same selector as " + first->source + "; the one with the smaller id wins",
                 "selector"});
    }
    return found;
}

void Snapshot::check_all() {
    profile_problems_ = {};
    group_problems_ = {};
    profiles_.for_each([&](const std::string& id, const auto&) { check_profile(id); });
    // Groups are checked on two threads (half the shards each), the results stored after.
    using Found = std::vector<std::pair<const std::string*, std::vector<LoadProblem>>>;
    auto check_shards = [&](std::size_t first, std::size_t last, Found& out) {
        groups_.for_each(
            [&](const std::string& id, const auto&) {
                if (auto problems = group_problems(id); !problems.empty())
                    out.emplace_back(&id, std::move(problems));
            },
            first, last);
    };
    constexpr std::size_t half = ObjectMap<int>::kShards / 2;
    Found low, high;
    std::thread other =
        beside_if_large(groups_.size(), [&] { check_shards(half, ObjectMap<int>::kShards, high); });
    check_shards(0, half, low);
    if (other.joinable()) other.join();
    for (Found* found : {&low, &high})
        for (auto& [id, problems] : *found) group_problems_.edit(*id) = std::move(problems);
}

// The backend's problems, then the cross-file ones in load order: profiles, then groups, by file.
void Snapshot::collect_problems() {
    struct Found {
        int slot;
        const LoadProblem* problem;
    };
    std::vector<Found> found;
    profile_problems_.for_each([&](const std::string&, const std::vector<LoadProblem>& list) {
        for (const auto& p : list) found.push_back({kProfile, &p});
    });
    group_problems_.for_each([&](const std::string&, const std::vector<LoadProblem>& list) {
        for (const auto& p : list) found.push_back({kGroup, &p});
    });
    std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
        return a.slot != b.slot ? a.slot < b.slot : a.problem->path < b.problem->path;
    });
    problems_ = file_problems_;
    problems_.reserve(problems_.size() + found.size());
    for (const auto& f : found) problems_.push_back(*f.problem);
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

std::shared_ptr<const Snapshot> load_snapshot(const StoreSource& source, const Snapshot* previous) {
    const auto start = std::chrono::steady_clock::now();
    auto contents = source.load(previous);
    const std::uint64_t generation = previous ? previous->generation() + 1 : 1;
    auto snapshot = std::make_shared<const Snapshot>(std::move(contents), generation);
    for (const auto& p : snapshot->problems()) spdlog::warn("data: {}", p.to_string());
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    spdlog::info("loaded {} {} in {} ms", source.describe(), snapshot->summary(), ms);
    return snapshot;
}

std::string Snapshot::counts() const {
    return std::to_string(group_count()) + " groups, " + std::to_string(profile_count()) +
           " profiles, " + std::to_string(template_count()) + " templates, " +
           std::to_string(problems_.size()) + " problems";
}

std::string Snapshot::summary() const {
    return "(generation " + std::to_string(generation_) + "): " + counts();
}

}  // namespace bootcfg
