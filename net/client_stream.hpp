// Internal to net/: client_stream, the base of every long-lived outbound
// stream of a node (WebSocket, SSE, MCP Streamable HTTP, /cluster/events):
// its bounded write queue, the write loop (one write in flight), close after
// flush, the slow-consumer policy and the link to its connection actor.
//
// Lifetime (Beast's example/advanced/server): a stream is owned by
// shared_ptrs only; every asynchronous handler captures shared_from_this(),
// so the object lives exactly as long as some I/O or timer is pending on it.
// Everything runs on the stream's executor (a strand, or with one io thread
// the io_context: one handler at a time either way); the connection
// actor reaches it through `bridge` (posts to the executor, holds a weak_ptr).
//
// Slow consumers: a frame is refused when this stream already holds
// `max_frames` frames (its constructor's; server_options::max_queued_frames
// for most streams) or server_options::max_queued_bytes bytes, or when the
// node's streams together hold max_node_queued_bytes (the first frame of an
// empty queue is always taken). Then the queue is dropped (except the write
// in flight), skein_slow_consumers_total counts it and on_slow_consumer()
// closes the stream (WebSocket 1008, SSE: a close event and the end).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <boost/container/deque.hpp>
#include <memory>
#include <string>

#include <caf/actor.hpp>

#include "actors/connection.hpp"
#include "actors/metrics.hpp"
#include "actors/transport.hpp"
#include "net/address_limit.hpp"
#include "net/detail.hpp"

namespace skein::net_detail {

/// Bytes queued for writing by every client stream of this process.
std::size_t queued_bytes_total();

class client_stream : public std::enable_shared_from_this<client_stream> {
 public:
  virtual ~client_stream();
  client_stream(const client_stream&) = delete;
  client_stream& operator=(const client_stream&) = delete;

  asio::any_io_executor executor() const { return executor_; }

  /// A frame of the connection actor ({"seq":N,"data":D} text), on the executor.
  virtual void on_frame(std::string) {}
  /// The connection actor closes the stream (WebSocket close code), on the executor.
  virtual void on_transport_close(std::uint16_t, std::string) {}
  /// Keeps `slot` (this stream's place under the per-address limit) until
  /// this stream is destroyed.
  void hold(address_slot slot) { slot_ = std::move(slot); }

 protected:
  /// `max_frames`: frames this stream may hold queued (the one in flight
  /// included); more than 2^32 - 1 counts as that.
  client_stream(server_context& ctx, asio::any_io_executor ex, std::size_t max_frames,
                address_slot slot = {});

  template <class T>
  std::shared_ptr<T> self() { return std::static_pointer_cast<T>(shared_from_this()); }

  /// Queues `frame` and starts writing. Over a cap: the slow-consumer policy
  /// (see above) and false. Ignored (false) once closing.
  bool push(std::string frame);
  /// Queues without the caps (a response head, a final close event).
  void push_unchecked(std::string frame);
  /// Drops every queued frame but the one being written.
  void drop_queue();
  /// Writes what is queued, then calls on_drained() once; nothing more is queued.
  void close_after_flush();
  bool closing() const { return closing_; }
  bool writing() const { return writing_; }
  std::size_t queued_frames() const { return queue_.size(); }

  /// Starts writing `data` (the queue's front, stable until done); the
  /// handler must capture shared_from_this() and call write_done(ec).
  virtual void start_write(const std::string& data) = 0;
  void write_done(beast::error_code ec);
  /// A write failed (the peer is gone); the queue is dropped.
  virtual void on_write_error(beast::error_code ec) = 0;
  /// close_after_flush() was called and the queue is empty.
  virtual void on_drained() = 0;
  /// Over a cap; the queue is already dropped.
  virtual void on_slow_consumer() = 0;

  /// Spawns this stream's connection actor (init.out, host and the node's
  /// bookkeeping are filled in here).
  void spawn_connection_actor(connection_init init);
  /// Tells the connection actor, once, that the stream is gone.
  void leave_connection();
  /// The connection actor (null before spawn_connection_actor).
  const caf::actor& conn() const { return conn_; }

  server_context& ctx_;

 private:
  void write_front();
  void release(std::size_t bytes);

  asio::any_io_executor executor_;
  boost::container::deque<std::string> queue_;  // allocates nothing until used
  std::size_t bytes_ = 0;
  std::uint32_t max_frames_;
  bool writing_ = false;
  bool closing_ = false;
  bool drained_ = false;
  caf::actor conn_;
  std::uint64_t conn_id_ = 0;
  bool left_ = false;
  address_slot slot_;

 protected:
  /// The `transport` label of this stream's counters (set by the subclass).
  transport_slot transport_ = transport_slot::ws;
};

/// The skein::transport of a connection actor: posts frames and closes onto
/// the stream's executor; drops them once the stream is gone.
class stream_bridge final : public transport {
 public:
  stream_bridge(std::weak_ptr<client_stream> s, asio::any_io_executor ex)
    : stream_(std::move(s)), ex_(std::move(ex)) {}
  void deliver(std::string frame) override;
  void close(std::uint16_t code, std::string reason) override;

 private:
  std::weak_ptr<client_stream> stream_;
  asio::any_io_executor ex_;
};

}  // namespace skein::net_detail
