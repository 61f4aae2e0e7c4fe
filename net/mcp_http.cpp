// MCP Streamable HTTP (2025-03-26, 2025-06-18, 2025-11-25) at /mcp.
//
// The MCP session is the skein session `mcp/{Mcp-Session-Id}`; every POST,
// GET and DELETE -- on whichever node the load balancer picked -- becomes a
// connection actor (a client of that session actor) whose transport is the
// HTTP response (mcp_exchange below). What the request means and how the
// behaviour answers is in actors/mcp/wire.hpp.
//
// Checked here, before the session is involved:
//   Authorization      401 without a valid client token when client auth is
//                      on (net/client_auth.cpp); 403 if its sessions claim
//                      does not admit mcp/{Mcp-Session-Id}
//   Host / Origin      403 unless allowed (DNS rebinding). Allowed hosts:
//                      SKEIN_MCP_ALLOWED_HOSTS (comma-separated host names,
//                      "*" = any; default localhost,127.0.0.1,[::1]); allowed
//                      origins: SKEIN_MCP_ALLOWED_ORIGINS (comma-separated
//                      origins like https://app.example or host names, "*" =
//                      any; default: an origin whose host is an allowed host).
//   MCP-Protocol-Version  400 if present and not a supported version
//   POST Content-Type  415 unless application/json
//   POST Accept        406 unless it admits application/json and text/event-stream
//   POST body          400 + -32700 if not JSON (or not UTF-8, or nested
//                      deeper than max_json_depth: checked before parsing);
//                      400 + -32600 if not JSON-RPC shaped; 413 over
//                      --max-http-body (the HTTP session)
//   Mcp-Session-Id     400 if missing (except initialize); 404 if not of the
//                      form skein issues (32 hex digits)
//   GET Accept         406 unless it admits text/event-stream
//   other methods      405 with Allow: GET, POST, DELETE (the route table)
// Decided by the session, as a wire::outcome mapped here to a status
// (http_status_of): not_found / session_expired 404, bad_request 400 (a
// second initialize, a batch under >= 2025-06-18), accepted 202 (a POST of
// only notifications/responses), done 200 (DELETE).
//
// A POST with requests is answered as one JSON body (an object, or an array
// for a batch) if the session's answers are all responses; as soon as the
// session sends anything else first (or asks for SSE) the response switches
// to text/event-stream and ends when every request of the POST has its
// response. SSE event ids are "STREAM:SEQ".
#include <cstdlib>
#include <set>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/mcp/jsonrpc.hpp"
#include "actors/mcp/versions.hpp"
#include "actors/mcp/wire.hpp"
#include "actors/metrics.hpp"
#include "actors/registry.hpp"
#include "net/input_check.hpp"
#include "net/sse_stream.hpp"
#include "runtime/node.hpp"

namespace skein::net_detail {

namespace {

using json = nlohmann::json;
namespace wire = skein::mcp::wire;

constexpr auto post_timeout = std::chrono::seconds(60);  // waiting for the session's first answer

namespace jsonrpc = skein::mcp::jsonrpc;
namespace code = jsonrpc::code;
using wire::outcome;

json rpc_error(int c, const std::string& message) { return jsonrpc::error_message(nullptr, c, message); }

response mcp_error(const request_context& rc, http::status status, int code, const std::string& message) {
  metrics().mcp_errors[node_metrics::status_class(static_cast<unsigned>(status))].fetch_add(1, std::memory_order_relaxed);
  return json_response(rc, status, rpc_error(code, message).dump());
}

/// The HTTP status of an MCP outcome.
http::status http_status_of(outcome o) {
  switch (o) {
    case outcome::accepted: return http::status::accepted;
    case outcome::done: return http::status::ok;
    case outcome::bad_request: return http::status::bad_request;
    case outcome::not_found: return http::status::not_found;
    case outcome::session_expired: return http::status::not_found;
    case outcome::unsupported_version: return http::status::bad_request;
  }
  return http::status::internal_server_error;
}

std::vector<std::string> split_list(const char* env, std::vector<std::string> fallback) {
  const char* v = std::getenv(env);
  if (!v || !*v) return fallback;
  std::vector<std::string> out;
  std::string s(v), item;
  for (std::size_t pos = 0; pos <= s.size();) {
    auto comma = s.find(',', pos);
    item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

const std::vector<std::string>& allowed_hosts() {
  static const auto v = split_list("SKEIN_MCP_ALLOWED_HOSTS", {"localhost", "127.0.0.1", "[::1]"});
  return v;
}

const std::vector<std::string>& allowed_origins() {
  static const auto v = split_list("SKEIN_MCP_ALLOWED_ORIGINS", {});
  return v;
}

/// "host:port" / "[v6]:port" -> lowercased host ("[v6]" keeps its brackets).
std::string host_part(std::string hostport) {
  for (auto& c : hostport) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    return close == std::string::npos ? hostport : hostport.substr(0, close + 1);
  }
  return hostport.substr(0, hostport.find(':'));
}

bool host_allowed(const std::string& host) {
  for (auto& h : allowed_hosts())
    if (h == "*" || h == host || (host == "::1" && h == "[::1]")) return true;
  return false;
}

bool origin_allowed(const std::string& origin) {
  const auto& list = allowed_origins();
  auto scheme_end = origin.find("://");
  if (scheme_end == std::string::npos) return false;  // includes "null"
  auto rest = origin.substr(scheme_end + 3);
  auto host = host_part(rest.substr(0, rest.find('/')));
  if (list.empty()) return host_allowed(host);
  for (auto& o : list)
    if (o == "*" || o == origin || o == host) return true;
  return false;
}

bool valid_session_id(const std::string& s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

class mcp_exchange final : public http_exchange {
 public:
  template <class... A>
  explicit mcp_exchange(A&&... a) : http_exchange(std::forward<A>(a)...) {
    transport_ = transport_slot::mcp;
  }

  struct setup {
    std::string transport;          // wire::transport_*
    std::string session_id;
    bool new_session = false;       // initialize without Mcp-Session-Id: send the header
    bool batch = false;
    std::set<std::string> awaiting; // request ids (JSON text)
    std::string protocol_version;
    std::string last_event_id;
    std::string body;
    json identity = json::object();  // {"user","claims"} when client auth is on (apply_identity)
  };

  void run(setup s) {
    s_ = std::move(s);
    client_id_ = new_client_id();
    stream_id_ = client_id_;
    if (!s_.last_event_id.empty()) {
      auto prefix = s_.last_event_id.substr(0, s_.last_event_id.find(':'));
      if (!prefix.empty()) stream_id_ = prefix;
    }
    json params = s_.identity;
    params["transport"] = s_.transport;
    params["protocol_version"] = s_.protocol_version;
    params["last_event_id"] = s_.last_event_id;
    connection_init init;
    init.session_key = "mcp/" + s_.session_id;
    init.client_id = client_id_;
    init.params_json = params.dump();
    // Only initialize creates a session: a request naming an id that no
    // member has records of is answered 404 without activating anything.
    init.existing_only = !s_.new_session;
    // The timer holds this exchange until the session answers (or 504).
    arm_timeout(post_timeout);
    spawn_connection_actor(std::move(init));
    if (s_.transport == wire::transport_post) {
      metrics().messages_in.fetch_add(1, std::memory_order_relaxed);
      metrics().transport(transport_slot::mcp).messages_in.fetch_add(1, std::memory_order_relaxed);
      caf::anon_send(conn(), message_atom::value, std::move(s_.body));
    }
  }

  void on_frame(std::string frame) override {
    if (finished()) return;
    auto f = json::parse(frame, nullptr, false);
    if (!f.is_object()) return;
    auto seq = f.value("seq", std::uint64_t{0});
    auto& data = f["data"];
    if (data.is_object() && data.contains(wire::control_key)) return on_control(seq, data);
    if (data.is_object() && data.value("type", "") == std::string("error") && !data.contains("jsonrpc")) {
      // The runtime rejected the input (bad_input / malformed): not expected
      // after our own validation, but answer it rather than hang.
      return answer_status(http::status::bad_request,
                           rpc_error(code::invalid_request, data.value("message", std::string("bad input"))));
    }
    const bool resp = jsonrpc::is_response(data);
    bool completes = false;
    if (resp && s_.awaiting.erase(data["id"].dump()) > 0) completes = s_.awaiting.empty();
    if (!streaming()) {
      if (resp && !s_.transport.empty() && s_.transport == wire::transport_post) {
        collected_.push_back(std::move(data));
        if (completes) send_json();
        return;
      }
      open_sse(false, seq);
    }
    write_raw("id: " + stream_id_ + ":" + std::to_string(seq) + "\nevent: message\ndata: "
              + data.dump() + "\n\n");
    if (completes && s_.transport == wire::transport_post) end_sse();
  }

  void on_transport_close(std::uint16_t close_code, std::string reason) override {
    if (finished()) return;
    if (streaming()) return end_sse();
    if (close_code == 4404)
      return answer_status(http::status::not_found,
                           jsonrpc::error_message(nullptr, code::session_not_found, "Session not found"));
    spdlog::warn("mcp {}: session unavailable ({}): {}", s_.session_id, close_code, reason);
    answer_status(http::status::service_unavailable,
                  rpc_error(code::internal_error, "session unavailable: " + reason));
  }

 private:
  void on_control(std::uint64_t seq, const json& c) {
    auto op = c.value(wire::control_key, std::string{});
    if (op == "outcome") {
      if (streaming()) return end_sse();
      auto o = wire::parse_outcome(c.value("outcome", std::string{}));
      if (!o) return answer_status(http::status::internal_server_error, rpc_error(code::internal_error, "unknown outcome"));
      return answer_status(http_status_of(*o), c.value("body", json()));
    }
    if (op == "sse") {
      if (!streaming()) open_sse(c.value("priming", false), seq);
      return;
    }
    if (op == "close") {
      if (!streaming()) open_sse(false, seq);
      write_raw("retry: " + std::to_string(c.value("retry", 1000)) + "\n\n");
      return end_sse();
    }
    if (op == "end") {
      if (streaming()) return end_sse();
      if (!collected_.empty()) return send_json();
      return answer_status(http::status::accepted, nullptr);
    }
    if (op == "wake") return schedule_wake(c.value("after_ms", 0), c.value("token", std::string{}));
  }

  void schedule_wake(int after_ms, std::string token) {
    auto timer = std::make_shared<asio::steady_timer>(executor());
    timer->expires_after(std::chrono::milliseconds(std::max(0, after_ms)));
    timer->async_wait([timer, &ctx = ctx_, key = "mcp/" + s_.session_id,
                       token = std::move(token)](beast::error_code ec) {
      if (ec) return;
      json params{{"transport", wire::transport_wake}};
      json msg{{wire::control_key, "wake"}, {"token", token}};
      deliver_once(ctx, key, new_client_id(), params.dump(), msg.dump(), true,
                   [key](std::string error) {
                     if (!error.empty()) spdlog::warn("mcp {}: wake lost: {}", key, error);
                   });
    });
  }

  void add_session_header(response& res) {
    if (!s_.session_id.empty() && s_.transport != wire::transport_delete)
      res.set("Mcp-Session-Id", s_.session_id);
  }

  void answer_status(http::status status, const json& body) {
    response res{status, version()};
    res.set(http::field::server, ctx_.server_header);
    res.set("X-Skein-Node", ctx_.n.options().name);
    if (!body.is_null()) {
      res.set(http::field::content_type, "application/json");
      res.body() = body.dump();
    }
    if (static_cast<int>(status) < 300) add_session_header(res);
    res.prepare_payload();
    send_response(std::move(res));
  }

  void send_json() {
    response res{http::status::ok, version()};
    res.set(http::field::server, ctx_.server_header);
    res.set("X-Skein-Node", ctx_.n.options().name);
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    add_session_header(res);
    if (s_.batch) {
      res.body() = json(collected_).dump();
    } else {
      res.body() = collected_.front().dump();
    }
    collected_.clear();
    res.prepare_payload();
    send_response(std::move(res));
  }

  void open_sse(bool priming, std::uint64_t seq) {
    std::string extra;
    if (!s_.session_id.empty()) extra += "Mcp-Session-Id: " + s_.session_id + "\r\n";
    start_sse(extra);
    if (priming) write_raw("id: " + stream_id_ + ":" + std::to_string(seq) + "\ndata: \n\n");
    for (auto& m : collected_)
      write_raw("id: " + stream_id_ + ":" + std::to_string(seq) + "\nevent: message\ndata: " + m.dump()
                + "\n\n");
    collected_.clear();
  }

  void on_timeout() override {
    answer_status(http::status::gateway_timeout,
                  rpc_error(code::internal_error, "the session did not answer in time"));
  }

  setup s_;
  std::string client_id_;
  std::string stream_id_;
  std::vector<json> collected_;
};

}  // namespace

bool mcp_route(request_context& rc) {
  const auto method = rc.req.method();
  if (!rc.server.n.registry().contains("mcp")) {
    rc.respond(mcp_error(rc, http::status::not_found, code::server_error, "no MCP server (session kind 'mcp') on this node"));
    return true;
  }
  client_identity id;
  auto refuse = [&](const refusal& r) {
    auto res = mcp_error(rc, r.status, code::server_error,
                         (r.status == http::status::unauthorized ? "Unauthorized: " : "Forbidden: ") + r.message);
    if (r.status == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer");
    rc.respond(std::move(res));
    return true;
  };
  if (auto no = authenticate_client(rc, id)) return refuse(*no);
  // DNS rebinding protection: Host and Origin.
  if (!host_allowed(host_part(header(rc.req, "Host")))) {
    rc.respond(mcp_error(rc, http::status::forbidden, code::server_error, "Forbidden: Host not allowed"));
    return true;
  }
  if (auto origin = header(rc.req, "Origin"); !origin.empty() && !origin_allowed(origin)) {
    rc.respond(mcp_error(rc, http::status::forbidden, code::server_error, "Forbidden: Origin not allowed"));
    return true;
  }
  auto version = header(rc.req, "MCP-Protocol-Version");
  if (!version.empty() && !skein::mcp::is_supported_version(version)) {
    rc.respond(mcp_error(rc, http_status_of(outcome::unsupported_version), code::server_error,
                         "Bad Request: unsupported MCP-Protocol-Version '" + version + "'"));
    return true;
  }
  auto session_id = header(rc.req, "Mcp-Session-Id");

  mcp_exchange::setup s;
  s.protocol_version = version;
  if (method == http::verb::post) {
    if (!content_type_is(rc.req, "application/json")) {
      rc.respond(mcp_error(rc, http::status::unsupported_media_type, code::server_error,
                           "Unsupported Media Type: Content-Type must be application/json"));
      return true;
    }
    if (!accepts(rc.req, "application/json") || !accepts(rc.req, "text/event-stream")) {
      rc.respond(mcp_error(rc, http::status::not_acceptable, code::server_error,
                           "Not Acceptable: Accept must include application/json and text/event-stream"));
      return true;
    }
    if (auto problem = json_input_problem(rc.req.body(), rc.server.opts.max_json_depth)) {
      rc.respond(mcp_error(rc, http::status::bad_request, code::parse_error, "Parse error: " + *problem));
      return true;
    }
    auto body = json::parse(rc.req.body(), nullptr, false);
    if (body.is_discarded()) {
      rc.respond(mcp_error(rc, http::status::bad_request, code::parse_error, "Parse error"));
      return true;
    }
    auto shape = jsonrpc::inspect_body(body);
    if (!shape.shaped) {
      rc.respond(mcp_error(rc, http::status::bad_request, code::invalid_request, "Invalid Request: not a JSON-RPC 2.0 message"));
      return true;
    }
    if (shape.initialize && shape.items > 1) {
      rc.respond(mcp_error(rc, http::status::bad_request, code::invalid_request,
                           "Invalid Request: initialize must not be part of a batch"));
      return true;
    }
    const bool init = shape.initialize;
    s.awaiting = std::move(shape.request_ids);
    if (session_id.empty()) {
      if (!init) {
        rc.respond(mcp_error(rc, http::status::bad_request, code::server_error,
                             "Bad Request: Mcp-Session-Id header is required"));
        return true;
      }
      session_id = secure_random_id();
      s.new_session = true;
    }
    s.transport = wire::transport_post;
    s.batch = shape.batch;
    s.body = std::move(rc.req.body());
  } else if (method == http::verb::get) {
    if (!accepts(rc.req, "text/event-stream")) {
      rc.respond(mcp_error(rc, http::status::not_acceptable, code::server_error,
                           "Not Acceptable: Accept must include text/event-stream"));
      return true;
    }
    s.transport = wire::transport_get;
    s.last_event_id = header(rc.req, "Last-Event-ID");
  } else {
    s.transport = wire::transport_delete;
  }
  if (session_id.empty()) {
    rc.respond(mcp_error(rc, http::status::bad_request, code::server_error, "Bad Request: Mcp-Session-Id header is required"));
    return true;
  }
  if (!valid_session_id(session_id)) {
    rc.respond(mcp_error(rc, http::status::not_found, code::session_not_found, "Session not found"));
    return true;
  }
  if (auto no = authorize_session(rc, id, "mcp/" + session_id)) return refuse(*no);
  s.session_id = session_id;
  apply_identity(rc, id, s.identity);
  auto keep_alive = rc.req.keep_alive();
  auto ver = rc.req.version();
  auto ex = std::make_shared<mcp_exchange>(rc.take_stream(), rc.server, ver, keep_alive);
  ex->run(std::move(s));
  return true;
}

}  // namespace skein::net_detail
