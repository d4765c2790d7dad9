// Talking to an etcd cluster (reads and transactions over its gRPC API, logging in and watches
// over its v3 JSON gateway): every request bounded by a deadline,
// endpoints tried in turn (starting from the last one that answered), a user's token fetched
// and renewed when the cluster has auth on, and whether the cluster is reachable as requests
// find it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "result/result.hpp"
#include "store/etcd_codec.hpp"

namespace bootcfg {
struct ClientOptions;
struct ClientResponse;
}  // namespace bootcfg

namespace bootcfg::etcd {

struct ClusterOptions {
    std::vector<std::string> endpoints;  // http://host:port or https://host:port
    std::string ca_file, cert_file, key_file;
    std::string username, password;
    std::chrono::milliseconds timeout{5000};  // each request (a watch: the longest silence)
    // The largest page of a listing read at once; a larger one is read again in smaller pages.
    std::size_t max_page_bytes = 64u << 20;
    // Told when the cluster becomes unreachable (false, why) and reachable again (true, which
    // endpoint answered): once per change, not per request.
    std::function<void(bool reachable, const std::string& detail)> on_reachability;
};

// How an operator names a cluster (flags, environment, YAML).
struct ClusterSettings {
    std::vector<std::string> endpoints;
    std::string ca_file, cert_file, key_file;
    std::string username, password_file;
    std::chrono::milliseconds timeout{5000};
};
// The options to connect with: the files checked readable, the password read from its file
// (its first line). A failure names the flag, spelled with `dash` ("-" for bootcfgd, "--" for
// bootcfg).
Result<ClusterOptions> cluster_options(const ClusterSettings& settings, const std::string& dash);

// etcd's default --max-txn-ops, and a transaction's bytes of keys and values kept well below its
// 1.5 MiB request limit (--max-request-bytes) with the framing added.
inline constexpr std::size_t kMaxTxnOps = 128;
inline constexpr std::size_t kMaxTxnBytes = 1024 * 1024;
// Items of these sizes (key + value bytes) cut into runs that each fit one transaction:
// [begin, end) index ranges, in order.
std::vector<std::pair<std::size_t, std::size_t>> txn_ranges(const std::vector<std::size_t>& sizes);

// A range read's answer: keys in order, read at one store revision.
struct RangePage {
    std::int64_t revision = 0;  // the store revision the page was read at
    std::vector<KeyValue> kvs;
    bool more = false;  // more keys follow the last one
};

// One change to apply atomically: put `value` or delete, provided the key's mod_revision is still
// `mod_revision` (0: the key must not exist; nullopt: whatever it is).
struct TxnOp {
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
    std::optional<std::int64_t> mod_revision;
};
struct TxnResult {
    bool succeeded = false;
    std::int64_t revision = 0;  // the store revision after a successful txn
};

// Every key under a prefix as of one store revision.
struct Listing {
    std::int64_t revision = 0;
    std::vector<KeyValue> kvs;
};

class Client {
  public:
    explicit Client(ClusterOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    const ClusterOptions& options() const { return options_; }
    // "http://a:2379,http://b:2379"
    std::string endpoints() const;

    // A failure at every endpoint (no connection, a timeout, 5xx) marks the cluster unreachable
    // and fails with field "unreachable"; any other refusal names etcd's reason.

    // Every key under `prefix` but those under the `skip` prefixes (never read), in pages of
    // `page` keys all read at the first page's revision, over etcd's gRPC API (etcd_grpc.hpp).
    // Each range read with a limit costs etcd a count of the rest of the range besides its keys:
    // hence large pages; a page over max_page_bytes is read again as two of half the keys.
    Result<Listing> list(const std::string& prefix, const std::vector<std::string>& skip = {},
                         std::int64_t page = 50000) const;
    // One key now (linearizable); nullopt when it does not exist. Over gRPC, as txn().
    Result<std::optional<KeyValue>> get(const std::string& key) const;
    Result<TxnResult> txn(const std::vector<TxnOp>& ops) const;

    // A watch on `prefix` from `start_revision`: on_message gets each message until it returns
    // false, the stream ends or stays silent for the timeout, or cancel() is called. Fails
    // like the other calls when no endpoint accepts the watch.
    Result<void> watch(const std::string& prefix, std::int64_t start_revision,
                       const std::function<bool(const WatchMessage&)>& on_message) const;
    // Ends a watch in progress (from any thread) and every later one.
    void cancel() const;

    // "" while reachable (or before the first request), else "since <UTC time>: <reason>".
    std::string unreachable() const;

  private:
    struct State;
    // Runs `send` against each endpoint in turn until one answers (any status but 5xx), with
    // the user's token ("" with auth off), renewing a refused token once; records
    // reachability. A send that streams calls `answered` once the endpoint has answered,
    // before its response ends.
    using Send = std::function<ClientResponse(const ClientOptions&, const std::string& token,
                                              const std::function<void()>& answered)>;
    Result<ClientResponse> each_endpoint(const Send& send) const;
    // A call over gRPC (etcd_grpc.hpp) through each_endpoint: call(endpoint, token).
    using GrpcCall = std::function<ClientResponse(const std::string&, const std::string&)>;
    Result<ClientResponse> over_grpc(const GrpcCall& call) const;
    // One range read (a page of a listing, or one key).
    Result<RangePage> range(const struct RangeCall& call) const;
    // An endpoint answered (with this token): it is tried first next time; reachable again.
    void answered(std::size_t endpoint, const std::string& token) const;
    ClusterOptions options_;
    std::unique_ptr<State> state_;
};

// Keeps a watch on a prefix going, on a thread of its own, until stop(): each message goes to
// `on_message`; when etcd compacted away the history the watch needed, the prefix is read again
// and the listing goes to `on_listing`. Failures are tried again with back-off (100 ms doubling
// to 5 s) and logged once per new reason, prefixed with `what`.
class Follower {
  public:
    // A listing leaves out the keys under `skip` (Client::list); the watch still sees them.
    Follower(const Client& client, std::string prefix, std::string what,
             std::vector<std::string> skip = {})
        : client_(client),
          prefix_(std::move(prefix)),
          what_(std::move(what)),
          skip_(std::move(skip)) {}
    ~Follower() { stop(); }
    Follower(const Follower&) = delete;
    Follower& operator=(const Follower&) = delete;

    void start(std::int64_t start_revision, std::function<void(const WatchMessage&)> on_message,
               std::function<void(Listing)> on_listing);
    // Ends the watch (the client's watches with it: Client::cancel) and joins the thread.
    void stop();

  private:
    void run(std::int64_t next, const std::function<void(const WatchMessage&)>& on_message,
             const std::function<void(Listing)>& on_listing);
    void pause(std::chrono::milliseconds delay);
    const Client& client_;
    std::string prefix_, what_;
    std::vector<std::string> skip_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace bootcfg::etcd
