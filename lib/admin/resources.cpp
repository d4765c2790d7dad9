#include "admin/resources.hpp"

#include <algorithm>
#include <vector>

#include "labels/labels.hpp"
#include "match/match.hpp"

namespace bootcfg::admin {

using nlohmann::json;

namespace {

constexpr std::string_view kPrefix = "/api/v1/";

// "selector=key=value" pairs of a list query, percent-decoded; nullopt with error on bad input.
std::optional<Labels> selector_filter(std::string_view query, std::string& error) {
    Labels wanted;
    auto bad = for_each_query_pair(query, [&](std::string key, std::string value) {
        if (key != "selector") {
            error = "unknown query parameter '" + key + "' (expected selector=KEY=VALUE)";
            return false;
        }
        auto inner = value.find('=');
        if (inner == std::string::npos || inner == 0) {
            error = "selector '" + value + "' is not KEY=VALUE";
            return false;
        }
        std::string k = value.substr(0, inner), v = value.substr(inner + 1);
        auto normalized = normalize_label(k, v);
        if (!normalized) {
            error = "selector mac '" + v + "' is not a MAC address";
            return false;
        }
        wanted.set(std::move(k), std::move(*normalized));
        return true;
    });
    if (bad) error = "malformed percent-encoding in the query";
    if (!error.empty()) return std::nullopt;
    return wanted;
}

// Every entry of `wanted` is in `have`.
bool selector_has(const Labels& have, const Labels& wanted) {
    for (const auto& [k, v] : wanted.entries()) {
        const std::string* value = have.find(k);
        if (!value || *value != v) return false;
    }
    return true;
}

json with_meta(json object, const std::string& revision, const std::string& source) {
    object["revision"] = revision;
    object["source"] = source;
    return object;
}

ApiReply list(const Snapshot& snapshot, Kind kind, std::string_view query) {
    json items = json::array();
    if (kind == Kind::groups) {
        std::string error;
        auto wanted = selector_filter(query, error);
        if (!wanted) return api_error(400, error, "selector");
        std::vector<const Group*> groups;
        for (const Group* g : snapshot.groups())
            if (selector_has(g->selector, *wanted)) groups.push_back(g);
        std::sort(groups.begin(), groups.end(),
                  [](const Group* a, const Group* b) { return a->id < b->id; });
        for (const Group* g : groups)
            items.push_back(with_meta(group_json(*g), revision(*g), g->source));
    } else {
        if (!query.empty()) return api_error(400, "only groups can be filtered", "selector");
        if (kind == Kind::profiles) {
            std::vector<const Profile*> profiles = snapshot.profiles();
            std::sort(profiles.begin(), profiles.end(),
                      [](const Profile* a, const Profile* b) { return a->id < b->id; });
            for (const Profile* p : profiles)
                items.push_back(with_meta(profile_json(*p), revision(*p), p->source));
        } else {
            auto names = snapshot.templates(template_kind(kind));
            std::sort(
                names.begin(), names.end(),
                [](const TemplateEntry* a, const TemplateEntry* b) { return a->name < b->name; });
            for (const TemplateEntry* t : names)
                items.push_back({{"name", t->name},
                                 {"size", t->text.size()},
                                 {"revision", revision(*t)},
                                 {"source", t->source}});
        }
    }
    return json_reply(200, {{"items", std::move(items)}});
}

ApiReply get_one(const Snapshot& snapshot, Kind kind, const std::string& name) {
    const std::string what = std::string(kind_name(kind)) + "/" + name;
    if (kind == Kind::groups) {
        if (const Group* g = snapshot.group(name))
            return json_reply(200, group_json(*g), revision(*g));
        return api_error(404, "no group '" + name + "'", "id");
    }
    if (kind == Kind::profiles) {
        const Profile* p = snapshot.profile(name);
        if (!p) return api_error(404, "no profile '" + name + "'", "id");
        return json_reply(200, profile_json(*p), revision(*p));
    }
    const TemplateEntry* t = snapshot.template_entry(template_kind(kind), name);
    if (!t)
        return api_error(404, "no " + std::string(kind_name(kind)) + " config '" + name + "'",
                         "name");
    ApiReply r;
    r.content_type =
        kind == Kind::ignition && !t->parsed ? "application/json" : "text/plain; charset=utf-8";
    r.body = t->text;
    r.etag = revision(*t);
    return r;
}

// Which group and profile a machine with these labels gets, for each part, and why.
ApiReply select_request(const Snapshot& snapshot, std::string_view query) {
    const auto parsed = labels_from_query(query);
    if (!parsed) return api_error(400, parsed.failure().reason, parsed.failure().field);
    if (parsed->empty())
        return api_error(400, "give the machine's labels, e.g. select?mac=52:54:00:12:34:56");
    json labels = json::object();
    for (const auto& [k, v] : parsed->entries()) labels[k] = v;
    json parts = json::object();
    const std::pair<const char*, Part> all[] = {{"boot", Part::boot},
                                                {"ignition", Part::ignition},
                                                {"cloud", Part::cloud},
                                                {"generic", Part::generic},
                                                {"metadata", Part::group}};
    for (const auto& [name, part] : all) {
        const Selection s = select(snapshot, *parsed, part);
        json entry = json::object();
        if (s.group) {
            entry["group"] = s.group->id;
            entry["group_source"] = s.group->source;
            entry["selector"] = group_json(*s.group)["selector"];
        }
        if (s.profile) {
            entry["profile"] = s.profile->id;
            entry["profile_source"] = s.profile->source;
        }
        if (!s) entry["reason"] = s.reason.empty() ? "no group matches" : s.reason;
        parts[name] = std::move(entry);
    }
    // Every group whose selector the labels satisfy, best first: why the winner won.
    json candidates = json::array();
    std::vector<const Group*> matching;
    for (const Group* g : snapshot.groups())
        if (selector_has(*parsed, g->selector)) matching.push_back(g);
    std::stable_sort(matching.begin(), matching.end(), [](const Group* a, const Group* b) {
        return a->selector.entries().size() > b->selector.entries().size();
    });
    for (const Group* g : matching)
        candidates.push_back({{"group", g->id},
                              {"profile", g->profile},
                              {"selector_size", g->selector.entries().size()},
                              {"source", g->source}});
    return json_reply(200,
                      {{"labels", std::move(labels)},
                       {"selected", std::move(parts)},
                       {"matching_groups", std::move(candidates)},
                       {"rule",
                        "most selector entries win; ties: uuid > mac > hostname > serial > other "
                        "keys, then matchbox groups before layout groups, then the smaller id"}});
}

}  // namespace

ApiReply api_error(unsigned status, const std::string& reason, const std::string& field) {
    json body = {{"error", reason}};
    if (!field.empty()) body["field"] = field;
    ApiReply r;
    r.status = status;
    r.body = body.dump() + "\n";
    return r;
}

ApiReply json_reply(unsigned status, const json& body, std::string etag) {
    ApiReply r;
    r.status = status;
    r.body = body.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    r.etag = std::move(etag);
    return r;
}

std::optional<ApiPath> split_api_path(std::string_view path) {
    if (!path.starts_with(kPrefix)) return std::nullopt;
    const std::string_view rest = path.substr(kPrefix.size());
    const auto slash = rest.find('/');
    ApiPath p;
    p.collection = rest.substr(0, slash);
    p.kind = kind_from_name(p.collection);
    if (slash != std::string_view::npos) p.raw_name = rest.substr(slash + 1);
    p.name = percent_decode(p.raw_name, false);
    return p;
}

ApiReply read_request(const Snapshot& snapshot, std::string_view path, std::string_view query) {
    const auto p = split_api_path(path);
    if (!p) return api_error(404, "no such endpoint (the API is under /api/v1/)");
    if (path == "/api/v1/select") return select_request(snapshot, query);
    if (!p->kind)
        return api_error(
            404, "no such collection '" + std::string(p->collection) +
                     "' (groups, profiles, ignition, cloud, generic, select, machines, problems, "
                     "events)");
    if (p->raw_name.empty()) return list(snapshot, *p->kind, query);
    if (!p->name || (!valid_name(*p->name) && !from_layout(*p->name)))
        return api_error(400, "'" + std::string(p->raw_name) + "' is not a valid name", "id");
    return get_one(snapshot, *p->kind, *p->name);
}

}  // namespace bootcfg::admin
