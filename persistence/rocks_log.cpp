// RocksDB's info log into spdlog, and the WAL tails it reports dropping
// (persistence/rocks_log.hpp).
#include "persistence/rocks_log.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include <spdlog/spdlog.h>

namespace skein::persistence {

std::optional<dropped_tail> parse_dropped_tail(std::string_view line) {
  constexpr std::string_view marker = ": dropping ";
  auto at = line.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view head = line.substr(0, at);
  if (auto p = head.rfind("] "); p != std::string_view::npos) head.remove_prefix(p + 2);
  constexpr std::string_view ignoring = "(ignoring error) ";
  if (auto p = head.rfind(ignoring); p != std::string_view::npos)
    head.remove_prefix(p + ignoring.size());
  std::string_view rest = line.substr(at + marker.size());
  std::uint64_t bytes = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), bytes);
  if (ec != std::errc{} || head.empty()) return std::nullopt;
  rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
  constexpr std::string_view unit = " bytes";
  if (rest.substr(0, unit.size()) != unit) return std::nullopt;
  rest.remove_prefix(unit.size());
  if (rest.substr(0, 2) == "; ") rest.remove_prefix(2);
  return dropped_tail{std::string(head), bytes, std::string(rest)};
}

// RocksDB skips lines below the logger's level before formatting them: INFO
// only when spdlog would print debug lines (the dropped-tail lines are WARN).
rocks_logger::rocks_logger()
    : rocksdb::Logger(spdlog::should_log(spdlog::level::debug) ? rocksdb::InfoLogLevel::INFO_LEVEL
                                                               : rocksdb::InfoLogLevel::WARN_LEVEL) {}

void rocks_logger::Logv(const char* format, va_list ap) {
  Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
}

void rocks_logger::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  char buf[1024];
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(buf, sizeof buf, format, copy);
  va_end(copy);
  if (n < 0) return;
  std::string_view line(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
  if (auto d = parse_dropped_tail(line)) {
    std::lock_guard lock(mutex_);
    dropped_.push_back(std::move(*d));
  }
  switch (level) {
    case rocksdb::InfoLogLevel::WARN_LEVEL: spdlog::warn("rocksdb: {}", line); break;
    case rocksdb::InfoLogLevel::ERROR_LEVEL:
    case rocksdb::InfoLogLevel::FATAL_LEVEL: spdlog::error("rocksdb: {}", line); break;
    default: spdlog::debug("rocksdb: {}", line);
  }
}

std::vector<dropped_tail> rocks_logger::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace skein::persistence
