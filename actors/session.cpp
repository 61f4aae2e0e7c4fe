#include "actors/session.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/apply.hpp"
#include "actors/atoms.hpp"
#include "actors/metrics.hpp"
#include "persistence/committer.hpp"
#include "persistence/keys.hpp"
#include "persistence/records.hpp"
#include "persistence/store.hpp"

namespace skein {

namespace {

std::int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Frames of one input, held back until its batch commits.
struct gated_output {
  std::uint64_t commit = 0;
  std::chrono::steady_clock::time_point handled;  // when the input was handled
  std::vector<std::pair<std::vector<caf::actor>, std::string>> frames;  // recipients, frame
};

struct member {
  std::string params_json;
  caf::actor conn;
};

struct session_state {
  static inline const char* name = "skein.session";
  std::string key, id;
  std::shared_ptr<behaviour_instance> logic;
  std::uint64_t seq = 0;          // last event seq
  std::uint64_t journal_seq = 0;  // last journal seq
  std::uint64_t epoch = 0;
  kind_options options;
  persistence::committer* committer = nullptr;
  std::deque<snapshot_mark> snapshots;  // kept snapshots, oldest first
  std::uint32_t inputs_since_snapshot = 0;
  std::chrono::steady_clock::time_point last_snapshot = std::chrono::steady_clock::now();
  std::map<std::string, member> clients;  // by client id
  std::deque<gated_output> gate;
  std::uint64_t next_commit = 1;
  std::mt19937_64 seeder{std::random_device{}()};
};

using session_actor = caf::stateful_actor<session_state>;

/// Adds a snapshot and the retention deletes to `batch` when the policy
/// (or `force`) says so.
void maybe_snapshot(session_actor* self, persistence::write_batch& batch, bool force) {
  auto& st = self->state;
  if (st.inputs_since_snapshot == 0) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && st.inputs_since_snapshot < st.options.snapshot_every
      && now - st.last_snapshot < std::chrono::milliseconds(st.options.snapshot_interval_ms))
    return;
  batch.put_snapshot(st.key, persistence::snapshot_record{st.seq, st.journal_seq, st.epoch,
                                                          wall_clock_ms(), st.logic->snapshot()});
  st.snapshots.push_back({st.journal_seq, st.seq});
  st.inputs_since_snapshot = 0;
  st.last_snapshot = now;
  bool dropped = false;
  while (st.snapshots.size() > st.options.keep_snapshots) {
    batch.erase(persistence::column::snapshots,
                persistence::seq_key(st.key, st.snapshots.front().journal_seq));
    st.snapshots.pop_front();
    dropped = true;
  }
  if (!dropped && st.snapshots.size() > 1) return;
  // The journal up to the oldest kept snapshot is folded into it; the outbox
  // keeps what replay from that snapshot and resuming clients need.
  const auto& oldest = st.snapshots.front();
  batch.erase_range(persistence::column::journal, persistence::seq_key(st.key, 0),
                    persistence::seq_key(st.key, oldest.journal_seq + 1));
  std::uint64_t keep_from = st.seq > st.options.outbox_keep ? st.seq - st.options.outbox_keep : 0;
  std::uint64_t upto = std::min(oldest.seq, keep_from);
  if (upto > 0)
    batch.erase_range(persistence::column::outbox, persistence::seq_key(st.key, 0),
                      persistence::seq_key(st.key, upto + 1));
}

void submit(session_actor* self, persistence::write_batch batch, gated_output* gated) {
  auto& st = self->state;
  auto me = caf::actor_cast<caf::actor>(self);
  if (gated) {
    gated->commit = st.next_commit++;
    gated->handled = std::chrono::steady_clock::now();
    st.gate.push_back(std::move(*gated));
    st.committer->submit(std::move(batch), [me, id = st.gate.back().commit](
                                             const std::string& error) {
      caf::anon_send(me, committed_atom::value, id, error);
    });
  } else {
    st.committer->submit(std::move(batch), [me](const std::string& error) {
      if (!error.empty()) caf::anon_send(me, committed_atom::value, std::uint64_t{0}, error);
    });
  }
}

/// Journals one input, runs it, records and routes its outputs.
void handle_input(session_actor* self, input_kind kind, const std::string& client_id,
                  const std::string& params_json, const std::string& text) {
  auto& st = self->state;
  auto rec = make_input(kind, client_id, params_json, text);
  rec.time_ms = wall_clock_ms();
  rec.epoch = st.epoch;
  std::vector<output> outs;
  try {
    outs = apply_input(*st.logic, rec, st.id, false, st.seeder());
  } catch (const std::exception& e) {
    // A bug in the behaviour, not bad input: the in-memory state may be
    // half-changed, so this activation stops without journaling the input;
    // the next one recovers from the store.
    spdlog::error("session {}: handler failed, stopping activation: {}", st.key, e.what());
    self->quit(caf::make_error(caf::sec::runtime_error, std::string("handler failed: ") + e.what()));
    return;
  }
  persistence::write_batch batch;
  gated_output gated;
  for (auto& o : outs) {
    std::vector<caf::actor> to;
    if (o.target.empty()) {
      for (auto& [_, m] : st.clients) to.push_back(m.conn);
    } else if (auto i = st.clients.find(o.target); i != st.clients.end()) {
      to.push_back(i->second.conn);
    }
    auto data = o.data.dump();
    ++st.seq;
    gated.frames.emplace_back(std::move(to),
                              "{\"seq\":" + std::to_string(st.seq) + ",\"data\":" + data + "}");
    batch.put_outbox(st.key, st.seq, persistence::outbox_record{o.target, std::move(data)});
  }
  rec.outputs = static_cast<std::uint32_t>(outs.size());
  metrics().inputs.fetch_add(1, std::memory_order_relaxed);
  metrics().outbox_events.fetch_add(outs.size(), std::memory_order_relaxed);
  rec.last_seq = st.seq;
  batch.put_journal(st.key, ++st.journal_seq, rec);
  ++st.inputs_since_snapshot;
  maybe_snapshot(self, batch, false);
  if (st.options.durable == durability::none) {
    for (auto& [to, frame] : gated.frames)
      for (auto& conn : to) self->send(conn, frame_atom::value, frame);
    submit(self, std::move(batch), nullptr);
  } else {
    submit(self, std::move(batch), &gated);
  }
}

void drop_client(session_actor* self, const std::string& client_id) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return;
  member m = std::move(i->second);
  st.clients.erase(i);
  self->demonitor(m.conn);
  handle_input(self, input_kind::close, client_id, m.params_json, {});
}

caf::behavior session_fun(session_actor* self, session_init init) {
  auto& st = self->state;
  st.key = std::move(init.key);
  st.id = std::move(init.id);
  st.logic = std::move(init.recovered.logic);
  st.seq = init.recovered.seq;
  st.journal_seq = init.recovered.journal_seq;
  st.snapshots.assign(init.recovered.snapshots.begin(), init.recovered.snapshots.end());
  st.epoch = init.epoch;
  st.options = init.options;
  st.committer = init.committer;
  self->set_down_handler([self](caf::down_msg& dm) {
    for (auto& [id, m] : self->state.clients)
      if (m.conn.address() == dm.source) {
        auto client_id = id;
        drop_client(self, client_id);
        return;
      }
  });
  self->set_exit_handler([self](caf::exit_msg& em) {
    persistence::write_batch batch;
    maybe_snapshot(self, batch, true);
    if (!batch.empty()) submit(self, std::move(batch), nullptr);
    self->quit(em.reason);
  });
  return {
    [self](join_atom, const std::string& client_id, std::string& params, caf::actor& conn) {
      auto& st = self->state;
      if (auto i = st.clients.find(client_id); i != st.clients.end())
        self->demonitor(i->second.conn);
      self->monitor(conn);
      st.clients[client_id] = member{params, conn};
      handle_input(self, input_kind::open, client_id, params, {});
    },
    [self](message_atom, const std::string& client_id, const std::string& text) {
      auto& st = self->state;
      auto i = st.clients.find(client_id);
      if (i == st.clients.end()) {
        spdlog::warn("session {}: message from unknown client {}", st.key, client_id);
        return;
      }
      handle_input(self, input_kind::message, client_id, i->second.params_json, text);
    },
    [self](leave_atom, const std::string& client_id) { drop_client(self, client_id); },
    [self](committed_atom, std::uint64_t id, const std::string& error) {
      auto& st = self->state;
      if (!error.empty()) {
        // The batch did not reach disk: nothing it gated may be released.
        spdlog::error("session {}: commit failed, stopping: {}", st.key, error);
        self->quit(caf::make_error(caf::sec::runtime_error, "commit failed: " + error));
        return;
      }
      auto now = std::chrono::steady_clock::now();
      while (!st.gate.empty() && st.gate.front().commit <= id) {
        auto waited = std::chrono::duration_cast<std::chrono::microseconds>(
          now - st.gate.front().handled);
        metrics().commits.fetch_add(1, std::memory_order_relaxed);
        metrics().checkpoint_latency.observe(static_cast<std::uint64_t>(waited.count()));
        for (auto& [to, frame] : st.gate.front().frames)
          for (auto& conn : to) self->send(conn, frame_atom::value, frame);
        st.gate.pop_front();
      }
    },
  };
}

}  // namespace

caf::actor spawn_session(caf::actor_system& sys, session_init init) {
  return sys.spawn(session_fun, std::move(init));
}

}  // namespace skein
