#include "cli/store_commands.hpp"

#include "cli/admin_commands.hpp"
#include "cli/flags.hpp"
#include "etcd/etcd_source.hpp"
#include "etcd/transfer.hpp"
#include "values/values.hpp"

namespace bootcfg {

namespace {

// The endpoints flag or variable, parsed as bootcfgd parses -etcd-endpoints.
std::vector<std::string> endpoints_of(const std::string& text) {
    std::string why;
    auto endpoints = split_endpoints(text, why);
    if (!endpoints) throw UsageError{"--etcd-endpoints: " + why};
    return std::move(*endpoints);
}

}  // namespace

bool is_store_command(const std::string& word) {
    return word == "store";
}

std::string store_usage() {
    return "Store commands (a data dir into etcd and back; see bootcfgd -etcd-endpoints):\n"
           "  bootcfg store import DIR --etcd-endpoints URLS   validate DIR (matchbox layout), "
           "then\n"
           "                                           write what differs (idempotent)\n"
           "  bootcfg store export DIR --etcd-endpoints URLS   every object into DIR (new or "
           "empty)\n"
           "Flags: --prefix (default /bootcfg/), --etcd-ca-file, --etcd-cert-file, "
           "--etcd-key-file,\n"
           "  --etcd-username with --etcd-password-file. Environment: BOOTCFG_ETCD_ENDPOINTS,\n"
           "  BOOTCFG_ETCD_PREFIX (flags win).\n"
           "Exit codes: 0 ok, 1 refused (each problem on a line), 2 usage, 3 cannot reach etcd.\n";
}

int run_store_command(const std::vector<std::string>& args,
                      const std::function<const char*(const char*)>& getenv, std::FILE* out,
                      std::FILE* err) {
    try {
        const ParsedFlags f =
            parse_flags({args.begin() + 1, args.end()}, {{"--etcd-endpoints"},
                                                         {"--prefix", true, "--etcd-prefix"},
                                                         {"--etcd-ca-file"},
                                                         {"--etcd-cert-file"},
                                                         {"--etcd-key-file"},
                                                         {"--etcd-username"},
                                                         {"--etcd-password-file"}});
        const auto& w = f.words;
        if (w.size() != 2 || (w[0] != "import" && w[0] != "export"))
            throw UsageError{"expected store import DIR or store export DIR"};
        auto env = [&](const char* name) {
            const char* v = getenv(name);
            return std::string(v ? v : "");
        };
        const std::string endpoints = f.get("--etcd-endpoints", env("BOOTCFG_ETCD_ENDPOINTS"));
        if (endpoints.empty())
            throw UsageError{"--etcd-endpoints is required (or BOOTCFG_ETCD_ENDPOINTS)"};
        std::string prefix = f.get("--prefix", env("BOOTCFG_ETCD_PREFIX"));
        prefix = etcd::normal_prefix(prefix.empty() ? "/bootcfg/" : prefix);
        etcd::ClusterSettings settings{
            endpoints_of(endpoints),         f.get("--etcd-ca-file"),
            f.get("--etcd-cert-file"),       f.get("--etcd-key-file"),
            f.get("--etcd-username"),        f.get("--etcd-password-file"),
            std::chrono::milliseconds(10000)};
        if (settings.cert_file.empty() != settings.key_file.empty())
            throw UsageError{"--etcd-cert-file and --etcd-key-file go together"};
        if (settings.username.empty() != settings.password_file.empty())
            throw UsageError{"--etcd-username and --etcd-password-file go together"};
        auto options = etcd::cluster_options(settings, "--");
        if (!options) throw UsageError{options.failure().reason};
        const etcd::Client client(std::move(*options));
        const std::string& dir = w[1];
        const std::string where = "etcd " + client.endpoints() + " " + prefix;
        auto done = w[0] == "import" ? etcd::import_data_dir(client, dir, prefix)
                                     : etcd::export_data_dir(client, prefix, dir);
        if (!done) {
            const Failure& why = done.failure();
            if (why.field == "dir") {  // the data dir's problems, one per line
                std::string lines = why.reason;
                std::size_t start = 0;
                while (start <= lines.size()) {
                    const auto end = std::min(lines.find('\n', start), lines.size());
                    std::fprintf(err, "bootcfg: store %s: %s\n", w[0].c_str(),
                                 lines.substr(start, end - start).c_str());
                    start = end + 1;
                }
                return kExitRefused;
            }
            std::fprintf(err, "bootcfg: store %s: %s\n", w[0].c_str(), why.reason.c_str());
            return why.field == "unreachable" ? kExitConnect : kExitRefused;
        }
        for (const auto& key : done->skipped)
            std::fprintf(err, "bootcfg: store export: %s: not an object of the layout; left out\n",
                         key.c_str());
        if (w[0] == "import")
            std::fprintf(
                out, "imported %s into %s: %zu written, %zu unchanged (%zu transactions)\n",
                dir.c_str(), where.c_str(), done->written, done->unchanged, done->transactions);
        else
            std::fprintf(out, "exported %zu objects from %s into %s\n", done->written,
                         where.c_str(), dir.c_str());
        return kExitOk;
    } catch (const UsageError& e) {
        std::fprintf(err, "bootcfg: store: %s (bootcfg store --help)\n", e.what());
        return kExitUsage;
    }
}

}  // namespace bootcfg
