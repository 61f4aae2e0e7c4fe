// presence: who is in a room (`presence/{room}`), built on skein/presence.hpp.
// A client's user is its `user` query parameter (the token's sub when
// client authentication is on; "anonymous" without either). Every client
// gets {"type":"join","user":U} when U's first connection opens or resumes
// and {"type":"leave","user":U} when U's last one closes (including a
// connection whose node died, and a client of a crashed owner that does not
// resume within resume_grace_ms). A client that opens gets
// {"type":"members","users":[...]} (sorted, itself included); so does one
// that sends {"type":"who"}. Any other message is rejected.
#pragma once

#include <msgpack.hpp>

#include "actors/behaviour.hpp"
#include "actors/options.hpp"
#include "skein/presence.hpp"

namespace examples {

struct presence_state {
  skein::presence_set who;
  MSGPACK_DEFINE(who);
};

struct presence_room {
  using state_type = presence_state;

  static skein::kind_options options() {
    skein::kind_options o;
    o.durable = skein::durability::replicated;
    return o;
  }

  void on_open(skein::context<presence_state>& ctx, const skein::client& c);
  void on_resume(skein::context<presence_state>& ctx, const skein::client& c);
  void on_close(skein::context<presence_state>& ctx, const skein::client& c);
  void on_message(skein::context<presence_state>& ctx, const skein::client& c,
                  const skein::json& msg);
};

}  // namespace examples
