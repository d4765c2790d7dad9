#include <unistd.h>

#include <catch2/catch.hpp>

#include "assets/assets.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;
using bootcfg::test::TempDir;

TEST_CASE("asset URL paths: plain relative paths only") {
    CHECK(asset_relative_path("lab/vmlinuz") == "lab/vmlinuz");
    CHECK(asset_relative_path("lab/my%20kernel") == "lab/my kernel");
    for (const char* bad :
         {"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "%2e%2e/x", "..%2fx",
          "%2e%2e%2fx", "a%2f..%2f..%2fx", "a%00b", "a\\..\\b", "a%5c..%5cb", "%2fetc/passwd", "a/",
          "..", ".", "a%2", "%c0%ae%c0%ae/x"}) {
        INFO(bad);
        auto r = asset_relative_path(bad);
        // Overlong UTF-8 decodes to bytes that are not "." and stay a harmless file name.
        if (std::string(bad) == "%c0%ae%c0%ae/x") {
            CHECK(r.has_value());
            continue;
        }
        CHECK_FALSE(r.has_value());
    }
}

TEST_CASE("asset root opens files beneath it only") {
    TempDir outside;
    outside.write("secret", "top secret");
    TempDir dir;
    dir.write("lab/vmlinuz", "kernel bytes");
    std::filesystem::create_symlink(outside.path() / "secret", dir.path() / "escape");
    std::filesystem::create_symlink("../../", dir.path() / "lab/up");
    std::filesystem::create_symlink("vmlinuz", dir.path() / "lab/alias");
    AssetRoot root(dir.path().string());

    auto f = root.open("lab/vmlinuz");
    REQUIRE(f);
    CHECK(f->size == 12);
    auto alias = root.open("lab/alias");  // a symlink that stays inside is fine
    REQUIRE(alias);
    CHECK_FALSE(root.open("escape"));
    CHECK_FALSE(root.open("lab/up/secret"));
    CHECK_FALSE(root.open("lab"));  // directories are not served
    CHECK_FALSE(root.open("missing"));
    CHECK_THROWS_WITH(AssetRoot("/nonexistent-assets"),
                      Catch::StartsWith("assets path /nonexistent-assets: "));
}

TEST_CASE("asset root: open_entry follows its owner's top-level links to files only") {
    TempDir outside;
    outside.write("ipxe.efi", "efi bytes");
    outside.write("dir/x", "x");
    TempDir dir;
    dir.write("sub/file", "f");
    std::filesystem::create_symlink(outside.path() / "ipxe.efi", dir.path() / "ipxe.efi");
    std::filesystem::create_symlink(outside.path() / "dir", dir.path() / "up");
    std::filesystem::create_symlink(outside.path() / "ipxe.efi", dir.path() / "sub/link");
    AssetRoot root(dir.path().string());
    auto efi = root.open_entry("ipxe.efi");  // as Debian's /usr/lib/ipxe/ipxe.efi
    REQUIRE(efi);
    CHECK(efi->size == 9);
    CHECK_FALSE(root.open("ipxe.efi"));    // open() keeps to the root
    CHECK_FALSE(root.open_entry("up"));    // a directory out there: not even opened
    CHECK_FALSE(root.open_entry("up/x"));  // below a top-level name: open()'s rules
    CHECK_FALSE(root.open_entry("sub/link"));
    CHECK(root.open_entry("sub/file"));
    CHECK_FALSE(root.open_entry(".."));
    CHECK_FALSE(root.open_entry("missing"));
}

TEST_CASE("asset directory listings: beneath the root, escaped, and only when on") {
    bootcfg::test::TempDir dir;
    dir.write("os/a&b<c>.img", "x");
    dir.write("os/sub/k", "k");
    dir.write("os/.hidden", "h");
    AssetRoot root(dir.path().string());
    auto entries = root.list("os");
    REQUIRE(entries);
    REQUIRE(entries->size() == 2);
    CHECK(entries->at(0).name == "a&b<c>.img");
    CHECK(entries->at(1).directory);
    CHECK(listing_html(*entries).find("<a href=\"a%26b%3Cc%3E.img\">a&amp;b&lt;c&gt;.img</a>\n"
                                      "<a href=\"sub/\">sub/</a>") != std::string::npos);
    CHECK(root.list("")->size() == 1);
    CHECK(root.list("")->size() == 1);        // listed again: not an exhausted shared offset
    CHECK_FALSE(root.list("os/a&b<c>.img"));  // a file is not a directory
    CHECK_FALSE(root.list("../"));
    CHECK_FALSE(root.list("missing"));
    AssetRoot quiet(dir.path().string(), false);
    CHECK_FALSE(quiet.list("os"));
    CHECK(quiet.open("os/sub/k"));  // files are still served
}

TEST_CASE("conditional requests") {
    const std::int64_t mtime = 1700000000LL * 1000000000LL + 5;
    const auto etag = asset_etag(100, mtime);
    ConditionalHeaders h;
    CHECK(plan_asset(100, mtime, h).status == 200);
    h.if_none_match = etag;
    CHECK(plan_asset(100, mtime, h).status == 304);
    const std::string list = "\"other\", W/" + etag;
    h.if_none_match = list;
    CHECK(plan_asset(100, mtime, h).status == 304);
    h.if_none_match = "\"other\"";
    CHECK(plan_asset(100, mtime, h).status == 200);
    h = {};
    const auto date = http_date(1700000000);
    h.if_modified_since = date;
    CHECK(plan_asset(100, mtime, h).status == 304);
    const auto earlier = http_date(1699999999);
    h.if_modified_since = earlier;
    CHECK(plan_asset(100, mtime, h).status == 200);
    h.if_modified_since = "garbage";
    CHECK(plan_asset(100, mtime, h).status == 200);
}

TEST_CASE("single byte ranges") {
    ConditionalHeaders h;
    auto plan = [&](const char* range, std::uint64_t size = 100) {
        h.range = range;
        return plan_asset(size, 0, h);
    };
    auto p = plan("bytes=0-9");
    CHECK(p.status == 206);
    CHECK(p.offset == 0);
    CHECK(p.length == 10);
    CHECK(p.content_range == "bytes 0-9/100");
    p = plan("bytes=90-");
    CHECK((p.status == 206 && p.offset == 90 && p.length == 10));
    p = plan("bytes=-30");
    CHECK((p.status == 206 && p.offset == 70 && p.length == 30));
    p = plan("bytes=-300");
    CHECK((p.status == 206 && p.offset == 0 && p.length == 100));
    p = plan("bytes=50-1000");
    CHECK((p.status == 206 && p.length == 50 && p.content_range == "bytes 50-99/100"));
    p = plan("bytes=100-");
    CHECK(p.status == 416);
    CHECK(p.content_range == "bytes */100");
    CHECK(plan("bytes=0-0", 0).status == 416);
    CHECK(plan("bytes=-0").status == 416);
    CHECK(plan("bytes=5-1").status == 200);      // invalid: ignored
    CHECK(plan("bytes=0-1,5-6").status == 200);  // several: whole file
    CHECK(plan("items=0-1").status == 200);
    CHECK(plan("bytes=x-1").status == 200);
}

TEST_CASE("If-Range: a stale validator sends the whole file") {
    ConditionalHeaders h;
    h.range = "bytes=0-9";
    h.if_range = "\"stale\"";
    CHECK(plan_asset(100, 7, h).status == 200);
    const auto etag = asset_etag(100, 7);
    h.if_range = etag;
    CHECK(plan_asset(100, 7, h).status == 206);
}

TEST_CASE("HTTP dates round-trip") {
    CHECK(http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") ==
          std::optional<std::time_t>(784111777));
    CHECK_FALSE(parse_http_date("yesterday"));
}
