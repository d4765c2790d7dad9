// `bootcfg run PROVIDER NAME` and `bootcfg devices list|delete`: bare-metal devices booting
// what `bootcfg push` published, through lib/provider.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace bootcfg {

bool is_provider_command(const std::string& word);

// args start at the command word. Exit 0 ok, 1 refused/failed, 2 usage, 130 interrupted.
int run_provider_command(const std::vector<std::string>& args,
                         const std::function<const char*(const char*)>& getenv, std::FILE* out,
                         std::FILE* err);

std::string provider_usage();

}  // namespace bootcfg
