// `bootcfg group|profile|ignition|cloud|generic|select ...`: the admin API from the command line.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace bootcfg {

// Exit codes: 0 ok, 1 the server said no (its message printed), 2 usage, 3 cannot connect.
enum ExitCode { kExitOk = 0, kExitRefused = 1, kExitUsage = 2, kExitConnect = 3 };

bool is_admin_command(const std::string& word);

// args start at the command word ("group", "select", ...). getenv reads BOOTCFG_* defaults.
int run_admin_command(const std::vector<std::string>& args,
                      const std::function<const char*(const char*)>& getenv, std::FILE* out,
                      std::FILE* err);

std::string admin_usage();

}  // namespace bootcfg
