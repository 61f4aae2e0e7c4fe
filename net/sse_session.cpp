// The SSE transport of a session: GET /sse/... streams a client's frames,
// POST /sse/... sends one message.
//
// GET /sse/{kind}/{id}[?PARAMS]
//   200 text/event-stream. The stream is one client of the session `kind/id`
//   (a connection actor, like a WebSocket). The first event is
//   `event: client` with data {"client":"ID"} (also the X-Skein-Client
//   header): the id to POST as. Then each server frame {"seq":N,"data":D}
//   becomes `id: N` + `data: D`. A stream the session closes gets
//   `event: close` with data {"code":C,"reason":R}. A comment line every
//   15 s. Query parameters are the client's params; a `Last-Event-ID`
//   header (or `last_seq` query parameter) is passed to the session as the
//   param `last_seq` (resume from the outbox arrives with issue 4).
// POST /sse/{kind}/{id}[?client=ID]   body: one JSON message
//   202 {"accepted":true,"client":ID} once handed to the session actor.
//   With `client` (query or X-Skein-Client header) the message is sent as
//   that stream's client, so answers and `{"type":"error"}` rejections of
//   the behaviour arrive on that stream; without, a one-shot client joins,
//   sends and leaves. 415 unless Content-Type is application/json, 400 for a
//   body that is not JSON (or not UTF-8, or nested deeper than
//   --max-json-depth) or a malformed id, 404 for an unknown kind, 413
//   over --max-http-body, 503 if the session cannot be reached.
// Kind `mcp` is refused (404): MCP sessions speak only through /mcp.
#include <charconv>

#include <nlohmann/json.hpp>

#include "actors/envelope.hpp"
#include "actors/metrics.hpp"
#include "actors/registry.hpp"
#include "net/input_check.hpp"
#include "net/sse_stream.hpp"
#include "runtime/node.hpp"
#include "runtime/session_host.hpp"

namespace skein::net_detail {

using json = nlohmann::json;

// ---- GET /sse/{kind}/{id}, POST /sse/{kind}/{id} --------------------------------

namespace {

class sse_client final : public http_exchange {
 public:
  template <class... A>
  explicit sse_client(A&&... a) : http_exchange(std::forward<A>(a)...) {
    transport_ = transport_slot::sse;
  }

  /// `resume_client` empty: a new client (with `last_seq`, a legacy resume
  /// by seq alone); else that client, proven by `resume_token`.
  void run(std::string key, std::string params_json, bool resume, std::uint64_t last_seq,
           std::string resume_client, std::string resume_token) {
    client_id_ = resume_client.empty() ? new_client_id() : std::move(resume_client);
    token_ = resume_token.empty() ? secure_random_id() : std::move(resume_token);
    start_sse("X-Skein-Client: " + client_id_ + "\r\n");
    // retry: how long a browser's EventSource waits before reconnecting (ms).
    write_raw("retry: 1000\nevent: client\ndata: "
              + json{{"client", client_id_}, {"resume_token", token_}}.dump() + "\n\n");
    connection_init init;
    init.session_key = std::move(key);
    init.client_id = client_id_;
    init.resume_token = token_;
    init.params_json = std::move(params_json);
    init.resume = resume;
    init.last_seq = last_seq;
    init.node_name = ctx_.n.options().name;
    spawn_connection_actor(std::move(init));
  }

  void on_frame(std::string frame) override {
    if (finished()) return;
    auto j = json::parse(frame, nullptr, false);
    if (!j.is_object() || !j.contains("seq")) return;
    // The event id is all a standard EventSource needs to resume through any
    // node: Last-Event-ID comes back as CLIENT.SEQ.TOKEN.
    write_raw("id: " + client_id_ + "." + j["seq"].dump() + "." + token_ + "\ndata: "
              + j["data"].dump() + "\n\n");
  }

  void on_transport_close(std::uint16_t code, std::string reason) override {
    if (finished()) return;
    write_raw("event: close\ndata: " + json{{"code", code}, {"reason", reason}}.dump() + "\n\n");
    end_sse();
  }

 private:
  // Over a cap: the queue is dropped; say why, then end (the client resumes
  // with Last-Event-ID).
  void on_slow_consumer() override {
    push_unchecked("event: close\ndata: "
                   + json{{"code", 1008}, {"reason", "slow consumer: outbound queue full; resume with Last-Event-ID"}}.dump()
                   + "\n\n");
    end_sse();
  }

  std::string client_id_;
  std::string token_;  // the client's resume token
};

}  // namespace

bool sse_route(request_context& rc) {
  auto& seg = rc.target.segments;
  const auto method = rc.req.method();
  if (seg.size() >= 2 && seg[1] == "mcp") {  // MCP sessions speak only through /mcp (actors/mcp/wire.hpp)
    rc.respond(error_response(rc, http::status::not_found, "MCP sessions are served at /mcp"));
    return true;
  }
  client_identity id;
  if (auto no = authenticate_client(rc, id)) {
    rc.respond(refusal_response(rc, *no));
    return true;
  }
  auto session_key = session_key_of(rc);
  if (!session_key) return true;
  if (auto no = authorize_session(rc, id, *session_key)) {
    rc.respond(refusal_response(rc, *no));
    return true;
  }
  std::string key = std::move(*session_key);

  if (method == http::verb::get) {
    json params(rc.target.query);
    // Last-Event-ID (or ?last_seq=) resumes: the session sends the events
    // after it from its outbox, or a reset.
    std::string last = header(rc.req, "Last-Event-ID");
    if (last.empty() && params.contains("last_seq")) last = params["last_seq"].get<std::string>();
    params.erase("last_seq");
    apply_identity(rc, id, params);
    std::uint64_t last_seq = 0;
    bool resume = false;
    std::string client, token;
    if (params.contains("client")) client = params["client"].get<std::string>();
    if (params.contains("resume_token")) token = params["resume_token"].get<std::string>();
    params.erase("client");
    params.erase("resume_token");
    if (!last.empty()) {
      // CLIENT.SEQ.TOKEN (the ids this route writes) or a bare SEQ.
      std::string_view seq = last;
      if (auto a = last.find('.'); a != std::string::npos) {
        auto b = last.find('.', a + 1);
        if (b == std::string::npos) {
          rc.respond(error_response(rc, http::status::bad_request, "Last-Event-ID must be CLIENT.SEQ.TOKEN or a seq"));
          return true;
        }
        client = last.substr(0, a);
        seq = std::string_view(last).substr(a + 1, b - a - 1);
        token = last.substr(b + 1);
      }
      auto [p, ec] = std::from_chars(seq.data(), seq.data() + seq.size(), last_seq);
      if (seq.empty() || ec != std::errc{} || p != seq.data() + seq.size()) {
        rc.respond(error_response(rc, http::status::bad_request, "Last-Event-ID must be CLIENT.SEQ.TOKEN or a seq"));
        return true;
      }
      resume = true;
    }
    if (!client.empty() && (!valid_client_id(client) || !valid_resume_token(token))) {
      rc.respond(error_response(rc, http::status::bad_request,
                                "a resume needs a client id ([A-Za-z0-9_-]{1,64}) and its resume_token"));
      return true;
    }
    if (!client.empty()) resume = true;
    address_slot slot;
    if (refuse_over_connection_limit(rc, slot)) return true;
    auto ex = std::make_shared<sse_client>(rc.take_stream(), rc.server, rc.req.version(), false);
    ex->hold(std::move(slot));
    ex->run(std::move(key), params.dump(), resume, last_seq, std::move(client), std::move(token));
    return true;
  }

  // POST: one message.
  auto parsed = json_body(rc);
  if (!parsed) return true;
  auto& body = *parsed;
  std::string client;
  if (auto q = rc.target.query.find("client"); q != rc.target.query.end()) client = q->second;
  if (client.empty()) client = header(rc.req, "X-Skein-Client");
  bool as_new = client.empty();
  if (as_new) {
    client = new_client_id();
  } else if (!valid_client_id(client)) {
    rc.respond(error_response(rc, http::status::bad_request, "malformed client id"));
    return true;
  }
  json params(rc.target.query);
  params.erase("client");
  apply_identity(rc, id, params);
  metrics().messages_in.fetch_add(1, std::memory_order_relaxed);
  metrics().transport(transport_slot::sse).messages_in.fetch_add(1, std::memory_order_relaxed);
  auto input = parse_client_input(rc.req.body());
  if (!input.error.empty()) {
    rc.respond(error_response(rc, http::status::bad_request, "body: " + input.error));
    return true;
  }
  auto respond = rc.respond;
  auto fail = error_response(rc, http::status::service_unavailable, "");
  auto unavailable = [respond, fail](std::string error) mutable {
    fail.body() = json{{"error", "session unavailable: " + error}}.dump();
    fail.prepare_payload();
    respond(std::move(fail));
  };
  if (input.id == 0) {
    // No id: 202 once handed to the session (applied or not, the client
    // cannot tell; see docs/protocol.md).
    auto ok = json_response(rc, http::status::accepted, json{{"accepted", true}, {"client", client}}.dump());
    deliver_once(rc.server, std::move(key), client, params.dump(), std::move(input.text), as_new,
                 [respond, ok, unavailable](std::string error) mutable {
                   if (error.empty()) return respond(std::move(ok));
                   unavailable(std::move(error));
                 });
    return true;
  }
  // With an id: 200 {"ack":N} once durable, or the rejection.
  auto ok = json_response(rc, http::status::ok, "");
  deliver_once(rc.server, std::move(key), client, params.dump(), std::move(input.text), as_new,
               [unavailable](std::string error) mutable {
                 if (!error.empty()) unavailable(std::move(error));
               },
               input.id,
               [respond, ok, unavailable, id = input.id, client](bool acked, std::string error) mutable {
                 if (!acked) {
                   ok.result(http::status::gateway_timeout);
                   ok.body() = json{{"error", error}, {"client", client}}.dump();
                   ok.prepare_payload();
                   return respond(std::move(ok));
                 }
                 auto body = json{{"ack", id}, {"client", client}};
                 if (!error.empty()) body["error"] = error;
                 ok.body() = body.dump();
                 ok.prepare_payload();
                 respond(std::move(ok));
               });
  return true;
}

}  // namespace skein::net_detail
