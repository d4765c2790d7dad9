// bootcfgd: settings -> store -> reloader -> HTTP server with the machine routes
// (http/routes.hpp: machine_routes) -> admin listeners. All logic lives in lib/.
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/ip/address_v4.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <thread>

#include "admin/admin_server.hpp"
#include "admin/api.hpp"
#include "assets/assets.hpp"
#include "config/config.hpp"
#include "dhcp/proxy_dhcp_server.hpp"
#include "etcd/etcd_machines.hpp"
#include "etcd/etcd_source.hpp"
#include "http/http_server.hpp"
#include "http/machine_metrics.hpp"
#include "inventory/inventory.hpp"
#include "inventory/state_db.hpp"
#include "logging/log_text.hpp"
#include "match/match.hpp"
#include "metrics/metrics.hpp"
#include "rpc/rpc_server.hpp"
#include "service/open_files.hpp"
#include "service/systemd_notify.hpp"
#include "store/reloader.hpp"
#include "tftp/tftp_server.hpp"

namespace {

// SIGHUP before the reloader listens (while the data dir loads) must not kill the process, as
// its default action would: it is remembered and answered with a reload once serving.
volatile std::sig_atomic_t hup_during_startup = 0;

void remember_hup(int) {
    hup_during_startup = 1;
}

int usage_error(const std::string& message) {
    std::fprintf(stderr, "bootcfgd: %s\n", message.c_str());
    return 2;
}

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The cluster settings, with the password read from its file (never logged).
bootcfg::Result<bootcfg::etcd::ClusterOptions> etcd_cluster(const bootcfg::DaemonConfig& c) {
    auto options = bootcfg::etcd::cluster_options(
        {c.etcd_endpoints, c.etcd_ca_file, c.etcd_cert_file, c.etcd_key_file, c.etcd_username,
         c.etcd_password_file, c.etcd_timeout},
        "-");
    if (!options) return options.failure();
    bootcfg::etcd::ClusterOptions& o = *options;
    o.on_reachability = [](bool reachable, const std::string& detail) {
        if (reachable)
            spdlog::info("etcd: reachable again ({} answered); following its changes", detail);
        else
            spdlog::warn("etcd: unreachable ({}); serving the last snapshot until it is back",
                         detail);
    };
    return options;
}

// Start-up reads everything once before serving: an empty server would send every machine to
// the wrong config. Waits (bounded) for etcd, logging why while it does.
// The inventory over SQLite in -state-path, or over etcd with the etcd backend. Records that
// do not parse are logged and skipped.
bootcfg::Result<std::unique_ptr<bootcfg::inventory::Inventory>> open_inventory(
    const bootcfg::DaemonConfig& config) {
    using namespace bootcfg;
    const inventory::InventoryOptions options{config.state_path, 100000,
                                              config.checkin_ttl.count() / 1000};
    std::unique_ptr<inventory::MachineStore> store;
    if (config.etcd_endpoints.empty()) {
        auto db = inventory::StateDb::open(config.state_path);
        if (!db) return db.failure();
        store = std::move(*db);
    } else {
        auto cluster = etcd_cluster(config);
        if (!cluster) return cluster.failure();
        cluster->on_reachability = nullptr;  // the store's client logs it; writes log failures
        store = std::make_unique<etcd::EtcdMachines>(std::move(*cluster),
                                                     etcd::normal_prefix(config.etcd_prefix));
    }
    std::vector<std::string> skipped;
    auto opened = inventory::Inventory::open(options, std::move(store), skipped);
    if (!opened) return opened;
    const std::string where = (*opened)->store().describe();
    for (const auto& id : skipped)
        spdlog::warn("inventory: {}: the record of {} does not parse; skipped", where,
                     log_escape(id));
    spdlog::info("inventory: {} machines in {}", (*opened)->size(), where);
    return opened;
}

bool wait_for_etcd(const bootcfg::etcd::EtcdSource& source, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::chrono::milliseconds pause(200);
    bool waiting = false;
    while (true) {
        auto read = source.refresh();
        if (read) {
            if (waiting) spdlog::info("etcd: first read done; starting");
            return true;
        }
        if (std::chrono::steady_clock::now() + pause >= deadline) {
            spdlog::error("etcd: no first read of {} within {} s: {}", source.describe(),
                          limit.count() / 1000.0, read.failure().reason);
            return false;
        }
        if (!waiting)
            spdlog::warn("etcd: waiting up to {} s for a first read of {}: {}",
                         limit.count() / 1000.0, source.describe(), read.failure().reason);
        waiting = true;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(2000));
    }
}

// TFTP for PXE firmware on its own thread: at -tftp-address, or with -proxy-dhcp at that
// interface's address, port 69. Throws std::runtime_error when it cannot serve.
std::unique_ptr<bootcfg::TftpServer> start_tftp(const bootcfg::DaemonConfig& config,
                                                const bootcfg::AssetRoot* assets) {
    using namespace bootcfg;
    std::string address = config.tftp_address;
    if (address.empty() && !config.proxy_dhcp.empty()) {
        const auto ip = interface_ipv4(config.proxy_dhcp);
        if (!ip)
            throw std::runtime_error("-proxy-dhcp: interface " + config.proxy_dhcp +
                                     " has no IPv4 address");
        address = boost::asio::ip::address_v4(*ip).to_string() + ":69";
    }
    if (address.empty()) return nullptr;
    const auto hp = split_host_port(address);
    TftpServerOptions options;
    options.host = hp->host;
    options.port = hp->port;
    options.ipxe_dir = config.ipxe_dir;
    options.assets = assets;
    options.max_transfers = config.tftp_max_transfers;
    auto server = std::make_unique<TftpServer>(options);
    server->listen();
    server->start();
    spdlog::info("TFTP listening on {} (iPXE binaries from {}{})", server->local_address(),
                 config.ipxe_dir, assets ? ", assets as assets/NAME" : "");
    return server;
}

// ProxyDHCP on -proxy-dhcp's interface, on its own thread; iPXE clients are sent to this
// server's /boot.ipxe (at -public-url, or the interface's address and the HTTP port).
std::unique_ptr<bootcfg::ProxyDhcpServer> start_proxy_dhcp(
    const bootcfg::DaemonConfig& config, const std::string& http_address,
    const bootcfg::SnapshotHolder& holder, bootcfg::inventory::Inventory* machines) {
    using namespace bootcfg;
    if (config.proxy_dhcp.empty()) return nullptr;
    ProxyDhcpOptions options;
    options.interface = config.proxy_dhcp;
    options.settings.uefi_file = config.uefi_ipxe;
    options.settings.arm64_file = config.arm64_ipxe;
    auto server = std::make_unique<ProxyDhcpServer>(options);
    server->listen();  // finds the interface's address
    const auto http = split_host_port(http_address);
    const std::string base = !config.public_url.empty()
                                 ? config.public_url
                                 : "http://" +
                                       boost::asio::ip::address_v4(server->address()).to_string() +
                                       ":" + http->port;
    if (config.public_url.empty() && http->host.starts_with("127."))
        spdlog::warn(
            "-proxy-dhcp: the HTTP listener {} is loopback only; machines on {} cannot "
            "reach {}/boot.ipxe (set -address or -public-url)",
            http_address, config.proxy_dhcp, base);
    server->set_http_base(base);
    // A machine's group may name another loader (or none): by MAC and recorded state.
    server->set_lookup([&holder, machines](const std::string& mac) {
        Labels labels;
        labels.set("mac", mac);
        if (machines)
            if (auto state = machines->state_of(mac)) labels.set("state", std::move(*state));
        const auto snapshot = holder.get();
        return dhcp::Overrides{boot_file_override(*snapshot, labels, "pxe_boot_file"),
                               boot_file_override(*snapshot, labels, "http_boot_file")};
    });
    server->start();
    spdlog::info("ProxyDHCP on {} (iPXE clients chain to {}/boot.ipxe)", server->describe(), base);
    return server;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace bootcfg;
    struct sigaction hup {};
    hup.sa_handler = remember_hup;
    sigemptyset(&hup.sa_mask);
    hup.sa_flags = SA_RESTART;
    ::sigaction(SIGHUP, &hup, nullptr);
    const std::vector<std::string> args(argv + 1, argv + argc);
    const auto parsed = parse_daemon_config(args, [](const char* n) { return std::getenv(n); });
    if (!parsed) return usage_error(parsed.failure().reason);
    const DaemonConfig& config = *parsed;
    if (config.help) {
        std::fputs(daemon_usage().c_str(), stdout);
        return 0;
    }
    if (config.version) {
        std::printf("bootcfgd %s\n", BOOTCFG_VERSION);
        return 0;
    }
    const bool from_etcd = !config.etcd_endpoints.empty();
    if (!from_etcd && !is_directory(config.data_path))
        return usage_error("data path " + config.data_path + " is not a readable directory");
    std::unique_ptr<StoreSource> source;
    const etcd::EtcdSource* etcd_source = nullptr;  // the source, when it is etcd
    if (from_etcd) {
        auto cluster = etcd_cluster(config);
        if (!cluster) return usage_error(cluster.failure().reason);
        auto etcd = std::make_unique<etcd::EtcdSource>(std::move(*cluster), config.etcd_prefix);
        etcd_source = etcd.get();
        source = std::move(etcd);
    } else {
        source = std::make_unique<DirectorySource>(config.data_path);
    }
    const std::string store_name = from_etcd ? source->describe() : config.data_path;
    if (config.validate) {
        if (etcd_source)
            if (auto read = etcd_source->refresh(); !read) {
                std::fprintf(stderr, "bootcfgd: %s: %s\n", store_name.c_str(),
                             read.failure().reason.c_str());
                return 1;
            }
        const Validation v =
            validate_store(*source, is_directory(config.assets_path) ? config.assets_path : "");
        for (const auto& line : v.lines) std::printf("%s\n", line.c_str());
        return v.passed ? 0 : 1;
    }
    // A bad admin setting (no TLS off loopback, a short token, a missing certificate) is a
    // usage error, refused before the data dir loads.
    admin::AdminServerOptions admin_options{config.admin_address,
                                            config.cert_file,
                                            config.key_file,
                                            config.ca_file,
                                            config.admin_token_file,
                                            1024 * 1024,
                                            config.admin_max_connections};
    // With -rpc-address the certificate flags may be there for gRPC alone: a lone unix admin
    // socket takes none.
    if (!config.rpc_address.empty() && config.admin_address.starts_with("unix:") &&
        config.admin_address.find(',') == std::string::npos)
        admin_options.cert_file.clear(), admin_options.key_file.clear(),
            admin_options.ca_file.clear();
    if (!config.rpc_address.empty()) {
        try {
            admin::check_certificates(config.cert_file, config.key_file, config.ca_file);
        } catch (const std::runtime_error& e) {
            return usage_error(e.what());
        }
    }
    std::vector<admin::AdminServerOptions> admin_listeners;
    if (!config.admin_address.empty()) {
        try {
            admin_listeners = admin::admin_listeners(admin_options);
            for (const auto& listener : admin_listeners) admin::AdminServer::check(listener);
        } catch (const std::runtime_error& e) {
            return usage_error(e.what());
        }
    }
    std::string assets_path = config.assets_path;
    if (!assets_path.empty() && !is_directory(assets_path)) {
        if (config.assets_path_set)
            return usage_error("assets path " + assets_path + " is not a readable directory");
        assets_path.clear();
    }
    if (config.tftp_assets && assets_path.empty())
        return usage_error("-tftp-assets: serving assets is disabled (no -assets-path directory)");

    use_async_stdout_logger("bootcfgd", config.log_level, config.log_format);

    spdlog::debug(
        "settings: address={} store={} assets-path={} config={} threads={} "
        "idle-timeout={}ms read-timeout={}ms write-timeout={}ms shutdown-timeout={}ms",
        config.address, store_name, config.assets_path, config.config_file, config.threads,
        config.idle_timeout.count(), config.read_timeout.count(), config.write_timeout.count(),
        config.shutdown_timeout.count());
    if (assets_path != config.assets_path)
        spdlog::warn("default assets path {} does not exist; serving assets is disabled",
                     config.assets_path);
    try {
        std::unique_ptr<AssetRoot> assets;
        if (!assets_path.empty())
            assets = std::make_unique<AssetRoot>(assets_path, config.assets_listing);

        if (etcd_source && !wait_for_etcd(*etcd_source, config.etcd_start_timeout)) {
            stop_async_logger();
            return 1;
        }
        // The machine inventory: state apart from config, in the state dir or beside the
        // store in etcd (every replica's); -state-path= turns it off.
        std::unique_ptr<inventory::Inventory> machines;
        if (!config.state_path.empty()) {
            auto opened = open_inventory(config);
            if (!opened) {
                stop_async_logger();
                std::fprintf(stderr, "bootcfgd: inventory: %s\n", opened.failure().reason.c_str());
                return 1;
            }
            machines = std::move(*opened);
        }
        // With ProxyDHCP, UEFI HTTP boot clients load iPXE over HTTP: /ipxe-bin/NAME.
        std::unique_ptr<AssetRoot> ipxe_dir;
        if (!config.proxy_dhcp.empty()) {
            try {
                ipxe_dir = std::make_unique<AssetRoot>(config.ipxe_dir, false);
            } catch (const std::runtime_error&) {
                throw std::runtime_error("iPXE directory " + config.ipxe_dir + ": " +
                                         std::strerror(errno));
            }
        }
        const MachineServices machine_services{machines.get(), config.public_url, ipxe_dir.get()};

        SnapshotHolder holder(load_snapshot(*source, nullptr));
        LiveStore store(*source, holder);

        const auto hp = split_host_port(config.address);  // validated by the parser
        HttpServerOptions options;
        options.host = hp->host;
        options.port = hp->port;
        options.threads = config.threads;
        options.idle_timeout = config.idle_timeout;
        options.read_timeout = config.read_timeout;
        options.write_timeout = config.write_timeout;
        options.shutdown_grace = config.shutdown_timeout;
        const std::size_t fd_budget = connections_for_open_file_limit();
        options.max_connections = config.max_connections ? config.max_connections : fd_budget;
        if (options.max_connections > fd_budget)
            spdlog::warn("-max-connections={} exceeds what the open-file limit allows ({})",
                         options.max_connections, fd_budget);

        std::unique_ptr<metrics::Metrics> metrics;
        if (!config.metrics_address.empty()) {
            metrics = std::make_unique<metrics::Metrics>();
            options.metrics = metrics.get();
        }
        // TFTP is bound before the HTTP port opens, so that once it is open, both are.
        auto tftp_server = start_tftp(config, config.tftp_assets ? assets.get() : nullptr);
        HttpServer server(options,
                          machine_routes(holder, assets.get(), source.get(), &machine_services));
        server.listen();
        auto proxy_dhcp = start_proxy_dhcp(config, server.local_address(), holder, machines.get());
        if (metrics)
            metrics->on_scrape([&holder, &source, &machines, &server, &tftp_server, &proxy_dhcp] {
                auto v =
                    scrape_values(holder, source.get(), machines.get(), server.open_connections());
                if (tftp_server) {
                    const auto t = tftp_server->stats();
                    v.tftp = true;
                    v.tftp_completed = t.completed;
                    v.tftp_failed = t.failed;
                    v.tftp_refused = t.refused;
                    v.tftp_dropped = t.dropped;
                    v.tftp_bytes = t.bytes;
                }
                if (proxy_dhcp) {
                    const auto d = proxy_dhcp->stats();
                    v.proxy_dhcp = true;
                    v.dhcp_answered = d.answered;
                    v.dhcp_ignored = d.ignored;
                    v.dhcp_dropped = d.dropped;
                }
                return v;
            });

        // Type=notify: systemd starts dependents once the port is open, and knows when reloads
        // begin and end.
        const ServiceNotifier notifier = ServiceNotifier::from_environment();
        auto tell = [&](const std::string& state) {
            if (!notifier.notify(state))
                spdlog::warn("NOTIFY_SOCKET: cannot notify the service manager: {}",
                             std::strerror(errno));
        };
        const auto status = [&] { return "serving http://" + server.local_address(); };
        std::atomic<bool> stopping{false};
        // Files change in bursts (editors, tools) worth waiting out; etcd's watch delivers each
        // transaction whole, so its changes are applied at once.
        Reloader reloader(store, std::chrono::milliseconds(from_etcd ? 0 : 10));
        reloader.on_reload([&](bool begin) {
            if (stopping)
                return;  // a reload finishing during shutdown: no READY=1 after STOPPING=1
            tell(begin ? ServiceNotifier::reloading() : ServiceNotifier::ready(status()));
        });
        reloader.start();
        if (hup_during_startup) {
            spdlog::info("SIGHUP during start-up: reloading {}", store_name);
            store.reload();
        }

        // The admin API: its own listener, never the machines' one.
        // One AdminApi (its writes serialize on one mutex) behind every admin listener.
        std::unique_ptr<admin::AdminApi> admin_api;
        std::vector<std::unique_ptr<admin::AdminServer>> admin_servers;
        if (!admin_listeners.empty() || !config.rpc_address.empty()) {
            admin_api = std::make_unique<admin::AdminApi>(store, machines.get());
            admin_api->bmc_options({config.bmc_timeout, 2});
        }
        for (const auto& listener : admin_listeners) {
            auto& admin_server = admin_servers.emplace_back(
                std::make_unique<admin::AdminServer>(listener, *admin_api));
            admin_server->listen();
            admin_server->start();
            spdlog::info("admin API listening on {} ({})", admin_server->local_address(),
                         admin_server->security());
        }
        // /metrics on an admin listener (with its credentials) when -metrics-address names one,
        // else on its own.
        if (metrics) {
            const bool on_admin =
                std::any_of(admin_listeners.begin(), admin_listeners.end(),
                            [&](const auto& l) { return l.address == config.metrics_address; });
            if (on_admin) {
                admin_api->serve_metrics(metrics.get());
                spdlog::info("metrics: /metrics on the admin listener {}", config.metrics_address);
            } else {
                spdlog::info("metrics: serving http://{}/metrics",
                             metrics->serve(config.metrics_address));
            }
        }
        // matchbox's gRPC API: the same AdminApi behind its own listener and threads.
        std::unique_ptr<rpc::RpcServer> rpc_server;
        if (!config.rpc_address.empty()) {
            rpc_server = std::make_unique<rpc::RpcServer>(
                rpc::RpcServerOptions{config.rpc_address, config.cert_file, config.key_file,
                                      config.ca_file},
                *admin_api);
            rpc_server->start();
            spdlog::info("matchbox gRPC API listening on {} (TLS, client certificates)",
                         rpc_server->local_address());
        }
        server.run([&] {
            spdlog::info(
                "bootcfgd {} listening on http://{} (data {}, assets {}, max {} connections)",
                BOOTCFG_VERSION, server.local_address(), store_name,
                assets_path.empty() ? "disabled" : assets_path, options.max_connections);
            tell(ServiceNotifier::ready(status()));
        });
        stopping = true;
        tell(ServiceNotifier::stopping());
        if (rpc_server) rpc_server->stop();
        if (proxy_dhcp) proxy_dhcp->stop();
        if (tftp_server) tftp_server->stop();
        if (machines) {
            machines->flush();
            const auto st = machines->stats();
            spdlog::info(
                "inventory: {} sightings written in {} transactions, {} dropped, peak queue {}",
                st.applied, st.batches, st.dropped, st.peak_queue_depth);
        }
        for (auto& admin_server : admin_servers) admin_server->stop();
        metrics.reset();  // its listener's scrapes read the server, the store and the inventory
        // Leaving this scope joins the reloader's thread, which may be mid-reload and logging.
    } catch (const std::exception& e) {
        stop_async_logger();
        std::fprintf(stderr, "bootcfgd: %s\n", e.what());
        return 1;
    }
    // Only now that no thread can log any more may the loggers go (a reload logging after
    // spdlog::shutdown() dereferenced a null default logger).
    spdlog::info("stopped");
    stop_async_logger();
    return 0;
}
