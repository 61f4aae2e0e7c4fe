// Static cluster membership (the `--peers` list).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace skein {

/// One member: its unique name and where its cluster (CAF middleman) port is.
struct member_address {
  std::string name;
  std::string host;
  std::uint16_t cluster_port = 0;
  bool operator==(const member_address&) const = default;
};

/// Parses "n1@127.0.0.1:7001,n2@127.0.0.1:7002" (empty string: no members).
/// Throws std::invalid_argument naming the bad entry; names must be unique.
std::vector<member_address> parse_members(std::string_view list);

/// The inverse of parse_members.
std::string format_members(const std::vector<member_address>& members);

}  // namespace skein
