// The dashboard's files under /ui/ on the admin listener, built into the binary. Pure: a request
// line in, a reply out; the admin server writes it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bootcfg::ui {

struct UiReply {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;  // beyond Server and length
    std::string_view body;                                     // static storage, or reason
    std::string reason;  // a refusal's one-line reason (body is empty then)
};

// Is target (path and query) under /ui?
bool is_ui_target(std::string_view target);

// The login page and what it needs: served without credentials, so a browser can ask for a
// token. Everything else under /ui/ needs what /api/v1 needs.
bool is_public(std::string_view method, std::string_view target);

// GET/HEAD /ui, /ui/, /ui/FILE; if_none_match for a 304.
UiReply ui_request(std::string_view method, std::string_view target,
                   std::string_view if_none_match);

}  // namespace bootcfg::ui
