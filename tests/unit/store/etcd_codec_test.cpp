// etcd's v3 JSON gateway messages: what the etcd backend sends and how it reads the answers,
// including proto3's left-out defaults and hostile bodies.
#include <catch2/catch.hpp>

#include "store/etcd_codec.hpp"

using namespace bootcfg;
using namespace bootcfg::etcd;
using nlohmann::json;

TEST_CASE("etcd: base64 both ways, refusing what is not base64") {
    for (const std::string& s :
         std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
        CHECK(base64_decode(base64_encode(s)) == s);
    CHECK(base64_encode("/bootcfg/") == "L2Jvb3RjZmcv");
    CHECK_FALSE(base64_decode("abc"));           // not a multiple of 4
    CHECK_FALSE(base64_decode("ab c"));          // whitespace
    CHECK_FALSE(base64_decode("a*=="));          // not in the alphabet
    CHECK_FALSE(base64_decode("/bootval/s=r"));  // padding inside (found by fuzz_etcd_messages)
    CHECK_FALSE(base64_decode("a==="));          // three padding characters
}

TEST_CASE("etcd: a prefix scan ends at the prefix with its last byte + 1") {
    CHECK(prefix_end("/bootcfg/") == "/bootcfg0");
    CHECK(prefix_end(std::string("a\xff", 2)) == "b");
    CHECK(prefix_end(std::string("\xff\xff", 2)) == std::string(1, '\0'));
}

TEST_CASE("etcd: keys are the data dir's paths without .json under the prefix") {
    CHECK(key_of("/bootcfg/", {ObjectKind::groups, "node1"}) == "/bootcfg/groups/node1");
    CHECK(key_of("/bootcfg/", {ObjectKind::cloud, "lab.yaml"}) == "/bootcfg/cloud/lab.yaml");
    const auto ref = object_of("/bootcfg/", "/bootcfg/profiles/fedora-coreos");
    REQUIRE(ref);
    CHECK(ref->kind == ObjectKind::profiles);
    CHECK(ref->name == "fedora-coreos");
    CHECK_FALSE(object_of("/bootcfg/", "/other/groups/a"));
    CHECK_FALSE(object_of("/bootcfg/", "/bootcfg/machines/a"));
    CHECK_FALSE(object_of("/bootcfg/", "/bootcfg/groups/../x"));
    CHECK_FALSE(object_of("/bootcfg/", "/bootcfg/groups"));
}

TEST_CASE("etcd: hostile or broken watch lines are failures with a reason, never a crash") {
    for (
        const char* line :
        {"", "[]", "{", R"({"result": []})", R"({"result": {"header": {"revision": "x1"}}})",
         R"({"result": {"header": {"revision": "1"}, "events": {}}})",
         R"({"result": {"header": {"revision": "1"}, "events": [{"kv": {"key": "!!!!"}}]}})",
         R"({"result": {"header": {"revision": "1"}, "events": [{"kv": {"key": 5}}]}})",
         R"({"result": {"header": {"revision": "1"}, "events": [{"kv": {"mod_revision": "99999999999999999999"}}]}})"}) {
        INFO(line);
        const auto message = parse_watch_line(line);
        REQUIRE_FALSE(message);
        CHECK_FALSE(message.failure().reason.empty());
    }
    std::string deep = R"({"result": {"header": {"revision": "1"}, "x": )";
    for (int i = 0; i < 10000; ++i) deep += "[";
    CHECK_FALSE(parse_watch_line(deep));
}

TEST_CASE("etcd: watch lines: PUT without a type, DELETE, created, compacted") {
    const json w = watch_request("/p/", 18);
    CHECK(w["create_request"]["start_revision"] == "18");
    CHECK(w["create_request"]["range_end"] == base64_encode("/p0"));

    const auto created =
        parse_watch_line(R"({"result": {"header": {"revision": "17"}, "created": true}})");
    REQUIRE(created);
    CHECK(created->created);
    CHECK(created->events.empty());

    const std::string line =
        json{{"result",
              {{"header", {{"revision", "20"}}},
               {"events",
                {{{"kv",
                   {{"key", base64_encode("/p/groups/a")},
                    {"value", base64_encode("x")},
                    {"mod_revision", "19"}}}},
                 {{"type", "DELETE"},
                  {"kv", {{"key", base64_encode("/p/groups/b")}, {"mod_revision", "20"}}}}}}}}}
            .dump();
    const auto changes = parse_watch_line(line);
    REQUIRE(changes);
    REQUIRE(changes->events.size() == 2);
    CHECK_FALSE(changes->events[0].deleted);
    CHECK(changes->events[0].kv.value == "x");
    CHECK(changes->events[1].deleted);
    CHECK(changes->events[1].kv.key == "/p/groups/b");

    const auto compacted = parse_watch_line(
        R"({"result": {"header": {"revision": "30"}, "canceled": true, "compact_revision": "25"}})");
    REQUIRE(compacted);
    CHECK(compacted->canceled);
    CHECK(compacted->compact_revision == 25);

    const auto error =
        parse_watch_line(R"({"error": {"grpc_code": 14, "message": "unavailable"}})");
    REQUIRE_FALSE(error);
    CHECK(error.failure().reason == "watch: unavailable");
    CHECK_FALSE(parse_watch_line(
        R"({"result": {"header": {"revision": "1"}, "events": [{"type": "NOPE", "kv": {}}]}})"));
}
