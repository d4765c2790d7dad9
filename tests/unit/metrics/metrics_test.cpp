#include <catch2/catch.hpp>

#include "metrics/metrics.hpp"

using namespace bootcfg::metrics;

namespace {

bool has(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("metrics: each machine path is one endpoint label") {
    CHECK(endpoint_of("/boot.ipxe") == Endpoint::boot_chain);
    CHECK(endpoint_of("/boot.ipxe.0") == Endpoint::boot_chain);
    CHECK(endpoint_of("/ipxe") == Endpoint::ipxe);
    CHECK(endpoint_of("/grub") == Endpoint::grub);
    CHECK(endpoint_of("/pixiecore/v1/boot/52:54:00:00:00:01") == Endpoint::pixiecore);
    CHECK(endpoint_of("/ignition") == Endpoint::ignition);
    CHECK(endpoint_of("/cloud") == Endpoint::cloud);
    CHECK(endpoint_of("/generic") == Endpoint::generic);
    CHECK(endpoint_of("/metadata") == Endpoint::metadata);
    CHECK(endpoint_of("/assets/coreos/kernel") == Endpoint::assets);
    CHECK(endpoint_of("/images/x") == Endpoint::assets);
    CHECK(endpoint_of("/checkin") == Endpoint::checkin);
    CHECK(endpoint_of("/healthz") == Endpoint::healthz);
    // Anything else, however many distinct paths a client sends, is one label value.
    CHECK(endpoint_of("/ipxe/") == Endpoint::other);
    CHECK(endpoint_of("/x\"y") == Endpoint::other);
    CHECK(endpoint_name(Endpoint::boot_chain) == "boot.ipxe");
    CHECK(endpoint_name(Endpoint::other) == "other");
}

TEST_CASE("metrics: requests, latency, match outcomes and file bytes as counted") {
    Metrics m;
    m.observe({Endpoint::ipxe, 200, std::chrono::microseconds(150), 0, MatchOutcome::group});
    m.observe(
        {Endpoint::ipxe, 200, std::chrono::microseconds(3000), 0, MatchOutcome::default_group});
    m.observe({Endpoint::ipxe, 404, std::chrono::microseconds(90), 0, MatchOutcome::none});
    m.observe(
        {Endpoint::assets, 206, std::chrono::microseconds(500), 4096, MatchOutcome::not_selected});
    m.observe({Endpoint::other, 999, std::chrono::microseconds(1), 0, MatchOutcome::not_selected});
    const std::string text = m.exposition();
    CHECK(text.find("# TYPE bootcfg_requests_total counter") != std::string::npos);
    CHECK(text.find("# TYPE bootcfg_request_duration_seconds histogram") != std::string::npos);
    CHECK(has(text, R"(bootcfg_requests_total{code="200",endpoint="ipxe"} 2)"));
    CHECK(has(text, R"(bootcfg_requests_total{code="404",endpoint="ipxe"} 1)"));
    CHECK(has(text, R"(bootcfg_requests_total{code="206",endpoint="assets"} 1)"));
    CHECK(has(text, R"(bootcfg_requests_total{code="other",endpoint="other"} 1)"));
    CHECK(has(text, R"(bootcfg_request_duration_seconds_count{endpoint="ipxe"} 3)"));
    CHECK(has(text, R"(bootcfg_request_duration_seconds_bucket{endpoint="ipxe",le="0.0001"} 1)"));
    CHECK(has(text, R"(bootcfg_request_duration_seconds_bucket{endpoint="ipxe",le="0.00025"} 2)"));
    CHECK(has(text, R"(bootcfg_request_duration_seconds_bucket{endpoint="ipxe",le="0.0025"} 2)"));
    CHECK(has(text, R"(bootcfg_request_duration_seconds_bucket{endpoint="ipxe",le="0.005"} 3)"));
    CHECK(has(text, R"(bootcfg_request_duration_seconds_bucket{endpoint="ipxe",le="+Inf"} 3)"));
    CHECK(has(text, R"(bootcfg_match_total{outcome="group"} 1)"));
    CHECK(has(text, R"(bootcfg_match_total{outcome="default"} 1)"));
    CHECK(has(text, R"(bootcfg_match_total{outcome="none"} 1)"));
    CHECK(has(text, "bootcfg_asset_bytes_sent_total 4096"));
}

TEST_CASE("metrics: what a scrape reads, the inventory's only when it is on") {
    Metrics m;
    ScrapeValues v;
    v.snapshots = 7;
    v.problems = 2;
    v.groups = 3;
    v.connections = 5;
    v.store_reachable = false;
    m.on_scrape([&] { return v; });
    std::string text = m.exposition();
    CHECK(has(text, "bootcfg_store_snapshots_total 7"));
    CHECK(has(text, "bootcfg_store_problems 2"));
    CHECK(has(text, R"(bootcfg_store_objects{kind="groups"} 3)"));
    CHECK(has(text, "bootcfg_store_reachable 0"));
    CHECK(has(text, "bootcfg_connections 5"));
    CHECK(text.find("bootcfg_machines") == std::string::npos);
    v.inventory = true;
    v.machines_by_state = {{"discovered", 4}, {"maint-1", 1}};
    v.dropped = 9;
    text = m.exposition();
    CHECK(has(text, R"(bootcfg_machines{state="discovered"} 4)"));
    CHECK(has(text, R"(bootcfg_machines{state="maint-1"} 1)"));
    CHECK(has(text, "bootcfg_inventory_dropped_total 9"));
}
