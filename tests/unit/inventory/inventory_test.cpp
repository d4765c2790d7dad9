#include <sys/stat.h>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "inventory/checkin.hpp"
#include "inventory/inventory.hpp"
#include "inventory/machine.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;
using namespace bootcfg::inventory;

namespace {

Sighting seen(std::string group, bool default_group, bool boot, std::int64_t t = 1000) {
    Sighting s;
    s.id = s.mac = "52:54:00:00:00:01";
    s.endpoint = boot ? "/ipxe" : "/metadata";
    s.group = std::move(group);
    s.profile = s.group.empty() ? "" : "p";
    s.default_group = default_group;
    s.boot = boot;
    s.time_ms = t;
    return s;
}

}  // namespace

TEST_CASE("lifecycle: discovered, assigned, provisioning by themselves; forward only") {
    MachineRecord r;
    CHECK(observe(r, seen("", false, false)));  // nothing matched
    CHECK(r.state == "discovered");
    CHECK(r.first_seen_ms == 1000);
    CHECK_FALSE(observe(r, seen("default", true, true, 2000)));  // only the default group
    CHECK(r.state == "discovered");
    CHECK(r.boot_count == 1);
    CHECK(observe(r, seen("rack1", false, false, 3000)));  // a non-default group selects it
    CHECK(r.state == "assigned");
    CHECK(observe(r, seen("rack1", false, true, 4000)));  // it fetched its boot script
    CHECK(r.state == "provisioning");
    CHECK(r.boot_count == 2);
    CHECK_FALSE(observe(r, seen("rack1", false, false, 5000)));  // never back to assigned
    CHECK_FALSE(observe(r, seen("", false, false, 6000)));       // nor to discovered
    CHECK(r.state == "provisioning");
    CHECK(r.group == "rack1");  // a request that matched nothing keeps what last answered
    CHECK(r.last_seen_ms == 6000);
    CHECK(r.first_seen_ms == 1000);
    REQUIRE(r.history.size() == 3);
    CHECK(r.history[0].state == "discovered");
    CHECK(r.history[2].state == "provisioning");
    CHECK(r.history[2].time_ms == 4000);
}

TEST_CASE("lifecycle: installed and operator states stay until an operator moves them") {
    MachineRecord r;
    observe(r, seen("rack1", false, true));
    CHECK(set_state(r, "installed", 2000, "checkin"));
    CHECK_FALSE(observe(r, seen("rack1", false, true, 3000)));
    CHECK(r.state == "installed");
    CHECK_FALSE(set_state(r, "installed", 3500, "checkin"));  // no change, no history line
    CHECK(set_state(r, "maintenance", 4000, "cert:/CN=alice"));
    CHECK_FALSE(observe(r, seen("rack1", false, true, 5000)));
    CHECK(r.state == "maintenance");
    CHECK(set_state(r, "discovered", 6000, "cert:/CN=alice"));  // back into the automatic cycle
    CHECK(observe(r, seen("rack1", false, true, 7000)));
    CHECK(r.state == "provisioning");
    CHECK(r.history.back().by == "bootcfgd");
}

TEST_CASE("lifecycle: history is bounded") {
    MachineRecord r;
    for (int i = 0; i < 200; ++i) set_state(r, i % 2 ? "a" : "b", i, "op");
    CHECK(r.history.size() == kHistoryLimit);
    CHECK(r.history.back().time_ms == 199);
}

TEST_CASE("state names") {
    for (auto good : {"installed", "maintenance", "re-install", "a", "x_1"})
        CHECK(valid_state(good));
    for (const std::string bad : {"", "Installed", "-x", "a b", "a\nb", "a/b", "ü"})
        CHECK_FALSE(valid_state(bad));
    CHECK_FALSE(valid_state(std::string(33, 'a')));
}

TEST_CASE("a stored record keeps only its last changes; a broken history is no record") {
    nlohmann::json j = {{"id", "52:54:00:00:00:01"}, {"history", nlohmann::json::array()}};
    for (int i = 0; i < 1000; ++i)
        j["history"].push_back({{"state", "s" + std::to_string(i)}, {"time_ms", i}, {"by", "x"}});
    const auto r = record_from_json(j);
    REQUIRE(r);
    CHECK(r->history.size() == kHistoryLimit);
    CHECK(r->history.back().state == "s999");
    CHECK(r->history.front().time_ms == 1000 - static_cast<std::int64_t>(kHistoryLimit));
    j["history"] = "not a list";
    CHECK_FALSE(record_from_json(j));
    j["history"] = {{"state", 1}};
    CHECK_FALSE(record_from_json(j));
}

TEST_CASE("record JSON round trip") {
    MachineRecord r;
    observe(r, seen("rack1", false, true, 1700000000123));
    r.hostname = "node\"1";
    const auto back = record_from_json(record_json(r));
    REQUIRE(back);
    CHECK(back->id == r.id);
    CHECK(back->hostname == "node\"1");
    CHECK(back->first_seen_ms == 1700000000123);
    CHECK(back->history.size() == 1);
    CHECK(record_json(r)["last_seen"] == "2023-11-14T22:13:20.123Z");
    CHECK_FALSE(record_from_json(nlohmann::json::parse(R"({"id": ""})")));
    CHECK_FALSE(record_from_json(nlohmann::json::parse(R"({"mac": "x"})")));
    CHECK(machine_id("", "") == std::nullopt);
    CHECK(machine_id("", "u") == "uuid:u");
    CHECK(machine_id("m", "u") == "m");
}

TEST_CASE("check-in signatures: bound to machine, state and expiry") {
    test::TempDir dir;
    auto signer = CheckinSigner::from_state_dir(dir.path().string());
    REQUIRE(signer);
    struct stat st {};
    REQUIRE(::stat((dir.path() / "checkin.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_size == 32);
    const std::string q = signer->query("52:54:00:00:00:01", "installed", 2000);
    const std::string sig = q.substr(q.find("sig=") + 4);
    CHECK(q.starts_with("id=52:54:00:00:00:01&state=installed&expires=2000&sig="));
    CHECK(sig.size() == 64);
    CHECK(signer->verify("52:54:00:00:00:01", "installed", 2000, sig, 1999));
    CHECK(signer->verify("52:54:00:00:00:01", "installed", 2000, sig, 2000));
    CHECK_FALSE(signer->verify("52:54:00:00:00:01", "installed", 2000, sig, 2001));  // expired
    CHECK_FALSE(signer->verify("52:54:00:00:00:02", "installed", 2000, sig, 0));     // machine
    CHECK_FALSE(signer->verify("52:54:00:00:00:01", "wiped", 2000, sig, 0));         // state
    CHECK_FALSE(signer->verify("52:54:00:00:00:01", "installed", 3000, sig, 0));     // expiry
    CHECK_FALSE(signer->verify("52:54:00:00:00:01", "installed", 2000, sig.substr(1), 0));
    // The same key next time; another state dir signs differently.
    auto again = CheckinSigner::from_state_dir(dir.path().string());
    REQUIRE(again);
    CHECK(again->verify("52:54:00:00:00:01", "installed", 2000, sig, 0));
    test::TempDir other;
    auto stranger = CheckinSigner::from_state_dir(other.path().string());
    REQUIRE(stranger);
    CHECK_FALSE(stranger->verify("52:54:00:00:00:01", "installed", 2000, sig, 0));
    dir.write("bad/checkin.key", "short");
    auto broken = CheckinSigner::from_state_dir((dir.path() / "bad").string());
    REQUIRE_FALSE(broken);
    CHECK(broken.failure().reason.find("not a check-in key") != std::string::npos);
}

TEST_CASE("inventory: sightings batched into SQLite, state changes committed, reopened") {
    test::TempDir dir;
    const std::string state = (dir.path() / "state").string();
    std::vector<std::string> skipped;
    {
        auto inv = Inventory::open({state}, skipped);
        REQUIRE(inv);
        for (int i = 0; i < 1000; ++i) {
            Sighting s = seen("rack1", false, i % 2 == 0, 1000 + i);
            s.id = s.mac =
                "52:54:00:00:" + std::to_string(10 + i / 100) + ":" + std::to_string(10 + i % 90);
            (*inv)->record(s);
        }
        (*inv)->flush();
        CHECK((*inv)->size() > 0);
        CHECK((*inv)->stats().dropped == 0);
        CHECK((*inv)->stats().applied == 1000);
        auto changed = (*inv)->set_state("52:54:00:00:99:99", "installed", "test");
        REQUIRE(changed);
        CHECK(changed->state == "installed");
        CHECK((*inv)->state_of("52:54:00:00:99:99") == "installed");
        CHECK((*inv)->state_of("52:54:00:00:10:10") == "provisioning");
        CHECK_FALSE((*inv)->set_state("52:54:00:00:99:99", "Not A State", "test"));
        auto gone = (*inv)->forget("52:54:00:00:10:10");
        REQUIRE(gone);
        CHECK(*gone);
        CHECK_FALSE((*inv)->state_of("52:54:00:00:10:10"));
        auto again = (*inv)->forget("52:54:00:00:10:10");
        REQUIRE(again);
        CHECK_FALSE(*again);
    }
    auto inv = Inventory::open({state}, skipped);
    REQUIRE(inv);
    CHECK(skipped.empty());
    CHECK((*inv)->get("52:54:00:00:99:99")->state == "installed");
    CHECK_FALSE((*inv)->get("52:54:00:00:10:10"));
    CHECK((*inv)->state_of("52:54:00:00:99:99") == "installed");
    CHECK((*inv)->get("52:54:00:00:10:11")->boot_count == 0);
}

TEST_CASE("inventory: a full queue drops sightings and counts them, never blocks") {
    test::TempDir dir;
    std::vector<std::string> skipped;
    auto inv = Inventory::open({(dir.path() / "s").string(), 10}, skipped);
    REQUIRE(inv);
    for (int i = 0; i < 100000; ++i) {
        Sighting s = seen("g", false, true, i);
        s.id = s.mac = "52:54:00:00:" + std::to_string(i / 1000) + ":" + std::to_string(i % 1000);
        (*inv)->record(s);
    }
    (*inv)->flush();
    const auto stats = (*inv)->stats();
    CHECK(stats.dropped > 0);
    CHECK(stats.applied + stats.dropped == 100000);
    CHECK(stats.queue_depth == 0);
}

TEST_CASE("inventory: the same request again is merged, every boot still counted") {
    test::TempDir dir;
    std::vector<std::string> skipped;
    auto inv = Inventory::open({(dir.path() / "s").string(), 10}, skipped);
    REQUIRE(inv);
    for (int i = 0; i < 1000; ++i) (*inv)->record(seen("g", false, true, 1000 + i));
    Sighting other = seen("g", false, false, 5000);  // a different request of the same machine
    (*inv)->record(other);
    (*inv)->record(seen("g", false, true, 6000));
    (*inv)->flush();
    const auto r = (*inv)->get("52:54:00:00:00:01");
    REQUIRE(r);
    CHECK(r->boot_count == 1001);
    CHECK(r->first_seen_ms == 1000);
    CHECK(r->last_seen_ms == 6000);
    CHECK(r->last_endpoint == "/ipxe");
    CHECK(r->state == "provisioning");
    const auto stats = (*inv)->stats();
    CHECK(stats.applied == 1002);
    CHECK(stats.dropped == 0);  // merged requests take no room (the limit here is 10)
}

TEST_CASE("inventory: flush() from two threads at once: each sees what it recorded before") {
    test::TempDir dir;
    std::vector<std::string> skipped;
    auto inv = Inventory::open({(dir.path() / "s").string()}, skipped);
    REQUIRE(inv);
    std::atomic<int> missing{0};
    auto client = [&](int thread) {
        for (int i = 0; i < 2000; ++i) {
            Sighting s = seen("g", false, true, i);
            s.id = s.mac = "52:54:00:0" + std::to_string(thread) + ":" + std::to_string(i / 100) +
                           ":" + std::to_string(i % 100);
            (*inv)->record(s);
            (*inv)->flush();
            if (!(*inv)->get(s.id)) ++missing;
        }
    };
    std::thread a(client, 1), b(client, 2);
    a.join();
    b.join();
    CHECK(missing == 0);
}

TEST_CASE("inventory: a state path that is a file is refused with its flag") {
    test::TempDir dir;
    dir.write("file", "x");
    std::vector<std::string> skipped;
    auto inv = Inventory::open({(dir.path() / "file").string()}, skipped);
    REQUIRE_FALSE(inv);
    CHECK(inv.failure().reason.find("-state-path") != std::string::npos);
}

TEST_CASE("event log: ids in order, resumable, bounded, gaps reported") {
    EventLog log(3);
    bool gap = true;
    CHECK(log.since(0, 10, gap).empty());
    CHECK_FALSE(gap);
    for (int i = 1; i <= 5; ++i)
        CHECK(log.append("machine", std::to_string(i)) == std::uint64_t(i));
    CHECK(log.last_id() == 5);
    auto all = log.since(0, 10, gap);
    CHECK(gap);  // 1 and 2 were dropped (capacity 3)
    REQUIRE(all.size() == 3);
    CHECK(all.front().id == 3);
    CHECK(all.back().data == "5");
    auto after = log.since(3, 10, gap);
    CHECK_FALSE(gap);
    REQUIRE(after.size() == 2);
    CHECK(after.front().id == 4);
    CHECK(log.since(4, 1, gap).size() == 1);
    CHECK(log.since(5, 10, gap).empty());
    CHECK(log.since(99, 10, gap).empty());
}

TEST_CASE("inventory: committed changes become events in request order") {
    test::TempDir dir;
    std::vector<std::string> skipped;
    auto inv = Inventory::open({(dir.path() / "s").string()}, skipped);
    REQUIRE(inv);
    Sighting a = seen("g", false, true);
    Sighting b = seen("", false, false);
    b.id = b.mac = "52:54:00:00:00:02";
    (*inv)->record(a);
    (*inv)->record(b);
    (*inv)->record(a);
    (*inv)->flush();
    REQUIRE((*inv)->set_state("52:54:00:00:00:02", "installed", "t"));
    REQUIRE((*inv)->forget("52:54:00:00:00:01"));
    bool gap = false;
    std::vector<std::string> seen_types;
    for (const auto& e : (*inv)->events().since(0, 100, gap))
        seen_types.push_back(e.type + " " + nlohmann::json::parse(e.data)["id"].get<std::string>());
    // The first batch may hold all three sightings or fewer: each machine at most once per
    // batch, in the order they were first seen.
    REQUIRE(seen_types.size() >= 4);
    CHECK(seen_types.front() == "machine.state 52:54:00:00:00:01");
    CHECK(seen_types[seen_types.size() - 2] == "machine.state 52:54:00:00:00:02");
    CHECK(seen_types.back() == "machine.forgotten 52:54:00:00:00:01");
}

TEST_CASE("inventory: labels that are not UTF-8 are recorded, and their events are valid JSON") {
    test::TempDir dir;
    std::vector<std::string> skipped;
    auto inv = Inventory::open({(dir.path() / "s").string()}, skipped);
    REQUIRE(inv);
    Sighting s = seen("", false, false);
    s.id =
        "uuid:\xc0\xae\xc0\xaf"
        "canary";
    s.mac.clear();
    s.uuid =
        "\xc0\xae\xc0\xaf"
        "canary";
    s.hostname = "\xff";
    (*inv)->record(s);
    (*inv)->flush();
    CHECK((*inv)->stats().applied == 1);
    CHECK((*inv)->get(s.id));
    bool gap = false;
    const auto events = (*inv)->events().since(0, 10, gap);
    REQUIRE(events.size() == 1);
    CHECK(nlohmann::json::accept(events[0].data));
}

TEST_CASE("merge: two replicas' versions of a record become one; boots add up") {
    MachineRecord base;
    observe(base, seen("rack1", false, true, 1000));  // provisioning, 1 boot
    base.revision = 7;
    // Replica A stored 3 more boots; replica B counted 2 of its own since it read `base`.
    MachineRecord theirs = base, ours = base;
    theirs.boot_count += 3;
    theirs.last_seen_ms = 5000;
    theirs.client_ip = "10.0.0.5";
    theirs.revision = 9;
    ours.boot_count += 2;
    ours.last_seen_ms = 4000;
    ours.client_ip = "10.0.0.4";
    ours.hostname = "node1";
    const MachineRecord m = merge_records(theirs, ours, 2);
    CHECK(m.boot_count == 1 + 3 + 2);
    CHECK(m.revision == 9);  // the stored version it now builds on
    CHECK(m.last_seen_ms == 5000);
    CHECK(m.first_seen_ms == 1000);
    CHECK(m.client_ip == "10.0.0.5");  // the later sighting's labels
    CHECK(m.hostname == "node1");      // a label only one side has is kept
    CHECK(m.state == "provisioning");
    CHECK(m.history.size() == 1);  // the shared entry once
}

TEST_CASE("merge: histories interleave by time; installed is never undone by an automatic state") {
    MachineRecord base;
    observe(base, seen("rack1", false, false, 1000));  // assigned
    MachineRecord theirs = base, ours = base;
    set_state(theirs, "installed", 3000, "checkin");  // a check-in on replica A
    observe(ours, seen("rack1", false, true, 4000));  // replica B: a boot, later
    CHECK(ours.state == "provisioning");
    const MachineRecord m = merge_records(theirs, ours, 1);
    CHECK(m.state == "installed");
    REQUIRE(m.history.size() == 2);  // assigned, installed: provisioning after installed drops
    CHECK(m.history[1].state == "installed");

    // An operator's state later than the check-in wins, whichever side has it.
    MachineRecord op = theirs;
    set_state(op, "maintenance", 5000, "admin");
    CHECK(merge_records(theirs, op, 0).state == "maintenance");
    CHECK(merge_records(op, theirs, 0).state == "maintenance");
    // Merging is symmetric in the state and the history.
    CHECK(merge_records(ours, theirs, 0).state == "installed");
    CHECK(merge_records(ours, theirs, 0).history.size() == 2);
}

TEST_CASE("merge: the history stays bounded") {
    MachineRecord theirs, ours;
    theirs.id = ours.id = "52:54:00:00:00:01";
    for (int i = 0; i < 40; ++i) {
        set_state(theirs, i % 2 ? "a" : "b", 1000 + 2 * i, "admin");
        set_state(ours, i % 2 ? "c" : "d", 1001 + 2 * i, "admin");
    }
    const MachineRecord m = merge_records(theirs, ours, 0);
    CHECK(m.history.size() == kHistoryLimit);
    CHECK(m.history.back().time_ms == 1001 + 2 * 39);
    CHECK(m.state == "c");
}

TEST_CASE("inventory: a BMC's settings in the record, its password a secret, both removable") {
    test::TempDir dir;
    const std::string state = (dir.path() / "state").string();
    std::vector<std::string> skipped;
    const nlohmann::json settings{{"url", "ipmi://10.0.9.5"}, {"user", "admin"}};
    {
        auto inv = Inventory::open({state}, skipped);
        REQUIRE(inv);
        auto set = (*inv)->set_bmc("52:54:00:00:00:01", settings, "pw-1", "test");
        REQUIRE(set);
        CHECK(set->bmc == settings);
        CHECK(set->state.empty());  // a machine named before it was seen: no state yet
        CHECK(record_text(*set).find("pw-1") == std::string::npos);
        CHECK(*(*inv)->bmc_password("52:54:00:00:00:01") == "pw-1");
        CHECK_FALSE(*(*inv)->bmc_password("52:54:00:00:00:02"));
        REQUIRE((*inv)->set_bmc("52:54:00:00:00:02", settings, "pw-2", "test"));
        // A boot afterwards moves the state as for any machine; the BMC stays.
        Sighting s = seen("rack1", false, true, now_ms());
        s.id = s.mac = "52:54:00:00:00:01";
        (*inv)->record(s);
        (*inv)->flush();
        CHECK((*inv)->get("52:54:00:00:00:01")->state == "provisioning");
        CHECK((*inv)->get("52:54:00:00:00:01")->bmc == settings);
    }
    auto inv = Inventory::open({state}, skipped);
    REQUIRE(inv);
    CHECK((*inv)->get("52:54:00:00:00:01")->bmc == settings);
    CHECK(*(*inv)->bmc_password("52:54:00:00:00:01") == "pw-1");
    auto removed = (*inv)->set_bmc("52:54:00:00:00:01", nullptr, "", "test");
    REQUIRE(removed);
    CHECK(removed->bmc.is_null());
    CHECK_FALSE(*(*inv)->bmc_password("52:54:00:00:00:01"));
    REQUIRE(*(*inv)->forget("52:54:00:00:00:02"));
    CHECK_FALSE(*(*inv)->bmc_password("52:54:00:00:00:02"));
}

TEST_CASE("merge: the BMC set last wins") {
    MachineRecord theirs, ours;
    observe(theirs, seen("rack1", false, true, 1000));
    ours = theirs;
    theirs.bmc = {{"url", "ipmi://a"}};
    theirs.bmc_set_ms = 2000;
    ours.bmc = {{"url", "ipmi://b"}};
    ours.bmc_set_ms = 3000;
    ours.last_seen_ms = 500;  // the other side's labels win; the BMC goes by its own time
    CHECK(merge_records(theirs, ours, 0).bmc["url"] == "ipmi://b");
    CHECK(merge_records(ours, theirs, 0).bmc["url"] == "ipmi://b");
    const auto back = record_from_json(record_json(ours));
    REQUIRE(back);
    CHECK(back->bmc == ours.bmc);
    CHECK(back->bmc_set_ms == 3000);
    auto broken = record_json(ours);
    broken["bmc"] = "ipmi://b";
    CHECK_FALSE(record_from_json(broken));
}
