#include "etcd/etcd_source.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "store/data_files.hpp"
#include "store/parallel_for.hpp"

namespace bootcfg::etcd {

std::optional<std::string> layout_path(const std::string& prefix, std::string_view key) {
    if (!key.starts_with(prefix)) return std::nullopt;
    key.remove_prefix(prefix.size());
    if (key.starts_with("boot/") || key == "cloud/default" || key.starts_with("cloud/mac/") ||
        key.starts_with("cloud/uuid/"))
        return std::string(key);
    return std::nullopt;
}

namespace {

std::int64_t ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
}

// Where a key under the prefix goes.
enum class Place : unsigned char { skip, layout, outside, profile, group, entry };

Place place_of(const std::string& prefix, const std::string& key) {
    if (is_inventory_key(prefix, key)) return Place::skip;
    if (layout_path(prefix, key)) return Place::layout;
    const auto ref = object_of(prefix, key);
    if (!ref) return Place::outside;
    if (ref->kind == ObjectKind::profiles) return Place::profile;
    if (ref->kind == ObjectKind::groups) return Place::group;
    return Place::entry;
}

// A profile's or group's value parsed into `slot`, or its failure.
template <class T, class Parse>
std::unique_ptr<Failure> parse_object(const KeyValue& kv, Parse parse, T& slot) {
    auto parsed = parse_with_field_line(kv.value, parse);
    if (!parsed) return std::make_unique<Failure>(parsed.failure());
    slot = std::move(*parsed);
    slot.source = kv.key;
    return nullptr;
}

}  // namespace

namespace {

// The layout's keys merged per machine, as the data dir's files are (a broken boot config keeps
// its last good version from `previous`).
class LayoutKeys {
  public:
    LayoutKeys(StoreContents& out, const Snapshot* previous) : out_(out), previous_(previous) {}

    void add(const KeyValue& kv, const std::string& path) {
        const bool boot = path.starts_with("boot/");
        const std::string rest = path.substr(boot ? 5 : 6);
        std::string machine;
        Labels selector;
        if (rest == "default") {
            machine = "default";
        } else if (rest.starts_with("mac/") || rest.starts_with("uuid/")) {
            const bool mac = rest.starts_with("mac/");
            const std::string name = rest.substr(mac ? 4 : 5);
            const auto normal = mac ? normalize_mac(name) : normalize_uuid(name);
            if (!normal) {
                problem(kv.key, mac ? "key name is not a MAC address" : "key name is not a UUID");
                return;
            }
            machine = (mac ? "mac/" : "uuid/") + *normal;
            selector.set(mac ? "mac" : "uuid", *normal);
        } else {
            problem(kv.key, "unexpected key (expected boot/default, boot/uuid/UUID, boot/mac/MAC)");
            return;
        }
        LayoutMachine& m = machines_[machine];
        m.selector = std::move(selector);
        std::string& source = boot ? m.boot_source : m.cloud_source;
        if (!source.empty()) {
            problem(kv.key, "same machine as " + source + " (names differ only in form); ignored");
            return;
        }
        source = kv.key;
        if (!boot) {
            m.cloud_name = machine;
            // bootcfg v0.1 served cloud-configs as they are; they may hold Jinja or other "{{".
            out_.templates[static_cast<int>(TemplateKind::cloud)].push_back(
                TemplateEntry{machine, kv.value, nullptr, kv.key});
            return;
        }
        auto spec = parse_with_field_line(kv.value, parse_layout_boot);
        if (spec) {
            m.boot = std::move(*spec);
            return;
        }
        std::string reason = spec.failure().reason;
        const Profile* old =
            previous_ ? previous_->profile(std::string(kLayoutPrefix) + machine) : nullptr;
        if (old && old->has_boot && old->source == kv.key) {
            m.boot = old->boot;
            reason += "; keeping the last good version";
        } else {
            m.boot_source.clear();
        }
        out_.problems.push_back(
            {kv.key, spec.failure().line, std::move(reason), spec.failure().field});
    }

    void finish() {
        for (auto& [machine, m] : machines_) add_layout_machine(machine, std::move(m), out_);
    }

  private:
    void problem(const std::string& key, std::string reason) {
        out_.problems.push_back({key, 0, std::move(reason), "", true});
    }
    StoreContents& out_;
    const Snapshot* previous_;
    std::map<std::string, LayoutMachine> machines_;
};

}  // namespace

std::string normal_prefix(std::string prefix) {
    if (prefix.empty() || prefix.back() != '/') prefix += '/';
    return prefix;
}

std::vector<std::string> inventory_prefixes(const std::string& prefix) {
    return {prefix + "machines/", prefix + "secrets/"};
}

bool is_inventory_key(const std::string& prefix, std::string_view key) {
    if (!key.starts_with(prefix)) return false;
    key.remove_prefix(prefix.size());
    return key.starts_with("machines/") || key.starts_with("secrets/");  // inventory_prefixes
}

StoreContents contents_of(const std::string& prefix, const std::vector<KeyValue>& kvs,
                          const Snapshot* previous) {
    StoreContents out;
    std::vector<Place> places(kvs.size());
    std::vector<std::size_t> profiles, groups;
    for (std::size_t i = 0; i < kvs.size(); ++i) {
        places[i] = place_of(prefix, kvs[i].key);
        if (places[i] == Place::profile) profiles.push_back(i);
        if (places[i] == Place::group) groups.push_back(i);
    }
    // The groups (a fleet's bulk) and profiles parsed on all cores into their final places.
    const auto profile_failures =
        parse_in_place(profiles.size(), out.profiles, [&](std::size_t j, Profile& slot) {
            return parse_object(kvs[profiles[j]], parse_profile, slot);
        });
    const auto group_failures =
        parse_in_place(groups.size(), out.groups, [&](std::size_t j, Group& slot) {
            return parse_object(kvs[groups[j]], parse_group, slot);
        });
    // Then, in key order, the rest and every problem.
    LayoutKeys layout(out, previous);
    std::size_t next_profile = 0, next_group = 0;
    for (std::size_t i = 0; i < kvs.size(); ++i) {
        const KeyValue& kv = kvs[i];
        const Failure* failure = nullptr;
        Failure entry_failure;
        switch (places[i]) {
            case Place::skip:
                continue;
            case Place::layout:
                layout.add(kv, *layout_path(prefix, kv.key));
                continue;
            case Place::outside:
                out.problems.push_back({kv.key, 0,
                                        "ignored: not profiles/ID, groups/ID, ignition/NAME, "
                                        "cloud/NAME or generic/NAME under " +
                                            prefix + " (names: letters, digits, '.', '_', '-')",
                                        "", true});
                continue;
            case Place::profile:
                failure = profile_failures[next_profile++].get();
                break;
            case Place::group:
                failure = group_failures[next_group++].get();
                break;
            case Place::entry: {
                const auto ref = object_of(prefix, kv.key);
                const TemplateKind kind = template_kind(ref->kind);
                auto entry = parse_template_entry(kind, ref->name, kv.value);
                if (entry) {
                    entry->source = kv.key;
                    out.templates[static_cast<int>(kind)].push_back(std::move(*entry));
                } else {
                    entry_failure = entry.failure();
                    failure = &entry_failure;
                }
                break;
            }
        }
        if (!failure) continue;
        std::string reason = failure->reason;
        if (previous && previous->holds(kv.key)) {
            StoreContents kept = previous->objects_at(kv.key);
            for (auto& profile : kept.profiles) out.profiles.push_back(std::move(profile));
            for (auto& group : kept.groups) out.groups.push_back(std::move(group));
            for (int k = 0; k < 3; ++k)
                for (auto& t : kept.templates[k]) out.templates[k].push_back(std::move(t));
            reason += "; keeping the last good version";
        }
        out.problems.push_back({kv.key, failure->line, std::move(reason), failure->field});
    }
    layout.finish();
    return out;
}

EtcdSource::EtcdSource(ClusterOptions cluster, std::string prefix)
    : client_(std::move(cluster)), prefix_(normal_prefix(std::move(prefix))) {}

EtcdSource::~EtcdSource() {
    unwatch();
}

void EtcdSource::unwatch() const {
    if (follower_) follower_->stop();
}

std::string EtcdSource::describe() const {
    return "etcd " + client_.endpoints() + " " + prefix_;
}

std::string EtcdSource::health() const {
    const std::string why = client_.unreachable();
    return why.empty() ? "" : "store unreachable " + why;
}

Result<void> EtcdSource::refresh() const {
    const auto start = std::chrono::steady_clock::now();
    auto listing = client_.list(prefix_, inventory_prefixes(prefix_));
    if (!listing) return listing.failure();
    const std::size_t keys = listing->kvs.size();
    const std::int64_t revision = listing->revision;
    replace_mirror(std::move(*listing));
    spdlog::debug("etcd: read {} keys under {} at revision {} in {} ms", keys, prefix_, revision,
                  ms_since(start));
    return {};
}

std::vector<std::string> EtcdSource::replace_mirror(Listing listing) const {
    std::map<std::string, Entry> next;
    for (auto& kv : listing.kvs)
        if (!is_inventory_key(prefix_, kv.key))
            next.emplace_hint(next.end(), std::move(kv.key),
                              Entry{std::move(kv.value), kv.mod_revision});
    std::vector<std::string> changed;
    std::lock_guard guard(mirror_mutex_);
    // What the watch applied after the listing's revision is newer than the listing.
    for (const auto& [key, entry] : mirror_)
        if (entry.mod_revision > listing.revision) next[key] = entry;
    for (const auto& [key, entry] : mirror_) {
        const auto it = next.find(key);
        if (entry.value && (it == next.end() || it->second.value != entry.value))
            changed.push_back(key);
    }
    for (const auto& [key, entry] : next) {
        const auto it = mirror_.find(key);
        if (entry.value && (it == mirror_.end() || !it->second.value)) changed.push_back(key);
    }
    mirror_ = std::move(next);
    listed_revision_ = std::max(listed_revision_, listing.revision);
    listed_ = true;
    return changed;
}

std::vector<std::string> EtcdSource::apply_events(const WatchMessage& message) const {
    std::vector<std::string> changed;
    std::lock_guard guard(mirror_mutex_);
    for (const WatchEvent& event : message.events) {
        const std::int64_t revision = event.kv.mod_revision;
        if (revision <= listed_revision_ || is_inventory_key(prefix_, event.kv.key)) continue;
        auto [it, added] = mirror_.try_emplace(event.kv.key);
        if (!added && revision <= it->second.mod_revision) continue;
        it->second.mod_revision = revision;
        if (event.deleted)
            it->second.value.reset();
        else
            it->second.value = event.kv.value;
        changed.push_back(event.kv.key);
    }
    return changed;
}

std::vector<KeyValue> EtcdSource::mirrored() const {
    std::vector<KeyValue> kvs;
    std::lock_guard guard(mirror_mutex_);
    kvs.reserve(mirror_.size());
    for (const auto& [key, entry] : mirror_)
        if (entry.value) kvs.push_back({key, *entry.value, entry.mod_revision});
    return kvs;
}

StoreContents EtcdSource::load(const Snapshot* previous) const {
    Result<void> read;
    bool reuse = false;
    if (!previous) {
        std::lock_guard guard(mirror_mutex_);
        reuse = listed_ && !first_load_done_;
        first_load_done_ = true;
    }
    if (!reuse) read = refresh();
    const auto start = std::chrono::steady_clock::now();
    StoreContents contents = contents_of(prefix_, mirrored(), previous);
    spdlog::debug("etcd: parsed the mirror in {} ms", ms_since(start));
    if (!read)
        contents.problems.insert(contents.problems.begin(),
                                 LoadProblem{describe(), 0,
                                             "cannot be read (" + read.failure().reason +
                                                 "); serving what was read from it before",
                                             ""});
    return contents;
}

std::optional<std::vector<LocationChange>> EtcdSource::read_changes(
    const std::vector<std::string>& locations, const Snapshot& previous) const {
    std::vector<LocationChange> changes;
    changes.reserve(locations.size());
    for (const std::string& location : locations) {
        // A machine of the bootcfg layout merges two keys: loaded with everything (rare).
        if (layout_path(prefix_, location)) return std::nullopt;
        std::vector<KeyValue> kvs;
        {
            std::lock_guard guard(mirror_mutex_);
            if (const auto it = mirror_.find(location); it != mirror_.end() && it->second.value)
                kvs.push_back({location, *it->second.value, it->second.mod_revision});
        }
        changes.push_back({location, contents_of(prefix_, kvs, &previous), false});
    }
    return changes;
}

bool EtcdSource::watch(boost::asio::io_context& ioc, ChangeHandler on_change) const {
    if (follower_) return true;
    auto tell = [&ioc, on_change = std::move(on_change)](std::vector<std::string> keys) {
        if (keys.empty()) return;
        boost::asio::post(ioc, [on_change, keys = std::move(keys)]() mutable {
            on_change(std::move(keys), false);
        });
    };
    std::int64_t start = 0;
    {
        std::lock_guard guard(mirror_mutex_);
        start = listed_revision_ + 1;  // later, the follower keeps its own place
    }
    follower_ = std::make_unique<Follower>(client_, prefix_, "etcd", inventory_prefixes(prefix_));
    follower_->start(
        start, [this, tell](const WatchMessage& message) { tell(apply_events(message)); },
        [this, tell](Listing listing) { tell(replace_mirror(std::move(listing))); });
    return true;
}

std::string EtcdSource::locate(const ObjectRef& ref, const Snapshot& current) const {
    if (ref.kind == ObjectKind::groups) {
        if (const Group* g = current.group(ref.name); g && g->source.starts_with(prefix_))
            return g->source;
    } else if (ref.kind == ObjectKind::profiles) {
        if (const Profile* p = current.profile(ref.name); p && p->source.starts_with(prefix_))
            return p->source;
    }
    return key_of(prefix_, ref);
}

std::optional<std::string> EtcdSource::read(const std::string& location) const {
    if (auto got = client_.get(location)) {
        if (!*got) return std::nullopt;
        return std::move((*got)->value);
    }
    std::lock_guard guard(mirror_mutex_);
    if (const auto it = mirror_.find(location); it != mirror_.end()) return it->second.value;
    return std::nullopt;
}

WriteOutcome EtcdSource::write(const std::vector<ObjectWrite>& writes) const {
    std::lock_guard guard(write_mutex_);
    auto refused = [](const Failure& failure, const std::string& location) {
        return WriteOutcome{
            failure.field == "unreachable" ? WriteOutcome::unavailable : WriteOutcome::failed,
            failure.reason,
            "",
            location,
            {}};
    };
    // A write of more objects is refused rather than split (it would no longer be all or none).
    if (writes.size() > kMaxTxnOps)
        return {WriteOutcome::failed,
                "more than " + std::to_string(kMaxTxnOps) + " objects in one write",
                "",
                "",
                {}};
    WriteOutcome outcome;
    std::vector<TxnOp> ops;
    for (const ObjectWrite& w : writes) {
        // What the key holds now, from etcd itself: the compare below is against this.
        auto now = client_.get(w.location);
        if (!now) return refused(now.failure(), w.location);
        const std::optional<std::string> bytes =
            *now ? std::optional<std::string>((*now)->value) : std::nullopt;
        if (w.expected) {
            const std::string revision = bytes ? stored_revision(w.kind, *bytes) : "";
            if (revision != *w.expected)
                return {WriteOutcome::conflict, "", revision, w.location, {}};
        }
        if (w.bytes && bytes == w.bytes) {
            outcome.unchanged.push_back(w.location);
            continue;
        }
        if (!w.bytes && !bytes) continue;
        ops.push_back({w.location, w.bytes, *now ? (*now)->mod_revision : 0});
    }
    if (ops.empty()) return outcome;
    auto done = client_.txn(ops);
    if (!done) return refused(done.failure(), "");
    if (done->succeeded) return outcome;
    // Another writer got in between the read and the transaction: say where, and what is there.
    for (const TxnOp& op : ops) {
        auto now = client_.get(op.key);
        if (!now) return refused(now.failure(), op.key);
        const std::int64_t revision = *now ? (*now)->mod_revision : 0;
        if (revision != *op.mod_revision) {
            const ObjectWrite& w = *std::find_if(
                writes.begin(), writes.end(), [&](const auto& x) { return x.location == op.key; });
            return {WriteOutcome::conflict,
                    "",
                    *now ? stored_revision(w.kind, (*now)->value) : "",
                    op.key,
                    {}};
        }
    }
    return {WriteOutcome::conflict, "", "", "", {}};
}

}  // namespace bootcfg::etcd
