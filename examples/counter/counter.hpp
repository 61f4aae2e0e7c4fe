// counter: one integer. On open a client gets {"value":V}; every
// {"op":"add","by":K} (K a signed 64-bit integer; anything else, or a sum
// that would overflow, is rejected with an error frame) adds K and tells
// every client {"value":V}. A publish of the same message does the same and
// answers {"value":V}.
#pragma once

#include <cstdint>

#include <msgpack.hpp>

#include "actors/behaviour.hpp"
#include "actors/options.hpp"

namespace examples {

struct counter_state {
  std::int64_t value = 0;
  MSGPACK_DEFINE(value);
};

struct counter {
  using state_type = counter_state;

  // The demo releases output only once it is on every live replica.
  static skein::kind_options options() {
    skein::kind_options o;
    o.durable = skein::durability::replicated;
    return o;
  }

  void on_open(skein::context<counter_state>& ctx, const skein::client& c);
  void on_message(skein::context<counter_state>& ctx, const skein::client& c,
                  const skein::json& msg);
  void on_close(skein::context<counter_state>& ctx, const skein::client& c);
  // POST /api/sessions/counter/{id}/messages with {"op":"add","by":K}: the
  // same add, broadcast to every client; the publisher gets {"value":V}.
  skein::json on_publish(skein::context<counter_state>& ctx, const skein::json& msg);
};

}  // namespace examples
