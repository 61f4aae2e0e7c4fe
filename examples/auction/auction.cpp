// The demo auction behaviour (examples/auction/auction.hpp).
#include "examples/auction/auction.hpp"

#include <charconv>

namespace examples {

namespace {

/// `close_ms` from the first bidder's query, validated.
std::int64_t close_ms_of(const skein::client& c) {
  auto text = c.param("close_ms");
  if (text.empty()) return auction::default_close_ms;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || v < 1 || v > auction::max_close_ms)
    throw skein::bad_input("close_ms must be an integer from 1 to 86400000");
  return v;
}

}  // namespace

void auction::on_open(skein::context<auction_state>& ctx, const skein::client& c) {
  const auto& s = ctx.state();
  skein::json hello{{"type", "auction"}, {"closed", s.closed}, {"bids", s.bids}};
  if (s.bids > 0) {
    hello["winner"] = s.winner;
    hello["amount"] = s.amount;
  }
  ctx.send(c, std::move(hello));
}

void auction::on_message(skein::context<auction_state>& ctx, const skein::client& c,
                         const skein::json& msg) {
  if (!msg.is_object() || msg.value("type", "") != "bid")
    throw skein::bad_input("unknown message: expected {\"type\":\"bid\",\"amount\":N}");
  const auto& a = msg.at("amount");
  if (!a.is_number_integer() || a.get<std::int64_t>() < 1)
    throw skein::bad_input("amount must be a positive integer");
  auto& s = ctx.state();
  if (s.closed) throw skein::bad_input("the auction is closed");
  const auto amount = a.get<std::int64_t>();
  const auto user = c.param("user", "anonymous");
  if (s.bids == 0) {
    const auto close_ms = close_ms_of(c);  // may reject: before any change
    s.closes_at_ms = ctx.now() + close_ms;
    ctx.after(close_ms, {{"close", true}});
  }
  ++s.bids;
  if (amount > s.amount) {  // the earliest of equal bids wins
    s.amount = amount;
    s.winner = user;
  }
  ctx.broadcast({{"type", "bid"}, {"user", user}, {"amount", amount}});
}

void auction::on_timer(skein::context<auction_state>& ctx, const skein::json&) {
  auto& s = ctx.state();
  if (s.closed) return;
  s.closed = true;
  ctx.broadcast({{"type", "closed"}, {"winner", s.winner}, {"amount", s.amount}});
}

}  // namespace examples
