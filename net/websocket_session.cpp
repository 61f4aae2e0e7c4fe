// One WebSocket stream <-> one connection actor (GET /ws/{kind}/{id}).
//
// Inbound: each complete message is handed to the connection actor with
// anon_send. Outbound: the actor's frames arrive on this stream's strand
// (client_stream's bridge) and go through client_stream's bounded queue; one
// write is in flight at a time. Over a cap (slow consumer) the queue is
// dropped and the stream closed with 1008 (the client resumes later from
// its last seq). Inbound frames are checked before the session sees them:
// a binary frame that is not UTF-8 closes the stream with 1007 (Beast does
// the same for text frames); JSON nested deeper than max_json_depth gets a
// connection-level error frame (seq 0) and goes no further.
#include <charconv>
#include <memory>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/metrics.hpp"
#include "net/any_stream.hpp"
#include "net/client_stream.hpp"
#include "net/http_util.hpp"
#include "net/input_check.hpp"
#include "runtime/node.hpp"

namespace skein::net_detail {

namespace {

class websocket_session final : public client_stream {
 public:
  websocket_session(any_stream&& stream, server_context& ctx, address_slot slot)
    : client_stream(ctx, stream.get_executor(), stream_limits::from(ctx.opts), std::move(slot)),
      ws_(std::move(stream)) {
    transport_ = transport_slot::ws;
  }

  void run(http::request<http::string_body> req, std::string key, std::string params,
           std::string resume_client, std::uint64_t last_seq, std::string resume_token) {
    hs_ = std::make_unique<handshake>();
    hs_->key = std::move(key);
    hs_->resume_token = std::move(resume_token);
    hs_->params = std::move(params);
    hs_->resume = !resume_client.empty();
    hs_->resume_client = std::move(resume_client);
    hs_->last_seq = last_seq;
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator([hdr = ctx_.server_header](
                                                       websocket::response_type& res) {
      res.set(http::field::server, hdr);
    }));
    ws_.read_message_max(ctx_.opts.max_frame);
    ws_.async_accept(req, beast::bind_front_handler(&websocket_session::on_accept,
                                                    self<websocket_session>()));
  }

  void on_frame(std::string frame) override { push(std::move(frame)); }

  // Flushes queued frames, then closes.
  void on_transport_close(std::uint16_t code, std::string reason) override {
    if (closing()) return;
    // RFC 6455 allows 123 bytes of reason; Beast throws on more.
    if (reason.size() > 123) reason.resize(123);
    close_reason_ = std::make_unique<websocket::close_reason>(static_cast<websocket::close_code>(code),
                                                              reason);
    close_after_flush();
  }

 private:
  void on_accept(beast::error_code ec) {
    // The handshake's strings are not kept for the stream's life: they move
    // into the connection actor, and their holder is freed.
    auto hs = std::move(hs_);
    if (ec) return;  // handshake failed; nothing was spawned
    connection_init init;
    init.session_key = std::move(hs->key);
    init.params_json = std::move(hs->params);
    init.node_name = ctx_.n.options().name;
    init.welcome = true;
    init.resume = hs->resume;
    init.last_seq = hs->last_seq;
    client_id_ = hs->resume ? std::move(hs->resume_client) : new_client_id();
    init.client_id = client_id_;
    // A new client gets a fresh resume token in its welcome; a resume proves
    // itself with the one it got (the session checks it).
    init.resume_token = hs->resume ? std::move(hs->resume_token) : secure_random_id();
    spawn_connection_actor(std::move(init));
    do_read();
  }

  // A message is read piece by piece: the first piece into at most
  // first_piece bytes, so that the read an idle stream keeps pending holds
  // that much rather than Beast's 1,536 (its frame-sized default); the rest
  // of a longer message in pieces of up to next_piece. Between messages the
  // buffer is freed (shrink_to_fit). Beast still enforces read_message_max
  // over the whole message.
  static constexpr std::size_t first_piece = 256;
  static constexpr std::size_t next_piece = 64 * 1024;

  void do_read() {
    ws_.async_read_some(buffer_, buffer_.size() == 0 ? first_piece : next_piece,
                        beast::bind_front_handler(&websocket_session::on_read,
                                                  self<websocket_session>()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      if (ec == websocket::error::message_too_big)
        spdlog::info("client {}: frame over {} bytes, closed with 1009", client_id_,
                     ctx_.opts.max_frame);
      leave_connection();
      return;
    }
    if (!ws_.is_message_done()) return do_read();
    metrics().messages_in.fetch_add(1, std::memory_order_relaxed);
    metrics().transport(transport_slot::ws).messages_in.fetch_add(1, std::memory_order_relaxed);
    auto text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    buffer_.shrink_to_fit();
    // Beast checks text frames for UTF-8 (1007); binary frames are ours to check.
    if (!ws_.got_text() && !valid_utf8(text)) {
      spdlog::info("client {}: binary frame that is not UTF-8, closed with 1007", client_id_);
      on_transport_close(1007, "frame is not valid UTF-8");
      return do_read();  // until the close handshake ends the stream
    }
    if (json_depth(text, ctx_.opts.max_json_depth) > ctx_.opts.max_json_depth) {
      // Refused before anyone parses it; a connection-level error (seq 0).
      push(nlohmann::json{{"seq", 0},
                          {"data", {{"type", "error"},
                                    {"message", "JSON nested deeper than "
                                                  + std::to_string(ctx_.opts.max_json_depth) + " levels"}}}}
             .dump());
      return do_read();
    }
    caf::anon_send(conn(), message_atom::value, std::move(text));
    do_read();
  }

  // client_stream
  void start_write(const std::string& data) override {
    ws_.text(true);
    ws_.async_write(asio::buffer(data), [self = self<websocket_session>()](beast::error_code ec,
                                                                          std::size_t) {
      self->write_done(ec);
    });
  }
  void on_write_error(beast::error_code) override {}  // the read side sees it too and leaves
  void on_drained() override {
    ws_.async_close(close_reason_ ? *close_reason_ : websocket::close_reason{},
                    [self = self<websocket_session>()](beast::error_code) {});
  }
  void on_slow_consumer() override {
    spdlog::warn("client {}: slow consumer, closing", client_id_);
    on_transport_close(1008, "slow consumer: outbound queue full; reconnect with last_seq");
  }

  // What the upgrade request said, until the handshake ends (on_accept).
  struct handshake {
    std::string key;
    std::string params;
    bool resume = false;
    std::string resume_client;
    std::uint64_t last_seq = 0;
    std::string resume_token;
  };

  websocket::stream<any_stream> ws_;
  beast::flat_buffer buffer_;
  // Held apart so that an open stream does not carry them: the handshake
  // (about 140 bytes) and the close reason (Beast's 123-byte static string),
  // which exists only once the connection actor closes the stream.
  std::unique_ptr<handshake> hs_;
  std::unique_ptr<websocket::close_reason> close_reason_;
  std::string client_id_;
};

}  // namespace

bool websocket_route(request_context& rc) {
  client_identity id;
  if (auto no = authenticate_client(rc, id)) {
    rc.respond(refusal_response(rc, *no));
    return true;
  }
  if (auto& seg = rc.target.segments; seg.size() >= 2 && seg[1] == "mcp") {
    // MCP sessions speak only through /mcp (actors/mcp/wire.hpp): a page
    // must not open one, or read its frames, over a WebSocket.
    rc.respond(error_response(rc, http::status::not_found, "MCP sessions are served at /mcp"));
    return true;
  }
  auto session_key = session_key_of(rc);
  if (!session_key) return true;
  if (auto no = authorize_session(rc, id, *session_key)) {
    rc.respond(refusal_response(rc, *no));
    return true;
  }
  if (!websocket::is_upgrade(rc.req)) {
    rc.respond(error_response(rc, http::status::upgrade_required, "WebSocket upgrade required"));
    return true;
  }
  std::string key = std::move(*session_key);
  // ?client=ID&last_seq=N resumes a client; the rest are the client's params.
  auto query = rc.target.query;
  std::string resume_client;
  std::uint64_t last_seq = 0;
  if (auto c = query.find("client"); c != query.end()) {
    resume_client = c->second;
    if (!valid_client_id(resume_client)) {
      rc.respond(error_response(rc, http::status::bad_request, "client must be [A-Za-z0-9_-]{1,64}"));
      return true;
    }
    query.erase(c);
  }
  if (auto l = query.find("last_seq"); l != query.end()) {
    auto [p, ec] = std::from_chars(l->second.data(), l->second.data() + l->second.size(), last_seq);
    if (ec != std::errc{} || p != l->second.data() + l->second.size()) {
      rc.respond(error_response(rc, http::status::bad_request, "last_seq must be a whole number"));
      return true;
    }
    query.erase(l);
  }
  std::string resume_token;
  if (auto t = query.find("resume_token"); t != query.end()) {
    resume_token = t->second;
    query.erase(t);
  }
  if (!resume_client.empty() && !valid_resume_token(resume_token)) {
    rc.respond(error_response(rc, http::status::bad_request,
                              "a resume (?client=) needs the resume_token of the client's welcome frame"));
    return true;
  }
  nlohmann::json params(query);
  apply_identity(rc, id, params);
  address_slot slot;
  if (refuse_over_connection_limit(rc, slot)) return true;
  auto stream = rc.take_stream();
  stream.expires_never();  // the WebSocket's own timeouts apply from here
  std::make_shared<websocket_session>(std::move(stream), rc.server, std::move(slot))
    ->run(std::move(rc.req), std::move(key), params.dump(),
          std::move(resume_client), last_seq, std::move(resume_token));
  return true;
}

}  // namespace skein::net_detail
