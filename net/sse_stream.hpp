// Internal to net/: what the SSE transport (net/sse_session.cpp) and the MCP
// Streamable HTTP transport (net/mcp_http.cpp) share.
//
// - http_exchange: one HTTP request/response on a connection taken over from
//   the HTTP session, answered later (when the session actor says so) either
//   with one complete response (then the connection goes back to a new HTTP
//   session when keep-alive) or with a text/event-stream body that ends by
//   closing the connection. While streaming it watches the peer (a read
//   error means the client went away), writes a comment line every 15 s
//   (SKEIN_SSE_KEEPALIVE_MS overrides) and bounds its write queue
//   (server_options::max_queued_frames; over it: slow consumer, closed).
// - strand_bridge: the skein::transport of a connection actor, posting
//   frames and closes onto the exchange's strand.
// - deliver_once: hands one message to a session as a short-lived client.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "actors/transport.hpp"
#include "net/detail.hpp"

namespace skein::net_detail {

class http_exchange : public std::enable_shared_from_this<http_exchange> {
 public:
  http_exchange(beast::tcp_stream&& stream, server_context& ctx, unsigned version, bool keep_alive);
  virtual ~http_exchange() = default;

  asio::any_io_executor executor() { return executor_; }

 protected:
  /// Keeps this object alive until it has finished. Call once, on the strand.
  void hold() { self_ = shared_from_this(); }
  /// Sends one complete response and finishes.
  void send_response(response res);
  /// Writes "HTTP/1.1 200 OK" with text/event-stream headers (plus
  /// `extra_headers`, each "Name: value\r\n"); the body ends when the
  /// connection closes.
  void start_sse(const std::string& extra_headers);
  /// Queues raw body text (SSE: whole events ending in "\n\n").
  void write_raw(std::string text);
  /// Flushes what is queued, closes the connection and finishes.
  void end_sse();
  /// Closes the connection now and finishes.
  void abort_now();
  /// Calls on_timeout() after `d` unless the exchange streams or finishes.
  void arm_timeout(std::chrono::milliseconds d);

  bool streaming() const { return streaming_; }
  bool finished() const { return finished_; }
  unsigned version() const { return version_; }
  bool keep_alive() const { return keep_alive_; }

  virtual void on_timeout() = 0;
  /// Called once when the exchange is over (answered, ended, or the peer left).
  virtual void on_finished() = 0;

  server_context& ctx_;

 private:
  void do_write();
  void watch_peer();
  void arm_keepalive();
  void finish();

  beast::tcp_stream stream_;
  asio::any_io_executor executor_;
  unsigned version_;
  bool keep_alive_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool ending_ = false;
  bool streaming_ = false;
  bool finished_ = false;
  asio::steady_timer timer_;
  std::uint64_t timer_gen_ = 0;
  std::array<char, 512> peer_buf_{};
  std::shared_ptr<http_exchange> self_;
};

/// The transport of one connection actor; T has on_frame(std::string) and
/// on_transport_close(std::uint16_t, std::string), called on its strand.
template <class T>
class strand_bridge final : public transport {
 public:
  strand_bridge(std::weak_ptr<T> target, asio::any_io_executor ex)
    : target_(std::move(target)), ex_(std::move(ex)) {}
  void deliver(std::string frame) override {
    asio::post(ex_, [w = target_, f = std::move(frame)]() mutable {
      if (auto t = w.lock()) t->on_frame(std::move(f));
    });
  }
  void close(std::uint16_t code, std::string reason) override {
    asio::post(ex_, [w = target_, code, r = std::move(reason)]() mutable {
      if (auto t = w.lock()) t->on_transport_close(code, std::move(r));
    });
  }

 private:
  std::weak_ptr<T> target_;
  asio::any_io_executor ex_;
};

/// Delivers `text` to the session `key` as client `client_id`, from a
/// short-lived actor. With `as_new_client` the client joins (with
/// `params_json`), sends and leaves; without, the message is sent as an
/// existing client of the session (its answers go to that client's stream).
/// `done("")` once handed to the session actor, `done(why)` if the session
/// could not be resolved; called on a CAF thread.
void deliver_once(server_context& ctx, std::string key, std::string client_id,
                  std::string params_json, std::string text, bool as_new_client,
                  std::function<void(std::string)> done);

/// The SSE comment-line interval (15 s; SKEIN_SSE_KEEPALIVE_MS overrides).
std::chrono::milliseconds sse_keepalive_interval();

/// 128 random bits from getrandom(2) as 32 lowercase hex digits.
std::string secure_random_id();

/// "text/event-stream" and "application/json" acceptable per the Accept header?
bool accepts(const request& req, std::string_view media_type);
/// The media type of Content-Type is `media_type` (parameters ignored)?
bool content_type_is(const request& req, std::string_view media_type);

}  // namespace skein::net_detail
