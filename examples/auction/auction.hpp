// auction: a timed auction (a session timer closes it). Clients send
// {"type":"bid","amount":N} (N a positive integer); every client gets
// {"type":"bid","user":U,"amount":N} (U: the client's `user` query
// parameter, or the token's sub when auth is on; "anonymous" without
// either). The first bid sets a timer of `close_ms` ms (the first bidder's
// query parameter, 1..86400000, default 10000); when it fires the session
// broadcasts {"type":"closed","winner":U,"amount":N} for the highest bid
// (the earliest of equal bids) and rejects later bids. A client that opens
// gets {"type":"auction","closed":B,"bids":K} and, if it has one, the
// current highest {"winner":U,"amount":N}.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <msgpack.hpp>

#include "actors/behaviour.hpp"
#include "actors/options.hpp"

namespace examples {

struct auction_state {
  std::uint64_t bids = 0;
  std::string winner;
  std::int64_t amount = 0;
  std::int64_t closes_at_ms = 0;  // 0 until the first bid
  bool closed = false;
  MSGPACK_DEFINE(bids, winner, amount, closes_at_ms, closed);
  // inspect and replay print the state as an object with these names
  static constexpr std::array field_names{"bids", "winner", "amount", "closes_at_ms", "closed"};
};

struct auction {
  using state_type = auction_state;
  static constexpr std::int64_t default_close_ms = 10000;
  static constexpr std::int64_t max_close_ms = 86'400'000;

  static skein::kind_options options() {
    skein::kind_options o;
    o.durable = skein::durability::replicated;
    return o;
  }

  void on_open(skein::context<auction_state>& ctx, const skein::client& c);
  void on_message(skein::context<auction_state>& ctx, const skein::client& c,
                  const skein::json& msg);
  void on_timer(skein::context<auction_state>& ctx, const skein::json& payload);
  void on_close(skein::context<auction_state>&, const skein::client&) {}
};

}  // namespace examples
