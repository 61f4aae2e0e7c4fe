// GET /cluster/events: this node's cluster events (skein::events()) as a
// Server-Sent Events stream, one `data: {json}` event per change, for the
// dashboard (and `curl -N`).
//
// - On connect the stream first gets the feed's recent events (the last 64),
//   then every new one. Events carry no SSE id: the feed has no sequence
//   numbers; a reconnecting client gets the recent ones again and
//   de-duplicates (the dashboard compares the JSON text).
// - A comment line (`: keepalive`) every 15 s keeps proxies and idle timers
//   from closing a quiet stream; `X-Accel-Buffering: no` keeps nginx from
//   buffering it.
// - The feed calls the subscriber under its mutex on the publisher's thread;
//   the subscriber only posts the text to this stream's strand. All socket
//   work happens on the strand; one write is in flight at a time.
// - The queue is bounded (max_queued): a client that falls that far behind
//   is closed (its EventSource reconnects and gets the recent events).
// - The client going away is seen by a read that never expects data (EOF or
//   error) or by a failed write; either closes the socket, stops the timer
//   and unsubscribes.
// - The body is delimited by closing the connection (Connection: close, no
//   Content-Length), so the stream is never reused for another request.
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include "actors/events.hpp"
#include "net/detail.hpp"

namespace skein::net_detail {

namespace {

std::atomic<std::int64_t> open_streams{0};

constexpr std::size_t max_queued = 1024;
constexpr std::size_t backlog = 64;
constexpr auto keepalive_interval = std::chrono::seconds(15);

class sse_stream : public std::enable_shared_from_this<sse_stream> {
 public:
  explicit sse_stream(beast::tcp_stream&& s)
    : stream_(std::move(s)), timer_(stream_.get_executor()) {
    open_streams.fetch_add(1, std::memory_order_relaxed);
  }

  ~sse_stream() {
    unsubscribe();
    open_streams.fetch_sub(1, std::memory_order_relaxed);
  }

  // On the strand (called from the route).
  void start(std::string head) {
    stream_.expires_never();
    queue_.push_back(std::move(head));
    auto ex = stream_.get_executor();
    std::weak_ptr<sse_stream> w = weak_from_this();
    // Never lock w here: the last reference must not drop under the feed's
    // mutex (the destructor unsubscribes, which takes it).
    sub_ = events().subscribe(
      [ex, w](const std::string& line) {
        asio::post(ex, [w, text = "data: " + line + "\n\n"]() mutable {
          if (auto s = w.lock()) s->push(std::move(text));
        });
      },
      backlog);
    do_write();
    do_read();
    arm_timer();
  }

 private:
  void push(std::string text) {
    if (closed_) return;
    if (queue_.size() >= max_queued) return close();
    queue_.push_back(std::move(text));
    if (!writing_) do_write();
  }

  void do_write() {
    if (closed_ || queue_.empty()) return;
    writing_ = true;
    asio::async_write(stream_, asio::buffer(queue_.front()),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) return self->close();
                        self->queue_.pop_front();
                        self->do_write();
                      });
  }

  // The client sends nothing after its request; any completion means it is
  // gone (EOF, reset) or misbehaving. Stray bytes are read and dropped.
  void do_read() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->do_read();
                            });
  }

  void arm_timer() {
    timer_.expires_after(keepalive_interval);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      self->push(": keepalive\n\n");
      self->arm_timer();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    unsubscribe();
    timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);  // queued text is freed with this object
  }

  void unsubscribe() {
    if (sub_) events().unsubscribe(sub_);
    sub_ = 0;
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  std::deque<std::string> queue_;
  std::array<char, 512> scratch_{};
  std::uint64_t sub_ = 0;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

std::int64_t open_event_streams() { return open_streams.load(std::memory_order_relaxed); }

bool events_route(request_context& rc) {
  auto& seg = rc.target.segments;
  if (seg.size() != 2 || seg[0] != "cluster" || seg[1] != "events") return false;
  if (rc.req.method() != http::verb::get) {
    auto res = error_response(rc, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "GET");
    res.set(http::field::access_control_allow_origin, "*");
    rc.respond(std::move(res));
    return true;
  }
  std::string head = "HTTP/1.1 200 OK\r\n"
                     "Server: " + rc.server.server_header + "\r\n"
                     "Content-Type: text/event-stream; charset=utf-8\r\n"
                     "Cache-Control: no-cache, no-store\r\n"
                     "X-Accel-Buffering: no\r\n"
                     "Access-Control-Allow-Origin: *\r\n"
                     "Connection: close\r\n"
                     "\r\n"
                     "retry: 2000\n\n";
  std::make_shared<sse_stream>(rc.take_stream())->start(std::move(head));
  return true;
}

}  // namespace skein::net_detail
