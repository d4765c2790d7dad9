// bootcfgd's settings from (lowest to highest precedence) defaults, a YAML file (-config),
// BOOTCFG_* environment variables, and Go-style command-line flags.
#pragma once

#include "values/values.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "result/result.hpp"

namespace bootcfg {

struct DaemonConfig {
    std::string address = "127.0.0.1:8080";
    std::string data_path = "./data";
    bool data_path_set = false;            // given by flag, env or file (not the default)
    std::string assets_path = "./images";  // empty: assets disabled
    bool assets_path_set = false;          // given by flag, env or file (not the default)
    std::string log_level = "info";
    std::string log_format = "text";  // text | json
    bool assets_listing = true;       // directory URLs under /assets/ list their entries
    std::string config_file;
    unsigned threads = 0;
    unsigned max_connections = 0;  // 0: derived from the open-file limit
    // The admin API: off unless admin_address is set ("host:port" or "unix:/path").
    std::string admin_address;
    std::string cert_file, key_file, ca_file, admin_token_file;
    unsigned admin_max_connections = 64;
    // The machine inventory's directory (SQLite, the check-in key); empty: inventory off.
    std::string state_path = "./state";
    std::string public_url;  // base of check-in URLs; empty: from each request's Host
    std::chrono::milliseconds checkin_ttl{24 * 3600 * 1000};
    std::chrono::milliseconds bmc_timeout{5000};
    // matchbox's gRPC API: off unless set (host:port); TLS with client certificates required.
    std::string rpc_address;
    std::string metrics_address;  // "": no /metrics
    // TFTP for PXE firmware: off unless tftp_address is set.
    std::string tftp_address;
    std::string ipxe_dir = "/usr/lib/ipxe";
    bool tftp_assets = false;  // also the assets directory, as "assets/NAME"
    unsigned tftp_max_transfers = 256;
    // ProxyDHCP on this interface (off when empty); TFTP then defaults to its address, port 69.
    std::string proxy_dhcp;
    std::string uefi_ipxe = "snponly.efi";  // the UEFI x64 loader, a name in ipxe_dir
    std::string arm64_ipxe;                 // the UEFI arm64 loader; empty: arm64 not answered

    // The etcd backend instead of data_path: on when etcd_endpoints is set.
    std::vector<std::string> etcd_endpoints;
    std::string etcd_prefix = "/bootcfg/";
    std::string etcd_ca_file, etcd_cert_file, etcd_key_file;
    std::string etcd_username, etcd_password_file;
    std::chrono::milliseconds etcd_timeout{5000};
    std::chrono::milliseconds etcd_start_timeout{60000};

    std::chrono::milliseconds idle_timeout{60000};
    std::chrono::milliseconds read_timeout{10000};
    std::chrono::milliseconds write_timeout{60000};
    std::chrono::milliseconds shutdown_timeout{5000};
    bool version = false;
    bool help = false;
    bool validate = false;  // load the data dir, print problems, exit
};

using GetEnv = std::function<const char*(const char* name)>;

// The settings, or a failure: one line naming the flag, variable or file and the problem.
Result<DaemonConfig> parse_daemon_config(const std::vector<std::string>& args,
                                         const GetEnv& getenv);

std::string daemon_usage();

}  // namespace bootcfg
