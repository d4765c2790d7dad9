#include "logging/log_text.hpp"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <mutex>

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

namespace bootcfg {

namespace {

std::atomic<bool> g_json_logs{false};
// Starts a message that is already JSON fields (no logged text can hold it: log_escape makes
// every control byte of client data \xNN).
constexpr char kFieldsMark = '\x1e';

// %* in the JSON pattern: an access line's fields as they are (access_line() made them), any
// other message as "message": "<the text, JSON-escaped>".
class JsonPayload : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        const std::string_view text(msg.payload.data(), msg.payload.size());
        std::string out;
        if (text.size() > 3 && text.front() == kFieldsMark && text[1] == '{' && text.back() == '}')
            out = std::string(text.substr(2, text.size() - 3));  // the access line's fields
        else
            out = "\"message\":" +
                  nlohmann::json(std::string(text))
                      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        dest.append(out.data(), out.data() + out.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonPayload>();
    }
};

}  // namespace

void use_log_format(const std::string& format) {
    g_json_logs = format == "json";
    if (!g_json_logs) {
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
        return;
    }
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonPayload>('*').set_pattern(
        "{\"time\":\"%Y-%m-%dT%H:%M:%S.%e%z\",\"level\":\"%l\",%*}");
    spdlog::set_formatter(std::move(formatter));
}

namespace {

constexpr std::string_view kAccessLogger = "access";

// fn(line) for each '\n'-separated line of text (a final '\n' ends the last one).
template <class Fn>
void for_each_line(std::string_view text, Fn fn) {
    while (!text.empty()) {
        const auto end = text.find('\n');
        fn(text.substr(0, end));
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    }
}
std::shared_ptr<spdlog::logger> g_access_logger;     // set with the daemon's logger, then constant
std::shared_ptr<spdlog::sinks::sink> g_stdout_sink;  // the same logger's

// Standard output written in blocks by the logger thread: it appends each line and writes when
// the queue it drains is empty (or 64 KiB wait), so a busy server makes one write(2) per burst
// of access lines instead of one per line (each a syscall on a core the requests need), and an
// idle one still writes each line at once.
class BatchingStdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    explicit BatchingStdoutSink(spdlog::details::thread_pool& pool) : pool_(pool) {}
    ~BatchingStdoutSink() override { flush_(); }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (msg.logger_name == kAccessLogger) {
            // A batch of access lines: each formatted as a message of its own.
            spdlog::details::log_msg line = msg;
            for_each_line({msg.payload.data(), msg.payload.size()}, [&](std::string_view text) {
                line.payload = text;
                formatter_->format(line, buffer_);
            });
        } else {
            formatter_->format(msg, buffer_);
        }
        if (buffer_.size() >= 64 * 1024 || pool_.queue_size() == 0) flush_();
    }
    void flush_() override {
        const char* data = buffer_.data();
        std::size_t left = buffer_.size();
        while (left > 0) {
            const ssize_t n = ::write(STDOUT_FILENO, data, left);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // a closed or broken stdout: the lines are lost, as with stdio
            data += n;
            left -= static_cast<std::size_t>(n);
        }
        buffer_.clear();
    }

  private:
    spdlog::details::thread_pool& pool_;
    spdlog::memory_buf_t buffer_;
};

}  // namespace

void use_async_stdout_logger(const std::string& name, const std::string& level,
                             const std::string& format) {
    // Each queued line is a ~430-byte slot, allocated up front: 8,192 of them (3.5 MB; 65,536
    // cost every bootcfgd 28 MB) hold ~170 ms of access lines at full load, and the logger
    // thread writes far faster than requests make them.
    spdlog::init_thread_pool(8192, 1);
    auto sink = g_stdout_sink = std::make_shared<BatchingStdoutSink>(*spdlog::thread_pool());
    auto logger = std::make_shared<spdlog::async_logger>(
        name, sink, spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
    // Registered, so the level and format set for all loggers apply to it too.
    g_access_logger = std::make_shared<spdlog::async_logger>(
        std::string(kAccessLogger), sink, spdlog::thread_pool(),
        spdlog::async_overflow_policy::overrun_oldest);
    spdlog::register_logger(g_access_logger);
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
    use_log_format(format);
}

void stop_async_logger() {
    spdlog::shutdown();  // the logger thread writes what is queued, then ends
    // The lines written in its last turn, which the shutdown's own queue entry kept waiting.
    if (g_stdout_sink) g_stdout_sink->flush();
}

void log_access_lines(std::string_view lines) {
    if (lines.empty()) return;
    if (g_access_logger) {
        g_access_logger->info("{}", lines.substr(0, lines.size() - (lines.back() == '\n')));
        return;
    }
    for_each_line(lines, [](std::string_view line) { spdlog::info("{}", line); });
}

std::string access_line(const AccessRecord& r) {
    const std::string method = r.method.empty() ? "-" : log_escape(r.method);
    const std::string target = r.target.empty() ? "-" : log_target(r.target);
    if (g_json_logs) {
        nlohmann::ordered_json j = {{"remote", std::string(r.remote)},
                                    {"method", method},
                                    {"target", target},
                                    {"status", r.status},
                                    {"bytes", r.bytes},
                                    {"us", r.micros},
                                    {"selected", log_escape(r.selected)}};
        if (!r.reason.empty()) j["reason"] = log_escape(r.reason);
        if (r.aborted) j["aborted"] = true;
        return kFieldsMark +
               j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    }
    std::string line = std::string(r.remote) + " " + method + " " + target + " " +
                       std::to_string(r.status) + " " + std::to_string(r.bytes) + " " +
                       std::to_string(r.micros) +
                       "us selected=" + (r.selected.empty() ? "-" : log_escape(r.selected));
    if (!r.reason.empty()) line += " reason=\"" + log_escape(r.reason) + "\"";
    if (r.aborted) line += " (aborted)";
    return line;
}

}  // namespace bootcfg
