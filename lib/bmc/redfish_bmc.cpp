// Redfish over HTTPS with lib/client (certificates verified against the system's CAs or
// ca_file, unless insecure was asked for): HTTP basic authentication on each request, the system
// found from the Systems collection when the URL names none, PATCH with the system's ETag, the
// Reset action with a ResetType the system allows.
#include <openssl/evp.h>

#include <thread>

#include "bmc/bmc.hpp"
#include "bmc/protocols.hpp"
#include "bmc/redfish_codec.hpp"
#include "client/admin_client.hpp"
#include "model/limits.hpp"

namespace bootcfg::bmc {

namespace {

using nlohmann::json;

std::string base64(const std::string& in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

class RedfishBmc final : public Bmc {
  public:
    RedfishBmc(const BmcAddress& address, const BmcSettings& settings, const std::string& password,
               const BmcOptions& options)
        : options_(options), system_(address.system) {
        const std::string host =
            address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host;
        client_.endpoint = "https://" + host + ":" + std::to_string(address.port);
        client_.ca_file = settings.ca_file;
        client_.insecure = settings.insecure;
        client_.timeout = options.timeout;
        where_ = "redfish://" + host + ":" + std::to_string(address.port) + address.system;
        authorization_ = "Basic " + base64(settings.user + ":" + password);
    }

    std::string where() const override { return where_; }

    Result<bool> powered_on() override {
        auto s = system();
        if (!s) return s.failure();
        return s->power_state != "Off";
    }

    Result<void> power(PowerAction action) override {
        auto s = system();
        if (!s) return s.failure();
        auto type = redfish::reset_type(action, *s);
        if (!type) return failed(type.failure().reason);
        if (s->reset_target.empty()) return failed("the system has no ComputerSystem.Reset action");
        auto r = request("POST", s->reset_target, json{{"ResetType", *type}}.dump());
        if (!r) return r.failure();
        return {};
    }

    Result<void> set_next_boot(const NextBoot& next) override {
        auto s = system();
        if (!s) return s.failure();
        for (const bool with_mode : {true, false}) {
            auto patch = redfish::boot_patch(next, *s, with_mode);
            if (!patch) return fail(where_ + ": " + patch.failure().reason, patch.failure().field);
            std::vector<std::pair<std::string, std::string>> headers;
            if (!etag_.empty()) headers.emplace_back("If-Match", etag_);
            auto r = exchange("PATCH", system_, patch->dump(), headers);
            if (!r) return r.failure();
            if (r->status < 300) return {};
            // Some BMCs refuse the Mode property: the target and persistence still matter.
            if (with_mode && r->status == 400 && redfish::refuses_boot_mode(r->body)) continue;
            return failed(redfish::error_text(r->status, r->body));
        }
        return failed("the boot override was refused");
    }

    Result<std::optional<NextBoot>> next_boot() override {
        auto s = system();
        if (!s) return s.failure();
        return s->next_boot;
    }

    Result<json> hardware() override {
        // The system as this call last read it (a status read has just done so), else now.
        if (system_doc_.is_null()) {
            auto path = system_path();
            if (!path) return path.failure();
            auto doc = get(*path);
            if (!doc) return doc.failure();
            system_doc_ = std::move(*doc);
        }
        const json* doc = &system_doc_;
        std::vector<std::string> macs;
        // NICs: the EthernetInterfaces collection, a bounded number of members.
        if (doc->contains("EthernetInterfaces") && (*doc)["EthernetInterfaces"].is_object()) {
            const auto nics = (*doc)["EthernetInterfaces"].value("@odata.id", "");
            if (nics.starts_with("/redfish/v1/")) {
                auto list = get(nics);
                if (list && list->contains("Members") && (*list)["Members"].is_array()) {
                    std::size_t n = 0;
                    for (const auto& m : (*list)["Members"]) {
                        if (++n > 16 || !m.is_object()) break;
                        const auto path = m.value("@odata.id", "");
                        if (!path.starts_with("/redfish/v1/")) continue;
                        auto nic = get(path);
                        if (nic && nic->is_object() && (*nic)["MACAddress"].is_string())
                            macs.push_back((*nic)["MACAddress"].get<std::string>().substr(0, 64));
                    }
                }
            }
        }
        return redfish::hardware_facts(*doc, macs);
    }

  private:
    Failure failed(const std::string& what) const { return fail(where_ + ": " + what); }

    Result<std::string> find_system() {
        auto collection = get("/redfish/v1/Systems");
        if (!collection) return collection.failure();
        auto path = redfish::only_system(*collection);
        if (!path) return failed(path.failure().reason);
        return *path;
    }

    // The system's path: the URL's, else the collection's only member (looked up once).
    Result<std::string> system_path() {
        if (system_.empty()) {
            auto found = find_system();
            if (!found) return found.failure();
            system_ = *found;
        }
        return system_;
    }

    Result<redfish::ComputerSystem> system() {
        auto path = system_path();
        if (!path) return path.failure();
        auto doc = get(*path);
        if (!doc) return doc.failure();
        auto s = redfish::parse_system(*doc, system_);
        if (!s) return failed(s.failure().reason);
        if (!s->etag.empty()) etag_ = s->etag;
        system_doc_ = std::move(*doc);
        return s;
    }

    Result<json> get(const std::string& path) {
        auto r = request("GET", path, "");
        if (!r) return r.failure();
        try {
            return parse_json_bounded(r->body);
        } catch (const json::exception&) {
            return failed(path + ": not JSON");
        }
    }

    // A request that must succeed (2xx); the response's ETag header kept for a later PATCH.
    Result<ClientResponse> request(const std::string& method, const std::string& path,
                                   const std::string& body) {
        auto r = exchange(method, path, body, {});
        if (!r) return r.failure();
        if (r->status >= 300) return failed(path + ": " + redfish::error_text(r->status, r->body));
        if (method == "GET" && path == system_ && !r->header("ETag").empty())
            etag_ = r->header("ETag");
        return r;
    }

    // One request, tried again (options.attempts in all) when the BMC does not answer or
    // answers 503; any other answer is returned as it is.
    Result<ClientResponse> exchange(const std::string& method, const std::string& path,
                                    const std::string& body,
                                    std::vector<std::pair<std::string, std::string>> headers) {
        headers.emplace_back("Authorization", authorization_);
        headers.emplace_back("OData-Version", "4.0");
        headers.emplace_back("Accept", "application/json");
        std::string last;
        for (int attempt = 0; attempt < std::max(1, options_.attempts); ++attempt) {
            try {
                auto r = admin_request(client_, method, path, body, headers);
                if (r.status == 401)
                    return failed("HTTP 401: the BMC refused the user name or password");
                if (r.status != 503) return r;
                last = redfish::error_text(r.status, r.body);
            } catch (const ConnectError& e) {
                last = e.what();
            }
            if (attempt + 1 < options_.attempts)
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return failed(last + " (" + std::to_string(std::max(1, options_.attempts)) + " tries)");
    }

    ClientOptions client_;
    BmcOptions options_;
    std::string system_, where_, authorization_, etag_;
    json system_doc_;  // the system's document as last read
};

}  // namespace

Result<std::unique_ptr<Bmc>> make_redfish_bmc(const BmcAddress& address,
                                              const BmcSettings& settings,
                                              const std::string& password,
                                              const BmcOptions& options) {
    return std::unique_ptr<Bmc>(new RedfishBmc(address, settings, password, options));
}

}  // namespace bootcfg::bmc
