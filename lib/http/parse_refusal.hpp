// How a request that did not parse is answered, the same on every listener: a status and a
// one-line reason, or nothing when the connection simply ended (timeout, reset, end of stream).
// Beast-based: include only where Beast already is.
#pragma once

#include <boost/beast/http/error.hpp>
#include <optional>
#include <string>

namespace bootcfg {

struct ParseRefusal {
    unsigned status;
    std::string reason;
};

// The wording of the size limits is the listener's (its limits differ).
inline std::optional<ParseRefusal> parse_refusal(const boost::beast::error_code& ec,
                                                 const std::string& headers_too_large,
                                                 const std::string& body_too_large) {
    namespace http = boost::beast::http;
    if (ec == http::error::header_limit) return ParseRefusal{431, headers_too_large};
    if (ec == http::error::body_limit || ec == http::error::unexpected_body)
        return ParseRefusal{413, body_too_large};
    if (ec.category() == http::make_error_code(http::error::bad_target).category())
        return ParseRefusal{400, "malformed HTTP request: " + ec.message()};
    return std::nullopt;
}

}  // namespace bootcfg
