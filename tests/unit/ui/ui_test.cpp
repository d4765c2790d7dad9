#include <catch2/catch.hpp>

#include "ui/embedded.hpp"
#include "ui/ui.hpp"

using namespace bootcfg::ui;

namespace {

std::string header(const UiReply& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return "";
}

}  // namespace

TEST_CASE("ui: the files are built in, each page with its type, policy and ETag") {
    const auto index = ui_request("GET", "/ui/", "");
    REQUIRE(index.status == 200);
    CHECK(index.body.find("id=\"login\"") != std::string_view::npos);
    CHECK(header(index, "Content-Type") == "text/html; charset=utf-8");
    CHECK(header(index, "Content-Security-Policy").find("frame-ancestors 'none'") !=
          std::string::npos);
    CHECK(header(index, "X-Content-Type-Options") == "nosniff");
    const auto app = ui_request("GET", "/ui/app.js?v=1", "");
    REQUIRE(app.status == 200);
    CHECK(header(app, "Content-Type") == "text/javascript; charset=utf-8");
    CHECK(header(ui_request("GET", "/ui/ui.css", ""), "Content-Type") == "text/css; charset=utf-8");
    CHECK(header(app, "ETag") != header(index, "ETag"));
    for (const auto& f : embedded_files()) CHECK(f.sha256.size() == 64);
}

TEST_CASE("ui: only the login page and its assets are public") {
    CHECK(is_public("GET", "/ui"));
    CHECK(is_public("GET", "/ui/"));
    CHECK(is_public("HEAD", "/ui/login.js"));
    CHECK(is_public("GET", "/ui/ui.css?x"));
    CHECK_FALSE(is_public("GET", "/ui/app.js"));
    CHECK_FALSE(is_public("POST", "/ui/"));
    CHECK_FALSE(is_public("GET", "/ui/../api/v1/machines"));
    CHECK_FALSE(is_public("GET", "/ui/%2e%2e/api/v1/machines"));
    CHECK_FALSE(is_public("GET", "/uix"));
    CHECK(is_ui_target("/ui"));
    CHECK(is_ui_target("/ui/x?y"));
    CHECK_FALSE(is_ui_target("/uix"));
    CHECK_FALSE(is_ui_target("/api/v1/ui/"));
}

TEST_CASE("ui: redirects, refusals and revalidation") {
    const auto bare = ui_request("GET", "/ui", "");
    CHECK(bare.status == 301);
    CHECK(header(bare, "Location") == "/ui/");
    const auto post = ui_request("POST", "/ui/", "");
    CHECK(post.status == 405);
    CHECK(header(post, "Allow") == "GET, HEAD");
    CHECK(ui_request("GET", "/ui/../daemon/bootcfgd.cpp", "").status == 404);
    CHECK(ui_request("GET", "/ui/nothing.js", "").status == 404);
    CHECK(ui_request("GET", "/ui/sub/app.js", "").status == 404);
    const auto etag = header(ui_request("GET", "/ui/", ""), "ETag");
    CHECK(ui_request("GET", "/ui/", etag).status == 304);
    CHECK(ui_request("GET", "/ui/", "\"other\", " + etag).status == 304);
    CHECK(ui_request("GET", "/ui/", "W/" + etag).status == 304);
    CHECK(ui_request("GET", "/ui/", "\"other\"").status == 200);
    CHECK(ui_request("GET", "/ui/", "*").status == 304);
}
