// net/ws_frame: the server's reader of client WebSocket frames and its
// frame encoder (RFC 6455 §5), byte by byte and in any split.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "net/ws_frame.hpp"

using namespace skein;
using ws::event;
using ws::opcode;

namespace {

constexpr unsigned char mask[4] = {0x37, 0xFA, 0x21, 0x3D};

/// A client frame: masked, with the shortest length form unless `len_form`
/// forces 126 or 127.
std::string client_frame(std::uint8_t first_byte, std::string_view payload, int len_form = 0,
                         bool masked = true) {
  std::string f;
  f.push_back(static_cast<char>(first_byte));
  const std::uint8_t m = masked ? 0x80 : 0;
  const auto n = payload.size();
  if (len_form == 0 && n < 126) {
    f.push_back(static_cast<char>(m | n));
  } else if (len_form == 126 || (len_form == 0 && n <= 0xFFFF)) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((std::uint64_t{n} >> s) & 0xFF));
  }
  if (masked) f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ (masked ? mask[i & 3] : 0)));
  return f;
}

std::string text(std::string_view p) { return client_frame(0x81, p); }

/// Feeds `bytes` in pieces of `piece` bytes (0: all at once) and collects
/// every event until the bytes run out or the reader fails.
std::vector<event> read_all(ws::frame_reader& r, const std::string& bytes, std::size_t piece = 0) {
  std::vector<event> out;
  std::size_t at = 0;
  while (at < bytes.size() && !r.failed()) {
    const std::size_t end = piece == 0 ? bytes.size() : std::min(bytes.size(), at + piece);
    std::size_t pos = at;
    while (pos < end && !r.failed()) {
      event ev;
      const auto used = r.feed(bytes.data() + pos, end - pos, ev);
      pos += used;
      if (ev.what != event::kind::none) out.push_back(std::move(ev));
      if (used == 0 && ev.what == event::kind::none) break;
    }
    at = end;
  }
  return out;
}

event only_error(const std::string& bytes, std::size_t max = 1 << 20) {
  ws::frame_reader r(max);
  auto evs = read_all(r, bytes);
  REQUIRE(r.failed());
  REQUIRE(!evs.empty());
  REQUIRE(evs.back().what == event::kind::error);
  return evs.back();
}

}  // namespace

TEST_CASE("ws reader: messages whole, split anywhere, and fragmented", "[ws]") {
  const std::string big(70000, 'x');
  std::string stream = text("hello") + text("") + client_frame(0x82, "bin") + text(std::string(300, 'a')) + text(big)
                       // a fragmented text message with a ping between its fragments
                       + client_frame(0x01, "frag-") + client_frame(0x89, "p!") + client_frame(0x00, "men")
                       + client_frame(0x80, "ted");
  for (std::size_t piece : {0, 1, 2, 3, 7, 100, 4096}) {
    ws::frame_reader r(1 << 20);
    auto evs = read_all(r, stream, piece);
    INFO("piece " << piece);
    REQUIRE_FALSE(r.failed());
    REQUIRE(evs.size() == 7);
    CHECK((evs[0].what == event::kind::message && evs[0].text && evs[0].data == "hello"));
    CHECK((evs[1].what == event::kind::message && evs[1].data.empty()));
    CHECK((evs[2].what == event::kind::message && !evs[2].text && evs[2].data == "bin"));
    CHECK(evs[3].data == std::string(300, 'a'));
    CHECK(evs[4].data == big);
    CHECK((evs[5].what == event::kind::ping && evs[5].data == "p!"));
    CHECK((evs[6].what == event::kind::message && evs[6].data == "frag-mented"));
    CHECK(r.between_messages());
  }
}

TEST_CASE("ws reader: close frames", "[ws]") {
  ws::frame_reader r(1024);
  auto evs = read_all(r, client_frame(0x88, std::string("\x03\xE8") + "bye"));
  REQUIRE(evs.size() == 1);
  CHECK((evs[0].what == event::kind::close && evs[0].code == 1000 && evs[0].data == "bye"));

  ws::frame_reader empty(1024);
  evs = read_all(empty, client_frame(0x88, ""));
  REQUIRE(evs.size() == 1);
  CHECK((evs[0].what == event::kind::close && evs[0].code == ws::close_code::no_status));

  CHECK(only_error(client_frame(0x88, "\x03")).code == 1002);                   // 1 byte
  CHECK(only_error(client_frame(0x88, std::string("\x03\xED", 2))).code == 1002);  // 1005 is not sendable
  CHECK(only_error(client_frame(0x88, std::string("\x03\xE8\xFF", 3))).code == 1007);  // reason not UTF-8
  CHECK(ws::sendable_close_code(1000));
  CHECK(ws::sendable_close_code(4999));
  CHECK_FALSE(ws::sendable_close_code(1006));
  CHECK_FALSE(ws::sendable_close_code(2000));
  CHECK_FALSE(ws::sendable_close_code(5000));
}

TEST_CASE("ws reader: every protocol error has its close code", "[ws]") {
  CHECK(only_error(client_frame(0xC1, "x")).code == 1002);               // RSV1 (no deflate negotiated)
  CHECK(only_error(client_frame(0x83, "x")).code == 1002);               // unknown opcode 3
  CHECK(only_error(client_frame(0x8B, "x")).code == 1002);               // unknown opcode 0xB
  CHECK(only_error(client_frame(0x81, "x", 0, false)).code == 1002);     // not masked
  CHECK(only_error(client_frame(0x09, "x")).code == 1002);               // fragmented ping
  CHECK(only_error(client_frame(0x89, std::string(126, 'p'))).code == 1002);  // control over 125
  CHECK(only_error(client_frame(0x80, "x")).code == 1002);               // continuation, no message
  CHECK(only_error(client_frame(0x01, "a") + text("b")).code == 1002);   // new message inside one
  CHECK(only_error(client_frame(0x81, "short", 126)).code == 1002);      // 16-bit length for 5 bytes
  CHECK(only_error(client_frame(0x81, std::string(300, 'y'), 127)).code == 1002);  // 64-bit for 300
  std::string top_bit("\x81\xFF\x80\x00\x00\x00\x00\x00\x00\x00", 10);
  top_bit.append(reinterpret_cast<const char*>(mask), 4);
  CHECK(only_error(top_bit).code == 1002);
  CHECK(only_error(text("\xC3\x28")).code == 1007);                      // text not UTF-8
  // UTF-8 is checked over the whole message: a character split across fragments is fine.
  ws::frame_reader r(1024);
  auto evs = read_all(r, client_frame(0x01, "\xC3") + client_frame(0x80, "\xA9"));
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].data == "\xC3\xA9");
  // Binary messages are not checked here (the stream does).
  ws::frame_reader b(1024);
  CHECK(read_all(b, client_frame(0x82, "\xFF")).at(0).data == "\xFF");
}

TEST_CASE("ws reader: the message limit holds over fragments, before payload is stored", "[ws]") {
  CHECK(only_error(text(std::string(101, 'z')), 100).code == 1009);
  ws::frame_reader ok(100);
  CHECK(read_all(ok, text(std::string(100, 'z'))).at(0).data.size() == 100);
  // Fragments of 60 + 60 pass the limit at the second header.
  ws::frame_reader r(100);
  const std::string two = client_frame(0x01, std::string(60, 'a')) + client_frame(0x80, std::string(60, 'b'));
  auto evs = read_all(r, two.substr(0, two.size() - 60));  // the second header, no payload yet
  REQUIRE(r.failed());
  CHECK(evs.back().code == 1009);
  // A header declaring 2^40 bytes is refused without waiting for them.
  std::string huge("\x81\xFF\x00\x00\x01\x00\x00\x00\x00\x00", 10);
  huge.append(reinterpret_cast<const char*>(mask), 4);
  CHECK(only_error(huge).code == 1009);
}

TEST_CASE("ws reader: a failed reader consumes nothing more", "[ws]") {
  ws::frame_reader r(1024);
  const std::string bad = client_frame(0x81, "x", 0, false) + text("after");
  event ev;
  const auto used = r.feed(bad.data(), bad.size(), ev);
  CHECK(ev.what == event::kind::error);
  CHECK(used <= 2);
  CHECK(r.feed(bad.data() + used, bad.size() - used, ev) == 0);
  CHECK(ev.what == event::kind::none);
}

TEST_CASE("ws encoder: server frames are unmasked with the shortest length", "[ws]") {
  CHECK(ws::make_frame(opcode::text, "hi") == std::string("\x81\x02hi"));
  const auto mid = ws::make_frame(opcode::text, std::string(126, 'm'));
  CHECK(mid.substr(0, 4) == std::string("\x81\x7E\x00\x7E", 4));
  CHECK(mid.size() == 4 + 126);
  const auto big = ws::make_frame(opcode::binary, std::string(65536, 'b'));
  CHECK(big.substr(0, 10) == std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  CHECK(ws::make_frame(opcode::pong, "") == std::string("\x8A\x00", 2));
  CHECK(ws::make_close_frame(1008, "slow") == std::string("\x88\x06\x03\xF0slow", 8));
  CHECK(ws::make_close_frame(ws::close_code::no_status, "ignored") == std::string("\x88\x00", 2));
  // The reason is cut to 123 bytes, not inside a UTF-8 character.
  std::string reason(122, 'r');
  reason += "\xC3\xA9";  // é at bytes 122-123
  const auto f = ws::make_close_frame(1000, reason);
  CHECK(f.size() == 2 + 2 + 122);
  CHECK(f[1] == 124);
}
