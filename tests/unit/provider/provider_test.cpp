#include <catch2/catch.hpp>

#include "provider/device_ledger.hpp"
#include "provider/provider.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;
using std::chrono::seconds;

TEST_CASE("provider API errors read as one line with the API's words", "[provider]") {
    CHECK(api_error_message(422, R"({"errors": ["facility is deprecated", "plan is required"]})") ==
          "HTTP 422: facility is deprecated; plan is required");
    CHECK(api_error_message(401, R"({"error": "Invalid authentication token"})") ==
          "HTTP 401: Invalid authentication token");
    CHECK(api_error_message(502, "<html>\n<body>Bad gateway</body>") == "HTTP 502: <html>");
    CHECK(api_error_message(404, "") == "HTTP 404");
}

TEST_CASE("provider retries: 429 waits for the reset, 5xx backs off, 4xx never", "[provider]") {
    CHECK(retry_delay(429, "1000", "", 0, 990) == seconds(10));
    CHECK(retry_delay(429, "", "7", 0, 990) == seconds(7));
    CHECK(retry_delay(429, "999999", "", 0, 0) == seconds(900));  // capped
    CHECK(retry_delay(429, "5", "", 0, 990) == seconds(1));       // already past: try again soon
    CHECK(retry_delay(503, "", "", 0, 0) == seconds(1));
    CHECK(retry_delay(503, "", "", 3, 0) == seconds(8));
    CHECK(retry_delay(500, "", "", 10, 0) == seconds(30));
    for (unsigned status : {400u, 401u, 403u, 404u, 422u})
        CHECK_FALSE(retry_delay(status, "", "", 0, 0).has_value());
}

TEST_CASE("Equinix Metal device JSON", "[provider]") {
    const Device d = device_from_json(R"({"id": "abc", "short_id": "ab", "hostname": "lk",
        "state": "provisioning", "provisioning_percentage": 40.0, "facility": {"code": "am6"},
        "metro": {"code": "am"}, "plan": {"slug": "c3.small.x86"},
        "ip_addresses": [{"address": "198.51.100.7"}, {"public": true}]})");
    CHECK(d.id == "abc");
    CHECK(d.state == "provisioning");
    CHECK(d.provisioning_percentage == 40);
    CHECK(d.facility == "am6");
    CHECK(d.metro == "am");
    CHECK(d.plan == "c3.small.x86");
    CHECK(d.addresses == std::vector<std::string>{"198.51.100.7"});
    CHECK_THROWS_WITH(device_from_json("{}"), Catch::Contains("without an id"));
    CHECK_THROWS_WITH(device_from_json("<html>"), Catch::Contains("not JSON"));
}

TEST_CASE("a plan's CPU picks the iPXE script's form", "[provider]") {
    CHECK(plan_arch("baremetal_2a") == "aarch64");
    CHECK(plan_arch("baremetal_2a2") == "aarch64");
    CHECK(plan_arch("c3.large.arm64") == "aarch64");
    CHECK(plan_arch("c3.small.x86") == "x86_64");
    CHECK(plan_arch("baremetal_0") == "x86_64");
    CHECK(plan_arch("") == "x86_64");
}

TEST_CASE("--wait durations", "[provider]") {
    CHECK(parse_wait_duration("90s") == seconds(90));
    CHECK(parse_wait_duration("1h30m") == seconds(5400));
    CHECK(parse_wait_duration("20m") == seconds(1200));
    CHECK_FALSE(parse_wait_duration("20").has_value());
    CHECK_FALSE(parse_wait_duration("5d").has_value());
    CHECK_FALSE(parse_wait_duration("").has_value());
}

namespace {
// A provider whose device walks through the given states, one per get().
struct Scripted : Provider {
    std::vector<std::string> states;
    std::size_t polls = 0;
    Device get(const std::string& id) override {
        Device d;
        d.id = id;
        d.state = states[std::min(polls++, states.size() - 1)];
        return d;
    }
    Device create(const DeviceSpec&) override { return {}; }
    Device reuse(const std::string&, const DeviceSpec&) override { return {}; }
    void reboot(const std::string&) override {}
    void remove(const std::string&) override {}
    std::vector<Device> list(bool&) override { return {}; }
    std::string where() const override { return "test"; }
};
}  // namespace

TEST_CASE("waiting for a device", "[provider]") {
    using std::chrono::milliseconds;
    Scripted p;
    p.states = {"queued", "provisioning", "active"};
    std::vector<std::string> seen;
    const Device d = wait_for_state(
        p, "x", "active", seconds(5), [&](const Device& x) { seen.push_back(x.state); },
        milliseconds(10));
    CHECK(d.state == "active");
    CHECK(seen == std::vector<std::string>{"queued", "provisioning", "active"});
    Scripted failing;
    failing.states = {"queued", "failed"};
    CHECK_THROWS_WITH(wait_for_state(failing, "x", "active", seconds(5), {}, milliseconds(10)),
                      Catch::Contains("failed to provision"));
    Scripted slow;
    slow.states = {"provisioning"};
    CHECK_THROWS_WITH(wait_for_state(slow, "x", "active", seconds(0), {}, milliseconds(10)),
                      Catch::Contains("still provisioning"));
    stop_requested().store(true);
    Scripted stopped;
    stopped.states = {"queued"};
    CHECK_THROWS_AS(wait_for_state(stopped, "x", "active", seconds(5), {}, milliseconds(10)),
                    Interrupted);
    stop_requested().store(false);
}

TEST_CASE("device ledger: entries survive the process, one per run tag", "[provider]") {
    test::TempDir dir;
    const std::string state = (dir.path() / "state").string();
    auto env = [&](const char* name) -> const char* {
        return std::string(name) == "BOOTCFG_STATE_DIR" ? state.c_str() : nullptr;
    };
    DeviceLedger ledger = DeviceLedger::from_environment(env);
    CHECK(ledger.path() == state + "/devices.json");
    CHECK(ledger.entries().empty());
    const std::string tag = new_run_tag();
    CHECK(tag.rfind("bootcfg-run-", 0) == 0);
    CHECK(tag.size() == 28);
    CHECK(new_run_tag() != tag);
    ledger.put({"equinixmetal", "api", tag, "", "host", 1});
    ledger.put({"bootcfg", "sock", "bootcfg-run-other", "g1", "", 2});
    LedgerEntry created{"equinixmetal", "api", tag, "dev-1", "host", 1};
    ledger.put(created);  // the create answered: same tag, now with the id
    const auto all = DeviceLedger(ledger.path()).entries();  // as a later process reads it
    REQUIRE(all.size() == 2);
    CHECK(all[0].id == "dev-1");
    CHECK(all[1].provider == "bootcfg");
    ledger.remove(tag);
    CHECK(ledger.entries().size() == 1);
    test::TempDir other;
    other.write("devices.json", "not json");
    CHECK_THROWS_WITH(DeviceLedger((other.path() / "devices.json").string()).entries(),
                      Catch::Contains("not a device ledger"));
}
