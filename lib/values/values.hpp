// Values as operators write them in flags, environment and config files: one parser each, shared
// by bootcfgd's settings and the bootcfg CLI.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bootcfg {

// Go duration syntax: "300ms", "10s", "1m30s", "1.5h", "0".
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

// Go's strconv.ParseBool words (1 t T true TRUE True, 0 f F false FALSE False) and yes/no.
std::optional<bool> parse_bool(const std::string& text);

// "host:port", "[v6]:port", ":port" -> host (0.0.0.0 when empty) and port; nullopt if malformed.
struct HostPort {
    std::string host;
    std::string port;
};
std::optional<HostPort> split_host_port(const std::string& address);
// The inverse: "host:port", with brackets around an IPv6 host ("[::1]:8080").
std::string join_host_port(std::string_view host, std::string_view port);

// Does an If-None-Match list ("*", or "a", W/"b", ...) name `etag` (quoted)? Weak comparison
// (RFC 9110 13.1.2): W/ prefixes are ignored.
bool etag_list_matches(std::string_view list, std::string_view etag);

// "http://h1:2379,https://h2:2379" (etcd's endpoints): each an http:// or https:// URL with a
// host and no path. Empty text is no endpoint; otherwise nullopt, with `why` naming the first
// entry that is not such a URL.
std::optional<std::vector<std::string>> split_endpoints(const std::string& text, std::string& why);

}  // namespace bootcfg
