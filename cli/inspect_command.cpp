// `inspect --data DIR [--session kind/id | --records] [--json]`: what a node's store
// holds, read-only (works beside a running node).
#include <iostream>

#include <nlohmann/json.hpp>

#include "actors/registry.hpp"
#include "actors/session_key.hpp"
#include "cli/commands.hpp"
#include "cli/state_json.hpp"
#include "persistence/errors.hpp"
#include "persistence/keys.hpp"
#include "persistence/store.hpp"

namespace skein::cli {

namespace {

using json = nlohmann::json;

json summary_json(const persistence::session_summary& s) {
  auto opt = [](const std::optional<std::uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  return json{{"session", s.key},
              {"snapshots", s.snapshots},
              {"newest_snapshot", opt(s.newest_snapshot_journal_seq)},
              {"epoch", s.epoch},
              {"journal", {opt(s.journal_first), opt(s.journal_last)}},
              {"outbox", {opt(s.outbox_first), opt(s.outbox_last)}},
              {"bytes", s.bytes},
              {"errors", s.errors}};
}

void print_summary_line(const persistence::session_summary& s) {
  auto range = [](const std::optional<std::uint64_t>& a, const std::optional<std::uint64_t>& b) {
    return a ? std::to_string(*a) + ".." + std::to_string(*b) : std::string("-");
  };
  std::cout << s.key << "  journal " << range(s.journal_first, s.journal_last) << "  outbox "
            << range(s.outbox_first, s.outbox_last) << "  snapshots " << s.snapshots
            << "  epoch " << s.epoch << "  bytes " << s.bytes;
  if (!s.errors.empty()) std::cout << "  ERRORS " << s.errors.size();
  std::cout << '\n';
  for (auto& e : s.errors) std::cout << "  error: " << e << '\n';
}

/// Every record of one session; a section that fails to decode shows the error.
json session_records(const persistence::store& store, const std::string& key,
                     const behaviour_registry& registry) {
  json out = summary_json(store.summarize(key));
  // Field names describe the current layout: only states of that version get them.
  std::vector<std::string> names;
  int version_now = 1;
  if (auto parsed = session_key::parse(key))
    if (auto logic = registry.create(parsed->kind())) {
      names = logic->field_names();
      version_now = logic->state_version();
    }
  auto state_of = [&](const persistence::snapshot_record& s) {
    const int v = s.state_version <= 1 ? 1 : static_cast<int>(s.state_version);
    return state_as_json(s.state, v == version_now ? names : std::vector<std::string>{});
  };
  auto section = [&](const char* name, auto load) {
    try {
      out[name] = load();
    } catch (const std::exception& e) {
      out[name] = json{{"error", e.what()}};
    }
  };
  section("snapshot_records", [&] {
    json arr = json::array();
    for (auto& s : store.load_snapshots(key))
      arr.push_back({{"journal_seq", s.journal_seq}, {"seq", s.seq}, {"epoch", s.epoch},
                     {"time_ms", s.time_ms}, {"state", state_of(s)}});
    return arr;
  });
  section("journal_records", [&] {
    json arr = json::array();
    for (auto& [seq, r] : store.load_journal(key))
      arr.push_back({{"journal_seq", seq}, {"client", r.client}, {"input", r.kind_of_input},
                     {"payload", json_or_text(r.payload)}, {"time_ms", r.time_ms},
                     {"random", r.random}, {"epoch", r.epoch}, {"last_seq", r.last_seq},
                     {"outputs", r.outputs},
                     {"state_hash", r.state_hash != 0 ? json(r.state_hash) : json(nullptr)},
                     {"status", r.status == persistence::input_status::applied   ? "applied"
                                : r.status == persistence::input_status::pending ? "pending"
                                                                                 : "quarantined"}});
    return arr;
  });
  section("outbox_records", [&] {
    json arr = json::array();
    for (auto& [seq, r] : store.load_outbox(key))
      arr.push_back({{"seq", seq}, {"target", r.target}, {"data", json_or_text(r.data)}});
    return arr;
  });
  return out;
}

}  // namespace

int run_inspect(const inspect_args& args, const behaviour_registry& registry) {
  persistence::store store{persistence::store_options{args.data, false, true}};
  bool bad = false;
  if (!args.session.empty()) {
    auto out = session_records(store, args.session, registry);
    bad = !out["errors"].empty();
    std::cout << (args.json ? out.dump() : out.dump(2)) << '\n';
    return bad ? 4 : 0;
  }
  for (auto& key : store.session_keys()) {
    if (args.records) {
      auto out = session_records(store, key, registry);
      bad = bad || !out["errors"].empty();
      std::cout << (args.json ? out.dump() : out.dump(2)) << '\n';
      continue;
    }
    auto s = store.summarize(key);
    bad = bad || !s.errors.empty();
    if (args.json) std::cout << summary_json(s).dump() << '\n';
    else print_summary_line(s);
  }
  return bad ? 4 : 0;
}

}  // namespace skein::cli
