// Bounds on hostile input that every reader shares: one nesting limit for JSON documents (data
// files, admin bodies, Ignition configs, API answers the CLI reads) and template blocks, so every
// recursive walk over parsed data stays far inside a thread's stack.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace bootcfg {

inline constexpr int kMaxNesting = 64;

// True when JSON text nests arrays/objects deeper than max_depth. A byte scan before parsing, so
// a hostile document never reaches a recursive walk.
inline bool json_too_deep(std::string_view text, int max_depth = kMaxNesting) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return true;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

// nlohmann::json::parse behind the same limit: a deeper document throws json::parse_error like
// any other unusable document, so every caller's existing handling applies.
inline nlohmann::json parse_json_bounded(std::string_view text) {
    if (json_too_deep(text))
        throw nlohmann::json::parse_error::create(
            101, 0, "JSON nested deeper than " + std::to_string(kMaxNesting) + " levels", nullptr);
    return nlohmann::json::parse(text);
}

// A JSON library error for a person: its text without the "[json.exception.parse_error.101] "
// tag (which says nothing to an operator).
inline std::string json_error_text(const nlohmann::json::exception& e) {
    std::string what = e.what();
    if (what.starts_with("[json.exception.")) {
        const auto close = what.find("] ");
        if (close != std::string::npos) what.erase(0, close + 2);
    }
    return what;
}

}  // namespace bootcfg
