// The token bucket behind the per-client message rate limit (actors/rate_limit.hpp).
#include <catch2/catch.hpp>

#include <chrono>

#include "actors/rate_limit.hpp"

using skein::token_bucket;
using namespace std::chrono_literals;

TEST_CASE("a token bucket allows its burst at once then its rate", "[rate_limit]") {
  const auto t0 = token_bucket::clock::time_point{} + 1h;
  token_bucket b(100, 10, t0);
  for (int i = 0; i < 10; ++i) CHECK(b.take(t0));
  CHECK_FALSE(b.take(t0));           // burst spent
  CHECK_FALSE(b.take(t0 + 5ms));     // half a token
  CHECK(b.take(t0 + 10ms));          // one token per 10 ms at 100/s
  CHECK_FALSE(b.take(t0 + 10ms));
  // A long pause refills to the burst, never beyond.
  const auto later = t0 + 10s;
  int taken = 0;
  while (b.take(later)) ++taken;
  CHECK(taken == 10);
}

TEST_CASE("a token bucket with rate 0 never limits", "[rate_limit]") {
  token_bucket b(0, 1);
  for (int i = 0; i < 100000; ++i) REQUIRE(b.take());
}

TEST_CASE("a refused message takes nothing", "[rate_limit]") {
  const auto t0 = token_bucket::clock::time_point{} + 1h;
  token_bucket b(1, 1, t0);
  CHECK(b.take(t0));
  for (int i = 0; i < 5; ++i) CHECK_FALSE(b.take(t0 + 100ms));
  CHECK(b.take(t0 + 1s));  // the refusals did not push the next token back
}
