// GET /cluster/events: this node's cluster events (skein::events()) as a
// Server-Sent Events stream, one `data: {json}` event per change, for the
// dashboard (and `curl -N`).
//
// - Events naming an mcp/ session are left out; CORS is allowed only for
//   the members' origins (net/cluster_routes.cpp).
// - On connect the stream first gets the feed's recent events (the last 64),
//   then every new one. Events carry no SSE id: the feed has no sequence
//   numbers; a reconnecting client gets the recent ones again and
//   de-duplicates (the dashboard compares the JSON text).
// - It is an http_exchange (net/sse_stream.hpp): keepalive comment lines,
//   peer watching and the bounded queue (1024 events here; a client that
//   falls that far behind is closed, its EventSource reconnects and gets the
//   recent events) come from there.
// - The feed calls the subscriber under its mutex on the publisher's thread;
//   the subscriber only posts the text to this stream's executor.
#include <atomic>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/events.hpp"
#include "actors/metrics.hpp"
#include "net/http_util.hpp"
#include "net/sse_stream.hpp"

namespace skein::net_detail {

namespace {

std::atomic<std::int64_t> open_streams{0};

constexpr std::size_t max_queued_events = 1024;
constexpr std::size_t backlog = 64;

/// Events about mcp/ sessions are not shown (an MCP session id is the
/// session's credential).
bool names_mcp_session(const std::string& line) {
  if (line.find("mcp/") == std::string::npos) return false;
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return false;
  auto s = j.find("session");
  return s != j.end() && s->is_string() && s->get_ref<const std::string&>().rfind("mcp/", 0) == 0;
}

class event_stream final : public http_exchange {
 public:
  event_stream(any_stream&& s, server_context& ctx, unsigned version)
    : http_exchange(std::move(s), ctx, version, false, max_queued_events) {
    open_streams.fetch_add(1, std::memory_order_relaxed);
    transport_ = transport_slot::events;
    metrics().transport(transport_).connections.fetch_add(1, std::memory_order_relaxed);
    metrics().transport(transport_).connections_total.fetch_add(1, std::memory_order_relaxed);
  }

  ~event_stream() override {
    unsubscribe();
    open_streams.fetch_sub(1, std::memory_order_relaxed);
    metrics().transport(transport_).connections.fetch_sub(1, std::memory_order_relaxed);
  }

  // On the stream's executor (called from the route).
  void start(const std::string& origin) {
    // CORS only for the members' own origins (the dashboard of another node).
    std::string extra;
    if (!origin.empty()) {
      extra = "Vary: Origin\r\n";
      if (member_origin(ctx_, origin)) extra += "Access-Control-Allow-Origin: " + origin + "\r\n";
    }
    start_sse(extra, "text/event-stream; charset=utf-8");
    write_raw("retry: 2000\n\n");
    auto ex = executor();
    std::weak_ptr<event_stream> w = self<event_stream>();
    // Never lock w here: the last reference must not drop under the feed's
    // mutex (the destructor unsubscribes, which takes it).
    sub_ = events().subscribe(
      [ex, w](const std::string& line) {
        if (names_mcp_session(line)) return;
        asio::post(ex, [w, text = "data: " + line + "\n\n"]() mutable {
          if (auto s = w.lock()) s->write_raw(std::move(text));
        });
      },
      backlog);
  }

 private:
  void on_finished() override { unsubscribe(); }

  void unsubscribe() {
    if (sub_) events().unsubscribe(sub_);
    sub_ = 0;
  }

  std::uint64_t sub_ = 0;
};

}  // namespace

std::int64_t open_event_streams() { return open_streams.load(std::memory_order_relaxed); }

bool events_route(request_context& rc) {
  auto origin = header(rc.req, "Origin");
  std::make_shared<event_stream>(rc.take_stream(), rc.server, rc.req.version())->start(origin);
  return true;
}

}  // namespace skein::net_detail
