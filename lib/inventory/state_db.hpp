// The inventory's embedded store: one SQLite file (WAL), one row per machine holding its record
// as JSON. Used by the inventory's writer thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "inventory/machine.hpp"
#include "result/result.hpp"

struct sqlite3;

namespace bootcfg::inventory {

class StateDb {
  public:
    static Result<std::unique_ptr<StateDb>> open(const std::string& path);
    ~StateDb();

    // Every record; a row that does not parse is skipped and named in `skipped`.
    Result<std::vector<MachineRecord>> load(std::vector<std::string>& skipped);
    // One transaction: these rows (id, the record as JSON) written whole, those ids removed.
    Result<void> write(const std::vector<std::pair<std::string, std::string>>& rows,
                       const std::vector<std::string>& removed);

  private:
    explicit StateDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    Result<void> exec(const char* sql);
    sqlite3* db_;
    std::string path_;
};

}  // namespace bootcfg::inventory
