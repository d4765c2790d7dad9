#include "etcd/etcd_client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

#include <unistd.h>

#include "client/admin_client.hpp"
#include "etcd/etcd_grpc.hpp"
#include "files/atomic_file.hpp"
#include "store/data_files.hpp"

namespace bootcfg::etcd {

using nlohmann::json;

namespace {

// A watch message larger than this (one line of the stream) is refused, not buffered on.
constexpr std::size_t kMaxWatchLine = 64u << 20;

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

// The gateway's reason for a refusal: {"error": "...", "message": "...", "code": N}.
std::string refusal_reason(const ClientResponse& response) {
    auto doc = parse_json(response.body);
    if (doc && doc->is_object())
        for (const char* key : {"message", "error"})
            if (const auto it = doc->find(key);
                it != doc->end() && it->is_string() && !it->get_ref<const std::string&>().empty())
                return it->get<std::string>();
    return "HTTP " + std::to_string(response.status);
}

bool token_refused(const ClientResponse& response) {
    return response.status == 401 || response.body.find("invalid auth token") != std::string::npos;
}

}  // namespace

Result<ClusterOptions> cluster_options(const ClusterSettings& settings, const std::string& dash) {
    ClusterOptions o;
    o.endpoints = settings.endpoints;
    o.ca_file = settings.ca_file;
    o.cert_file = settings.cert_file;
    o.key_file = settings.key_file;
    o.username = settings.username;
    o.timeout = settings.timeout;
    for (const auto& [flag, file] : {std::pair{"etcd-ca-file", &settings.ca_file},
                                     std::pair{"etcd-cert-file", &settings.cert_file},
                                     std::pair{"etcd-key-file", &settings.key_file},
                                     std::pair{"etcd-password-file", &settings.password_file}})
        if (!file->empty() && ::access(file->c_str(), R_OK) != 0)
            return fail(dash + flag + " " + *file + ": " + std::strerror(errno), dash + flag);
    if (!settings.password_file.empty()) {
        std::string text;
        if (!read_whole(settings.password_file, text))
            return fail(dash + "etcd-password-file " + settings.password_file + ": " +
                        std::strerror(errno));
        o.password = text.substr(0, text.find_first_of("\r\n"));
        if (o.password.empty())
            return fail(dash + "etcd-password-file " + settings.password_file +
                        ": empty first line");
    }
    return o;
}

struct Client::State {
    explicit State(const ClusterOptions& options) : kv(options) {}
    std::mutex mutex;
    std::size_t current = 0;  // the endpoint that answered last
    std::string token;        // with auth on: the user's current token
    bool down = false;
    std::string down_detail;
    StreamingRequest watch;
    GrpcKv kv;
};

Client::Client(ClusterOptions options)
    : options_(std::move(options)), state_(std::make_unique<State>(options_)) {}

Client::~Client() = default;

std::string Client::endpoints() const {
    std::string out;
    for (const auto& e : options_.endpoints) out += (out.empty() ? "" : ",") + e;
    return out;
}

std::string Client::unreachable() const {
    std::lock_guard guard(state_->mutex);
    return state_->down ? state_->down_detail : "";
}

void Client::cancel() const {
    state_->watch.cancel();
}

Result<ClientResponse> Client::each_endpoint(const Send& send) const {
    const ClusterOptions& o = options_;
    State& state = *state_;
    std::size_t start;
    {
        std::lock_guard guard(state.mutex);
        start = state.current;
    }
    std::string failures;  // each endpoint's, for the log
    auto failed = [&](const std::string& why) { failures += (failures.empty() ? "" : "; ") + why; };
    for (std::size_t i = 0; i < o.endpoints.size(); ++i) {
        const std::size_t at = (start + i) % o.endpoints.size();
        const std::string& endpoint = o.endpoints[at];
        ClientOptions connection{endpoint, o.ca_file, o.cert_file, o.key_file, "", o.timeout};
        try {
            std::string token;
            {
                std::lock_guard guard(state.mutex);
                token = state.token;
            }
            auto authenticate = [&]() -> std::optional<std::string> {
                const json request = {{"name", o.username}, {"password", o.password}};
                const ClientResponse r =
                    admin_request(connection, "POST", "/v3/auth/authenticate", request.dump());
                if (r.status >= 500) return std::nullopt;
                auto doc = parse_json(r.body);
                if (r.status != 200 || !doc || !doc->is_object() || !doc->contains("token") ||
                    !(*doc)["token"].is_string())
                    throw ConnectError("user '" + o.username +
                                       "' cannot log in: " + refusal_reason(r));
                return (*doc)["token"].get<std::string>();
            };
            if (!o.username.empty() && token.empty()) {
                auto fresh = authenticate();
                if (!fresh) {
                    failed(endpoint + ": unavailable");
                    continue;
                }
                token = *fresh;
            }
            const std::function<void()> now_answered = [&] { answered(at, token); };
            ClientResponse response = send(connection, token, now_answered);
            if (token_refused(response) && !o.username.empty()) {
                auto fresh = authenticate();
                if (fresh) {
                    token = *fresh;
                    response = send(connection, token, now_answered);
                }
            }
            if (response.status >= 500) {
                failed(endpoint + ": " + refusal_reason(response));
                continue;
            }
            answered(at, token);
            return response;
        } catch (const ConnectError& e) {
            const std::string what = e.what();
            if (what == "cancelled") return fail("cancelled");
            if (what.starts_with("user '")) return fail(what);
            failed(what);
        }
    }
    bool lost = false;
    {
        std::lock_guard guard(state.mutex);
        lost = !state.down;
        if (lost) state.down_detail = "since " + utc_now() + ": " + failures;
        state.down = true;
    }
    if (lost && o.on_reachability) o.on_reachability(false, failures);
    return fail("etcd unreachable: " + failures, "unreachable");
}

void Client::answered(std::size_t endpoint, const std::string& token) const {
    bool regained = false;
    {
        std::lock_guard guard(state_->mutex);
        state_->current = endpoint;
        state_->token = token;
        regained = state_->down;
        state_->down = false;
    }
    if (regained && options_.on_reachability)
        options_.on_reachability(true, options_.endpoints[endpoint]);
}

Result<ClientResponse> Client::over_grpc(const GrpcCall& call) const {
    return each_endpoint([&](const ClientOptions& connection, const std::string& token,
                             const auto&) { return call(connection.endpoint, token); });
}

Result<RangePage> Client::range(const RangeCall& call) const {
    RangePage page;
    auto response = over_grpc([&](const std::string& endpoint, const std::string& token) {
        return state_->kv.range(endpoint, token, call, page);
    });
    if (!response) return response.failure();
    if (response->status == 413)
        return fail("etcd's answer to a range read is larger than " +
                        std::to_string(options_.max_page_bytes) + " bytes",
                    "too_large");
    if (response->status != 200)
        return fail("etcd refused a range read: " + refusal_reason(*response));
    return page;
}

Result<Listing> Client::list(const std::string& prefix, const std::vector<std::string>& skip,
                             std::int64_t page) const {
    std::vector<std::string> gaps = skip;  // read up to each in turn, then on from its end
    std::sort(gaps.begin(), gaps.end());
    std::size_t gap = 0;
    Listing listing;
    std::string from = prefix;
    while (true) {
        while (gap < gaps.size() && from >= prefix_end(gaps[gap])) ++gap;
        const bool before_gap = gap < gaps.size();
        RangeCall call{from, before_gap ? gaps[gap] : prefix_end(prefix), page, listing.revision};
        // Later pages read the first page's revision: the member that answered it (tried first)
        // has applied it, so they need no quorum round; elsewhere, a failure asks again in full.
        call.serializable = listing.revision != 0;
        auto got = range(call);
        if (!got && got.failure().field == "too_large" && page > 1) {
            page = std::max<std::int64_t>(1, page / 2);
            continue;
        }
        if (!got && got.failure().field != "unreachable" && call.serializable) {
            call.serializable = false;
            got = range(call);
        }
        if (!got) return got.failure();
        if (listing.revision == 0) listing.revision = got->revision;
        const bool more = got->more && !got->kvs.empty();
        if (more) from = got->kvs.back().key + '\0';  // the next key after the last one
        listing.kvs.insert(listing.kvs.end(), std::make_move_iterator(got->kvs.begin()),
                           std::make_move_iterator(got->kvs.end()));
        if (more) continue;
        if (!before_gap) return listing;
        from = prefix_end(gaps[gap]);
    }
}

Result<std::optional<KeyValue>> Client::get(const std::string& key) const {
    auto got = range(RangeCall{key, "", 0, 0, false});
    if (!got) return got.failure();
    for (auto& kv : got->kvs)
        if (kv.key == key) return std::optional<KeyValue>(std::move(kv));
    return std::optional<KeyValue>();
}

Result<TxnResult> Client::txn(const std::vector<TxnOp>& ops) const {
    TxnResult result;
    auto response = over_grpc([&](const std::string& endpoint, const std::string& token) {
        return state_->kv.txn(endpoint, token, ops, result);
    });
    if (!response) return response.failure();
    if (response->status != 200)
        return fail("etcd refused a transaction: " + refusal_reason(*response));
    return result;
}

Result<void> Client::watch(const std::string& prefix, std::int64_t start_revision,
                           const std::function<bool(const WatchMessage&)>& on_message) const {
    const std::string request = watch_request(prefix, start_revision).dump();
    std::string broken;  // why the stream was given up, when it was
    bool token_expired = false;
    auto response = each_endpoint([&](const ClientOptions& connection, const std::string& token,
                                      const std::function<void()>& answered_now) {
        std::string line;
        bool set_up = false;  // a first message came: the watch is on
        auto sink = [&](std::string_view piece) {
            line.append(piece);
            std::size_t start = 0;
            for (auto end = line.find('\n'); end != std::string::npos;
                 end = line.find('\n', start)) {
                const std::string_view one(line.data() + start, end - start);
                start = end + 1;
                if (one.find_first_not_of(" \r\t") == std::string_view::npos) continue;
                auto message = parse_watch_line(one);
                if (!message) {
                    broken = message.failure().reason;
                    return false;
                }
                if (!set_up) answered_now();  // reachable now, not once this stream ends
                set_up = true;
                if (message->canceled &&
                    message->cancel_reason.find("auth token") != std::string::npos)
                    token_expired = true;
                if (!on_message(*message)) return false;
            }
            line.erase(0, start);
            if (line.size() > kMaxWatchLine) {
                broken = "watch: a message larger than 64 MiB";
                return false;
            }
            return true;
        };
        try {
            std::vector<std::pair<std::string, std::string>> headers;
            if (!token.empty()) headers.emplace_back("Authorization", token);
            return state_->watch.run(connection, "POST", "/v3/watch", request, headers, sink);
        } catch (const ConnectError& e) {
            // Silence or a dropped connection after the watch was set up: it just ends.
            if (!set_up || std::string(e.what()) == "cancelled") throw;
            ClientResponse ended;
            ended.status = 200;
            return ended;
        }
    });
    if (!response) return response.failure();
    if (response->status != 200)
        return fail("etcd refused the watch: " + refusal_reason(*response));
    // An expired token cancels the watch (or ends the stream with an error line): the next
    // watch logs in again.
    if (token_expired || broken.find("invalid auth token") != std::string::npos) {
        std::lock_guard guard(state_->mutex);
        state_->token.clear();
    }
    if (!broken.empty()) return fail(broken);
    return {};
}

std::vector<std::pair<std::size_t, std::size_t>> txn_ranges(const std::vector<std::size_t>& sizes) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        if (out.empty() || out.back().second - out.back().first == kMaxTxnOps ||
            bytes + sizes[i] > kMaxTxnBytes) {
            out.emplace_back(i, i);
            bytes = 0;
        }
        ++out.back().second;
        bytes += sizes[i];
    }
    return out;
}

void Follower::start(std::int64_t start_revision,
                     std::function<void(const WatchMessage&)> on_message,
                     std::function<void(Listing)> on_listing) {
    if (thread_.joinable()) return;
    thread_ = std::thread(
        [this, start_revision, on_message = std::move(on_message),
         on_listing = std::move(on_listing)] { run(start_revision, on_message, on_listing); });
}

void Follower::stop() {
    {
        std::lock_guard guard(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    client_.cancel();
    if (thread_.joinable()) thread_.join();
}

void Follower::pause(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, delay, [&] { return stopping_.load(); });
}

void Follower::run(std::int64_t next, const std::function<void(const WatchMessage&)>& on_message,
                   const std::function<void(Listing)>& on_listing) {
    using namespace std::chrono_literals;
    std::chrono::milliseconds backoff = 100ms;
    std::string last_failure;
    while (!stopping_) {
        const std::int64_t start = next;
        std::int64_t compacted = 0;
        std::string canceled;  // etcd's reason for ending the watch, other than compaction
        const auto watched = client_.watch(prefix_, start, [&](const WatchMessage& message) {
            if (stopping_) return false;
            if (message.canceled) {
                compacted = message.compact_revision;
                if (!compacted)
                    canceled =
                        message.cancel_reason.empty() ? "no reason given" : message.cancel_reason;
                return false;
            }
            backoff = 100ms;
            for (const WatchEvent& event : message.events)
                next = std::max(next, event.kv.mod_revision + 1);
            on_message(message);
            return true;
        });
        if (stopping_) break;
        if (compacted) {
            spdlog::warn(
                "{}: history before revision {} was compacted while watching {} from {}; reading "
                "everything again",
                what_, compacted, prefix_, start);
            auto listing = client_.list(prefix_, skip_);
            if (listing) {
                next = std::max(next, listing->revision + 1);
                on_listing(std::move(*listing));
                continue;
            }
        } else if (!canceled.empty()) {
            // An expired token is routine (the client logs in again); anything else is news.
            if (canceled.find("auth token") != std::string::npos)
                spdlog::debug("{}: watch canceled: {}", what_, canceled);
            else if (canceled != last_failure)
                spdlog::warn("{}: watch canceled: {}", what_, canceled);
            last_failure = canceled;
        } else if (watched) {
            continue;  // a silent stream ended: watch again from where it was
        } else if (watched.failure().field != "unreachable" &&
                   watched.failure().reason != last_failure) {
            last_failure = watched.failure().reason;
            spdlog::warn("{}: watch: {}", what_, last_failure);
        }
        pause(backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5000ms);
    }
}

}  // namespace bootcfg::etcd
