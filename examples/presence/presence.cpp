// The demo presence room (examples/presence/presence.hpp).
#include "examples/presence/presence.hpp"

namespace examples {

void presence_room::on_open(skein::context<presence_state>& ctx, const skein::client& c) {
  skein::presence_join(ctx, ctx.state().who, c);
  ctx.send(c, {{"type", "members"}, {"users", ctx.state().who.users()}});
}

void presence_room::on_resume(skein::context<presence_state>& ctx, const skein::client& c) {
  skein::presence_join(ctx, ctx.state().who, c);
}

void presence_room::on_close(skein::context<presence_state>& ctx, const skein::client& c) {
  skein::presence_leave(ctx, ctx.state().who, c);
}

void presence_room::on_message(skein::context<presence_state>& ctx, const skein::client& c,
                               const skein::json& msg) {
  if (!skein::presence_answer(ctx, ctx.state().who, c, msg))
    throw skein::bad_input("unknown message: expected {\"type\":\"who\"}");
}

}  // namespace examples
