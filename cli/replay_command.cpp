// `replay --data DIR --session kind/id [--from SEQ] [--at SEQ] [--json] [--check-state]`:
// re-executes a session's journal against the compiled behaviour, from the
// snapshot before --from, and prints one line per step: journal seq, input,
// outputs, state diff (RFC 6902 JSON Patch of the state rendered as JSON).
// A step whose outputs differ from the recorded outbox, a behaviour that
// draws more random values than recorded, or a state that differs from a
// snapshot taken at the same point is a divergence: exit code 3. With
// --check-state, so is a state whose hash differs from the state hash
// journaled with the input (kind option check_state); the final line names
// the first divergent journal seq. A session
// the data dir does not hold is an error (exit 1). When the journal no
// longer reaches back to the start (trimmed after a clean stop), replay
// starts from the snapshot it continues from and says so on stderr; stdout
// carries only the steps (with --json: only JSON lines).
#include <iostream>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "actors/apply.hpp"
#include "actors/registry.hpp"
#include "actors/session_key.hpp"
#include "cli/commands.hpp"
#include "cli/state_json.hpp"
#include "persistence/store.hpp"

namespace skein::cli {

namespace {
using json = nlohmann::json;
}

int run_replay(const replay_args& args, const behaviour_registry& registry) {
  const auto parsed = session_key::parse(args.session);
  if (!parsed)
    throw std::invalid_argument("--session wants kind/id: " + session_key::why_invalid(args.session));
  const std::string kind(parsed->kind()), id(parsed->id());
  auto logic = registry.create(kind);
  if (!logic) throw std::invalid_argument("unknown session kind '" + kind + "' in this binary");
  persistence::store store{persistence::store_options{args.data, false, true}};
  const auto& key = args.session;

  // Where to start: the snapshot before --from, or (no --from) the oldest
  // point the journal still covers.
  auto journal = store.load_journal(key);
  auto snapshots = store.load_snapshots(key);
  if (journal.empty() && snapshots.empty())
    throw std::invalid_argument("no session " + key + " in " + args.data
                                + " (no journal and no snapshot; `inspect --data` lists the sessions)");
  std::uint64_t from = args.from;
  if (from == 0) from = journal.empty() ? 1 : journal.front().first;
  std::uint64_t jseq = 0, seq = 0;
  auto start_at = [&](const persistence::snapshot_record& snap) {
    logic->restore(snap.state, static_cast<int>(snap.state_version));
    logic->runtime = session_runtime::decode(snap.runtime);  // timers: same ids as live
    jseq = snap.journal_seq;
    seq = snap.seq;
  };
  if (from > 1)
    if (auto snap = store.load_snapshot_at_or_before(key, from - 1)) start_at(*snap);
  if (args.from == 0 && !snapshots.empty()
      && (journal.empty() || journal.front().first > jseq + 1)) {
    // The journal no longer covers the start (trimmed after a clean stop):
    // the newest snapshot the journal continues from (or the newest) is the start.
    const persistence::snapshot_record* use = &snapshots.back();
    for (auto& s : snapshots)
      if (!journal.empty() && s.journal_seq + 1 >= journal.front().first) { use = &s; break; }
    start_at(*use);
    std::cerr << "note: the journal of " << key << " does not reach back to the start; replaying "
              << "from the snapshot at journal seq " << jseq << '\n';
  }
  if (!journal.empty() && journal.front().first > jseq + 1)
    throw std::runtime_error("cannot replay " + key + " from " + std::to_string(from)
                             + ": the journal starts at " + std::to_string(journal.front().first)
                             + " and no snapshot precedes it");
  std::map<std::uint64_t, persistence::outbox_record> outbox;
  for (auto& [s, r] : store.load_outbox(key, seq + 1)) outbox.emplace(s, std::move(r));

  // The state_version a snapshot written by this binary records (0: unversioned).
  const auto version_now = static_cast<std::uint32_t>(logic->state_version() > 1 ? logic->state_version() : 0);
  std::uint64_t divergences = 0, hashed = 0;
  std::optional<std::uint64_t> first_divergence;
  const auto names = logic->field_names();
  json state = state_as_json(logic->snapshot(), names);
  for (auto& [js, rec] : journal) {
    if (js <= jseq) continue;
    if (args.at != 0 && js > args.at) break;
    if (js != jseq + 1)
      throw std::runtime_error("journal gap in " + key + ": expected " + std::to_string(jseq + 1)
                               + ", found " + std::to_string(js));
    if (rec.status != persistence::input_status::applied) {
      // Never applied: a poison input quarantined (its error event is an
      // output), or one still pending when the store was read.
      const bool q = rec.status == persistence::input_status::quarantined;
      json step{{"journal_seq", js},
                {"input", {{"kind", rec.kind_of_input}, {"client", rec.client},
                           {"payload", json_or_text(rec.payload)}}},
                {"status", q ? "quarantined" : "pending"}};
      if (args.json) std::cout << step.dump() << '\n';
      else std::cout << "#" << js << " " << rec.kind_of_input << " from " << rec.client << ": "
                     << (q ? "QUARANTINED (its handler crashed a node), not applied"
                           : "PENDING (not handled yet), not applied") << '\n';
      jseq = js;
      if (q) seq = rec.last_seq;
      continue;
    }
    std::string divergence;
    std::vector<output> outs;
    try {
      outs = apply_input(*logic, rec, id, true);
    } catch (const std::exception& e) {
      divergence = e.what();
    }
    json replayed = json::array();
    for (std::size_t i = 0; i < outs.size(); ++i)
      replayed.push_back({{"seq", seq + 1 + i}, {"target", outs[i].target}, {"data", outs[i].data}});
    if (divergence.empty() && outs.size() != rec.outputs)
      divergence = "replay produced " + std::to_string(outs.size()) + " outputs, the journal recorded "
                   + std::to_string(rec.outputs);
    for (std::size_t i = 0; divergence.empty() && i < outs.size(); ++i) {
      auto r = outbox.find(seq + 1 + i);
      if (r == outbox.end()) continue;  // compacted: nothing to compare with
      if (r->second.target != outs[i].target || json_or_text(r->second.data) != outs[i].data)
        divergence = "output seq " + std::to_string(seq + 1 + i) + " differs: recorded "
                     + r->second.data + ", replayed " + outs[i].data.dump();
    }
    json after = state_as_json(logic->snapshot(), names);
    if (args.check_state && rec.state_hash != 0) {
      ++hashed;
      if (divergence.empty() && state_hash(logic->snapshot()) != rec.state_hash)
        divergence = "state differs from the one journaled with this input (its state hash): "
                     "replayed " + after.dump();
    }
    // A snapshot recorded at this step: the re-executed state must equal it.
    if (divergence.empty())
      for (auto& s : snapshots)
        if (s.journal_seq == js && s.state_version == version_now && s.state != logic->snapshot())
          divergence = "state differs from the snapshot recorded at journal seq " + std::to_string(js)
                       + ": recorded " + state_as_json(s.state, names).dump() + ", replayed " + after.dump();
    json step{{"journal_seq", js},
              {"input", {{"kind", rec.kind_of_input}, {"client", rec.client},
                         {"payload", json_or_text(rec.payload)}, {"time_ms", rec.time_ms},
                         {"random", rec.random}}},
              {"outputs", replayed},
              {"diff", json::diff(state, after)},
              {"divergence", divergence.empty() ? json(nullptr) : json(divergence)}};
    if (args.json) {
      std::cout << step.dump() << '\n';
    } else {
      std::cout << "#" << js << " " << rec.kind_of_input << " from " << rec.client << ": "
                << step["input"]["payload"].dump() << " -> " << replayed.dump()
                << " | diff " << step["diff"].dump() << '\n';
      if (!divergence.empty()) std::cout << "  DIVERGENCE: " << divergence << '\n';
    }
    if (!divergence.empty()) {
      ++divergences;
      if (!first_divergence) first_divergence = js;
    }
    state = std::move(after);
    jseq = js;
    seq = rec.last_seq;
  }

  // Compare the final state with a snapshot taken at the same point, if any.
  json snapshot_match = nullptr;
  if (auto snap = store.load_snapshot_at_or_before(key, jseq); snap && snap->journal_seq == jseq) {
    // A snapshot of an older state version holds other bytes for the same state.
    bool same = snap->state_version != version_now || snap->state == logic->snapshot();
    snapshot_match = same;
    if (!same) ++divergences;
  }
  if (args.check_state && hashed == 0)
    throw std::runtime_error("--check-state: no replayed input of " + key
                             + " carries a state hash (set the kind option check_state=on)");
  json final_line{{"final", true},         {"session", key},
                  {"journal_seq", jseq},   {"seq", seq},
                  {"state", state},        {"snapshot_match", snapshot_match},
                  {"divergences", divergences},
                  {"first_divergence", first_divergence ? json(*first_divergence) : json(nullptr)},
                  {"state_checked", args.check_state ? json(hashed) : json(nullptr)}};
  if (args.json) {
    std::cout << final_line.dump() << std::endl;
  } else {
    std::cout << "final state at journal seq " << jseq << ": " << state.dump()
              << "\nsnapshot match: " << snapshot_match.dump() << "; divergences: " << divergences;
    if (first_divergence) std::cout << " (first at journal seq " << *first_divergence << ")";
    if (args.check_state) std::cout << "; state hashes checked: " << hashed;
    std::cout << std::endl;
  }
  return divergences > 0 ? 3 : 0;
}

}  // namespace skein::cli
