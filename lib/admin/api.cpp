#include "admin/api.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "files/atomic_file.hpp"
#include "labels/labels.hpp"
#include "logging/log_text.hpp"
#include "store/data_files.hpp"

namespace bootcfg::admin {

namespace {

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The revision of what is on disk now (hand edits included): the same hash GET shows for a file
// that parses, the raw bytes' hash for one that does not (so no If-Match can match it).
std::string disk_revision(Kind kind, const std::string& text) {
    Failure f;
    if (kind == Kind::profiles) {
        if (auto p = parse_profile(text, f)) return revision(*p);
    } else if (kind == Kind::groups) {
        if (auto g = parse_group(text, f)) return revision(*g);
    }
    return revision_of(text);
}

// The id a profile or group file holds; "" when it does not parse.
std::string object_id(Kind kind, const std::string& text) {
    Failure ignored;
    if (kind == Kind::profiles) {
        auto p = parse_profile(text, ignored);
        return p ? p->id : "";
    }
    auto g = parse_group(text, ignored);
    return g ? g->id : "";
}

// The revision of `name` as served by a snapshot; "" when it serves none.
std::string served_revision(const Snapshot& s, Kind kind, const std::string& name) {
    if (kind == Kind::profiles) {
        const Profile* p = s.profile(name);
        return p ? revision(*p) : "";
    }
    if (kind == Kind::groups) {
        for (const auto& g : s.groups())
            if (g.id == name && !g.falls_through) return revision(g);
        return "";
    }
    const TemplateEntry* e = s.template_entry(template_kind(kind), name);
    return e ? revision(*e) : "";
}

// The load problems of one file, for a reply that says why a write is not what is served.
std::string problems_of(const Snapshot& s, const std::string& path) {
    std::string out;
    for (const auto& p : s.problems())
        if (p.path == path) out += (out.empty() ? "" : "; ") + p.reason;
    return out;
}

// Does an If-Match / If-None-Match value name the current revision? A list of entity tags
// ("a", W/"b", ...) or "*" (any current version). Weak tags count only when weak_ok (RFC 9110
// 13.1: If-Match compares strongly, If-None-Match weakly). A bare token counts as a strong tag.
bool etag_matches(std::string_view list, const std::string& current, bool exists, bool weak_ok) {
    auto trim = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        return v;
    };
    if (trim(list) == "*") return exists;
    if (!exists) return false;
    while (!list.empty()) {
        const auto comma = list.find(',');
        auto tag = trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        const bool weak = tag.starts_with("W/");
        if (weak) tag.remove_prefix(2);
        if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"')
            tag = tag.substr(1, tag.size() - 2);
        if ((!weak || weak_ok) && tag == current) return true;
    }
    return false;
}

// The field a cross-file problem is about, from the loader's wording.
std::string problem_field(const std::string& reason) {
    if (reason.find("missing profile") != std::string::npos) return "profile";
    if (reason.find("selector") != std::string::npos ||
        reason.find("default group") != std::string::npos)
        return "selector";
    for (const char* kind : {"ignition", "cloud", "generic"})
        if (reason.rfind(std::string(kind) + " template", 0) == 0) return std::string(kind) + "_id";
    return "id";
}

// The loader's words are for a data dir that already holds both files ("the one with the
// smaller id wins"); a write is refused instead, so say what to change.
std::string write_refusal(const std::string& reason) {
    const auto wins = reason.find("; the one with the smaller id wins");
    if (wins == std::string::npos) return reason;
    return reason.substr(0, wins) + ": a data dir may hold one group per selector; change this " +
           "selector or that group";
}

ApiReply ok_reply(unsigned status, nlohmann::json body, std::string etag) {
    ApiReply r;
    r.status = status;
    r.body = body.dump() + "\n";
    r.etag = std::move(etag);
    return r;
}

}  // namespace

AdminApi::AdminApi(std::string data_root, const SnapshotHolder& holder,
                   std::function<void()> reload_now)
    : root_(std::move(data_root)), holder_(holder), reload_now_(std::move(reload_now)) {}

ApiReply AdminApi::handle(const ApiRequest& request) {
    std::string_view path = request.target, query;
    if (auto q = path.find('?'); q != std::string_view::npos) {
        query = path.substr(q + 1);
        path = path.substr(0, q);
    }
    if (request.method == "GET" || request.method == "HEAD")
        return read_request(*holder_.get(), path, query);
    if (request.method != "PUT" && request.method != "DELETE")
        return api_error(
            405, "method " + std::string(request.method) + " not allowed (GET, PUT, DELETE)");
    const auto p = split_api_path(path);
    if (!p || !p->kind || p->raw_name.empty())
        return api_error(405, "write one object: " + std::string(request.method) +
                                  " /api/v1/{groups,profiles,ignition,cloud,generic}/NAME");
    const auto& name = p->name;
    if (!name || !valid_name(*name)) {
        // The name as the client meant it (decoded), escaped for the one-line answer.
        const std::string shown = log_escape(name ? *name : std::string(p->raw_name));
        if (name && from_layout(*name)) {
            const auto snapshot = holder_.get();
            const bool exists = snapshot->profiles().count(*name) ||
                                std::any_of(snapshot->groups().begin(), snapshot->groups().end(),
                                            [&](const Group& g) { return g.id == *name; });
            if (exists)
                return api_error(
                    409,
                    "'" + shown + "' comes from the bootcfg layout (boot/, cloud/); edit that file",
                    "id");
            return api_error(400,
                             "'" + shown +
                                 "': ids starting with 'bootcfg:' are reserved for the bootcfg "
                                 "layout (boot/, cloud/); choose another id",
                             "id");
        }
        return api_error(
            400,
            "'" + shown + "' is not a valid name (letters, digits, . _ -; not starting with .)",
            "id");
    }
    if (!query.empty()) return api_error(400, "writes take no query parameters");
    if (*p->kind == Kind::cloud && (*name == "default" || *name == "uuid" || *name == "mac"))
        return api_error(409,
                         "cloud/" + *name +
                             " is reserved by the bootcfg layout (cloud/default, cloud/uuid/, "
                             "cloud/mac/ hold raw per-machine cloud-configs); use another name",
                         "id");
    std::lock_guard lock(write_mutex_);
    return write(*p->kind, *name, request);
}

ApiReply AdminApi::write(Kind kind, const std::string& name, const ApiRequest& request) {
    const auto snapshot = holder_.get();
    const char* what = is_template(kind) ? "config" : kind == Kind::groups ? "group" : "profile";
    // Where the object lives: the file the served version came from (its name may differ from
    // the id), else the file name matchbox would use.
    std::string path =
        root_ + "/" +
        (is_template(kind) ? std::string(template_dir(template_kind(kind))) + "/" + name
                           : std::string(kind_name(kind)) + "/" + name + ".json");
    if (kind == Kind::groups) {
        for (const auto& g : snapshot->groups())
            if (g.id == name && !g.source.empty() && !g.falls_through) path = g.source;
    } else if (kind == Kind::profiles) {
        if (const Profile* p = snapshot->profile(name); p && !p->source.empty()) path = p->source;
    }

    const auto current = read_file(path);
    const std::string old_revision = current ? disk_revision(kind, *current) : "";
    // A file by the object's name that holds another object: writing it would replace that one.
    if (current && !is_template(kind)) {
        const std::string held = object_id(kind, *current);
        if (!held.empty() && held != name)
            return api_error(409,
                             path.substr(root_.size() + 1) + " holds " + what + " '" + held +
                                 "', not '" + name + "'; rename or fix that file first",
                             "id");
    }
    if (!request.if_match.empty() &&
        !etag_matches(request.if_match, old_revision, current.has_value(), false)) {
        if (!current)
            return api_error(412, std::string(what) + " '" + name + "' does not exist (If-Match)");
        return ok_reply(412,
                        {{"error", std::string(what) + " '" + name + "' has changed: revision is " +
                                       old_revision},
                         {"revision", old_revision}},
                        old_revision);
    }
    if (!request.if_none_match.empty() &&
        etag_matches(request.if_none_match, old_revision, current.has_value(), true))
        return ok_reply(412,
                        {{"error", std::string(what) + " '" + name +
                                       (request.if_none_match == "*"
                                            ? "' already exists"
                                            : "' is at that revision (If-None-Match)")},
                         {"revision", old_revision}},
                        old_revision);

    std::string error;
    if (request.method == "DELETE") {
        if (!current) return api_error(404, std::string("no ") + what + " '" + name + "'", "id");
        if (kind == Kind::profiles) {
            std::string users;
            for (const auto& g : snapshot->groups())
                if (g.profile == name && !g.falls_through)
                    users += (users.empty() ? "" : ", ") + g.id;
            if (!users.empty())
                return api_error(409, "profile '" + name + "' is used by groups " + users, "id");
        } else if (is_template(kind)) {
            std::string users;
            for (const auto& [id, p] : snapshot->profiles())
                if (template_id(p, template_kind(kind)) == name)
                    users += (users.empty() ? "" : ", ") + id;
            if (!users.empty())
                return api_error(409,
                                 std::string(kind_name(kind)) + " config '" + name +
                                     "' is used by profiles " + users,
                                 "name");
        }
        if (!remove_file_durable(path, error)) return api_error(500, "cannot delete: " + error);
        reload_now_();
        spdlog::info("audit: who=\"{}\" action=delete object={}/{} old={} new=-",
                     log_escape(request.who), kind_name(kind), name, old_revision);
        if (const auto still = served_revision(*holder_.get(), kind, name); !still.empty())
            return ok_reply(409,
                            {{"error", "deleted " + path.substr(root_.size() + 1) + ", but " +
                                           what + " '" + name +
                                           "' is still defined by another file (a duplicate "
                                           "id); delete again to remove that one too"},
                             {"revision", still}},
                            still);
        return ok_reply(200, {{"deleted", name}, {"revision", old_revision}}, "");
    }

    // PUT: the document must pass the loader's own checks, then the cross-file checks against
    // the store as it would be with it.
    if (request.body.empty()) return api_error(400, "empty body: send the " + std::string(what));
    const std::string text(request.body);
    Failure failure;
    StoreContents candidate = snapshot->contents();
    candidate.problems.clear();
    std::string new_revision;
    // Profiles and groups: parsed like files, named by the URL, replacing their old version.
    auto replace_in = [&](auto parsed, auto& list) -> std::optional<ApiReply> {
        if (!parsed) return api_error(400, failure.reason, failure.field);
        if (parsed->id != name)
            return api_error(
                400, "id '" + parsed->id + "' differs from the name in the URL ('" + name + "')",
                "id");
        parsed->source = path;
        new_revision = revision(*parsed);
        std::erase_if(list,
                      [&](const auto& o) { return o.id == name; });  // layout ids have a colon
        list.push_back(std::move(*parsed));
        return std::nullopt;
    };
    if (kind == Kind::profiles || kind == Kind::groups) {
        auto refused = kind == Kind::profiles
                           ? replace_in(parse_profile(text, failure), candidate.profiles)
                           : replace_in(parse_group(text, failure), candidate.groups);
        if (refused) return *refused;
    } else {
        auto entry = parse_template_entry(template_kind(kind), name, text, failure);
        if (!entry)
            return api_error(400,
                             (failure.line ? "line " + std::to_string(failure.line) + ": " : "") +
                                 failure.reason,
                             "body");
        entry->source = path;
        new_revision = revision(*entry);
        candidate.templates[static_cast<int>(template_kind(kind))][name] = std::move(*entry);
    }
    check_references(candidate);
    for (const auto& problem : candidate.problems)
        if (problem.path == path && problem.reason.find("differs from its file name") ==
                                        std::string::npos)  // the file's name, not the document
            return api_error(400, write_refusal(problem.reason), problem_field(problem.reason));

    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    // JSON documents end with a newline like hand-written files; templates are kept byte exact.
    const bool add_newline = !is_template(kind) && !text.ends_with('\n');
    if (!write_file_atomic(path, add_newline ? text + "\n" : text, error))
        return api_error(500, "cannot write: " + error);
    reload_now_();
    spdlog::info("audit: who=\"{}\" action=put object={}/{} old={} new={}", log_escape(request.who),
                 kind_name(kind), name, current ? old_revision : "-", new_revision);
    // A 2xx promises the next request sees it: say so when the loader serves something else.
    const auto snapshot_after = holder_.get();
    if (served_revision(*snapshot_after, kind, name) != new_revision) {
        const auto why = problems_of(*snapshot_after, path);
        return api_error(500, "wrote " + path.substr(root_.size() + 1) + ", but it is not served" +
                                  (why.empty() ? std::string() : ": " + why));
    }
    return ok_reply(current ? 200 : 201, {{"id", name}, {"revision", new_revision}}, new_revision);
}

}  // namespace bootcfg::admin
