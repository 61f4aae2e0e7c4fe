// lobby -> game: two kinds that talk through session-to-session messages.
//
// lobby/{id}: clients send {"type":"join"}; the lobby keeps the distinct
// users (`user` query parameter or the token's sub) waiting and tells every
// client {"type":"waiting","players":[...]}. When `size` users wait (the
// first joiner's `size` query parameter, 2..16, default 2) it starts a game:
// ctx.tell("game/{id}-{n}", {"type":"start","players":[...]}) (n counts the
// lobby's games from 1) and tells its clients {"type":"matched",
// "game":"{id}-{n}","players":[...]}.
//
// game/{id}: on a tell {"type":"start","players":[...]} it records the
// players and broadcasts {"type":"start","from":"lobby/...","players":[...],
// "starts":K}, K = how many start tells it got (1 unless a tell was
// delivered twice). A client that opens gets {"type":"game","players":[...],
// "starts":K}. Its clients' messages are rejected (the demo game has no moves).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "actors/behaviour.hpp"
#include "actors/options.hpp"

namespace examples {

struct lobby_state {
  std::vector<std::string> waiting;
  std::uint32_t size = 0;  // 0 until the first join
  std::uint64_t games = 0;
  MSGPACK_DEFINE(waiting, size, games);
};

struct lobby {
  using state_type = lobby_state;
  static skein::kind_options options() {
    skein::kind_options o;
    o.durable = skein::durability::replicated;
    return o;
  }
  void on_open(skein::context<lobby_state>& ctx, const skein::client& c);
  void on_message(skein::context<lobby_state>& ctx, const skein::client& c, const skein::json& msg);
  void on_close(skein::context<lobby_state>&, const skein::client&) {}
};

struct game_state {
  std::string lobby;
  std::vector<std::string> players;
  std::uint64_t starts = 0;
  MSGPACK_DEFINE(lobby, players, starts);
};

struct game {
  using state_type = game_state;
  static skein::kind_options options() {
    skein::kind_options o;
    o.durable = skein::durability::replicated;
    return o;
  }
  void on_open(skein::context<game_state>& ctx, const skein::client& c);
  void on_message(skein::context<game_state>&, const skein::client&, const skein::json&) {
    throw skein::bad_input("the demo game takes no moves");
  }
  void on_tell(skein::context<game_state>& ctx, const std::string& from, const skein::json& msg);
  void on_close(skein::context<game_state>&, const skein::client&) {}
};

}  // namespace examples
