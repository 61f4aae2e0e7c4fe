// The outbound lane (runtime/lane.hpp) between two actor systems in this
// process, joined by BASP on loopback: a node's lane on one side, a stub of
// the peer's replica actor (the relay, runtime/replica.cpp) on the other.
//
// - The two barriers of actors/lane_barrier.hpp: a connection that gives the
//   lane its last messages and quits (quit_after_flush) is heard of by the
//   session (its down message, through after_relay) only after those
//   messages, with the lane busy and the relay slow. Without either barrier
//   the down message, which CAF sends directly, overtakes them (seen with
//   the relay's barrier taken out: the log was join, down).
// - The probe: a relay that answers (bundle_atom) with bundle_format gets
//   typed bundles; one that answers with an error, as a node built before
//   typed bundles does, gets (sender, targets, message) triples; both
//   deliver every message in order.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/atoms.hpp"
#include "actors/cluster_view.hpp"
#include "actors/lane_barrier.hpp"
#include "runtime/bundle.hpp"
#include "runtime/lane.hpp"

using namespace skein;

namespace {

using recorder_atom = caf::atom_constant<caf::atom("recorder")>;
using counts_atom = caf::atom_constant<caf::atom("counts")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;
using noise_atom = caf::atom_constant<caf::atom("noise")>;

constexpr auto answer_within = std::chrono::seconds(30);

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  add_bundle_types(cfg);
  return cfg;
}

// --- the receiving node ----------------------------------------------------

/// A session's view of one client: what arrived, in order ("join", "in0",
/// "in1", ..., "leave", "down"); noise only keeps the lane busy.
struct recorder_state {
  caf::actor relay;  // this node's relay: a down message waits for it (after_relay)
  std::vector<std::string> log;
  std::vector<std::pair<std::string, caf::response_promise>> waiting;  // (event, promise)
};

void record(caf::stateful_actor<recorder_state>* self, std::string event) {
  auto& st = self->state;
  st.log.push_back(std::move(event));
  for (auto i = st.waiting.begin(); i != st.waiting.end();) {
    if (i->first == st.log.back()) {
      i->second.deliver(st.log);
      i = st.waiting.erase(i);
    } else {
      ++i;
    }
  }
}

caf::behavior recorder(caf::stateful_actor<recorder_state>* self) {
  self->set_down_handler([self](caf::down_msg& dm) {
    after_relay(self, self->state.relay, dm.source, [self] { record(self, "down"); });
  });
  return {
    [self](caf::put_atom, const caf::actor& relay) { self->state.relay = relay; },
    [self](join_atom, const caf::actor& conn) {
      self->monitor(conn);
      record(self, "join");
    },
    [self](message_atom, int i) { record(self, "in" + std::to_string(i)); },
    [self](leave_atom) { record(self, "leave"); },
    [](noise_atom) {},
    // The log once `event` is in it.
    [self](wait_atom, const std::string& event) -> caf::result<std::vector<std::string>> {
      for (const auto& e : self->state.log)
        if (e == event) return self->state.log;
      auto rp = self->make_response_promise<std::vector<std::string>>();
      self->state.waiting.emplace_back(event, rp);
      return rp;
    },
  };
}

/// The peer's replica actor as far as the lane knows it: it delivers each
/// bundled message to its targets with its sender, and counts the bundles
/// of each format. `typed`: it answers the probe as this version does.
struct relay_state {
  int triples = 0;
  int typed = 0;
};

caf::behavior relay_stub(caf::stateful_actor<relay_state>* self, bool typed, caf::actor rec) {
  auto deliver = [self](const caf::actor& sender, const std::vector<caf::actor>& targets,
                        const caf::message& m) {
    for (const auto& t : targets)
      if (t)
        t->enqueue(caf::actor_cast<caf::strong_actor_ptr>(sender), caf::make_message_id(), m,
                   self->context());
  };
  return {
    [self, deliver](bundle_atom, const caf::message& bundle) {
      ++self->state.triples;
      for (std::size_t i = 0; i + 2 < bundle.size(); i += 3)
        deliver(bundle.get_as<caf::actor>(i), bundle.get_as<std::vector<caf::actor>>(i + 1),
                bundle.get_as<caf::message>(i + 2));
    },
    [self, deliver](bundle_atom, std::vector<bundle_entry>& entries) {
      ++self->state.typed;
      for (auto& e : entries) deliver(e.sender, e.targets, to_message(e));
    },
    [](flush_atom) {},  // the barrier: answered after what came before
    [typed](bundle_atom) -> caf::result<std::uint32_t> {
      if (!typed) return caf::sec::unexpected_message;  // what an older node answers
      return bundle_format;
    },
    [rec](recorder_atom) { return rec; },
    [self](counts_atom) { return caf::make_message(self->state.triples, self->state.typed); },
  };
}

// --- the sending node ------------------------------------------------------

/// A connection as far as the lane is concerned: joins, then on leave_atom
/// sends `inputs` inputs and a leave through the lane and quits, behind the
/// lane (`barrier`) or at once.
caf::behavior conn_stub(caf::event_based_actor* self, caf::actor lane, caf::actor session,
                        int inputs, bool barrier) {
  auto to_session = [self, lane, session](caf::message m) {
    self->send(lane, bundle_atom::value, session, std::move(m));
  };
  return {
    [self, to_session](join_atom) {
      to_session(caf::make_message(join_atom::value, caf::actor_cast<caf::actor>(self)));
    },
    [self, lane, to_session, inputs, barrier](leave_atom) {
      for (int i = 0; i < inputs; ++i) to_session(caf::make_message(message_atom::value, i));
      to_session(caf::make_message(leave_atom::value));
      if (barrier) quit_after_flush(self, lane);
      else self->quit();
    },
  };
}

/// Two actor systems joined by BASP: `b` runs the relay stub and the
/// recorder; `a` runs a lane that knows the relay from a cluster view.
struct two_nodes {
  caf::actor_system_config cfg_b;
  caf::actor_system b{configure(cfg_b)};
  caf::actor_system_config cfg_a;
  caf::actor_system a{configure(cfg_a)};
  caf::actor rec_b = b.spawn(recorder);
  caf::actor relay_b;
  caf::actor relay;  // its proxy on a
  caf::actor rec;    // the recorder's proxy on a
  caf::actor lane = spawn_lane(a);
  caf::scoped_actor self{a};

  explicit two_nodes(bool typed) {
    relay_b = b.spawn(relay_stub, typed, rec_b);
    caf::anon_send(rec_b, caf::put_atom::value, relay_b);
    auto port = b.middleman().publish(relay_b, 0, "127.0.0.1");
    REQUIRE(port);
    auto proxy = a.middleman().remote_actor("127.0.0.1", *port);
    REQUIRE(proxy);
    relay = *proxy;
    auto view = std::make_shared<cluster_view>();
    view->self = "a";
    view->hosts["b"] = relay;
    caf::anon_send(lane, members_atom::value, std::shared_ptr<const cluster_view>(view));
    self->request(relay, answer_within, recorder_atom::value)
      .receive([&](const caf::actor& r) { rec = r; },
               [&](caf::error& e) { FAIL("relay: " << a.render(e)); });
    REQUIRE(rec);
    REQUIRE(rec.node() != a.node());
  }

  ~two_nodes() {
    for (const auto& x : {lane}) caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    for (const auto& x : {rec_b, relay_b}) caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  }

  std::vector<std::string> wait_for(const std::string& event) {
    std::vector<std::string> log;
    self->request(rec, answer_within, wait_atom::value, event)
      .receive([&](std::vector<std::string>& l) { log = std::move(l); },
               [&](caf::error& e) { FAIL("waiting for " << event << ": " << a.render(e)); });
    return log;
  }

  std::vector<int> counts() {
    std::vector<int> c;
    self->request(relay, answer_within, counts_atom::value)
      .receive([&](int triples, int typed) { c = {triples, typed}; },
               [&](caf::error& e) { FAIL("counts: " << a.render(e)); });
    return c;
  }
};

std::vector<std::string> expected_log(int inputs) {
  std::vector<std::string> log{"join"};
  for (int i = 0; i < inputs; ++i) log.push_back("in" + std::to_string(i));
  log.push_back("leave");
  log.push_back("down");
  return log;
}

/// Runs one client's life through the lane, the lane busy with `noise`
/// messages when the client leaves; answers the recorder's log.
std::vector<std::string> client_life(two_nodes& n, int inputs, int noise, bool barrier) {
  auto conn = n.a.spawn(conn_stub, n.lane, n.rec, inputs, barrier);
  caf::anon_send(conn, join_atom::value);
  n.wait_for("join");  // the session monitors the connection from here on
  for (int i = 0; i < noise; ++i)
    caf::anon_send(n.lane, bundle_atom::value, n.rec, caf::make_message(noise_atom::value));
  caf::anon_send(conn, leave_atom::value);
  return n.wait_for("down");
}

}  // namespace

TEST_CASE("a connection quitting behind the lane is heard of after its inputs and its leave",
          "[lane]") {
  two_nodes n{true};
  const int inputs = 20;
  // The lane has 20,000 messages to bundle when the client leaves: without
  // the barrier its down message reaches the session first.
  CHECK(client_life(n, inputs, 20000, true) == expected_log(inputs));
}

TEST_CASE("the lane sends triples to a relay that does not answer the probe, typed entries to "
          "one that does",
          "[lane]") {
  SECTION("a node built before typed bundles") {
    two_nodes n{false};
    CHECK(client_life(n, 10, 100, true) == expected_log(10));
    const auto c = n.counts();
    CHECK(c[0] > 0);
    CHECK(c[1] == 0);
  }
  SECTION("a node of this version") {
    two_nodes n{true};
    // The probe's answer comes back after some bundles may have gone as
    // triples; each client's messages arrive in order either way, and once
    // the answer is in, bundles are typed.
    for (int life = 0; life < 50 && n.counts()[1] == 0; ++life)
      CHECK(client_life(n, 3, 0, true) == expected_log(3));
    CHECK(n.counts()[1] > 0);
  }
}
