#include <catch2/catch.hpp>

#include <string>

#include "service/rate_limiter.hpp"

using namespace bootcfg;
using namespace std::chrono_literals;

TEST_CASE("rate limiter: a burst, then the rate, per key") {
    RateLimiter<std::string> limit(10, 20);
    const auto t0 = RateLimiter<std::string>::Clock::now();
    int allowed = 0;
    for (int i = 0; i < 50; ++i) allowed += limit.allow("a", t0);
    CHECK(allowed == 20);                      // the burst
    CHECK(limit.allow("b", t0));               // another key has its own bucket
    CHECK_FALSE(limit.allow("a", t0 + 50ms));  // half a token
    CHECK(limit.allow("a", t0 + 100ms));       // one token a tenth of a second
    allowed = 0;
    for (int i = 0; i < 50; ++i) allowed += limit.allow("a", t0 + 10s);
    CHECK(allowed == 20);  // refilled to the burst, never beyond
}

TEST_CASE("rate limiter: bounded keys") {
    RateLimiter<int> limit(1, 2, 100);
    const auto t0 = RateLimiter<int>::Clock::now();
    // A flood of distinct keys: memory stays bounded, each key still limited.
    for (int k = 0; k < 10000; ++k) limit.allow(k, t0);
    CHECK(limit.keys() <= 100);
    CHECK(limit.allow(7, t0));
    CHECK(limit.allow(7, t0));
    CHECK_FALSE(limit.allow(7, t0));
    // Refilled buckets are what is forgotten first.
    RateLimiter<int> some(1, 2, 3);
    some.allow(1, t0);
    some.allow(1, t0);  // 1 is empty
    some.allow(2, t0);
    some.allow(3, t0);
    some.allow(4, t0 + 5s);  // 2 and 3 have refilled by now, 1 too: all forgotten but the new one
    CHECK(some.keys() == 1);
}
