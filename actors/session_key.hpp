// The session key "kind/id": one value type that validates and splits it,
// used by every layer that takes a key from outside (HTTP routes, the CLI,
// the session host, recovery).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace skein {

/// A valid session key. `kind` is everything before the first '/', `id`
/// everything after it (an id may hold further slashes: "chat/room/a" is kind
/// "chat", id "room/a"). Valid means: kind and id non-empty, at most
/// `max_size` bytes in all, well-formed UTF-8 (no overlong encodings, no
/// surrogates, nothing above U+10FFFF) and no control character (C0, DEL,
/// C1). A value is immutable and cheap to copy; thread-safe like std::string.
class session_key {
 public:
  static constexpr std::size_t max_size = 512;  // bytes

  /// The key, or nullopt if `text` is not valid (see above).
  static std::optional<session_key> parse(std::string_view text);

  /// Why `text` is not a valid key ("" if it is), for error messages. The
  /// text never repeats the offending bytes.
  static std::string why_invalid(std::string_view text);

  std::string_view kind() const { return std::string_view(text_).substr(0, slash_); }
  std::string_view id() const { return std::string_view(text_).substr(slash_ + 1); }
  const std::string& str() const { return text_; }

  friend bool operator==(const session_key& a, const session_key& b) { return a.text_ == b.text_; }
  friend bool operator<(const session_key& a, const session_key& b) { return a.text_ < b.text_; }

 private:
  session_key(std::string text, std::size_t slash) : text_(std::move(text)), slash_(slash) {}
  std::string text_;
  std::size_t slash_ = 0;
};

}  // namespace skein
