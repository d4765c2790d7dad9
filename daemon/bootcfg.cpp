// bootcfg: the companion CLI. All logic lives in lib/.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/admin_commands.hpp"
#include "cli/build_commands.hpp"
#include "cli/provider_commands.hpp"

int main(int argc, char** argv) {
    using namespace bootcfg;
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
        std::printf("bootcfg %s: the bootcfgd companion\n\n%s", BOOTCFG_VERSION,
                    (admin_usage() + "\n" + build_usage() + "\n" + provider_usage()).c_str());
        return args.empty() ? kExitUsage : kExitOk;
    }
    if (args[0] == "version" || args[0] == "--version") {
        std::printf("bootcfg %s\n", BOOTCFG_VERSION);
        return kExitOk;
    }
    if (is_admin_command(args[0]))
        return run_admin_command(
            args, [](const char* n) { return std::getenv(n); }, stdout, stderr);
    if (is_build_command(args[0])) return run_build_command(args, stdout, stderr);
    if (is_provider_command(args[0]))
        return run_provider_command(
            args, [](const char* n) { return std::getenv(n); }, stdout, stderr);
    std::fprintf(stderr, "bootcfg: unknown command '%s' (bootcfg help)\n", args[0].c_str());
    return kExitUsage;
}
