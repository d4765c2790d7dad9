#include "logging/log_text.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "labels/labels.hpp"

namespace bootcfg {

std::string log_escape(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

namespace {

bool secret_name(std::string_view raw_name) {
    auto decoded = percent_decode(raw_name, true);
    std::string name = decoded ? *decoded : std::string(raw_name);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    static constexpr std::array<std::string_view, 8> words{
        "token", "passw", "secret", "key", "auth", "credential", "signature", "sig"};
    for (auto w : words)
        if (w == "sig" ? name == w : name.find(w) != std::string::npos) return true;
    return false;
}

}  // namespace

std::string log_target(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return log_escape(target);
    std::string out(target.substr(0, q + 1));
    std::string_view query = target.substr(q + 1);
    bool first = true;
    while (true) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        if (!first) out += '&';
        first = false;
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos && secret_name(pair.substr(0, eq))) {
            out += pair.substr(0, eq + 1);
            out += "***";
        } else {
            out += pair;
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return log_escape(out);
}

void WarningLimiter::warn(std::string_view key, const std::string& message) {
    const auto now = std::chrono::steady_clock::now();
    std::uint64_t held_back = 0;
    {
        std::lock_guard lock(mutex_);
        auto it = slots_.find(std::string(key));
        if (it == slots_.end()) {
            if (slots_.size() >= 1024) slots_.clear();  // keys are categories; never unbounded
            it = slots_.emplace(std::string(key), Slot{}).first;
        } else if (now - it->second.last < interval_) {
            ++it->second.suppressed;
            return;
        }
        held_back = it->second.suppressed;
        it->second = Slot{now, 0};
    }
    if (held_back)
        spdlog::warn("{} ({} similar suppressed)", message, held_back);
    else
        spdlog::warn("{}", message);
}

}  // namespace bootcfg
