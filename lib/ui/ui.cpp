#include "ui/ui.hpp"

#include "ui/embedded.hpp"
#include "values/values.hpp"

namespace bootcfg::ui {

namespace {

constexpr std::string_view kRoot = "/ui/";

// A strict policy: the pages run only their own scripts (and the app script the login page
// loads as a blob once the token is accepted), talk only to this listener, and are never framed.
constexpr std::string_view kPolicy =
    "default-src 'none'; script-src 'self' blob:; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string_view path_of(std::string_view target) {
    return target.substr(0, target.find('?'));
}

// "/ui/" -> index.html, "/ui/app.js" -> app.js; "" when not a file name.
std::string_view file_name(std::string_view path) {
    if (path == kRoot) return "index.html";
    if (!path.starts_with(kRoot)) return {};
    return path.substr(kRoot.size());
}

const EmbeddedFile* find(std::string_view name) {
    for (const auto& f : embedded_files())
        if (f.name == name) return &f;
    return nullptr;
}

std::string_view content_type(std::string_view name) {
    if (name.ends_with(".html")) return "text/html; charset=utf-8";
    if (name.ends_with(".css")) return "text/css; charset=utf-8";
    if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
    if (name.ends_with(".png")) return "image/png";
    return "application/octet-stream";
}

UiReply refusal(unsigned status, std::string reason) {
    UiReply r;
    r.status = status;
    r.reason = std::move(reason);
    return r;
}

}  // namespace

bool is_ui_target(std::string_view target) {
    const auto path = path_of(target);
    return path == "/ui" || path.starts_with(kRoot);
}

bool is_public(std::string_view method, std::string_view target) {
    if (method != "GET" && method != "HEAD") return false;
    const auto path = path_of(target);
    if (path == "/ui") return true;
    const auto name = file_name(path);
    return name == "index.html" || name == "login.js" || name == "ui.css";
}

UiReply ui_request(std::string_view method, std::string_view target,
                   std::string_view if_none_match) {
    if (method != "GET" && method != "HEAD") {
        auto r = refusal(405, "method " + std::string(method) + " not allowed on /ui/ (GET, HEAD)");
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    const auto path = path_of(target);
    if (path == "/ui") {
        UiReply r;
        r.status = 301;
        r.headers.emplace_back("Location", std::string(kRoot));
        return r;
    }
    const auto name = file_name(path);
    const EmbeddedFile* file = name.empty() ? nullptr : find(name);
    if (!file) return refusal(404, "no such page under /ui/ (the dashboard is /ui/)");
    UiReply r;
    const std::string etag = "\"" + std::string(file->sha256.substr(0, 16)) + "\"";
    r.headers = {{"Content-Type", std::string(content_type(name))},
                 {"Cache-Control", "no-cache"},
                 {"ETag", etag},
                 {"Content-Security-Policy", std::string(kPolicy)},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"}};
    if (!if_none_match.empty() && etag_list_matches(if_none_match, etag)) {
        r.status = 304;
        return r;
    }
    r.body = file->bytes;
    return r;
}

}  // namespace bootcfg::ui
