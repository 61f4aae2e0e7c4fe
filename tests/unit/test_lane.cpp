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
// - The probe: a relay that answers (bundle_atom) with packed_bundle_format
//   gets packed bundles, one that answers bundle_format typed bundles; one
//   that answers with an error, as a node built before typed bundles does,
//   gets (sender, targets, message) triples; all deliver every message in
//   order.
// - The reverse direction: frames of a session on another node reach a
//   connection through its node's relay, while the session's down message
//   goes directly, so it can overtake them. The real connection actor
//   (actors/connection.cpp) re-resolves on the down, joins the next
//   activation with the last seq it delivered, and takes frames from that
//   activation only: held frames released before or after the new
//   activation's frames are neither delivered twice nor in place of the new
//   activation's. Fails without the frame handler's sender check (held
//   frames released first would be delivered and the new activation's same
//   seqs dropped), or without the re-resolve on a down.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/atoms.hpp"
#include "actors/cluster_view.hpp"
#include "actors/connection.hpp"
#include "actors/lane_barrier.hpp"
#include "runtime/bundle.hpp"
#include "runtime/packed_bundle.hpp"
#include "runtime/lane.hpp"
#include "runtime/protocols.hpp"
#include "runtime/slotted_bundle.hpp"

using namespace skein;

namespace {

using recorder_atom = caf::atom_constant<caf::atom("recorder")>;
using counts_atom = caf::atom_constant<caf::atom("counts")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;
using noise_atom = caf::atom_constant<caf::atom("noise")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using send_atom = caf::atom_constant<caf::atom("send")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;

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
    [self](frame_atom, const std::string& frame) { record(self, frame); },
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
  int packed = 0;
  int slotted = 0;
  slot_reader slots;       // the table kept with the lane (format 3)
  bool drop_next = false;  // lose the next slotted bundle, as a dropped connection would
  bool watch = false;      // log drops, refusals and new generations with the recorder
};

/// `format`: its answer to the probe; 0 answers nothing (an older node).
caf::behavior relay_stub(caf::stateful_actor<relay_state>* self, std::uint32_t format,
                         caf::actor rec) {
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
    [self, deliver](bundle_atom, packed_bundle& packed) {
      ++self->state.packed;
      auto entries = unpack(packed);
      REQUIRE(entries);
      for (auto& e : *entries) deliver(e.sender, e.targets, to_message(e));
    },
    [self, deliver, rec](bundle_atom, slotted_bundle& b) {
      // What replica.cpp does with one, plus a way to lose one.
      auto& st = self->state;
      ++st.slotted;
      auto note = [&](std::string what) {
        if (st.watch) self->send(rec, frame_atom::value, std::move(what));
      };
      if (std::exchange(st.drop_next, false)) return note("dropped");
      auto entries = st.slots.unpack(b);
      if (!entries) {
        note("refused");
        self->send(caf::actor_cast<caf::actor>(self->current_sender()), reset_atom::value,
                   st.slots.refused_generation());
        return;
      }
      if (b.seq == 0 && b.generation > 0) note("generation " + std::to_string(b.generation));
      for (auto& e : *entries) deliver(e.sender, e.targets, to_message(e));
    },
    [self](watch_atom) {
      self->state.watch = true;
      return self->state.slots.size();
    },
    [self](drop_atom) {
      self->state.drop_next = true;
      self->state.watch = true;
      return self->state.slots.size();
    },
    [](flush_atom) {},  // the barrier: answered after what came before
    [format](bundle_atom) -> caf::result<std::uint32_t> {
      if (format == 0) return caf::sec::unexpected_message;  // what an older node answers
      return format;
    },
    [rec](recorder_atom) { return rec; },
    [self](counts_atom) {
      return caf::make_message(self->state.triples, self->state.typed, self->state.packed,
                               self->state.slotted);
    },
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
  caf::actor lane;
  caf::scoped_actor self{a};

  /// slot_idle: the lane's (an hour unless a test waits for an idle reset,
  /// so that none comes between the steps of another test).
  explicit two_nodes(std::uint32_t format,
                     std::chrono::milliseconds slot_idle = std::chrono::hours{1})
      : lane(spawn_lane(a, slot_idle)) {
    relay_b = b.spawn(relay_stub, format, rec_b);
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
      .receive([&](int triples, int typed, int packed, int slotted) {
                 c = {triples, typed, packed, slotted};
               },
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
  two_nodes n{packed_bundle_format};
  const int inputs = 20;
  // The lane has 20,000 messages to bundle when the client leaves: without
  // the barrier its down message reaches the session first.
  CHECK(client_life(n, inputs, 20000, true) == expected_log(inputs));
}

TEST_CASE("the lane sends triples to a relay that does not answer the probe, typed entries to "
          "one that does",
          "[lane]") {
  SECTION("a node built before typed bundles") {
    two_nodes n{0};
    CHECK(client_life(n, 10, 100, true) == expected_log(10));
    const auto c = n.counts();
    CHECK(c[0] > 0);
    CHECK(c[1] == 0);
    CHECK(c[2] == 0);
  }
  SECTION("a node built before packed bundles") {
    two_nodes n{bundle_format};
    // The probe's answer comes back after some bundles may have gone as
    // triples; each client's messages arrive in order either way, and once
    // the answer is in, bundles are typed.
    for (int life = 0; life < 50 && n.counts()[1] == 0; ++life)
      CHECK(client_life(n, 3, 0, true) == expected_log(3));
    CHECK(n.counts()[1] > 0);
    CHECK(n.counts()[2] == 0);
  }
  SECTION("a node of this version") {
    two_nodes n{packed_bundle_format};
    // A client's life holds joins and leaves (type-erased messages), which
    // a packed bundle does not carry: those bundles go typed.
    CHECK(client_life(n, 3, 0, true) == expected_log(3));
    // Frames (a kind with fields of its own) go packed once the probe's
    // answer is in, each in order.
    std::vector<std::string> sent;
    for (int round = 0; round < 50 && n.counts()[2] == 0; ++round) {
      for (int i = 0; i < 20; ++i) {
        sent.push_back("f" + std::to_string(round) + "-" + std::to_string(i));
        caf::anon_send(n.lane, bundle_atom::value, n.rec,
                       caf::make_message(frame_atom::value, sent.back()));
      }
      n.wait_for(sent.back());
    }
    CHECK(n.counts()[2] > 0);
    auto log = n.wait_for(sent.back());
    std::vector<std::string> frames(log.begin() + static_cast<std::ptrdiff_t>(expected_log(3).size()),
                                    log.end());
    CHECK(frames == sent);
  }
}

TEST_CASE("the lane names each actor once per slot table, and a lost bundle costs a new table",
          "[lane]") {
  two_nodes n{slotted_bundle_format};
  CHECK(client_life(n, 3, 0, true) == expected_log(3));
  auto frames = [&](const std::string& prefix, int count) {
    std::vector<std::string> sent;
    for (int i = 0; i < count; ++i) {
      sent.push_back(prefix + std::to_string(i));
      caf::anon_send(n.lane, bundle_atom::value, n.rec,
                     caf::make_message(frame_atom::value, sent.back()));
    }
    n.wait_for(sent.back());
    return sent;
  };
  // Frames go slotted once the probe's answer is in, each in order.
  std::vector<std::string> sent;
  for (int round = 0; round < 50 && n.counts()[3] == 0; ++round) {
    auto s = frames("f" + std::to_string(round) + "-", 20);
    sent.insert(sent.end(), s.begin(), s.end());
  }
  REQUIRE(n.counts()[3] > 0);
  auto log = n.wait_for(sent.back());
  CHECK(std::vector<std::string>(log.begin() + static_cast<std::ptrdiff_t>(expected_log(3).size()),
                                 log.end())
        == sent);

  // The relay loses the next bundle: the one after it is out of order and
  // refused, the relay asks for a new table, and what comes after that
  // arrives again.
  std::size_t held = 0;
  n.self->request(n.relay, answer_within, drop_atom::value)
    .receive([&](std::size_t slots) { held = slots; },
             [&](caf::error& e) { FAIL("drop: " << n.a.render(e)); });
  CHECK(held == 1);  // the recorder (the frames' sender is anonymous)
  caf::anon_send(n.lane, bundle_atom::value, n.rec, caf::make_message(frame_atom::value, std::string{"lost"}));
  n.wait_for("dropped");
  caf::anon_send(n.lane, bundle_atom::value, n.rec, caf::make_message(frame_atom::value, std::string{"gap"}));
  n.wait_for("refused");
  n.wait_for("generation 1");
  auto after = frames("g", 5);
  log = n.wait_for(after.back());
  CHECK(std::count(log.begin(), log.end(), "lost") == 0);
  CHECK(std::count(log.begin(), log.end(), "gap") == 0);
  auto at = std::find(log.begin(), log.end(), "generation 1");
  CHECK(std::vector<std::string>(at + 1, log.end()) == after);
}

TEST_CASE("a slot table that carries nothing for a while is reset at both ends", "[lane]") {
  two_nodes n{slotted_bundle_format, std::chrono::milliseconds{50}};
  auto watch = [&] {
    std::size_t held = 0;
    n.self->request(n.relay, answer_within, watch_atom::value)
      .receive([&](std::size_t slots) { held = slots; },
               [&](caf::error& e) { FAIL("watch: " << n.a.render(e)); });
    return held;
  };
  watch();  // the relay logs every new generation from here on
  // Until the probe's answer is in, frames go otherwise; then the table
  // holds the recorder.
  std::string last;
  for (int i = 0; i < 200 && watch() == 0; ++i) {
    last = "h" + std::to_string(i);
    caf::anon_send(n.lane, bundle_atom::value, n.rec, caf::make_message(frame_atom::value, last));
    n.wait_for(last);
  }
  REQUIRE(!last.empty());
  // Nothing more is sent: the lane's tick finds the table quiet and starts
  // a new generation, which empties the relay's table. The relay logs the
  // frames and the generations in the lane's order, so the reset that
  // follows the last frame is the first generation logged after it (it may
  // be there already, should this thread have been slow).
  auto log = n.wait_for(last);
  int generations = 0;
  bool after_last = false;
  for (const auto& e : log) {
    if (e.rfind("generation ", 0) == 0) {
      ++generations;
      after_last = true;
    }
    if (e == last) after_last = false;
  }
  if (!after_last) n.wait_for("generation " + std::to_string(generations + 1));
  CHECK(watch() == 0);
  // And the next frame names the recorder in full again, and arrives.
  caf::anon_send(n.lane, bundle_atom::value, n.rec, caf::make_message(frame_atom::value, std::string{"after"}));
  n.wait_for("after");
}

// --- the reverse direction: a session's frames to a connection -------------

namespace {

/// The connection's node's replica actor, holding what bundles bring until
/// released: frames that wait there while the session's down message, sent
/// directly, reaches the connection.
struct holding_state {
  std::vector<std::tuple<caf::actor, std::vector<caf::actor>, caf::message>> held;
  std::vector<std::pair<std::size_t, caf::response_promise>> waiting;  // (count, promise)
  caf::actor session;  // a session on the other node, put there by its node
  std::vector<caf::response_promise> getting;  // asked for it before it came
};

caf::behavior holding_relay(caf::stateful_actor<holding_state>* self) {
  auto hold = [self](caf::actor sender, std::vector<caf::actor> targets, caf::message m) {
    auto& st = self->state;
    st.held.emplace_back(std::move(sender), std::move(targets), std::move(m));
    for (auto i = st.waiting.begin(); i != st.waiting.end();) {
      if (st.held.size() >= i->first) {
        i->second.deliver(true);
        i = st.waiting.erase(i);
      } else {
        ++i;
      }
    }
  };
  return {
    [hold](bundle_atom, const caf::message& bundle) {
      for (std::size_t i = 0; i + 2 < bundle.size(); i += 3)
        hold(bundle.get_as<caf::actor>(i), bundle.get_as<std::vector<caf::actor>>(i + 1),
             bundle.get_as<caf::message>(i + 2));
    },
    [hold](bundle_atom, std::vector<bundle_entry>& entries) {
      for (auto& e : entries) hold(e.sender, e.targets, to_message(e));
    },
    [](flush_atom) {},
    [](bundle_atom) -> caf::result<std::uint32_t> { return bundle_format; },
    // Answers once `n` messages are held.
    [self](wait_atom, std::size_t n) -> caf::result<bool> {
      if (self->state.held.size() >= n) return true;
      auto rp = self->make_response_promise<bool>();
      self->state.waiting.emplace_back(n, rp);
      return rp;
    },
    // Delivers what is held, with each message's sender, then answers.
    [self](release_atom) {
      for (auto& [sender, targets, m] : self->state.held)
        for (const auto& t : targets)
          if (t)
            t->enqueue(caf::actor_cast<caf::strong_actor_ptr>(sender), caf::make_message_id(), m,
                       self->context());
      self->state.held.clear();
      return true;
    },
    [self](caf::put_atom, caf::actor session) {
      self->state.session = session;
      for (auto& rp : self->state.getting) rp.deliver(session);
      self->state.getting.clear();
    },
    // The session, once put.
    [self](caf::get_atom) -> caf::result<caf::actor> {
      if (self->state.session) return self->state.session;
      auto rp = self->make_response_promise<caf::actor>();
      self->state.getting.push_back(rp);
      return rp;
    },
  };
}

/// A frame as the stubs below send it: seq `seq`, data `name`.
std::string frame_of(std::uint64_t seq, const std::string& name) {
  return "{\"seq\":" + std::to_string(seq) + ",\"data\":\"" + name + "\"}";
}

/// An activation as far as a connection sees it: it records the join's
/// last_seq and, on (send_atom, from, to), sends frames from..to (data: its
/// name), through its node's `lane` when it has one.
struct activation_state {
  // Not an aggregate: CAF 0.17 builds a state from the actor's pointer when
  // it can, which C++20 allows for an aggregate whose first member is a
  // caf::actor (it would start out as the actor itself).
  activation_state() = default;
  caf::actor conn;
  std::uint64_t joined_last_seq = 0;
  std::vector<caf::response_promise> waiting;
};

caf::behavior activation_stub(caf::stateful_actor<activation_state>* self, std::string name,
                             caf::actor lane) {
  return {
    [self](join_atom, const std::string&, const std::string&, const caf::actor& conn,
           std::uint64_t last_seq, bool, std::uint64_t, std::uint64_t, const std::string&) {
      auto& st = self->state;
      st.conn = conn;
      st.joined_last_seq = last_seq;
      for (auto& rp : st.waiting) rp.deliver(last_seq);
      st.waiting.clear();
    },
    // The join's last_seq, once joined.
    [self](wait_atom) -> caf::result<std::uint64_t> {
      if (self->state.conn) return self->state.joined_last_seq;
      auto rp = self->make_response_promise<std::uint64_t>();
      self->state.waiting.push_back(rp);
      return rp;
    },
    [self, name, lane](send_atom, std::uint64_t from, std::uint64_t to) {
      for (auto seq = from; seq <= to; ++seq) {
        auto frame = caf::make_message(frame_atom::value, frame_of(seq, name));
        if (lane) self->send(lane, bundle_atom::value, self->state.conn, std::move(frame));
        else self->send(self->state.conn, std::move(frame));
      }
      return true;
    },
  };
}

/// The session host: resolves to the activations it was given, in turn (the
/// last one from then on).
caf::behavior host_stub(caf::event_based_actor*, std::vector<caf::actor> activations) {
  auto next = std::make_shared<std::size_t>(0);
  return {
    [activations, next](resolve_atom, const std::string&, std::uint64_t, bool) {
      auto i = std::min(*next, activations.size() - 1);
      ++*next;
      return activations[i];
    },
  };
}

/// A stream's outbound side that keeps every frame.
class recording_transport : public transport {
 public:
  void deliver(std::string frame) override {
    std::lock_guard<std::mutex> lock{mu_};
    frames_.push_back(std::move(frame));
    cv_.notify_all();
  }
  void close(std::uint16_t code, std::string reason) override {
    std::lock_guard<std::mutex> lock{mu_};
    closed_ = std::to_string(code) + " " + reason;
    cv_.notify_all();
  }
  /// The frames once one of them is `frame` (or the stream closed, or 30 s
  /// passed).
  std::vector<std::string> wait_for(const std::string& frame) {
    std::unique_lock<std::mutex> lock{mu_};
    cv_.wait_for(lock, answer_within, [&] {
      return !closed_.empty() || std::find(frames_.begin(), frames_.end(), frame) != frames_.end();
    });
    return frames_;
  }
  std::string closed() {
    std::lock_guard<std::mutex> lock{mu_};
    return closed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> frames_;
  std::string closed_;
};

/// Node `a` holds the connection, its host and its relay (holding); node `b`
/// holds the first activation and a lane that reaches a's relay.
struct reverse_nodes {
  caf::actor_system_config cfg_a;
  caf::actor_system a{configure(cfg_a)};
  caf::actor_system_config cfg_b;
  caf::actor_system b{configure(cfg_b)};
  caf::actor relay_a = a.spawn(holding_relay);
  caf::actor lane_b = spawn_lane(b);
  caf::actor first_b = b.spawn(activation_stub, std::string{"first"}, lane_b);
  caf::actor first;  // its proxy on a
  caf::actor second = a.spawn(activation_stub, std::string{"second"}, caf::actor{});
  caf::actor host;
  caf::actor conn;
  std::shared_ptr<recording_transport> out = std::make_shared<recording_transport>();
  caf::scoped_actor self{a};

  reverse_nodes() {
    auto port = a.middleman().publish(relay_a, 0, "127.0.0.1");
    REQUIRE(port);
    auto proxy = b.middleman().remote_actor("127.0.0.1", *port);
    REQUIRE(proxy);
    auto view = std::make_shared<cluster_view>();
    view->self = "b";
    view->hosts["a"] = *proxy;
    caf::anon_send(lane_b, members_atom::value, std::shared_ptr<const cluster_view>(view));
    caf::anon_send(*proxy, caf::put_atom::value, first_b);
    self->request(relay_a, answer_within, caf::get_atom::value)
      .receive([&](caf::actor s) { first = std::move(s); },
               [&](caf::error& e) { FAIL("relay: " << a.render(e)); });
    REQUIRE(first);
    REQUIRE(first.node() != a.node());
    host = a.spawn(host_stub, std::vector<caf::actor>{first, second});
    connection_init init;
    init.session_key = "chat/room";
    init.client_id = "c1";
    init.params_json = "{}";
    init.out = out;
    init.host = host;
    init.max_message_rate = 0;
    conn = spawn_connection(a, std::move(init));
  }

  ~reverse_nodes() {
    for (const auto& x : {conn, host, second, relay_a})
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    for (const auto& x : {lane_b, first_b}) caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  }

  std::uint64_t joined(const caf::actor& activation) {
    std::uint64_t last_seq = ~std::uint64_t{0};
    self->request(activation, answer_within, wait_atom::value)
      .receive([&](std::uint64_t s) { last_seq = s; },
               [&](caf::error& e) { FAIL("join: " << a.render(e)); });
    return last_seq;
  }

  void ask(const caf::actor& whom, caf::message m) {
    self->request(whom, answer_within, std::move(m))
      .receive([](bool) {}, [&](caf::error& e) { FAIL("request: " << a.render(e)); });
  }
};

}  // namespace

TEST_CASE("a session's frames held in the relay while its down message overtakes them are "
          "neither lost nor delivered twice",
          "[lane]") {
  reverse_nodes n;
  REQUIRE(n.joined(n.first) == 0);
  // The first activation sends seqs 1-5 through its node's lane; they wait
  // in the connection's node's relay. Then it goes down (not a failure: a
  // node that left, a lease lost), and its down message reaches the
  // connection directly.
  n.ask(n.first, caf::make_message(send_atom::value, std::uint64_t{1}, std::uint64_t{5}));
  n.ask(n.relay_a, caf::make_message(wait_atom::value, std::size_t{5}));
  caf::anon_send_exit(n.first_b, caf::exit_reason::user_shutdown);
  // The connection re-resolves and joins the next activation with the last
  // seq it delivered: none of the held frames.
  REQUIRE(n.joined(n.second) == 0);

  SECTION("the held frames arrive after the next activation's") {
    n.ask(n.second, caf::make_message(send_atom::value, std::uint64_t{1}, std::uint64_t{5}));
    n.ask(n.relay_a, caf::make_message(release_atom::value));
  }
  SECTION("the held frames arrive before the next activation's") {
    n.ask(n.relay_a, caf::make_message(release_atom::value));
    n.ask(n.second, caf::make_message(send_atom::value, std::uint64_t{1}, std::uint64_t{5}));
  }
  // A last frame, sent after both: the connection's mailbox has passed every
  // held frame when it is delivered.
  n.ask(n.second, caf::make_message(send_atom::value, std::uint64_t{6}, std::uint64_t{6}));
  std::vector<std::string> want;
  for (std::uint64_t seq = 1; seq <= 6; ++seq) want.push_back(frame_of(seq, "second"));
  CHECK(n.out->wait_for(frame_of(6, "second")) == want);
  CHECK(n.out->closed().empty());
}
