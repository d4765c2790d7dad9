// Where the inventory keeps its records: one SQLite file in the state dir (state_db.hpp) for one
// bootcfgd, or etcd under the store's prefix (etcd/etcd_machines.hpp), shared by every replica.
// Called by the inventory's writer thread only; follow() calls back from a thread of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "inventory/checkin.hpp"
#include "inventory/machine.hpp"
#include "result/result.hpp"

namespace bootcfg::inventory {

// One record to write, with what the store needs to merge it into another replica's version.
struct RecordWrite {
    MachineRecord record;     // its revision: the stored version it was based on
    std::string json;         // record_json(record), dumped
    std::uint64_t new_boots;  // boots counted since the record was last written
    bool written = false;     // set by the store; record.revision then the stored version
    bool merged = false;      // the store merged another replica's change into record and json
};

// Another replica's change: the record as stored now, or nullopt when it was forgotten.
struct RemoteChange {
    std::string id;
    std::optional<MachineRecord> record;
    std::int64_t revision = 0;
};

class MachineStore {
  public:
    virtual ~MachineStore() = default;
    // Where the records are, for log lines: "state/inventory.db", "etcd URLS /bootcfg/machines/".
    virtual std::string describe() const = 0;
    // The secret check-in URLs are signed with: every replica of a shared store has the same.
    virtual Result<CheckinSigner> checkin_signer() = 0;
    // Every record; one that does not parse is skipped and named in `skipped`.
    virtual Result<std::vector<MachineRecord>> load(std::vector<std::string>& skipped) = 0;
    // Writes the rows, marking each one written. A failure leaves rows unmarked that were not
    // written; the caller tries them again.
    virtual Result<void> write(std::vector<RecordWrite>& rows) = 0;
    // Removes these records, all or none.
    virtual Result<void> remove(const std::vector<std::string>& ids) = 0;
    // Secrets kept beside the records, never in one ("bmc/<id>": a BMC's password): a read of
    // a record, an event or an export never carries them.
    virtual Result<void> put_secret(const std::string& name, const std::string& value) = 0;
    virtual Result<std::optional<std::string>> get_secret(const std::string& name) = 0;
    virtual Result<void> remove_secret(const std::string& name) = 0;
    // A shared store: tells `on_change` of other replicas' changes from the load on, until the
    // store goes. `listed_at` is 0, or the revision at which `changes` are every record there is
    // (read again after the store's history was compacted): a stored record older than it and
    // missing from them was forgotten meanwhile.
    using ChangeHandler =
        std::function<void(std::vector<RemoteChange> changes, std::int64_t listed_at)>;
    virtual void follow(ChangeHandler on_change) { (void)on_change; }
};

}  // namespace bootcfg::inventory
