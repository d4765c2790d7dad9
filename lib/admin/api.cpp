#include "admin/api.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "admin/machines.hpp"
#include "labels/labels.hpp"
#include "logging/log_text.hpp"
#include "store/data_files.hpp"

namespace bootcfg::admin {

namespace {

// A location as the operator knows it: relative to the data dir.
std::string shown_location(const StoreSource& source, const std::string& location) {
    const std::string root = source.describe() + "/";
    return location.starts_with(root) ? location.substr(root.size()) : location;
}

// The id a profile or group file holds; "" when it does not parse.
std::string object_id(Kind kind, const std::string& text) {
    if (kind == Kind::profiles) {
        auto p = parse_profile(text);
        return p ? p->id : "";
    }
    auto g = parse_group(text);
    return g ? g->id : "";
}

// The revision of `name` as served by a snapshot; "" when it serves none.
std::string served_revision(const Snapshot& s, Kind kind, const std::string& name) {
    if (kind == Kind::profiles) {
        const Profile* p = s.profile(name);
        return p ? revision(*p) : "";
    }
    if (kind == Kind::groups) {
        const Group* g = s.group(name);
        return g && !g->falls_through ? revision(*g) : "";
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

// The loader's words are for a data dir that already holds both files ("the one with the
// smaller id wins"); a write is refused instead, so say what to change.
std::string write_refusal(const std::string& reason) {
    const auto wins = reason.find("; the one with the smaller id wins");
    if (wins == std::string::npos) return reason;
    return reason.substr(0, wins) + ": a data dir may hold one group per selector; change this " +
           "selector or that group";
}

// A write, for the event stream (GET /api/v1/events).
void announce(inventory::EventLog* log, const char* type, Kind kind, const std::string& name,
              const std::string& revision, const std::string& who) {
    if (!log) return;
    log->append(type,
                nlohmann::json{
                    {"kind", kind_name(kind)}, {"name", name}, {"revision", revision}, {"who", who}}
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

bool is_template_reference(const std::string& field) {
    return field == "ignition_id" || field == "cloud_id" || field == "generic_id";
}

ApiReply ok_reply(unsigned status, nlohmann::json body, std::string etag) {
    ApiReply r;
    r.status = status;
    r.body = body.dump() + "\n";
    r.etag = std::move(etag);
    return r;
}

// What the last load of the store skipped and why, as the operator reads it in a log.
ApiReply problems_reply(const Snapshot& snapshot, const StoreSource& source) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& p : snapshot.problems()) {
        LoadProblem shown = p;
        shown.path = shown_location(source, p.path);
        items.push_back({{"path", shown.path},
                         {"line", p.line},
                         {"reason", p.reason},
                         {"field", p.field},
                         {"text", shown.to_string()}});
    }
    ApiReply r;
    // A file name need not be UTF-8: such bytes are shown as U+FFFD rather than failing the list.
    r.body = nlohmann::json{{"source", source.describe()}, {"items", std::move(items)}}.dump(
                 2, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\n";
    return r;
}

}  // namespace

ApiReply AdminApi::handle(const ApiRequest& request) {
    std::string_view path = request.target, query;
    if (auto q = path.find('?'); q != std::string_view::npos) {
        query = path.substr(q + 1);
        path = path.substr(0, q);
    }
    if (path == "/api/v1/machines" || path.starts_with("/api/v1/machines/"))
        return machines_request(inventory_, bmc_calls_, request, path, query);
    if (path == "/metrics" && metrics_) {
        if (request.method != "GET" && request.method != "HEAD")
            return api_error(
                405, "method " + std::string(request.method) + " not allowed on /metrics (GET)");
        ApiReply r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = metrics_->exposition();
        return r;
    }
    if (path == "/api/v1/problems" && (request.method == "GET" || request.method == "HEAD"))
        return problems_reply(*store_.current(), store_.source());
    if (request.method == "GET" || request.method == "HEAD")
        return read_request(*store_.current(), path, query);
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
            const auto snapshot = store_.current();
            const bool exists = snapshot->profile(*name) || snapshot->group(*name);
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
    return write(*p->kind, *name, request);
}

ApiReply AdminApi::write(Kind kind, const std::string& name, const ApiRequest& request) {
    const auto lock = store_.lock();
    const auto snapshot = store_.current();
    const StoreSource& source = store_.source();
    const char* what = is_template(kind) ? "config" : kind == Kind::groups ? "group" : "profile";
    const std::string path = source.locate(ObjectRef{kind, name}, *snapshot);
    const std::string shown = shown_location(source, path);

    const auto current = source.read(path);
    const std::string old_revision = current ? stored_revision(kind, *current) : "";
    // A file by the object's name that holds another object: writing it would replace that one.
    if (current && !is_template(kind)) {
        const std::string held = object_id(kind, *current);
        if (!held.empty() && held != name)
            return api_error(409,
                             shown + " holds " + what + " '" + held + "', not '" + name +
                                 "'; rename or fix that file first",
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
    // What the store held when the checks above ran: a hand edit in between is a conflict.
    const std::string expected = current ? old_revision : "";
    auto landed = [&](const WriteOutcome& outcome, const char* verb) -> std::optional<ApiReply> {
        if (outcome.status == WriteOutcome::failed)
            return api_error(500, std::string("cannot ") + verb + ": " + outcome.reason);
        if (outcome.status == WriteOutcome::unavailable)  // nothing changed; worth a retry
            return api_error(503, std::string("cannot ") + verb + ": " + outcome.reason);
        if (outcome.status == WriteOutcome::conflict)
            return ok_reply(
                412,
                {{"error", std::string(what) + " '" + name +
                               "' changed while it was being written: revision is " +
                               (outcome.current_revision.empty() ? std::string("none")
                                                                 : outcome.current_revision)},
                 {"revision", outcome.current_revision}},
                outcome.current_revision);
        return std::nullopt;
    };

    if (request.method == "DELETE") {
        if (!current) return api_error(404, std::string("no ") + what + " '" + name + "'", "id");
        if (kind == Kind::profiles) {
            std::string users;
            for (const Group* g : snapshot->groups())
                if (g->profile == name && !g->falls_through)
                    users += (users.empty() ? "" : ", ") + g->id;
            if (!users.empty())
                return api_error(409, "profile '" + name + "' is used by groups " + users, "id");
        } else if (is_template(kind)) {
            std::string users;
            for (const Profile* p : snapshot->profiles())
                if (template_id(*p, template_kind(kind)) == name)
                    users += (users.empty() ? "" : ", ") + p->id;
            if (!users.empty())
                return api_error(409,
                                 std::string(kind_name(kind)) + " config '" + name +
                                     "' is used by profiles " + users,
                                 "name");
        }
        auto next = LiveStore::patched(*snapshot, {LocationChange{path, {}, false}});
        if (auto refused = landed(source.write({path, kind, std::nullopt, expected}), "delete"))
            return *refused;
        store_.publish(next);
        spdlog::info("audit: who=\"{}\" action=delete object={}/{} old={} new=-",
                     log_escape(request.who), kind_name(kind), name, old_revision);
        announce(events(), "object.deleted", kind, name, old_revision, request.who);
        if (const auto still = served_revision(*next, kind, name); !still.empty())
            return ok_reply(409,
                            {{"error", "deleted " + shown + ", but " + what + " '" + name +
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
    LocationChange change{path, {}, false};
    std::string new_revision;
    // Profiles and groups: parsed like files, named by the URL.
    auto take = [&](auto parsed, auto& list) -> std::optional<ApiReply> {
        if (!parsed) return api_error(400, parsed.failure().reason, parsed.failure().field);
        if (parsed->id != name)
            return api_error(
                400, "id '" + parsed->id + "' differs from the name in the URL ('" + name + "')",
                "id");
        parsed->source = path;
        new_revision = revision(*parsed);
        list.push_back(std::move(*parsed));
        return std::nullopt;
    };
    if (kind == Kind::profiles || kind == Kind::groups) {
        auto refused = kind == Kind::profiles ? take(parse_profile(text), change.now.profiles)
                                              : take(parse_group(text), change.now.groups);
        if (refused) return *refused;
    } else {
        auto entry = parse_template_entry(template_kind(kind), name, text);
        if (!entry) {
            const Failure& failure = entry.failure();
            return api_error(400,
                             (failure.line ? "line " + std::to_string(failure.line) + ": " : "") +
                                 failure.reason,
                             "body");
        }
        entry->source = path;
        new_revision = revision(*entry);
        change.now.templates[static_cast<int>(template_kind(kind))].push_back(std::move(*entry));
    }
    auto next = LiveStore::patched(*snapshot, {std::move(change)});
    for (const auto& problem : next->problems()) {
        if (problem.path != path || problem.about_file_name)  // the name is not the document's
            continue;
        if (request.templates_may_follow && is_template_reference(problem.field)) continue;
        return api_error(400, write_refusal(problem.reason), problem.field);
    }

    // JSON documents end with a newline like hand-written files; templates are kept byte exact.
    const bool add_newline = !is_template(kind) && !text.ends_with('\n');
    if (auto refused =
            landed(source.write({path, kind, add_newline ? text + "\n" : text, expected}), "write"))
        return *refused;
    store_.publish(next);
    spdlog::info("audit: who=\"{}\" action=put object={}/{} old={} new={}", log_escape(request.who),
                 kind_name(kind), name, current ? old_revision : "-", new_revision);
    announce(events(), "object.put", kind, name, new_revision, request.who);
    // A 2xx promises the next request sees it: say so when the store serves something else.
    if (served_revision(*next, kind, name) != new_revision) {
        const auto why = problems_of(*next, path);
        return api_error(500, "wrote " + shown + ", but it is not served" +
                                  (why.empty() ? std::string() : ": " + why));
    }
    return ok_reply(current ? 200 : 201, {{"id", name}, {"revision", new_revision}}, new_revision);
}

}  // namespace bootcfg::admin
