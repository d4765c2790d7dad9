// The providers that talk to something: Equinix Metal's API and a bootcfgd's admin API.
#include <ctime>
#include <nlohmann/json.hpp>

#include "client/admin_client.hpp"
#include "labels/labels.hpp"
#include "model/limits.hpp"
#include "provider/provider.hpp"

namespace bootcfg {

using nlohmann::json;

namespace {

std::string seconds_text(std::chrono::seconds s) {
    return std::to_string(s.count()) + "s";
}

// The Equinix Metal (formerly Packet) API, v1.
class EquinixMetal : public Provider {
  public:
    explicit EquinixMetal(ProviderOptions o) : o_(std::move(o)) {
        if (o_.api_url.empty()) o_.api_url = kEquinixMetalApi;
        try {
            std::tie(endpoint_, base_path_) = split_url(o_.api_url);
        } catch (const ConnectError& e) {
            throw ProviderError(std::string("--api-url: ") + e.what());
        }
        if (o_.api_key.empty())
            throw ProviderError(
                "no API token: --api-key or METAL_API_TOKEN (also METAL_AUTH_TOKEN, "
                "PACKET_API_KEY)");
    }

    Device create(const DeviceSpec& s) override {
        if (o_.project_id.empty())
            throw ProviderError(
                "no project: --project-id or METAL_PROJECT_ID (also PACKET_PROJECT_ID)");
        // "metro", never the deprecated "facility" the live API answers with 422.
        json body = {{"hostname", s.hostname},
                     {"plan", s.plan},
                     {"metro", s.metro},
                     {"operating_system", "custom_ipxe"},
                     {"ipxe_script_url", s.ipxe_script_url},
                     {"always_pxe", s.always_pxe},
                     {"billing_cycle", s.billing_cycle}};
        if (!s.userdata.empty()) body["userdata"] = s.userdata;
        std::vector<std::string> tags = s.tags;
        if (!s.run_tag.empty()) tags.push_back(s.run_tag);
        if (!tags.empty()) body["tags"] = tags;
        if (!s.description.empty()) body["description"] = s.description;
        const std::string path = "/projects/" + o_.project_id + "/devices";
        for (int attempt = 0;; ++attempt) {
            try {
                return device_from_json(call("POST", path, body.dump(), false).body);
            } catch (const UncertainOutcome& e) {
                // The API may have made the device and lost the answer: look before repeating.
                if (!s.run_tag.empty()) {
                    note(std::string(e.what()) + "; looking for a device tagged " + s.run_tag);
                    if (auto d = find_tagged(s.run_tag)) return *d;
                }
                if (attempt >= 3 || s.run_tag.empty())
                    throw UncertainOutcome(
                        std::string(e.what()) +
                        " (a device may have been created: bootcfg devices list)");
                const auto wait = std::chrono::seconds(1 << attempt);
                note("no such device; creating it again in " + seconds_text(wait));
                interruptible_sleep(wait);
            }
        }
    }

    std::string where() const override { return o_.api_url + " project " + o_.project_id; }

    Device reuse(const std::string& id, const DeviceSpec& s) override {
        get(id);  // a clear 404 before changing anything
        call("PUT", "/devices/" + percent_encode(id),
             json{{"ipxe_script_url", s.ipxe_script_url}, {"always_pxe", s.always_pxe}}.dump());
        reboot(id);
        return get(id);
    }

    Device get(const std::string& id) override {
        return device_from_json(call("GET", "/devices/" + percent_encode(id)).body);
    }

    void reboot(const std::string& id) override {
        call("POST", "/devices/" + percent_encode(id) + "/actions",
             json{{"type", "reboot"}}.dump());
    }

    void remove(const std::string& id) override {
        call("DELETE", "/devices/" + percent_encode(id));
    }

    std::vector<Device> list(bool& incomplete) override {
        if (o_.project_id.empty())
            throw ProviderError(
                "no project: --project-id or METAL_PROJECT_ID (also PACKET_PROJECT_ID)");
        std::vector<Device> out;
        incomplete = false;
        constexpr int kPerPage = 100, kMaxPages = kMaxListedDevices / kPerPage;
        for (int page = 1;; ++page) {
            const auto r =
                call("GET", "/projects/" + o_.project_id + "/devices?page=" + std::to_string(page) +
                                "&per_page=" + std::to_string(kPerPage));
            json j;
            try {
                j = parse_json_bounded(r.body);
            } catch (const json::exception&) {
                throw ProviderError(
                    "device list: the API answered with something that is not JSON");
            }
            if (!j.contains("devices") || !j["devices"].is_array())
                throw ProviderError("device list: no \"devices\" in the answer");
            for (const auto& d : j["devices"]) out.push_back(device_from_json(d.dump()));
            const json meta = j.value("meta", json::object());
            const int last =
                meta.is_object() && meta.contains("last_page") && meta["last_page"].is_number()
                    ? meta["last_page"].get<int>()
                    : page;
            if (page >= last || j["devices"].empty()) break;
            if (page == kMaxPages) {
                incomplete = true;
                break;
            }
        }
        return out;
    }

    std::vector<std::string> console_command(const Device& d) const override {
        const std::string where = !d.facility.empty() ? d.facility : d.metro;
        if (where.empty()) return {};
        return {"ssh", d.id + "@sos." + where + ".platformequinix.com"};
    }

    std::string how_to_reach(const Device& d) const override {
        std::string s = Provider::how_to_reach(d);
        const auto console = console_command(d);
        if (!console.empty()) s += "; serial console: " + console[0] + " " + console[1];
        return s;
    }

  private:
    // Retries what may pass (429 after the reset time, 5xx, connection errors) a bounded
    // number of times; everything else stops with the API's own message. A request that is
    // not `repeatable` is retried only on 429 (not processed); a lost answer or a 5xx throws
    // UncertainOutcome for the caller to check what happened.
    ClientResponse call(const std::string& method, const std::string& path,
                        const std::string& body = {}, bool repeatable = true) {
        ClientOptions c;
        c.endpoint = endpoint_;
        c.ca_file = o_.ca_file;
        c.timeout = o_.timeout;
        const std::vector<std::pair<std::string, std::string>> headers = {
            {"X-Auth-Token", o_.api_key},
            {"Accept", "application/json"},
            {"Content-Type", "application/json"}};
        const std::string what = method + " " + o_.api_url + path;
        for (int attempt = 0;; ++attempt) {
            ClientResponse r;
            try {
                r = admin_request(c, method, base_path_ + path, body, headers);
            } catch (const ConnectError& e) {
                // A certificate that does not verify will not verify on the next try either.
                const bool tls = std::string(e.what()).find("TLS") != std::string::npos;
                if (!repeatable && !tls) throw UncertainOutcome(what + ": " + e.what());
                if (attempt >= 3 || tls)
                    throw ProviderError(what + ": " + e.what() + sunset_hint());
                const auto wait = std::chrono::seconds(1 << attempt);
                note(std::string(e.what()) + "; retrying in " + seconds_text(wait));
                interruptible_sleep(wait);
                continue;
            }
            if (r.status >= 200 && r.status < 300) return r;
            if (!repeatable && r.status >= 500)
                throw UncertainOutcome(what + ": " + api_error_message(r.status, r.body));
            const auto delay =
                retry_delay(r.status, r.header("X-RateLimit-Reset"), r.header("Retry-After"),
                            attempt, static_cast<std::int64_t>(std::time(nullptr)));
            const int limit = r.status == 429 ? 10 : 4;
            if (delay && attempt < limit) {
                note(api_error_message(r.status, r.body) + "; retrying in " + seconds_text(*delay));
                interruptible_sleep(*delay);
                continue;
            }
            std::string hint =
                r.status == 404 || r.status == 410 || r.status >= 500 ? sunset_hint() : "";
            throw ProviderError(what + ": " + api_error_message(r.status, r.body) + hint);
        }
    }

    std::string sunset_hint() const {
        return o_.api_url.find("api.equinix.com") != std::string::npos ||
                       o_.api_url.find("api.packet.net") != std::string::npos
                   ? " (Equinix Metal was shut down on 2026-06-30; --api-url names another API)"
                   : "";
    }

    void note(const std::string& text) const {
        if (o_.note) o_.note(text);
    }

    ProviderOptions o_;
    std::string endpoint_, base_path_;
};

// A bootcfgd: the "device" is a group selecting the machine's MAC, so `run` works the same way
// for an on-premises rack. bootcfgd cannot see power: a registered machine is "active".
class BootcfgProvider : public Provider {
  public:
    explicit BootcfgProvider(const ProviderOptions& o) {
        c_.endpoint = o.endpoint.empty() ? "unix:/run/bootcfg/admin.sock" : o.endpoint;
        c_.ca_file = o.ca_file;
        c_.cert_file = o.cert_file;
        c_.key_file = o.key_file;
        c_.token = o.token;
        c_.timeout = o.timeout;
    }

    Device create(const DeviceSpec& s) override {
        const auto mac = normalize_mac(s.mac);
        if (!mac)
            throw ProviderError("the bootcfg provider needs the machine's --mac (got '" + s.mac +
                                "')");
        if (s.profile.empty()) throw ProviderError("the bootcfg provider needs a profile");
        if (call("GET", "/api/v1/profiles/" + s.profile, {}, true).status == 404)
            throw ProviderError("bootcfgd at " + c_.endpoint + " has no profile '" + s.profile +
                                "' (bootcfg push " + s.profile + " first)");
        std::vector<std::string> tags = s.tags;
        if (!s.run_tag.empty()) tags.push_back(s.run_tag);
        std::string id = s.hostname.empty() ? s.profile + "-" + *mac : s.hostname;
        for (char& ch : id)
            if (ch == ':') ch = '-';
        json group = {{"id", id},
                      {"name", "bootcfg run " + s.profile},
                      {"profile", s.profile},
                      {"selector", {{"mac", *mac}}},
                      {"metadata", {{"bootcfg_run", {{"hostname", s.hostname}, {"tags", tags}}}}}};
        call("PUT", "/api/v1/groups/" + percent_encode(id), group.dump());
        return get(id);
    }

    Device reuse(const std::string& id, const DeviceSpec& s) override {
        json group = parse_json_bounded(call("GET", "/api/v1/groups/" + percent_encode(id)).body);
        for (const char* k : {"revision", "source"}) group.erase(k);
        if (!s.profile.empty()) group["profile"] = s.profile;
        call("PUT", "/api/v1/groups/" + percent_encode(id), group.dump());
        return get(id);
    }

    Device get(const std::string& id) override {
        const json g = parse_json_bounded(call("GET", "/api/v1/groups/" + percent_encode(id)).body);
        Device d;
        d.id = id;
        d.state = "active";
        d.plan = "bootcfg";
        d.hostname = g.value("name", id);
        const json& meta = g.contains("metadata") ? g["metadata"] : json();
        if (meta.is_object() && meta.contains("bootcfg_run") && meta["bootcfg_run"].is_object() &&
            meta["bootcfg_run"].contains("tags") && meta["bootcfg_run"]["tags"].is_array())
            for (const auto& t : meta["bootcfg_run"]["tags"])
                if (t.is_string()) d.tags.push_back(t.get<std::string>());
        if (g.contains("selector") && g["selector"].is_object())
            d.addresses.push_back("mac " + g["selector"].value("mac", "?"));
        return d;
    }

    void reboot(const std::string&) override {
        throw ProviderError(
            "the bootcfg provider cannot power-cycle a machine: reboot it yourself (BMC, ipmitool, "
            "a button)");
    }

    void remove(const std::string& id) override {
        call("DELETE", "/api/v1/groups/" + percent_encode(id));
    }

    std::vector<Device> list(bool& incomplete) override {
        std::vector<Device> out;
        incomplete = false;
        const json j = parse_json_bounded(call("GET", "/api/v1/groups").body);
        for (const auto& g : j.value("items", json::array()))
            if (g.contains("metadata") && g["metadata"].is_object() &&
                g["metadata"].contains("bootcfg_run"))
                out.push_back(get(g.value("id", "")));
        return out;
    }

    std::string where() const override { return c_.endpoint; }

    std::string how_to_reach(const Device& d) const override {
        return "group " + d.id + " in the bootcfgd at " + c_.endpoint + " (" +
               (d.addresses.empty() ? "" : d.addresses[0]) + ")";
    }

  protected:
    ClientResponse call(const std::string& method, const std::string& target,
                        const std::string& body = {}, bool allow_404 = false) {
        ClientResponse r;
        try {
            r = admin_request(c_, method, target, body);
        } catch (const ConnectError& e) {
            throw ProviderError(e.what());
        }
        if ((r.status >= 200 && r.status < 300) || (allow_404 && r.status == 404)) return r;
        throw ProviderError(method + " " + target + ": " + api_error_message(r.status, r.body));
    }

    ClientOptions c_;
};

// The bootcfg provider with the machine's BMC: create() makes the machine new to the lifecycle
// (state discovered, so its check-in is this run's), registers the group, sets the next boot to
// PXE and power-cycles it; the device is up ("active") once the machine checked in (installed);
// remove() powers it off and unregisters the group.
class BmcProvider final : public BootcfgProvider {
  public:
    BmcProvider(std::string protocol, const ProviderOptions& o)
        : BootcfgProvider(o), protocol_(std::move(protocol)), o_(o) {}

    Device create(const DeviceSpec& s) override {
        const auto mac = normalize_mac(s.mac);
        if (!mac) throw ProviderError("run " + protocol_ + " needs the machine's --mac");
        const std::string machine = "/api/v1/machines/" + *mac;
        if (!o_.bmc.empty()) call("PUT", machine + "/bmc", o_.bmc);
        const auto set = call("GET", machine + "/bmc", {}, true);
        if (set.status == 404)
            throw ProviderError("machine " + *mac + " has no BMC in bootcfgd: give --bmc " +
                                protocol_ + "://HOST --user U --password-file F");
        const std::string url = parse_json_bounded(set.body).value("url", "");
        if (!url.starts_with(protocol_ + "://"))
            throw ProviderError("machine " + *mac + "'s BMC is " + url + ", not " + protocol_);
        call("PATCH", machine, json{{"state", "discovered"}}.dump());
        Device d = BootcfgProvider::create(s);
        call("PUT", machine + "/next-boot",
             json{{"device", "pxe"}, {"uefi", o_.uefi}, {"persistent", false}}.dump());
        call("POST", machine + "/power", json{{"action", "cycle"}}.dump());
        return get(d.id);
    }

    Device get(const std::string& id) override {
        Device d = BootcfgProvider::get(id);
        const auto m = call("GET", "/api/v1/machines/" + mac_of(d), {}, true);
        const std::string state =
            m.status == 404 ? "" : parse_json_bounded(m.body).value("state", "");
        d.state = state == "installed"    ? "active"
                  : state == "discovered" ? "waiting for its first boot"
                  : state.empty()         ? "not seen yet"
                                          : state;
        return d;
    }

    void reboot(const std::string& id) override {
        call("POST", "/api/v1/machines/" + mac_of(get(id)) + "/power",
             json{{"action", "cycle"}}.dump());
    }

    void remove(const std::string& id) override {
        const std::string mac = mac_of(BootcfgProvider::get(id));
        std::string power_error;
        try {
            call("POST", "/api/v1/machines/" + mac + "/power", json{{"action", "off"}}.dump());
        } catch (const ProviderError& e) {
            power_error = e.what();
        }
        BootcfgProvider::remove(id);
        if (!power_error.empty())
            throw ProviderError("group " + id +
                                " removed, but the machine was not powered off: " + power_error);
    }

  private:
    // The MAC the run's group selects ("mac 52:54:00:..." in its addresses).
    static std::string mac_of(const Device& d) {
        for (const auto& a : d.addresses)
            if (a.starts_with("mac ")) return a.substr(4);
        throw ProviderError("group " + d.id + " selects no MAC");
    }

    std::string protocol_;
    ProviderOptions o_;
};

}  // namespace

bool is_provider(const std::string& name) {
    return name == "equinixmetal" || name == "packet" || name == "bootcfg" || name == "ipmi" ||
           name == "redfish";
}

std::unique_ptr<Provider> make_provider(const std::string& name, const ProviderOptions& options) {
    if (name == "equinixmetal" || name == "packet") return std::make_unique<EquinixMetal>(options);
    if (name == "bootcfg") return std::make_unique<BootcfgProvider>(options);
    if (name == "ipmi" || name == "redfish") return std::make_unique<BmcProvider>(name, options);
    throw ProviderError("unknown provider '" + name +
                        "' (equinixmetal, packet, bootcfg, ipmi, redfish)");
}

}  // namespace bootcfg
