// The machine inventory: what bootcfgd has seen of each machine and its lifecycle state, kept
// apart from the config (machine_store.hpp: SQLite in the state dir, or etcd shared by every
// replica). Requests hand sightings to per-thread buffers and never wait; one writer thread
// applies them in batches (observe(), machine.hpp), writes what changed, and applies the other
// replicas' changes. State changes by check-in or operator are written before their call
// returns.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "inventory/checkin.hpp"
#include "inventory/events.hpp"
#include "inventory/machine.hpp"
#include "inventory/machine_store.hpp"
#include "result/result.hpp"

namespace bootcfg::inventory {

struct InventoryOptions {
    std::string state_path;              // open(): a directory for SQLite; made if missing
    std::size_t queue_limit = 100000;    // sightings waiting; beyond it they are dropped
    std::int64_t checkin_ttl_s = 86400;  // how long a rendered check-in URL works
};

struct InventoryStats {
    std::size_t queue_depth = 0;
    std::size_t peak_queue_depth = 0;  // the most sightings waiting at once
    std::uint64_t dropped = 0;         // sightings dropped because the queue was full
    std::uint64_t applied = 0;         // sightings written
    std::uint64_t batches = 0;         // transactions committed
    std::uint64_t write_errors = 0;
    std::uint64_t remote_changes = 0;  // other replicas' changes applied
};

class Inventory {
  public:
    // Opens (or makes) DIR/inventory.db and DIR/checkin.key and loads every record. The writer
    // starts at once. `skipped` names rows that did not parse (reported by the caller).
    // Sightings are applied and written once a second (state changes they cause included; a
    // machine only seen again at most every 10 s); set_state, forget and flush are written at
    // once. Records that could not be written are tried again on the next pass.
    static Result<std::unique_ptr<Inventory>> open(const InventoryOptions& options,
                                                   std::vector<std::string>& skipped);
    // The same over another store (etcd), which it follows for other replicas' changes.
    static Result<std::unique_ptr<Inventory>> open(const InventoryOptions& options,
                                                   std::unique_ptr<MachineStore> store,
                                                   std::vector<std::string>& skipped);
    ~Inventory();  // writes what is queued, then stops

    // The request path: never blocks on the writer. Each request thread keeps its own buffer
    // (the writer takes them once a second); the same request again from the same machine is
    // merged into the one before it, without a copy.
    std::optional<std::string> state_of(std::string_view id) const;
    void record(const SightingView& sighting);
    void record(const Sighting& sighting) { record(SightingView(sighting)); }

    // Committed when they return. set_state makes the record if the machine is new.
    Result<MachineRecord> set_state(const std::string& id, const std::string& state,
                                    const std::string& by);
    Result<bool> forget(const std::string& id);  // false: there was no such machine
    // The machine's BMC: the settings go into its record (lib/bmc checks them first; null
    // removes the BMC), the password into the store's secrets, never into the record. Makes the
    // record if the machine is new.
    Result<MachineRecord> set_bmc(const std::string& id, const nlohmann::json& settings,
                                  const std::string& password, const std::string& by);
    // What the machine's BMC tells of it, kept in its record.
    Result<MachineRecord> set_hardware(const std::string& id, const nlohmann::json& hardware);
    // The password set with the BMC; nullopt when none was.
    Result<std::optional<std::string>> bmc_password(const std::string& id);
    // Waits until every sighting queued before the call is written.
    void flush();

    std::vector<MachineRecord> list() const;
    std::optional<MachineRecord> get(const std::string& id) const;
    InventoryStats stats() const;
    std::size_t size() const;
    // Machines per state; the lifecycle's four states always present.
    std::map<std::string, std::size_t> count_by_state() const;

    const CheckinSigner& signer() const { return signer_; }
    // Machine events (written by the writer after each commit) and store events (the admin API).
    EventLog& events() { return events_; }
    std::int64_t checkin_ttl_s() const { return options_.checkin_ttl_s; }
    const MachineStore& store() const { return *store_; }

  private:
    struct Command;
    struct Outcome;
    struct Pass;
    Inventory(InventoryOptions options, std::unique_ptr<MachineStore> store, CheckinSigner signer,
              std::vector<MachineRecord> records);
    void run();
    void set_indexed_state(const std::string& id, const std::string* state);
    // Queues a command for the writer and waits for its outcome (a failure as the Failure).
    Result<Outcome> execute(Command command);
    // The writer: a record gone from records_ leaves the state index, its boot count and an
    // event behind it.
    void drop_record(const std::string& id);
    // The writer: other replicas' changes applied to the records (records_mutex_ held).
    void apply_remote(std::vector<RemoteChange>& changes, std::int64_t listed_at);
    // The writer: the dirty records written; what was written becomes events.
    Result<void> write_rows(Pass& pass);

    InventoryOptions options_;
    std::unique_ptr<MachineStore> store_;
    CheckinSigner signer_;
    EventLog events_;

    // Records: written by the writer thread, read by admin calls.
    mutable std::mutex records_mutex_;
    std::unordered_map<std::string, MachineRecord> records_;

    // id -> state for the request path, sharded so readers rarely meet a writer.
    static constexpr std::size_t kShards = 64;
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    struct Shard {
        mutable std::shared_mutex mutex;
        std::unordered_map<std::string, std::string, Hash, std::equal_to<>> states;
    };
    std::unique_ptr<Shard[]> shards_;

    // One request thread's sightings since the writer last took them.
    struct Buffer {
        std::mutex mutex;  // its thread and, once a second, the writer
        std::vector<Sighting> sightings;
        std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>> latest;  // id -> index
    };
    Buffer& local_buffer();
    std::vector<Sighting> take_buffers();  // the writer: every buffer's sightings, emptied
    const std::uint64_t instance_ = next_instance();
    static std::uint64_t next_instance();
    mutable std::mutex buffers_mutex_;
    std::vector<std::unique_ptr<Buffer>> buffers_;

    // Commands and the writer's progress.
    mutable std::mutex queue_mutex_;
    std::condition_variable queue_cv_, done_cv_;
    std::vector<Command> commands_;
    std::vector<std::pair<std::vector<RemoteChange>, std::int64_t>> remote_;
    bool stopping_ = false;
    // flush() takes a ticket; a writer pass answers every ticket issued before it began.
    std::uint64_t flush_wanted_ = 0, flush_done_ = 0;
    std::atomic<std::uint64_t> peak_queue_{0};  // the most sightings one writer pass took
    std::atomic<std::uint64_t> dropped_{0}, applied_{0}, batches_{0}, write_errors_{0},
        remote_changes_{0};
    // The writer's own: boots counted per machine since its record was last written (a shared
    // store adds them to another replica's count), and records whose write failed.
    std::unordered_map<std::string, std::uint64_t> new_boots_;
    std::vector<std::string> retry_;
    bool failing_ = false;  // the last write failed (logged once per run of failures)
    std::thread writer_;
};

}  // namespace bootcfg::inventory
