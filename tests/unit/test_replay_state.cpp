// `replay --check-state` and field names (issue 16, items 6 and 8):
//  - the journal's optional state_hash element round-trips, and records
//    without it (older journals) still decode;
//  - a behaviour that reads a global (nondeterministic) diverges only in its
//    state: plain replay cannot see it (no output, no snapshot), with
//    --check-state replay names the first input whose state hash differs
//    and exits 3; without any journaled hash --check-state is an error;
//  - a state that declares field_names is printed as an object by replay
//    and inspect; one that does not stays an array.
#include <catch2/catch.hpp>

#include <array>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "actors/apply.hpp"
#include "actors/registry.hpp"
#include "cli/commands.hpp"
#include "persistence/store.hpp"
#include "persistence/write_batch.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace skein;
namespace fs = std::filesystem;

namespace {

/// Bumped by every nondet message, live or replayed: not part of any state.
int global_calls = 0;

struct drift_state {
  std::int64_t x = 0;
  std::string last;
  MSGPACK_DEFINE(x, last);
};

/// {"op":"det"} adds 1; {"op":"nondet"} adds a process-wide counter (the bug).
struct drift {
  using state_type = drift_state;
  void on_message(context<drift_state>& ctx, const client&, const json& msg) {
    auto& s = ctx.state();
    s.last = msg.at("op").get<std::string>();
    s.x += s.last == "det" ? 1 : ++global_calls;
  }
};

struct named_state {
  std::int64_t x = 0;
  std::string last;
  MSGPACK_DEFINE(x, last);
  static constexpr std::array field_names{"x", "last"};
};

struct named {
  using state_type = named_state;
  void on_message(context<named_state>& ctx, const client&, const json& msg) {
    ctx.state().x += 1;
    ctx.state().last = msg.at("op").get<std::string>();
  }
};

struct temp_dir : skein::test::temp_dir {
  temp_dir() : skein::test::temp_dir("skein-replay-state") {}
};

behaviour_registry kinds() {
  behaviour_registry r;
  r.add<drift>("drift");
  r.add<named>("named");
  return r;
}

/// Applies `ops` to kind/k as the live session does and journals them, with
/// the state hash after each when `hash` (what kind option check_state does).
void write_session(const fs::path& dir, const std::string& kind, const std::vector<std::string>& ops,
                   bool hash) {
  auto r = kinds();
  auto logic = r.create(kind);
  persistence::store s{persistence::store_options{dir.string()}};
  persistence::write_batch b;
  std::uint64_t i = 0;
  for (auto& op : ops) {
    auto rec = make_input(input_kind::message, "c1", "{}", json{{"op", op}}.dump());
    rec.time_ms = 1000 + static_cast<std::int64_t>(i);
    auto outs = apply_input(*logic, rec, "k", false, 7);
    REQUIRE(outs.empty());
    if (hash) rec.state_hash = state_hash(logic->snapshot());
    b.put_journal(kind + "/k", ++i, rec);
  }
  s.write(b);
}

struct run_result {
  int code = 0;
  std::vector<json> lines;
  json final_line;
};

run_result replay(const fs::path& dir, const std::string& session, bool check_state) {
  auto r = kinds();
  cli::replay_args a;
  a.data = dir.string();
  a.session = session;
  a.json = true;
  a.check_state = check_state;
  std::ostringstream sink;
  auto* old = std::cout.rdbuf(sink.rdbuf());
  run_result out;
  try {
    out.code = cli::run_replay(a, r);
  } catch (...) {
    std::cout.rdbuf(old);
    throw;
  }
  std::cout.rdbuf(old);
  std::istringstream lines(sink.str());
  for (std::string line; std::getline(lines, line);) {
    auto j = json::parse(line);
    if (j.contains("final")) out.final_line = j;
    else out.lines.push_back(j);
  }
  return out;
}

}  // namespace

TEST_CASE("journal state_hash round-trips; records without it still decode", "[replay][persistence]") {
  using namespace persistence;
  journal_record j;
  j.client = "c1";
  j.kind_of_input = "message";
  j.payload = "{}";
  j.state_hash = 0x1234567890abcdefULL;
  CHECK(decode_journal(encode(j), "k") == j);
  j.status = input_status::pending;  // with a status other than applied too
  CHECK(decode_journal(encode(j), "k") == j);
  journal_record plain = j;
  plain.state_hash = 0;
  plain.status = input_status::applied;
  const auto bytes = encode(plain);
  CHECK(decode_journal(bytes, "k") == plain);  // 13 elements: the layout before the hash
  CHECK(encode(j).size() > bytes.size());
  // A hash of 0 is written by omission; a written 0 is malformed. The hash is
  // the last element, a uint64 (0xcf + 8 bytes): replace it with fixint 0.
  auto zero = encode(j);
  REQUIRE(static_cast<unsigned char>(zero[zero.size() - 9]) == 0xcf);
  zero.resize(zero.size() - 9);
  zero.push_back('\0');
  CHECK_THROWS_AS(decode_journal(zero, "k"), record_error);
  CHECK(state_hash("") != 0);
  CHECK(state_hash("a") != state_hash("b"));
}

TEST_CASE("check_state is a kind option", "[replay]") {
  kind_options o;
  CHECK_FALSE(o.check_state);
  set_kind_option(o, "check_state", "on");
  CHECK(o.check_state);
  set_kind_option(o, "check_state", "off");
  CHECK_FALSE(o.check_state);
  CHECK_THROWS_AS(set_kind_option(o, "check_state", "maybe"), std::invalid_argument);
}

TEST_CASE("replay --check-state finds the first input whose state differs", "[replay]") {
  temp_dir d;
  write_session(d.path, "drift", {"det", "det", "nondet", "det", "nondet"}, true);
  // Without --check-state nothing shows it: no output, no snapshot to compare.
  auto plain = replay(d.path, "drift/k", false);
  CHECK(plain.code == 0);
  CHECK(plain.final_line.at("divergences") == 0);

  auto checked = replay(d.path, "drift/k", true);
  CHECK(checked.code == 3);
  CHECK(checked.final_line.at("first_divergence") == 3);
  CHECK(checked.final_line.at("state_checked") == 5);
  REQUIRE(checked.lines.size() == 5);
  CHECK(checked.lines[0].at("divergence").is_null());
  CHECK(checked.lines[1].at("divergence").is_null());
  CHECK_THAT(checked.lines[2].at("divergence").get<std::string>(), Catch::Contains("state hash"));
}

TEST_CASE("replay --check-state of a deterministic session matches", "[replay]") {
  temp_dir d;
  write_session(d.path, "drift", {"det", "det", "det"}, true);
  auto checked = replay(d.path, "drift/k", true);
  CHECK(checked.code == 0);
  CHECK(checked.final_line.at("first_divergence").is_null());
  CHECK(checked.final_line.at("state_checked") == 3);
}

TEST_CASE("replay --check-state without journaled hashes is an error", "[replay]") {
  temp_dir d;
  write_session(d.path, "drift", {"det", "nondet"}, false);
  CHECK_THROWS_WITH(replay(d.path, "drift/k", true), Catch::Contains("check_state=on"));
}

TEST_CASE("replay and inspect print declared field names", "[replay]") {
  temp_dir d;
  write_session(d.path, "named", {"a", "b"}, false);
  write_session(d.path, "drift", {"det"}, false);
  auto r = replay(d.path, "named/k", false);
  CHECK(r.final_line.at("state") == json{{"x", 2}, {"last", "b"}});
  CHECK(r.lines.at(0).at("diff").dump().find("/x") != std::string::npos);
  // A state without field_names stays an array.
  CHECK(replay(d.path, "drift/k", false).final_line.at("state") == json::array({1, "det"}));

  // inspect: a snapshot of the named kind is an object.
  {
    auto reg = kinds();
    auto logic = reg.create("named");
    json op{{"op", "z"}};
    auto rec = make_input(input_kind::message, "c1", "{}", op.dump());
    apply_input(*logic, rec, "k", false, 1);
    persistence::store s{persistence::store_options{d.path.string()}};
    persistence::write_batch b;
    b.put_snapshot("named/k", {0, 2, 1, 0, logic->snapshot(), {}});
    s.write(b);
  }
  cli::inspect_args a;
  a.data = d.path.string();
  a.session = "named/k";
  a.json = true;
  std::ostringstream sink;
  auto* old = std::cout.rdbuf(sink.rdbuf());
  int code = cli::run_inspect(a, kinds());
  std::cout.rdbuf(old);
  CHECK(code == 0);
  auto out = json::parse(sink.str());
  CHECK(out.at("snapshot_records").at(0).at("state") == json{{"x", 1}, {"last", "z"}});
}
