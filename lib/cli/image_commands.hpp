// `bootcfg image save2image|archive|compare` and `bootcfg push`: the builder from the command line.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace bootcfg {

bool is_build_command(const std::string& word);

// args start at the command word ("image" or "push"). Exit 0 ok, 1 the build failed (one line
// naming the file at fault), 2 usage.
int run_build_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

std::string build_usage();

}  // namespace bootcfg
