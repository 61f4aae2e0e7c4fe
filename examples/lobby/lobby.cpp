// The demo lobby and game behaviours (examples/lobby/lobby.hpp).
#include "examples/lobby/lobby.hpp"

#include <algorithm>
#include <charconv>

namespace examples {

namespace {

std::uint32_t size_of(const skein::client& c) {
  auto text = c.param("size");
  if (text.empty()) return 2;
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || v < 2 || v > 16)
    throw skein::bad_input("size must be an integer from 2 to 16");
  return v;
}

}  // namespace

void lobby::on_open(skein::context<lobby_state>& ctx, const skein::client& c) {
  ctx.send(c, {{"type", "waiting"}, {"players", ctx.state().waiting}});
}

void lobby::on_message(skein::context<lobby_state>& ctx, const skein::client& c,
                       const skein::json& msg) {
  if (!msg.is_object() || msg.value("type", "") != "join")
    throw skein::bad_input("unknown message: expected {\"type\":\"join\"}");
  auto& s = ctx.state();
  const auto user = c.param("user", "anonymous");
  if (std::find(s.waiting.begin(), s.waiting.end(), user) != s.waiting.end()) return;
  if (s.waiting.empty()) s.size = size_of(c);  // may reject: before any change
  s.waiting.push_back(user);
  ctx.broadcast({{"type", "waiting"}, {"players", s.waiting}});
  if (s.waiting.size() < s.size) return;
  const auto game_id = ctx.session_id() + "-" + std::to_string(++s.games);
  ctx.tell("game/" + game_id, {{"type", "start"}, {"players", s.waiting}});
  ctx.broadcast({{"type", "matched"}, {"game", game_id}, {"players", s.waiting}});
  s.waiting.clear();
}

void game::on_open(skein::context<game_state>& ctx, const skein::client& c) {
  ctx.send(c, {{"type", "game"}, {"players", ctx.state().players}, {"starts", ctx.state().starts}});
}

void game::on_tell(skein::context<game_state>& ctx, const std::string& from,
                   const skein::json& msg) {
  if (!msg.is_object() || msg.value("type", "") != "start" || !msg.contains("players"))
    throw skein::bad_input("unknown tell: expected {\"type\":\"start\",\"players\":[...]}");
  auto& s = ctx.state();
  auto players = msg.at("players").get<std::vector<std::string>>();  // json error: rejected
  s.lobby = from;
  s.players = std::move(players);
  ++s.starts;
  ctx.broadcast({{"type", "start"}, {"from", from}, {"players", s.players}, {"starts", s.starts}});
}

}  // namespace examples
