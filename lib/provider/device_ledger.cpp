#include "provider/device_ledger.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "files/atomic_file.hpp"
#include "model/limits.hpp"
#include "provider/provider.hpp"

namespace bootcfg {

using nlohmann::json;

namespace {

std::vector<LedgerEntry> parse(const std::string& text, const std::string& path) {
    std::vector<LedgerEntry> out;
    if (text.empty()) return out;
    try {
        const json j = parse_json_bounded(text);
        for (const auto& e : j.at("devices")) {
            LedgerEntry l;
            l.provider = e.value("provider", "");
            l.where = e.value("where", "");
            l.tag = e.value("tag", "");
            l.id = e.value("id", "");
            l.hostname = e.value("hostname", "");
            l.created = e.value("created", std::int64_t{0});
            if (!l.tag.empty()) out.push_back(std::move(l));
        }
    } catch (const json::exception& e) {
        throw ProviderError(path + ": not a device ledger (" + json_error_text(e).substr(0, 80) +
                            "); move it away to start a new one");
    }
    return out;
}

// The ledger's text; "" when there is none yet.
std::string read_all(const std::string& path) {
    std::string text;
    read_whole(path, text);
    return text;
}

}  // namespace

DeviceLedger DeviceLedger::from_environment(const std::function<const char*(const char*)>& getenv) {
    auto set = [&](const char* name) -> std::string {
        const char* v = getenv(name);
        return v && *v ? v : "";
    };
    std::string dir = set("BOOTCFG_STATE_DIR");
    if (dir.empty() && !set("XDG_STATE_HOME").empty()) dir = set("XDG_STATE_HOME") + "/bootcfg";
    if (dir.empty() && !set("HOME").empty()) dir = set("HOME") + "/.local/state/bootcfg";
    if (dir.empty()) dir = "/var/lib/bootcfg";
    return DeviceLedger(dir + "/devices.json");
}

std::vector<LedgerEntry> DeviceLedger::entries() const {
    return parse(read_all(path_), path_);
}

void DeviceLedger::update(const std::function<void(std::vector<LedgerEntry>&)>& change) {
    const std::string dir = path_.substr(0, path_.rfind('/'));
    throw_on_failure<ProviderError>(make_directories(dir), "device ledger: ");
    // Two runs at once each keep their own entries: one writer at a time.
    const int lock = ::open((dir + "/.devices.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
        const std::string why = std::strerror(errno);
        if (lock >= 0) ::close(lock);
        throw ProviderError("device ledger " + dir + "/.devices.lock: " + why);
    }
    try {
        std::vector<LedgerEntry> all = parse(read_all(path_), path_);
        change(all);
        json list = json::array();
        for (const auto& e : all)
            list.push_back({{"provider", e.provider},
                            {"where", e.where},
                            {"tag", e.tag},
                            {"id", e.id},
                            {"hostname", e.hostname},
                            {"created", e.created}});
        const json doc = {{"devices", list}};
        throw_on_failure<ProviderError>(
            write_file_atomic(path_, doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n",
                              0600),
            "device ledger: ");
    } catch (...) {
        ::close(lock);
        throw;
    }
    ::close(lock);
}

void DeviceLedger::put(const LedgerEntry& entry) {
    update([&](std::vector<LedgerEntry>& all) {
        for (auto& e : all)
            if (e.tag == entry.tag) {
                e = entry;
                return;
            }
        all.push_back(entry);
    });
}

void DeviceLedger::remove(const std::string& tag) {
    update([&](std::vector<LedgerEntry>& all) {
        std::erase_if(all, [&](const LedgerEntry& e) { return e.tag == tag; });
    });
}

std::string new_run_tag() {
    std::random_device rd;
    std::uniform_int_distribution<unsigned> digit(0, 15);
    std::string tag = "bootcfg-run-";
    for (int i = 0; i < 16; ++i) tag += "0123456789abcdef"[digit(rd)];
    return tag;
}

}  // namespace bootcfg
