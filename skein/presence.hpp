// <skein/presence.hpp>: who is online in a session, for a state to embed.
//
// skein::presence_set records, per user, the ids of that user's open
// clients (connections), so two tabs of one user are one presence: the user
// joins with the first connection and leaves with the last. It is a value
// (msgpack-serialisable, part of the state: checkpointed, recovered, replayed)
// and every operation is idempotent per client id, so running on_open and
// then on_resume for the same client (a resume after a failover or a
// handoff) changes nothing.
//
// The helpers below do the usual thing from a behaviour's handlers:
//
//   struct room_state { skein::presence_set who; MSGPACK_DEFINE(who); };
//   struct room {
//     using state_type = room_state;
//     void on_open(skein::context<room_state>& ctx, const skein::client& c) {
//       skein::presence_join(ctx, ctx.state().who, c);
//     }
//     void on_resume(skein::context<room_state>& ctx, const skein::client& c) {
//       skein::presence_join(ctx, ctx.state().who, c);
//     }
//     void on_close(skein::context<room_state>& ctx, const skein::client& c) {
//       skein::presence_leave(ctx, ctx.state().who, c);
//     }
//     void on_message(skein::context<room_state>& ctx, const skein::client& c,
//                     const skein::json& msg) {
//       if (!skein::presence_answer(ctx, ctx.state().who, c, msg))
//         throw skein::bad_input("unknown message");
//     }
//   };
//
// Events (JSON, broadcast to every client of the session or sent to one):
//   {"type":"join","user":U}          U's first connection opened or resumed
//   {"type":"leave","user":U}         U's last connection closed (or did not
//                                     resume after a failover in time)
//   {"type":"members","users":[...]}  answer to {"type":"who"}; sorted
// U is the client's `user` query parameter, which is the token's `sub`
// when client authentication is on; "anonymous" without either (or empty).
//
// Not thread-safe (a state is only touched by its session's handlers).
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "skein/behaviour.hpp"

namespace skein {

class presence_set {
 public:
  /// Client `client_id` of `user` is open. True if `user` was offline
  /// (it has just joined); false if it was online already or the client
  /// was already recorded (for any user: a client has one user).
  bool add(const std::string& user, const std::string& client_id) {
    if (user_of(client_id)) return false;
    auto& clients = users_[user];
    clients.insert(client_id);
    return clients.size() == 1;
  }

  /// Client `client_id` closed. Returns the user it belonged to if that
  /// user has no other open client now (it has just left), else "".
  /// An unknown client id changes nothing and returns "".
  std::string remove(const std::string& client_id) {
    for (auto u = users_.begin(); u != users_.end(); ++u)
      if (u->second.erase(client_id) > 0) {
        if (!u->second.empty()) return {};
        auto user = u->first;
        users_.erase(u);
        return user;
      }
    return {};
  }

  /// The user of an open client, or nullptr.
  const std::string* user_of(const std::string& client_id) const {
    for (const auto& [user, clients] : users_)
      if (clients.count(client_id)) return &user;
    return nullptr;
  }

  /// The online users, sorted.
  std::vector<std::string> users() const {
    std::vector<std::string> out;
    out.reserve(users_.size());
    for (const auto& [user, _] : users_) out.push_back(user);
    return out;
  }

  /// The open clients of `user` (0: offline).
  std::size_t connections(const std::string& user) const {
    auto u = users_.find(user);
    return u == users_.end() ? 0 : u->second.size();
  }

  bool online(const std::string& user) const { return users_.count(user) > 0; }
  std::size_t size() const noexcept { return users_.size(); }
  bool empty() const noexcept { return users_.empty(); }
  bool operator==(const presence_set&) const = default;

  MSGPACK_DEFINE(users_);

 private:
  std::map<std::string, std::set<std::string>> users_;  // user -> open client ids
};

/// The presence name of a client: its `user` query parameter (the token's
/// `sub` with client authentication on), "anonymous" without one.
inline std::string presence_user(const client& c) {
  auto user = c.param("user");
  return user.empty() ? std::string("anonymous") : user;
}

/// on_open / on_resume: records `c`; broadcasts {"type":"join","user":U} if
/// U has just come online. Returns whether it did.
template <class State>
bool presence_join(context<State>& ctx, presence_set& set, const client& c) {
  auto user = presence_user(c);
  if (!set.add(user, c.id)) return false;
  ctx.broadcast(json{{"type", "join"}, {"user", std::move(user)}});
  return true;
}

/// on_close: forgets `c`; broadcasts {"type":"leave","user":U} if U has just
/// gone offline. Returns whether it did.
template <class State>
bool presence_leave(context<State>& ctx, presence_set& set, const client& c) {
  auto user = set.remove(c.id);
  if (user.empty()) return false;
  ctx.broadcast(json{{"type", "leave"}, {"user", std::move(user)}});
  return true;
}

/// on_message: answers {"type":"who"} to its sender with
/// {"type":"members","users":[...]}. Returns false (nothing sent) for any
/// other message, which the caller handles.
template <class State>
bool presence_answer(context<State>& ctx, const presence_set& set, const client& c,
                     const json& msg) {
  if (!msg.is_object() || msg.value("type", "") != "who") return false;
  ctx.send(c, json{{"type", "members"}, {"users", set.users()}});
  return true;
}

}  // namespace skein
