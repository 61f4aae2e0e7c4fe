// Internal to net/: http_exchange, a client_stream for one HTTP request whose
// answer comes later (SSE, MCP Streamable HTTP, /cluster/events), and
// deliver_once.
//
// - http_exchange: a connection taken over from the HTTP session, answered
//   either with one complete response (then, with keep-alive, the
//   connection goes back to a new HTTP session) or with a text/event-stream
//   body that ends by closing the connection. While streaming it watches the
//   peer (a read completing means the client went away), writes a comment
//   line every sse_keepalive_interval() and applies client_stream's caps
//   (over them: the stream ends). While waiting for its answer, a timer
//   (arm_timeout) keeps it alive; it owns no reference to itself.
// - deliver_once: hands one message to a session as a short-lived client.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "net/any_stream.hpp"
#include "net/client_stream.hpp"
#include "net/http_util.hpp"

namespace skein::net_detail {

class http_exchange : public client_stream {
 public:
  http_exchange(any_stream&& stream, server_context& ctx, unsigned version, bool keep_alive);
  http_exchange(any_stream&& stream, server_context& ctx, unsigned version, bool keep_alive,
                std::size_t max_frames);

 protected:
  /// Sends one complete response and finishes. Not after start_sse.
  void send_response(response res);
  /// Writes "HTTP/1.1 200 OK" with event-stream headers (plus `extra_headers`,
  /// each "Name: value\r\n"); the body ends when the connection closes.
  void start_sse(const std::string& extra_headers,
                 const std::string& content_type = "text/event-stream");
  /// Queues body text (whole SSE events ending in "\n\n"); over a cap the
  /// stream ends (on_slow_consumer).
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

  virtual void on_timeout() {}
  /// Called once when the exchange is over (answered, ended, or the peer
  /// left). The default leaves the connection actor.
  virtual void on_finished() { leave_connection(); }

  // client_stream
  void start_write(const std::string& data) override;
  void on_write_error(beast::error_code) override { abort_now(); }
  void on_drained() override { abort_now(); }
  void on_slow_consumer() override { abort_now(); }

 private:
  void watch_peer();
  void arm_keepalive();
  void finish();

  any_stream stream_;
  unsigned version_;
  bool keep_alive_;
  bool streaming_ = false;
  bool finished_ = false;
  asio::steady_timer timer_;
  std::uint64_t timer_gen_ = 0;
  std::array<char, 512> peer_buf_{};
};

/// Delivers `text` to the session `key` as client `client_id`, from a
/// short-lived actor. With `as_new_client` the client joins (with
/// `params_json`), sends and leaves; without, the message is sent as an
/// existing client of the session (its answers go to that client's stream).
/// `done("")` once handed to the session actor, `done(why)` if the session
/// could not be resolved; called on a CAF thread. With a client message `id`
/// (not 0), `acked(true, error)` follows once the session acknowledged it
/// (error empty: durable; else why it was rejected), or `acked(false, why)`
/// if no ack came within 10 s.
void deliver_once(server_context& ctx, std::string key, std::string client_id,
                  std::string params_json, std::string text, bool as_new_client,
                  std::function<void(std::string)> done, std::uint64_t id = 0,
                  std::function<void(bool, std::string)> acked = {});

}  // namespace skein::net_detail
