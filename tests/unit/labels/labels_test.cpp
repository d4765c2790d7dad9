#include <catch2/catch.hpp>

#include "labels/labels.hpp"

using namespace bootcfg;

TEST_CASE("MACs normalize to lowercase colon form") {
    CHECK(normalize_mac("52-54-00-AB-cd-EF") == "52:54:00:ab:cd:ef");
    CHECK(normalize_mac("52:54:00:ab:cd:ef") == "52:54:00:ab:cd:ef");
    CHECK_FALSE(normalize_mac("52:54-00:ab:cd:ef"));  // mixed separators
    CHECK_FALSE(normalize_mac("52:54:00:ab:cd"));
    CHECK_FALSE(normalize_mac("52:54:00:ab:cd:eg"));
    CHECK_FALSE(normalize_mac("525400abcdef"));
    CHECK_FALSE(normalize_mac(""));
}

TEST_CASE("UUIDs normalize to lowercase and must be 8-4-4-4-12 hex") {
    CHECK(normalize_uuid("1CFF2CD8-F00A-42C8-9426-F55E6A1847F6") ==
          "1cff2cd8-f00a-42c8-9426-f55e6a1847f6");
    CHECK_FALSE(normalize_uuid("1cff2cd8f00a42c89426f55e6a1847f6"));
    CHECK_FALSE(normalize_uuid("1cff2cd8-f00a-42c8-9426-f55e6a1847fz"));
}

TEST_CASE("percent decoding") {
    CHECK(percent_decode("a%2Fb", false) == "a/b");
    CHECK(percent_decode("a+b", true) == "a b");
    CHECK(percent_decode("a+b", false) == "a+b");
    CHECK_FALSE(percent_decode("a%2", false));
    CHECK_FALSE(percent_decode("a%", false));
    CHECK_FALSE(percent_decode("%zz", false));
}

TEST_CASE("query labels: first value wins, empty values kept, mac and uuid normalized") {
    auto q = labels_from_query(
        "uuid=1CFF2CD8-F00A-42C8-9426-F55E6A1847F6&mac=52-54-00-12-34-56&hostname=&os=a&os=b");
    REQUIRE(q);
    CHECK(*q->find("mac") == "52:54:00:12:34:56");
    CHECK(*q->find("uuid") == "1cff2cd8-f00a-42c8-9426-f55e6a1847f6");
    CHECK(*q->find("os") == "a");
    CHECK(*q->find("hostname") == "");
    CHECK(q->to_string() ==
          "hostname=,mac=52:54:00:12:34:56,os=a,uuid=1cff2cd8-f00a-42c8-9426-f55e6a1847f6");
    CHECK(labels_from_query("mac=&uuid=")->find("mac") == nullptr);  // unset GRUB variable
}

TEST_CASE("query labels: a malformed mac is an error, not a silent fall-through") {
    auto q = labels_from_query("mac=52-54-00&uuid=x");
    REQUIRE_FALSE(q);
    CHECK(q.failure().reason == "malformed mac '52-54-00'");
    CHECK(q.failure().field == "mac");
    const auto bad = labels_from_query("a=%zz");
    REQUIRE_FALSE(bad);
    CHECK(bad.failure().reason.find("malformed percent-encoding") == 0);
}

TEST_CASE("query labels: iPXE's unescaped values are taken as sent") {
    // iPXE does not escape '/' inside values; '=' after the first one belongs to the value.
    auto q = labels_from_query("hostname=a/b&serial=x=y&arch=i386");
    REQUIRE(q);
    CHECK(*q->find("hostname") == "a/b");
    CHECK(*q->find("serial") == "x=y");
}
