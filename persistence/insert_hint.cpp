// Memtable insert hints (persistence/insert_hint.hpp).
#include "persistence/insert_hint.hpp"

#include <cstring>

namespace skein::persistence {

std::optional<std::string_view> insert_hint_prefix(std::string_view key) {
  if (key.size() < 9 || key[key.size() - 9] != '\0') return std::nullopt;
  // A session key holds no NUL: a key with another one before its seq is
  // not a seq key (range_begin_outside_hints makes such keys).
  if (std::memchr(key.data(), '\0', key.size() - 9) != nullptr) return std::nullopt;
  std::uint64_t seq = 0;
  for (std::size_t i = key.size() - 8; i < key.size(); ++i)
    seq = (seq << 8) | static_cast<unsigned char>(key[i]);
  if (seq < insert_hint_from_seq) return std::nullopt;
  return key.substr(0, key.size() - 8);
}

std::string range_begin_outside_hints(std::string_view begin) {
  if (!insert_hint_prefix(begin)) return std::string(begin);
  // seq_key(s, n - 1) + '\0': above seq_key(s, n - 1), below seq_key(s, n),
  // and no seq key (keys.hpp) lies between it and seq_key(s, n). n >= 16 here.
  std::string out(begin);
  for (std::size_t i = out.size(); i-- > out.size() - 8;) {
    if (out[i] != '\0') {
      out[i] = static_cast<char>(static_cast<unsigned char>(out[i]) - 1);
      break;
    }
    out[i] = '\xff';
  }
  out.push_back('\0');
  return out;
}

}  // namespace skein::persistence
