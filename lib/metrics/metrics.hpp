// /metrics: what the machine listener served (by endpoint and status, latency, match outcome,
// file bytes) counted on the request path, and what the store and the inventory hold, read at
// each scrape. Prometheus text format through Debian's prometheus-cpp, on its own listener
// (-metrics-address) or on the admin listener. prometheus-cpp stays inside metrics.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bootcfg::metrics {

enum class Endpoint : std::uint8_t {
    boot_chain,  // /boot.ipxe
    ipxe,
    grub,
    pixiecore,
    ignition,
    cloud,
    generic,
    metadata,
    assets,  // /assets/, /images/
    checkin,
    healthz,
    other,
};
inline constexpr std::size_t kEndpoints = 12;
Endpoint endpoint_of(std::string_view path);  // path without the query
std::string_view endpoint_name(Endpoint e);

// How a request that selects a group was answered.
enum class MatchOutcome : std::uint8_t {
    not_selected,   // the endpoint selects nothing (/boot.ipxe, assets, ...)
    group,          // a group with a selector
    default_group,  // the group without a selector
    none,           // no group matched
};

struct RequestSample {
    Endpoint endpoint = Endpoint::other;
    unsigned status = 0;
    std::chrono::microseconds latency{0};
    std::uint64_t file_bytes = 0;  // asset bytes sent (sendfile)
    MatchOutcome match = MatchOutcome::not_selected;
};

// What a scrape reads from the rest of bootcfgd.
struct ScrapeValues {
    std::vector<std::pair<std::string, std::uint64_t>> machines_by_state;  // empty: inventory off
    bool inventory = false;
    std::uint64_t queue_depth = 0, queue_peak = 0, dropped = 0, written = 0, write_errors = 0,
                  batches = 0, remote_changes = 0;
    std::uint64_t snapshots = 0;  // snapshots published: loads, reloads, changes, writes
    std::uint64_t problems = 0;   // problems of the current snapshot's load
    std::uint64_t groups = 0, profiles = 0, templates = 0;
    bool store_reachable = true;
    std::uint64_t connections = 0;  // open on the machine listener
    // The PXE services, when on (-tftp-address, -proxy-dhcp).
    bool tftp = false;
    std::uint64_t tftp_completed = 0, tftp_failed = 0, tftp_refused = 0, tftp_dropped = 0,
                  tftp_bytes = 0;
    bool proxy_dhcp = false;
    std::uint64_t dhcp_answered = 0, dhcp_ignored = 0, dhcp_dropped = 0;
};

class Metrics {
  public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // The request path: counters and a histogram, no allocation after the first sample of an
    // (endpoint, status).
    void observe(const RequestSample& sample) noexcept;
    // Called at each scrape (on the scraping thread).
    void on_scrape(std::function<ScrapeValues()> read);
    // Everything in Prometheus' text format (version 0.0.4).
    std::string exposition() const;

    // Serves GET /metrics on HOST:PORT on its own threads (2). Throws std::runtime_error naming
    // -metrics-address when it cannot listen. Returns the bound "host:port".
    std::string serve(const std::string& address);

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace bootcfg::metrics
