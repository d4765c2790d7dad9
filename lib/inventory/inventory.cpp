#include "inventory/inventory.hpp"

#include <map>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <unordered_set>

#include "inventory/state_db.hpp"

namespace bootcfg::inventory {

namespace {

constexpr auto kWriteInterval = std::chrono::milliseconds(1000);
// A machine only seen again (no new record, no state change): its row and event at most this
// often. A kill -9 loses at most this much of last-seen times and boot counts, never a state.
constexpr auto kSeenInterval = std::chrono::seconds(10);

struct Outcome {
    std::optional<Failure> failure;
    std::optional<MachineRecord> record;  // after the change; nullopt: forgotten or absent
    bool existed = false;
};

}  // namespace

struct Inventory::Command {
    enum { set_state, forget } kind;
    std::string id, state, by;
    std::shared_ptr<std::promise<Outcome>> done = std::make_shared<std::promise<Outcome>>();
};

Result<std::unique_ptr<Inventory>> Inventory::open(const InventoryOptions& options,
                                                   std::vector<std::string>& skipped) {
    const std::string& dir = options.state_path;
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
        return fail("-state-path " + dir + ": " + std::strerror(errno), "-state-path");
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return fail("-state-path " + dir + " is not a directory", "-state-path");
    auto signer = CheckinSigner::from_state_dir(dir);
    if (!signer) return signer.failure();
    auto db = StateDb::open(dir + "/inventory.db");
    if (!db) return db.failure();
    auto records = (*db)->load(skipped);
    if (!records) return records.failure();
    return std::unique_ptr<Inventory>(
        new Inventory(options, std::move(*db), std::move(*signer), std::move(*records)));
}

Inventory::Inventory(InventoryOptions options, std::unique_ptr<StateDb> db, CheckinSigner signer,
                     std::vector<MachineRecord> records)
    : options_(std::move(options)),
      db_(std::move(db)),
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

Result<void> Inventory::submit(Command command) {
    {
        std::lock_guard lk(queue_mutex_);
        if (stopping_) return fail("the inventory is shutting down");
        commands_.push_back(std::move(command));
    }
    queue_cv_.notify_one();
    return {};
}

Result<MachineRecord> Inventory::set_state(const std::string& id, const std::string& state,
                                           const std::string& by) {
    if (!valid_state(state))
        return fail("state '" + state + "' is not a state name ([a-z0-9][a-z0-9_-]*, at most 32)",
                    "state");
    Command c{Command::set_state, id, state, by};
    auto done = c.done->get_future();
    if (auto queued = submit(std::move(c)); !queued) return queued.failure();
    Outcome o = done.get();
    if (o.failure) return *o.failure;
    return std::move(*o.record);
}

Result<bool> Inventory::forget(const std::string& id) {
    Command c{Command::forget, id, "", ""};
    auto done = c.done->get_future();
    if (auto queued = submit(std::move(c)); !queued) return queued.failure();
    Outcome o = done.get();
    if (o.failure) return *o.failure;
    return o.existed;
}

void Inventory::flush() {
    std::unique_lock lk(queue_mutex_);
    const std::uint64_t ticket = ++flush_wanted_;
    queue_cv_.notify_all();
    // A pass that took this ticket took the buffers after it: everything recorded before.
    done_cv_.wait(lk, [&] { return flush_done_ >= ticket; });
}

void Inventory::run() {
    std::vector<Sighting> batch;
    std::vector<Command> commands;
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
            // flush() and stopping go at once.
            queue_cv_.wait_until(lk, last_write + kWriteInterval, [&] {
                return stopping_ || !commands_.empty() || flush_wanted_ != flush_done_;
            });
            flush_ticket = flush_wanted_;
            everything = flush_ticket != flush_done_ || stopping_;
            commands.swap(commands_);
            exiting = stopping_;
        }
        batch = take_buffers();  // after the flag: what was recorded before flush() is in it
        std::uint64_t sightings = 0;
        for (const Sighting& s : batch) sightings += s.count;
        peak_queue_.store(std::max(peak_queue_.load(std::memory_order_relaxed), sightings),
                          std::memory_order_relaxed);
        std::unordered_set<std::string> dirty, state_changed;
        std::vector<std::string> order;  // dirty ids as first touched: events in request order
        auto touch = [&](const std::string& id) {
            if (dirty.insert(id).second) order.push_back(id);
        };
        std::vector<std::string> removed;
        std::vector<Outcome> outcomes(commands.size());
        {
            std::lock_guard lk(records_mutex_);
            for (const Sighting& s : batch) {
                MachineRecord& r = records_[s.id];
                const bool fresh = r.id.empty();
                if (observe(r, s)) {
                    set_indexed_state(r.id, &r.state);
                    state_changed.insert(s.id);
                    touch(s.id);
                } else if (fresh) {
                    touch(s.id);
                } else if (!dirty.contains(s.id) && seen_only.insert(s.id).second) {
                    seen_order.push_back(s.id);
                }
            }
            const std::int64_t now = now_ms();
            for (std::size_t i = 0; i < commands.size(); ++i) {
                Command& c = commands[i];
                if (c.kind == Command::forget) {
                    outcomes[i].existed = records_.erase(c.id) > 0;
                    set_indexed_state(c.id, nullptr);
                    dirty.erase(c.id);
                    seen_only.erase(c.id);
                    state_changed.erase(c.id);
                    removed.push_back(c.id);
                    continue;
                }
                MachineRecord& r = records_[c.id];
                outcomes[i].existed = !r.id.empty();
                if (r.id.empty()) {  // a machine named before it was seen
                    r.id = c.id;
                    if (!c.id.starts_with("uuid:")) r.mac = c.id;
                    r.first_seen_ms = r.last_seen_ms = now;
                }
                if (inventory::set_state(r, c.state, now, c.by)) {
                    set_indexed_state(r.id, &r.state);
                    state_changed.insert(c.id);
                }
                touch(c.id);
                outcomes[i].record = r;
            }
        }
        const auto started = std::chrono::steady_clock::now();
        if (everything || started - last_seen_write >= kSeenInterval) {
            for (const auto& id : seen_order)
                if (seen_only.contains(id)) touch(id);
            seen_only.clear();
            seen_order.clear();
            last_seen_write = started;
        }
        // Each record's JSON once, for its row and its event. Only this thread writes records_.
        std::vector<std::pair<std::string, std::string>> rows;
        rows.reserve(dirty.size());
        for (const auto& id : order)
            if (dirty.contains(id))
                rows.emplace_back(
                    id, record_json(records_.at(id))
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        Result<void> written;
        if (!rows.empty() || !removed.empty()) {
            written = db_->write(rows, removed);
            if (written)
                batches_.fetch_add(1, std::memory_order_relaxed);
            else
                write_errors_.fetch_add(1, std::memory_order_relaxed);
        }
        last_write = started;
        if (written) {  // what is committed, as events: one per machine written
            applied_.fetch_add(sightings, std::memory_order_relaxed);
            // Labels are machine input: bytes that are not UTF-8 became U+FFFD above.
            for (const auto& [id, text] : rows)
                events_.append(state_changed.contains(id) ? "machine.state" : "machine", text);
            for (const auto& id : removed)
                events_.append("machine.forgotten",
                               nlohmann::json{{"id", id}}.dump(
                                   -1, ' ', false, nlohmann::json::error_handler_t::replace));
        }
        for (std::size_t i = 0; i < commands.size(); ++i) {
            if (!written) outcomes[i].failure = written.failure();
            commands[i].done->set_value(std::move(outcomes[i]));
        }
        batch.clear();
        commands.clear();
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
    return s;
}

}  // namespace bootcfg::inventory
