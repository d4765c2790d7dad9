// Shared helpers for the libFuzzer targets: a fixed store snapshot and an asset root with a
// canary outside it, built once per process.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "assets/assets.hpp"
#include "store/store.hpp"

namespace bootcfg::fuzz {

// A violated invariant is a finding: abort so libFuzzer saves the input.
inline void require(bool ok) {
    if (!ok) std::abort();
}

struct World {
    std::shared_ptr<const Snapshot> snapshot;
    std::unique_ptr<AssetRoot> assets;
    ino_t canary_inode = 0;  // a file outside the asset root; no request may ever open it
    dev_t canary_dev = 0;
};

// The matchbox fixture data dir plus the bootcfg example data, and a temp asset root holding a
// file, a nested file, and symlinks that point out of the root at the canary.
const World& world();

// True when fd is the canary file.
bool is_canary(const World& w, int fd);

// Splits fuzz input at the first occurrence of sep (the rest is empty when absent).
std::pair<std::string_view, std::string_view> split(std::string_view in, char sep);

}  // namespace bootcfg::fuzz
