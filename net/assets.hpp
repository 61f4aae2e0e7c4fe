// The dashboard's and demo pages' static files (net/assets/), embedded in
// the binary at build time by net/embed_assets.cmake. Include only from
// net/*.cpp.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace skein::net_detail {

struct embedded_asset {
  std::string_view name;          // file name under net/assets/, e.g. "chat.js"
  std::string_view content_type;  // by extension, e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          // quoted, e.g. "\"1f2e3d4c5b6a7988\"" (SHA-1 prefix)
  const unsigned char* data;
  std::size_t size;               // bytes (data has one extra 0 byte after them)

  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

/// Every embedded file, in the order net/CMakeLists.txt lists them.
std::span<const embedded_asset> embedded_assets();

}  // namespace skein::net_detail
