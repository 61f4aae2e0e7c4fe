// Timers and tells without CAF: the snapshot element that carries them, the
// runtime bookkeeping (actors/timers.hpp), apply_input's effects and a
// recovery that rebuilds them from a snapshot plus the journal.
#include <catch2/catch.hpp>

#include <msgpack.hpp>

#include "actors/apply.hpp"
#include "actors/delivery.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "examples/auction/auction.hpp"
#include "examples/lobby/lobby.hpp"
#include "persistence/records.hpp"

using namespace skein;
using persistence::journal_record;
using persistence::snapshot_record;

namespace {

struct plain_state {
  int x = 0;
  MSGPACK_DEFINE(x);
};

behaviour_registry registry() {
  behaviour_registry r;
  r.add<examples::auction>("auction");
  r.add<examples::lobby>("lobby");
  r.add<examples::game>("game");
  return r;
}

/// One live input through apply_input at time `now`: the record as journaled.
journal_record live(behaviour_instance& b, journal_record rec, std::int64_t now,
                    std::vector<output>* outs = nullptr, const std::string& id = "a1") {
  rec.time_ms = now;
  auto o = apply_input(b, rec, id, false, 42);
  if (outs) *outs = std::move(o);
  return rec;
}

journal_record bid(const std::string& user, int amount, const std::string& close_ms = "") {
  std::string params = "{\"user\":\"" + user + "\"";
  if (!close_ms.empty()) params += ",\"close_ms\":\"" + close_ms + "\"";
  params += "}";
  return make_input(input_kind::message, user, params,
                    "{\"type\":\"bid\",\"amount\":" + std::to_string(amount) + "}");
}

}  // namespace

TEST_CASE("a snapshot carries the runtime element only when it has one", "[persistence][timers]") {
  snapshot_record s{3, 4, 5, 6, "state", {}};
  const auto plain = persistence::encode(s);
  auto h = msgpack::unpack(plain.data(), plain.size());
  CHECK(h.get().via.array.size == 7);  // what version 2 wrote before timers
  CHECK(persistence::decode_snapshot(plain, "k").runtime.empty());

  s.runtime = R"({"next_id":2,"tells":[],"timers":[[1,10,{}]]})";
  const auto with = persistence::encode(s);
  auto h2 = msgpack::unpack(with.data(), with.size());
  CHECK(h2.get().via.array.size == 9);  // state_version (0 here), then the runtime
  CHECK(persistence::decode_snapshot(with, "k") == s);
  s.state_version = 3;
  CHECK(persistence::decode_snapshot(persistence::encode(s), "k") == s);
  // Truncations of the new element still fail loudly.
  for (std::size_t n = 1; n < with.size(); ++n)
    CHECK_THROWS_AS(persistence::decode_snapshot(std::string_view(with).substr(0, n), "k"),
                    persistence::record_error);
}

TEST_CASE("the session runtime round-trips and rejects malformed text", "[actors][timers]") {
  session_runtime rt;
  CHECK(rt.encode().empty());
  effects fx;
  fx.next_id = 4;
  fx.timers.push_back({1, 1000, {{"x", 1}}});
  fx.timers.push_back({2, 500, nullptr});
  fx.tells.push_back({3, "game/g1", {{"type", "start"}}});
  rt.absorb(fx);
  CHECK(rt.next_id() == 4);
  CHECK(rt.earliest_due() == 500);
  auto back = session_runtime::decode(rt.encode());
  CHECK(back == rt);

  effects cancel;
  cancel.next_id = 4;
  cancel.cancels.push_back(2);
  rt.absorb(cancel);
  CHECK(rt.timers().size() == 1);
  CHECK(rt.fire(1));
  CHECK_FALSE(rt.fire(1));  // never twice
  CHECK(rt.ack(3));
  CHECK_FALSE(rt.ack(3));
  CHECK(session_runtime::decode(rt.encode()).next_id() == 4);

  for (const char* bad : {"[]", "{\"next_id\":0,\"timers\":[],\"tells\":[]}",
                          "{\"next_id\":2,\"timers\":[[2,1,{}]],\"tells\":[]}",   // id >= next_id
                          "{\"next_id\":3,\"timers\":[[1,1,{}]],\"tells\":[[1,\"a/b\",1]]}",
                          "{\"next_id\":3,\"timers\":[[1,\"x\",{}]],\"tells\":[]}",
                          "{\"next_id\":3,\"timers\":[],\"tells\":[[1,\"nokind\",1]]}",
                          "{\"next_id\":3,\"timers\":{},\"tells\":[]}", "not json"})
    CHECK_THROWS_AS(session_runtime::decode(bad), std::invalid_argument);
}

TEST_CASE("ctx.after/at/cancel/tell fill the effects; cancel of a timer set in the same call", "[actors][timers]") {
  plain_state state;
  effects fx;
  fx.now_ms = 1000;
  fx.next_id = 7;
  context<plain_state> ctx{state, fx, "s"};
  CHECK(ctx.after(250, {{"a", 1}}) == 7);
  CHECK(ctx.at(5000) == 8);
  CHECK(ctx.after(-5) == 9);
  ctx.cancel(8);
  ctx.cancel(3);
  ctx.tell("game/x", 1);
  CHECK_THROWS_AS(ctx.tell("nokind", 1), std::invalid_argument);
  REQUIRE(fx.timers.size() == 2);
  CHECK(fx.timers[0].due_ms == 1250);
  CHECK(fx.timers[1].due_ms == 1000);  // a negative delay is now
  CHECK(fx.cancels == std::vector<std::uint64_t>{3});
  REQUIRE(fx.tells.size() == 1);
  CHECK(fx.tells[0].id == 10);
  CHECK(fx.next_id == 11);
}

TEST_CASE("auction: the first bid sets the close timer, its firing closes once", "[actors][timers]") {
  auto r = registry();
  auto a = r.create("auction");
  std::vector<output> outs;
  live(*a, bid("ann", 5, "800"), 10'000, &outs);
  REQUIRE(a->runtime.timers().size() == 1);
  const auto [id, t] = *a->runtime.timers().begin();
  CHECK(t.due_ms == 10'800);
  live(*a, bid("bob", 7), 10'100);
  live(*a, bid("cid", 7), 10'200);       // a tie: the earlier bid wins
  CHECK(a->runtime.timers().size() == 1);  // later bids set no timer

  auto fire = make_timer_input(id, t.payload);
  CHECK(fire.kind_of_input == "timer");
  live(*a, fire, 10'801, &outs);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data == json{{"type", "closed"}, {"winner", "bob"}, {"amount", 7}});
  CHECK(a->runtime.timers().empty());
  CHECK(a->runtime.next_id() == id + 1);

  live(*a, bid("dan", 9), 11'000, &outs);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data["type"] == "error");
}

TEST_CASE("a rejected input sets no timer and sends no tell", "[actors][timers]") {
  auto r = registry();
  auto a = r.create("auction");
  std::vector<output> outs;
  live(*a, bid("ann", 5, "0"), 1000, &outs);  // close_ms out of range
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data["type"] == "error");
  CHECK(a->runtime.empty());
}

TEST_CASE("recovery rebuilds pending timers from the snapshot and the journal", "[actors][timers]") {
  auto r = registry();
  auto a = r.create("auction");
  persistence::session_records recs;
  // Snapshot after the first bid (its timer pending), journal: a second bid.
  auto first = live(*a, bid("ann", 5, "800"), 10'000);
  recs.snapshots.push_back(snapshot_record{1, 1, 1, 10'000, a->snapshot(), {}, 0, a->runtime.encode()});
  recs.journal.emplace_back(2, live(*a, bid("bob", 6), 10'100));
  auto rec = recover_session(recs, r, "auction/a1");
  CHECK(rec.logic->runtime == a->runtime);
  REQUIRE(rec.logic->runtime.timers().size() == 1);

  // ... and the firing in the journal removes it: it does not fire again.
  const auto id = a->runtime.timers().begin()->first;
  recs.journal.emplace_back(3, live(*a, make_timer_input(id, json::object()), 10'800));
  auto after = recover_session(recs, r, "auction/a1");
  CHECK(after.logic->runtime.timers().empty());
  CHECK(after.logic->snapshot() == a->snapshot());

  // A snapshot whose runtime text is malformed is a recovery error.
  recs.snapshots.back().runtime = "{\"next_id\":1}";
  CHECK_THROWS_AS(recover_session(recs, r, "auction/a1"), recovery_error);
}

TEST_CASE("lobby tells the game once; the game's delivery table drops a repeat", "[actors][timers]") {
  auto r = registry();
  auto lobby = r.create("lobby");
  auto join = [](const std::string& u) {
    return make_input(input_kind::message, u, "{\"user\":\"" + u + "\"}", "{\"type\":\"join\"}");
  };
  live(*lobby, join("ann"), 1, nullptr, "l1");
  CHECK(lobby->runtime.tells().empty());
  live(*lobby, join("bob"), 2, nullptr, "l1");
  REQUIRE(lobby->runtime.tells().size() == 1);
  const auto [tid, tell] = *lobby->runtime.tells().begin();
  CHECK(tell.target == "game/l1-1");

  auto game = r.create("game");
  delivery_table delivery;
  auto in = make_tell_input("lobby/l1", tid, tell.payload.dump());
  CHECK(in.client == "@lobby/l1");
  CHECK(in.msg_id == tid);
  std::vector<output> outs;
  CHECK(delivery.classify(in.client, 0, 0, in.msg_id) == delivery_table::verdict::apply);
  auto journaled = live(*game, in, 3, &outs, "l1-1");
  delivery.observe(journaled);  // as recovery does
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data["type"] == "start");
  CHECK(outs[0].data["from"] == "lobby/l1");
  CHECK(outs[0].data["starts"] == 1);
  CHECK(outs[0].data["players"] == json::array({"ann", "bob"}));
  // The lobby re-sends after a failover: the same id is a duplicate.
  CHECK(delivery.classify(in.client, 0, 0, tid) == delivery_table::verdict::duplicate);
  CHECK(delivery.classify(in.client, 0, 0, tid + 1) == delivery_table::verdict::apply);
}
