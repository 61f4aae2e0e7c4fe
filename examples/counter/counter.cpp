// The demo counter behaviour (examples/counter/counter.hpp).
#include "examples/counter/counter.hpp"

#include <cstdint>
#include <limits>

namespace examples {

void counter::on_open(skein::context<counter_state>& ctx, const skein::client& c) {
  ctx.send(c, {{"value", ctx.state().value}});
}

void counter::on_message(skein::context<counter_state>& ctx, const skein::client&,
                         const skein::json& msg) {
  if (!msg.is_object() || msg.value("op", "") != "add")
    throw skein::bad_input("unknown message: expected {\"op\":\"add\",\"by\":K}");
  const auto& by = msg.at("by");
  if (!by.is_number_integer()) throw skein::bad_input("by must be an integer");
  // 2^63 and above parse as unsigned and would read back negative.
  if (by.is_number_unsigned()
      && by.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw skein::bad_input("by is out of range: a 64-bit signed integer is expected");
  auto k = by.get<std::int64_t>();
  auto& v = ctx.state().value;
  if ((k > 0 && v > std::numeric_limits<std::int64_t>::max() - k)
      || (k < 0 && v < std::numeric_limits<std::int64_t>::min() - k))
    throw skein::bad_input("counter would overflow");
  v += k;
  ctx.broadcast({{"value", v}});
}

skein::json counter::on_publish(skein::context<counter_state>& ctx, const skein::json& msg) {
  on_message(ctx, skein::client{}, msg);
  return {{"value", ctx.state().value}};
}

void counter::on_close(skein::context<counter_state>&, const skein::client&) {}

}  // namespace examples
