// The HTTP side of a node (Boost.Beast): one listener, one object per stream,
// each stream on its own strand (Beast's example/advanced/server shape).
//
// Routes: GET /healthz, GET /cluster, GET /cluster/placement?key=kind/id,
// GET /ws/{kind}/{id} (WebSocket upgrade; 404 for an unknown kind).
// Beast headers stay inside net/*.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace skein {

class node;

struct server_options {
  std::string host = "127.0.0.1";   // interface to listen on
  std::uint16_t port = 0;           // 0: any free port (see port())
  std::size_t max_frame = 1 << 20;  // bytes of one inbound WebSocket message; larger: close 1009
  std::size_t max_queued_frames = 8192;  // outbound frames queued per stream; more: close 1008
  std::size_t max_http_body = 1 << 20;   // bytes of one HTTP request body; larger: 413
  int threads = 1;                  // io_context threads
};

/// Thread-safety: construct, run(), stop() from one thread.
class http_server {
 public:
  /// Binds the listener. Throws std::runtime_error if the address is taken.
  http_server(node& n, server_options opts);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound port.
  std::uint16_t port() const;
  /// Starts the io threads; returns at once.
  void run();
  /// Stops accepting, stops the io threads and tells every connection actor
  /// that its stream is gone. Call before node::stop(). Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace skein
