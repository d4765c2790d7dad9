#include <catch2/catch.hpp>

#include "render/render.hpp"

using namespace bootcfg;
using nlohmann::json;

TEST_CASE("GRUB config: matchbox's text, and one linux/initrd entry for arm64") {
    BootSpec b{"/k", {"/a", "/b"}, {"x=1", "y"}};
    CHECK(grub_config(b, false) ==
          "default=0\nfallback=1\ntimeout=1\n"
          "menuentry \"CoreOS (EFI)\" {\necho \"Loading kernel\"\nlinuxefi \"/k\" x=1 y\n"
          "echo \"Loading initrd\"\ninitrdefi  \"/a\" \"/b\"\n}\n"
          "menuentry \"CoreOS (BIOS)\" {\necho \"Loading kernel\"\nlinux \"/k\" x=1 y\n"
          "echo \"Loading initrd\"\ninitrd  \"/a\" \"/b\"\n}\n");
    const auto arm = grub_config(b, true);
    CHECK(arm.find("linuxefi") == std::string::npos);
    CHECK(arm.find("linux \"/k\" x=1 y\n") != std::string::npos);
}

TEST_CASE("template data: metadata, then lowercased selectors, then request") {
    Group g;
    g.metadata = Metadata({{"etcd_name", "node1"}, {"mac", "from-metadata"}});
    g.selector.set("mac", "52:54:00:a1:9c:ae");
    g.selector.set("Zone", "a");
    Labels q;
    q.set("mac", "52:54:00:a1:9c:ae");
    q.set("foo", "bar");
    const auto data = template_data(g, q, "mac=52-54-00-a1-9c-ae&foo=bar");
    CHECK(data["etcd_name"] == "node1");
    CHECK(data["mac"] == "52:54:00:a1:9c:ae");  // selectors overwrite metadata
    CHECK(data["zone"] == "a");
    CHECK(data["request"]["query"]["foo"] == "bar");
    CHECK(data["request"]["raw_query"] == "mac=52-54-00-a1-9c-ae&foo=bar");
}

TEST_CASE("metadata env: the reference example") {
    Group g;
    g.metadata = Metadata(nlohmann::json{{"etcd_name", "node1"}});
    g.selector.set("mac", "52:54:00:a1:9c:ae");
    Labels q;
    q.set("mac", "52:54:00:a1:9c:ae");
    q.set("foo", "bar");
    CHECK(
        metadata_env(template_data(g, q, "mac=52-54-00-a1-9c-ae&foo=bar")) ==
        "ETCD_NAME=node1\nMAC=52:54:00:a1:9c:ae\nREQUEST_QUERY_FOO=bar\n"
        "REQUEST_QUERY_MAC=52:54:00:a1:9c:ae\nREQUEST_RAW_QUERY='mac=52-54-00-a1-9c-ae&foo=bar'\n");
}

TEST_CASE("metadata env: nested maps, dropped lists and nulls, Go numbers, quoting") {
    const json data = {{"a", {{"b", {{"c", "deep"}}}}},
                       {"list", {1, 2}},
                       {"none", nullptr},
                       {"n", 100000000.0},
                       {"t", true},
                       {"q", "it's"},
                       {"empty", ""}};
    CHECK(metadata_env(data) == "A_B_C=deep\nEMPTY=\nN=1e+08\nQ='it'\\''s'\nT=true\n");
}

TEST_CASE("metadata env from a group equals the template-data path, overrides included") {
    Group g;
    g.metadata = Metadata({{"mac", {{"nested", "replaced by the selector"}}},
                           {"request", "replaced by the request"},
                           {"zone", "a"},
                           {"deep", {{"x", {{"y", 1.5}}}}},
                           {"list", {1, 2}},
                           {"q", "needs 'quotes' & more"}});
    g.selector.set("mac", "52:54:00:a1:9c:ae");
    g.selector.set("Rack", "r1");
    Labels q;
    q.set("mac", "52:54:00:a1:9c:ae");
    q.set("hostname", "");
    const std::string raw = "mac=52-54-00-a1-9c-ae&hostname=";
    CHECK(metadata_env(g, q, raw) == metadata_env(template_data(g, q, raw)));
    CHECK(metadata_env(g, q, raw).find("MAC_NESTED") == std::string::npos);
}
