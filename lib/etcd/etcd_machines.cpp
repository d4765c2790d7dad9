#include "etcd/etcd_machines.hpp"

#include <spdlog/spdlog.h>

#include "logging/log_text.hpp"

namespace bootcfg::etcd {

using inventory::MachineRecord;
using inventory::RecordWrite;
using inventory::RemoteChange;

namespace {

// Times a record is merged and tried again when other replicas keep writing it meanwhile.
constexpr int kMergeAttempts = 5;

}  // namespace

EtcdMachines::EtcdMachines(ClusterOptions cluster, const std::string& prefix)
    : client_(std::move(cluster)), prefix_(prefix), machines_(prefix + "machines/") {}

EtcdMachines::~EtcdMachines() {
    if (follower_) follower_->stop();
}

std::string EtcdMachines::describe() const {
    return "etcd " + client_.endpoints() + " " + machines_;
}

Result<inventory::CheckinSigner> EtcdMachines::checkin_signer() {
    const std::string key = prefix_ + "secrets/checkin-key";
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto now = client_.get(key);
        if (!now) return fail(key + ": " + now.failure().reason, now.failure().field);
        if (*now) {
            if ((*now)->value.size() != inventory::CheckinSigner::kSecretSize)
                return fail(key + ": not a check-in key (" +
                            std::to_string(inventory::CheckinSigner::kSecretSize) +
                            " bytes); delete it to make a new one (outstanding check-in URLs "
                            "stop working)");
            return inventory::CheckinSigner((*now)->value);
        }
        auto secret = inventory::CheckinSigner::random_secret();
        if (!secret) return secret.failure();
        // Created only if still absent: replicas starting together agree on the first one.
        auto made = client_.txn({{key, *secret, 0}});
        if (!made) return fail(key + ": " + made.failure().reason, made.failure().field);
        if (made->succeeded) return inventory::CheckinSigner(std::move(*secret));
    }
    return fail(key + ": written and deleted again while starting; start again");
}

std::optional<RemoteChange> EtcdMachines::change_of(const KeyValue& kv, bool deleted) const {
    const std::string id = kv.key.substr(machines_.size());
    if (deleted) return RemoteChange{id, std::nullopt, kv.mod_revision};
    auto record = inventory::record_from_text(kv.value, id);
    if (!record) {
        spdlog::warn("inventory: {}: not a machine record; ignored", log_escape(kv.key));
        return std::nullopt;
    }
    return RemoteChange{id, std::move(record), kv.mod_revision};  // the revision set on applying
}

Result<std::vector<MachineRecord>> EtcdMachines::load(std::vector<std::string>& skipped) {
    auto listing = client_.list(machines_);
    if (!listing) return listing.failure();
    loaded_revision_ = listing->revision;
    std::vector<MachineRecord> out;
    out.reserve(listing->kvs.size());
    for (const KeyValue& kv : listing->kvs) {
        auto record = inventory::record_from_text(kv.value, kv.key.substr(machines_.size()));
        if (!record) {
            skipped.push_back(kv.key);
            continue;
        }
        record->revision = kv.mod_revision;
        out.push_back(std::move(*record));
    }
    return out;
}

Result<void> EtcdMachines::write_one(RecordWrite& row) {
    const std::string key = machines_ + row.record.id;
    for (int attempt = 0; attempt < kMergeAttempts; ++attempt) {
        auto now = client_.get(key);
        if (!now) return now.failure();
        if (!*now) {
            row.record.revision = 0;  // forgotten meanwhile: this sighting makes it again
        } else if ((*now)->mod_revision != row.record.revision) {
            auto theirs = inventory::record_from_text((*now)->value, row.record.id);
            if (theirs) {
                theirs->revision = (*now)->mod_revision;
                row.record = inventory::merge_records(*theirs, row.record, row.new_boots);
                row.json = inventory::record_text(row.record);
                row.merged = true;
            }
            row.record.revision = (*now)->mod_revision;  // a broken value is replaced
        }
        auto done = client_.txn({{key, row.json, row.record.revision}});
        if (!done) return done.failure();
        if (done->succeeded) {
            row.written = true;
            row.record.revision = done->revision;
            return {};
        }
    }
    return fail(key + ": changed by other replicas " + std::to_string(kMergeAttempts) +
                " times while being merged; trying again later");
}

Result<void> EtcdMachines::write(std::vector<RecordWrite>& rows) {
    std::vector<std::size_t> sizes;
    sizes.reserve(rows.size());
    for (const RecordWrite& row : rows)
        sizes.push_back(machines_.size() + row.record.id.size() + row.json.size());
    for (const auto& [begin, end] : txn_ranges(sizes)) {
        std::vector<TxnOp> ops;
        ops.reserve(end - begin);
        for (std::size_t i = begin; i < end; ++i)
            ops.push_back({machines_ + rows[i].record.id, rows[i].json, rows[i].record.revision});
        auto done = client_.txn(ops);
        if (!done) return done.failure();
        if (done->succeeded) {
            for (std::size_t i = begin; i < end; ++i) {
                rows[i].written = true;
                rows[i].record.revision = done->revision;
            }
            continue;
        }
        // Another replica wrote one of them since: each on its own, merged where needed.
        for (std::size_t i = begin; i < end; ++i)
            if (auto one = write_one(rows[i]); !one) return one;
    }
    return {};
}

Result<void> EtcdMachines::remove(const std::vector<std::string>& ids) {
    std::vector<std::size_t> sizes(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) sizes[i] = machines_.size() + ids[i].size();
    for (const auto& [begin, end] : txn_ranges(sizes)) {
        std::vector<TxnOp> ops;
        for (std::size_t i = begin; i < end; ++i)
            ops.push_back({machines_ + ids[i], std::nullopt, std::nullopt});
        auto done = client_.txn(ops);
        if (!done) return done.failure();
    }
    return {};
}

Result<void> EtcdMachines::put_secret(const std::string& name, const std::string& value) {
    auto done = client_.txn({{prefix_ + "secrets/" + name, value, std::nullopt}});
    if (!done) return done.failure();
    return {};
}

Result<std::optional<std::string>> EtcdMachines::get_secret(const std::string& name) {
    auto kv = client_.get(prefix_ + "secrets/" + name);
    if (!kv) return kv.failure();
    if (!*kv) return std::optional<std::string>{};
    return std::optional<std::string>{std::move((*kv)->value)};
}

Result<void> EtcdMachines::remove_secret(const std::string& name) {
    auto done = client_.txn({{prefix_ + "secrets/" + name, std::nullopt, std::nullopt}});
    if (!done) return done.failure();
    return {};
}

void EtcdMachines::follow(ChangeHandler on_change) {
    if (follower_) return;
    follower_ = std::make_unique<Follower>(client_, machines_, "inventory: etcd");
    follower_->start(
        loaded_revision_ + 1,
        [this, on_change](const WatchMessage& message) {
            std::vector<RemoteChange> changes;
            for (const WatchEvent& event : message.events)
                if (auto change = change_of(event.kv, event.deleted))
                    changes.push_back(std::move(*change));
            if (!changes.empty()) on_change(std::move(changes), 0);
        },
        [this, on_change](Listing listing) {
            std::vector<RemoteChange> changes;
            for (const KeyValue& kv : listing.kvs)
                if (auto change = change_of(kv, false)) changes.push_back(std::move(*change));
            on_change(std::move(changes), listing.revision);
        });
}

}  // namespace bootcfg::etcd
