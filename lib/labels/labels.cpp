#include "labels/labels.hpp"

#include <algorithm>
#include <cctype>

namespace bootcfg {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

}  // namespace

void Labels::add(std::string key, std::string value) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                               [](const Entry& e, const std::string& k) { return e.first < k; });
    if (it != entries_.end() && it->first == key) return;
    entries_.emplace(it, std::move(key), std::move(value));
}

void Labels::set(std::string key, std::string value) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                               [](const Entry& e, const std::string& k) { return e.first < k; });
    if (it != entries_.end() && it->first == key) {
        it->second = std::move(value);
        return;
    }
    entries_.emplace(it, std::move(key), std::move(value));
}

void Labels::erase(std::string_view key) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                               [](const Entry& e, std::string_view k) { return e.first < k; });
    if (it != entries_.end() && it->first == key) entries_.erase(it);
}

const std::string* Labels::find(std::string_view key) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                               [](const Entry& e, std::string_view k) { return e.first < k; });
    if (it != entries_.end() && it->first == key) return &it->second;
    return nullptr;
}

std::string Labels::to_string() const {
    std::string out;
    for (const auto& [k, v] : entries_) {
        if (!out.empty()) out += ',';
        out += k;
        out += '=';
        out += v;
    }
    return out;
}

std::optional<std::string> normalize_mac(std::string_view text) {
    // Six hex pairs with one separator kind (':' or '-') used throughout.
    if (text.size() != 17) return std::nullopt;
    const char sep = text[2];
    if (sep != ':' && sep != '-') return std::nullopt;
    std::string out;
    out.reserve(17);
    for (std::size_t i = 0; i < 17; ++i) {
        const char c = text[i];
        if (i % 3 == 2) {
            if (c != sep) return std::nullopt;
            out += ':';
        } else {
            if (hex_value(c) < 0) return std::nullopt;
            out += lower(c);
        }
    }
    return out;
}

std::optional<std::string> normalize_uuid(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < 36; ++i) {
        const char c = text[i];
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : hex_value(c) < 0) return std::nullopt;
        out += lower(c);
    }
    return out;
}

std::string percent_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if ((c < 0x80 && std::isalnum(c)) || c == '-' || c == '.' || c == '_' || c == '~' ||
            c == ':') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::optional<std::string> normalize_label(std::string_view key, std::string value) {
    if (key == "mac") return normalize_mac(value);
    // SMBIOS UUIDs are compared case-insensitively; anything else passes through as is.
    if (key == "uuid")
        if (auto uuid = normalize_uuid(value)) return uuid;
    return value;
}

Result<Labels> labels_from_query(std::string_view raw_query) {
    Labels labels;
    std::optional<Failure> failure;
    auto bad = for_each_query_pair(raw_query, [&](std::string key, std::string value) {
        if (key.empty() || labels.find(key)) return true;
        // An empty mac (a GRUB variable that was not set) is no mac at all, not a malformed one.
        if (key == "mac" && value.empty()) return true;
        auto normalized = normalize_label(key, value);
        if (!normalized) {
            failure = fail("malformed mac '" + value + "'", key);
            return false;
        }
        labels.add(std::move(key), std::move(*normalized));
        return true;
    });
    if (bad)
        return fail("malformed percent-encoding in query parameter '" + std::string(*bad) + "'",
                    std::string(*bad));
    if (failure) return *failure;
    return labels;
}

}  // namespace bootcfg
