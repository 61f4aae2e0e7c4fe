// Internal to net/: Beast aliases, the server-wide context shared by every
// stream, and the per-stream classes. Include only from net/*.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "net/server.hpp"

namespace skein::net_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

/// Shared by every stream of one server; outlives them all.
struct server_context {
  node& n;
  server_options opts;
  std::string server_header = "skein";

  // Live connection actors, so stop() can tell each its stream is gone.
  // Touched once per connect and disconnect, never per message.
  std::mutex conns_mutex;
  std::unordered_map<std::uint64_t, caf::actor> conns;
  std::uint64_t next_conn = 1;

  std::uint64_t add_connection(caf::actor conn);
  void remove_connection(std::uint64_t id);
};

/// A random 128-bit client id as 32 hex digits.
std::string new_client_id();

/// Starts an HTTP session on an accepted socket.
void start_http_session(tcp::socket socket, server_context& ctx);

/// Accepts the WebSocket upgrade `req` on `socket` and bridges it to a new
/// connection actor for `session_key`.
void start_websocket_session(tcp::socket socket, http::request<http::string_body> req,
                             std::string session_key, std::string params_json,
                             server_context& ctx);

}  // namespace skein::net_detail
