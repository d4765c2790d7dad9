// A token bucket per key (a client's address, a MAC): `rate` events a second, bursts of `burst`.
// Bounded: past `max_keys` keys, those whose bucket has refilled are forgotten (they would start
// full anyway); if a flood of distinct keys leaves none refilled, all are forgotten. Not
// thread-safe: one per event loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <map>

namespace bootcfg {

template <class Key>
class RateLimiter {
  public:
    using Clock = std::chrono::steady_clock;

    RateLimiter(double rate, double burst, std::size_t max_keys = 4096)
        : rate_(rate), burst_(burst), max_keys_(max_keys) {}

    // Takes a token for `key` and says whether there was one.
    bool allow(const Key& key, Clock::time_point now = Clock::now()) {
        if (buckets_.size() >= max_keys_) forget_full(now);
        auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
        Bucket& b = it->second;
        if (!fresh) {
            b.tokens = level(b, now);
            b.last = now;
        }
        if (b.tokens < 1) return false;
        b.tokens -= 1;
        return true;
    }

    std::size_t keys() const { return buckets_.size(); }

  private:
    struct Bucket {
        double tokens;
        Clock::time_point last;
    };

    double level(const Bucket& b, Clock::time_point now) const {
        return std::min(burst_,
                        b.tokens + std::chrono::duration<double>(now - b.last).count() * rate_);
    }

    void forget_full(Clock::time_point now) {
        for (auto it = buckets_.begin(); it != buckets_.end();)
            it = level(it->second, now) >= burst_ ? buckets_.erase(it) : std::next(it);
        if (buckets_.size() >= max_keys_) buckets_.clear();
    }

    double rate_, burst_;
    std::size_t max_keys_;
    std::map<Key, Bucket> buckets_;
};

}  // namespace bootcfg
