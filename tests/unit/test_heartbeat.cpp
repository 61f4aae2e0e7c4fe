// The heartbeat channel (runtime/heartbeat_channel.hpp), its datagrams
// (runtime/heartbeat_wire.hpp) and what a UDP heartbeat does to a quorum
// lease (quorum::beat): the lease survives gossip that waits behind bulk
// state only because the datagrams keep arriving.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

#include "runtime/heartbeat_channel.hpp"
#include "runtime/heartbeat_wire.hpp"
#include "runtime/quorum.hpp"

using namespace skein;
using namespace std::chrono_literals;
namespace hw = skein::heartbeat_wire;

namespace {

hw::beat sample() { return {"n1", 1764000000123, "n2", 123456789, 987654321, {}}; }

/// Datagrams received by a channel, waited for with a deadline.
struct inbox {
  std::mutex mtx;
  std::condition_variable cv;
  std::deque<std::string> got;
  void push(std::string d) {
    std::lock_guard lock(mtx);
    got.push_back(std::move(d));
    cv.notify_all();
  }
  std::string pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mtx);
    if (!cv.wait_for(lock, timeout, [&] { return !got.empty(); })) return {};
    auto d = std::move(got.front());
    got.pop_front();
    return d;
  }
};

}  // namespace

TEST_CASE("heartbeat datagram: round trip and authentication", "[heartbeat]") {
  auto key = hw::new_key();
  REQUIRE(key.size() == hw::key_bytes);
  auto bytes = hw::encode(sample(), key);
  CHECK(bytes.size() <= hw::max_datagram_bytes);
  auto b = hw::decode(bytes);
  REQUIRE(b);
  CHECK(b->from == "n1");
  CHECK(b->incarnation == 1764000000123u);
  CHECK(b->to == "n2");
  CHECK(b->ts == 123456789);
  CHECK(b->echo == 987654321);
  CHECK(hw::verify(*b, key));
  CHECK_FALSE(hw::verify(*b, hw::new_key()));  // another member's key
  CHECK_FALSE(hw::verify(*b, "short"));
  // Any signed field changed breaks the mac: the receiver, the echo, the
  // incarnation (a datagram cannot be redirected or inflated).
  for (int field = 0; field < 4; ++field) {
    auto t = *b;
    if (field == 0) t.to = "n3";
    if (field == 1) t.echo += 1;
    if (field == 2) t.incarnation += 1;
    if (field == 3) t.ts += 1;
    CHECK_FALSE(hw::verify(t, key));
  }
}

TEST_CASE("heartbeat datagram: malformed input is rejected, never trusted", "[heartbeat]") {
  auto key = hw::new_key();
  auto bytes = hw::encode(sample(), key);
  for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(hw::decode(bytes.substr(0, n)));
  CHECK_FALSE(hw::decode(bytes + '\x00'));                // trailing byte
  CHECK_FALSE(hw::decode(std::string(600, '\x91')));       // over the size limit
  CHECK_FALSE(hw::decode("\xdd\xff\xff\xff\xff"));         // a huge array header
  auto long_name = sample();
  long_name.from.assign(hw::max_name_bytes + 1, 'x');
  CHECK_FALSE(hw::decode(hw::encode(long_name, key)));
  auto empty_name = sample();
  empty_name.to.clear();
  CHECK_FALSE(hw::decode(hw::encode(empty_name, key)));
  auto bad_ts = sample();
  bad_ts.ts = 0;
  CHECK_FALSE(hw::decode(hw::encode(bad_ts, key)));
  auto bad_echo = sample();
  bad_echo.echo = -5;
  CHECK_FALSE(hw::decode(hw::encode(bad_echo, key)));
  // Another version.
  auto v2 = bytes;
  v2[1] = '\x02';
  CHECK_FALSE(hw::decode(v2));
}

TEST_CASE("heartbeat channel: datagrams cross loopback; oversized ones are dropped",
          "[heartbeat]") {
  inbox a_in, b_in;
  heartbeat_channel a("127.0.0.1", 0, [&](std::string d) { a_in.push(std::move(d)); });
  heartbeat_channel b("127.0.0.1", 0, [&](std::string d) { b_in.push(std::move(d)); });
  REQUIRE(a.port() != 0);
  REQUIRE(b.port() != 0);
  REQUIRE(a.port() != b.port());
  auto key = hw::new_key();
  auto bytes = hw::encode(sample(), key);
  a.send("127.0.0.1", b.port(), std::string(hw::max_datagram_bytes + 100, 'x'));
  a.send("127.0.0.1", b.port(), bytes);
  // Loopback does not drop or reorder: the first datagram delivered is the
  // valid one, the oversized one was cut off before the handler.
  CHECK(b_in.pop(5s) == bytes);
  b.send("localhost", a.port(), "pong");  // names resolve too
  CHECK(a_in.pop(5s) == "pong");
}

TEST_CASE("heartbeat channel: a port in use is an error", "[heartbeat]") {
  heartbeat_channel a("127.0.0.1", 0, [](std::string) {});
  CHECK_THROWS_AS(heartbeat_channel("127.0.0.1", a.port(), [](std::string) {}), std::system_error);
}

TEST_CASE("quorum: UDP beats keep the lease while the gossip waits behind bulk state",
          "[heartbeat][quorum]") {
  // n1 of {n1,n2,n3}. From t0 its peers' gossip is stuck in BASP's stream
  // (nothing arrives for 4 s, more than the 1.5 s lease); their datagrams
  // still arrive every 500 ms with fresh echoes.
  auto run = [](bool datagrams) {
    quorum q("n1", {3000ms, 1500ms});
    auto t0 = quorum::time_point(100s);
    q.set_members({"n1", "n2", "n3"}, t0);
    q.connected("n2", true, t0);
    q.connected("n3", true, t0);
    q.heard("n2", t0, quorum::stamp(t0), quorum::stamp(t0), {"n9"});
    q.heard("n3", t0, quorum::stamp(t0), quorum::stamp(t0), {});
    bool held = true;
    for (auto t = t0 + 100ms; t <= t0 + 4s; t += 100ms) {
      if (datagrams && (t - t0) % 500ms == 0ms) {
        // The echo is our reading as the peer last heard it (its datagram
        // left it one round trip ago; here, 1 ms).
        q.beat("n2", t, quorum::stamp(t), quorum::stamp(t - 1ms));
        q.beat("n3", t, quorum::stamp(t), quorum::stamp(t - 1ms));
      }
      held = held && q.has_quorum(t);
      if (datagrams) CHECK(q.suspects(t).empty());
    }
    // Without them both peers are suspected once silent for failure_timeout.
    if (!datagrams) CHECK(q.suspects(t0 + 4s).size() == 2);
    return held;
  };
  CHECK(run(true));
  CHECK_FALSE(run(false));  // BASP gossip alone: the lease lapses, the node stops serving
}
