// State upgrades (issue 16, item 5): a checkpoint written by the old state
// struct (bytes kept below, as the old binary encoded them) loads through a
// behaviour whose state changed, the journal after it replays, and a
// version newer than the binary's is a clear activation error.
#include <catch2/catch.hpp>

#include "actors/apply.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "persistence/records.hpp"

using namespace skein;

namespace {

// Version 1 (unversioned): the struct as the old binary had it.
struct tally_v1 {
  std::int64_t value = 0;
  MSGPACK_DEFINE(value);
};

// Version 2 puts a label first: the old bytes no longer convert directly.
struct tally_v2 {
  std::string label;
  std::int64_t value = 0;
  MSGPACK_DEFINE(label, value);
};

struct tally {
  using state_type = tally_v2;
  static constexpr int state_version = 2;
  static tally_v2 upgrade(std::string_view old_bytes, int from_version) {
    REQUIRE(from_version == 1);
    tally_v1 old;
    msgpack::unpack(old_bytes.data(), old_bytes.size()).get().convert(old);
    return tally_v2{"upgraded", old.value};
  }
  void on_message(context<tally_v2>& ctx, const client&, const json& m) {
    ctx.state().value += m.at("add").get<std::int64_t>();
    ctx.broadcast({{"label", ctx.state().label}, {"value", ctx.state().value}});
  }
};

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

// A snapshot record as the old binary wrote it (7 elements, no state
// version): [2, seq 3, journal_seq 3, epoch 1, time 1700000000000,
// state bin([41]) i.e. value = 41, delivery []].
const char* old_snapshot_hex = "9702030301cf0000018bcfe56800c402912990";

}  // namespace

TEST_CASE("a checkpoint of the old state struct loads through upgrade() and the journal replays",
          "[upgrade]") {
  behaviour_registry r;
  r.add<tally>("tally");
  auto snap = persistence::decode_snapshot(unhex(old_snapshot_hex), "tally/a");
  CHECK(snap.state_version == 0);
  CHECK(snap.journal_seq == 3);

  // Without the upgrade the old bytes do not fit the new struct.
  CHECK_THROWS(r.create("tally")->restore(snap.state));

  persistence::session_records records;
  records.snapshots.push_back(snap);
  auto in = make_input(input_kind::message, "c1", "{}", R"({"add":1})");
  in.last_seq = 4;
  in.outputs = 1;
  records.journal.emplace_back(4, in);
  auto out = recover_session(records, r, "tally/a");
  CHECK(out.journal_seq == 4);
  // The next input sees the upgraded state plus the replayed journal entry.
  auto next = make_input(input_kind::message, "c1", "{}", R"({"add":0})");
  auto outs = apply_input(*out.logic, next, "a", false, 1);
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].data == json{{"label", "upgraded"}, {"value", 42}});

  // A snapshot written now records version 2 and round-trips through the codec.
  persistence::snapshot_record now{5, 5, 1, 0, out.logic->snapshot(), {},
                                   static_cast<std::uint32_t>(out.logic->state_version())};
  auto back = persistence::decode_snapshot(persistence::encode(now), "tally/a");
  CHECK(back.state_version == 2);
  CHECK(back == now);
  // Unversioned records still encode as before (7 elements): old binaries read them.
  CHECK(persistence::encode(snap) == unhex(old_snapshot_hex));
}

TEST_CASE("a state version newer than the binary's is an activation error", "[upgrade]") {
  behaviour_registry r;
  r.add<tally>("tally");
  persistence::session_records records;
  auto snap = persistence::decode_snapshot(unhex(old_snapshot_hex), "tally/a");
  snap.state_version = 3;
  records.snapshots.push_back(snap);
  try {
    recover_session(records, r, "tally/a");
    FAIL("recovered a state from the future");
  } catch (const recovery_error& e) {
    CHECK(std::string(e.what()).find("state version 3 is newer than this binary's (2)")
          != std::string::npos);
  }
}
