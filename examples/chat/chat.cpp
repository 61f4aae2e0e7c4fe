// The demo chat behaviour (examples/chat/chat.hpp).
#include "examples/chat/chat.hpp"

namespace examples {

void chat::on_open(skein::context<chat_state>& ctx, const skein::client& c) {
  auto messages = skein::json::array();
  for (auto& m : ctx.state().history) messages.push_back({{"user", m.user}, {"text", m.text}});
  ctx.send(c, {{"type", "history"}, {"messages", std::move(messages)}});
}

void chat::on_message(skein::context<chat_state>& ctx, const skein::client& c,
                      const skein::json& msg) {
  if (!msg.is_object() || msg.value("type", "") != "say")
    throw skein::bad_input("unknown message: expected {\"type\":\"say\",\"text\":...}");
  const auto& text = msg.at("text");
  if (!text.is_string()) throw skein::bad_input("text must be a string");
  auto t = text.get<std::string>();
  if (t.size() > max_text) throw skein::bad_input("text longer than 4096 bytes");
  auto user = c.param("user", "anonymous");
  ctx.broadcast({{"type", "said"}, {"user", user}, {"text", t}});
  // The state changes last, and only by a push_back that leaves it as it was
  // if it throws and by erases that cannot throw: chat::rollback is false.
  auto& history = ctx.state().history;
  history.push_back({std::move(user), std::move(t)});
  while (history.size() > history_size) history.erase(history.begin());
}

void chat::on_close(skein::context<chat_state>&, const skein::client&) {}

}  // namespace examples
