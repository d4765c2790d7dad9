// The devices `bootcfg run` created and has not deleted yet, on disk, so that a run that dies
// (kill -9, a crash, a lost laptop lid) leaves something `bootcfg devices delete --orphans`
// can find: a billable device is never forgotten with the process that made it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bootcfg {

struct LedgerEntry {
    std::string provider;  // equinixmetal | bootcfg
    std::string where;     // the API URL and project, or the bootcfgd endpoint
    std::string tag;       // unique per run; set on the device before it exists
    std::string id;        // empty until the create answered
    std::string hostname;
    std::int64_t created = 0;  // unix seconds
};

class DeviceLedger {
  public:
    // $BOOTCFG_STATE_DIR, else $XDG_STATE_HOME/bootcfg, else $HOME/.local/state/bootcfg.
    static DeviceLedger from_environment(const std::function<const char*(const char*)>& getenv);
    explicit DeviceLedger(std::string path) : path_(std::move(path)) {}

    const std::string& path() const { return path_; }
    // Each change is one locked, atomic rewrite of the file; throws ProviderError naming it.
    void put(const LedgerEntry& entry);  // adds, or replaces the entry with the same tag
    void remove(const std::string& tag);
    std::vector<LedgerEntry> entries() const;

  private:
    void update(const std::function<void(std::vector<LedgerEntry>&)>& change);
    std::string path_;
};

// A fresh run tag: "bootcfg-run-" and 16 random hex digits.
std::string new_run_tag();

}  // namespace bootcfg
