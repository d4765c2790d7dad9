// Keeps the snapshot current: applies what the source reports as changed (debounced) and
// reloads everything on SIGHUP, on its own thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "store/live_store.hpp"

namespace bootcfg {

// The log lines of applied changes: a change after a quiet interval is logged at once, those
// that follow within it are held and logged as one line when it ends. A stream of 100
// changes/s (etcd) writes one line a second instead of waking the log writer 100 times.
class AppliedLog {
  public:
    using Clock = std::chrono::steady_clock;
    // `source`: what the changes are applied from (StoreSource::describe).
    explicit AppliedLog(std::string source,
                        std::chrono::milliseconds interval = std::chrono::seconds(1))
        : source_(std::move(source)), interval_(interval) {}
    // The line to log now for this change, or "" when it is held.
    std::string add(LiveStore::Applied applied, Clock::time_point now);
    // When the held changes are due (nullopt: none held).
    std::optional<Clock::time_point> due() const;
    // The held changes as one line ("" when none); nothing is held afterwards.
    std::string fold(Clock::time_point now);

  private:
    std::string source_;
    std::chrono::milliseconds interval_;
    std::optional<Clock::time_point> logged_;  // when a line was last logged
    Clock::time_point first_held_;
    std::size_t changes_ = 0, files_ = 0;
    long long micros_ = 0, longest_ = 0;
    std::string summary_;  // the last held change's
};

class Reloader {
  public:
    // debounce 0: apply what has arrived as soon as the thread is free (what arrives meanwhile
    // is applied together next).
    explicit Reloader(LiveStore& store,
                      std::chrono::milliseconds debounce = std::chrono::milliseconds(10));
    ~Reloader();  // stops the thread
    Reloader(const Reloader&) = delete;
    Reloader& operator=(const Reloader&) = delete;

    void start();
    // Called around each full reload (SIGHUP, or more changes than are applied one by one), not
    // around changes applied in place: for service managers (systemd's RELOADING=1 / READY=1).
    void on_reload(std::function<void(bool begin)> hook);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bootcfg
