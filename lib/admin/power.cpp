#include "admin/power.hpp"

#include <spdlog/spdlog.h>

#include "admin/api.hpp"
#include "logging/log_text.hpp"
#include "model/limits.hpp"

namespace bootcfg::admin {

namespace {

using nlohmann::json;

// A password longer than any BMC takes (IPMI 2.0: 20 bytes; Redfish services: a few dozen).
constexpr std::size_t kMaxPassword = 256;

Result<json> json_body(const ApiRequest& request, const char* expected) {
    try {
        json body = parse_json_bounded(request.body);
        if (body.is_object()) return body;
    } catch (const json::exception&) {
    }
    return fail(std::string("the body is not a JSON object: send ") + expected);
}

// Counts a BMC call in progress while it lives; `admitted` false when the limit was reached.
struct CallSlot {
    BmcCalls& calls;
    bool admitted;
    explicit CallSlot(BmcCalls& c) : calls(c), admitted(++c.running <= c.limit) {}
    ~CallSlot() { --calls.running; }
};

ApiReply bmc_settings(inventory::Inventory& inv, const ApiRequest& request, const std::string& id) {
    if (request.method == "GET" || request.method == "HEAD") {
        auto r = inv.get(id);
        if (!r || r->bmc.is_null()) return api_error(404, "machine '" + id + "' has no BMC set");
        return json_reply(200, r->bmc);
    }
    if (request.method == "DELETE") {
        auto r = inv.get(id);
        if (!r || r->bmc.is_null()) return api_error(404, "machine '" + id + "' has no BMC set");
        auto removed = inv.set_bmc(id, nullptr, "", request.who);
        if (!removed) return api_error(503, "cannot remove the BMC: " + removed.failure().reason);
        spdlog::info("audit: who=\"{}\" action=remove-bmc object=machines/{}",
                     log_escape(request.who), id);
        return json_reply(200, inventory::record_json(*removed));
    }
    if (request.method != "PUT")
        return api_error(405, "method " + std::string(request.method) +
                                  " not allowed on a machine's BMC (GET, PUT, DELETE)");
    const char* expected = R"({"url": "ipmi://HOST[:PORT]", "user": "U", "password": "P"})";
    auto body = json_body(request, expected);
    if (!body) return api_error(400, body.failure().reason, "body");
    std::string password;
    if (auto p = body->find("password"); p != body->end()) {
        if (!p->is_string() || p->get_ref<const std::string&>().size() > kMaxPassword)
            return api_error(400, "a string of at most " + std::to_string(kMaxPassword) + " bytes",
                             "password");
        password = p->get<std::string>();
    }
    auto settings = bmc::settings_from_json(*body);
    if (!settings) {
        const auto& f = settings.failure();
        return api_error(400, log_escape(f.reason), f.field);
    }
    auto set = inv.set_bmc(id, bmc::settings_json(*settings), password, request.who);
    if (!set) return api_error(503, "cannot store the BMC: " + set.failure().reason);
    // Never the password: who set which BMC for which machine.
    spdlog::info("audit: who=\"{}\" action=set-bmc object=machines/{} bmc={} user=\"{}\"{}",
                 log_escape(request.who), id, log_escape(settings->url), log_escape(settings->user),
                 settings->insecure ? " insecure=true (its certificate is not verified)" : "");
    return json_reply(200, inventory::record_json(*set));
}

}  // namespace

bool talks_to_bmc(std::string_view path) {
    return path.starts_with("/api/v1/machines/") &&
           (path.ends_with("/power") || path.ends_with("/next-boot"));
}

ApiReply machine_bmc_request(inventory::Inventory& inv, BmcCalls& calls, const ApiRequest& request,
                             const std::string& id, std::string_view part) {
    if (part == "bmc") return bmc_settings(inv, request, id);
    const bool power = part == "power";
    if (!power && part != "next-boot")
        return api_error(404, "a machine has /bmc, /power and /next-boot, not /" +
                                  log_escape(std::string(part)));
    const bool read = request.method == "GET" || request.method == "HEAD";
    const char* write_method = power ? "POST" : "PUT";
    if (!read && request.method != write_method)
        return api_error(405, "method " + std::string(request.method) + " not allowed on a " +
                                  "machine's " + std::string(part) + " (GET, " + write_method +
                                  ")");

    std::optional<bmc::PowerAction> action;
    std::optional<bmc::NextBoot> next;
    if (!read) {
        const char* expected =
            power ? R"({"action": "on|off|cycle|reset|soft"})"
                  : R"({"device": "pxe|http|disk", "uefi": false, "persistent": false})";
        auto body = json_body(request, expected);
        if (!body) return api_error(400, body.failure().reason, "body");
        for (const auto& [key, value] : body->items()) {
            const bool known =
                power ? key == "action" : key == "device" || key == "uefi" || key == "persistent";
            if (!known) return api_error(400, "unknown field: send " + std::string(expected), key);
        }
        if (power) {
            const auto a = body->value("action", json());
            if (a.is_string()) action = bmc::parse_power_action(a.get<std::string>());
            if (!action) return api_error(400, "send " + std::string(expected), "action");
        } else {
            const auto d = body->value("device", json());
            std::optional<bmc::BootDevice> device;
            if (d.is_string()) device = bmc::parse_boot_device(d.get<std::string>());
            if (!device) return api_error(400, "send " + std::string(expected), "device");
            next = bmc::NextBoot{*device};
            for (auto [flag, key] :
                 {std::pair{&next->uefi, "uefi"}, {&next->persistent, "persistent"}}) {
                const auto v = body->value(key, json(false));
                if (!v.is_boolean()) return api_error(400, "true or false", key);
                *flag = v.get<bool>();
            }
        }
    }

    auto record = inv.get(id);
    if (!record || record->bmc.is_null())
        return api_error(404, "machine '" + id + "' has no BMC set (bootcfg machine set-bmc)");
    auto settings = bmc::settings_from_json(record->bmc);
    if (!settings)
        return api_error(409, "machine '" + id + "': its BMC settings do not check: " +
                                  log_escape(settings.failure().reason));
    CallSlot slot(calls);
    if (!slot.admitted)
        return api_error(503,
                         std::to_string(calls.limit) + " BMC calls are in progress; try again");
    auto password = inv.bmc_password(id);
    if (!password)
        return api_error(503, "cannot read the BMC password: " + password.failure().reason);
    auto controller = bmc::connect(*settings, password->value_or(""), calls.options);
    if (!controller) {
        const auto& f = controller.failure();
        return api_error(409, "machine '" + id + "': " + log_escape(f.reason), f.field);
    }
    auto& b = **controller;
    const std::string what =
        action ? "power " + std::string(bmc::power_action_name(*action))
        : next ? "next-boot " + std::string(bmc::boot_device_name(next->device)) +
                     (next->uefi ? " uefi" : "") + (next->persistent ? " persistent" : "")
        : power ? "power status"
                : "next-boot status";
    // A BMC that says no or does not answer: 502, its words in the reason. A request the BMC's
    // protocol cannot carry (HTTP boot over IPMI) names its field: 400.
    auto refused = [&](const Failure& f) {
        spdlog::warn("bmc: {} {} for machine {}: {}", b.where(), what, id, log_escape(f.reason));
        return api_error(f.field.empty() ? 502 : 400, log_escape(f.reason), f.field);
    };
    auto audit = [&]() {
        spdlog::info("audit: who=\"{}\" action=\"{}\" object=machines/{} bmc={}",
                     log_escape(request.who), what, id, b.where());
    };
    if (action) {
        if (auto done = b.power(*action); !done) return refused(done.failure());
        audit();
    } else if (next) {
        if (auto done = b.set_next_boot(*next); !done) return refused(done.failure());
        audit();
    }
    if (power) {
        // After an action too: what the BMC says now (on/off take effect at once on most BMCs).
        auto on = b.powered_on();
        if (!on) return refused(on.failure());
        json reply{{"machine", id}, {"bmc", b.where()}, {"power", *on ? "on" : "off"}};
        if (action) reply["action"] = bmc::power_action_name(*action);
        if (!action) {
            // A status read also refreshes what the BMC tells of the machine, for its record.
            auto hardware = b.hardware();
            if (hardware && !hardware->is_null() && *hardware != record->hardware)
                if (auto kept = inv.set_hardware(id, *hardware); !kept)
                    spdlog::warn("inventory: machine {}: cannot keep its hardware facts: {}", id,
                                 log_escape(kept.failure().reason));
            if (hardware && !hardware->is_null()) reply["hardware"] = *hardware;
        }
        return json_reply(200, reply);
    }
    auto now = b.next_boot();
    if (!now) return refused(now.failure());
    json reply{{"machine", id}, {"bmc", b.where()}, {"next_boot", bmc::next_boot_json(*now)}};
    return json_reply(200, reply);
}

}  // namespace bootcfg::admin
