// `replay` (issue 16, item 8): an unknown session is an error, a state
// divergence is caught at the step whose recorded snapshot differs, and a
// journal trimmed after a clean stop starts from the snapshot.
#include <catch2/catch.hpp>

#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>

#include "actors/apply.hpp"
#include "actors/registry.hpp"
#include "cli/commands.hpp"
#include "examples/counter/counter.hpp"
#include "persistence/store.hpp"
#include "persistence/write_batch.hpp"

using namespace skein;
namespace fs = std::filesystem;

namespace {

struct replay_dir {
  fs::path path;
  replay_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("skein-replay-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~replay_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// Runs `adds` through a live counter and stores its journal (from
/// `first_kept`), outbox and a snapshot after input `snap_at` (whose state
/// is `tamper`ed if set). Returns the data dir.
void write_counter(const fs::path& dir, int adds, std::uint64_t snap_at, std::uint64_t first_kept,
                   bool tamper) {
  behaviour_registry r;
  r.add<examples::counter>("counter");
  auto logic = r.create("counter");
  persistence::store s{persistence::store_options{dir.string()}};
  persistence::write_batch b;
  std::uint64_t seq = 0;
  for (int i = 1; i <= adds; ++i) {
    auto rec = make_input(input_kind::message, "c1", "{}", R"({"op":"add","by":2})");
    rec.time_ms = 1000 + i;
    auto outs = apply_input(*logic, rec, "k", false, 7);
    for (auto& o : outs) b.put_outbox("counter/k", ++seq, {o.target, o.data.dump()});
    rec.outputs = static_cast<std::uint32_t>(outs.size());
    rec.last_seq = seq;
    if (static_cast<std::uint64_t>(i) >= first_kept) b.put_journal("counter/k", i, rec);
    if (static_cast<std::uint64_t>(i) == snap_at) {
      auto state = logic->snapshot();
      if (tamper) {
        auto other = r.create("counter");  // a state the replay will not reach: value 0
        state = other->snapshot();
      }
      b.put_snapshot("counter/k", {seq, snap_at, 1, 0, state, {}});
    }
  }
  s.write(b);
}

int replay(const fs::path& dir, const std::string& session, std::string* out = nullptr) {
  behaviour_registry r;
  r.add<examples::counter>("counter");
  cli::replay_args a;
  a.data = dir.string();
  a.session = session;
  a.json = true;
  std::ostringstream sink;
  auto* old = std::cout.rdbuf(sink.rdbuf());
  try {
    int code = cli::run_replay(a, r);
    std::cout.rdbuf(old);
    if (out) *out = sink.str();
    return code;
  } catch (...) {
    std::cout.rdbuf(old);
    throw;
  }
}

}  // namespace

TEST_CASE("replay refuses a session the data dir does not hold", "[replay]") {
  replay_dir d;
  write_counter(d.path, 3, 0, 1, false);
  CHECK(replay(d.path, "counter/k") == 0);
  CHECK_THROWS_WITH(replay(d.path, "counter/typo"), Catch::Contains("no session counter/typo"));
}

TEST_CASE("replay reports a state that differs from a recorded snapshot", "[replay]") {
  replay_dir d;
  write_counter(d.path, 4, 2, 1, true);
  CHECK(replay(d.path, "counter/k") == 3);
}

TEST_CASE("replay starts from the snapshot when the journal was trimmed", "[replay]") {
  replay_dir d;
  write_counter(d.path, 5, 5, 6, false);  // a clean stop: snapshot at 5, no journal left
  std::string out;
  CHECK(replay(d.path, "counter/k", &out) == 0);
  json final_line;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (auto j = json::parse(line, nullptr, false); j.is_object() && j.contains("final")) final_line = j;
  REQUIRE(final_line.is_object());
  CHECK(final_line.at("state") == json::array({10}));  // the snapshot's value, not a zero state
  CHECK(final_line.at("journal_seq") == 5);
  CHECK(final_line.at("snapshot_match") == true);
}
