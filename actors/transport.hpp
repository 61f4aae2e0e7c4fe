// The outbound side of one client stream, as the connection actor sees it.
// Implemented by net/ (WebSocket today; SSE and MCP later) so that actors/
// knows nothing of HTTP.
#pragma once

#include <cstdint>
#include <string>

namespace skein {

/// Thread-safety: both members may be called from any thread (a CAF
/// scheduler thread in practice) and must never block: they hand the work to
/// the stream's own executor.
class transport {
 public:
  virtual ~transport() = default;

  /// Queues one server frame (JSON text). If the stream's bounded write
  /// queue is full the implementation closes the stream (slow consumer).
  virtual void deliver(std::string frame) = 0;

  /// Closes the stream with a WebSocket-style close code and a reason.
  virtual void close(std::uint16_t code, std::string reason) = 0;
};

}  // namespace skein
