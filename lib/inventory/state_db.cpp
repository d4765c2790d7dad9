#include "inventory/state_db.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace bootcfg::inventory {

namespace {

// A prepared statement, finalized when it goes.
struct Statement {
    sqlite3_stmt* s = nullptr;
    ~Statement() { sqlite3_finalize(s); }
};

}  // namespace

Result<std::unique_ptr<StateDb>> StateDb::open(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
        return fail("-state-path " + dir + ": " + std::strerror(errno), "-state-path");
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return fail("-state-path " + dir + " is not a directory", "-state-path");
    const std::string path = dir + "/inventory.db";
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        return fail(path + ": " + why);
    }
    std::unique_ptr<StateDb> out(new StateDb(db, dir, path));
    // The file holds BMC passwords: only bootcfgd's user reads it. SQLite gives its WAL and
    // shared-memory files the database's mode when it makes them; older ones are narrowed too.
    for (const std::string& file : {path, path + "-wal", path + "-shm"})
        if (::chmod(file.c_str(), 0600) != 0 && errno != ENOENT)
            return fail(file + ": " + std::strerror(errno));
    // WAL: readers never wait for the writer; synchronous=NORMAL: a committed transaction
    // survives the process being killed (the OS has it), and costs no fsync per commit.
    for (const char* sql :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000",
          "CREATE TABLE IF NOT EXISTS machines (id TEXT PRIMARY KEY, record TEXT "
          "NOT NULL)",
          "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
          // One write now: SQLite creates its WAL and seeds its randomness at
          // start-up, not while machines are being served.
          "PRAGMA user_version = 1"})
        if (auto done = out->exec(sql); !done) return done.failure();
    return out;
}

StateDb::~StateDb() {
    sqlite3_close(db_);
}

Result<CheckinSigner> StateDb::checkin_signer() {
    return CheckinSigner::from_state_dir(dir_);
}

Result<void> StateDb::exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
        std::string why = error ? error : sqlite3_errmsg(db_);
        sqlite3_free(error);
        return fail(path_ + ": " + why);
    }
    return {};
}

Result<std::vector<MachineRecord>> StateDb::load(std::vector<std::string>& skipped) {
    Statement st;
    if (sqlite3_prepare_v2(db_, "SELECT id, record FROM machines", -1, &st.s, nullptr) != SQLITE_OK)
        return fail(path_ + ": " + sqlite3_errmsg(db_));
    std::vector<MachineRecord> out;
    int rc;
    while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
        const auto* id = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 1));
        std::optional<MachineRecord> r;
        if (text && id) r = record_from_text(text, id);
        if (r)
            out.push_back(std::move(*r));
        else
            skipped.push_back(id ? id : "(null)");
    }
    if (rc != SQLITE_DONE) return fail(path_ + ": " + sqlite3_errmsg(db_));
    return out;
}

Result<void> StateDb::transaction(
    const char* sql, std::size_t count,
    const std::function<bool(sqlite3_stmt*, std::size_t)>& bind_and_step) {
    if (auto begun = exec("BEGIN IMMEDIATE"); !begun) return begun;
    Statement st;
    auto failed = [&]() -> Result<void> {
        std::string why = path_ + ": " + sqlite3_errmsg(db_);
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return fail(why);
    };
    if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) return failed();
    for (std::size_t i = 0; i < count; ++i) {
        if (!bind_and_step(st.s, i)) return failed();
        sqlite3_reset(st.s);
    }
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return failed();
    return {};
}

namespace {

void bind_text(sqlite3_stmt* st, int column, const std::string& text) {
    sqlite3_bind_text(st, column, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

}  // namespace

Result<void> StateDb::write(std::vector<RecordWrite>& rows) {
    auto done = transaction("INSERT OR REPLACE INTO machines (id, record) VALUES (?1, ?2)",
                            rows.size(), [&](sqlite3_stmt* st, std::size_t i) {
                                bind_text(st, 1, rows[i].record.id);
                                bind_text(st, 2, rows[i].json);
                                return sqlite3_step(st) == SQLITE_DONE;
                            });
    if (done)
        for (RecordWrite& row : rows) row.written = true;
    return done;
}

Result<void> StateDb::remove(const std::vector<std::string>& ids) {
    return transaction("DELETE FROM machines WHERE id = ?1", ids.size(),
                       [&](sqlite3_stmt* st, std::size_t i) {
                           bind_text(st, 1, ids[i]);
                           return sqlite3_step(st) == SQLITE_DONE;
                       });
}

Result<void> StateDb::put_secret(const std::string& name, const std::string& value) {
    return transaction("INSERT OR REPLACE INTO secrets (name, value) VALUES (?1, ?2)", 1,
                       [&](sqlite3_stmt* st, std::size_t) {
                           bind_text(st, 1, name);
                           sqlite3_bind_blob(st, 2, value.data(), static_cast<int>(value.size()),
                                             SQLITE_STATIC);
                           return sqlite3_step(st) == SQLITE_DONE;
                       });
}

Result<std::optional<std::string>> StateDb::get_secret(const std::string& name) {
    Statement st;
    if (sqlite3_prepare_v2(db_, "SELECT value FROM secrets WHERE name = ?1", -1, &st.s, nullptr) !=
        SQLITE_OK)
        return fail(path_ + ": " + sqlite3_errmsg(db_));
    bind_text(st.s, 1, name);
    const int rc = sqlite3_step(st.s);
    if (rc == SQLITE_DONE) return std::optional<std::string>{};
    if (rc != SQLITE_ROW) return fail(path_ + ": " + sqlite3_errmsg(db_));
    const auto* data = static_cast<const char*>(sqlite3_column_blob(st.s, 0));
    return std::optional<std::string>{
        std::string(data ? data : "", static_cast<std::size_t>(sqlite3_column_bytes(st.s, 0)))};
}

Result<void> StateDb::remove_secret(const std::string& name) {
    return transaction("DELETE FROM secrets WHERE name = ?1", 1,
                       [&](sqlite3_stmt* st, std::size_t) {
                           bind_text(st, 1, name);
                           return sqlite3_step(st) == SQLITE_DONE;
                       });
}

}  // namespace bootcfg::inventory
