// Cluster addresses on the command line (`--seeds`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skein {

using address = std::pair<std::string, std::uint16_t>;  // host, cluster port

/// Parses "127.0.0.1:7001,127.0.0.1:7003" (empty string: none). Throws
/// std::invalid_argument naming the bad entry.
std::vector<address> parse_addresses(std::string_view list);

/// The inverse of parse_addresses.
std::string format_addresses(const std::vector<address>& list);

}  // namespace skein
