// One WebSocket stream <-> one connection actor (GET /ws/{kind}/{id}).
//
// skein speaks RFC 6455 itself here (net/ws_frame.hpp) rather than through
// Beast's websocket::stream: an idle stream then holds no read buffer and
// no composed read operation, only the socket and a wait for readability
// (plain TCP), and no timer of its own (the node-wide keep-alive below).
// Beast still parses the upgrade request (net/http_session.cpp).
//
// Handshake: the 101 answer is the first write of the stream's queue; the
// connection actor is spawned and reading starts once it is written.
// Inbound: plain TCP waits for the socket to be readable, then reads what
// is there into the io thread's 64 KiB buffer (a TLS stream reads into a
// 4 KiB buffer of its own: decrypted bytes may wait inside the TLS layer)
// and feeds the frame reader; each whole message goes to the connection
// actor with anon_send. Outbound: frames of the connection actor arrive on
// this stream's executor (client_stream's bridge) and go through
// client_stream's bounded queue, already framed; one write in flight. Over
// a cap (slow consumer) the queue is dropped and the stream closed with 1008
// (the client resumes later from its last seq). Inbound messages are checked
// before the session sees them: a message that is not UTF-8 closes the
// stream with 1007, one over --max-frame with 1009, a protocol error with
// 1002 (net/ws_frame.hpp); JSON nested deeper than max_json_depth gets a
// connection-level error frame (seq 0) and goes no further.
//
// Close (RFC 6455 §5.5.1, §7): the side that closes sends a close frame and
// the other answers with one; then the server ends TCP (FIN) and reads
// until the client's FIN. A close that is not answered, or a TCP end that
// does not come, within close_timeout ends the stream hard.
//
// Keep-alive (as Beast's timeout::suggested(server), one timer per node
// instead of one per stream): a stream that received nothing for half of
// server_options::ws_idle_timeout gets a ping; one that received nothing for
// the whole of it (a vanished peer, or one that does not answer pings) is
// closed. The sweep runs every ws_idle_timeout / 8.
#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/metrics.hpp"
#include "net/any_stream.hpp"
#include "net/client_stream.hpp"
#include "net/http_util.hpp"
#include "net/input_check.hpp"
#include "net/ws_frame.hpp"
#include "runtime/node.hpp"

namespace skein::net_detail {

namespace {

using clock = std::chrono::steady_clock;

/// A 32-bit millisecond clock (it wraps every 49.7 days; silences are
/// differences of two readings, taken modulo 2^32, so they stay right as
/// long as they are shorter than that).
std::uint32_t now_ms() {
  return static_cast<std::uint32_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(clock::now().time_since_epoch()).count());
}

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2):
/// base64(SHA-1(key + the protocol's GUID)).
std::string accept_key(std::string_view key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string in;
  in.reserve(key.size() + guid.size());
  in.append(key).append(guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

/// A Sec-WebSocket-Key is base64 of 16 bytes: 22 characters and "==".
bool valid_ws_key(std::string_view k) {
  if (k.size() != 24 || k.substr(22) != "==") return false;
  for (char c : k.substr(0, 22))
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  return true;
}

constexpr std::chrono::seconds close_timeout{5};

class websocket_session;

}  // namespace

/// The node-wide keep-alive of the WebSocket streams (see the top of this
/// file). Streams register when their handshake is written and leave when
/// destroyed; the mutex is taken once per connect and disconnect and once
/// per sweep. Each entry holds its stream's last-read time, which the stream
/// stores (an atomic, no lock) on every read: the sweep reads it without
/// touching the stream, and takes a reference only to a stream it pings or
/// closes (and lets go of it after the mutex, since the last reference to a
/// stream removes its entry).
class ws_keepalive : public std::enable_shared_from_this<ws_keepalive> {
 public:
  struct entry {
    entry(std::weak_ptr<websocket_session> s, std::uint32_t now) : stream(std::move(s)), last_rx(now) {}
    /// How long the stream has read nothing, at now_ms() `now`.
    std::uint32_t silent_for(std::uint32_t now) const {
      return now - last_rx.load(std::memory_order_relaxed);
    }
    std::weak_ptr<websocket_session> stream;
    std::atomic<std::uint32_t> last_rx;  // now_ms() of the stream's last read
  };
  using handle = std::list<entry>::iterator;  // stable until remove()

  ws_keepalive(asio::any_io_executor ex, std::chrono::milliseconds idle)
    : timer_(std::move(ex)), idle_(idle) {}

  handle add(std::weak_ptr<websocket_session> s, std::uint32_t now) {
    std::lock_guard<std::mutex> g{mutex_};
    streams_.emplace_back(std::move(s), now);
    return std::prev(streams_.end());
  }
  void remove(handle h) {
    std::lock_guard<std::mutex> g{mutex_};
    streams_.erase(h);
  }
  void start() { arm(); }
  void stop() {
    asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
  }
  std::uint32_t idle_ms() const { return static_cast<std::uint32_t>(idle_.count()); }

 private:
  void arm() {
    timer_.expires_after(std::max(std::chrono::milliseconds(50), idle_ / 8));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->sweep();
      self->arm();
    });
  }
  void sweep();

  asio::steady_timer timer_;
  std::chrono::milliseconds idle_;
  std::mutex mutex_;
  std::list<entry> streams_;
};

namespace {

class websocket_session final : public client_stream {
 public:
  websocket_session(any_stream&& stream, server_context& ctx, address_slot slot)
    : client_stream(ctx, stream.get_executor(), ctx.opts.max_queued_frames, std::move(slot)),
      reader_(ctx.opts.max_frame) {
    transport_ = transport_slot::ws;
    if (stream.is_tls()) {
      tls_ = std::make_unique<tls_part>(std::move(stream));
    } else {
      sock_.emplace(stream.tcp().release_socket());
      beast::error_code ec;
      sock_->non_blocking(true, ec);
    }
  }

  ~websocket_session() override {
    if (keepalive_) keepalive_->remove(keepalive_entry_);
  }

  /// Answers the upgrade (its first write) and keeps what the connection
  /// actor will need until that answer is written.
  void run(std::string_view ws_key, std::string key, std::string params, std::string resume_client,
           std::uint64_t last_seq, std::string resume_token, std::string early) {
    hs_ = std::make_unique<handshake>();
    hs_->early = std::move(early);
    hs_->key = std::move(key);
    hs_->resume_token = std::move(resume_token);
    hs_->params = std::move(params);
    hs_->resume = !resume_client.empty();
    hs_->resume_client = std::move(resume_client);
    hs_->last_seq = last_seq;
    std::string answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: ";
    answer += accept_key(ws_key);
    answer += "\r\nServer: ";
    answer += ctx_.server_header;
    answer += "\r\n\r\n";
    push_unchecked(std::move(answer));
  }

  void on_frame(std::string frame) override { push(ws::make_frame(ws::opcode::text, frame)); }

  // Flushes queued frames, then closes.
  void on_transport_close(std::uint16_t code, std::string reason) override {
    if (closing()) return;
    closing_ = std::make_unique<closing_state>(executor());
    closing_->code = code;
    closing_->reason = std::move(reason);
    close_after_flush();
  }

  // The keep-alive's sweep found this stream silent for half the idle time.
  void keepalive(std::uint32_t now, std::uint32_t idle) {
    if (ended_ || close_sent_) return;
    const auto silent = keepalive_entry_->silent_for(now);
    if (silent >= idle) {
      spdlog::info("WebSocket from {}: nothing received for {} ms, closed", peer(), silent);
      end_hard();
      return;
    }
    if (!pinged_ && !closing()) {
      pinged_ = true;
      push(ws::make_frame(ws::opcode::ping, {}));
    }
  }

 private:
  void end_hard() {
    ended_ = true;
    beast::error_code ec;
    if (sock_) {
      sock_->shutdown(tcp::socket::shutdown_both, ec);
      sock_->close(ec);
    } else {
      tls_->stream.close();
    }
    if (closing_) closing_->timer.cancel();
  }

  /// The peer's address, for the log.
  std::string peer() {
    beast::error_code ec;
    auto ep = sock_ ? sock_->remote_endpoint(ec) : tls_->stream.tcp().socket().remote_endpoint(ec);
    if (ec) return "a closed socket";
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  // client_stream
  void start_write(const std::string& data) override {
    auto done = [self = self<websocket_session>()](beast::error_code ec, std::size_t) { self->on_written(ec); };
    if (sock_)
      asio::async_write(*sock_, asio::buffer(data), std::move(done));
    else
      asio::async_write(tls_->stream, asio::buffer(data), std::move(done));
  }

  void on_written(beast::error_code ec) {
    if (!accepted_) {
      accepted_ = true;
      write_done(ec);
      if (!ec) on_accepted();
      return;
    }
    write_done(ec);
    if (!ec && close_sent_ && !writing() && queued_frames() == 0 && !close_written_) {
      close_written_ = true;
      // Answered the peer's close, or the reader failed (it would not see
      // the answer to ours): the server ends TCP now. Else the peer's
      // close frame is awaited.
      if (close_received_ || reader_.failed()) end_tcp();
    }
  }

  void on_write_error(beast::error_code) override {}  // the read side sees it too and leaves
  void on_drained() override {
    close_sent_ = true;
    if (!closing_) closing_ = std::make_unique<closing_state>(executor());
    push_unchecked(ws::make_close_frame(closing_->code, closing_->reason));
    closing_->reason = std::string{};
    closing_->timer.expires_after(close_timeout);
    closing_->timer.async_wait([self = self<websocket_session>()](beast::error_code ec) {
      if (!ec && !self->ended_) self->end_hard();
    });
  }
  void on_slow_consumer() override {
    spdlog::warn("WebSocket from {}: slow consumer, closing", peer());
    on_transport_close(ws::close_code::policy, "slow consumer: outbound queue full; reconnect with last_seq");
  }

  void on_accepted() {
    // The handshake's strings are not kept for the stream's life: they move
    // into the connection actor, and their holder is freed.
    auto hs = std::move(hs_);
    connection_init init;
    init.session_key = std::move(hs->key);
    init.params_json = std::move(hs->params);
    init.node_name = ctx_.n.options().name;
    init.welcome = true;
    init.resume = hs->resume;
    init.last_seq = hs->last_seq;
    init.client_id = hs->resume ? std::move(hs->resume_client) : new_client_id();
    // A new client gets a fresh resume token in its welcome; a resume proves
    // itself with the one it got (the session checks it).
    init.resume_token = hs->resume ? std::move(hs->resume_token) : secure_random_id();
    keepalive_ = ctx_.keepalive;
    keepalive_entry_ = keepalive_->add(std::static_pointer_cast<websocket_session>(shared_from_this()), now_ms());
    spawn_connection_actor(std::move(init));
    // Frames the client sent right behind its upgrade request (RFC 6455
    // §4.1 asks it to wait for the answer; some do not) came with the
    // request's read: they are the stream's first bytes.
    if (!hs->early.empty() && !consume(hs->early.data(), hs->early.size())) return;
    do_read();
  }

  // Plain TCP: no buffer and no read while the socket is quiet, only a wait.
  void do_read() {
    if (sock_) {
      sock_->async_wait(tcp::socket::wait_read, [self = self<websocket_session>()](beast::error_code ec) {
        self->on_readable(ec);
      });
      return;
    }
    tls_->stream.async_read_some(asio::buffer(tls_->buf),
                                 [self = self<websocket_session>()](beast::error_code ec, std::size_t n) {
                                   if (ec) return self->on_read_end(ec);
                                   if (self->consume(self->tls_->buf.data(), n)) self->do_read();
                                 });
  }

  void on_readable(beast::error_code ec) {
    if (ec) return on_read_end(ec);
    static thread_local std::array<char, 64 * 1024> buf;
    // Up to four buffers at a time, then the others' turn.
    for (int round = 0; round < 4; ++round) {
      const auto n = sock_->read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) return on_read_end(ec);
      if (!consume(buf.data(), n)) return;
      if (n < buf.size()) break;
    }
    do_read();
  }

  // The stream ended (the peer's FIN or reset, or end_hard): the connection
  // actor is told once.
  void on_read_end(beast::error_code) {
    if (!ended_) end_hard();
    leave_connection();
  }

  // Feeds bytes read to the frame reader. False: stop reading (ended).
  bool consume(const char* p, std::size_t n) {
    if (ended_) return false;
    keepalive_entry_->last_rx.store(now_ms(), std::memory_order_relaxed);
    pinged_ = false;
    ws::event ev;
    while (n > 0 && !reader_.failed()) {
      const auto used = reader_.feed(p, n, ev);
      p += used;
      n -= used;
      if (ev.what != ws::event::kind::none) on_event(ev);
      if (ended_) return false;
    }
    return true;
  }

  void on_event(ws::event& ev) {
    using kind = ws::event::kind;
    switch (ev.what) {
      case kind::message:
        if (close_sent_ || close_received_) return;  // after a close frame: discarded
        on_message(std::move(ev.data), ev.text);
        return;
      case kind::ping:
        if (!closing()) push(ws::make_frame(ws::opcode::pong, ev.data));
        return;
      case kind::pong:
        return;
      case kind::close:
        if (close_received_) return;
        close_received_ = true;
        if (close_sent_) {
          // The answer to our close: the handshake is done once ours is written.
          if (close_written_) end_tcp();
          return;
        }
        // The peer closes: answer with its code after what is being written.
        close_now(ev.code == ws::close_code::no_status ? ws::close_code::normal : ev.code, {});
        return;
      case kind::error:
        if (ev.code == ws::close_code::too_big)
          spdlog::info("WebSocket from {}: message over {} bytes, closed with 1009", peer(), ctx_.opts.max_frame);
        else
          spdlog::info("WebSocket from {}: {}, closed with {}", peer(), ev.data, ev.code);
        close_now(ev.code, std::move(ev.data));
        return;
      case kind::none:
        return;
    }
  }

  // Nothing more goes to the connection actor or waits in the queue: the
  // close frame follows the write in flight.
  void close_now(std::uint16_t code, std::string reason) {
    leave_connection();
    drop_queue();
    on_transport_close(code, std::move(reason));
  }

  void on_message(std::string text, bool is_text) {
    metrics().messages_in.fetch_add(1, std::memory_order_relaxed);
    metrics().transport(transport_slot::ws).messages_in.fetch_add(1, std::memory_order_relaxed);
    // The reader checks text messages for UTF-8 (1007); binary ones are ours to check.
    if (!is_text && !valid_utf8(text)) {
      spdlog::info("WebSocket from {}: binary frame that is not UTF-8, closed with 1007", peer());
      on_transport_close(ws::close_code::invalid_payload, "frame is not valid UTF-8");
      return;
    }
    if (json_depth(text, ctx_.opts.max_json_depth) > ctx_.opts.max_json_depth) {
      // Refused before anyone parses it; a connection-level error (seq 0).
      on_frame(nlohmann::json{{"seq", 0},
                              {"data", {{"type", "error"},
                                        {"message", "JSON nested deeper than "
                                                      + std::to_string(ctx_.opts.max_json_depth) + " levels"}}}}
                 .dump());
      return;
    }
    caf::anon_send(conn(), message_atom::value, std::move(text));
  }

  // Both close frames have passed: the server ends TCP first (RFC 6455
  // §7.1.1) and reads on until the client's FIN (or close_timeout).
  void end_tcp() {
    if (ended_ || tcp_ended_) return;
    tcp_ended_ = true;
    if (sock_) {
      beast::error_code ec;
      sock_->shutdown(tcp::socket::shutdown_send, ec);
    } else {
      // TLS: no close_notify exchange beside the pending read; the close
      // frames already ended the conversation.
      end_hard();
    }
  }

  // What the upgrade request said, until the handshake ends (on_accepted).
  struct handshake {
    std::string key;
    std::string params;
    bool resume = false;
    std::string resume_client;
    std::uint64_t last_seq = 0;
    std::string resume_token;
    std::string early;  // bytes read past the upgrade request
  };

  // A TLS stream and its read buffer (decrypted bytes may wait inside the
  // TLS layer, so it reads rather than waits).
  struct tls_part {
    explicit tls_part(any_stream&& s) : stream(std::move(s)) {}
    any_stream stream;
    std::array<char, 4096> buf;
  };

  // What closing needs, made when it begins: the close frame's code and
  // reason, then the bound on the close handshake.
  struct closing_state {
    explicit closing_state(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::string reason;
    std::uint16_t code = ws::close_code::normal;
  };

  // Members ordered for size: an idle stream's object is 512 bytes with its
  // shared_ptr control block (a jemalloc size class).
  std::optional<tcp::socket> sock_;     // plain TCP
  std::unique_ptr<tls_part> tls_;       // or TLS
  ws::frame_reader reader_;
  // Held, not reached through ctx_: a stream may outlive the server's
  // context when the io_context destroys its last handlers.
  std::shared_ptr<ws_keepalive> keepalive_;
  ws_keepalive::handle keepalive_entry_;  // valid once keepalive_ is set
  std::unique_ptr<handshake> hs_;
  std::unique_ptr<closing_state> closing_;
  bool accepted_ = false;        // the 101 answer is written
  bool pinged_ = false;          // a keep-alive ping went since the last bytes read
  bool close_sent_ = false;      // our close frame is queued
  bool close_written_ = false;   // ... and written
  bool close_received_ = false;  // the peer's close frame arrived
  bool tcp_ended_ = false;       // our FIN is sent
  bool ended_ = false;           // the socket is closed
};

}  // namespace

void ws_keepalive::sweep() {
  const auto now = now_ms();
  const auto idle = idle_ms();
  std::vector<std::shared_ptr<websocket_session>> due;
  {
    std::lock_guard<std::mutex> g{mutex_};
    for (auto& e : streams_) {
      if (e.silent_for(now) < idle / 2) continue;
      if (auto s = e.stream.lock()) due.push_back(std::move(s));
    }
  }
  for (auto& s : due) {
    auto ex = s->executor();
    asio::post(ex, [s = std::move(s), now, idle] { s->keepalive(now, idle); });
  }
}

void start_ws_keepalive(server_context& ctx, asio::any_io_executor ex) {
  ctx.keepalive = std::make_shared<ws_keepalive>(std::move(ex), ctx.opts.ws_idle_timeout);
  ctx.keepalive->start();
}

void stop_ws_keepalive(server_context& ctx) {
  if (ctx.keepalive) ctx.keepalive->stop();
}

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
  // RFC 6455 §4.2.1: version 13 (else 426 naming it) and a 16-byte key.
  if (auto v = rc.req[http::field::sec_websocket_version]; v != "13") {
    auto res = error_response(rc, v.empty() ? http::status::bad_request : http::status::upgrade_required,
                              "Sec-WebSocket-Version must be 13");
    res.set(http::field::sec_websocket_version, "13");
    rc.respond(std::move(res));
    return true;
  }
  const std::string ws_key(rc.req[http::field::sec_websocket_key]);
  if (!valid_ws_key(ws_key)) {
    rc.respond(error_response(rc, http::status::bad_request, "Sec-WebSocket-Key must be base64 of 16 bytes"));
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
  auto early = rc.take_buffered();
  auto stream = rc.take_stream();
  stream.expires_never();  // the WebSocket's own timeouts apply from here
  std::make_shared<websocket_session>(std::move(stream), rc.server, std::move(slot))
    ->run(ws_key, std::move(key), params.dump(),
          std::move(resume_client), last_seq, std::move(resume_token), std::move(early));
  return true;
}

}  // namespace skein::net_detail
