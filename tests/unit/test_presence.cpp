// Presence without CAF: skein::presence_set (skein/presence.hpp), the
// presence demo kind through apply_input (on_open, on_resume, on_close,
// who), the open clients the runtime keeps (actors/timers.hpp) and their
// recovery from a snapshot plus the journal.
#include <catch2/catch.hpp>

#include <msgpack.hpp>

#include "actors/apply.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "examples/counter/counter.hpp"
#include "examples/presence/presence.hpp"
#include "persistence/store_actor.hpp"
#include "skein/presence.hpp"

using namespace skein;
using persistence::journal_record;

namespace {

behaviour_registry registry() {
  behaviour_registry r;
  r.add<examples::presence_room>("presence");
  r.add<examples::counter>("counter");
  return r;
}

std::string params_of(const std::string& user) { return "{\"user\":\"" + user + "\"}"; }

/// One live input: its outputs' data, in order.
std::vector<json> run(behaviour_instance& b, input_kind kind, const std::string& client,
                      const std::string& user, const std::string& text = {},
                      journal_record* journaled = nullptr) {
  auto rec = make_input(kind, client, params_of(user), text);
  rec.time_ms = 1000;
  std::vector<json> out;
  for (auto& o : apply_input(b, rec, "room", false, 7)) out.push_back(o.data);
  if (journaled) *journaled = rec;
  return out;
}

json join(const std::string& u) { return {{"type", "join"}, {"user", u}}; }
json leave(const std::string& u) { return {{"type", "leave"}, {"user", u}}; }

}  // namespace

TEST_CASE("presence_set: one presence per user, counted by connection", "[presence]") {
  presence_set p;
  CHECK(p.add("ann", "c1"));
  CHECK_FALSE(p.add("ann", "c2"));   // a second tab: no second join
  CHECK_FALSE(p.add("ann", "c1"));   // the same client again (on_resume): nothing
  CHECK_FALSE(p.add("bob", "c1"));   // a client has one user
  CHECK(p.add("bob", "c3"));
  CHECK(p.connections("ann") == 2);
  CHECK(p.users() == std::vector<std::string>{"ann", "bob"});
  CHECK(p.remove("c1").empty());     // ann still has c2
  CHECK(p.online("ann"));
  CHECK(p.remove("c1").empty());     // unknown now: nothing
  CHECK(p.remove("c2") == "ann");
  CHECK_FALSE(p.online("ann"));
  CHECK(p.users() == std::vector<std::string>{"bob"});

  msgpack::sbuffer buf;
  msgpack::pack(buf, p);
  presence_set back;
  msgpack::unpack(buf.data(), buf.size()).get().convert(back);
  CHECK(back == p);
  CHECK(back.connections("bob") == 1);
}

TEST_CASE("the presence kind: join, leave, who, an idempotent on_resume", "[presence]") {
  auto r = registry();
  auto b = r.create("presence");
  REQUIRE(b->has_on_resume());
  CHECK_FALSE(r.create("counter")->has_on_resume());

  auto out = run(*b, input_kind::open, "c1", "ann");
  REQUIRE(out.size() == 2);
  CHECK(out[0] == join("ann"));
  CHECK(out[1] == json{{"type", "members"}, {"users", {"ann"}}});
  out = run(*b, input_kind::open, "c2", "ann");  // ann's second tab
  REQUIRE(out.size() == 1);
  CHECK(out[0]["type"] == "members");
  CHECK(run(*b, input_kind::open, "c3", "bob")[0] == join("bob"));
  CHECK(run(*b, input_kind::resume, "c3", "bob").empty());  // present already: no flapping
  CHECK(run(*b, input_kind::close, "c1", "ann").empty());   // ann still has c2
  CHECK(run(*b, input_kind::close, "c2", "ann") == std::vector<json>{leave("ann")});
  CHECK(run(*b, input_kind::resume, "c2", "ann") == std::vector<json>{join("ann")});
  out = run(*b, input_kind::message, "c3", "bob", R"({"type":"who"})");
  REQUIRE(out.size() == 1);
  CHECK(out[0] == json{{"type", "members"}, {"users", {"ann", "bob"}}});
  out = run(*b, input_kind::message, "c3", "bob", R"({"type":"shout"})");
  REQUIRE(out.size() == 1);
  CHECK(out[0]["type"] == "error");
}

TEST_CASE("the runtime keeps the open clients, recovery rebuilds them", "[presence][timers]") {
  auto r = registry();
  auto b = r.create("presence");
  persistence::session_records recs;
  journal_record rec;
  std::uint64_t jseq = 0;
  auto step = [&](input_kind k, const std::string& c, const std::string& u) {
    run(*b, k, c, u, {}, &rec);
    rec.status = persistence::input_status::applied;
    rec.last_seq = ++jseq;
    recs.journal.emplace_back(jseq, rec);
  };
  step(input_kind::open, "c1", "ann");
  step(input_kind::open, "c2", "bob");
  step(input_kind::close, "c1", "ann");
  step(input_kind::resume, "c1", "ann");
  step(input_kind::close, "c2", "bob");
  CHECK(rec.kind_of_input == "close");
  REQUIRE(b->runtime.clients().size() == 1);
  CHECK(b->runtime.clients().at("c1") == params_of("ann"));

  // The runtime element round-trips with its clients (and without: old text).
  auto text = b->runtime.encode();
  CHECK(session_runtime::decode(text) == b->runtime);
  CHECK(session_runtime::decode(R"({"next_id":1,"timers":[],"tells":[]})").clients().empty());
  CHECK_THROWS_AS(session_runtime::decode(R"({"next_id":1,"timers":[],"tells":[],"clients":{"c":1}})"),
                  std::invalid_argument);

  // Recovery from the journal alone, and from a snapshot of the middle.
  auto whole = recover_session(recs, r, "presence/room");
  CHECK(whole.logic->runtime.clients() == b->runtime.clients());
  CHECK(whole.logic->snapshot() == b->snapshot());

  auto mid = r.create("presence");
  for (int i = 0; i < 2; ++i) {
    auto in = recs.journal[i].second;
    apply_input(*mid, in, "room", true, 0);
  }
  persistence::session_records later;
  later.snapshots.push_back(persistence::snapshot_record{2, 2, 0, 0, mid->snapshot(), {}, 0,
                                                         mid->runtime.encode()});
  later.journal.assign(recs.journal.begin() + 2, recs.journal.end());
  auto from_snapshot = recover_session(later, r, "presence/room");
  CHECK(from_snapshot.logic->runtime.clients() == b->runtime.clients());
  CHECK(from_snapshot.logic->snapshot() == b->snapshot());
}
