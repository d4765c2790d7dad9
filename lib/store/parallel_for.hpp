// Parsing a fleet's objects on all cores: most of a large store's load time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "result/result.hpp"

namespace bootcfg {

// The cores to use; asked once (glibc reads sysfs on each call).
inline unsigned cores() {
    static const unsigned n = std::max(1u, std::thread::hardware_concurrency());
    return n;
}

// Runs fn(i) for i in [0, n) on all cores; fn must only touch its own slot.
template <class Fn>
void parallel_for(std::size_t n, Fn fn) {
    const std::size_t threads = std::min<std::size_t>(cores(), n / 256 + 1);
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

// Parses n items on all cores straight into new slots at the end of `into` (a fleet's million
// groups are never held twice), then closes the gaps the failures left, keeping the order.
// parse(i, slot) fills slot with item i, or returns its failure. Returns the failures by item.
template <class T, class Parse>
std::vector<std::unique_ptr<Failure>> parse_in_place(std::size_t n, std::vector<T>& into,
                                                     Parse parse) {
    const std::size_t base = into.size();
    into.resize(base + n);
    std::vector<std::unique_ptr<Failure>> failures(n);
    parallel_for(n, [&](std::size_t i) { failures[i] = parse(i, into[base + i]); });
    std::size_t kept = base;
    for (std::size_t i = 0; i < n; ++i) {
        if (failures[i]) continue;
        if (kept != base + i) into[kept] = std::move(into[base + i]);
        ++kept;
    }
    into.resize(kept);
    return failures;
}

}  // namespace bootcfg
