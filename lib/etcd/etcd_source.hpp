// The store's objects in etcd: one key per object under a prefix ("profiles/<id>",
// "groups/<id>", "ignition/<name>", "cloud/<name>", "generic/<name>", and the bootcfg layout's
// "boot/..." and "cloud/{default,mac/,uuid/}..."), each holding a data dir file's bytes. The source
// keeps a mirror of those keys: filled by one paged range read at a single revision, kept current
// by a watch from that revision (a compacted watch reads everything again), and updated by its own
// writes, which are transactions comparing each key's mod_revision. Requests are served from
// snapshots built from the mirror, so they never wait for etcd and go on when it is unreachable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "etcd/etcd_client.hpp"
#include "store/store.hpp"

namespace bootcfg::etcd {

// "/bootcfg/" by default; a prefix without a trailing '/' gets one.
std::string normal_prefix(std::string prefix);

// Keys under the prefix that hold the machine inventory ("machines/<id>", "secrets/..."), not
// the store's objects: the store neither serves nor reports nor exports them.
bool is_inventory_key(const std::string& prefix, std::string_view key);
// The prefixes of those keys, for listings that leave them out.
std::vector<std::string> inventory_prefixes(const std::string& prefix);

// The bootcfg layout's keys ("boot/default", "boot/mac/<MAC>", "boot/uuid/<UUID>",
// "cloud/default", "cloud/mac/<MAC>", "cloud/uuid/<UUID>": the data dir's paths) hold a machine's
// boot config and cloud-config; the path below the prefix for such a key, else nullopt.
std::optional<std::string> layout_path(const std::string& prefix, std::string_view key);

// What the store's objects look like under a prefix, from keys and values (pure): each object
// parsed like its data dir file, a key outside the layout reported. A key that `previous`
// holds and that is now broken keeps its last good version.
StoreContents contents_of(const std::string& prefix, const std::vector<KeyValue>& kvs,
                          const Snapshot* previous);

class EtcdSource final : public StoreSource {
  public:
    EtcdSource(ClusterOptions cluster, std::string prefix);
    ~EtcdSource() override;  // ends the watch

    // Reads everything into the mirror; at start-up, before the first load.
    Result<void> refresh() const;

    std::string describe() const override;
    // A first load (no previous snapshot) takes the mirror refresh() filled; later ones read
    // everything again, or keep the mirror (reported) when etcd cannot be read.
    StoreContents load(const Snapshot* previous) const override;
    std::optional<std::vector<LocationChange>> read_changes(
        const std::vector<std::string>& locations, const Snapshot& previous) const override;
    bool watch(boost::asio::io_context& ioc, ChangeHandler on_change) const override;
    void unwatch() const override;
    std::string locate(const ObjectRef& ref, const Snapshot& current) const override;
    // The key now, read from etcd (the mirror's copy when etcd cannot be read).
    std::optional<std::string> read(const std::string& location) const override;
    using StoreSource::write;
    WriteOutcome write(const std::vector<ObjectWrite>& writes) const override;
    std::string health() const override;

    const Client& client() const { return client_; }
    const std::string& prefix() const { return prefix_; }

  private:
    struct Entry {
        std::optional<std::string> value;  // nullopt: deleted (kept so an older event is ignored)
        std::int64_t mod_revision = 0;
    };
    // The mirror replaced by a full listing; returns the keys whose value changed.
    std::vector<std::string> replace_mirror(Listing listing) const;
    // A watch message's events applied where newer than what the mirror holds; returns the
    // keys that changed.
    std::vector<std::string> apply_events(const WatchMessage& message) const;
    std::vector<KeyValue> mirrored() const;

    Client client_;
    std::string prefix_;
    mutable std::mutex mirror_mutex_;
    mutable std::map<std::string, Entry> mirror_;
    mutable std::int64_t listed_revision_ = 0;  // the last full listing's; older events ignored
    mutable bool listed_ = false;
    mutable bool first_load_done_ = false;
    mutable std::mutex write_mutex_;
    mutable std::unique_ptr<Follower> follower_;
};

}  // namespace bootcfg::etcd
