// The store: an immutable, indexed snapshot of the data, the backends it is read from and written
// to, and the holder that swaps a new snapshot in on change while readers keep the one they took.
#pragma once

#include <atomic>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.hpp"
#include "store/group_index.hpp"
#include "store/object_map.hpp"
#include "store/objects.hpp"
#include "template/template.hpp"

namespace boost::asio {
class io_context;
}

namespace bootcfg {

struct LoadProblem {
    std::string path;
    int line = 0;  // 0: the file as a whole
    std::string reason;
    std::string field;  // the field at fault ("profile", "selector", "cloud_id"), if one is
    bool about_file_name = false;   // the file's name is at fault, not what it holds
    std::string to_string() const;  // "path:line: reason" or "path: reason"
};

// A named config file from ignition/, cloud/ or generic/ (or the bootcfg layout's cloud/).
struct TemplateEntry {
    std::string name;
    std::string text;
    std::shared_ptr<const Template> parsed;  // null: served as stored (raw)
    std::string source;
};
std::string revision(const TemplateEntry& entry);  // of its bytes

// What a backend produced (everything, or what one location holds now), before indexing.
struct StoreContents {
    std::vector<Profile> profiles;
    std::vector<Group> groups;
    std::vector<TemplateEntry> templates[3];  // by TemplateKind
    std::vector<LoadProblem> problems;
};

// One location (a file) read again: what it holds now replaces what it held.
struct LocationChange {
    std::string location;
    StoreContents now;           // empty: the location is gone
    bool keep_previous = false;  // unreadable or broken: what it held stays served
};

// The definitions of one id, by source; the first is served. Nearly always one, kept inline (a
// heap block per object costs a million-group fleet 32 MB).
template <class T>
using Definitions = boost::container::small_vector<std::shared_ptr<const T>, 1>;

class Snapshot {
  public:
    explicit Snapshot(StoreContents contents, std::uint64_t generation = 0);
    // `previous` with each changed location's objects replaced: no other location is read again
    // and the maps and index are shared with `previous` except where they changed.
    Snapshot(const Snapshot& previous, std::vector<LocationChange> changes,
             std::uint64_t generation);

    const Profile* profile(std::string_view id) const;
    const Group* group(std::string_view id) const;  // the served group with this id
    const TemplateEntry* template_entry(TemplateKind kind, std::string_view name) const;
    // Served objects in load order (by source), for listings and checks; not for requests.
    std::vector<const Profile*> profiles() const;
    std::vector<const Group*> groups() const;
    std::vector<const TemplateEntry*> templates(TemplateKind kind) const;
    // fn(object) for each served object, in no particular order.
    template <class Fn>
    void for_each_profile(Fn&& fn) const {
        profiles_.for_each([&](const std::string&, const auto& defs) { fn(*defs.front()); });
    }
    template <class Fn>
    void for_each_group(Fn&& fn) const {
        groups_.for_each([&](const std::string&, const auto& defs) { fn(*defs.front()); });
    }
    const GroupIndex& index() const { return index_; }
    const std::vector<LoadProblem>& problems() const { return problems_; }
    // Does a location hold anything served?
    bool holds(std::string_view location) const { return !held_at(location).empty(); }
    // What a location holds (its last good version), to keep when it turns broken.
    StoreContents objects_at(std::string_view location) const;
    std::size_t profile_count() const { return profiles_.size(); }
    std::size_t group_count() const { return groups_.size(); }
    std::size_t template_count() const;
    std::uint64_t generation() const { return generation_; }
    // "G groups, P profiles, T templates, N problems", for the log and -validate.
    std::string counts() const;
    // "(generation N): " + counts(), for the log.
    std::string summary() const;

  private:
    using Held =
        std::vector<std::pair<int, std::string>>;  // (slot, id): 0 profile, 1 group, 2+kind
    // What a location holds. A group whose id is its file's name (a fleet's one file per machine)
    // is found through groups_ instead of an entry in locations_, which would cost ~180 bytes
    // per group.
    Held held_at(std::string_view location) const;

    void add(StoreContents contents);
    void drop_location(const std::string& location);
    // Cross-file problems, kept per object id so a change rechecks only what it can affect.
    void check_profile(const std::string& id);
    void check_group(const std::string& id);
    std::vector<LoadProblem> profile_problems(const std::string& id) const;
    std::vector<LoadProblem> group_problems(const std::string& id) const;
    void check_all();
    void collect_problems();
    std::string rejected(const std::string& relative) const;

    ObjectMap<Definitions<Profile>> profiles_;
    ObjectMap<Definitions<Group>> groups_;
    ObjectMap<Definitions<TemplateEntry>> templates_[3];
    ObjectMap<Held> locations_;
    GroupIndex index_;
    std::vector<LoadProblem> file_problems_;  // the backend's, per location
    ObjectMap<std::vector<LoadProblem>> profile_problems_, group_problems_;  // by id; none empty
    std::vector<LoadProblem> problems_;  // file_problems_ then cross-file ones
    std::uint64_t generation_;
};

// One object to replace (bytes) or remove (nullopt), provided its location still holds revision
// `expected` (nullopt: whatever it holds; "": nothing).
struct ObjectWrite {
    std::string location;
    ObjectKind kind;
    std::optional<std::string> bytes;
    std::optional<std::string> expected;
};

// Result of a write to a backend.
struct WriteOutcome {
    enum Status { written, conflict, failed, unavailable } status = written;
    std::string reason;                  // failed, unavailable: why
    std::string current_revision;        // conflict: what the location holds now ("": nothing)
    std::string location;                // conflict, failed: where (when known)
    std::vector<std::string> unchanged;  // written: locations that held the bytes already
};

// Called with the locations that changed; all=true when the backend cannot tell which (then
// everything is loaded again).
using ChangeHandler = std::function<void(std::vector<std::string> locations, bool all)>;

// A backend that holds the store's objects: the data directory today, a key-value store later.
// Reads must not throw; a source that cannot be read at all reports it as a problem. When an
// entry that `previous` holds is now unreadable or broken, the source keeps the previous version
// (and reports the problem) rather than letting the machine fall through to another config.
class StoreSource {
  public:
    virtual ~StoreSource() = default;
    virtual std::string describe() const = 0;
    // Everything, from scratch.
    virtual StoreContents load(const Snapshot* previous) const = 0;
    // What these locations hold now, to update `previous` with; nullopt when they cannot be
    // applied one by one (then everything is loaded).
    virtual std::optional<std::vector<LocationChange>> read_changes(
        const std::vector<std::string>& locations, const Snapshot& previous) const = 0;
    // Starts reporting changes on `ioc` (the reloader's thread); false when it cannot.
    virtual bool watch(boost::asio::io_context& ioc, ChangeHandler on_change) const = 0;
    // Stops reporting before `ioc` goes away (a source that reports from a thread of its own
    // joins it here); what runs on `ioc` itself stops with it.
    virtual void unwatch() const {}

    // Where an object lives: where its served version came from, else where a new one goes.
    virtual std::string locate(const ObjectRef& ref, const Snapshot& current) const = 0;
    // The bytes stored at a location; nullopt when nothing is.
    virtual std::optional<std::string> read(const std::string& location) const = 0;
    // Replaces or removes several objects, durably and all or nothing: every expected revision
    // holds and every new version is stored before the first one replaces what is served. A
    // location that holds the bytes already is left alone (not even its mtime changes).
    virtual WriteOutcome write(const std::vector<ObjectWrite>& writes) const = 0;
    WriteOutcome write(ObjectWrite one) const { return write(std::vector{std::move(one)}); }
    // "" while the backend can be read and written; else why not and since when (serving goes
    // on from the last snapshot).
    virtual std::string health() const { return {}; }
};

// Reads a data directory: matchbox's layout (profiles/, groups/, ignition/, cloud/, generic/) and
// bootcfg's (boot/, cloud/{default,uuid,mac}), both expressed as profiles and groups.
class DirectorySource final : public StoreSource {
  public:
    explicit DirectorySource(std::string root);
    std::string describe() const override { return root_; }
    StoreContents load(const Snapshot* previous) const override;
    std::optional<std::vector<LocationChange>> read_changes(
        const std::vector<std::string>& locations, const Snapshot& previous) const override;
    bool watch(boost::asio::io_context& ioc, ChangeHandler on_change) const override;
    std::string locate(const ObjectRef& ref, const Snapshot& current) const override;
    std::optional<std::string> read(const std::string& location) const override;
    using StoreSource::write;
    WriteOutcome write(const std::vector<ObjectWrite>& writes) const override;
    const std::string& root() const { return root_; }

  private:
    std::string root_;  // without a trailing '/': locations are root_ + "/" + relative path
    mutable std::mutex write_mutex_;
};

// Shared, atomically swapped current snapshot. Readers hold their shared_ptr for the request, so
// a swap never pulls data from under an in-flight request.
class SnapshotHolder {
  public:
    explicit SnapshotHolder(std::shared_ptr<const Snapshot> initial)
        : current_(std::move(initial)) {}
    std::shared_ptr<const Snapshot> get() const { return current_.load(std::memory_order_acquire); }
    void set(std::shared_ptr<const Snapshot> next) {
        current_.store(std::move(next), std::memory_order_release);
        version_.fetch_add(1, std::memory_order_release);
    }
    // Bumped after each set(): hot paths keep their own copy and re-fetch only on change.
    std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  private:
    std::atomic<std::shared_ptr<const Snapshot>> current_;
    std::atomic<std::uint64_t> version_{0};
};

// What `bootcfgd -validate` warns about beyond the loader's problems, data that loads but fails
// at boot: a profile's /assets/ kernel or initrd missing under `assets_root` (skipped when it is
// empty), a Butane config or Container Linux Config in ignition/ (not Ignition JSON).
std::vector<LoadProblem> deployment_warnings(const Snapshot& snapshot,
                                             const std::string& assets_root);

// Problems about a field (a cross-file one names the field, not the line) given the line of that
// field's key in their file, read again for it (for -validate; not on the request path).
std::vector<LoadProblem> with_field_lines(std::vector<LoadProblem> problems,
                                          const StoreSource& source);

// `bootcfgd -validate` of a data dir or etcd: the problems (with their lines), then the deployment
// warnings, then a summary line; passed when there is no problem (warnings do not fail the check).
struct Validation {
    std::vector<std::string> lines;
    bool passed = false;
};
Validation validate_store(const StoreSource& source, const std::string& assets_root);

// Loads a snapshot from a source, logging each problem with its path.
std::shared_ptr<const Snapshot> load_snapshot(const StoreSource& source, const Snapshot* previous);

}  // namespace bootcfg
