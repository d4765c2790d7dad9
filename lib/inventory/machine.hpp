// A machine as bootcfgd has seen it, and how its requests move its lifecycle state:
// discovered -> assigned -> provisioning by themselves, installed by a check-in, anything else
// by an operator. Pure functions; inventory.hpp keeps the records.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bootcfg::inventory {

inline constexpr std::string_view kDiscovered = "discovered";
inline constexpr std::string_view kAssigned = "assigned";
inline constexpr std::string_view kProvisioning = "provisioning";
inline constexpr std::string_view kInstalled = "installed";

// One machine request as the routes saw it.
struct Sighting {
    std::string id;  // the record's key: the MAC, else "uuid:" + UUID
    std::string mac, uuid, hostname, serial, arch, client_ip, endpoint;
    std::string group, profile;  // what answered; empty group: nothing matched
    bool default_group = false;  // the group that answered has an empty selector
    bool boot = false;           // a boot script (/ipxe, /grub, /pixiecore): one boot
    std::int64_t time_ms = 0;    // the first, when several are merged
    std::uint64_t count = 1;     // identical requests merged into this one (each a boot if boot)
    std::int64_t last_ms = 0;    // the last of those merged (0: time_ms)
};

// A sighting as the request path has it: views of the request's labels, copied only when the
// inventory has to keep them.
struct SightingView {
    std::string_view id, mac, uuid, hostname, serial, arch, client_ip, endpoint, group, profile;
    bool default_group = false;
    bool boot = false;
    std::int64_t time_ms = 0;

    SightingView() = default;
    explicit SightingView(const Sighting& s)
        : id(s.id),
          mac(s.mac),
          uuid(s.uuid),
          hostname(s.hostname),
          serial(s.serial),
          arch(s.arch),
          client_ip(s.client_ip),
          endpoint(s.endpoint),
          group(s.group),
          profile(s.profile),
          default_group(s.default_group),
          boot(s.boot),
          time_ms(s.time_ms) {}
    // The same request again (but for its time)?
    bool same_as(const Sighting& s) const {
        return id == s.id && mac == s.mac && uuid == s.uuid && hostname == s.hostname &&
               serial == s.serial && arch == s.arch && client_ip == s.client_ip &&
               endpoint == s.endpoint && group == s.group && profile == s.profile &&
               default_group == s.default_group && boot == s.boot;
    }
    Sighting copy() const {
        return {std::string(id),
                std::string(mac),
                std::string(uuid),
                std::string(hostname),
                std::string(serial),
                std::string(arch),
                std::string(client_ip),
                std::string(endpoint),
                std::string(group),
                std::string(profile),
                default_group,
                boot,
                time_ms,
                1,
                time_ms};
    }
};

struct StateChange {
    std::string state;
    std::int64_t time_ms = 0;
    std::string by;  // "bootcfgd" (requests), "checkin", or the admin client
};

struct MachineRecord {
    std::string id, mac, uuid, hostname, serial, arch, client_ip, last_endpoint, group, profile;
    std::int64_t first_seen_ms = 0, last_seen_ms = 0;
    std::uint64_t boot_count = 0;
    std::string state;
    std::vector<StateChange> history;  // oldest first; the last kHistoryLimit changes
    // How to reach its BMC (lib/bmc's settings, never the password; null: none) and when an
    // operator set that, which decides between two replicas' versions.
    nlohmann::json bmc;
    std::int64_t bmc_set_ms = 0;
    // What its BMC tells of it (Redfish: manufacturer, model, serial, CPU, memory, NIC MACs).
    nlohmann::json hardware;
    // The shared store's version of this record (etcd's mod_revision; 0: not stored there yet).
    // Not part of the record's JSON.
    std::int64_t revision = 0;
};

inline constexpr std::size_t kHistoryLimit = 50;

// Wall-clock milliseconds since the epoch: the records' time base.
std::int64_t now_ms();

// The record key of a request's labels: the MAC, else "uuid:" + UUID; nullopt without either.
std::optional<std::string> machine_id(std::string_view mac, std::string_view uuid);
// The same key as a view, for the request path: the MAC itself (no copy), or "uuid:" + UUID
// built in `storage`; empty without either.
std::string_view machine_key(std::string_view mac, std::string_view uuid, std::string& storage);

// Applies one request. Automatic states only move forward; installed and operator-set states
// stay until an operator changes them. Returns true when the state changed.
bool observe(MachineRecord& record, const Sighting& sighting);

// A check-in's or an operator's state. Returns false (nothing changed) when it is already so.
bool set_state(MachineRecord& record, const std::string& state, std::int64_t time_ms,
               const std::string& by);

// Two replicas' versions of one record made one, for a shared store: `theirs` as stored (its
// revision kept), `ours` as this replica has it with `new_boots` boots counted since it last
// wrote it. Boots add up; first/last seen widen; the labels of the later sighting win; the
// histories are merged by time and replayed with observe()'s rule (an automatic state never
// undoes installed or an operator's state), which gives the state.
MachineRecord merge_records(const MachineRecord& theirs, const MachineRecord& ours,
                            std::uint64_t new_boots);

// A state an operator or a check-in URL may name: [a-z0-9][a-z0-9_-]{0,31}.
bool valid_state(std::string_view state);

// The record as the admin API shows it and the state store keeps it (times in RFC 3339 UTC
// and milliseconds), and back; nullopt for a document that is not a record.
nlohmann::json record_json(const MachineRecord& record);
std::optional<MachineRecord> record_from_json(const nlohmann::json& j);
// The record as a store keeps it and an event carries it: record_json, dumped (labels are
// machine input: bytes that are not UTF-8 become U+FFFD).
std::string record_text(const MachineRecord& record);
// A stored record read back: nullopt unless `text` is a record (JSON within the model's bounds)
// whose id is `id`, the key it was stored under.
std::optional<MachineRecord> record_from_text(std::string_view text, std::string_view id);

}  // namespace bootcfg::inventory
