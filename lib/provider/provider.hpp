// Bare-metal providers: register a machine with an iPXE script URL, watch it come up, reboot,
// delete, list. One interface, chosen by name: "equinixmetal" (alias "packet"), "bootcfg"
// (a group in a bootcfgd, for on-premises racks), and "ipmi" / "redfish" (the same group, the
// machine's BMC driven through that bootcfgd: next boot PXE, power, up once it checked in).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bootcfg {

// A one-line, user-facing reason (the API's own message where it gave one).
struct ProviderError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A create that may or may not have made a device (its answer was lost, or a 5xx).
struct UncertainOutcome : ProviderError {
    using ProviderError::ProviderError;
};
// Ctrl-C (SIGINT/SIGTERM) arrived while waiting.
struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};

struct Device {
    std::string id, short_id, hostname, state, plan;
    std::string facility, metro;  // codes
    int provisioning_percentage = -1;
    std::vector<std::string> addresses;
    std::vector<std::string> tags;
};

struct DeviceSpec {
    std::string hostname, plan, metro, billing_cycle = "hourly";
    std::string ipxe_script_url, userdata, description;
    bool always_pxe = true;
    std::vector<std::string> tags;
    std::string mac, profile;  // the bootcfg provider: which machine boots which profile
    // Set on the device with the create request, so a create whose answer was lost can be
    // found instead of repeated (a create is not idempotent: a blind retry bills twice).
    std::string run_tag;
};

class Provider {
  public:
    virtual ~Provider() = default;
    virtual Device create(const DeviceSpec& spec) = 0;
    // Points an existing device at spec's script (and always_pxe), then reboots it.
    virtual Device reuse(const std::string& id, const DeviceSpec& spec) = 0;
    virtual Device get(const std::string& id) = 0;
    virtual void reboot(const std::string& id) = 0;
    virtual void remove(const std::string& id) = 0;
    // Every device, at most kMaxListedDevices; `incomplete` says that more were left unlisted.
    virtual std::vector<Device> list(bool& incomplete) = 0;
    static constexpr std::size_t kMaxListedDevices = 100000;
    // The device carrying `tag` (DeviceSpec::run_tag), if one exists.
    virtual std::optional<Device> find_tagged(const std::string& tag);
    // Which API (and project) or bootcfgd this provider talks to, for the device ledger.
    virtual std::string where() const = 0;
    // The command that opens the device's serial console, empty when there is none.
    virtual std::vector<std::string> console_command(const Device&) const { return {}; }
    // How to reach a kept device, for the closing message.
    virtual std::string how_to_reach(const Device& d) const;
};

struct ProviderOptions {
    std::string api_url;  // equinixmetal: the API base URL
    std::string api_key, project_id;
    std::string ca_file;                               // https: a CA other than the system's
    std::string endpoint, cert_file, key_file, token;  // bootcfg: the admin API
    std::chrono::milliseconds timeout{30000};
    std::function<void(const std::string&)> note;  // retries and waits worth telling the user
    // ipmi, redfish: the machine's BMC to set through bootcfgd (the admin API's JSON body for
    // it; empty: the one bootcfgd has), and whether it boots UEFI.
    std::string bmc;
    bool uefi = false;
};

inline constexpr const char* kEquinixMetalApi = "https://api.equinix.com/metal/v1";

bool is_provider(const std::string& name);
// Throws ProviderError for an unknown name or missing settings.
std::unique_ptr<Provider> make_provider(const std::string& name, const ProviderOptions& options);

// Set by SIGINT/SIGTERM once install_stop_handlers() ran; every wait checks it.
std::atomic<bool>& stop_requested();
void install_stop_handlers();
// Sleeps up to `d`, in short steps; throws Interrupted when a stop was requested.
void interruptible_sleep(std::chrono::milliseconds d);

// Polls get(id) until state == target (returned), "failed" (ProviderError) or the deadline
// (ProviderError naming the last state). Intervals grow from 5 s to 30 s; progress gets each poll.
Device wait_for_state(Provider& provider, const std::string& id, const std::string& target,
                      std::chrono::seconds deadline,
                      const std::function<void(const Device&)>& progress,
                      std::chrono::milliseconds first_interval = std::chrono::seconds(5));

// --- the pure rules, shared and unit-tested ---

// "HTTP 422: facility is deprecated; use metro" from {"errors": [...]} / {"error": "..."} bodies,
// or the start of whatever else the body holds.
std::string api_error_message(unsigned status, const std::string& body);

// How long to wait before retrying a response with this status, or nullopt when it must not be
// retried. 429: X-RateLimit-Reset (unix seconds) or Retry-After, else backoff; 5xx: backoff.
std::optional<std::chrono::seconds> retry_delay(unsigned status, const std::string& ratelimit_reset,
                                                const std::string& retry_after, int attempt,
                                                std::int64_t now_unix);

// An Equinix Metal device object → Device.
Device device_from_json(const std::string& json_text);

// The CPU a plan's machines have, for the iPXE script's form: LinuxKit's Type 2A plans
// (baremetal_2a, baremetal_2a2) and the later *.arm* plans (c3.large.arm64) are aarch64.
std::string plan_arch(const std::string& plan);

// "30s", "10m", "1h30m" → seconds; nullopt when malformed.
std::optional<std::chrono::seconds> parse_wait_duration(const std::string& text);

}  // namespace bootcfg
