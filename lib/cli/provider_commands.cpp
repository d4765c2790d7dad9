#include "cli/provider_commands.hpp"
#include "cli/terminal.hpp"
#include "provider/device_ledger.hpp"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>
#include <ctime>

#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "assets/assets.hpp"
#include "cli/admin_commands.hpp"
#include "cli/flags.hpp"
#include "cli/progress.hpp"
#include "client/admin_client.hpp"
#include "files/atomic_file.hpp"
#include "http/http_server.hpp"
#include "http/routes.hpp"
#include "image/image.hpp"
#include "provider/provider.hpp"
#include "store/store.hpp"
#include "values/values.hpp"

namespace bootcfg {

namespace {

constexpr int kExitInterrupted = 130;

const std::vector<FlagSpec> kProviderFlags = {
    // LinuxKit's run equinixmetal flags
    {"--base-url"},
    {"--zone"},
    {"--metro"},
    {"--machine"},
    {"--api-key"},
    {"--project-id"},
    {"--device"},
    {"--hostname"},
    {"--img-name"},
    {"--always-pxe", false},
    {"--serve"},
    {"--console", false},
    {"--keep", false},
    // ours
    {"--orphans", false},
    {"--userdata"},
    {"--tags"},
    {"--wait"},
    {"--api-url"},
    {"--ca-file"},
    {"--dir"},
    {"--provider"},
    {"--billing-cycle"},
    {"--poll"},
    // the bootcfg provider: which machine, which bootcfgd
    {"--mac"},
    {"--profile"},
    {"--endpoint"},
    {"--cert-file"},
    {"--key-file"},
    {"--token-file"},
    // ipmi, redfish: the machine's BMC (else the one bootcfgd has for it)
    {"--bmc"},
    {"--user"},
    {"--password-file"},
    {"--ipmi-workarounds"},
    {"--bmc-ca-file"},
    {"--insecure", false},
    {"--uefi", false}};

struct Env {
    const std::function<const char*(const char*)>& getenv;
    // The first variable set, in order.
    std::string first(std::initializer_list<const char*> names) const {
        for (const char* n : names)
            if (const char* v = getenv(n); v && *v) return v;
        return "";
    }
};

// Command line first, then the environment, then the default: LinuxKit's defaults silently
// beat its environment variables; here they never do.
std::string setting(const ParsedFlags& f, const char* flag, const Env& env,
                    std::initializer_list<const char*> vars, const std::string& fallback = "") {
    if (f.has(flag)) return f.get(flag);
    const std::string v = env.first(vars);
    return v.empty() ? fallback : v;
}

std::string read_text(const std::string& path, const char* flag) {
    std::string text;
    if (!read_whole(path, text))
        throw UsageError{std::string(flag) + " " + path + ": cannot read it"};
    return text;
}

ProviderOptions provider_options(const ParsedFlags& f, const Env& env, std::FILE* err) {
    ProviderOptions o;
    o.api_url = setting(f, "--api-url", env, {"METAL_API_URL"}, kEquinixMetalApi);
    o.api_key =
        setting(f, "--api-key", env, {"METAL_API_TOKEN", "METAL_AUTH_TOKEN", "PACKET_API_KEY"});
    o.project_id = setting(f, "--project-id", env, {"METAL_PROJECT_ID", "PACKET_PROJECT_ID"});
    o.ca_file = setting(f, "--ca-file", env, {"BOOTCFG_CA_FILE"});
    o.endpoint =
        setting(f, "--endpoint", env, {"BOOTCFG_ENDPOINT"}, "unix:/run/bootcfg/admin.sock");
    try {
        check_endpoint(o.endpoint);
    } catch (const ConnectError& e) {
        throw UsageError{std::string("--endpoint: ") + e.what()};
    }
    o.cert_file = setting(f, "--cert-file", env, {"BOOTCFG_CERT_FILE"});
    o.key_file = setting(f, "--key-file", env, {"BOOTCFG_KEY_FILE"});
    const std::string token_file = setting(f, "--token-file", env, {"BOOTCFG_TOKEN_FILE"});
    if (!token_file.empty()) o.token = token_from_file(token_file);
    o.note = [err](const std::string& text) { std::fprintf(err, "note: %s\n", text.c_str()); };
    if (const auto bmc = BmcFlags::from(f); !bmc.url.empty()) o.bmc = bmc.body();
    o.uefi = f.flag("--uefi");
    return o;
}

// --serve: an embedded bootcfgd serving just the script, kernel and initrd (hardlinked, or
// copied, into a hidden directory) under /assets/. Files named in `generated` are served with
// that content instead of being taken from `dir`.
class EmbeddedServer {
  public:
    EmbeddedServer(const std::string& address, const std::string& dir,
                   const std::vector<std::string>& files,
                   const std::map<std::string, std::string>& generated) {
        root_ = dir + "/.bootcfg-serve-" + std::to_string(::getpid());
        throw_on_failure<ProviderError>(make_directories(root_), "--serve: ");
        for (const auto& name : files) {
            const std::string from = dir + "/" + name, to = root_ + "/" + name;
            if (auto it = generated.find(name); it != generated.end()) {
                throw_on_failure<ProviderError>(write_file_atomic(to, it->second), "--serve: ");
            } else if (::link(from.c_str(), to.c_str()) != 0) {
                std::string bytes;
                if (!read_whole(from, bytes))
                    throw ProviderError("--serve: " + from + ": cannot read it");
                throw_on_failure<ProviderError>(write_file_atomic(to, bytes), "--serve: ");
            }
        }
        const auto hp = split_host_port(address);
        if (!hp) throw UsageError{"--serve " + address + ": expected HOST:PORT"};
        HttpServerOptions options;
        options.host = hp->host;
        options.port = hp->port;
        options.threads = 1;
        options.handle_signals = false;
        assets_ = std::make_unique<AssetRoot>(root_);
        server_ = std::make_unique<HttpServer>(options, asset_routes(*assets_));
        try {
            server_->listen();
        } catch (const std::exception& e) {
            throw ProviderError(std::string("--serve: ") + e.what());
        }
        thread_ = std::thread([this] { server_->run(); });
    }
    ~EmbeddedServer() {
        if (server_) server_->stop();
        if (thread_.joinable()) thread_.join();
        // Remove the hidden directory and its links (never the originals).
        if (!root_.empty()) {
            if (auto d = ::opendir(root_.c_str())) {
                while (auto e = ::readdir(d))
                    if (e->d_name[0] != '.') ::unlink((root_ + "/" + e->d_name).c_str());
                ::closedir(d);
            }
            ::rmdir(root_.c_str());
        }
    }
    std::string address() const { return server_->local_address(); }

  private:
    std::string root_;
    std::unique_ptr<AssetRoot> assets_;
    std::unique_ptr<HttpServer> server_;
    std::thread thread_;
};

void check_url(const std::string& url, const std::string& ca_file) {
    ClientOptions c;
    std::string path;
    try {
        std::tie(c.endpoint, path) = split_url(url);
        c.ca_file = ca_file;
        c.timeout = std::chrono::seconds(15);
        const ClientResponse r = admin_request(c, "HEAD", path.empty() ? "/" : path);
        if (r.status >= 400)
            throw ProviderError(url + ": HTTP " + std::to_string(r.status) +
                                " (the device could not fetch it)");
    } catch (const ConnectError& e) {
        throw ProviderError(url + ": " + e.what());
    }
}

// Runs the console command until it ends or Ctrl-C.
void run_console(const std::vector<std::string>& argv, std::FILE* err) {
    std::fprintf(err, "console: %s %s (Ctrl-C or the end of the session ends it)\n",
                 argv[0].c_str(), argv.size() > 1 ? argv[1].c_str() : "");
    const pid_t pid = ::fork();
    if (pid < 0) throw ProviderError(std::string("cannot start ") + argv[0]);
    if (pid == 0) {
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::signal(SIGINT, SIG_DFL);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "bootcfg: cannot run %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    for (;;) {
        int status = 0;
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) return;
        if (stop_requested().load()) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, &status, 0);
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

std::string progress_text(const Device& d) {
    std::string s = "device " + d.id + ": " + (d.state.empty() ? "?" : d.state);
    if (d.provisioning_percentage >= 0) s += " " + std::to_string(d.provisioning_percentage) + "%";
    return s;
}

int run(const std::string& provider_name, const ParsedFlags& f, const Env& env, std::FILE* out,
        std::FILE* err) {
    if (f.words.size() != 3) throw UsageError{"usage: bootcfg run PROVIDER NAME [flags]"};
    const std::string name = f.get("--img-name", f.words[2]);
    // ipmi and redfish are the bootcfg provider with the machine's BMC.
    const bool bootcfg =
        provider_name == "bootcfg" || provider_name == "ipmi" || provider_name == "redfish";
    const std::string base_url_raw = setting(f, "--base-url", env, {"METAL_BASE_URL"});
    std::string base_url = base_url_raw;
    while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
    if (!bootcfg && base_url.empty())
        throw UsageError{"run " + provider_name + " needs --base-url (or METAL_BASE_URL)"};
    const auto wait = parse_wait_duration(f.get("--wait", "30m"));
    if (!wait)
        throw UsageError{"--wait " + f.get("--wait") +
                         ": expected a duration like 90s, 20m or 1h30m"};
    const auto poll = parse_wait_duration(f.get("--poll", "5s"));
    if (!poll || poll->count() == 0)
        throw UsageError{"--poll " + f.get("--poll") + ": expected a duration like 5s"};
    const bool keep = f.flag("--keep"), console = f.flag("--console", !bootcfg);

    DeviceSpec spec;
    spec.hostname = setting(f, "--hostname", env, {"METAL_HOSTNAME"}, bootcfg ? "" : name);
    spec.plan = setting(f, "--machine", env, {"METAL_MACHINE"}, "c3.small.x86");
    spec.metro = f.has("--metro") ? f.get("--metro")
                                  : setting(f, "--zone", env, {"METAL_METRO", "METAL_FACILITY"});
    spec.always_pxe = f.flag("--always-pxe", true);
    spec.billing_cycle = f.get("--billing-cycle", "hourly");
    spec.mac = f.get("--mac");
    spec.profile = f.get("--profile", name);
    if (f.has("--userdata")) spec.userdata = read_text(f.get("--userdata"), "--userdata");
    for (std::string t, all = f.get("--tags"); !all.empty();) {
        const auto comma = all.find(',');
        t = all.substr(0, comma);
        all = comma == std::string::npos ? "" : all.substr(comma + 1);
        if (!t.empty()) spec.tags.push_back(t);
    }
    if (!bootcfg && !f.has("--device") && spec.metro.empty())
        throw UsageError{"run " + provider_name + " needs --metro (or --zone, METAL_METRO)"};
    if (bootcfg && spec.mac.empty() && !f.has("--device"))
        throw UsageError{"run " + provider_name + " needs the machine's --mac"};
    if (provider_name != "ipmi" && provider_name != "redfish" &&
        (f.has("--bmc") || f.has("--password-file") || f.flag("--uefi")))
        throw UsageError{"--bmc, --password-file and --uefi go with run ipmi|redfish"};

    install_stop_handlers();
    auto provider = make_provider(provider_name, provider_options(f, env, err));
    const std::vector<std::string> files = {name + "-equinixmetal.ipxe", name + "-kernel",
                                            name + "-initrd.img"};
    std::unique_ptr<EmbeddedServer> server;
    if (f.has("--serve")) {
        const std::string dir = f.get("--dir", ".");
        std::map<std::string, std::string> generated;
        if (::access((dir + "/" + files[0]).c_str(), R_OK) != 0) {
            // LinuxKit's script for these files, as `push equinixmetal` writes it, in the form
            // the plan's CPU needs; served only, the directory is left as it is.
            generated[files[0]] = equinix_ipxe_script(
                name, base_url, read_linuxkit_cmdline(dir + "/" + name + "-cmdline"),
                plan_arch(spec.plan));
        }
        server = std::make_unique<EmbeddedServer>(f.get("--serve"), dir, files, generated);
        std::fprintf(err, "serving %s, %s, %s on http://%s/assets/\n", files[0].c_str(),
                     files[1].c_str(), files[2].c_str(), server->address().c_str());
    }
    if (!base_url.empty()) {
        spec.ipxe_script_url = base_url + "/" + files[0];
        for (const auto& file : files) check_url(base_url + "/" + file, f.get("--ca-file"));
    }

    // A created device is in the ledger from before the create until it is deleted (or kept
    // on purpose), so a run that dies leaves it findable by `devices delete --orphans`.
    const bool creating = !f.has("--device");
    DeviceLedger ledger = DeviceLedger::from_environment(env.getenv);
    LedgerEntry entry{provider_name == "packet" ? "equinixmetal" : provider_name,
                      provider->where(),
                      new_run_tag(),
                      "",
                      spec.hostname,
                      static_cast<std::int64_t>(std::time(nullptr))};
    if (creating) {
        spec.run_tag = entry.tag;
        ledger.put(entry);
    }
    Device device;
    try {
        device = creating ? provider->create(spec) : provider->reuse(f.get("--device"), spec);
    } catch (const UncertainOutcome&) {
        throw;  // a device may exist: its entry stays for --orphans (found by its tag)
    } catch (const Interrupted&) {
        throw;
    } catch (...) {
        if (creating) ledger.remove(entry.tag);  // refused: nothing was made
        throw;
    }
    if (creating) {
        entry.id = device.id;
        ledger.put(entry);
    }
    std::fprintf(out, "%s device %s (%s)\n", creating ? "created" : "reusing", device.id.c_str(),
                 device.state.c_str());
    std::fflush(out);
    auto cleanup = [&](const char* why) {
        if (keep) {
            if (creating) ledger.remove(entry.tag);
            std::fprintf(out, "kept %s\n", provider->how_to_reach(device).c_str());
            return;
        }
        stop_requested().store(false);  // a second Ctrl-C may still interrupt the delete
        try {
            provider->remove(device.id);
            if (creating) ledger.remove(entry.tag);
            std::fprintf(out, "deleted device %s (%s)\n", device.id.c_str(), why);
        } catch (const std::exception& e) {
            std::fprintf(err,
                         "bootcfg run: could not delete device %s: %s (recorded in %s: bootcfg "
                         "devices delete --orphans --provider %s)\n",
                         device.id.c_str(), e.what(), ledger.path().c_str(),
                         entry.provider.c_str());
        }
    };
    try {
        ProgressLine progress(err);
        device = wait_for_state(
            *provider, device.id, "active", *wait,
            [&](const Device& d) {
                progress.show(progress_text(d));
                if (terminal_fd(err) < 0) std::fprintf(err, "%s\n", progress_text(d).c_str());
            },
            *poll);
        progress.clear();
        std::fprintf(out, "device %s is active: %s\n", device.id.c_str(),
                     provider->how_to_reach(device).c_str());
        std::fflush(out);
        const auto console_argv = provider->console_command(device);
        if (console && !console_argv.empty()) {
            run_console(console_argv, err);
        } else if (!keep || server) {
            std::fprintf(err, "Ctrl-C ends the run%s\n", keep ? "" : " and deletes the device");
            while (!stop_requested().load())
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        cleanup("run ended");
        return kExitOk;
    } catch (const Interrupted&) {
        std::fprintf(err, "interrupted\n");
        cleanup("interrupted");
        return kExitInterrupted;
    } catch (const std::exception& e) {  // any failure while the device exists deletes it
        std::fprintf(err, "bootcfg run: %s\n", e.what());
        cleanup("the run failed");
        return kExitRefused;
    }
}

// Devices that runs created and never deleted (the run was killed or lost its network).
int delete_orphans(Provider& provider, const std::string& provider_name, const Env& env,
                   std::FILE* out, std::FILE* err) {
    DeviceLedger ledger = DeviceLedger::from_environment(env.getenv);
    const std::string name = provider_name == "packet" ? "equinixmetal" : provider_name;
    int left = 0, deleted = 0;
    for (const auto& e : ledger.entries()) {
        if (e.provider != name || e.where != provider.where()) {
            ++left;
            continue;
        }
        std::string id = e.id;
        if (id.empty())  // the run died before the create answered
            if (auto d = provider.find_tagged(e.tag)) id = d->id;
        if (!id.empty()) {
            try {
                provider.remove(id);
            } catch (const ProviderError& x) {
                // Already gone (deleted by hand) is what we wanted.
                if (std::string(x.what()).find("HTTP 404") == std::string::npos) throw;
            }
            std::fprintf(out, "deleted device %s (left by a run on %s)\n", id.c_str(),
                         e.hostname.empty() ? e.tag.c_str() : e.hostname.c_str());
            ++deleted;
        }
        ledger.remove(e.tag);
    }
    if (deleted == 0) std::fprintf(err, "no devices left by runs (%s)\n", ledger.path().c_str());
    if (left > 0)
        std::fprintf(err, "note: %d recorded for other providers or APIs stay in %s\n", left,
                     ledger.path().c_str());
    return kExitOk;
}

int devices(const ParsedFlags& f, const Env& env, std::FILE* out, std::FILE* err) {
    if (f.words.size() < 2)
        throw UsageError{"usage: bootcfg devices list|delete ID --provider NAME"};
    const std::string provider_name = f.get("--provider");
    if (provider_name.empty()) throw UsageError{"devices needs --provider (equinixmetal, bootcfg)"};
    if (!is_provider(provider_name))
        throw UsageError{"--provider " + provider_name +
                         ": not a provider (equinixmetal, packet, bootcfg)"};
    auto provider = make_provider(provider_name, provider_options(f, env, err));
    if (f.words[1] == "list") {
        bool incomplete = false;
        const auto list = provider->list(incomplete);
        std::vector<std::vector<std::string>> rows = {
            {"ID", "HOSTNAME", "STATE", "PLAN", "LOCATION", "ADDRESS"}};
        for (const auto& d : list)
            rows.push_back({d.id, d.hostname, d.state, d.plan,
                            d.metro.empty() ? d.facility : d.metro,
                            d.addresses.empty() ? "" : d.addresses[0]});
        print_table(out, rows);
        if (incomplete) {
            std::fprintf(err,
                         "bootcfg devices list: stopped at the limit of %zu pages (%zu devices "
                         "listed); more exist in the project\n",
                         Provider::kMaxListedDevices / 100, list.size());
            return kExitRefused;
        }
        return kExitOk;
    }
    if (f.words[1] == "delete" && f.flag("--orphans")) {
        if (f.words.size() > 2) throw UsageError{"devices delete --orphans takes no IDs"};
        return delete_orphans(*provider, provider_name, env, out, err);
    }
    if (f.words[1] == "delete") {
        if (f.words.size() < 3)
            throw UsageError{"usage: bootcfg devices delete ID... --provider NAME"};
        for (std::size_t i = 2; i < f.words.size(); ++i) {
            provider->remove(f.words[i]);
            std::fprintf(out, "deleted device %s\n", f.words[i].c_str());
        }
        return kExitOk;
    }
    throw UsageError{"devices " + f.words[1] + ": expected list or delete"};
}

}  // namespace

bool is_provider_command(const std::string& word) {
    return word == "run" || word == "devices";
}

int run_provider_command(const std::vector<std::string>& args,
                         const std::function<const char*(const char*)>& getenv, std::FILE* out,
                         std::FILE* err) {
    const Env env{getenv};
    std::string what = args[0];
    try {
        const ParsedFlags f = parse_flags(args, kProviderFlags);
        if (args[0] == "devices") return devices(f, env, out, err);
        if (f.words.size() < 2) throw UsageError{"usage: bootcfg run PROVIDER NAME [flags]"};
        what += " " + f.words[1];
        if (!is_provider(f.words[1]))
            throw UsageError{"unknown provider '" + f.words[1] +
                             "' (equinixmetal, packet, bootcfg, ipmi, redfish)"};
        return run(f.words[1], f, env, out, err);
    } catch (const UsageError& e) {
        std::fprintf(err, "bootcfg %s: %s\n", what.c_str(), e.what());
        return kExitUsage;
    } catch (const Interrupted&) {
        std::fprintf(err, "bootcfg %s: interrupted\n", what.c_str());
        return kExitInterrupted;
    } catch (const std::exception& e) {
        std::fprintf(err, "bootcfg %s: %s\n", what.c_str(), e.what());
        return kExitRefused;
    }
}

std::string provider_usage() {
    return "Devices:\n"
           "  run equinixmetal|packet NAME --base-url URL --metro M [--machine PLAN] [--api-key "
           "K]\n"
           "      [--project-id P] [--device ID] [--hostname H] [--img-name N] "
           "[--always-pxe=false]\n"
           "      [--serve ADDR] [--console=false] [--keep] [--userdata FILE] [--tags a,b]\n"
           "      [--wait 30m] [--poll 5s] [--api-url URL] [--ca-file CA]\n"
           "                                 a device booting NAME's iPXE script\n"
           "  run bootcfg NAME --mac MAC [--endpoint E] [--profile P] [--keep]\n"
           "                                 the machine with MAC boots profile NAME\n"
           "  run ipmi|redfish NAME --mac MAC [--bmc URL --user U --password-file F]\n"
           "      [--ipmi-workarounds W] [--bmc-ca-file CA | --insecure] [--uefi] [--keep]\n"
           "                                 the same, hands-off: next boot PXE and a power\n"
           "                                 cycle through its BMC, up once it checked in;\n"
           "                                 at the end (Ctrl-C) powered off, unregistered\n"
           "  devices list|delete ID... --provider equinixmetal|bootcfg\n"
           "  devices delete --orphans --provider P   what killed runs left behind (the ledger:\n"
           "       $BOOTCFG_STATE_DIR, $XDG_STATE_HOME/bootcfg or ~/.local/state/bootcfg)\n"
           "  env: METAL_API_TOKEN (METAL_AUTH_TOKEN, PACKET_API_KEY), METAL_PROJECT_ID\n"
           "       (PACKET_PROJECT_ID), METAL_BASE_URL, METAL_METRO, METAL_API_URL; flags win\n";
}

}  // namespace bootcfg
