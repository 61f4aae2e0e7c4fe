// Poison inputs (actors/poison.hpp): find_poison() names the input whose
// handler crashes, throws or hangs, without harm to this process; recovery
// lists pending journal entries and skips quarantined ones; the journal
// record's status survives its codec.
#include <catch2/catch.hpp>

#include <csignal>
#include <stdexcept>

#include "actors/apply.hpp"
#include "actors/poison.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "persistence/records.hpp"

using namespace skein;

namespace {

struct crash_state {
  std::uint64_t count = 0;
  MSGPACK_DEFINE(count);
};

struct crash_kind {
  using state_type = crash_state;
  void on_open(context<crash_state>&, const client&) {}
  void on_message(context<crash_state>& ctx, const client&, const json& m) {
    const auto op = m.value("op", std::string{});
    if (op == "segv") std::raise(SIGSEGV);
    if (op == "throw") throw std::logic_error("asked to throw");  // a rejection, not poison
    if (op == "throw_int") throw 42;  // not a std::exception: poison
    if (op == "hang")
      for (volatile bool spin = true; spin;) {
      }
    ctx.state().count += 1;
    ctx.broadcast({{"count", ctx.state().count}});
  }
  void on_close(context<crash_state>&, const client&) {}
};

behaviour_registry registry() {
  behaviour_registry r;
  r.add<crash_kind>("crashy");
  return r;
}

persistence::journal_record message(const std::string& text, std::uint64_t cseq) {
  auto rec = make_input(input_kind::message, "c1", "{}", text);
  rec.token = 7;
  rec.cseq = cseq;
  rec.status = persistence::input_status::pending;
  return rec;
}

std::vector<std::pair<std::uint64_t, persistence::journal_record>> pending(
    std::initializer_list<const char*> texts) {
  std::vector<std::pair<std::uint64_t, persistence::journal_record>> out;
  std::uint64_t j = 1;
  for (auto t : texts) out.emplace_back(j, message(t, j)), ++j;
  return out;
}

std::uint64_t count_of(behaviour_instance& b) {
  // The state's first msgpack element is the count: apply one inc and read
  // its broadcast instead of decoding bytes.
  auto rec = make_input(input_kind::message, "probe", "{}", R"({"op":"inc"})");
  auto outs = apply_input(b, rec, "p", false, 1);
  return outs.at(0).data.at("count").get<std::uint64_t>() - 1;
}

}  // namespace

TEST_CASE("find_poison names the input whose handler kills the process", "[poison]") {
  auto r = registry();
  auto logic = r.create("crashy");
  auto v = find_poison(*logic, pending({R"({"op":"inc"})", R"({"op":"segv"})", R"({"op":"inc"})"}), "p",
                       std::chrono::seconds(5));
  REQUIRE(v.index);
  CHECK(*v.index == 1);
  CHECK(v.why.find("signal 11") != std::string::npos);
  CHECK(count_of(*logic) == 0);  // the child's increments stayed in the child
}

TEST_CASE("find_poison names a handler that throws or hangs and passes innocent inputs", "[poison]") {
  auto r = registry();
  auto logic = r.create("crashy");
  // A std::exception rejects its input (apply_input), it does not crash anything.
  auto rejected = find_poison(*logic, pending({R"({"op":"throw"})", R"({"op":"inc"})"}), "p",
                              std::chrono::seconds(5));
  CHECK_FALSE(rejected.index);
  auto thrown = find_poison(*logic, pending({R"({"op":"throw_int"})"}), "p", std::chrono::seconds(5));
  REQUIRE(thrown.index);
  CHECK(*thrown.index == 0);
  CHECK(thrown.why == "its handler threw");

  auto hung = find_poison(*logic, pending({R"({"op":"inc"})", R"({"op":"hang"})"}), "p",
                          std::chrono::milliseconds(300));
  REQUIRE(hung.index);
  CHECK(*hung.index == 1);
  CHECK(hung.why.find("longer than 300 ms") != std::string::npos);

  auto fine = find_poison(*logic, pending({R"({"op":"inc"})", "not json", R"({"op":"inc"})"}), "p",
                          std::chrono::seconds(5));
  CHECK_FALSE(fine.index);
  CHECK(fine.why.empty());
}

TEST_CASE("recovery lists pending entries and skips quarantined ones", "[poison]") {
  auto r = registry();
  persistence::session_records records;
  auto applied = make_input(input_kind::message, "c1", "{}", R"({"op":"inc"})");
  applied.token = 7;
  applied.cseq = 1;
  applied.last_seq = 1;
  applied.outputs = 1;
  records.journal.emplace_back(1, applied);
  auto q = message(R"({"op":"segv"})", 2);
  q.status = persistence::input_status::quarantined;
  q.outputs = 1;
  q.last_seq = 2;
  records.journal.emplace_back(2, q);
  records.journal.emplace_back(3, message(R"({"op":"inc"})", 3));
  records.journal.emplace_back(4, message(R"({"op":"inc"})", 4));
  auto out = recover_session(records, r, "crashy/p");
  CHECK(out.journal_seq == 2);
  CHECK(out.seq == 2);
  CHECK(out.replayed == 1);
  REQUIRE(out.pending.size() == 2);
  CHECK(out.pending[0].first == 3);
  CHECK(out.pending[1].first == 4);
  REQUIRE(out.quarantined.size() == 1);
  CHECK(out.quarantined[0] == poison_fingerprint(q));
  // The pending inputs count for their client's delivery: re-sends are duplicates.
  CHECK(out.delivery.classify("c1", 7, 4, 0) == delivery_table::verdict::duplicate);
  CHECK(out.delivery.classify("c1", 7, 5, 0) == delivery_table::verdict::apply);
  CHECK(count_of(*out.logic) == 1);

  // A handled entry after a pending one cannot come from one activation.
  records.journal.emplace_back(5, applied);
  CHECK_THROWS_AS(recover_session(records, r, "crashy/p"), recovery_error);
}

TEST_CASE("journal status round-trips and old 13-element records still decode", "[poison][persistence]") {
  auto rec = message("x", 1);
  for (auto s : {persistence::input_status::applied, persistence::input_status::pending,
                 persistence::input_status::quarantined}) {
    rec.status = s;
    CHECK(persistence::decode_journal(persistence::encode(rec), "k") == rec);
  }
  rec.status = persistence::input_status::applied;
  auto bytes = persistence::encode(rec);
  CHECK(static_cast<unsigned char>(bytes[0]) == 0x9d);  // fixarray of 13: unchanged for applied inputs
  auto bad = bytes;
  bad[0] = static_cast<char>(0x9e);  // 14 elements...
  bad += '\x07';                     // ...the 14th a status that does not exist
  CHECK_THROWS_AS(persistence::decode_journal(bad, "k"), persistence::record_error);
}
