// net/address_limit: the per-source-address count behind
// --max-connections-per-address; a slot gives its place back however the
// stream that holds it ends (destroyed, moved over, moved from).
#include <catch2/catch.hpp>

#include <utility>
#include <vector>

#include "net/address_limit.hpp"

using namespace skein::net_detail;

TEST_CASE("address_counts admits max streams per address and frees a place with its slot", "[address_limit]") {
  auto counts = std::make_shared<address_counts>();
  std::vector<address_slot> held(3);
  for (auto& s : held) REQUIRE(counts->try_acquire("10.0.0.1", 3, s));
  CHECK(counts->count("10.0.0.1") == 3);
  address_slot fourth;
  CHECK_FALSE(counts->try_acquire("10.0.0.1", 3, fourth));
  CHECK_FALSE(fourth.held());
  // Another address has its own count.
  address_slot other;
  CHECK(counts->try_acquire("10.0.0.2", 3, other));
  CHECK(counts->count("10.0.0.2") == 1);
  // Destroying a slot frees its place.
  held.pop_back();
  CHECK(counts->count("10.0.0.1") == 2);
  CHECK(counts->try_acquire("10.0.0.1", 3, fourth));
  CHECK(counts->count("10.0.0.1") == 3);
}

TEST_CASE("address_slot moves keep exactly one place", "[address_limit]") {
  auto counts = std::make_shared<address_counts>();
  address_slot a;
  REQUIRE(counts->try_acquire("::1", 2, a));
  address_slot b = std::move(a);  // moved: still one place
  CHECK(counts->count("::1") == 1);
  CHECK(b.held());
  address_slot c;
  REQUIRE(counts->try_acquire("::1", 2, c));
  CHECK(counts->count("::1") == 2);
  c = std::move(b);  // c's own place is given back, b's moves in
  CHECK(counts->count("::1") == 1);
  {
    address_slot gone = std::move(c);
  }
  CHECK(counts->count("::1") == 0);
  // max 0 admits nobody (the caller skips the check when the limit is off).
  address_slot none;
  CHECK_FALSE(counts->try_acquire("::1", 0, none));
  CHECK(counts->count("::1") == 0);
}
