// One WebSocket stream <-> one connection actor.
//
// Inbound: each complete message is handed to the connection actor with
// anon_send. Outbound: the actor calls transport::deliver from a scheduler
// thread; the frame is posted to this stream's strand and queued; one write
// is in flight at a time. A queue longer than max_queued_frames is a slow
// consumer: the queue is dropped and the stream closed with 1008 (the client
// resumes later from its last seq).
#include <cctype>
#include <charconv>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/connection.hpp"
#include "actors/metrics.hpp"
#include "actors/registry.hpp"
#include "net/detail.hpp"
#include "runtime/node.hpp"
#include "runtime/session_host.hpp"

namespace skein::net_detail {

namespace {

class websocket_session : public std::enable_shared_from_this<websocket_session> {
 public:
  websocket_session(tcp::socket&& socket, server_context& ctx)
    : ws_(std::move(socket)), ctx_(ctx) {}

  ~websocket_session() { finish(); }

  void run(http::request<http::string_body> req, std::string key, std::string params,
           std::string resume_client, std::uint64_t last_seq) {
    key_ = std::move(key);
    params_ = std::move(params);
    resume_ = !resume_client.empty();
    resume_client_ = std::move(resume_client);
    last_seq_ = last_seq;
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator([hdr = ctx_.server_header](
                                                       websocket::response_type& res) {
      res.set(http::field::server, hdr);
    }));
    ws_.read_message_max(ctx_.opts.max_frame);
    ws_.async_accept(req, beast::bind_front_handler(&websocket_session::on_accept,
                                                    shared_from_this()));
  }

  // Called on the strand.
  void deliver(std::string frame) {
    if (closing_) return;
    if (queue_.size() >= ctx_.opts.max_queued_frames) {
      spdlog::warn("client {}: slow consumer, closing", client_id_);
      metrics().slow_consumers.fetch_add(1, std::memory_order_relaxed);
      while (queue_.size() > (writing_ ? 1u : 0u)) queue_.pop_back();
      close(1008, "slow consumer: outbound queue full; reconnect with last_seq");
      return;
    }
    queue_.push_back(std::move(frame));
    if (!writing_) do_write();
  }

  // Called on the strand. Flushes queued frames, then closes.
  void close(std::uint16_t code, std::string reason) {
    if (closing_) return;
    closing_ = true;
    // RFC 6455 allows 123 bytes of reason; Beast throws on more.
    if (reason.size() > 123) reason.resize(123);
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    if (!writing_) do_close();
  }

 private:
  class bridge final : public transport {
   public:
    bridge(std::weak_ptr<websocket_session> s, asio::any_io_executor ex)
      : session_(std::move(s)), ex_(std::move(ex)) {}
    void deliver(std::string frame) override {
      asio::post(ex_, [w = session_, f = std::move(frame)]() mutable {
        if (auto s = w.lock()) s->deliver(std::move(f));
      });
    }
    void close(std::uint16_t code, std::string reason) override {
      asio::post(ex_, [w = session_, code, r = std::move(reason)]() mutable {
        if (auto s = w.lock()) s->close(code, std::move(r));
      });
    }

   private:
    std::weak_ptr<websocket_session> session_;
    asio::any_io_executor ex_;
  };

  void on_accept(beast::error_code ec) {
    if (ec) return;  // handshake failed; nothing was spawned
    connection_init init;
    init.session_key = key_;
    init.params_json = params_;
    init.node_name = ctx_.n.options().name;
    init.welcome = true;
    init.resume = resume_;
    init.last_seq = last_seq_;
    client_id_ = resume_ ? resume_client_ : new_client_id();
    init.client_id = client_id_;
    init.out = std::make_shared<bridge>(weak_from_this(), ws_.get_executor());
    init.host = ctx_.n.host();
    conn_ = spawn_connection(ctx_.n.system(), std::move(init));
    conn_id_ = ctx_.add_connection(conn_);
    metrics().connections.fetch_add(1, std::memory_order_relaxed);
    metrics().connections_total.fetch_add(1, std::memory_order_relaxed);
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&websocket_session::on_read,
                                                      shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      if (ec == websocket::error::message_too_big)
        spdlog::info("client {}: frame over {} bytes, closed with 1009", client_id_,
                     ctx_.opts.max_frame);
      finish();
      return;
    }
    metrics().messages_in.fetch_add(1, std::memory_order_relaxed);
    caf::anon_send(conn_, message_atom::value, beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    do_read();
  }

  void do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()),
                    beast::bind_front_handler(&websocket_session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return;  // the read side sees the error too and finishes
    metrics().messages_out.fetch_add(1, std::memory_order_relaxed);
    queue_.pop_front();
    if (!queue_.empty()) {
      do_write();
    } else if (closing_) {
      do_close();
    }
  }

  void do_close() {
    ws_.async_close(close_reason_, [self = shared_from_this()](beast::error_code) {});
  }

  // Tells the connection actor, once, that the stream is gone.
  void finish() {
    if (!conn_ || finished_) return;
    finished_ = true;
    metrics().connections.fetch_sub(1, std::memory_order_relaxed);
    caf::anon_send(conn_, leave_atom::value);
    ctx_.remove_connection(conn_id_);
  }

  websocket::stream<beast::tcp_stream> ws_;
  server_context& ctx_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
  websocket::close_reason close_reason_;
  std::string key_;
  std::string params_;
  std::string client_id_;
  bool resume_ = false;
  std::string resume_client_;
  std::uint64_t last_seq_ = 0;
  caf::actor conn_;
  std::uint64_t conn_id_ = 0;
};

}  // namespace

bool websocket_route(request_context& rc) {
  auto& seg = rc.target.segments;
  if (seg.empty() || seg[0] != "ws") return false;
  auto session_key = session_key_of(rc);
  if (!session_key) return true;
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
    bool ok = !resume_client.empty() && resume_client.size() <= 64;
    for (char ch : resume_client)
      ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_');
    if (!ok) {
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
  std::make_shared<websocket_session>(rc.take_stream().release_socket(), rc.server)
    ->run(std::move(rc.req), std::move(key), nlohmann::json(query).dump(),
          std::move(resume_client), last_seq);
  return true;
}

}  // namespace skein::net_detail
