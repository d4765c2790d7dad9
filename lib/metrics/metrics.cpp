#include "metrics/metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <atomic>
#include <mutex>
#include <stdexcept>

#include "values/values.hpp"

namespace bootcfg::metrics {

namespace {

constexpr std::array<std::string_view, kEndpoints> kEndpointNames = {
    "boot.ipxe", "ipxe",     "grub",   "pixiecore", "ignition", "cloud",
    "generic",   "metadata", "assets", "checkin",   "healthz",  "other"};

constexpr unsigned kFirstStatus = 100, kLastStatus = 599;
constexpr std::size_t kStatusSlots = kLastStatus - kFirstStatus + 2;  // + "other"

prometheus::ClientMetric gauge(double value,
                               std::vector<prometheus::ClientMetric::Label> labels = {}) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    return m;
}

prometheus::ClientMetric counter(double value,
                                 std::vector<prometheus::ClientMetric::Label> labels = {}) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    return m;
}

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type,
                                std::vector<prometheus::ClientMetric> metrics) {
    return {std::move(name), std::move(help), type, std::move(metrics)};
}

// The values other parts of bootcfgd hold, read when Prometheus asks.
class ScrapeCollector : public prometheus::Collectable {
  public:
    std::vector<prometheus::MetricFamily> Collect() const override {
        std::function<ScrapeValues()> read;
        {
            std::lock_guard lock(mutex_);
            read = read_;
        }
        if (!read) return {};
        const ScrapeValues v = read();
        using prometheus::MetricType;
        std::vector<prometheus::MetricFamily> out;
        out.push_back(family("bootcfg_build_info", "bootcfgd's version (the value is always 1).",
                             MetricType::Gauge, {gauge(1, {{"version", BOOTCFG_VERSION}})}));
        out.push_back(family("bootcfg_connections", "Connections open on the machine listener.",
                             MetricType::Gauge, {gauge(static_cast<double>(v.connections))}));
        out.push_back(family("bootcfg_store_snapshots_total",
                             "Snapshots of the store published: the first load, reloads, "
                             "applied changes and admin writes.",
                             MetricType::Counter, {counter(static_cast<double>(v.snapshots))}));
        out.push_back(family("bootcfg_store_problems",
                             "Problems of the current snapshot's load (files or keys skipped).",
                             MetricType::Gauge, {gauge(static_cast<double>(v.problems))}));
        out.push_back(family("bootcfg_store_reachable",
                             "1 while the store's backend answers (etcd), 0 while the last "
                             "snapshot is served without it.",
                             MetricType::Gauge, {gauge(v.store_reachable ? 1 : 0)}));
        out.push_back(family("bootcfg_store_objects", "Objects served, by kind.", MetricType::Gauge,
                             {gauge(static_cast<double>(v.groups), {{"kind", "groups"}}),
                              gauge(static_cast<double>(v.profiles), {{"kind", "profiles"}}),
                              gauge(static_cast<double>(v.templates), {{"kind", "templates"}})}));
        if (v.tftp) {
            out.push_back(
                family("bootcfg_tftp_transfers_total", "TFTP transfers ended, by result.",
                       MetricType::Counter,
                       {counter(static_cast<double>(v.tftp_completed), {{"result", "completed"}}),
                        counter(static_cast<double>(v.tftp_failed), {{"result", "failed"}})}));
            out.push_back(
                family("bootcfg_tftp_requests_refused_total",
                       "TFTP requests answered with an error (not found, a write, a bad request).",
                       MetricType::Counter, {counter(static_cast<double>(v.tftp_refused))}));
            out.push_back(family("bootcfg_tftp_requests_dropped_total",
                                 "TFTP requests over a limit, not answered.", MetricType::Counter,
                                 {counter(static_cast<double>(v.tftp_dropped))}));
            out.push_back(family("bootcfg_tftp_bytes_total", "Bytes TFTP clients acknowledged.",
                                 MetricType::Counter,
                                 {counter(static_cast<double>(v.tftp_bytes))}));
        }
        if (v.proxy_dhcp)
            out.push_back(
                family("bootcfg_proxydhcp_packets_total",
                       "DHCP packets ProxyDHCP saw, by what became of them.", MetricType::Counter,
                       {counter(static_cast<double>(v.dhcp_answered), {{"result", "answered"}}),
                        counter(static_cast<double>(v.dhcp_ignored), {{"result", "ignored"}}),
                        counter(static_cast<double>(v.dhcp_dropped), {{"result", "dropped"}})}));
        if (!v.inventory) return out;
        std::vector<prometheus::ClientMetric> states;
        for (const auto& [state, n] : v.machines_by_state)
            states.push_back(gauge(static_cast<double>(n), {{"state", state}}));
        out.push_back(family("bootcfg_machines", "Machines in the inventory, by state.",
                             MetricType::Gauge, std::move(states)));
        out.push_back(family("bootcfg_inventory_queue_depth",
                             "Sightings waiting for the inventory's writer.", MetricType::Gauge,
                             {gauge(static_cast<double>(v.queue_depth))}));
        out.push_back(family("bootcfg_inventory_queue_peak",
                             "The most sightings that waited at once since start.",
                             MetricType::Gauge, {gauge(static_cast<double>(v.queue_peak))}));
        out.push_back(family("bootcfg_inventory_dropped_total",
                             "Sightings dropped because the writer's queue was full.",
                             MetricType::Counter, {counter(static_cast<double>(v.dropped))}));
        out.push_back(family("bootcfg_inventory_sightings_written_total",
                             "Sightings applied to the inventory.", MetricType::Counter,
                             {counter(static_cast<double>(v.written))}));
        out.push_back(family("bootcfg_inventory_transactions_total",
                             "Transactions the inventory's writer committed.", MetricType::Counter,
                             {counter(static_cast<double>(v.batches))}));
        out.push_back(family("bootcfg_inventory_write_errors_total",
                             "Inventory writes that failed.", MetricType::Counter,
                             {counter(static_cast<double>(v.write_errors))}));
        out.push_back(family("bootcfg_inventory_remote_changes_total",
                             "Other replicas' machine changes applied (etcd).", MetricType::Counter,
                             {counter(static_cast<double>(v.remote_changes))}));
        return out;
    }

    void set(std::function<ScrapeValues()> read) {
        std::lock_guard lock(mutex_);
        read_ = std::move(read);
    }

  private:
    mutable std::mutex mutex_;
    std::function<ScrapeValues()> read_;
};

}  // namespace

std::string_view endpoint_name(Endpoint e) {
    return kEndpointNames[static_cast<std::size_t>(e)];
}

Endpoint endpoint_of(std::string_view path) {
    if (path == "/ipxe") return Endpoint::ipxe;
    if (path == "/boot.ipxe" || path == "/boot.ipxe.0") return Endpoint::boot_chain;
    if (path == "/grub") return Endpoint::grub;
    if (path.starts_with("/pixiecore/")) return Endpoint::pixiecore;
    if (path == "/ignition") return Endpoint::ignition;
    if (path == "/cloud") return Endpoint::cloud;
    if (path == "/generic") return Endpoint::generic;
    if (path == "/metadata") return Endpoint::metadata;
    if (path.starts_with("/assets/") || path.starts_with("/images/")) return Endpoint::assets;
    if (path == "/checkin") return Endpoint::checkin;
    if (path == "/healthz") return Endpoint::healthz;
    return Endpoint::other;
}

struct Metrics::Impl {
    std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
    std::shared_ptr<ScrapeCollector> scrape = std::make_shared<ScrapeCollector>();
    prometheus::Family<prometheus::Counter>& requests =
        prometheus::BuildCounter()
            .Name("bootcfg_requests_total")
            .Help("Requests answered on the machine listener, by endpoint and status code.")
            .Register(*registry);
    prometheus::Family<prometheus::Histogram>& durations =
        prometheus::BuildHistogram()
            .Name("bootcfg_request_duration_seconds")
            .Help("From a request's start to the last byte of its answer, by endpoint.")
            .Register(*registry);
    prometheus::Family<prometheus::Counter>& matches =
        prometheus::BuildCounter()
            .Name("bootcfg_match_total")
            .Help(
                "Requests that select a group, by outcome: group, default (the group "
                "without a selector), none (nothing matched).")
            .Register(*registry);
    prometheus::Counter& file_bytes = prometheus::BuildCounter()
                                          .Name("bootcfg_asset_bytes_sent_total")
                                          .Help("File bytes sent from the assets directory.")
                                          .Register(*registry)
                                          .Add({});
    std::array<prometheus::Histogram*, kEndpoints> histograms{};
    std::array<prometheus::Counter*, 3> outcome{};
    // (endpoint, status) -> its counter, made on first use.
    std::array<std::atomic<prometheus::Counter*>, kEndpoints * kStatusSlots> counters{};
    std::mutex make_mutex;
    std::unique_ptr<prometheus::Exposer> exposer;

    Impl() {
        const prometheus::Histogram::BucketBoundaries bounds = {
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
            0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
        for (std::size_t e = 0; e < kEndpoints; ++e)
            histograms[e] = &durations.Add({{"endpoint", std::string(kEndpointNames[e])}}, bounds);
        outcome[0] = &matches.Add({{"outcome", "group"}});
        outcome[1] = &matches.Add({{"outcome", "default"}});
        outcome[2] = &matches.Add({{"outcome", "none"}});
    }

    prometheus::Counter& request_counter(std::size_t e, unsigned status) {
        const bool known = status >= kFirstStatus && status <= kLastStatus;
        const std::size_t slot =
            e * kStatusSlots + (known ? status - kFirstStatus : kStatusSlots - 1);
        if (auto* c = counters[slot].load(std::memory_order_acquire)) return *c;
        std::lock_guard lock(make_mutex);
        if (auto* c = counters[slot].load(std::memory_order_relaxed)) return *c;
        auto* c = &requests.Add({{"endpoint", std::string(kEndpointNames[e])},
                                 {"code", known ? std::to_string(status) : "other"}});
        counters[slot].store(c, std::memory_order_release);
        return *c;
    }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::observe(const RequestSample& s) noexcept {
    auto& im = *impl_;
    const auto e = static_cast<std::size_t>(s.endpoint);
    try {
        im.request_counter(e, s.status).Increment();
    } catch (...) {  // an allocation failure on the first sample: that sample is not counted
    }
    im.histograms[e]->Observe(static_cast<double>(s.latency.count()) / 1e6);
    if (s.file_bytes) im.file_bytes.Increment(static_cast<double>(s.file_bytes));
    if (s.match != MatchOutcome::not_selected)
        im.outcome[static_cast<std::size_t>(s.match) - 1]->Increment();
}

void Metrics::on_scrape(std::function<ScrapeValues()> read) {
    impl_->scrape->set(std::move(read));
}

std::string Metrics::exposition() const {
    auto families = impl_->registry->Collect();
    for (auto& f : impl_->scrape->Collect()) families.push_back(std::move(f));
    return prometheus::TextSerializer().Serialize(families);
}

std::string Metrics::serve(const std::string& address) {
    auto& im = *impl_;
    const auto hp = split_host_port(address);
    if (!hp) throw std::runtime_error("-metrics-address '" + address + "' is not HOST:PORT");
    try {
        im.exposer = std::make_unique<prometheus::Exposer>(address, 2);
    } catch (const std::exception& e) {
        throw std::runtime_error("-metrics-address " + address + ": cannot listen (" + e.what() +
                                 ")");
    }
    im.exposer->RegisterCollectable(im.registry);
    im.exposer->RegisterCollectable(im.scrape);
    const auto ports = im.exposer->GetListeningPorts();
    return join_host_port(hp->host, ports.empty() ? hp->port : std::to_string(ports.front()));
}

}  // namespace bootcfg::metrics
