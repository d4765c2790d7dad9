// Keeps the snapshot current: applies what the source reports as changed (debounced) and
// reloads everything on SIGHUP, on its own thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "store/live_store.hpp"

namespace bootcfg {

class Reloader {
  public:
    explicit Reloader(LiveStore& store,
                      std::chrono::milliseconds debounce = std::chrono::milliseconds(10));
    ~Reloader();  // stops the thread
    Reloader(const Reloader&) = delete;
    Reloader& operator=(const Reloader&) = delete;

    void start();
    // Called around each reload: for service managers (systemd's RELOADING=1 / READY=1).
    void on_reload(std::function<void(bool begin)> hook);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bootcfg
