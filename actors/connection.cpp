#include "actors/connection.hpp"

#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"

namespace skein {

namespace {

struct connection_state {
  static inline const char* name = "skein.connection";
  connection_init init;
  caf::actor session;                 // set once resolved
  std::vector<std::string> pending;   // inputs received before resolution
};

using connection_actor = caf::stateful_actor<connection_state>;

caf::behavior connection_fun(connection_actor* self, connection_init init) {
  self->state.init = std::move(init);
  auto& st = self->state;
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source != st.session.address()) return;
    st.init.out->close(1012, "session restarted; reconnect to resume");
    self->quit();
  });
  self->request(st.init.host, st.init.resolve_timeout, resolve_atom::value, st.init.session_key)
    .then(
      [self](caf::actor session) {
        auto& st = self->state;
        st.session = session;
        self->monitor(session);
        auto me = caf::actor_cast<caf::actor>(self);
        self->send(session, join_atom::value, st.init.client_id, st.init.params_json, me);
        for (auto& text : st.pending)
          self->send(session, message_atom::value, st.init.client_id, std::move(text));
        st.pending.clear();
      },
      [self](caf::error& err) {
        auto& st = self->state;
        auto why = self->system().render(err);
        spdlog::warn("connection {}: cannot resolve {}: {}", st.init.client_id,
                     st.init.session_key, why);
        st.init.out->close(1011, "session unavailable: " + why);
        self->quit(err);
      });
  return {
    [self](message_atom, std::string& text) {
      auto& st = self->state;
      if (st.session) {
        self->send(st.session, message_atom::value, st.init.client_id, std::move(text));
        return;
      }
      if (st.pending.size() >= st.init.max_pending) {
        st.init.out->close(1008, "too many messages before the session was reached");
        self->quit();
        return;
      }
      st.pending.push_back(std::move(text));
    },
    [self](leave_atom) {
      auto& st = self->state;
      if (st.session) self->send(st.session, leave_atom::value, st.init.client_id);
      self->quit();
    },
    [self](frame_atom, std::string& frame) { self->state.init.out->deliver(std::move(frame)); },
  };
}

}  // namespace

caf::actor spawn_connection(caf::actor_system& sys, connection_init init) {
  return sys.spawn(connection_fun, std::move(init));
}

}  // namespace skein
