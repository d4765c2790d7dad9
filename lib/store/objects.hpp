// How writers address the store's objects, and each object's canonical form and revision:
// serialization beside the parsers (data_files.hpp), so one layer owns the format both ways.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "model/model.hpp"

namespace bootcfg {

enum class ObjectKind { groups, profiles, ignition, cloud, generic };

std::optional<ObjectKind> kind_from_name(std::string_view name);  // "groups", "profiles", ...
const char* kind_name(ObjectKind kind);
bool is_template(ObjectKind kind);
TemplateKind template_kind(ObjectKind kind);  // only for is_template kinds

struct ObjectRef {
    ObjectKind kind;
    std::string name;
};

// Where an object's file goes in a data dir: "profiles/<id>.json", "groups/<id>.json",
// "ignition/<name>", "cloud/<name>", "generic/<name>".
std::string data_dir_path(const ObjectRef& ref);

// Ids and template names become file names: letters, digits, '.', '_', '-', not starting with
// '.', at most 200 characters.
bool valid_name(std::string_view name);

// Objects made from the bootcfg layout (boot/, cloud/default…) carry ids with this prefix.
inline constexpr std::string_view kLayoutPrefix = "bootcfg:";
bool from_layout(std::string_view id);

// The canonical JSON of a profile or group (what the admin API serves and push writes).
nlohmann::json profile_json(const Profile& profile);
nlohmann::json group_json(const Group& group);

// A revision names one version of an object: a hash of its canonical form (JSON objects) or its
// bytes (templates), so equal content has equal revisions however it was written.
std::string revision_of(std::string_view bytes);
std::string revision(const Profile& profile);
std::string revision(const Group& group);
// The revision of stored bytes: as GET shows it when they parse, the bytes' hash when they do
// not (so no If-Match names a broken file by its served revision).
std::string stored_revision(ObjectKind kind, const std::string& bytes);

}  // namespace bootcfg
