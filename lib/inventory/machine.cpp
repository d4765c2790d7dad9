#include "inventory/machine.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "model/limits.hpp"

namespace bootcfg::inventory {

namespace {

// Automatic states in the order a machine passes them; 0: not automatic.
int automatic_rank(std::string_view state) {
    if (state == kDiscovered) return 1;
    if (state == kAssigned) return 2;
    if (state == kProvisioning) return 3;
    return 0;
}

void change(MachineRecord& r, std::string state, std::int64_t time_ms, std::string by) {
    r.state = state;
    r.history.push_back({std::move(state), time_ms, std::move(by)});
    if (r.history.size() > kHistoryLimit)
        r.history.erase(r.history.begin(),
                        r.history.begin() + static_cast<long>(r.history.size() - kHistoryLimit));
}

void keep_if_given(std::string& field, const std::string& seen) {
    if (!seen.empty()) field = seen;
}

std::string rfc3339(std::int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
    return std::string(out) + frac;
}

}  // namespace

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string_view machine_key(std::string_view mac, std::string_view uuid, std::string& storage) {
    if (!mac.empty()) return mac;
    if (uuid.empty()) return {};
    storage = "uuid:";
    storage += uuid;
    return storage;
}

std::optional<std::string> machine_id(std::string_view mac, std::string_view uuid) {
    std::string storage;
    const std::string_view key = machine_key(mac, uuid, storage);
    if (key.empty()) return std::nullopt;
    return std::string(key);
}

bool observe(MachineRecord& r, const Sighting& s) {
    if (r.id.empty()) {
        r.id = s.id;
        r.first_seen_ms = s.time_ms;
    }
    r.last_seen_ms = std::max({r.last_seen_ms, s.time_ms, s.last_ms});
    keep_if_given(r.mac, s.mac);
    keep_if_given(r.uuid, s.uuid);
    keep_if_given(r.hostname, s.hostname);
    keep_if_given(r.serial, s.serial);
    keep_if_given(r.arch, s.arch);
    keep_if_given(r.client_ip, s.client_ip);
    r.last_endpoint = s.endpoint;
    if (!s.group.empty()) {
        r.group = s.group;
        r.profile = s.profile;
    }
    if (s.boot) r.boot_count += s.count;

    const int current = automatic_rank(r.state);
    if (!r.state.empty() && current == 0) return false;  // installed or an operator's state
    const std::string_view target = s.group.empty() || s.default_group ? kDiscovered
                                    : s.boot                           ? kProvisioning
                                                                       : kAssigned;
    if (automatic_rank(target) <= current) return false;
    change(r, std::string(target), s.time_ms, "bootcfgd");
    return true;
}

bool set_state(MachineRecord& r, const std::string& state, std::int64_t time_ms,
               const std::string& by) {
    if (r.state == state) return false;
    change(r, state, time_ms, by);
    return true;
}

MachineRecord merge_records(const MachineRecord& theirs, const MachineRecord& ours,
                            std::uint64_t new_boots) {
    const bool ours_later = ours.last_seen_ms > theirs.last_seen_ms;
    MachineRecord out = ours_later ? ours : theirs;
    out.id = theirs.id;
    out.revision = theirs.revision;
    const MachineRecord& other = ours_later ? theirs : ours;
    for (auto [field, from] : {std::pair{&out.mac, &other.mac},
                               {&out.uuid, &other.uuid},
                               {&out.hostname, &other.hostname},
                               {&out.serial, &other.serial},
                               {&out.arch, &other.arch},
                               {&out.client_ip, &other.client_ip}})
        if (field->empty()) *field = *from;
    auto earliest = [](std::int64_t a, std::int64_t b) {
        return a == 0 ? b : b == 0 ? a : std::min(a, b);
    };
    out.first_seen_ms = earliest(theirs.first_seen_ms, ours.first_seen_ms);
    out.last_seen_ms = std::max(theirs.last_seen_ms, ours.last_seen_ms);
    out.boot_count = theirs.boot_count + new_boots;

    std::vector<StateChange> all = theirs.history;
    auto same = [](const StateChange& a, const StateChange& b) {
        return a.time_ms == b.time_ms && a.state == b.state && a.by == b.by;
    };
    for (const StateChange& h : ours.history)
        if (std::none_of(theirs.history.begin(), theirs.history.end(),
                         [&](const StateChange& t) { return same(t, h); }))
            all.push_back(h);
    std::stable_sort(all.begin(), all.end(), [](const StateChange& a, const StateChange& b) {
        return a.time_ms < b.time_ms;
    });
    out.state.clear();
    out.history.clear();
    for (StateChange& h : all) {
        const int current = automatic_rank(out.state);
        const bool applies =
            h.by == "bootcfgd" && automatic_rank(h.state) != 0
                ? out.state.empty() || (current != 0 && automatic_rank(h.state) > current)
                : h.state != out.state;
        if (applies) change(out, std::move(h.state), h.time_ms, std::move(h.by));
    }
    if (out.history.empty()) out.state = theirs.state.empty() ? ours.state : theirs.state;
    const MachineRecord& bmc_from = ours.bmc_set_ms > theirs.bmc_set_ms ? ours : theirs;
    out.bmc = bmc_from.bmc;
    out.bmc_set_ms = bmc_from.bmc_set_ms;
    if (out.hardware.is_null()) out.hardware = other.hardware;
    return out;
}

bool valid_state(std::string_view state) {
    if (state.empty() || state.size() > 32) return false;
    for (std::size_t i = 0; i < state.size(); ++i) {
        const char c = state[i];
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
    }
    return true;
}

nlohmann::json record_json(const MachineRecord& r) {
    nlohmann::json history = nlohmann::json::array();
    for (const auto& h : r.history)
        history.push_back({{"state", h.state},
                           {"time", rfc3339(h.time_ms)},
                           {"time_ms", h.time_ms},
                           {"by", h.by}});
    nlohmann::json j{{"id", r.id},
                     {"mac", r.mac},
                     {"uuid", r.uuid},
                     {"hostname", r.hostname},
                     {"serial", r.serial},
                     {"arch", r.arch},
                     {"client_ip", r.client_ip},
                     {"first_seen", rfc3339(r.first_seen_ms)},
                     {"first_seen_ms", r.first_seen_ms},
                     {"last_seen", rfc3339(r.last_seen_ms)},
                     {"last_seen_ms", r.last_seen_ms},
                     {"last_endpoint", r.last_endpoint},
                     {"group", r.group},
                     {"profile", r.profile},
                     {"boot_count", r.boot_count},
                     {"state", r.state},
                     {"history", std::move(history)}};
    if (!r.bmc.is_null()) {
        j["bmc"] = r.bmc;
        j["bmc_set_ms"] = r.bmc_set_ms;
    }
    if (!r.hardware.is_null()) j["hardware"] = r.hardware;
    return j;
}

std::optional<MachineRecord> record_from_json(const nlohmann::json& j) {
    try {
        MachineRecord r;
        r.id = j.at("id").get<std::string>();
        if (r.id.empty()) return std::nullopt;
        for (auto [field, key] : {std::pair{&r.mac, "mac"},
                                  {&r.uuid, "uuid"},
                                  {&r.hostname, "hostname"},
                                  {&r.serial, "serial"},
                                  {&r.arch, "arch"},
                                  {&r.client_ip, "client_ip"},
                                  {&r.last_endpoint, "last_endpoint"},
                                  {&r.group, "group"},
                                  {&r.profile, "profile"},
                                  {&r.state, "state"}})
            *field = j.value(key, "");
        r.first_seen_ms = j.value("first_seen_ms", std::int64_t{0});
        r.last_seen_ms = j.value("last_seen_ms", std::int64_t{0});
        r.boot_count = j.value("boot_count", std::uint64_t{0});
        // A stored record (a file, etcd: anyone may have written it) keeps the last changes only,
        // as a record built here would.
        const nlohmann::json history = j.value("history", nlohmann::json::array());
        const std::size_t skip =
            history.size() > kHistoryLimit ? history.size() - kHistoryLimit : 0;
        for (std::size_t i = skip; i < history.size(); ++i) {
            const auto& h = history[i];
            r.history.push_back({h.at("state").get<std::string>(),
                                 h.value("time_ms", std::int64_t{0}), h.value("by", "")});
        }
        if (auto bmc = j.find("bmc"); bmc != j.end()) {
            if (!bmc->is_object()) return std::nullopt;
            r.bmc = *bmc;
            r.bmc_set_ms = j.value("bmc_set_ms", std::int64_t{0});
        }
        if (auto hardware = j.find("hardware"); hardware != j.end()) {
            if (!hardware->is_object()) return std::nullopt;
            r.hardware = *hardware;
        }
        return r;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

std::string record_text(const MachineRecord& record) {
    return record_json(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<MachineRecord> record_from_text(std::string_view text, std::string_view id) {
    std::optional<MachineRecord> r;
    try {
        r = record_from_json(parse_json_bounded(text));
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
    if (!r || r->id != id) return std::nullopt;
    return r;
}

}  // namespace bootcfg::inventory
