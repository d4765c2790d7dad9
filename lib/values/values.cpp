#include "values/values.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace bootcfg {

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
    if (text.empty()) return std::nullopt;
    if (text == "0") return std::chrono::milliseconds(0);
    double total_ms = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t start = i;
        while (i < text.size() &&
               (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
            ++i;
        if (start == i) return std::nullopt;
        double number = 0;
        try {
            number = std::stod(text.substr(start, i - start));
        } catch (...) {
            return std::nullopt;
        }
        std::size_t unit_start = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
        const std::string unit = text.substr(unit_start, i - unit_start);
        double scale;
        if (unit == "ms")
            scale = 1;
        else if (unit == "s")
            scale = 1000;
        else if (unit == "m")
            scale = 60000;
        else if (unit == "h")
            scale = 3600000;
        else
            return std::nullopt;
        total_ms += number * scale;
    }
    // Go's time.Duration (int64 nanoseconds) ends near 292 years; beyond it is an error there too.
    if (!(total_ms <= 9.2e12)) return std::nullopt;

    return std::chrono::milliseconds(static_cast<long long>(total_ms));
}

std::optional<bool> parse_bool(const std::string& v) {
    if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True" || v == "yes")
        return true;
    if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False" ||
        v == "no")
        return false;
    return std::nullopt;
}

std::optional<HostPort> split_host_port(const std::string& address) {
    HostPort hp;
    std::string port;
    if (!address.empty() && address[0] == '[') {
        const auto close = address.find(']');
        if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':')
            return std::nullopt;
        hp.host = address.substr(1, close - 1);
        port = address.substr(close + 2);
    } else {
        const auto colon = address.rfind(':');
        if (colon == std::string::npos) return std::nullopt;
        hp.host = address.substr(0, colon);
        if (hp.host.find(':') != std::string::npos) return std::nullopt;  // v6 needs brackets
        port = address.substr(colon + 1);
    }
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoul(port) > 65535)
        return std::nullopt;
    if (hp.host.empty()) hp.host = "0.0.0.0";
    hp.port = port;
    return hp;
}

std::string join_host_port(std::string_view host, std::string_view port) {
    std::string out;
    const bool v6 = host.find(':') != std::string_view::npos;
    if (v6) out += '[';
    out += host;
    if (v6) out += ']';
    out += ':';
    out += port;
    return out;
}

bool etag_list_matches(std::string_view list, std::string_view etag) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    };
    if (trim(list) == "*") return true;
    while (!list.empty()) {
        const auto comma = list.find(',');
        auto item = trim(list.substr(0, comma));
        if (item.substr(0, 2) == "W/") item.remove_prefix(2);
        if (item == etag) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

std::optional<std::vector<std::string>> split_endpoints(const std::string& text, std::string& why) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        const auto comma = std::min(text.find(',', start), text.size());
        std::string endpoint = text.substr(start, comma - start);
        const auto scheme = endpoint.find("://");
        if ((!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) ||
            endpoint.size() == scheme + 3 || endpoint.find('/', scheme + 3) != std::string::npos) {
            why = "expected http://HOST:PORT or https://HOST:PORT, comma-separated, got \"" +
                  endpoint + "\"";
            return std::nullopt;
        }
        out.push_back(std::move(endpoint));
        start = comma + 1;
    }
    return out;
}

}  // namespace bootcfg
