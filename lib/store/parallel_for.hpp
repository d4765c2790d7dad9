// Parsing a fleet's objects on all cores: most of a large store's load time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace bootcfg {

// Runs fn(i) for i in [0, n) on all cores; fn must only touch its own slot.
template <class Fn>
void parallel_for(std::size_t n, Fn fn) {
    const std::size_t threads =
        std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), n / 256 + 1);
    if (threads <= 1) {
        for (std::size_t i = 0; i < n; ++i) fn(i);
        return;
    }
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (std::size_t i = t; i < n; i += threads) fn(i);
        });
    for (auto& th : pool) th.join();
}

}  // namespace bootcfg
