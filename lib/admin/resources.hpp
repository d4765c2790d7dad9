// The admin API's view of the store: what can be addressed (groups, profiles, templates by name),
// each object's JSON form and revision, and the read endpoints. Pure functions of a snapshot.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.hpp"

namespace bootcfg::admin {

using Kind = ObjectKind;

// "/api/v1/COLLECTION[/NAME]", split. nullopt when the path is not under /api/v1/.
struct ApiPath {
    std::string_view collection;      // "groups", "select", ...
    std::optional<Kind> kind;         // when the collection is one of the kinds
    std::string_view raw_name;        // as sent; empty: the collection itself
    std::optional<std::string> name;  // raw_name percent-decoded; nullopt: malformed escape
};
std::optional<ApiPath> split_api_path(std::string_view path);

struct ApiReply {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::string etag;  // revision, unquoted; empty: none
};

// {"error": reason, "field": field}; field left out when empty.
ApiReply api_error(unsigned status, const std::string& reason, const std::string& field = {});
// A JSON body, indented (bytes that are not UTF-8 become U+FFFD), with the revision if any.
ApiReply json_reply(unsigned status, const nlohmann::json& body, std::string etag = {});

// GET on /api/v1/...: lists, single objects, select. path is without the query string.
ApiReply read_request(const Snapshot& snapshot, std::string_view path, std::string_view query);

}  // namespace bootcfg::admin
