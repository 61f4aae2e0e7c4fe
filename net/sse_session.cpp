// The SSE transport of a session, and what it shares with MCP (sse_stream.hpp).
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
//   body that is not JSON or a malformed id, 404 for an unknown kind, 413
//   over --max-http-body, 503 if the session cannot be reached.
// Kind `mcp` is refused (404): MCP sessions speak only through /mcp.
#include <charconv>
#include <sys/random.h>

#include <cstdlib>
#include <cstring>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/connection.hpp"
#include "actors/metrics.hpp"
#include "actors/registry.hpp"
#include "net/sse_stream.hpp"
#include "runtime/node.hpp"
#include "runtime/session_host.hpp"

namespace skein::net_detail {

using json = nlohmann::json;

// ---- shared helpers -------------------------------------------------------------

std::chrono::milliseconds sse_keepalive_interval() {
  static const std::chrono::milliseconds v = [] {
    if (const char* e = std::getenv("SKEIN_SSE_KEEPALIVE_MS"); e && *e) {
      long ms = std::strtol(e, nullptr, 10);
      if (ms > 0) return std::chrono::milliseconds(ms);
    }
    return std::chrono::milliseconds(15000);
  }();
  return v;
}

std::string secure_random_id() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    auto n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  static const char* digits = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return out;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

bool accepts(const request& req, std::string_view media_type) {
  auto it = req.find(http::field::accept);
  if (it == req.end()) return false;
  auto value = lower(std::string_view(it->value().data(), it->value().size()));
  auto wanted = lower(media_type);
  auto slash = wanted.find('/');
  std::size_t pos = 0;
  while (pos <= value.size()) {
    auto comma = value.find(',', pos);
    auto item = trim(std::string_view(value).substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    auto type = trim(item.substr(0, item.find(';')));
    if (type == wanted || type == "*/*" || type == wanted.substr(0, slash) + "/*") return true;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return false;
}

bool content_type_is(const request& req, std::string_view media_type) {
  auto it = req.find(http::field::content_type);
  if (it == req.end()) return false;
  auto value = lower(std::string_view(it->value().data(), it->value().size()));
  return trim(value.substr(0, value.find(';'))) == lower(media_type);
}

void deliver_once(server_context& ctx, std::string key, std::string client_id,
                  std::string params_json, std::string text, bool as_new_client,
                  std::function<void(std::string)> done) {
  auto& n = ctx.n;
  n.system().spawn([host = n.host(), key = std::move(key), client = std::move(client_id),
                    params = std::move(params_json), text = std::move(text), as_new_client,
                    done = std::move(done)](caf::event_based_actor* a) mutable {
    a->request(host, std::chrono::seconds(5), resolve_atom::value, key)
      .then(
        [a, client, params, text, as_new_client, done](caf::actor session) {
          // cseq 0: a one-shot message, not part of an ordered stream.
          if (as_new_client)
            a->send(session, join_atom::value, client, params, caf::actor_cast<caf::actor>(a),
                    std::uint64_t{0}, false, true);
          a->send(session, message_atom::value, client, std::uint64_t{0}, text);
          if (as_new_client) a->send(session, leave_atom::value, client, std::uint64_t{0});
          if (done) done(std::string{});
        },
        [a, done](caf::error& err) {
          if (done) done(a->system().render(err));
        });
  });
}

// ---- http_exchange --------------------------------------------------------------

http_exchange::http_exchange(beast::tcp_stream&& stream, server_context& ctx, unsigned version,
                             bool keep_alive)
  : ctx_(ctx),
    stream_(std::move(stream)),
    executor_(stream_.get_executor()),
    version_(version),
    keep_alive_(keep_alive),
    timer_(executor_) {
  stream_.expires_never();
}

void http_exchange::send_response(response res) {
  if (finished_ || streaming_) return;
  res.keep_alive(keep_alive_);
  auto sp = std::make_shared<response>(std::move(res));
  auto self = shared_from_this();
  http::async_write(stream_, *sp, [self, sp](beast::error_code ec, std::size_t) {
    if (!ec && sp->keep_alive()) {
      start_http_session(self->stream_.release_socket(), self->ctx_);
      return;
    }
    beast::error_code ignored;
    self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  });
  finish();
}

void http_exchange::start_sse(const std::string& extra_headers) {
  if (finished_ || streaming_) return;
  streaming_ = true;
  std::string head = version_ == 10 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n";
  head += "Server: " + ctx_.server_header + "\r\n";
  head += "X-Skein-Node: " + ctx_.n.options().name + "\r\n";
  head +=
    "Content-Type: text/event-stream\r\n"
    "Cache-Control: no-cache, no-store\r\n"
    "X-Accel-Buffering: no\r\n"
    "Connection: close\r\n";
  head += extra_headers;
  head += "\r\n";
  queue_.push_front(std::move(head));  // before anything queued
  if (!writing_) do_write();
  watch_peer();
  arm_keepalive();
}

void http_exchange::write_raw(std::string text) {
  if (finished_ || ending_ || !streaming_) return;
  if (queue_.size() >= ctx_.opts.max_queued_frames) {
    spdlog::warn("SSE stream: slow consumer ({} queued), closing", queue_.size());
    metrics().slow_consumers.fetch_add(1, std::memory_order_relaxed);
    return abort_now();
  }
  queue_.push_back(std::move(text));
  if (!writing_) do_write();
}

void http_exchange::end_sse() {
  if (finished_ || ending_) return;
  ending_ = true;
  if (!writing_) abort_now();
}

void http_exchange::abort_now() {
  if (finished_) return;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  finish();
}

void http_exchange::arm_timeout(std::chrono::milliseconds d) {
  auto gen = ++timer_gen_;
  timer_.expires_after(d);
  timer_.async_wait([self = shared_from_this(), gen](beast::error_code ec) {
    if (ec || gen != self->timer_gen_ || self->finished_ || self->streaming_) return;
    self->on_timeout();
  });
}

void http_exchange::do_write() {
  if (queue_.empty()) return;
  writing_ = true;
  asio::async_write(stream_, asio::buffer(queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (ec) return self->abort_now();
                      self->queue_.pop_front();
                      metrics().messages_out.fetch_add(1, std::memory_order_relaxed);
                      if (!self->queue_.empty()) return self->do_write();
                      if (self->ending_) self->abort_now();
                    });
}

void http_exchange::watch_peer() {
  stream_.socket().async_read_some(
    asio::buffer(peer_buf_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (self->finished_) return;
      if (ec) return self->abort_now();  // the client went away
      self->watch_peer();                // bytes from a client that should be quiet: ignore
    });
}

void http_exchange::arm_keepalive() {
  auto gen = ++timer_gen_;
  timer_.expires_after(sse_keepalive_interval());
  timer_.async_wait([self = shared_from_this(), gen](beast::error_code ec) {
    if (ec || gen != self->timer_gen_ || self->finished_ || self->ending_) return;
    if (self->queue_.empty()) self->write_raw(": keepalive\n\n");
    self->arm_keepalive();
  });
}

void http_exchange::finish() {
  if (finished_) return;
  finished_ = true;
  ++timer_gen_;
  timer_.cancel();
  on_finished();
  self_.reset();  // may destroy *this once no handler holds it: last statement
}

// ---- GET /sse/{kind}/{id}, POST /sse/{kind}/{id} --------------------------------

namespace {

class sse_client final : public http_exchange {
 public:
  using http_exchange::http_exchange;

  void run(std::string key, std::string params_json, bool resume = false,
           std::uint64_t last_seq = 0) {
    hold();
    client_id_ = new_client_id();
    start_sse("X-Skein-Client: " + client_id_ + "\r\n");
    write_raw("event: client\ndata: " + json{{"client", client_id_}}.dump() + "\n\n");
    connection_init init;
    init.session_key = std::move(key);
    init.client_id = client_id_;
    init.params_json = std::move(params_json);
    init.resume = resume;
    init.last_seq = last_seq;
    init.node_name = ctx_.n.options().name;
    init.out = std::make_shared<strand_bridge<sse_client>>(
      std::static_pointer_cast<sse_client>(shared_from_this()), executor());
    init.host = ctx_.n.host();
    conn_ = spawn_connection(ctx_.n.system(), std::move(init));
    conn_id_ = ctx_.add_connection(conn_);
    metrics().connections.fetch_add(1, std::memory_order_relaxed);
    metrics().connections_total.fetch_add(1, std::memory_order_relaxed);
  }

  void on_frame(std::string frame) {
    if (finished()) return;
    auto j = json::parse(frame, nullptr, false);
    if (!j.is_object() || !j.contains("seq")) return;
    write_raw("id: " + j["seq"].dump() + "\ndata: " + j["data"].dump() + "\n\n");
  }

  void on_transport_close(std::uint16_t code, std::string reason) {
    if (finished()) return;
    write_raw("event: close\ndata: " + json{{"code", code}, {"reason", reason}}.dump() + "\n\n");
    end_sse();
  }

 private:
  void on_timeout() override {}
  void on_finished() override {
    if (!conn_) return;
    metrics().connections.fetch_sub(1, std::memory_order_relaxed);
    caf::anon_send(conn_, leave_atom::value);
    ctx_.remove_connection(conn_id_);
  }

  std::string client_id_;
  caf::actor conn_;
  std::uint64_t conn_id_ = 0;
};

std::string header(const request& req, std::string_view name) {
  auto it = req.find(beast::string_view(name.data(), name.size()));
  return it == req.end() ? std::string{} : std::string(it->value().data(), it->value().size());
}

bool valid_client_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

}  // namespace

bool sse_route(request_context& rc) {
  auto& seg = rc.target.segments;
  if (seg.empty() || seg[0] != "sse") return false;
  const auto method = rc.req.method();
  if (method != http::verb::get && method != http::verb::post) {
    auto res = error_response(rc, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "GET, POST");
    rc.respond(std::move(res));
    return true;
  }
  if (seg.size() >= 2 && seg[1] == "mcp") {  // MCP sessions speak only through /mcp (actors/mcp/wire.hpp)
    rc.respond(error_response(rc, http::status::not_found, "MCP sessions are served at /mcp"));
    return true;
  }
  auto session_key = session_key_of(rc);
  if (!session_key) return true;
  std::string key = std::move(*session_key);

  if (method == http::verb::get) {
    json params(rc.target.query);
    // Last-Event-ID (or ?last_seq=) resumes: the session sends the events
    // after it from its outbox, or a reset.
    std::string last = header(rc.req, "Last-Event-ID");
    if (last.empty() && params.contains("last_seq")) last = params["last_seq"].get<std::string>();
    params.erase("last_seq");
    std::uint64_t last_seq = 0;
    bool resume = false;
    if (!last.empty()) {
      auto [p, ec] = std::from_chars(last.data(), last.data() + last.size(), last_seq);
      if (ec != std::errc{} || p != last.data() + last.size()) {
        rc.respond(error_response(rc, http::status::bad_request, "Last-Event-ID must be a seq"));
        return true;
      }
      resume = true;
    }
    auto ex = std::make_shared<sse_client>(rc.take_stream(), rc.server, rc.req.version(), false);
    ex->run(std::move(key), params.dump(), resume, last_seq);
    return true;
  }

  // POST: one message.
  if (!content_type_is(rc.req, "application/json")) {
    rc.respond(error_response(rc, http::status::unsupported_media_type,
                              "Content-Type must be application/json"));
    return true;
  }
  auto body = json::parse(rc.req.body(), nullptr, false);
  if (body.is_discarded()) {
    rc.respond(error_response(rc, http::status::bad_request, "body is not JSON"));
    return true;
  }
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
  metrics().messages_in.fetch_add(1, std::memory_order_relaxed);
  auto respond = rc.respond;
  auto ok = json_response(rc, http::status::accepted, json{{"accepted", true}, {"client", client}}.dump());
  auto fail = error_response(rc, http::status::service_unavailable, "");
  deliver_once(rc.server, std::move(key), client, params.dump(), rc.req.body(), as_new,
               [respond, ok, fail](std::string error) mutable {
                 if (error.empty()) return respond(std::move(ok));
                 fail.body() = json{{"error", "session unavailable: " + error}}.dump();
                 fail.prepare_payload();
                 respond(std::move(fail));
               });
  return true;
}

}  // namespace skein::net_detail
