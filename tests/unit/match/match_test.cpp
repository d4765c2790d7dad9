#include <catch2/catch.hpp>

#include "match/match.hpp"

using namespace bootcfg;

namespace {

Labels labels(std::initializer_list<std::pair<const char*, const char*>> items) {
    Labels l;
    for (auto& [k, v] : items) l.set(k, v);
    return l;
}

Profile boot_profile(const std::string& id, bool boot = true, const std::string& cloud = "") {
    Profile p;
    p.id = id;
    p.has_boot = boot;
    p.boot.kernel = "/k/" + id;
    p.cloud_id = cloud;
    return p;
}

Group group(const std::string& id, const std::string& profile, Labels selector,
            bool falls_through = false) {
    Group g;
    g.id = id;
    g.profile = profile;
    g.selector = std::move(selector);
    g.falls_through = falls_through;
    return g;
}

}  // namespace

TEST_CASE("bootcfg layout order: uuid, then mac, then default") {
    StoreContents c;
    for (auto id : {"default", "uuid/u1", "mac/m1"}) c.profiles.push_back(boot_profile(id));
    c.groups.push_back(group("default", "default", {}, true));
    c.groups.push_back(group("uuid/u1", "uuid/u1", labels({{"uuid", "u1"}}), true));
    c.groups.push_back(group("mac/m1", "mac/m1", labels({{"mac", "m1"}}), true));
    Snapshot s(std::move(c));

    CHECK(select(s, labels({{"uuid", "u1"}, {"mac", "m1"}}), Part::boot).group->id == "uuid/u1");
    CHECK(select(s, labels({{"uuid", "u2"}, {"mac", "m1"}}), Part::boot).group->id == "mac/m1");
    CHECK(select(s, labels({{"uuid", "u2"}, {"mac", "m2"}}), Part::boot).group->id == "default");
    CHECK(select(s, Labels{}, Part::boot).group->id == "default");
}

TEST_CASE("bootcfg layout falls through per part") {
    StoreContents c;
    c.profiles.push_back(boot_profile("mac/m1", true, ""));           // boot only
    c.profiles.push_back(boot_profile("default", false, "cloud/d"));  // cloud only
    c.groups.push_back(group("mac/m1", "mac/m1", labels({{"mac", "m1"}}), true));
    c.groups.push_back(group("default", "default", {}, true));
    Snapshot s(std::move(c));
    const auto l = labels({{"mac", "m1"}});
    CHECK(select(s, l, Part::boot).group->id == "mac/m1");
    CHECK(select(s, l, Part::cloud).group->id == "default");
}

TEST_CASE("no match names the labels") {
    StoreContents c;
    c.profiles.push_back(boot_profile("mac/m1"));
    c.groups.push_back(group("mac/m1", "mac/m1", labels({{"mac", "m1"}}), true));
    Snapshot s(std::move(c));
    auto sel = select(s, labels({{"mac", "m2"}}), Part::boot);
    CHECK_FALSE(sel);
    CHECK(sel.reason == "no boot config matches labels mac=m2");
    CHECK(select(s, Labels{}, Part::cloud).reason == "no cloud-config matches no labels");
}

TEST_CASE("a non-falling-through group is final and its gap is reported") {
    StoreContents c;
    c.profiles.push_back(boot_profile("p", true, ""));
    c.profiles.push_back(boot_profile("fallback", true, "cloud/x"));
    c.groups.push_back(group("g", "p", labels({{"mac", "m1"}})));
    c.groups.push_back(group("d", "fallback", {}));
    c.groups.push_back(group("broken", "nope", labels({{"mac", "m9"}})));
    Snapshot s(std::move(c));
    auto sel = select(s, labels({{"mac", "m1"}}), Part::cloud);
    CHECK_FALSE(sel);
    CHECK(sel.reason == "profile 'p' of group 'g' has no cloud-config");
    CHECK(select(s, labels({{"mac", "m9"}}), Part::boot).reason ==
          "group 'broken' names missing profile 'nope'");
}

TEST_CASE("more selectors win, ties follow key rank, then group id") {
    StoreContents c;
    c.profiles.push_back(boot_profile("p"));
    c.groups.push_back(group("by-mac", "p", labels({{"mac", "m"}})));
    c.groups.push_back(group("by-mac-os", "p", labels({{"mac", "m"}, {"os", "installed"}})));
    c.groups.push_back(group("by-host", "p", labels({{"hostname", "h"}})));
    c.groups.push_back(group("by-zone", "p", labels({{"zone", "z"}})));
    c.groups.push_back(group("b-same", "p", labels({{"rack", "r"}})));
    c.groups.push_back(group("a-same", "p", labels({{"rack", "r"}})));
    Snapshot s(std::move(c));
    CHECK(select(s, labels({{"mac", "m"}, {"os", "installed"}}), Part::boot).group->id ==
          "by-mac-os");
    CHECK(select(s, labels({{"mac", "m"}, {"os", "other"}}), Part::boot).group->id == "by-mac");
    CHECK(select(s, labels({{"hostname", "h"}, {"mac", "m"}}), Part::boot).group->id == "by-mac");
    CHECK(select(s, labels({{"hostname", "h"}, {"zone", "z"}}), Part::boot).group->id == "by-host");
    CHECK(select(s, labels({{"rack", "r"}}), Part::boot).group->id == "a-same");
}

TEST_CASE("index lookup finds one machine among many groups") {
    StoreContents c;
    c.profiles.push_back(boot_profile("p"));
    for (int i = 0; i < 20000; ++i)
        c.groups.push_back(group("g" + std::to_string(i), "p",
                                 labels({{"mac", ("m" + std::to_string(i)).c_str()}})));
    Snapshot s(std::move(c));
    CHECK(select(s, labels({{"mac", "m19999"}}), Part::boot).group->id == "g19999");
    CHECK_FALSE(select(s, labels({{"mac", "m20000"}}), Part::boot));
}

TEST_CASE("selector values with separators do not collide") {
    StoreContents c;
    c.profiles.push_back(boot_profile("p"));
    c.groups.push_back(group("g", "p", labels({{"a", "1:2"}, {"b", "3"}})));
    Snapshot s(std::move(c));
    CHECK_FALSE(select(s, labels({{"a", "1"}, {"b", "2:3"}}), Part::boot));
    CHECK(select(s, labels({{"a", "1:2"}, {"b", "3"}}), Part::boot));
}

TEST_CASE("MAC selectors: indexed by their bytes, never confused with other values") {
    StoreContents c;
    c.profiles.push_back(boot_profile("p"));
    c.groups.push_back(group("a", "p", labels({{"mac", "52:54:00:00:00:01"}})));
    c.groups.push_back(group("b", "p", labels({{"mac", "52:54:00:00:00:0f"}, {"os", "x"}})));
    // The 7 bytes a MAC's key is made of, as a value: a different selector.
    const std::string lookalike("#RT\0\0\0\x01", 7);
    Labels odd;
    odd.set("mac", lookalike);
    c.groups.push_back(group("c", "p", odd));
    c.groups.push_back(group("d", "p", labels({{"mac", "52:54:00:00:00:0G"}})));  // not hex
    Snapshot s(std::move(c));
    CHECK(select(s, labels({{"mac", "52:54:00:00:00:01"}}), Part::boot).group->id == "a");
    CHECK(select(s, labels({{"mac", "52:54:00:00:00:0f"}, {"os", "x"}}), Part::boot).group->id ==
          "b");
    CHECK_FALSE(select(s, labels({{"mac", "52:54:00:00:00:0f"}}), Part::boot));
    CHECK(select(s, odd, Part::boot).group->id == "c");
    CHECK(select(s, labels({{"mac", "52:54:00:00:00:0G"}}), Part::boot).group->id == "d");
    CHECK_FALSE(select(s, labels({{"mac", "52:54:00:00:00:02"}}), Part::boot));
}

TEST_CASE("boot_file_override: the best matching group's metadata, if it names one") {
    StoreContents c;
    c.profiles.push_back(boot_profile("p"));
    auto special = group("special", "p", labels({{"mac", "52:54:00:00:00:01"}}));
    special.metadata = Metadata({{"pxe_boot_file", "ipxe.efi"}, {"http_boot_file", "snponly.efi"}});
    auto installed =
        group("installed", "p", labels({{"mac", "52:54:00:00:00:01"}, {"state", "installed"}}));
    installed.metadata = Metadata(nlohmann::json{{"pxe_boot_file", "-"}});
    auto odd = group("odd", "p", labels({{"mac", "52:54:00:00:00:02"}}));
    odd.metadata = Metadata(nlohmann::json{{"pxe_boot_file", 7}});
    c.groups = {group("default", "p", {}), special, installed, odd};
    Snapshot s(std::move(c));
    CHECK(boot_file_override(s, labels({{"mac", "52:54:00:00:00:01"}}), "pxe_boot_file") ==
          "ipxe.efi");
    CHECK(boot_file_override(s, labels({{"mac", "52:54:00:00:00:01"}, {"state", "installed"}}),
                             "pxe_boot_file") == "-");
    CHECK_FALSE(boot_file_override(s, labels({{"mac", "52:54:00:00:00:02"}}),
                                   "pxe_boot_file"));  // not a string
    CHECK_FALSE(boot_file_override(s, labels({{"mac", "52:54:00:00:00:03"}}),
                                   "pxe_boot_file"));  // the default's: none
    CHECK(boot_file_override(s, labels({{"mac", "52:54:00:00:00:01"}}), "http_boot_file") ==
          "snponly.efi");
}
