// `bootcfg store import|export`: a data dir into etcd and back (lib/etcd/transfer.hpp).
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace bootcfg {

bool is_store_command(const std::string& word);

// args start at "store". Exit 0 ok, 1 refused (the dir's problems, one per line, or etcd's
// answer), 2 usage, 3 cannot reach etcd.
int run_store_command(const std::vector<std::string>& args,
                      const std::function<const char*(const char*)>& getenv, std::FILE* out,
                      std::FILE* err);

std::string store_usage();

}  // namespace bootcfg
