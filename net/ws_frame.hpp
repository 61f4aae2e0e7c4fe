// WebSocket framing, server side (RFC 6455 §5): a reader of a client's
// frames and the encoder of the server's. No I/O and no Beast: the
// WebSocket stream (net/websocket_session.cpp) feeds the bytes it reads in
// and writes the frames made here; the fuzz target (tests/fuzz) feeds it
// anything.
//
// What the reader enforces, each with the close code RFC 6455 §7.4.1 gives:
// - 1002 (protocol error): a reserved bit set (no extension is ever
//   negotiated), an unknown opcode, an unmasked frame (§5.1: a client
//   masks every frame), a control frame that is fragmented or carries more
//   than 125 bytes, a continuation with no message begun, a new message
//   begun before the last one ended, a length not in its shortest form or
//   with the 64-bit length's top bit set, a close frame of 1 byte or with a
//   code no endpoint may send.
// - 1007 (invalid payload): a text message, or a close frame's reason, that
//   is not UTF-8 (checked once the message is whole).
// - 1009 (too big): a message over `max_message` bytes, refused when the
//   frame header that would pass it arrives, before its payload is stored.
// Memory: the reader holds a message's bytes only until it is whole (then
// they move out with the event) and at most 125 bytes of a control frame
// (after the message's bytes so far, in the same string); an idle reader
// owns no heap.
// Thread-safety: none; one reader per stream, used on its executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace skein::ws {

enum class opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// Close codes of RFC 6455 §7.4.1 that skein sends or reads.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t no_status = 1005;  // never on the wire: the peer sent no code
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy = 1008;
inline constexpr std::uint16_t too_big = 1009;
}  // namespace close_code

/// True for a code an endpoint may put in a close frame: 1000-1003,
/// 1007-1014 (1012-1014 registered with IANA since RFC 6455) and 3000-4999.
bool sendable_close_code(std::uint16_t code);

/// What one call of frame_reader::feed completed.
struct event {
  enum class kind : std::uint8_t {
    none,     // nothing completed: feed more bytes
    message,  // a whole data message: `data`, `text`
    ping,     // `data`: the ping's payload (answer with a pong of it)
    pong,
    close,    // the peer's close frame: `code` (1005 if it sent none), `data` the reason
    error,    // the bytes broke the protocol: close with `code`; `data` says why
  };
  kind what = kind::none;
  bool text = false;
  std::uint16_t code = 0;
  std::string data;
};

/// Incremental reader of the frames a client sends (masked, RFC 6455 §5.2).
class frame_reader {
 public:
  /// `max_message`: bytes of one data message, its fragments together
  /// (server_options::max_frame). Larger: an error event with 1009.
  explicit frame_reader(std::size_t max_message) : max_message_(max_message) {}

  /// Consumes bytes of [p, p + n) until one event completes or the bytes
  /// run out, and returns how many it consumed (the caller feeds the rest
  /// again). `out` is overwritten: kind::none when nothing completed. After
  /// an error event the reader is failed(): it consumes nothing more.
  std::size_t feed(const char* p, std::size_t n, event& out);

  bool failed() const { return failed_; }
  /// No frame and no fragmented message is in progress.
  bool between_messages() const { return state_ == state::header && hlen_ == 0 && !in_message_; }

 private:
  enum class state : std::uint8_t { header, payload };
  std::size_t fail(event& out, std::uint16_t code, std::string why, std::size_t used);
  bool finish_header(event& out);
  std::size_t control_frame(std::string body, event& out, std::size_t used);

  std::size_t max_message_;
  state state_ = state::header;
  bool failed_ = false;
  bool in_message_ = false;  // a fragmented data message is open
  bool text_ = false;        // ... and it is text
  bool fin_ = false;         // the current frame ends its message
  opcode op_ = opcode::continuation;  // the current frame's
  std::uint8_t hlen_ = 0;    // header bytes gathered
  std::uint8_t need_ = 2;    // header bytes the current frame has
  std::uint8_t mask_off_ = 0;
  unsigned char hdr_[14] = {};
  unsigned char mask_[4] = {};
  std::uint64_t remaining_ = 0;  // payload bytes of the current frame still to come
  // The data message so far; during a control frame, its payload follows
  // from control_from_ on.
  std::string message_;
  std::size_t control_from_ = 0;
};

/// One whole server frame: FIN set, not masked, the shortest length form.
std::string make_frame(opcode op, std::string_view payload);

/// A close frame: `code` then `reason` cut to the 123 bytes a control frame
/// leaves (at a UTF-8 character boundary). code 1005 or 0: no payload.
std::string make_close_frame(std::uint16_t code, std::string_view reason);

}  // namespace skein::ws
