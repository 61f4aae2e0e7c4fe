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
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>  // websocket::is_upgrade
#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "net/address_limit.hpp"
#include "net/auth.hpp"
#include "net/server.hpp"
#include "net/url.hpp"

namespace boost::asio::ssl {
class context;
}

namespace skein::net_detail {

class any_stream;  // net/any_stream.hpp: a connection's plain or TLS byte stream
class ws_keepalive;  // net/websocket_session.cpp: the WebSocket streams' keep-alive

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
  jwt_verifier verifier{opts.auth};  // client tokens (net/auth.hpp)
  // Client TLS (opts.tls_cert_file): the server's certificate and key; null
  // for plain HTTP. Set once before the first accept, then only read.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Client streams per remote address (opts.max_connections_per_address).
  std::shared_ptr<address_counts> per_address = std::make_shared<address_counts>();

  // Origins (scheme://host:port) of the cluster's members, from the last
  // /cluster answer: the only origins /cluster* answers allow (CORS).
  std::mutex origins_mutex;
  std::vector<std::string> member_origins;

  // Live connection actors, so stop() can tell each its stream is gone.
  // Touched once per connect and disconnect, never per message.
  std::mutex conns_mutex;
  std::unordered_map<std::uint64_t, caf::actor> conns;
  std::uint64_t next_conn = 1;

  std::uint64_t add_connection(caf::actor conn);
  void remove_connection(std::uint64_t id);

  // The WebSocket streams' keep-alive (opts.ws_idle_timeout); set by
  // start_ws_keepalive before the first accept.
  std::shared_ptr<ws_keepalive> keepalive;
};

/// Starts the WebSocket keep-alive's sweep on `ex` (net/websocket_session.cpp).
void start_ws_keepalive(server_context& ctx, asio::any_io_executor ex);
/// Stops the sweep; streams still registered are left alone.
void stop_ws_keepalive(server_context& ctx);

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

/// One parsed request handed to the routes (net/routes.cpp).
struct request_context {
  server_context& server;
  request req;
  skein::target target;  // parsed req.target()
  /// Sends a complete response; the connection then reads the next request
  /// (or closes, per keep-alive). Callable once, from any thread.
  std::function<void(response)> respond;
  /// Takes the connection over (streams: WebSocket, SSE). After this,
  /// respond must not be called. Call on the connection's executor, i.e. from
  /// within the route function itself.
  std::function<any_stream()> take_stream;
  /// The bytes read past this request (a client that sent more before the
  /// answer, e.g. WebSocket frames right behind its upgrade request), taken
  /// out of the connection's read buffer. Plaintext also over TLS. At most
  /// one read's worth (Beast's read size, a few KiB). Call on the
  /// connection's executor, with take_stream.
  std::function<std::string()> take_buffered;
  /// The peer's IP address (text, e.g. "127.0.0.1"); empty if unknown.
  std::string remote_address;
};

/// A route handler: called by the route table (net/routes.cpp) only for a
/// path and method it lists the handler for; returns true once it has
/// answered or taken the stream (false: answered as "no such route").
using route_fn = bool (*)(request_context&);

/// Answers `rc` through the route table: the matching handler, or 404 (no
/// route for the path), or 405 with Allow (no route for the method).
void dispatch(request_context& rc);

/// For /{transport}/{kind}/{id...}: the session key "kind/id...", or
/// nullopt after answering 404 (no kind or id, unknown kind) or 400
/// (malformed id).
std::optional<std::string> session_key_of(request_context& rc);

// Authentication (net/client_auth.cpp; the decisions are net/auth.hpp's).

/// A refused request: 401 (no or bad token) or 403 (token may not open it).
struct refusal {
  http::status status;
  std::string message;
};

/// For /ws, /sse, /mcp: the token of the request (Authorization: Bearer,
/// else ?token=) verified when client auth is on; nullopt and `id` filled
/// (user empty when auth is off) if the request may go on.
std::optional<refusal> authenticate_client(const request_context& rc, client_identity& id);
/// 403 unless `id`'s sessions claim admits `key` (always fine when auth is off).
std::optional<refusal> authorize_session(const request_context& rc, const client_identity& id,
                                         std::string_view key);
/// The JSON error response of a refusal (with WWW-Authenticate on 401).
response refusal_response(const request_context& rc, const refusal& r);
/// Client params as the session sees them: when auth is on, "token" is
/// dropped and "user" (the token's sub) and "claims" (its claims as JSON
/// text) replace whatever the query said.
void apply_identity(const request_context& rc, const client_identity& id, nlohmann::json& params);
/// For /admin/*: true if the request carries the admin token; otherwise
/// answers 401 and returns false.
bool admin_authorized(request_context& rc);

/// True if `origin` ("http://host:port") is a member's URL per the last
/// /cluster answer of this node (net/cluster_routes.cpp).
bool member_origin(server_context& ctx, const std::string& origin);

/// A JSON response with the server's headers.
response json_response(const request_context& rc, http::status status, std::string body);
/// `{"error": message}` with `status`.
response error_response(const request_context& rc, http::status status, const std::string& message);
/// The request's body as JSON, checked (Content-Type application/json, UTF-8,
/// nesting up to --max-json-depth, well-formed); otherwise answers 415 or 400
/// and returns nullopt.
std::optional<nlohmann::json> json_body(request_context& rc);

// Route handlers, one group per file (listed in net/routes.cpp).
bool cluster_routes(request_context& rc);    // /healthz, /cluster, /cluster/placement
bool websocket_route(request_context& rc);   // /ws/{kind}/{id}
bool sse_route(request_context& rc);         // /sse/{kind}/{id} (net/sse_session.cpp)
bool mcp_route(request_context& rc);         // /mcp (net/mcp_http.cpp)
bool publish_route(request_context& rc);     // POST /api/sessions/{kind}/{id}/messages
bool metrics_route(request_context& rc);     // /metrics
bool events_route(request_context& rc);      // /cluster/events (SSE)
bool gateway_route(request_context& rc);     // /gateway (net/gateway_route.cpp)
bool admin_routes(request_context& rc);      // /admin/drain, /admin/move
bool dashboard_routes(request_context& rc);  // /, /chat, /assets/NAME

/// Open /cluster/events streams on this node (net/events_route.cpp).
std::int64_t open_event_streams();

/// A random 128-bit client id as 32 hex digits.
std::string new_client_id();

/// Starts an HTTP session on an accepted connection (TLS: after its handshake).
void start_http_session(any_stream stream, server_context& ctx);

}  // namespace skein::net_detail
