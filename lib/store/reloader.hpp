// Keeps the snapshot current: reloads on SIGHUP and when files under the data directory change
// (inotify, debounced), on its own thread, then swaps the new snapshot in.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "store/store.hpp"

namespace bootcfg {

class Reloader {
  public:
    Reloader(const DirectorySource& source, SnapshotHolder& holder,
             std::chrono::milliseconds debounce = std::chrono::milliseconds(150));
    ~Reloader();  // stops the thread
    Reloader(const Reloader&) = delete;
    Reloader& operator=(const Reloader&) = delete;

    void start();
    // Reloads on the caller's thread and swaps the result in before returning; serialized with
    // the watcher's reloads so an older load never replaces a newer one.
    void reload_now();
    // Called around each reload: for service managers (systemd's RELOADING=1 / READY=1).
    void on_reload(std::function<void(bool begin)> hook);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bootcfg
