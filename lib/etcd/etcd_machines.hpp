// The machine inventory in etcd, shared by every replica on the same prefix: "machines/<id>"
// holds a record's JSON (as the admin API shows it), "secrets/checkin-key" the key check-in URLs
// are signed with, so a URL rendered by one replica works on every other. Each write compares
// the key's mod_revision with the version the record was based on; a record another replica
// changed meanwhile is read, merged (inventory::merge_records: boot counts add up, state
// histories interleave) and written again. A watch on "machines/" brings the other replicas'
// changes.
#pragma once

#include <memory>
#include <string>

#include "etcd/etcd_client.hpp"
#include "inventory/machine_store.hpp"

namespace bootcfg::etcd {

class EtcdMachines final : public inventory::MachineStore {
  public:
    // `prefix`: the store's prefix (normal_prefix applied).
    EtcdMachines(ClusterOptions cluster, const std::string& prefix);
    ~EtcdMachines() override;  // ends the watch

    std::string describe() const override;
    // Read from etcd; made (32 random bytes) by the first replica that finds none.
    Result<inventory::CheckinSigner> checkin_signer() override;
    Result<std::vector<inventory::MachineRecord>> load(std::vector<std::string>& skipped) override;
    Result<void> write(std::vector<inventory::RecordWrite>& rows) override;
    Result<void> remove(const std::vector<std::string>& ids) override;
    // "secrets/<name>" under the prefix.
    Result<void> put_secret(const std::string& name, const std::string& value) override;
    Result<std::optional<std::string>> get_secret(const std::string& name) override;
    Result<void> remove_secret(const std::string& name) override;
    void follow(ChangeHandler on_change) override;

  private:
    // One record on its own after a transaction of several failed its compare: merged with
    // what etcd holds until a compare succeeds (a few times at most).
    Result<void> write_one(inventory::RecordWrite& row);
    // A watch event or a listed key as a change; nullopt for a key that does not hold a record
    // (logged with the key).
    std::optional<inventory::RemoteChange> change_of(const KeyValue& kv, bool deleted) const;

    Client client_;
    std::string prefix_;    // the store's
    std::string machines_;  // prefix + "machines/"
    std::int64_t loaded_revision_ = 0;
    std::unique_ptr<Follower> follower_;
};

}  // namespace bootcfg::etcd
