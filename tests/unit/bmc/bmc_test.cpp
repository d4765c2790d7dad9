#include <catch2/catch.hpp>

#include <vector>

#include "bmc/bmc.hpp"
#include "bmc/ipmi_codec.hpp"
#include "bmc/redfish_codec.hpp"

using namespace bootcfg::bmc;
using Bytes = std::vector<std::uint8_t>;

TEST_CASE("BMC URLs: protocol, host, port, Redfish system path") {
    auto a = parse_bmc_url("ipmi://10.0.0.5");
    REQUIRE(a);
    CHECK(a->protocol == Protocol::ipmi);
    CHECK(a->host == "10.0.0.5");
    CHECK(a->port == 623);

    a = parse_bmc_url("ipmi://bmc-7.rack2:9623");
    REQUIRE(a);
    CHECK(a->host == "bmc-7.rack2");
    CHECK(a->port == 9623);

    a = parse_bmc_url("ipmi://[fd00::5]:624");
    REQUIRE(a);
    CHECK(a->host == "fd00::5");
    CHECK(a->port == 624);

    a = parse_bmc_url("redfish://bmc1/redfish/v1/Systems/437XR1138R2/");
    REQUIRE(a);
    CHECK(a->protocol == Protocol::redfish);
    CHECK(a->port == 443);
    CHECK(a->system == "/redfish/v1/Systems/437XR1138R2");

    for (const char* bad :
         {"http://bmc", "ipmi://", "ipmi://:623", "ipmi://bmc:0", "ipmi://bmc:65536",
          "ipmi://bmc:x", "ipmi://bmc/path", "ipmi://b mc", "ipmi://bmc;reboot", "ipmi://[fd00::5",
          "ipmi://[zz]", "ipmi://[::1]x", "redfish://bmc/etc/passwd",
          "redfish://bmc/redfish/v1/Systems/../x", "redfish://bmc/redfish/v1/Systems/a?b"}) {
        INFO(bad);
        auto r = parse_bmc_url(bad);
        REQUIRE_FALSE(r);
        CHECK(r.failure().field == "url");
    }
}

TEST_CASE("BMC settings: checked, and back from JSON without the password") {
    BmcSettings s;
    s.url = "ipmi://127.0.0.1:9623";
    s.user = "admin";
    s.ipmi_workarounds = {"opensesspriv"};
    s.cipher_suite = 17;
    CHECK(check_settings(s));
    auto j = settings_json(s);
    CHECK_FALSE(j.contains("password"));
    auto back = settings_from_json(j);
    REQUIRE(back);
    CHECK(back->url == s.url);
    CHECK(back->ipmi_workarounds == s.ipmi_workarounds);
    CHECK(back->cipher_suite == 17);

    auto with_password = j;
    with_password["password"] = "secret";  // the admin API's body: taken apart by the caller
    CHECK(settings_from_json(with_password));

    auto unknown = j;
    unknown["workaround"] = "sun20";
    CHECK(settings_from_json(unknown).failure().field == "workaround");
    auto bad_flag = j;
    bad_flag["ipmi_workarounds"] = {"sun2O"};
    CHECK(settings_from_json(bad_flag).failure().field == "ipmi_workarounds");
    auto bad_suite = j;
    bad_suite["cipher_suite"] = 99;
    CHECK(settings_from_json(bad_suite).failure().field == "cipher_suite");
    auto control = j;
    control["user"] = "ad\nmin";
    CHECK(settings_from_json(control).failure().field == "user");
    CHECK(settings_from_json(nlohmann::json::object()).failure().field == "url");
    CHECK_FALSE(settings_from_json(nlohmann::json::array()));
}

TEST_CASE("IPMI chassis control codes") {
    CHECK(ipmi::chassis_control_request(PowerAction::off) == Bytes{0x02, 0x00});
    CHECK(ipmi::chassis_control_request(PowerAction::on) == Bytes{0x02, 0x01});
    CHECK(ipmi::chassis_control_request(PowerAction::cycle) == Bytes{0x02, 0x02});
    CHECK(ipmi::chassis_control_request(PowerAction::reset) == Bytes{0x02, 0x03});
    CHECK(ipmi::chassis_control_request(PowerAction::soft) == Bytes{0x02, 0x05});
    CHECK(ipmi::chassis_status_request() == Bytes{0x01});
}

TEST_CASE("IPMI boot flags: device, EFI, persistence; no HTTP device") {
    // Data 1: valid (0x80), persistent (0x40), EFI (0x20); data 2: the device in bits 5:2.
    CHECK(*ipmi::boot_flags_request({BootDevice::pxe, false, false}) ==
          Bytes{0x08, 0x05, 0x80, 0x04, 0, 0, 0});
    CHECK(*ipmi::boot_flags_request({BootDevice::pxe, true, false}) ==
          Bytes{0x08, 0x05, 0xa0, 0x04, 0, 0, 0});
    CHECK(*ipmi::boot_flags_request({BootDevice::disk, true, true}) ==
          Bytes{0x08, 0x05, 0xe0, 0x08, 0, 0, 0});
    auto http = ipmi::boot_flags_request({BootDevice::http, true, false});
    REQUIRE_FALSE(http);
    CHECK(http.failure().field == "device");

    // Get System Boot Options data: version, parameter, then the flags.
    const Bytes efi_pxe{0x01, 0x05, 0xa0, 0x04, 0, 0, 0};
    auto next = ipmi::boot_flags(efi_pxe);
    REQUIRE(next);
    REQUIRE(*next);
    CHECK((*next)->device == BootDevice::pxe);
    CHECK((*next)->uefi);
    CHECK_FALSE((*next)->persistent);
    const Bytes disk_always{0x01, 0x05, 0xc0, 0x08, 0, 0, 0};
    CHECK((*ipmi::boot_flags(disk_always))->persistent);
    const Bytes none{0x01, 0x05, 0x00, 0x00, 0, 0, 0};
    CHECK_FALSE(*ipmi::boot_flags(none));
    const Bytes cdrom{0x01, 0x05, 0x80, 0x14, 0, 0, 0};
    CHECK_FALSE(*ipmi::boot_flags(cdrom));
    CHECK_FALSE(ipmi::boot_flags(Bytes{0x01, 0x05, 0x80}));
    CHECK_FALSE(ipmi::boot_flags(Bytes{0x01, 0x04, 0x80, 0x04, 0, 0, 0}));
}

TEST_CASE("IPMI responses: command, completion code in words, data") {
    const Bytes status{0x01, 0x00, 0x01, 0x00, 0x00};
    auto data = ipmi::response_data(status, 0x01);
    REQUIRE(data);
    CHECK(*ipmi::power_is_on(*data));
    CHECK_FALSE(*ipmi::power_is_on(Bytes{0x00, 0x00, 0x00}));
    CHECK_FALSE(ipmi::power_is_on(Bytes{}));

    const Bytes refused{0x08, 0xcc};
    auto r = ipmi::response_data(refused, 0x08);
    REQUIRE_FALSE(r);
    CHECK(r.failure().reason == "invalid data field in request (0xcc)");
    CHECK(ipmi::response_data(Bytes{0x02, 0xd4}, 0x02).failure().reason ==
          "insufficient privilege level (0xd4)");
    CHECK_FALSE(ipmi::response_data(Bytes{0x09, 0x00}, 0x08));  // another command's answer
    CHECK_FALSE(ipmi::response_data(Bytes{0x01}, 0x01));
}

TEST_CASE("IPMI workaround names") {
    CHECK(*ipmi::workaround_flags({}) == 0);
    auto flags = ipmi::workaround_flags({"opensesspriv", "sun20"});
    REQUIRE(flags);
    CHECK(*flags != 0);
    CHECK(*ipmi::workaround_flags({"opensesspriv"}) != *ipmi::workaround_flags({"sun20"}));
    CHECK(ipmi::workaround_flags({"opensesspriv", "bogus"}).failure().field == "ipmi_workarounds");
}

TEST_CASE("power actions and boot devices by name") {
    for (const char* w : {"on", "off", "cycle", "reset", "soft"})
        CHECK(power_action_name(*parse_power_action(w)) == w);
    CHECK_FALSE(parse_power_action("status"));
    for (const char* w : {"pxe", "http", "disk"})
        CHECK(boot_device_name(*parse_boot_device(w)) == w);
    CHECK_FALSE(parse_boot_device("cdrom"));
    CHECK(next_boot_json(std::nullopt)["device"].is_null());
    CHECK(next_boot_json(NextBoot{BootDevice::disk, false, true})["persistent"] == true);
}

TEST_CASE("Redfish: the one system of a collection") {
    using nlohmann::json;
    CHECK(*redfish::only_system(
              json::parse(R"({"Members": [{"@odata.id": "/redfish/v1/Systems/1"}]})")) ==
          "/redfish/v1/Systems/1");
    auto many = redfish::only_system(json::parse(
        R"({"Members": [{"@odata.id": "/redfish/v1/Systems/1"}, {"@odata.id": "/redfish/v1/Systems/2"}]})"));
    REQUIRE_FALSE(many);
    CHECK(many.failure().reason.find("2 systems; name one") == 0);
    CHECK_FALSE(redfish::only_system(json::parse(R"({"Members": []})")));
    CHECK_FALSE(redfish::only_system(json::parse(R"({"Members": [{"@odata.id": "/etc"}]})")));
    CHECK_FALSE(redfish::only_system(json::array()));
}

namespace {

redfish::ComputerSystem system_from(const char* text) {
    auto s = redfish::parse_system(nlohmann::json::parse(text), "/redfish/v1/Systems/1");
    REQUIRE(s);
    return *s;
}

}  // namespace

TEST_CASE("Redfish: reset types among those the system allows") {
    const auto on = system_from(R"({"PowerState": "On", "Actions": {"#ComputerSystem.Reset": {
        "target": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
        "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "ForceRestart"]}}})");
    CHECK(on.reset_target == "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset");
    CHECK(*redfish::reset_type(PowerAction::off, on) == "ForceOff");
    CHECK(*redfish::reset_type(PowerAction::soft, on) == "GracefulShutdown");
    CHECK(*redfish::reset_type(PowerAction::cycle, on) == "ForceRestart");  // no PowerCycle here
    auto off = on;
    off.power_state = "Off";
    CHECK(*redfish::reset_type(PowerAction::cycle, off) == "On");
    const auto any = system_from(R"({"PowerState": "On"})");  // allows nothing named: anything
    CHECK(*redfish::reset_type(PowerAction::cycle, any) == "PowerCycle");
    const auto few = system_from(R"({"PowerState": "On", "Actions": {"#ComputerSystem.Reset": {
        "target": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
        "ResetType@Redfish.AllowableValues": ["On"]}}})");
    auto refused = redfish::reset_type(PowerAction::off, few);
    REQUIRE_FALSE(refused);
    CHECK(refused.failure().reason == "the system allows no ForceOff reset (it allows On)");
    CHECK_FALSE(redfish::parse_system(nlohmann::json::parse(R"({"Id": "1"})"), "/s"));
    for (const char* target :
         {"http://elsewhere/x", "/redfish/v1/../../admin", "/redfish/v1/a b", "/other"}) {
        nlohmann::json j = {{"PowerState", "On"}};
        j["Actions"]["#ComputerSystem.Reset"]["target"] = target;
        INFO(target);
        CHECK_FALSE(redfish::parse_system(j, "/s"));
    }
}

TEST_CASE("Redfish: the boot override, written and read") {
    const auto s = system_from(R"({"PowerState": "On", "Boot": {
        "BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "UefiHttp",
        "BootSourceOverrideMode": "UEFI",
        "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Hdd", "UefiHttp"]}})");
    REQUIRE(s.next_boot);
    CHECK(s.next_boot->device == BootDevice::http);
    CHECK(s.next_boot->uefi);
    CHECK_FALSE(s.next_boot->persistent);
    auto patch = redfish::boot_patch({BootDevice::disk, false, true}, s, true);
    REQUIRE(patch);
    CHECK(
        patch->dump() ==
        R"({"Boot":{"BootSourceOverrideEnabled":"Continuous","BootSourceOverrideMode":"Legacy","BootSourceOverrideTarget":"Hdd"}})");
    CHECK_FALSE(redfish::boot_patch({BootDevice::pxe, true, false}, s, false)
                    ->at("Boot")
                    .contains("BootSourceOverrideMode"));
    const auto no_http = system_from(R"({"PowerState": "On", "Boot": {
        "BootSourceOverrideTarget@Redfish.AllowableValues": ["Pxe", "Hdd"]}})");
    CHECK(redfish::boot_patch({BootDevice::http, true, false}, no_http, true).failure().field ==
          "device");
    CHECK_FALSE(
        system_from(R"({"PowerState": "On", "Boot": {"BootSourceOverrideEnabled": "Disabled",
        "BootSourceOverrideTarget": "Pxe"}})")
            .next_boot);
    CHECK(redfish::refuses_boot_mode(
        R"({"error": {"message": "The property BootSourceOverrideMode is read only"}})"));
}

TEST_CASE("Redfish: error bodies and hardware facts") {
    CHECK(redfish::error_text(400, R"({"error": {"message": "A general error has occurred.",
        "@Message.ExtendedInfo": [{"Message": "ResetType Nmi is not allowed."}]}})") ==
          "HTTP 400: A general error has occurred.: ResetType Nmi is not allowed.");
    CHECK(redfish::error_text(500, "<html>oops\nmore") == "HTTP 500: <html>oops");
    const auto facts = redfish::hardware_facts(
        nlohmann::json::parse(R"({"Manufacturer": "M\nX", "SerialNumber": "S1",
            "ProcessorSummary": {"Count": 2, "Status": {"State": "Enabled"}},
            "MemorySummary": {"TotalSystemMemoryGiB": 96}, "PowerState": "On"})"),
        {"52:54:00:00:00:01"});
    CHECK(facts["Manufacturer"] == "M X");  // one line
    CHECK(facts["ProcessorSummary"].dump() == R"({"Count":2})");
    CHECK(facts["MemorySummary"]["TotalSystemMemoryGiB"] == 96);
    CHECK(facts["MACs"][0] == "52:54:00:00:00:01");
    CHECK_FALSE(facts.contains("PowerState"));
}
