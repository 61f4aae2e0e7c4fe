// client_stream: the bounded write queue, write loop, close and slow-consumer
// policy shared by every outbound client stream (see client_stream.hpp).
#include "net/client_stream.hpp"

#include <algorithm>
#include <cstdint>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/metrics.hpp"
#include "runtime/node.hpp"

namespace skein::net_detail {

namespace {
std::atomic<std::size_t> node_queued_bytes{0};
}  // namespace

std::size_t queued_bytes_total() { return node_queued_bytes.load(std::memory_order_relaxed); }

client_stream::client_stream(server_context& ctx, asio::any_io_executor ex, std::size_t max_frames,
                             address_slot slot)
  : ctx_(ctx),
    executor_(std::move(ex)),
    max_frames_(static_cast<std::uint32_t>(std::min<std::size_t>(max_frames, UINT32_MAX))),
    slot_(std::move(slot)) {}

client_stream::~client_stream() {
  release(bytes_);
  leave_connection();
}

void client_stream::release(std::size_t bytes) {
  if (bytes == 0) return;
  bytes_ -= bytes;
  node_queued_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}

bool client_stream::push(std::string frame) {
  if (closing_) return false;
  const auto n = frame.size();
  if (!queue_.empty()
      && (queue_.size() >= max_frames_ || bytes_ + n > ctx_.opts.max_queued_bytes
          || queued_bytes_total() + n > ctx_.opts.max_node_queued_bytes)) {
    spdlog::warn("client stream: slow consumer ({} frames, {} bytes queued; {} bytes on the node), closing",
                 queue_.size(), bytes_, queued_bytes_total());
    metrics().slow_consumers.fetch_add(1, std::memory_order_relaxed);
    drop_queue();
    on_slow_consumer();
    return false;
  }
  push_unchecked(std::move(frame));
  return true;
}

void client_stream::push_unchecked(std::string frame) {
  bytes_ += frame.size();
  node_queued_bytes.fetch_add(frame.size(), std::memory_order_relaxed);
  queue_.push_back(std::move(frame));
  if (!writing_) write_front();
}

void client_stream::drop_queue() {
  std::size_t keep = writing_ ? 1 : 0;
  while (queue_.size() > keep) {
    release(queue_.back().size());
    queue_.pop_back();
  }
}

void client_stream::close_after_flush() {
  if (closing_) return;
  closing_ = true;
  if (!writing_ && queue_.empty() && !drained_) {
    drained_ = true;
    on_drained();
  }
}

void client_stream::write_front() {
  if (queue_.empty()) return;
  writing_ = true;
  start_write(queue_.front());
}

void client_stream::write_done(beast::error_code ec) {
  writing_ = false;
  if (ec) {
    drop_queue();
    if (!queue_.empty()) {
      release(queue_.front().size());
      queue_.pop_front();
    }
    queue_.shrink_to_fit();
    return on_write_error(ec);
  }
  metrics().messages_out.fetch_add(1, std::memory_order_relaxed);
  metrics().transport(transport_).messages_out.fetch_add(1, std::memory_order_relaxed);
  release(queue_.front().size());
  queue_.pop_front();
  if (!queue_.empty()) return write_front();
  // An idle stream holds no queue storage (a block and its map: about
  // 500 bytes); the next frame allocates it again.
  queue_.shrink_to_fit();
  if (closing_ && !drained_) {
    drained_ = true;
    on_drained();
  }
}

void client_stream::spawn_connection_actor(connection_init init) {
  init.out = std::make_shared<stream_bridge>(weak_from_this(), executor_);
  init.host = ctx_.n.host();
  init.lane = ctx_.n.lane();
  init.max_message_rate = ctx_.opts.max_message_rate;
  init.message_burst = ctx_.opts.message_burst;
  conn_ = spawn_connection(ctx_.n.system(), std::move(init));
  conn_id_ = ctx_.add_connection(conn_);
  metrics().connections.fetch_add(1, std::memory_order_relaxed);
  metrics().connections_total.fetch_add(1, std::memory_order_relaxed);
  metrics().transport(transport_).connections.fetch_add(1, std::memory_order_relaxed);
  metrics().transport(transport_).connections_total.fetch_add(1, std::memory_order_relaxed);
}

void client_stream::leave_connection() {
  if (!conn_ || left_) return;
  left_ = true;
  metrics().connections.fetch_sub(1, std::memory_order_relaxed);
  metrics().transport(transport_).connections.fetch_sub(1, std::memory_order_relaxed);
  caf::anon_send(conn_, leave_atom::value);
  ctx_.remove_connection(conn_id_);
}

void stream_bridge::deliver(std::string frame) {
  asio::post(ex_, [w = stream_, f = std::move(frame)]() mutable {
    if (auto s = w.lock()) s->on_frame(std::move(f));
  });
}

void stream_bridge::close(std::uint16_t code, std::string reason) {
  asio::post(ex_, [w = stream_, code, r = std::move(reason)]() mutable {
    if (auto s = w.lock()) s->on_transport_close(code, std::move(r));
  });
}

}  // namespace skein::net_detail
