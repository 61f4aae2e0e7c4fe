// chat: a room. Clients connect with ?user=NAME, get the last 50 messages,
// and every `{"type":"say","text":...}` is broadcast to the whole room as
// `{"type":"said","user":...,"text":...}`.
#pragma once

#include <vector>
#include <string>

#include <msgpack.hpp>

#include "actors/behaviour.hpp"
#include "actors/options.hpp"

namespace examples {

struct chat_message {
  std::string user;
  std::string text;
  MSGPACK_DEFINE(user, text);
};

struct chat_state {
  // The last `history_size` messages, oldest first. A vector, not a deque:
  // an empty std::deque allocates 576 bytes, in each of thousands of rooms.
  std::vector<chat_message> history;
  MSGPACK_DEFINE(history);
};

struct chat {
  using state_type = chat_state;

  // The demo releases output only once it is on every live replica.
  static skein::kind_options options() {
    skein::kind_options o;
    o.durable = skein::durability::replicated;
    return o;
  }
  // Its handlers change the state only after their last possible throw, so
  // the runtime need not copy the 50 messages before each input
  // (actors/behaviour.hpp, "Contract").
  static constexpr bool rollback = false;
  static constexpr std::size_t history_size = 50;
  static constexpr std::size_t max_text = 4096;  // bytes of one message's text

  void on_open(skein::context<chat_state>& ctx, const skein::client& c);
  void on_message(skein::context<chat_state>& ctx, const skein::client& c, const skein::json& msg);
  void on_close(skein::context<chat_state>& ctx, const skein::client& c);
};

}  // namespace examples
