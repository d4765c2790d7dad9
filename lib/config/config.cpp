#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

namespace bootcfg {

namespace {

// boolean: an action flag (-validate, -version), never from the YAML file; setting: a
// true/false setting, from anywhere.
enum class Kind { string, boolean, setting, duration, count, log_level, log_format, address };

struct Flag {
    const char* name;
    const char* alias;  // or nullptr
    Kind kind;
    const char* help;
};

const Flag kFlags[] = {
    {"address", nullptr, Kind::address, "HTTP listen address (host:port)"},
    {"data-path", nullptr, Kind::string, "path to the data directory"},
    {"assets-path", "images-path", Kind::string,
     "path to static assets served under /assets/ and /images/ (empty disables)"},
    {"assets-listing", nullptr, Kind::setting,
     "a URL under /assets/ ending in '/' lists that directory (false: 404)"},
    {"log-level", nullptr, Kind::log_level, "debug, info, warn or error"},
    {"log-format", nullptr, Kind::log_format,
     "text (one line per event) or json (one JSON object per line, for log pipelines)"},
    {"config", nullptr, Kind::string, "YAML file with the same keys as these flags"},
    {"threads", nullptr, Kind::count, "request threads (0: one per core, at most 1024)"},
    {"max-connections", nullptr, Kind::count,
     "connections open at once; beyond it a client gets 503 and a close (0: from the open-file "
     "limit)"},
    {"idle-timeout", nullptr, Kind::duration, "close connections idle this long"},
    {"read-timeout", nullptr, Kind::duration, "limit on receiving one request"},
    {"write-timeout", nullptr, Kind::duration, "limit on a stalled response"},
    {"shutdown-timeout", nullptr, Kind::duration, "grace for in-flight requests on SIGTERM"},
    {"etcd-endpoints", nullptr, Kind::string,
     "serve from etcd instead of -data-path: http(s)://host:port, comma-separated"},
    {"etcd-prefix", nullptr, Kind::string, "key prefix of the store's objects in etcd"},
    {"etcd-ca-file", nullptr, Kind::string, "etcd over https: the CA that signed its members"},
    {"etcd-cert-file", nullptr, Kind::string, "etcd: client certificate (PEM)"},
    {"etcd-key-file", nullptr, Kind::string, "etcd: client certificate's private key (PEM)"},
    {"etcd-username", nullptr, Kind::string, "etcd user (with auth enabled on the cluster)"},
    {"etcd-password-file", nullptr, Kind::string, "file holding the etcd user's password"},
    {"etcd-timeout", nullptr, Kind::duration, "limit on each etcd request"},
    {"etcd-start-timeout", nullptr, Kind::duration,
     "at start-up, how long to wait for etcd's first answer before exiting"},
    {"admin-address", nullptr, Kind::string,
     "admin API listeners, host:port or unix:/path, comma-separated (off when empty)"},
    {"cert-file", nullptr, Kind::string,
     "admin and gRPC API TLS certificate (PEM, with its chain)"},
    {"key-file", nullptr, Kind::string, "admin and gRPC API TLS private key (PEM)"},
    {"ca-file", nullptr, Kind::string,
     "admin and gRPC API: require client certificates from this CA"},
    {"admin-token-file", nullptr, Kind::string,
     "admin API bearer tokens, one 'NAME TOKEN' a line (re-read on SIGHUP)"},
    {"admin-max-connections", nullptr, Kind::count,
     "admin API connections open at once; beyond it new ones are closed (default 64)"},
    {"state-path", nullptr, Kind::string,
     "machine inventory (SQLite) and check-in key directory; empty: inventory off"},
    {"public-url", nullptr, Kind::string,
     "this server's URL as machines reach it (check-in URLs); default: from each request's Host"},
    {"checkin-ttl", nullptr, Kind::duration, "how long a rendered check-in URL stays valid"},
    {"bmc-timeout", nullptr, Kind::duration,
     "how long a BMC has to answer one try of a power or next-boot call (two tries; default 5s)"},
    {"rpc-address", nullptr, Kind::string,
     "matchbox's gRPC API (Terraform, bootcmd), host:port; needs -cert-file -key-file -ca-file "
     "(off when empty)"},
    {"metrics-address", nullptr, Kind::string,
     "Prometheus /metrics, host:port (its own plain HTTP listener), or one of -admin-address's "
     "TCP addresses to serve it there with the admin API's credentials (off when empty)"},
    {"proxy-dhcp", nullptr, Kind::string,
     "answer PXE and HTTP-boot clients' DHCP on this interface as a ProxyDHCP server (ports 67 "
     "and 4011; no addresses given out); also starts TFTP on its address unless -tftp-address"},
    {"uefi-ipxe", nullptr, Kind::string,
     "ProxyDHCP: the iPXE binary UEFI x64 PXE clients load (snponly.efi or ipxe.efi)"},
    {"arm64-ipxe", nullptr, Kind::string,
     "ProxyDHCP: an arm64 UEFI iPXE binary in -ipxe-dir (arm64 clients are ignored without it)"},
    {"tftp-address", nullptr, Kind::string,
     "read-only TFTP server for PXE firmware, IP:port (e.g. 0.0.0.0:69; off when empty)"},
    {"ipxe-dir", nullptr, Kind::string,
     "directory of the iPXE binaries TFTP serves (undionly.kpxe, ipxe.efi, snponly.efi)"},
    {"tftp-assets", nullptr, Kind::setting,
     "TFTP also serves the assets directory, its files named assets/NAME"},
    {"tftp-max-transfers", nullptr, Kind::count,
     "TFTP transfers at once; requests beyond it get no answer (default 256)"},
    {"validate", nullptr, Kind::boolean,
     "load the data directory, print each problem as path:line: reason, exit 1 if any"},
    {"version", nullptr, Kind::boolean, "print the version and exit"},
    {"help", nullptr, Kind::boolean, "print this help and exit"},
};

const Flag* find_flag(const std::string& name) {
    for (const auto& f : kFlags)
        if (name == f.name || (f.alias && name == f.alias)) return &f;
    return nullptr;
}

// Applies one setting; returns an error text (without the source) or "".
std::string apply(DaemonConfig& c, const Flag& f, const std::string& value) {
    const std::string name = f.name;
    switch (f.kind) {
        case Kind::address:
            if (!split_host_port(value)) return "expected host:port, got \"" + value + "\"";
            c.address = value;
            return "";
        case Kind::log_level:
            if (value != "debug" && value != "info" && value != "warn" && value != "error")
                return "expected debug, info, warn or error, got \"" + value + "\"";
            c.log_level = value;
            return "";
        case Kind::log_format:
            if (value != "text" && value != "json")
                return "expected text or json, got \"" + value + "\"";
            c.log_format = value;
            return "";
        case Kind::duration: {
            auto d = parse_duration(value);
            if (!d || d->count() <= 0)
                return "expected a positive duration like 10s or 500ms, got \"" + value + "\"";
            if (name == "idle-timeout") c.idle_timeout = *d;
            if (name == "read-timeout") c.read_timeout = *d;
            if (name == "write-timeout") c.write_timeout = *d;
            if (name == "shutdown-timeout") c.shutdown_timeout = *d;
            if (name == "checkin-ttl") c.checkin_ttl = *d;
            if (name == "bmc-timeout") c.bmc_timeout = *d;
            if (name == "etcd-timeout") c.etcd_timeout = *d;
            if (name == "etcd-start-timeout") c.etcd_start_timeout = *d;
            return "";
        }
        case Kind::count: {
            if (value.empty() || value.size() > 7 ||
                !std::all_of(value.begin(), value.end(), ::isdigit))
                return "expected a whole number from 0 to 9999999, got \"" + value + "\"";
            const auto n = static_cast<unsigned>(std::stoul(value));
            if (name == "threads") {
                if (n > 1024) return "expected at most 1024 threads, got " + value;
                c.threads = n;
            }
            if (name == "max-connections") c.max_connections = n;
            if (name == "admin-max-connections") {
                if (n == 0) return "expected at least 1, got 0";
                c.admin_max_connections = n;
            }
            if (name == "tftp-max-transfers") {
                if (n == 0) return "expected at least 1, got 0";
                c.tftp_max_transfers = n;
            }
            return "";
        }
        case Kind::boolean:
        case Kind::setting: {
            auto b = parse_bool(value);
            if (!b) return "expected true or false, got \"" + value + "\"";
            if (name == "assets-listing") c.assets_listing = *b;
            if (name == "tftp-assets") c.tftp_assets = *b;
            if (name == "version") c.version = *b;
            if (name == "validate") c.validate = *b;
            if (name == "help") c.help = *b;
            return "";
        }
        case Kind::string:
            if (name == "data-path") {
                if (value.empty()) return "must not be empty";
                c.data_path = value;
                c.data_path_set = true;
            }
            if (name == "etcd-endpoints") {
                std::string why;
                auto endpoints = split_endpoints(value, why);
                if (!endpoints) return why;
                c.etcd_endpoints = std::move(*endpoints);
            }
            if (name == "etcd-prefix") {
                if (value.empty() || value.size() > 200) return "expected 1 to 200 characters";
                c.etcd_prefix = value;
            }
            if (name == "etcd-ca-file") c.etcd_ca_file = value;
            if (name == "etcd-cert-file") c.etcd_cert_file = value;
            if (name == "etcd-key-file") c.etcd_key_file = value;
            if (name == "etcd-username") c.etcd_username = value;
            if (name == "etcd-password-file") c.etcd_password_file = value;
            if (name == "assets-path") {
                c.assets_path = value;
                c.assets_path_set = true;
            }
            if (name == "config") c.config_file = value;
            if (name == "admin-address") {
                if (!value.empty() && !value.starts_with("unix:") && !split_host_port(value))
                    return "expected host:port or unix:/path, got \"" + value + "\"";
                c.admin_address = value;
            }
            if (name == "state-path") c.state_path = value;
            if (name == "public-url") {
                if (!value.empty() && !value.starts_with("http://") &&
                    !value.starts_with("https://"))
                    return "expected http://HOST[:PORT] or https://..., got \"" + value + "\"";
                if (value.find_first_of(" \t\r\n\"'<>`$\\{}|^?#") != std::string::npos)
                    return "expected a plain URL without spaces, quotes or a query, got \"" +
                           value + "\"";
                c.public_url = value;
                while (c.public_url.ends_with('/')) c.public_url.pop_back();
            }
            if (name == "rpc-address") {
                if (!value.empty() && !split_host_port(value))
                    return "expected host:port, got \"" + value + "\"";
                c.rpc_address = value;
            }
            if (name == "metrics-address") {
                if (!value.empty() && !split_host_port(value))
                    return "expected host:port, got \"" + value + "\"";
                c.metrics_address = value;
            }
            if (name == "tftp-address") {
                if (!value.empty() && !split_host_port(value))
                    return "expected IP:port, got \"" + value + "\"";
                c.tftp_address = value;
            }
            if (name == "proxy-dhcp") {
                if (value.size() > 15 || value.find_first_of("/ \t\n") != std::string::npos)
                    return "expected an interface name, got \"" + value + "\"";
                c.proxy_dhcp = value;
            }
            if (name == "uefi-ipxe" || name == "arm64-ipxe") {
                if (value.find('/') != std::string::npos || value.size() > 100 ||
                    (name == "uefi-ipxe" && value.empty()))
                    return "expected a file name in -ipxe-dir, got \"" + value + "\"";
                (name == "uefi-ipxe" ? c.uefi_ipxe : c.arm64_ipxe) = value;
            }
            if (name == "ipxe-dir") {
                if (value.empty()) return "must not be empty";
                c.ipxe_dir = value;
            }
            if (name == "cert-file") c.cert_file = value;
            if (name == "key-file") c.key_file = value;
            if (name == "ca-file") c.ca_file = value;
            if (name == "admin-token-file") c.admin_token_file = value;
            return "";
    }
    return "";
}

std::string env_name(const char* flag) {
    std::string out = "BOOTCFG_";
    for (const char* p = flag; *p; ++p)
        out += *p == '-' ? '_' : static_cast<char>(std::toupper(*p));
    return out;
}

struct Setting {
    const Flag* flag;
    std::string value;
    std::string spelled;  // as the user typed the flag name
};

}  // namespace

Result<DaemonConfig> parse_daemon_config(const std::vector<std::string>& args,
                                         const GetEnv& getenv) {
    // 1. Parse the command line fully first: it names the config file and wins over all else.
    std::vector<Setting> cli;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg.size() < 2 || arg[0] != '-') {
            return fail("unexpected argument \"" + arg + "\" (flags look like -name=value)");
        }
        std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
        if (body.empty()) {
            return fail("unexpected argument \"" + arg + "\"");
        }
        std::optional<std::string> value;
        if (const auto eq = body.find('='); eq != std::string::npos) {
            value = body.substr(eq + 1);
            body.resize(eq);
        }
        if (body == "h" && !value) body = "help";  // -h, --h: as Go's flag package does
        const Flag* flag = find_flag(body);
        if (!flag) {
            return fail("flag provided but not defined: -" + body + " (see -help)");
        }
        if (!value) {
            if (flag->kind == Kind::boolean || flag->kind == Kind::setting) {
                value = "true";
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                return fail("flag needs an argument: -" + body);
            }
        }
        cli.push_back({flag, *value, body});
    }

    DaemonConfig c;
    std::string config_file;
    if (const char* env = getenv("BOOTCFG_CONFIG")) config_file = env;
    for (const auto& s : cli)
        if (std::string(s.flag->name) == "config") config_file = s.value;

    // 2. The YAML file.
    if (!config_file.empty()) {
        YAML::Node doc;
        try {
            doc = YAML::LoadFile(config_file);
        } catch (const YAML::BadFile&) {
            return fail("config file " + config_file + ": cannot be read");
        } catch (const YAML::Exception& e) {
            return fail("config file " + config_file + ": line " + std::to_string(e.mark.line + 1) +
                        ": " + e.msg);
        }
        if (doc && !doc.IsNull()) {
            if (!doc.IsMap()) {
                return fail("config file " + config_file + ": expected a mapping of settings");
            }
            for (const auto& item : doc) {
                std::string key = item.first.as<std::string>("");
                std::replace(key.begin(), key.end(), '_', '-');
                const Flag* flag = find_flag(key);
                if (!flag || flag->kind == Kind::boolean || key == "config") {
                    return fail("config file " + config_file + ": line " +
                                std::to_string(item.first.Mark().line + 1) +
                                ": unknown setting \"" + key + "\"");
                }
                if (!item.second.IsScalar()) {
                    return fail("config file " + config_file + ": setting \"" + key +
                                "\" must be a single value");
                }
                std::string value = item.second.Scalar();
                // A relative path in the file means next to the file, wherever bootcfgd starts.
                const std::string dir = config_file.substr(0, config_file.rfind('/') + 1);
                auto beside_file = [&](const std::string& path) {
                    return path.empty() || path[0] == '/' ? path : dir + path;
                };
                if (key == "data-path" || key == "assets-path" || key == "images-path" ||
                    key == "state-path" || key == "cert-file" || key == "key-file" ||
                    key == "ca-file" || key == "admin-token-file" || key == "etcd-ca-file" ||
                    key == "etcd-cert-file" || key == "etcd-key-file" ||
                    key == "etcd-password-file" || key == "ipxe-dir")
                    value = beside_file(value);
                if (key == "admin-address" && value.starts_with("unix:"))
                    value = "unix:" + beside_file(value.substr(5));
                if (auto err = apply(c, *flag, value); !err.empty()) {
                    return fail("config file " + config_file + ": " + key + ": " + err, key);
                }
            }
        }
    }
    c.config_file = config_file;

    // 3. Environment.
    for (const auto& f : kFlags) {
        if (f.kind == Kind::boolean || std::string(f.name) == "config") continue;
        for (const char* name : {f.name, f.alias}) {
            if (!name) continue;
            const std::string var = env_name(name);
            if (const char* v = getenv(var.c_str())) {
                if (auto err = apply(c, f, v); !err.empty()) {
                    return fail("invalid value for " + var + ": " + err, var);
                }
            }
        }
    }

    // 4. Command line.
    for (const auto& s : cli) {
        if (auto err = apply(c, *s.flag, s.value); !err.empty()) {
            return fail("invalid value for flag -" + s.spelled + ": " + err, "-" + s.spelled);
        }
    }
    // One store: a data dir and etcd at once would leave one of them silently unused.
    if (!c.etcd_endpoints.empty() && c.data_path_set)
        return fail("-data-path and -etcd-endpoints are both set: serve from one store",
                    "-etcd-endpoints");
    const std::pair<const char*, const std::string*> etcd_settings[] = {
        {"-etcd-ca-file", &c.etcd_ca_file},
        {"-etcd-cert-file", &c.etcd_cert_file},
        {"-etcd-key-file", &c.etcd_key_file},
        {"-etcd-username", &c.etcd_username},
        {"-etcd-password-file", &c.etcd_password_file}};
    for (const auto& [flag, value] : etcd_settings)
        if (c.etcd_endpoints.empty() && !value->empty())
            return fail(std::string(flag) + " needs -etcd-endpoints", flag);
    if (c.etcd_cert_file.empty() != c.etcd_key_file.empty())
        return fail("-etcd-cert-file and -etcd-key-file go together", "-etcd-cert-file");
    if (c.etcd_username.empty() != c.etcd_password_file.empty())
        return fail("-etcd-username and -etcd-password-file go together", "-etcd-username");
    if (c.tftp_assets && c.tftp_address.empty() && c.proxy_dhcp.empty())
        return fail("-tftp-assets needs -tftp-address or -proxy-dhcp", "-tftp-assets");
    if (!c.rpc_address.empty() && (c.cert_file.empty() || c.key_file.empty() || c.ca_file.empty()))
        return fail(
            "-rpc-address needs -cert-file, -key-file and -ca-file: the gRPC API requires client "
            "certificates, as matchbox's does",
            "-rpc-address");
    return c;
}

std::string daemon_usage() {
    std::string out =
        "Usage: bootcfgd [flags]\n\n"
        "Serves network boot configs (iPXE, Pixiecore, cloud-config) and assets to machines.\n"
        "Flags take -name=value, -name value or --name=value; each also reads BOOTCFG_<NAME>.\n\n";
    for (const auto& f : kFlags) {
        std::string name = std::string("  -") + f.name;
        if (f.alias) name += ", -" + std::string(f.alias);
        name.resize(std::max<std::size_t>(name.size() + 2, 34), ' ');
        out += name + f.help + "\n";
    }
    return out;
}

}  // namespace bootcfg
