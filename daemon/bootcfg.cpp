// bootcfg: the companion CLI. All logic lives in lib/.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/admin_commands.hpp"
#include "cli/flags.hpp"
#include "cli/image_commands.hpp"
#include "cli/provider_commands.hpp"
#include "cli/store_commands.hpp"
#include "cli/terminal.hpp"

int main(int argc, char** argv) {
    using namespace bootcfg;
    std::vector<std::string> args(argv + 1, argv + argc);
    move_global_flags(args);
    if (args.empty() || args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
        std::printf(
            "bootcfg %s: the bootcfgd companion\n\n%s", BOOTCFG_VERSION,
            (admin_usage() + "\n" + build_usage() + "\n" + provider_usage() + "\n" + store_usage())
                .c_str());
        return args.empty() ? kExitUsage : kExitOk;
    }
    // `bootcfg COMMAND ... --help`: the usage of that command's family, exit 0.
    for (const auto& a : args) {
        if (a == "--") break;
        if (a != "-h" && a != "--help") continue;
        const std::string usage = is_admin_command(args[0])      ? admin_usage()
                                  : is_build_command(args[0])    ? build_usage()
                                  : is_provider_command(args[0]) ? provider_usage()
                                  : is_store_command(args[0])    ? store_usage()
                                                                 : "";
        if (usage.empty()) break;
        std::printf("bootcfg %s\n\n%s", args[0].c_str(), usage.c_str());
        return kExitOk;
    }
    if (args[0] == "version" || args[0] == "--version") {
        std::printf("bootcfg %s\n", BOOTCFG_VERSION);
        return kExitOk;
    }
    // Names and text from archives and servers reach a terminal only as text.
    const TerminalOutput terminal;
    std::FILE* out = terminal.out;
    std::FILE* err = terminal.err;
    const auto env = [](const char* n) { return std::getenv(n); };
    if (is_admin_command(args[0])) return run_admin_command(args, env, out, err);
    if (is_build_command(args[0])) return run_build_command(args, out, err);
    if (is_provider_command(args[0])) return run_provider_command(args, env, out, err);
    if (is_store_command(args[0])) return run_store_command(args, env, out, err);
    std::fprintf(err, "bootcfg: unknown command '%s' (bootcfg help)\n",
                 terminal_safe(args[0], false).c_str());
    return kExitUsage;
}
