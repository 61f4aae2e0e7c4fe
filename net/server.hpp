// The HTTP side of a node (Boost.Beast): one listener, one object per stream,
// each stream on its own executor: a strand with several io threads (Beast's
// example/advanced/server shape), the io_context itself with one.
//
// Routes: see the route table in net/routes.cpp. Beast headers stay inside
// net/*.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/auth.hpp"

namespace skein {

class node;

struct server_options {
  std::string host = "127.0.0.1";   // interface to listen on
  std::uint16_t port = 0;           // 0: any free port (see port())
  std::size_t max_frame = 1 << 20;  // bytes of one inbound WebSocket message; larger: close 1009
  // Slow consumers (net/client_stream.hpp): a stream whose outbound queue
  // would exceed max_queued_frames frames or max_queued_bytes bytes, or make
  // every stream of the process together exceed max_node_queued_bytes, is
  // closed (WebSocket 1008; SSE: a close event and the end of the stream).
  std::size_t max_queued_frames = 8192;          // frames per stream
  std::size_t max_queued_bytes = 4u << 20;       // bytes per stream
  std::size_t max_node_queued_bytes = 256u << 20;  // bytes, all streams of the node
  std::size_t max_http_body = 1 << 20;   // bytes of one HTTP request body; larger: 413
  std::size_t max_json_depth = 64;       // nesting of client JSON (frames, POST bodies); deeper: refused
  // Limits (issue 14). A /ws or /sse stream opened while the node holds
  // max_connections client streams is refused with 503 and Retry-After: 1.
  // A client stream sending more than max_message_rate messages/s beyond a
  // burst of message_burst gets an error frame (code rate_limited) and 1008.
  std::size_t max_connections = 16384;   // client streams per node (the fd limit is 20,000 here)
  // Client streams (/ws, /sse) from one remote IP address beyond this are
  // refused the same way (503, Retry-After: 1). 0: no limit (the default:
  // load generators and proxies put many clients behind one address).
  std::size_t max_connections_per_address = 0;
  double max_message_rate = 1000;        // messages/s per client stream; <= 0: no limit
  double message_burst = 1000;           // messages at once above the rate
  int threads = 1;                  // io_context threads
  // WebSocket keep-alive (net/websocket_session.cpp): a stream that sent
  // nothing for half of this gets a ping; one that sent nothing (not even a
  // pong) for all of it is closed. As Beast's timeout::suggested(server).
  std::chrono::milliseconds ws_idle_timeout{300000};
  // Client TLS: with both files (PEM: the certificate chain, leaf first, and
  // its private key) every connection of the listener is TLS (https, wss;
  // TLS 1.2 or newer); with neither, plain HTTP. One without the other is
  // refused by the constructor. A connection whose handshake fails or does
  // not finish within tls_handshake_timeout is closed; nothing else is.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::chrono::milliseconds tls_handshake_timeout{10000};
  // Client tokens (JWT) for /ws, /sse, /mcp and the admin token for
  // /admin/* (net/auth.hpp). Without JWT keys clients are not
  // authenticated (logged once as "auth: off"); without an admin token
  // every /admin/* request is refused.
  auth_options auth;
};

/// Thread-safety: construct, run(), stop() from one thread.
class http_server {
 public:
  /// Binds the listener. Throws std::runtime_error if the address is taken
  /// or the TLS certificate or key cannot be loaded (or do not match),
  /// std::invalid_argument if opts.auth.jwt_public_key is not a usable key
  /// or only one of tls_cert_file and tls_key_file is set.
  http_server(node& n, server_options opts);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound port.
  std::uint16_t port() const;
  /// True if the listener speaks TLS (https, wss).
  bool tls() const;
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
