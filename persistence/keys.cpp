// Binary keys of the store's columns and their printable form (persistence/keys.hpp).
#include "persistence/keys.hpp"

#include <stdexcept>

namespace skein::persistence {
namespace {

void check_session_key(std::string_view session_key) {
  if (session_key.find('\0') != std::string_view::npos)
    throw std::invalid_argument("session key contains a NUL byte");
}

std::string escape(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

}  // namespace

std::string session_prefix(std::string_view session_key) {
  check_session_key(session_key);
  std::string key(session_key);
  key += '\0';
  return key;
}

std::string seq_key(std::string_view session_key, std::uint64_t seq) {
  std::string key = session_prefix(session_key);
  key.resize(key.size() + 8);
  set_seq(key, seq);
  return key;
}

void set_seq(std::string& key, std::uint64_t seq) {
  auto* out = key.data() + key.size() - 8;
  for (int shift = 56; shift >= 0; shift -= 8) *out++ = static_cast<char>((seq >> shift) & 0xff);
}

std::optional<std::pair<std::string, std::uint64_t>> parse_seq_key(std::string_view binary_key) {
  if (binary_key.size() < 9) return std::nullopt;
  std::size_t nul = binary_key.size() - 9;
  if (binary_key[nul] != '\0' || binary_key.substr(0, nul).find('\0') != std::string_view::npos)
    return std::nullopt;
  std::uint64_t seq = 0;
  for (std::size_t i = nul + 1; i < binary_key.size(); ++i)
    seq = (seq << 8) | static_cast<unsigned char>(binary_key[i]);
  return std::pair{std::string(binary_key.substr(0, nul)), seq};
}

std::string printable(std::string_view binary_key) {
  if (auto parsed = parse_seq_key(binary_key))
    return escape(parsed->first) + "#" + std::to_string(parsed->second);
  return escape(binary_key);
}

std::string epoch_meta_key(std::string_view session_key) {
  return "epoch/" + std::string(session_key);
}

std::string timer_meta_key(std::string_view session_key) {
  return std::string(timer_index_prefix) + std::string(session_key);
}

}  // namespace skein::persistence
