#include <catch2/catch.hpp>

#include "etcd/etcd_source.hpp"

using namespace bootcfg;
using namespace bootcfg::etcd;

namespace {

KeyValue kv(std::string key, std::string value, std::int64_t revision = 1) {
    return {std::move(key), std::move(value), revision};
}

const char* kProfile = R"({"id":"fcos.stable","boot":{"kernel":"/assets/k"}})";
const char* kGroup =
    R"({"id":"m1","profile":"fcos.stable","selector":{"mac":"52:54:00:00:00:01"}})";

}  // namespace

TEST_CASE("etcd: the prefix always ends with '/'") {
    CHECK(normal_prefix("/bootcfg") == "/bootcfg/");
    CHECK(normal_prefix("/bootcfg/") == "/bootcfg/");
    CHECK(normal_prefix("") == "/");
}

TEST_CASE("etcd: keys and values become the store's objects, as data dir files do") {
    const StoreContents c =
        contents_of("/b/",
                    {kv("/b/profiles/fcos.stable", kProfile), kv("/b/groups/m1", kGroup),
                     kv("/b/ignition/fcos.ign", R"({"ignition":{"version":"3.3.0"}})"),
                     kv("/b/generic/env", "HOST={{.mac}}\n")},
                    nullptr);
    REQUIRE(c.problems.empty());
    REQUIRE(c.profiles.size() == 1);
    CHECK(c.profiles[0].source == "/b/profiles/fcos.stable");
    REQUIRE(c.groups.size() == 1);
    CHECK(c.groups[0].profile == "fcos.stable");
    CHECK(c.templates[static_cast<int>(TemplateKind::ignition)].size() == 1);
    CHECK(c.templates[static_cast<int>(TemplateKind::generic)][0].name == "env");

    // An id with a dot is its key's name (no ".json" to strip): no file-name complaint.
    const Snapshot snapshot(c);
    CHECK(snapshot.problems().empty());
    CHECK(snapshot.group("m1") != nullptr);
}

TEST_CASE("etcd: a key outside the layout is reported and never served") {
    const StoreContents c = contents_of(
        "/b/", {kv("/b/notes", "x"), kv("/b/groups/a/b", kGroup), kv("/b/boot/default", "{}")},
        nullptr);
    REQUIRE(c.problems.size() == 3);
    CHECK(c.problems[0].path == "/b/notes");
    CHECK(c.problems[0].about_file_name);
    CHECK(c.problems[0].reason.starts_with("ignored: not profiles/ID, groups/ID"));
    CHECK(c.groups.empty());
}

TEST_CASE("etcd: a broken value is reported with its key; its last good version is kept") {
    const Snapshot before(contents_of(
        "/b/", {kv("/b/profiles/fcos.stable", kProfile), kv("/b/groups/m1", kGroup)}, nullptr));
    const std::vector<KeyValue> now = {kv("/b/profiles/fcos.stable", kProfile),
                                       kv("/b/groups/m1", R"({"id":"m1","profile":)", 7)};
    const StoreContents c = contents_of("/b/", now, &before);
    REQUIRE(c.problems.size() == 1);
    CHECK(c.problems[0].path == "/b/groups/m1");
    CHECK(c.problems[0].line == 1);
    CHECK(c.problems[0].reason.ends_with("; keeping the last good version"));
    REQUIRE(c.groups.size() == 1);
    CHECK(*c.groups[0].selector.find("mac") == "52:54:00:00:00:01");

    // Without a last good version there is nothing to keep.
    const StoreContents fresh = contents_of("/b/", now, nullptr);
    CHECK(fresh.groups.empty());
    CHECK(!fresh.problems[0].reason.ends_with("keeping the last good version"));

    // A field's problem points at its line.
    const StoreContents field = contents_of(
        "/b/", {kv("/b/groups/m2", "{\n  \"id\": \"m2\",\n  \"profile\": 7\n}")}, nullptr);
    REQUIRE(field.problems.size() == 1);
    CHECK(field.problems[0].field == "profile");
    CHECK(field.problems[0].line == 3);
}

TEST_CASE("etcd: the bootcfg layout's keys merge per machine, as its files do") {
    const std::string boot = R"({"kernel": "/assets/k", "cmdline": {"console": "ttyS0"}})";
    const StoreContents c = contents_of(
        "/b/",
        {kv("/b/boot/default", boot), kv("/b/boot/mac/52-54-00-00-00-01", boot),
         kv("/b/cloud/mac/52:54:00:00:00:01", "#cloud-config\n"), kv("/b/cloud/default", "#cc\n"),
         kv("/b/boot/mac/not-a-mac", boot), kv("/b/boot/other", boot)},
        nullptr);
    REQUIRE(c.problems.size() == 2);
    CHECK(c.problems[0].path == "/b/boot/mac/not-a-mac");
    CHECK(c.problems[0].reason == "key name is not a MAC address");
    CHECK(c.problems[1].reason.starts_with("unexpected key"));
    const Snapshot snapshot(c);
    CHECK(snapshot.problems().size() == 2);  // only the two keys above
    const Profile* machine = snapshot.profile("bootcfg:mac/52:54:00:00:00:01");
    REQUIRE(machine != nullptr);
    CHECK(machine->has_boot);
    CHECK(machine->cloud_id == "mac/52:54:00:00:00:01");
    CHECK(machine->source == "/b/boot/mac/52-54-00-00-00-01");
    CHECK(snapshot.group("bootcfg:default")->falls_through);

    CHECK(layout_path("/b/", "/b/boot/default") == "boot/default");
    CHECK(layout_path("/b/", "/b/cloud/uuid/x") == "cloud/uuid/x");
    CHECK(!layout_path("/b/", "/b/cloud/lab.yaml"));
    CHECK(!layout_path("/b/", "/c/boot/default"));
}

TEST_CASE("etcd: the inventory's keys are not the store's objects") {
    CHECK(etcd::is_inventory_key("/bootcfg/", "/bootcfg/machines/52:54:00:00:00:01"));
    CHECK(etcd::is_inventory_key("/bootcfg/", "/bootcfg/secrets/checkin-key"));
    CHECK_FALSE(etcd::is_inventory_key("/bootcfg/", "/bootcfg/groups/machines"));
    CHECK_FALSE(etcd::is_inventory_key("/bootcfg/", "/other/machines/x"));
    const StoreContents c = etcd::contents_of(
        "/bootcfg/",
        {{"/bootcfg/profiles/p", R"({"id":"p","boot":{"kernel":"/k"}})", 2},
         {"/bootcfg/machines/52:54:00:00:00:01", R"({"id":"52:54:00:00:00:01"})", 3}},
        nullptr);
    CHECK(c.profiles.size() == 1);
    CHECK(c.problems.empty());
}

TEST_CASE("etcd: transactions are cut at 128 operations and about 1 MiB") {
    CHECK(etcd::txn_ranges({}).empty());
    const auto small = etcd::txn_ranges(std::vector<std::size_t>(300, 10));
    REQUIRE(small.size() == 3);
    CHECK(small[0] == std::pair<std::size_t, std::size_t>{0, 128});
    CHECK(small[2] == std::pair<std::size_t, std::size_t>{256, 300});
    const auto big = etcd::txn_ranges({600 * 1024, 600 * 1024, 2 * 1024 * 1024, 10});
    REQUIRE(big.size() == 4);  // each alone: together they pass the limit
    CHECK(big[3] == std::pair<std::size_t, std::size_t>{3, 4});
}
