// The store's objects as etcd keys, and the messages of etcd's v3 JSON gateway the etcd backend
// watches with (/v3/watch), as pure functions. Keys and values travel base64-encoded; 64-bit
// numbers are JSON strings; proto3 JSON leaves out fields at their default (a PUT event has no
// "type"). Reads and transactions go over gRPC (lib/etcd). See ../shared/reference/etcd.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "result/result.hpp"
#include "store/objects.hpp"

namespace bootcfg::etcd {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);  // nullopt: not base64

// The key after every key that starts with `prefix`: a prefix scan is [prefix, prefix_end).
// "\0" (etcd's "to the end of the keyspace") when no such key exists (a prefix of 0xff bytes).
std::string prefix_end(std::string_view prefix);

// Objects live under the prefix as "profiles/<id>", "groups/<id>", "ignition/<name>",
// "cloud/<name>", "generic/<name>": the data dir's paths without ".json".
std::string key_of(std::string_view prefix, const ObjectRef& ref);
// The object a key names; nullopt for a key outside that layout (reported, never served).
std::optional<ObjectRef> object_of(std::string_view prefix, std::string_view key);

struct KeyValue {
    std::string key;
    std::string value;
    std::int64_t mod_revision = 0;
};

// A watch on the prefix from `start_revision` on.
nlohmann::json watch_request(std::string_view prefix, std::int64_t start_revision);
struct WatchEvent {
    bool deleted = false;
    KeyValue kv;
};
// One line of the watch stream.
struct WatchMessage {
    std::int64_t revision = 0;
    std::vector<WatchEvent> events;
    bool created = false;
    bool canceled = false;
    std::int64_t compact_revision = 0;  // canceled because history before this was compacted
    std::string cancel_reason;          // canceled otherwise: etcd's reason (an expired token)
};
Result<WatchMessage> parse_watch_line(std::string_view line);

}  // namespace bootcfg::etcd
