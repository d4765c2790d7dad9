#include "admin/machines.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "admin/api.hpp"
#include "labels/labels.hpp"
#include "logging/log_text.hpp"
#include "model/limits.hpp"
#include "values/values.hpp"

namespace bootcfg::admin {

namespace {

using inventory::MachineRecord;
using nlohmann::json;

constexpr std::string_view kMachines = "/api/v1/machines";

// A record's fields as the labels `label=KEY=VALUE` filters on.
const std::string* record_label(const MachineRecord& r, std::string_view key) {
    if (key == "mac") return &r.mac;
    if (key == "uuid") return &r.uuid;
    if (key == "hostname") return &r.hostname;
    if (key == "serial") return &r.serial;
    if (key == "arch") return &r.arch;
    if (key == "group") return &r.group;
    if (key == "profile") return &r.profile;
    if (key == "state") return &r.state;
    if (key == "client_ip") return &r.client_ip;
    return nullptr;
}

// "52-54-00-AB-CD-EF" or a MAC in any case -> its record id; "uuid:..." as the inventory keys it.
std::optional<std::string> record_id(const std::string& raw) {
    if (raw.starts_with("uuid:")) {
        auto uuid = normalize_uuid(std::string_view(raw).substr(5));
        return uuid ? std::optional<std::string>("uuid:" + *uuid) : std::nullopt;
    }
    if (auto uuid = normalize_uuid(raw)) return "uuid:" + *uuid;
    return normalize_mac(raw);
}

ApiReply list(const inventory::Inventory& inv, std::string_view query) {
    std::vector<std::pair<std::string, std::string>> labels;
    std::string state, error;
    std::optional<std::int64_t> since_ms;
    const auto bad = for_each_query_pair(query, [&](std::string key, std::string value) {
        if (key == "state") {
            state = std::move(value);
        } else if (key == "label") {
            const auto eq = value.find('=');
            if (eq == std::string::npos || eq == 0) {
                error = "label '" + value + "' is not KEY=VALUE";
                return false;
            }
            std::string k = value.substr(0, eq);
            auto v = normalize_label(k, value.substr(eq + 1));
            if (!v) {
                error = "label mac '" + value.substr(eq + 1) + "' is not a MAC address";
                return false;
            }
            labels.emplace_back(std::move(k), std::move(*v));
        } else if (key == "seen-since") {
            auto d = parse_duration(value);
            if (!d) {
                error = "seen-since '" + value + "' is not a duration (e.g. 10m, 24h)";
                return false;
            }
            since_ms = inventory::now_ms() - d->count();
        } else {
            error = "unknown query parameter '" + key + "' (state, label, seen-since)";
            return false;
        }
        return true;
    });
    if (bad) error = "malformed percent-encoding in the query";
    if (!error.empty()) return api_error(400, log_escape(error), "query");
    auto records = inv.list();
    std::erase_if(records, [&](const MachineRecord& r) {
        if (!state.empty() && r.state != state) return true;
        if (since_ms && r.last_seen_ms < *since_ms) return true;
        for (const auto& [k, v] : labels) {
            const std::string* have = record_label(r, k);
            if (!have || *have != v) return true;
        }
        return false;
    });
    std::sort(records.begin(), records.end(),
              [](const MachineRecord& a, const MachineRecord& b) { return a.id < b.id; });
    json items = json::array();
    for (const auto& r : records) items.push_back(inventory::record_json(r));
    return json_reply(200, {{"items", std::move(items)}});
}

}  // namespace

ApiReply machines_request(inventory::Inventory* inv, BmcCalls& bmc_calls, const ApiRequest& request,
                          std::string_view path, std::string_view query) {
    if (!inv) return api_error(404, "the machine inventory is off (-state-path is empty)");
    if (path == kMachines) {
        if (request.method != "GET" && request.method != "HEAD")
            return api_error(
                405, "method " + std::string(request.method) + " not allowed on the list (GET)");
        return list(*inv, query);
    }
    std::string_view rest = path.substr(kMachines.size() + 1);
    std::string_view part;  // "/ID/bmc": the machine's BMC endpoints
    if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
        part = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
    }
    const auto raw = percent_decode(rest, false);
    const auto id = raw ? record_id(*raw) : std::nullopt;
    if (!id)
        return api_error(400,
                         "'" + log_escape(raw ? *raw : std::string(path)) +
                             "' is not a MAC address or uuid:UUID",
                         "id");
    if (!query.empty()) return api_error(400, "a machine takes no query parameters");
    if (!part.empty()) return machine_bmc_request(*inv, bmc_calls, request, *id, part);
    if (request.method == "GET" || request.method == "HEAD") {
        auto r = inv->get(*id);
        if (!r) return api_error(404, "no machine '" + *id + "'", "id");
        return json_reply(200, inventory::record_json(*r));
    }
    if (request.method == "DELETE") {
        auto forgotten = inv->forget(*id);
        if (!forgotten) return api_error(503, "cannot forget: " + forgotten.failure().reason);
        if (!*forgotten) return api_error(404, "no machine '" + *id + "'", "id");
        spdlog::info("audit: who=\"{}\" action=forget object=machines/{}", log_escape(request.who),
                     *id);
        return json_reply(200, {{"deleted", *id}});
    }
    if (request.method == "PATCH") {
        std::string state;
        try {
            const json body = parse_json_bounded(request.body);
            if (!body.is_object() || !body.contains("state") || !body["state"].is_string() ||
                body.size() != 1)
                return api_error(400, "send {\"state\": \"NAME\"}", "state");
            state = body["state"].get<std::string>();
        } catch (const json::exception&) {
            return api_error(400, "the body is not JSON: send {\"state\": \"NAME\"}", "state");
        }
        const auto before = inv->get(*id);
        auto changed = inv->set_state(*id, state, request.who);
        if (!changed) {
            const auto& f = changed.failure();
            return api_error(f.field == "state" ? 400 : 503, log_escape(f.reason), f.field);
        }
        spdlog::info("audit: who=\"{}\" action=set-state object=machines/{} old={} new={}",
                     log_escape(request.who), *id,
                     before && !before->state.empty() ? before->state : "-", changed->state);
        return json_reply(200, inventory::record_json(*changed));
    }
    return api_error(405, "method " + std::string(request.method) +
                              " not allowed on a machine (GET, PATCH, DELETE)");
}

}  // namespace bootcfg::admin
