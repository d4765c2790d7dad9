// The store: an immutable, indexed snapshot of the data directory, and the holder that swaps a
// new snapshot in on change while readers keep the one they took.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "match/group_index.hpp"
#include "model/model.hpp"
#include "template/template.hpp"

namespace bootcfg {

struct LoadProblem {
    std::string path;
    int line = 0;  // 0: the file as a whole
    std::string reason;
    std::string to_string() const;  // "path:line: reason" or "path: reason"
};

// A named config file from ignition/, cloud/ or generic/ (or the bootcfg layout's cloud/).
struct TemplateEntry {
    std::string name;
    std::string text;
    std::shared_ptr<const Template> parsed;  // null: served as stored (raw)
    std::string source;
};

// Everything a backend produced, before indexing.
struct StoreContents {
    std::vector<Profile> profiles;
    std::vector<Group> groups;
    std::unordered_map<std::string, TemplateEntry> templates[3];  // by TemplateKind
    std::vector<LoadProblem> problems;
};

class Snapshot;

class Snapshot {
  public:
    explicit Snapshot(StoreContents contents, std::uint64_t generation = 0);

    const Profile* profile(const std::string& id) const;
    const TemplateEntry* template_entry(TemplateKind kind, const std::string& name) const;
    const std::unordered_map<std::string, TemplateEntry>& templates(TemplateKind kind) const {
        return templates_[static_cast<int>(kind)];
    }
    const std::vector<Group>& groups() const { return groups_; }
    const GroupIndex& index() const { return index_; }
    const std::vector<LoadProblem>& problems() const { return problems_; }
    const std::unordered_map<std::string, Profile>& profiles() const { return profiles_; }
    std::size_t profile_count() const { return profiles_.size(); }
    std::size_t template_count() const;
    std::uint64_t generation() const { return generation_; }
    // A copy of what the snapshot was built from (problems included): the base of a candidate
    // snapshot with one object changed.
    StoreContents contents() const;

  private:
    std::unordered_map<std::string, Profile> profiles_;
    std::vector<Group> groups_;
    std::unordered_map<std::string, TemplateEntry> templates_[3];
    std::vector<LoadProblem> problems_;
    GroupIndex index_;
    std::uint64_t generation_;
};

// A backend that can produce the store's contents: the data directory today, a key-value store
// later. Must not throw; a source that cannot be read at all reports it as a problem. When an
// entry that `previous` holds is now unreadable or broken, the source keeps the previous version
// (and reports the problem) rather than letting the machine fall through to another config.
class StoreSource {
  public:
    virtual ~StoreSource() = default;
    virtual StoreContents load(const Snapshot* previous) const = 0;
    virtual std::string describe() const = 0;
};

// Reads a data directory: matchbox's layout (profiles/, groups/, ignition/, cloud/, generic/) and
// bootcfg's (boot/, cloud/{default,uuid,mac}), both expressed as profiles and groups.
class DirectorySource final : public StoreSource {
  public:
    explicit DirectorySource(std::string root) : root_(std::move(root)) {}
    StoreContents load(const Snapshot* previous) const override;
    std::string describe() const override { return root_; }
    const std::string& root() const { return root_; }

  private:
    std::string root_;
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

// Cross-file checks on a backend's contents: duplicate ids (dropped), profiles naming missing
// templates or differing from their file name, groups naming missing profiles, groups with the
// same selector. Each is added to contents.problems with the offending file's path.
void check_references(StoreContents& contents);

// What `bootcfgd -validate` warns about beyond the loader's problems, data that loads but fails
// at boot: a profile's /assets/ kernel or initrd missing under `assets_root` (skipped when it is
// empty), a Butane config or Container Linux Config in ignition/ (not Ignition JSON).
std::vector<LoadProblem> deployment_warnings(const Snapshot& snapshot,
                                             const std::string& assets_root);

// Loads a snapshot from a source, logging each problem with its path.
std::shared_ptr<const Snapshot> load_snapshot(const StoreSource& source, const Snapshot* previous);

}  // namespace bootcfg
