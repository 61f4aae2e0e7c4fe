// Unit tests of the metrics building blocks: the kind table (fixed slots,
// idempotent registration, "other" overflow) and the replication lag tracker
// (local commit to last replica ack, in either order, bounded, forgetting a
// node that is declared down).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "actors/metrics.hpp"
#include "actors/replication_lag.hpp"

using namespace skein;
using namespace std::chrono_literals;

namespace {
std::uint64_t lag_count() {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= latency_histogram::bounds_us.size(); ++i)
    n += metrics().replication_lag.bucket(i);
  return n;
}
}  // namespace

TEST_CASE("kind_table: slots by registration, idempotent, overflow to other", "[metrics]") {
  kind_table t;
  CHECK(t.add("chat") == 0);
  CHECK(t.add("counter") == 1);
  CHECK(t.add("chat") == 0);
  CHECK(t.size() == 2);
  CHECK(t.find("counter") == 1);
  CHECK(t.find("nope") == kind_table::other);
  for (std::size_t i = 2; i < kind_table::max_kinds; ++i) CHECK(t.add("k" + std::to_string(i)) == i);
  CHECK(t.add("one-too-many") == kind_table::other);
  CHECK(t.size() == kind_table::max_kinds);
  t.at(kind_table::other).inputs.fetch_add(1);
  CHECK(t.at(kind_table::other).inputs.load() == 1);
}

TEST_CASE("replication_lag_tracker: measured from local commit to the last ack", "[metrics]") {
  using clock = replication_lag_tracker::clock;
  replication_lag_tracker lag;
  const auto t0 = clock::now();
  const auto before = lag_count();
  const auto sum_before = metrics().replication_lag.sum_us();

  // Two replicas, local first: lag = last ack - local.
  lag.waiting_on(1, "n2");
  lag.waiting_on(1, "n3");
  lag.local_done(1, t0);
  lag.acked(1, "n2", t0 + 1ms);
  CHECK(lag_count() == before);
  lag.acked(1, "n3", t0 + 3ms);
  CHECK(lag_count() == before + 1);
  CHECK(metrics().replication_lag.sum_us() - sum_before == 3000);
  CHECK(lag.tracked() == 0);

  // Acks before the local write: lag 0.
  lag.waiting_on(2, "n2");
  lag.acked(2, "n2", t0);
  lag.local_done(2, t0 + 5ms);
  CHECK(lag_count() == before + 2);
  CHECK(metrics().replication_lag.sum_us() - sum_before == 3000);

  // A duplicate or unknown ack changes nothing; a node declared down drops
  // the batches waiting only for it, unmeasured.
  lag.acked(2, "n2", t0);
  lag.acked(99, "n2", t0);
  lag.waiting_on(3, "n3");
  lag.local_done(3, t0);
  lag.forget("n3");
  CHECK(lag.tracked() == 0);
  CHECK(lag_count() == before + 2);

  // Bounded: the oldest batches are dropped.
  for (std::uint64_t c = 10; c < 10 + replication_lag_tracker::max_tracked + 5; ++c) lag.waiting_on(c, "n2");
  CHECK(lag.tracked() == replication_lag_tracker::max_tracked);
}
