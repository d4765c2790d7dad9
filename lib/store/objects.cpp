#include "store/objects.hpp"

#include <algorithm>
#include <cstdio>

#include "store/data_files.hpp"

namespace bootcfg {

using nlohmann::json;

std::optional<ObjectKind> kind_from_name(std::string_view name) {
    for (auto kind : {ObjectKind::groups, ObjectKind::profiles, ObjectKind::ignition,
                      ObjectKind::cloud, ObjectKind::generic})
        if (name == kind_name(kind)) return kind;
    return std::nullopt;
}

const char* kind_name(ObjectKind kind) {
    switch (kind) {
        case ObjectKind::groups:
            return "groups";
        case ObjectKind::profiles:
            return "profiles";
        case ObjectKind::ignition:
            return "ignition";
        case ObjectKind::cloud:
            return "cloud";
        case ObjectKind::generic:
            return "generic";
    }
    return "";
}

bool is_template(ObjectKind kind) {
    return kind != ObjectKind::groups && kind != ObjectKind::profiles;
}

std::string data_dir_path(const ObjectRef& ref) {
    if (is_template(ref.kind))
        return std::string(template_dir(template_kind(ref.kind))) + "/" + ref.name;
    return std::string(kind_name(ref.kind)) + "/" + ref.name + ".json";
}

TemplateKind template_kind(ObjectKind kind) {
    return kind == ObjectKind::ignition ? TemplateKind::ignition
           : kind == ObjectKind::cloud  ? TemplateKind::cloud
                                        : TemplateKind::generic;
}

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 200 || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

bool from_layout(std::string_view id) {
    return id.starts_with(kLayoutPrefix);
}

json profile_json(const Profile& p) {
    json j = {{"id", p.id}};
    if (!p.name.empty()) j["name"] = p.name;
    if (p.has_boot) {
        json boot = {{"kernel", p.boot.kernel}};
        if (!p.boot.initrd.empty()) boot["initrd"] = p.boot.initrd;
        if (!p.boot.args.empty()) boot["args"] = p.boot.args;
        j["boot"] = std::move(boot);
    }
    if (!p.ignition_id.empty()) j["ignition_id"] = p.ignition_id;
    if (!p.cloud_id.empty()) j["cloud_id"] = p.cloud_id;
    if (!p.generic_id.empty()) j["generic_id"] = p.generic_id;
    return j;
}

json group_json(const Group& g) {
    json j = {{"id", g.id}, {"profile", g.profile}};
    if (!g.name.empty()) j["name"] = g.name;
    if (!g.selector.empty()) {
        json selector = json::object();
        for (const auto& [k, v] : g.selector.entries()) selector[k] = v;
        j["selector"] = std::move(selector);
    }
    if (!g.metadata.empty()) j["metadata"] = g.metadata.parsed();
    return j;
}

std::string revision_of(std::string_view bytes) {
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a: stable across builds and machines
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

std::string revision(const Profile& p) {
    return revision_of(profile_json(p).dump());
}

std::string revision(const Group& g) {
    return revision_of(group_json(g).dump());
}

std::string stored_revision(ObjectKind kind, const std::string& bytes) {
    if (kind == ObjectKind::profiles) {
        if (auto p = parse_profile(bytes)) return revision(*p);
    } else if (kind == ObjectKind::groups) {
        if (auto g = parse_group(bytes)) return revision(*g);
    }
    return revision_of(bytes);
}

}  // namespace bootcfg
