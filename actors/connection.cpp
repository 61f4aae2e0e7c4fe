#include "actors/connection.hpp"

#include <charconv>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"

namespace skein {

namespace {

using clock = std::chrono::steady_clock;

struct connection_state {
  static inline const char* name = "skein.connection";
  connection_init init;
  caf::actor session;                 // the attached activation
  std::vector<std::string> pending;   // inputs received while detached
  std::uint64_t next_cseq = 1;
  std::uint64_t last_seq = 0;         // highest event seq handed to the transport
  bool attached_once = false;
  bool resolving = false;
  clock::time_point detached_since = clock::now();
};

using connection_actor = caf::stateful_actor<connection_state>;

void resolve(connection_actor* self);

void send_message(connection_actor* self, std::string text) {
  auto& st = self->state;
  self->send(st.session, message_atom::value, st.init.client_id, st.next_cseq++, std::move(text));
}

void attach(connection_actor* self, caf::actor session) {
  auto& st = self->state;
  if (st.session) self->demonitor(st.session);
  st.session = std::move(session);
  self->monitor(st.session);
  const bool resume = st.attached_once || st.init.resume;
  const bool fresh = st.next_cseq == 1;  // nothing sent yet: the session restarts our numbering
  st.attached_once = true;
  auto me = caf::actor_cast<caf::actor>(self);
  self->send(st.session, join_atom::value, st.init.client_id, st.init.params_json, me,
             st.last_seq, resume, fresh);
  auto pending = std::move(st.pending);
  st.pending.clear();
  for (auto& text : pending) send_message(self, std::move(text));
}

void detach_and_retry(connection_actor* self, const std::string& why) {
  auto& st = self->state;
  if (st.session) self->demonitor(st.session);
  st.session = nullptr;
  if (clock::now() - st.detached_since > st.init.reattach_timeout) {
    st.init.out->close(1012, "session unavailable (" + why + "); reconnect to resume");
    self->quit();
    return;
  }
  self->delayed_send(self, std::chrono::milliseconds(200), retry_atom::value);
}

void resolve(connection_actor* self) {
  auto& st = self->state;
  if (st.resolving) return;
  st.resolving = true;
  self->request(st.init.host, st.init.resolve_timeout, resolve_atom::value, st.init.session_key)
    .then(
      [self](caf::actor session) {
        self->state.resolving = false;
        attach(self, std::move(session));
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.resolving = false;
        auto why = self->system().render(err);
        if (is(err, skein_error::unrecoverable) || is(err, skein_error::unknown_kind)
            || is(err, skein_error::malformed_key)) {
          spdlog::warn("connection {}: {}: {}", st.init.client_id, st.init.session_key, why);
          st.init.out->close(1011, "session unavailable: " + why);
          self->quit(err);
          return;
        }
        detach_and_retry(self, why);
      });
}

std::uint64_t seq_of(const std::string& frame) {
  // Frames start with {"seq":N
  constexpr std::string_view prefix = "{\"seq\":";
  std::uint64_t seq = 0;
  if (frame.compare(0, prefix.size(), prefix) == 0)
    std::from_chars(frame.data() + prefix.size(), frame.data() + frame.size(), seq);
  return seq;
}

caf::behavior connection_fun(connection_actor* self, connection_init init) {
  auto& st = self->state;
  st.init = std::move(init);
  st.last_seq = st.init.last_seq;
  if (st.init.welcome)
    st.init.out->deliver(nlohmann::json{{"seq", 0},
                                      {"data", {{"type", "welcome"},
                                                {"client", st.init.client_id},
                                                {"node", st.init.node_name}}}}
                         .dump());
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (!st.session || dm.source != st.session.address()) return;
    // The activation died (its node crashed or froze, or it was fenced):
    // messages in flight to it may be lost, so the client must know. It
    // reconnects with ?client=&last_seq= and gets what it missed.
    st.init.out->close(1012, "session restarting; reconnect with client and last_seq to resume");
    self->quit();
  });
  resolve(self);
  return {
    [self](message_atom, std::string& text) {
      auto& st = self->state;
      if (st.session) return send_message(self, std::move(text));
      if (st.pending.size() >= st.init.max_pending) {
        st.init.out->close(1008, "too many messages while the session was unreachable");
        self->quit();
        return;
      }
      st.pending.push_back(std::move(text));
    },
    [self](leave_atom) {
      auto& st = self->state;
      if (st.session)
        self->send(st.session, leave_atom::value, st.init.client_id, st.next_cseq,
                   caf::actor_cast<caf::actor>(self));
      self->quit();
    },
    [self](frame_atom, std::string& frame) {
      auto& st = self->state;
      auto seq = seq_of(frame);
      if (seq != 0 && seq <= st.last_seq) return;  // already delivered (resume overlap)
      if (seq > st.last_seq) st.last_seq = seq;
      st.init.out->deliver(std::move(frame));
    },
    [self](moved_atom, caf::actor& successor) {
      auto& st = self->state;
      if (successor == st.session) return;
      attach(self, std::move(successor));
    },
    [self](retry_atom) { resolve(self); },
    [self](shutdown_atom, bool now) {
      // The node stops: let acks already on their way arrive, then close
      // with 1001 so the client resumes on another node.
      if (!now) {
        self->delayed_send(self, std::chrono::milliseconds(300), shutdown_atom::value, true);
        return;
      }
      self->state.init.out->close(1001, "node stopping; reconnect with client and last_seq");
    },
  };
}

}  // namespace

caf::actor spawn_connection(caf::actor_system& sys, connection_init init) {
  return sys.spawn(connection_fun, std::move(init));
}

}  // namespace skein
