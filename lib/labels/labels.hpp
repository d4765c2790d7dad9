// Machine labels: what a client says about itself (uuid, mac, hostname, ...), normalized.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result/result.hpp"

namespace bootcfg {

// Sorted by key, unique keys. Small (a handful of entries), so a vector beats a map.
class Labels {
  public:
    using Entry = std::pair<std::string, std::string>;

    // Keeps the first value of a key, like matchbox does for repeated query parameters.
    void add(std::string key, std::string value);
    void set(std::string key, std::string value);
    void erase(std::string_view key);
    const std::string* find(std::string_view key) const;
    const std::vector<Entry>& entries() const { return entries_; }
    bool empty() const { return entries_.empty(); }
    std::string to_string() const;  // "mac=…,uuid=…" for logs and error messages

  private:
    std::vector<Entry> entries_;
};

// "52-54-00-AB-cd-EF" or "52:54:00:ab:cd:ef" -> "52:54:00:ab:cd:ef"; nullopt if not a MAC.
std::optional<std::string> normalize_mac(std::string_view text);
// Lowercased; nullopt unless 8-4-4-4-12 hex digits.
std::optional<std::string> normalize_uuid(std::string_view text);

// Decodes %XX and '+' (as space). Returns nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// Percent-encodes everything but letters, digits and - . _ ~ : (for one URL path segment or
// query value): a CR, LF, space, '/' or '?' from a server's answer never changes a request line.
std::string percent_encode(std::string_view text);

// A label value as matching compares it: mac normalized (nullopt when it is not a MAC), uuid
// lowercased when it is one, anything else as is. Shared by queries, group selectors and filters.
std::optional<std::string> normalize_label(std::string_view key, std::string value);

// Calls fn(key, value) for each non-empty '&'-separated pair of a raw query, percent-decoded
// ('+' as space); a pair without '=' has an empty value. Stops when fn returns false. Returns
// the raw key of a pair with a malformed escape, or nullopt when all were decoded.
template <class Fn>
std::optional<std::string_view> for_each_query_pair(std::string_view query, Fn fn) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
        if (!key || !value) return pair.substr(0, eq);
        if (!fn(std::move(*key), std::move(*value))) break;
    }
    return std::nullopt;
}

// Parses a raw query string into labels as matchbox does: first value wins, empty values are
// kept (iPXE sends "hostname=" when it has none) except an empty mac, mac and uuid are normalized.
// A failure: the request's labels are unusable (a malformed mac or percent-encoding).
Result<Labels> labels_from_query(std::string_view raw_query);

}  // namespace bootcfg
