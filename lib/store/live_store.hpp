// The store as served: one backend, the current snapshot, and one writer at a time (reloads,
// applied changes, admin writes), so an older result never replaces a newer one.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace bootcfg {

class LiveStore {
  public:
    LiveStore(const StoreSource& source, SnapshotHolder& holder)
        : source_(source), holder_(holder) {}

    const StoreSource& source() const { return source_; }
    std::shared_ptr<const Snapshot> current() const { return holder_.get(); }

    // Loads everything again and swaps it in.
    void reload();
    // What apply() did, for the log.
    struct Applied {
        std::size_t files = 0;
        long long micros = 0;
        std::string summary;  // the new snapshot's (Snapshot::summary)
    };
    // Reads only the changed locations and swaps in the previous snapshot patched with them;
    // loads everything (and says so in the log) when the source cannot apply them one by one:
    // then nullopt.
    std::optional<Applied> apply(const std::vector<std::string>& locations);

    // For a writer: reloads and other writers wait while it checks, writes and publishes.
    std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }
    // The snapshot that follows `base` with these changes (not published).
    static std::shared_ptr<const Snapshot> patched(const Snapshot& base,
                                                   std::vector<LocationChange> changes);
    // Swaps in a snapshot a writer built; the caller holds lock().
    void publish(std::shared_ptr<const Snapshot> next) { swap_in(std::move(next)); }

    // Frees the replaced snapshots no request holds any more, on the caller's thread (the
    // reloader's): freeing a large one takes milliseconds that a request thread must not spend.
    void release_retired();

  private:
    void reload_locked();
    void swap_in(std::shared_ptr<const Snapshot> next);
    const StoreSource& source_;
    SnapshotHolder& holder_;
    std::mutex mutex_;
    std::mutex retired_mutex_;
    std::vector<std::shared_ptr<const Snapshot>> retired_;
};

}  // namespace bootcfg
