// What may reach a log line: request targets, file names and peer names are hostile bytes. They
// are escaped (a newline cannot forge a line), secrets in query strings are masked, and a warning
// that a client can trigger at will is rate-limited.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bootcfg {

// Control bytes, '\' and bytes >= 0x80 as \xNN; printable ASCII as is.
std::string log_escape(std::string_view text);

// A request target for the log: escaped, and the value of each query parameter whose name says
// it holds a secret (token, password, secret, key, auth, credential, signature) replaced by "***".
std::string log_target(std::string_view target);

// The log's shape for the whole process: "text" (the default: time, level, message) or "json"
// (one object per line: {"time","level","message"}, and access lines as fields). Sets the
// default spdlog logger's formatter.
void use_log_format(const std::string& format);

// The process's logger for a daemon: stdout, written by one thread that request threads hand
// lines to; if stdout stalls (a slow journal or pipe), the oldest queued lines are dropped
// instead of blocking requests. `level`: debug, info, warn or error; `format` as above.
void use_async_stdout_logger(const std::string& name, const std::string& level,
                             const std::string& format);

// Ends that logger: every line logged before is written. Call once no thread logs any more.
void stop_async_logger();

// One request as the access log records it.
struct AccessRecord {
    std::string_view remote, method, target;  // raw: escaped (and secrets masked) here
    unsigned status = 0;
    std::size_t bytes = 0;  // sent, status line and headers included
    long long micros = 0;
    std::string_view selected;  // which config answered
    std::string_view reason;    // a 4xx/5xx answer's one-line reason
    bool aborted = false;
};
// The access line in the current format.
std::string access_line(const AccessRecord& r);

// Logs '\n'-terminated access lines at info level. With the daemon's logger they reach its
// thread as one queue entry (a request thread hands over its lines in batches: one wake-up of the
// logger instead of one per request) and come out exactly as lines logged one by one; otherwise
// each is logged through the default logger.
void log_access_lines(std::string_view lines);

// At most one warning per key per interval; the next one that passes says how many were held
// back ("... (37 similar suppressed)"). Thread-safe; a bounded number of keys.
class WarningLimiter {
  public:
    explicit WarningLimiter(std::chrono::milliseconds interval = std::chrono::seconds(10))
        : interval_(interval) {}
    // Logs message at warn level unless key was logged within the interval.
    void warn(std::string_view key, const std::string& message);

  private:
    struct Slot {
        std::chrono::steady_clock::time_point last{};
        std::uint64_t suppressed = 0;
    };
    std::chrono::milliseconds interval_;
    std::mutex mutex_;
    std::unordered_map<std::string, Slot> slots_;
};

}  // namespace bootcfg
