#include "actors/session.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "persistence/committer.hpp"
#include "persistence/records.hpp"
#include "persistence/store.hpp"

namespace skein {

std::string make_frame(std::uint64_t seq, const json& data) {
  json frame = json::object();
  frame["seq"] = seq;
  frame["data"] = data;
  return frame.dump();
}

namespace {

std::int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Frames of one input, held back until its checkpoint commits.
struct gated_output {
  std::uint64_t commit = 0;
  std::vector<std::pair<std::vector<caf::actor>, std::string>> frames;  // recipients, frame
};

struct member {
  client info;
  caf::actor conn;
};

struct session_state {
  static inline const char* name = "skein.session";
  session_init init;
  std::map<std::string, member> clients;  // by client id
  std::deque<gated_output> gate;
  std::uint64_t next_commit = 1;
  std::string last_snapshot;              // state bytes of the last checkpoint
  std::mt19937_64 seeder{std::random_device{}()};
};

using session_actor = caf::stateful_actor<session_state>;

std::map<std::string, std::string> parse_params(const std::string& text) {
  std::map<std::string, std::string> out;
  auto j = json::parse(text, nullptr, false);
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

/// Assigns seqs to `outputs`, checkpoints the state and holds the frames
/// in the output gate until the checkpoint commits.
void emit(session_actor* self, std::vector<output> outputs, std::int64_t now_ms) {
  auto& st = self->state;
  gated_output out;
  out.commit = st.next_commit++;
  for (auto& o : outputs) {
    std::vector<caf::actor> to;
    if (o.target.empty()) {
      for (auto& [_, m] : st.clients) to.push_back(m.conn);
    } else if (auto i = st.clients.find(o.target); i != st.clients.end()) {
      to.push_back(i->second.conn);
    }
    out.frames.emplace_back(std::move(to), make_frame(++st.init.seq, o.data));
  }
  st.last_snapshot = st.init.logic->snapshot();
  persistence::write_batch batch;
  batch.put_snapshot(st.init.key, persistence::snapshot_record{st.init.seq, st.init.epoch,
                                                               now_ms, st.last_snapshot});
  st.gate.push_back(std::move(out));
  auto me = caf::actor_cast<caf::actor>(self);
  st.init.committer->submit(std::move(batch), [me, id = st.gate.back().commit](
                                                  const std::string& error) {
    caf::anon_send(me, committed_atom::value, id, error);
  });
}

json error_event(const std::string& message) {
  return json{{"type", "error"}, {"message", message}};
}

/// Runs one input through the behaviour, then emits what it produced.
void run_input(session_actor* self, input_kind kind, const client& c, const json& msg) {
  auto& st = self->state;
  effects fx;
  fx.now_ms = wall_clock_ms();
  fx.random_state = st.seeder();
  try {
    st.init.logic->handle(kind, c, msg, fx, st.init.id);
  } catch (const std::exception& e) {
    // bad_input, json errors, or a bug in the behaviour: the input is
    // rejected as a whole. Handlers may have mutated state before throwing,
    // so go back to the last checkpointed state.
    const bool expected = dynamic_cast<const bad_input*>(&e) != nullptr
                          || dynamic_cast<const json::exception*>(&e) != nullptr;
    if (!expected)
      spdlog::warn("session {}: handler threw: {}", st.init.key, e.what());
    st.init.logic->restore(st.last_snapshot);
    fx.outputs.clear();
    if (kind == input_kind::message) fx.outputs.push_back({c.id, error_event(e.what())});
  }
  emit(self, std::move(fx.outputs), fx.now_ms);
}

void drop_client(session_actor* self, const std::string& client_id) {
  auto& st = self->state;
  auto i = st.clients.find(client_id);
  if (i == st.clients.end()) return;
  member m = std::move(i->second);
  st.clients.erase(i);
  self->demonitor(m.conn);
  run_input(self, input_kind::close, m.info, json{});
}

caf::behavior session_fun(session_actor* self, session_init init) {
  self->state.init = std::move(init);
  self->state.last_snapshot = self->state.init.logic->snapshot();
  self->set_down_handler([self](caf::down_msg& dm) {
    for (auto& [id, m] : self->state.clients)
      if (m.conn.address() == dm.source) {
        auto client_id = id;
        drop_client(self, client_id);
        return;
      }
  });
  return {
    [self](join_atom, std::string client_id, std::string params, caf::actor conn) {
      auto& st = self->state;
      if (auto i = st.clients.find(client_id); i != st.clients.end())
        self->demonitor(i->second.conn);
      self->monitor(conn);
      member m{client{client_id, parse_params(params)}, conn};
      auto info = m.info;
      st.clients[client_id] = std::move(m);
      run_input(self, input_kind::open, info, json{});
    },
    [self](message_atom, const std::string& client_id, const std::string& text) {
      auto& st = self->state;
      auto i = st.clients.find(client_id);
      if (i == st.clients.end()) {
        spdlog::warn("session {}: message from unknown client {}", st.init.key, client_id);
        return;
      }
      auto msg = json::parse(text, nullptr, false);
      if (msg.is_discarded()) {
        emit(self, {output{client_id, error_event("malformed JSON")}}, wall_clock_ms());
        return;
      }
      auto info = i->second.info;
      run_input(self, input_kind::message, info, msg);
    },
    [self](leave_atom, const std::string& client_id) { drop_client(self, client_id); },
    [self](committed_atom, std::uint64_t id, const std::string& error) {
      auto& st = self->state;
      if (!error.empty()) {
        // The checkpoint did not reach disk: nothing it gated may be released.
        spdlog::error("session {}: checkpoint failed, stopping: {}", st.init.key, error);
        self->quit(caf::make_error(caf::sec::runtime_error, "checkpoint failed: " + error));
        return;
      }
      while (!st.gate.empty() && st.gate.front().commit <= id) {
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
