// libFuzzer target: the server's WebSocket frame reader (net/ws_frame.cpp).
// Any bytes must end in events or an error with a close code, never a crash
// or an allocation past the message limit; the events must not depend on
// how the bytes were split (all at once against a split chosen by the first
// byte); a text message and a close reason are UTF-8; a failed reader
// consumes nothing more.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/input_check.hpp"
#include "net/ws_frame.hpp"

namespace {

constexpr std::size_t max_message = 4096;

std::vector<skein::ws::event> read(const char* p, std::size_t n, std::size_t piece) {
  skein::ws::frame_reader r(max_message);
  std::vector<skein::ws::event> out;
  std::size_t at = 0;
  while (at < n) {
    const std::size_t end = piece == 0 ? n : std::min(n, at + piece);
    while (at < end) {
      skein::ws::event ev;
      const auto used = r.feed(p + at, end - at, ev);
      if (used > end - at) std::abort();
      at += used;
      if (ev.what != skein::ws::event::kind::none) out.push_back(std::move(ev));
      if (r.failed()) {
        skein::ws::event after;
        if (r.feed(p, n, after) != 0 || after.what != skein::ws::event::kind::none) std::abort();
        return out;
      }
      if (used == 0) std::abort();  // not failed, bytes left: it must take some
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 17;
  const auto* p = reinterpret_cast<const char*>(data + 1);
  const std::size_t n = size - 1;
  auto whole = read(p, n, 0);
  auto split = read(p, n, piece);
  if (whole.size() != split.size()) std::abort();
  for (std::size_t i = 0; i < whole.size(); ++i) {
    const auto& a = whole[i];
    const auto& b = split[i];
    if (a.what != b.what || a.text != b.text || a.code != b.code || a.data != b.data) std::abort();
    using kind = skein::ws::event::kind;
    if (a.what == kind::message) {
      if (a.data.size() > max_message) std::abort();
      if (a.text && !skein::valid_utf8(a.data)) std::abort();
    }
    if (a.what == kind::close) {
      if (a.code != skein::ws::close_code::no_status && !skein::ws::sendable_close_code(a.code)) std::abort();
      if (!skein::valid_utf8(a.data)) std::abort();
    }
    if ((a.what == kind::ping || a.what == kind::pong) && a.data.size() > 125) std::abort();
    if (a.what == kind::error && a.code != 1002 && a.code != 1007 && a.code != 1009) std::abort();
  }
  return 0;
}
