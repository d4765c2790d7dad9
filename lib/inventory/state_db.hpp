// The inventory's embedded store: one SQLite file (WAL, mode 0600) in the state dir, one row per
// machine holding its record as JSON, a table of secrets (BMC passwords), and the check-in key
// beside it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "inventory/machine_store.hpp"
#include "result/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace bootcfg::inventory {

class StateDb final : public MachineStore {
  public:
    // DIR/inventory.db; DIR is made if missing.
    static Result<std::unique_ptr<StateDb>> open(const std::string& dir);
    ~StateDb() override;

    std::string describe() const override { return path_; }
    // DIR/checkin.key.
    Result<CheckinSigner> checkin_signer() override;
    Result<std::vector<MachineRecord>> load(std::vector<std::string>& skipped) override;
    // One transaction each: every row or none.
    Result<void> write(std::vector<RecordWrite>& rows) override;
    Result<void> remove(const std::vector<std::string>& ids) override;
    Result<void> put_secret(const std::string& name, const std::string& value) override;
    Result<std::optional<std::string>> get_secret(const std::string& name) override;
    Result<void> remove_secret(const std::string& name) override;

  private:
    StateDb(sqlite3* db, std::string dir, std::string path)
        : db_(db), dir_(std::move(dir)), path_(std::move(path)) {}
    Result<void> exec(const char* sql);
    // `bind_and_step` for each of `count` items in one transaction.
    Result<void> transaction(const char* sql, std::size_t count,
                             const std::function<bool(sqlite3_stmt*, std::size_t)>& bind_and_step);
    sqlite3* db_;
    std::string dir_, path_;
};

}  // namespace bootcfg::inventory
