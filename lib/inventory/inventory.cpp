#include "inventory/inventory.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "inventory/state_db.hpp"

namespace bootcfg::inventory {

namespace {

constexpr auto kWriteInterval = std::chrono::milliseconds(1000);
// A machine only seen again (no new record, no state change): its row and event at most this
// often. A kill -9 loses at most this much of last-seen times and boot counts, never a state.
constexpr auto kSeenInterval = std::chrono::seconds(10);

std::string bmc_secret_name(const std::string& id) {
    return "bmc/" + id;
}

}  // namespace

struct Inventory::Outcome {
    std::optional<Failure> failure;
    std::optional<MachineRecord> record;  // after the change; nullopt: forgotten or absent
    bool existed = false;
    std::optional<std::string> secret;  // bmc_password
};

struct Inventory::Command {
    enum { set_state, forget, set_bmc, bmc_password, set_hardware } kind;
    std::string id, state, by;
    nlohmann::json document;  // set_bmc: the settings (null: remove the BMC); set_hardware: facts
    std::string secret;       // set_bmc: its password
    std::shared_ptr<std::promise<Outcome>> done = std::make_shared<std::promise<Outcome>>();
};

Result<std::unique_ptr<Inventory>> Inventory::open(const InventoryOptions& options,
                                                   std::vector<std::string>& skipped) {
    auto db = StateDb::open(options.state_path);
    if (!db) return db.failure();
    return open(options, std::move(*db), skipped);
}

Result<std::unique_ptr<Inventory>> Inventory::open(const InventoryOptions& options,
                                                   std::unique_ptr<MachineStore> store,
                                                   std::vector<std::string>& skipped) {
    auto signer = store->checkin_signer();
    if (!signer) return signer.failure();
    auto records = store->load(skipped);
    if (!records) return records.failure();
    std::unique_ptr<Inventory> inventory(
        new Inventory(options, std::move(store), std::move(*signer), std::move(*records)));
    Inventory* self = inventory.get();
    self->store_->follow([self](std::vector<RemoteChange> changes, std::int64_t listed_at) {
        {
            std::lock_guard lk(self->queue_mutex_);
            self->remote_.emplace_back(std::move(changes), listed_at);
        }
        self->queue_cv_.notify_one();
    });
    return inventory;
}

Inventory::Inventory(InventoryOptions options, std::unique_ptr<MachineStore> store,
                     CheckinSigner signer, std::vector<MachineRecord> records)
    : options_(std::move(options)),
      store_(std::move(store)),
      signer_(std::move(signer)),
      shards_(std::make_unique<Shard[]>(kShards)) {
    for (auto& r : records) {
        if (!r.state.empty()) set_indexed_state(r.id, &r.state);
        std::string id = r.id;
        records_.emplace(std::move(id), std::move(r));
    }
    writer_ = std::thread([this] { run(); });
}

Inventory::~Inventory() {
    {
        std::lock_guard lk(queue_mutex_);
        stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_.join();
    store_.reset();  // ends following before the members its callback uses go
}

void Inventory::set_indexed_state(const std::string& id, const std::string* state) {
    Shard& shard = shards_[Hash{}(id) % kShards];
    std::unique_lock lk(shard.mutex);
    if (state)
        shard.states[id] = *state;
    else
        shard.states.erase(id);
}

std::optional<std::string> Inventory::state_of(std::string_view id) const {
    const Shard& shard = shards_[Hash{}(id) % kShards];
    std::shared_lock lk(shard.mutex);
    const auto it = shard.states.find(id);
    if (it == shard.states.end()) return std::nullopt;
    return it->second;
}

std::uint64_t Inventory::next_instance() {
    static std::atomic<std::uint64_t> n{0};
    return ++n;
}

// This thread's buffer for this inventory, registered on first use. Keyed by an instance
// number, never by address: a later inventory may reuse a freed one's address.
Inventory::Buffer& Inventory::local_buffer() {
    thread_local std::uint64_t owner = 0;
    thread_local Buffer* buffer = nullptr;
    if (owner != instance_) {
        std::lock_guard lk(buffers_mutex_);
        buffer = buffers_.emplace_back(std::make_unique<Buffer>()).get();
        owner = instance_;
    }
    return *buffer;
}

void Inventory::record(const SightingView& s) {
    Buffer& b = local_buffer();
    std::lock_guard lk(b.mutex);  // uncontended but for the writer's take, once a second
    const auto it = b.latest.find(s.id);
    if (it != b.latest.end()) {
        Sighting& last = b.sightings[it->second];
        if (s.same_as(last)) {
            ++last.count;
            last.last_ms = std::max(last.last_ms, s.time_ms);
            return;
        }
    }
    if (b.sightings.size() >= options_.queue_limit) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    b.sightings.push_back(s.copy());
    if (it != b.latest.end())
        it->second = b.sightings.size() - 1;
    else
        b.latest.emplace(std::string(s.id), b.sightings.size() - 1);
}

std::vector<Sighting> Inventory::take_buffers() {
    std::vector<Sighting> all;
    std::lock_guard lk(buffers_mutex_);
    for (auto& b : buffers_) {
        std::lock_guard blk(b->mutex);
        if (all.empty()) {
            all.swap(b->sightings);
        } else {
            all.insert(all.end(), std::make_move_iterator(b->sightings.begin()),
                       std::make_move_iterator(b->sightings.end()));
            b->sightings.clear();
        }
        b->latest.clear();
    }
    return all;
}

Result<Inventory::Outcome> Inventory::execute(Command command) {
    auto done = command.done->get_future();
    {
        std::lock_guard lk(queue_mutex_);
        if (stopping_) return fail("the inventory is shutting down");
        commands_.push_back(std::move(command));
    }
    queue_cv_.notify_one();
    Outcome o = done.get();
    if (o.failure) return *o.failure;
    return o;
}

Result<MachineRecord> Inventory::set_state(const std::string& id, const std::string& state,
                                           const std::string& by) {
    if (!valid_state(state))
        return fail("state '" + state + "' is not a state name ([a-z0-9][a-z0-9_-]*, at most 32)",
                    "state");
    auto o = execute({Command::set_state, id, state, by, nullptr, ""});
    if (!o) return o.failure();
    return std::move(*o->record);
}

Result<bool> Inventory::forget(const std::string& id) {
    auto o = execute({Command::forget, id, "", "", nullptr, ""});
    if (!o) return o.failure();
    return o->existed;
}

Result<MachineRecord> Inventory::set_bmc(const std::string& id, const nlohmann::json& settings,
                                         const std::string& password, const std::string& by) {
    auto o = execute({Command::set_bmc, id, "", by, settings, password});
    if (!o) return o.failure();
    return std::move(*o->record);
}

Result<MachineRecord> Inventory::set_hardware(const std::string& id,
                                              const nlohmann::json& hardware) {
    auto o = execute({Command::set_hardware, id, "", "", hardware, ""});
    if (!o) return o.failure();
    return std::move(*o->record);
}

Result<std::optional<std::string>> Inventory::bmc_password(const std::string& id) {
    auto o = execute({Command::bmc_password, id, "", "", nullptr, ""});
    if (!o) return o.failure();
    return std::move(o->secret);
}

void Inventory::flush() {
    std::unique_lock lk(queue_mutex_);
    const std::uint64_t ticket = ++flush_wanted_;
    queue_cv_.notify_all();
    // A pass that took this ticket took the buffers after it: everything recorded before.
    done_cv_.wait(lk, [&] { return flush_done_ >= ticket; });
}

struct Inventory::Pass {
    std::unordered_set<std::string> dirty, state_changed, written;
    std::vector<std::string> order;  // dirty ids as first touched: events in request order
    void touch(const std::string& id) {
        if (dirty.insert(id).second) order.push_back(id);
    }
};

namespace {

std::string forgotten_text(const std::string& id) {
    return nlohmann::json{{"id", id}}.dump(-1, ' ', false,
                                           nlohmann::json::error_handler_t::replace);
}

}  // namespace

void Inventory::drop_record(const std::string& id) {
    set_indexed_state(id, nullptr);
    new_boots_.erase(id);
    events_.append("machine.forgotten", forgotten_text(id));
}

void Inventory::apply_remote(std::vector<RemoteChange>& changes, std::int64_t listed_at) {
    std::unordered_set<std::string> listed;
    for (RemoteChange& c : changes) {
        if (listed_at) listed.insert(c.id);
        auto it = records_.find(c.id);
        if (!c.record) {
            // Not stored here yet (revision 0), or written again since: this replica's is newer.
            if (it == records_.end() || it->second.revision == 0 ||
                it->second.revision > c.revision)
                continue;
            records_.erase(it);
            drop_record(c.id);
            remote_changes_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        MachineRecord theirs = std::move(*c.record);
        theirs.revision = c.revision;
        bool state_changed = !theirs.state.empty();
        if (it == records_.end()) {
            if (state_changed) set_indexed_state(c.id, &theirs.state);
            it = records_.emplace(c.id, std::move(theirs)).first;
        } else {
            if (theirs.revision <= it->second.revision) continue;  // its own write, or older
            const auto boots = new_boots_.find(c.id);
            MachineRecord merged =
                merge_records(theirs, it->second, boots == new_boots_.end() ? 0 : boots->second);
            state_changed = merged.state != it->second.state;
            it->second = std::move(merged);
            if (state_changed) set_indexed_state(c.id, &it->second.state);
        }
        events_.append(state_changed ? "machine.state" : "machine", record_text(it->second));
        remote_changes_.fetch_add(1, std::memory_order_relaxed);
    }
    if (!listed_at) return;
    // A full listing: a stored record it lacks was forgotten by another replica meanwhile.
    for (auto it = records_.begin(); it != records_.end();) {
        const MachineRecord& r = it->second;
        if (r.revision == 0 || r.revision > listed_at || listed.contains(it->first)) {
            ++it;
            continue;
        }
        const std::string id = it->first;
        it = records_.erase(it);
        drop_record(id);
    }
}

Result<void> Inventory::write_rows(Pass& pass) {
    // Only this thread changes records_: reading them unlocked here is safe.
    std::vector<RecordWrite> rows;
    rows.reserve(pass.dirty.size());
    for (const auto& id : pass.order) {
        if (!pass.dirty.contains(id)) continue;
        const MachineRecord& r = records_.at(id);
        const auto boots = new_boots_.find(id);
        rows.push_back({r, record_text(r), boots == new_boots_.end() ? 0 : boots->second});
    }
    if (rows.empty()) return {};
    Result<void> written = store_->write(rows);
    if (written)
        batches_.fetch_add(1, std::memory_order_relaxed);
    else
        write_errors_.fetch_add(1, std::memory_order_relaxed);
    std::size_t unwritten = 0;
    {
        std::lock_guard lk(records_mutex_);
        for (RecordWrite& row : rows) {
            const std::string& id = row.record.id;
            if (!row.written) {
                retry_.push_back(id);
                ++unwritten;
                continue;
            }
            pass.written.insert(id);
            new_boots_.erase(id);
            MachineRecord& r = records_.at(id);
            if (!row.merged) {
                r.revision = row.record.revision;
                continue;
            }
            if (r.state != row.record.state) {
                pass.state_changed.insert(id);
                set_indexed_state(id, &row.record.state);
            }
            r = row.record;
        }
    }
    for (const RecordWrite& row : rows)
        if (row.written)
            events_.append(pass.state_changed.contains(row.record.id) ? "machine.state" : "machine",
                           row.json);
    if (!written && !failing_)
        spdlog::warn("inventory: {} of {} records not written to {} ({}); trying again", unwritten,
                     rows.size(), store_->describe(), written.failure().reason);
    else if (written && failing_)
        spdlog::info("inventory: writing to {} again", store_->describe());
    failing_ = !written;
    return written;
}

void Inventory::run() {
    std::vector<Sighting> batch;
    std::vector<Command> commands;
    std::vector<std::pair<std::vector<RemoteChange>, std::int64_t>> remote;
    auto last_write = std::chrono::steady_clock::now() - kWriteInterval;
    auto last_seen_write = std::chrono::steady_clock::now();
    // Machines only seen again (no new record, no state change): written every kSeenInterval.
    std::unordered_set<std::string> seen_only;
    std::vector<std::string> seen_order;
    for (;;) {
        std::uint64_t flush_ticket;
        bool everything, exiting;
        {
            std::unique_lock lk(queue_mutex_);
            // Sightings wait in the request threads' buffers for the next interval: a machine
            // requesting many times costs one row and one event per interval. Commands,
            // other replicas' changes, flush() and stopping go at once.
            queue_cv_.wait_until(lk, last_write + kWriteInterval, [&] {
                return stopping_ || !commands_.empty() || !remote_.empty() ||
                       flush_wanted_ != flush_done_;
            });
            flush_ticket = flush_wanted_;
            everything = flush_ticket != flush_done_ || stopping_;
            commands.swap(commands_);
            remote.swap(remote_);
            exiting = stopping_;
        }
        batch = take_buffers();  // after the flag: what was recorded before flush() is in it
        std::uint64_t sightings = 0;
        for (const Sighting& s : batch) sightings += s.count;
        peak_queue_.store(std::max(peak_queue_.load(std::memory_order_relaxed), sightings),
                          std::memory_order_relaxed);
        Pass pass;
        std::vector<std::string> removed;
        std::vector<Outcome> outcomes(commands.size());
        // Secrets first, outside the records' lock: a password that could not be stored leaves
        // the record as it was.
        for (std::size_t i = 0; i < commands.size(); ++i) {
            const Command& c = commands[i];
            if (c.kind == Command::bmc_password) {
                auto secret = store_->get_secret(bmc_secret_name(c.id));
                if (secret)
                    outcomes[i].secret = std::move(*secret);
                else
                    outcomes[i].failure = secret.failure();
            } else if (c.kind == Command::set_bmc) {
                auto stored = c.document.is_null() || c.secret.empty()
                                  ? store_->remove_secret(bmc_secret_name(c.id))
                                  : store_->put_secret(bmc_secret_name(c.id), c.secret);
                if (!stored) outcomes[i].failure = stored.failure();
            }
        }
        {
            std::lock_guard lk(records_mutex_);
            for (auto& [changes, listed_at] : remote) apply_remote(changes, listed_at);
            for (const Sighting& s : batch) {
                MachineRecord& r = records_[s.id];
                const bool fresh = r.id.empty();
                if (s.boot) new_boots_[s.id] += s.count;
                if (observe(r, s)) {
                    set_indexed_state(r.id, &r.state);
                    pass.state_changed.insert(s.id);
                    pass.touch(s.id);
                } else if (fresh) {
                    pass.touch(s.id);
                } else if (!pass.dirty.contains(s.id) && seen_only.insert(s.id).second) {
                    seen_order.push_back(s.id);
                }
            }
            for (const auto& id : retry_)
                if (records_.contains(id)) pass.touch(id);
            retry_.clear();
            const std::int64_t now = now_ms();
            for (std::size_t i = 0; i < commands.size(); ++i) {
                Command& c = commands[i];
                if (c.kind == Command::forget) {
                    outcomes[i].existed = records_.erase(c.id) > 0;
                    set_indexed_state(c.id, nullptr);
                    new_boots_.erase(c.id);
                    pass.dirty.erase(c.id);
                    seen_only.erase(c.id);
                    pass.state_changed.erase(c.id);
                    removed.push_back(c.id);
                    continue;
                }
                if (c.kind == Command::bmc_password || outcomes[i].failure) continue;
                MachineRecord& r = records_[c.id];
                outcomes[i].existed = !r.id.empty();
                if (r.id.empty()) {  // a machine named before it was seen
                    r.id = c.id;
                    if (!c.id.starts_with("uuid:")) r.mac = c.id;
                    r.first_seen_ms = r.last_seen_ms = now;
                }
                if (c.kind == Command::set_bmc) {
                    r.bmc = c.document;
                    r.bmc_set_ms = now;
                    pass.touch(c.id);
                    continue;
                }
                if (c.kind == Command::set_hardware) {
                    r.hardware = c.document;
                    pass.touch(c.id);
                    continue;
                }
                if (inventory::set_state(r, c.state, now, c.by)) {
                    set_indexed_state(r.id, &r.state);
                    pass.state_changed.insert(c.id);
                }
                pass.touch(c.id);
            }
        }
        const auto started = std::chrono::steady_clock::now();
        if (everything || started - last_seen_write >= kSeenInterval) {
            for (const auto& id : seen_order)
                if (seen_only.contains(id) && records_.contains(id)) pass.touch(id);
            seen_only.clear();
            seen_order.clear();
            last_seen_write = started;
        }
        Result<void> removal;
        if (!removed.empty()) {
            removal = store_->remove(removed);
            for (std::size_t i = 0; removal && i < removed.size(); ++i)
                removal = store_->remove_secret(bmc_secret_name(removed[i]));
            if (removal) {
                batches_.fetch_add(1, std::memory_order_relaxed);
                for (const auto& id : removed)
                    events_.append("machine.forgotten", forgotten_text(id));
            } else {
                write_errors_.fetch_add(1, std::memory_order_relaxed);
            }
        }
        const Result<void> written = write_rows(pass);
        last_write = started;
        applied_.fetch_add(sightings, std::memory_order_relaxed);
        for (std::size_t i = 0; i < commands.size(); ++i) {
            const Command& c = commands[i];
            const bool answered = c.kind == Command::bmc_password || outcomes[i].failure;
            if (c.kind == Command::forget) {
                if (!removal) outcomes[i].failure = removal.failure();
            } else if (!answered && !pass.written.contains(c.id)) {
                outcomes[i].failure =
                    written ? fail("the record was forgotten meanwhile") : written.failure();
            } else if (!answered) {
                std::lock_guard lk(records_mutex_);
                outcomes[i].record = records_.at(c.id);
            }
            commands[i].done->set_value(std::move(outcomes[i]));
        }
        batch.clear();
        commands.clear();
        remote.clear();
        {
            std::lock_guard lk(queue_mutex_);
            flush_done_ = flush_ticket;
        }
        done_cv_.notify_all();
        if (exiting) break;
    }
    std::lock_guard lk(queue_mutex_);
    // The last pass wrote everything: answer any ticket taken meanwhile.
    flush_done_ = flush_wanted_;
    done_cv_.notify_all();
}

std::vector<MachineRecord> Inventory::list() const {
    std::lock_guard lk(records_mutex_);
    std::vector<MachineRecord> out;
    out.reserve(records_.size());
    for (const auto& [id, r] : records_) out.push_back(r);
    return out;
}

std::optional<MachineRecord> Inventory::get(const std::string& id) const {
    std::lock_guard lk(records_mutex_);
    const auto it = records_.find(id);
    if (it == records_.end()) return std::nullopt;
    return it->second;
}

std::map<std::string, std::size_t> Inventory::count_by_state() const {
    std::map<std::string, std::size_t> out;
    for (auto state : {kDiscovered, kAssigned, kProvisioning, kInstalled})
        out[std::string(state)] = 0;
    std::lock_guard lk(records_mutex_);
    for (const auto& [id, r] : records_) ++out[r.state];
    return out;
}

std::size_t Inventory::size() const {
    std::lock_guard lk(records_mutex_);
    return records_.size();
}

InventoryStats Inventory::stats() const {
    InventoryStats s;
    {
        std::lock_guard lk(buffers_mutex_);
        for (const auto& b : buffers_) {
            std::lock_guard blk(b->mutex);
            s.queue_depth += b->sightings.size();
        }
    }
    s.peak_queue_depth = peak_queue_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load();
    s.applied = applied_.load();
    s.batches = batches_.load();
    s.write_errors = write_errors_.load();
    s.remote_changes = remote_changes_.load();
    return s;
}

}  // namespace bootcfg::inventory
