#include "runtime/session_host.hpp"

#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/events.hpp"
#include "actors/metrics.hpp"
#include "actors/recovery.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"
#include "persistence/store.hpp"
#include "runtime/placement.hpp"

namespace skein {

bool split_session_key(std::string_view key, std::string& kind, std::string& id) {
  if (key.size() > 512) return false;
  for (unsigned char ch : key)
    if (ch < 0x20 || ch == 0x7f) return false;
  auto slash = key.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == key.size()) return false;
  kind = std::string(key.substr(0, slash));
  id = std::string(key.substr(slash + 1));
  return true;
}

namespace {

struct waiting_resolve {
  caf::response_promise promise;
  std::string key;
};

struct peer {
  member_address address;
  caf::actor handle;                 // set while connected
  std::string url;                   // its HTTP base URL, learned on connect
  bool connecting = false;
  std::vector<waiting_resolve> waiting;
};

struct host_state {
  static inline const char* name = "skein.session_host";
  host_init init;
  std::vector<std::string> members;            // all names, for HRW
  std::map<std::string, peer> peers;           // by name
  std::map<std::string, caf::actor> directory; // key -> local activation
};

using host_actor = caf::stateful_actor<host_state>;

caf::error host_error(std::string text) {
  return caf::make_error(caf::sec::runtime_error, std::move(text));
}

void publish_counts(host_actor* self) {
  auto& st = self->state;
  int connected = 0;
  for (auto& [_, p] : st.peers) connected += p.handle ? 1 : 0;
  st.init.status->peers_connected = connected;
  st.init.status->active_sessions = static_cast<int>(st.directory.size());
  metrics().sessions.store(static_cast<std::int64_t>(st.directory.size()));
}

void connect_peer(host_actor* self, const std::string& name);

void schedule_reconnect(host_actor* self, const std::string& name) {
  self->delayed_send(self, self->state.init.reconnect_interval, retry_atom::value, name);
}

void peer_up(host_actor* self, const std::string& name, caf::actor handle, std::string url) {
  auto& p = self->state.peers[name];
  p.handle = std::move(handle);
  p.url = std::move(url);
  self->monitor(p.handle);
  spdlog::info("peer {} connected ({})", name, p.url);
  events().publish({{"type", "member_up"}, {"member", name}, {"url", p.url}});
  metrics().membership_changes.fetch_add(1, std::memory_order_relaxed);
  for (auto& w : p.waiting) w.promise.delegate(p.handle, resolve_atom::value, w.key, true);
  p.waiting.clear();
  publish_counts(self);
}

// Exactly one side of each pair dials: the member with the smaller name.
// CAF 0.17 handles two nodes dialing each other at once badly (two BASP
// connections for one pair, one of them torn down with its proxies), so the
// dialer introduces itself with (hello, name, url, host) and the other side
// learns the dialer's host handle from that message.
bool dials(const host_actor* self, const std::string& peer_name) {
  return self->state.init.self_name < peer_name;
}

void connect_peer(host_actor* self, const std::string& name) {
  auto& p = self->state.peers[name];
  if (p.handle || p.connecting || !dials(self, name)) return;
  p.connecting = true;
  auto mm = self->system().middleman().actor_handle();
  auto retry = [self, name](caf::error&) {
    self->state.peers[name].connecting = false;
    schedule_reconnect(self, name);
  };
  self->request(mm, std::chrono::seconds(5), caf::connect_atom::value, p.address.host,
                p.address.cluster_port)
    .then(
      [self, name, retry](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
        auto handle = caf::actor_cast<caf::actor>(ptr);
        if (!handle) {
          caf::error none;
          retry(none);
          return;
        }
        auto& st = self->state;
        auto me = caf::actor_cast<caf::actor>(self);
        self->request(handle, std::chrono::seconds(5), hello_atom::value, st.init.self_name,
                      st.init.self_url, me)
          .then(
            [self, name, handle](std::string& remote_name, std::string& url) {
              auto& p = self->state.peers[name];
              p.connecting = false;
              if (remote_name != name) {
                spdlog::error("member {} at {}:{} calls itself {}; check --peers", name,
                              p.address.host, p.address.cluster_port, remote_name);
                schedule_reconnect(self, name);
                return;
              }
              peer_up(self, name, handle, std::move(url));
            },
            retry);
      },
      retry);
}

caf::result<caf::actor> activate(host_actor* self, const std::string& key,
                                 const std::string& kind, const std::string& id) {
  auto& st = self->state;
  if (auto i = st.directory.find(key); i != st.directory.end()) return i->second;
  session_init init;
  try {
    init.recovered = recover_session(*st.init.store, *st.init.registry, key);
  } catch (const std::exception& e) {
    // Bad data for this session only: refuse it, keep serving the others.
    spdlog::error("refusing to activate {}: {}", key, e.what());
    return host_error("cannot activate " + key + ": " + e.what());
  }
  if (init.recovered.replayed > 0)
    spdlog::debug("session {} recovered: {} journal entries replayed", key,
                  init.recovered.replayed);
  init.key = key;
  init.id = id;
  init.epoch = init.recovered.epoch + 1;
  const auto init_epoch = init.epoch;
  init.options = st.init.registry->options(kind);
  init.committer = st.init.committer;
  auto session = spawn_session(self->system(), std::move(init));
  self->monitor(session);
  st.directory.emplace(key, session);
  metrics().activations.fetch_add(1, std::memory_order_relaxed);
  events().publish({{"type", "session_activated"}, {"session", key}, {"epoch", init_epoch}});
  publish_counts(self);
  return session;
}

caf::result<caf::actor> resolve(host_actor* self, const std::string& key, bool forwarded) {
  auto& st = self->state;
  std::string kind, id;
  if (!split_session_key(key, kind, id)) return host_error("malformed session key '" + key + "'");
  if (!st.init.registry->contains(kind)) return host_error("unknown session kind '" + kind + "'");
  auto owner = hrw_owner(key, st.members);
  if (owner == st.init.self_name || forwarded) return activate(self, key, kind, id);
  auto& p = st.peers[owner];
  auto rp = self->make_response_promise();
  if (p.handle) {
    rp.delegate(p.handle, resolve_atom::value, key, true);
  } else {
    if (p.waiting.size() >= 65536) return host_error("owner " + owner + " unreachable");
    p.waiting.push_back({rp, key});
    connect_peer(self, owner);
  }
  return rp;
}

std::string status_json(host_actor* self) {
  auto& st = self->state;
  nlohmann::json members = nlohmann::json::array();
  members.push_back({{"name", st.init.self_name}, {"url", st.init.self_url},
                     {"connected", true}, {"self", true}});
  for (auto& [name, p] : st.peers)
    members.push_back({{"name", name}, {"url", p.url}, {"connected", static_cast<bool>(p.handle)},
                       {"self", false}});
  nlohmann::json sessions = nlohmann::json::array();
  for (auto& [key, _] : st.directory) sessions.push_back(key);
  return nlohmann::json{{"node", st.init.self_name}, {"url", st.init.self_url},
                        {"members", members}, {"sessions", sessions}}
    .dump();
}

caf::behavior host_fun(host_actor* self, host_init init) {
  auto& st = self->state;
  st.init = std::move(init);
  st.members.push_back(st.init.self_name);
  for (auto& m : st.init.peers) {
    st.members.push_back(m.name);
    st.peers[m.name].address = m;
  }
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto i = st.directory.begin(); i != st.directory.end(); ++i)
      if (i->second.address() == dm.source) {
        events().publish({{"type", "session_stopped"}, {"session", i->first}});
        st.directory.erase(i);
        publish_counts(self);
        return;
      }
    for (auto& [name, p] : st.peers)
      if (p.handle && p.handle.address() == dm.source) {
        spdlog::warn("peer {} went down: {}", name, self->system().render(dm.reason));
        events().publish({{"type", "member_down"}, {"member", name}});
        metrics().membership_changes.fetch_add(1, std::memory_order_relaxed);
        p.handle = nullptr;
        publish_counts(self);
        schedule_reconnect(self, name);
        return;
      }
  });
  self->set_exit_handler([self](caf::exit_msg& em) {
    for (auto& [_, s] : self->state.directory) self->send_exit(s, em.reason);
    self->quit(em.reason);
  });
  for (auto& [name, _] : st.peers) connect_peer(self, name);
  publish_counts(self);
  return {
    [self](resolve_atom, const std::string& key) { return resolve(self, key, false); },
    [self](resolve_atom, const std::string& key, bool forwarded) {
      return resolve(self, key, forwarded);
    },
    [self](retry_atom, const std::string& name) { connect_peer(self, name); },
    [self](status_atom) { return status_json(self); },
    [self](hello_atom, const std::string& name, std::string& url,
           caf::actor handle) -> caf::result<std::string, std::string> {
      auto& st = self->state;
      auto i = st.peers.find(name);
      if (i == st.peers.end() || dials(self, name))
        return host_error("unexpected hello from '" + name + "'");
      if (i->second.handle) self->demonitor(i->second.handle);
      peer_up(self, name, std::move(handle), std::move(url));
      return {st.init.self_name, st.init.self_url};
    },
    [self](info_atom) {
      return std::make_tuple(self->state.init.self_name, self->state.init.self_url);
    },
  };
}

}  // namespace

caf::actor spawn_session_host(caf::actor_system& sys, host_init init) {
  return sys.spawn(host_fun, std::move(init));
}

}  // namespace skein
