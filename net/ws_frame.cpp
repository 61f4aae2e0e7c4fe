// WebSocket framing, server side (net/ws_frame.hpp; RFC 6455 §5).
#include "net/ws_frame.hpp"

#include <algorithm>

#include "net/input_check.hpp"

namespace skein::ws {

namespace {

bool control(opcode op) { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

bool known(std::uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// The header of an unfragmented server frame carrying `size` bytes.
void append_header(std::string& out, opcode op, std::size_t size) {
  out.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(op)));
  if (size < 126) {
    out.push_back(static_cast<char>(size));
  } else if (size <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>((size >> 8) & 0xFF));
    out.push_back(static_cast<char>(size & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((static_cast<std::uint64_t>(size) >> shift) & 0xFF));
  }
}

}  // namespace

bool sendable_close_code(std::uint16_t c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

std::size_t frame_reader::fail(event& out, std::uint16_t code, std::string why, std::size_t used) {
  failed_ = true;
  out.what = event::kind::error;
  out.code = code;
  out.data = std::move(why);
  message_ = std::string{};
  return used;
}

// The header is whole (need_ bytes in hdr_): reads its length and mask and
// checks the frame against the message in progress. False: failed (out set).
bool frame_reader::finish_header(event& out) {
  const std::uint8_t len7 = hdr_[1] & 0x7F;
  std::size_t at = 2;
  std::uint64_t len = len7;
  if (len7 == 126) {
    len = (std::uint64_t{hdr_[2]} << 8) | hdr_[3];
    at = 4;
    if (len < 126) {
      fail(out, close_code::protocol_error, "frame length not in its shortest form", 0);
      return false;
    }
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | hdr_[2 + i];
    at = 10;
    if (len >> 63) {
      fail(out, close_code::protocol_error, "frame length over 2^63", 0);
      return false;
    }
    if (len <= 0xFFFF) {
      fail(out, close_code::protocol_error, "frame length not in its shortest form", 0);
      return false;
    }
  }
  std::copy(hdr_ + at, hdr_ + at + 4, mask_);
  mask_off_ = 0;
  remaining_ = len;
  if (control(op_)) {
    control_from_ = message_.size();
  } else {
    if (op_ == opcode::continuation && !in_message_) {
      fail(out, close_code::protocol_error, "continuation frame with no message begun", 0);
      return false;
    }
    if (op_ != opcode::continuation && in_message_) {
      fail(out, close_code::protocol_error, "new message begun before the last one ended", 0);
      return false;
    }
    if (len > max_message_ - std::min(max_message_, message_.size())) {
      fail(out, close_code::too_big, "message over " + std::to_string(max_message_) + " bytes", 0);
      return false;
    }
    if (op_ != opcode::continuation) {
      in_message_ = true;
      text_ = op_ == opcode::text;
    }
  }
  state_ = state::payload;
  return true;
}

std::size_t frame_reader::feed(const char* p, std::size_t n, event& out) {
  out.what = event::kind::none;
  if (failed_) return 0;
  std::size_t used = 0;
  for (;;) {
    if (state_ == state::header) {
      while (hlen_ < need_ && used < n) hdr_[hlen_++] = static_cast<unsigned char>(p[used++]);
      if (hlen_ < need_) return used;
      if (hlen_ == 2) {
        const std::uint8_t b0 = hdr_[0], b1 = hdr_[1];
        if (b0 & 0x70)
          return fail(out, close_code::protocol_error, "reserved bits set (no extension was negotiated)", used);
        if (!known(b0 & 0x0F)) return fail(out, close_code::protocol_error, "unknown opcode", used);
        if (!(b1 & 0x80)) return fail(out, close_code::protocol_error, "client frame not masked", used);
        op_ = static_cast<opcode>(b0 & 0x0F);
        fin_ = (b0 & 0x80) != 0;
        const std::uint8_t len7 = b1 & 0x7F;
        if (control(op_) && !fin_) return fail(out, close_code::protocol_error, "fragmented control frame", used);
        if (control(op_) && len7 > 125)
          return fail(out, close_code::protocol_error, "control frame over 125 bytes", used);
        need_ = static_cast<std::uint8_t>(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
        continue;  // gather the rest of the header
      }
      if (!finish_header(out)) return used;
    }
    // state::payload
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - used));
    const std::size_t from = message_.size();
    message_.append(p + used, take);
    for (std::size_t i = 0; i < take; ++i)
      message_[from + i] = static_cast<char>(message_[from + i] ^ mask_[(mask_off_ + i) & 3]);
    mask_off_ = static_cast<std::uint8_t>((mask_off_ + take) & 3);
    used += take;
    remaining_ -= take;
    if (remaining_ > 0) return used;
    // The frame is whole.
    state_ = state::header;
    hlen_ = 0;
    need_ = 2;
    if (control(op_)) {
      // The control frame's payload leaves the message's string.
      std::string body;
      if (control_from_ == 0) {
        body = std::move(message_);
        message_ = std::string{};
      } else {
        body.assign(message_, control_from_, std::string::npos);
        message_.resize(control_from_);
      }
      return control_frame(std::move(body), out, used);
    }
    if (!fin_) {
      if (used == n) return used;
      continue;  // the next fragment
    }
    in_message_ = false;
    if (text_ && !valid_utf8(message_))
      return fail(out, close_code::invalid_payload, "text message not UTF-8", used);
    out.what = event::kind::message;
    out.text = text_;
    out.data = std::move(message_);
    message_ = std::string{};
    return used;
  }
}

// A whole control frame's payload (`body`): its event, or a failure.
std::size_t frame_reader::control_frame(std::string body, event& out, std::size_t used) {
  if (op_ == opcode::ping) {
    out.what = event::kind::ping;
    out.data = std::move(body);
    return used;
  }
  if (op_ == opcode::pong) {
    out.what = event::kind::pong;
    return used;
  }
  // close
  if (body.size() == 1) return fail(out, close_code::protocol_error, "close frame of 1 byte", used);
  std::uint16_t code = close_code::no_status;
  if (body.size() >= 2) {
    code = static_cast<std::uint16_t>((static_cast<unsigned char>(body[0]) << 8)
                                      | static_cast<unsigned char>(body[1]));
    if (!sendable_close_code(code))
      return fail(out, close_code::protocol_error, "close code " + std::to_string(code) + " may not be sent", used);
    body.erase(0, 2);
    if (!valid_utf8(body)) return fail(out, close_code::invalid_payload, "close reason not UTF-8", used);
  }
  out.what = event::kind::close;
  out.code = code;
  out.data = std::move(body);
  return used;
}

std::string make_frame(opcode op, std::string_view payload) {
  std::string f;
  f.reserve(payload.size() + 10);
  append_header(f, op, payload.size());
  f.append(payload);
  return f;
}

std::string make_close_frame(std::uint16_t code, std::string_view reason) {
  if (code == 0 || code == close_code::no_status) return make_frame(opcode::close, {});
  // 125 bytes of payload: 2 of code, 123 of reason, cut before a UTF-8
  // continuation byte so that the reason stays UTF-8.
  std::size_t keep = std::min<std::size_t>(reason.size(), 123);
  while (keep > 0 && keep < reason.size() && (static_cast<unsigned char>(reason[keep]) & 0xC0) == 0x80) --keep;
  std::string body;
  body.push_back(static_cast<char>(code >> 8));
  body.push_back(static_cast<char>(code & 0xFF));
  body.append(reason.substr(0, keep));
  return make_frame(opcode::close, body);
}

}  // namespace skein::ws
