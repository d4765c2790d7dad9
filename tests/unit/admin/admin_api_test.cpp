#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "admin/api.hpp"
#include "model/limits.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;
using namespace bootcfg::admin;
using nlohmann::json;

namespace {

// The API over a real data dir, publishing its writes as bootcfgd does.
struct Fixture {
    test::TempDir dir;
    DirectorySource source{dir.path().string()};
    SnapshotHolder holder{load_snapshot(source, nullptr)};
    LiveStore store{source, holder};
    AdminApi api{store};

    ApiReply call(std::string_view method, std::string_view target, std::string_view body = {},
                  std::string_view if_match = {}, std::string_view if_none_match = {}) {
        return api.handle(ApiRequest{method, target, body, if_match, if_none_match, "test"});
    }
};

const char* kProfile = R"({"id": "p", "boot": {"kernel": "/k", "args": ["a=1"]}})";

}  // namespace

TEST_CASE("admin: a PUT lands on disk and in the snapshot before the reply") {
    Fixture f;
    auto r = f.call("PUT", "/api/v1/profiles/p", kProfile);
    REQUIRE(r.status == 201);
    CHECK(std::filesystem::exists(f.dir.path() / "profiles/p.json"));
    REQUIRE(f.holder.get()->profile("p"));
    CHECK(f.holder.get()->profile("p")->boot.kernel == "/k");
    CHECK(json::parse(r.body)["revision"] == r.etag);
    auto again = f.call("PUT", "/api/v1/profiles/p", kProfile);
    CHECK(again.status == 200);
    CHECK(again.etag == r.etag);  // same content, same revision
}

TEST_CASE("admin: revisions follow content, not formatting") {
    Fixture f;
    auto a = f.call("PUT", "/api/v1/profiles/p", kProfile);
    auto b =
        f.call("PUT", "/api/v1/profiles/p",
               "{\n  \"boot\": {\"args\": [\"a=1\"], \"kernel\": \"/k\"},\n  \"id\": \"p\"\n}");
    CHECK(a.etag == b.etag);
    auto c = f.call("PUT", "/api/v1/profiles/p", R"({"id": "p", "boot": {"kernel": "/k2"}})");
    CHECK(c.etag != a.etag);
    CHECK(f.call("GET", "/api/v1/profiles/p").etag == c.etag);
}

TEST_CASE("admin: If-Match and If-None-Match guard against lost updates") {
    Fixture f;
    const auto first = f.call("PUT", "/api/v1/profiles/p", kProfile, "", "*");
    REQUIRE(first.status == 201);
    CHECK(f.call("PUT", "/api/v1/profiles/p", kProfile, "", "*").status == 412);
    const std::string stale = "\"" + first.etag + "\"";
    const auto second =
        f.call("PUT", "/api/v1/profiles/p", R"({"id": "p", "boot": {"kernel": "/k2"}})", stale);
    REQUIRE(second.status == 200);
    auto conflict =
        f.call("PUT", "/api/v1/profiles/p", R"({"id": "p", "boot": {"kernel": "/k3"}})", stale);
    CHECK(conflict.status == 412);
    CHECK(json::parse(conflict.body)["revision"] == second.etag);
    CHECK(f.holder.get()->profile("p")->boot.kernel == "/k2");
    CHECK(f.call("DELETE", "/api/v1/profiles/p", {}, stale).status == 412);
    CHECK(f.call("PUT", "/api/v1/profiles/q", R"({"id": "q"})", "*").status == 412);
}

TEST_CASE("admin: a hand edit on disk changes the revision If-Match is checked against") {
    Fixture f;
    const auto put = f.call("PUT", "/api/v1/profiles/p", kProfile);
    f.dir.write("profiles/p.json", R"({"id": "p", "boot": {"kernel": "/by-hand"}})");
    auto r = f.call("PUT", "/api/v1/profiles/p", kProfile, "\"" + put.etag + "\"");
    CHECK(r.status == 412);
}

TEST_CASE("admin: bodies are validated like data files, with the field named") {
    Fixture f;
    auto field_of = [](const ApiReply& r) { return json::parse(r.body).value("field", ""); };
    auto r = f.call("PUT", "/api/v1/profiles/p", R"({"id": "p", "boot": {"kernel": 7}})");
    CHECK(r.status == 400);
    CHECK(field_of(r) == "boot.kernel");
    r = f.call("PUT", "/api/v1/profiles/p", R"({"id": "other"})");
    CHECK(r.status == 400);
    CHECK(field_of(r) == "id");
    r = f.call("PUT", "/api/v1/groups/g", R"({"id": "g", "profile": "missing"})");
    CHECK(r.status == 400);
    CHECK(field_of(r) == "profile");
    r = f.call("PUT", "/api/v1/profiles/p", R"({"id": "p", "cloud_id": "nope.yaml"})");
    CHECK(field_of(r) == "cloud_id");
    r = f.call("PUT", "/api/v1/groups/g", std::string(200, '[') + std::string(200, ']'));
    CHECK(r.status == 400);
    CHECK(json::parse(r.body)["error"].get<std::string>().find("deeper") != std::string::npos);
    r = f.call("PUT", "/api/v1/ignition/x.ign", "{not json");
    CHECK(r.status == 400);
    CHECK(f.holder.get()->profile_count() == 0);
    CHECK_FALSE(std::filesystem::exists(f.dir.path() / "profiles/p.json"));
}

TEST_CASE("admin: names cannot leave the data dir") {
    Fixture f;
    for (const char* target : {"/api/v1/profiles/..", "/api/v1/profiles/%2e%2e%2fx",
                               "/api/v1/ignition/..%2F..%2Fetc%2Fpasswd", "/api/v1/cloud/.hidden",
                               "/api/v1/generic/a%00b"}) {
        INFO(target);
        CHECK(f.call("PUT", target, "x").status == 400);
    }
}

TEST_CASE("admin: deleting what others use is a conflict") {
    Fixture f;
    REQUIRE(f.call("PUT", "/api/v1/generic/env", "A={{.mac}}\n").status == 201);
    REQUIRE(f.call("PUT", "/api/v1/profiles/p", R"({"id": "p", "generic_id": "env"})").status ==
            201);
    REQUIRE(f.call("PUT", "/api/v1/groups/g", R"({"id": "g", "profile": "p"})").status == 201);
    CHECK(f.call("DELETE", "/api/v1/profiles/p").status == 409);
    CHECK(f.call("DELETE", "/api/v1/generic/env").status == 409);
    CHECK(f.call("DELETE", "/api/v1/groups/g").status == 200);
    CHECK(f.call("DELETE", "/api/v1/profiles/p").status == 200);
    CHECK(f.call("DELETE", "/api/v1/generic/env").status == 200);
    CHECK(f.call("DELETE", "/api/v1/generic/env").status == 404);
    CHECK(f.holder.get()->template_count() == 0);
}

TEST_CASE("admin: lists filter groups by selector and select explains the choice") {
    Fixture f;
    REQUIRE(f.call("PUT", "/api/v1/profiles/p", kProfile).status == 201);
    REQUIRE(f.call("PUT", "/api/v1/groups/a",
                   R"({"id": "a", "profile": "p", "selector": {"mac": "52:54:00:00:00:01"}})")
                .status == 201);
    REQUIRE(f.call("PUT", "/api/v1/groups/b",
                   R"({"id": "b", "profile": "p", "selector": {"rack": "1"}})")
                .status == 201);
    auto list = json::parse(f.call("GET", "/api/v1/groups?selector=mac%3D52-54-00-00-00-01").body);
    REQUIRE(list["items"].size() == 1);
    CHECK(list["items"][0]["id"] == "a");
    CHECK(f.call("GET", "/api/v1/groups?colour=red").status == 400);
    auto sel = json::parse(f.call("GET", "/api/v1/select?mac=52:54:00:00:00:01&rack=1").body);
    CHECK(sel["selected"]["boot"]["group"] == "a");  // uuid > mac > ... > other keys
    CHECK(sel["matching_groups"].size() == 2);
    CHECK(f.call("GET", "/api/v1/select?mac=zz").status == 400);
    CHECK(f.call("POST", "/api/v1/groups/a").status == 405);
}

TEST_CASE("limits: json_too_deep ignores brackets inside strings") {
    CHECK_FALSE(json_too_deep(R"({"a": "[[[[[[[[[["})", 3));
    CHECK(json_too_deep("[[[[", 3));
    CHECK_FALSE(json_too_deep(R"({"a": "\"[[[["})", 3));
}
