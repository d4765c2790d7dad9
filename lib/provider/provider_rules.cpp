// The provider module's pure parts: error messages, retry timing, device JSON, durations.
#include <algorithm>
#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>

#include "model/limits.hpp"
#include "provider/provider.hpp"
#include "values/values.hpp"

namespace bootcfg {

using nlohmann::json;

std::string Provider::how_to_reach(const Device& d) const {
    std::string s = "device " + d.id;
    if (!d.addresses.empty()) s += " at " + d.addresses.front();
    return s;
}

std::string api_error_message(unsigned status, const std::string& body) {
    std::string message;
    try {
        const json j = parse_json_bounded(body);
        if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
            for (const auto& e : j["errors"])
                message += (message.empty() ? "" : "; ") +
                           (e.is_string() ? e.get<std::string>() : e.dump());
        } else if (j.is_object() && j.contains("error")) {
            message = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
        }
    } catch (const json::exception&) {
    }
    if (message.empty()) {
        message = body.substr(0, body.find('\n'));
        if (message.size() > 160) message = message.substr(0, 160) + "...";
    }
    std::replace(message.begin(), message.end(), '\n', ' ');
    return "HTTP " + std::to_string(status) + (message.empty() ? "" : ": " + message);
}

std::optional<std::chrono::seconds> retry_delay(unsigned status, const std::string& ratelimit_reset,
                                                const std::string& retry_after, int attempt,
                                                std::int64_t now_unix) {
    using std::chrono::seconds;
    const auto backoff =
        seconds(std::min<std::int64_t>(30, std::int64_t{1} << std::min(attempt, 5)));
    auto number = [](const std::string& s) -> std::optional<std::int64_t> {
        if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), ::isdigit))
            return std::nullopt;
        return std::stoll(s);
    };
    if (status == 429) {
        // A reset far in the future is capped: the user sees the wait and can Ctrl-C.
        if (auto reset = number(ratelimit_reset))
            return seconds(std::clamp<std::int64_t>(*reset - now_unix, 1, 900));
        if (auto after = number(retry_after))
            return seconds(std::clamp<std::int64_t>(*after, 1, 900));
        return backoff;
    }
    if (status >= 500 && status <= 599) return backoff;
    return std::nullopt;
}

Device device_from_json(const std::string& text) {
    Device d;
    json j;
    try {
        j = parse_json_bounded(text);
    } catch (const json::exception&) {
        throw ProviderError("the API answered with something that is not JSON: " +
                            text.substr(0, 80));
    }
    if (!j.is_object()) throw ProviderError("the API answered with JSON that is not a device");
    auto str = [](const json& o, const char* k) {
        auto it = o.find(k);
        return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    d.id = str(j, "id");
    if (d.id.empty()) throw ProviderError("the API answered with a device without an id");
    d.short_id = str(j, "short_id");
    d.hostname = str(j, "hostname");
    d.state = str(j, "state");
    for (const char* k : {"facility", "metro"}) {
        auto it = j.find(k);
        if (it != j.end() && it->is_object())
            (k[0] == 'f' ? d.facility : d.metro) = str(*it, "code");
    }
    if (auto it = j.find("plan"); it != j.end() && it->is_object()) d.plan = str(*it, "slug");
    if (auto it = j.find("provisioning_percentage"); it != j.end()) {
        if (it->is_number())
            d.provisioning_percentage = static_cast<int>(it->get<double>());
        else if (it->is_string())
            try {
                d.provisioning_percentage = std::stoi(it->get<std::string>());
            } catch (...) {
            }
    }
    if (auto it = j.find("tags"); it != j.end() && it->is_array())
        for (const auto& t : *it)
            if (t.is_string()) d.tags.push_back(t.get<std::string>());
    if (auto it = j.find("ip_addresses"); it != j.end() && it->is_array())
        for (const auto& a : *it)
            if (a.is_object() && !str(a, "address").empty())
                d.addresses.push_back(str(a, "address"));
    return d;
}

// Waits are whole seconds ("90s", "1h30m"): Go durations without a fraction of a second.
std::optional<std::chrono::seconds> parse_wait_duration(const std::string& text) {
    const auto d = parse_duration(text);
    if (!d || d->count() % 1000 != 0) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::seconds>(*d);
}

std::string plan_arch(const std::string& plan) {
    if (plan == "baremetal_2a" || plan == "baremetal_2a2" || plan.find(".arm") != std::string::npos)
        return "aarch64";
    return "x86_64";
}

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) {
    g_stop.store(true);
}
}  // namespace

std::atomic<bool>& stop_requested() {
    return g_stop;
}

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);  // a closed terminal: clean up as for Ctrl-C
}

std::optional<Device> Provider::find_tagged(const std::string& tag) {
    bool incomplete = false;
    for (auto& d : list(incomplete))
        if (std::find(d.tags.begin(), d.tags.end(), tag) != d.tags.end()) return std::move(d);
    return std::nullopt;
}

void interruptible_sleep(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
        if (g_stop.load()) throw Interrupted();
        std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
            std::chrono::milliseconds(100), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                until - std::chrono::steady_clock::now())));
    }
    if (g_stop.load()) throw Interrupted();
}

Device wait_for_state(Provider& provider, const std::string& id, const std::string& target,
                      std::chrono::seconds deadline,
                      const std::function<void(const Device&)>& progress,
                      std::chrono::milliseconds first_interval) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    auto interval = first_interval;
    for (;;) {
        if (g_stop.load()) throw Interrupted();
        Device d = provider.get(id);
        if (progress) progress(d);
        if (d.state == target) return d;
        if (d.state == "failed") throw ProviderError("device " + id + " failed to provision");
        const auto now = std::chrono::steady_clock::now();
        if (now >= end)
            throw ProviderError("device " + id + " is still " +
                                (d.state.empty() ? "without a state" : d.state) +
                                " after the --wait time");
        interruptible_sleep(std::min<std::chrono::milliseconds>(
            interval, std::chrono::duration_cast<std::chrono::milliseconds>(end - now) +
                          std::chrono::milliseconds(1)));
        interval = std::min<std::chrono::milliseconds>(interval * 3 / 2, std::chrono::seconds(30));
    }
}

}  // namespace bootcfg
