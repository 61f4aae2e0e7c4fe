// The only translation unit of skein-loadgen that includes Beast.
//
// One io_context per thread; every client (and every pair of the rtt
// scenario) lives on one of them, so scenario state needs no locks. The main
// thread drives the phases and talks to the workers by posting to them.
//
// Protocols (chosen by --proto), chat in both:
//   skein:    ws://HOST/ws/chat/{room}?user={user}; ready on the "history" frame;
//             sends {"type":"say","text":T}; receives {"seq":N,"data":{"type":"said",...}}
//   socketio: ws://HOST/socket.io/?EIO=4&transport=websocket&room={room}&user={user};
//             Engine.IO open "0{...}" -> send "40"; ready on "40{...}"; ping "2" -> "3";
//             sends 42["say",{"text":T}]; receives 42["said",{"user":U,"text":T}]
// Message texts carry their own send time, so receivers need no lookup.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <netinet/in.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "bench/loadgen/loadgen.hpp"

extern char** environ;

namespace loadgen {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

struct target {
  std::string host;  // Host header
  tcp::endpoint ep;
};

target parse_url(const std::string& url) {
  auto s = url;
  if (s.rfind("http://", 0) == 0) s = s.substr(7);
  if (s.rfind("ws://", 0) == 0) s = s.substr(5);
  if (auto slash = s.find('/'); slash != std::string::npos) s = s.substr(0, slash);
  auto colon = s.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("url without port: " + url);
  target t;
  t.host = s;
  t.ep = tcp::endpoint(asio::ip::make_address_v4(s.substr(0, colon)),
                       static_cast<unsigned short>(std::stoi(s.substr(colon + 1))));
  if (!t.ep.address().is_loopback())
    throw std::invalid_argument("only loopback targets are allowed: " + url);
  return t;
}

struct stats {
  histogram hist;
  std::uint64_t delivered = 0;  // measured deliveries
  std::uint64_t sent = 0;
  std::uint64_t lost = 0;
  std::uint64_t stale = 0;  // late or unexpected deliveries
  std::uint64_t late = 0;   // of `lost`: arrived after all, within the window
  std::uint64_t errors = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t closed = 0;  // established connections that ended
  std::vector<std::uint32_t> timeline;
  std::vector<std::uint32_t> timeline_max_us;  // paced --timeline: worst latency per due bucket

  void merge(const stats& o) {
    hist.merge(o.hist);
    delivered += o.delivered;
    sent += o.sent;
    lost += o.lost;
    stale += o.stale;
    late += o.late;
    errors += o.errors;
    reconnects += o.reconnects;
    closed += o.closed;
    if (timeline.size() < o.timeline.size()) timeline.resize(o.timeline.size());
    for (std::size_t i = 0; i < o.timeline.size(); ++i) timeline[i] += o.timeline[i];
    if (timeline_max_us.size() < o.timeline_max_us.size())
      timeline_max_us.resize(o.timeline_max_us.size());
    for (std::size_t i = 0; i < o.timeline_max_us.size(); ++i)
      timeline_max_us[i] = std::max(timeline_max_us[i], o.timeline_max_us[i]);
  }
};

struct worker;
class connection;

struct client {
  worker* w = nullptr;
  int id = 0;    // global number (source address, names)
  int slot = 0;  // scenario index (pair, subscriber)
  int node = 0;  // index into the targets
  std::string user, room;
  std::shared_ptr<connection> conn;
  bool ready = false;
  bool pacing = false;  // holds one of its worker's connect slots
  int connects = 0;     // connections that became ready
  // skein resume: the id from the "welcome" frame and the last seq seen;
  // a reconnect asks for ?client=ID&last_seq=N and gets what it missed.
  std::string resume_id;
  std::string resume_token;  // proves the resume is this client's (welcome frame)
  std::uint64_t last_seq = 0;
  bool resuming = false;  // the current connection is a resume
  // --ids: the next message id, and the frames not yet acknowledged (oldest
  // first), sent again on every new connection.
  std::uint64_t next_id = 1;
  std::deque<std::pair<std::uint64_t, std::string>> unacked;
  int failures = 0;     // consecutive failed attempts
  std::unique_ptr<asio::steady_timer> retry;

  void say(std::string_view text);
};

struct scenario {
  virtual ~scenario() = default;
  virtual void on_ready(worker&, client&) {}
  virtual void on_said(worker&, client&, std::string_view user, std::string_view text) = 0;
  virtual void on_down(worker&, client&, bool /*was_ready*/) {}
  bool rotate_on_failure = false;  // reconnect to the next node
  int max_failures = 1 << 30;
};

struct worker {
  int index = 0;
  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread th;
  const options* o = nullptr;
  const std::vector<target>* targets = nullptr;
  scenario* sc = nullptr;
  stats st;
  std::uint64_t origin_ns = 0;  // timeline origin
  std::uint64_t bucket_ns = 100'000'000;
  std::deque<client*> queue;  // clients waiting for a connect slot
  int in_flight = 0;
  int slots = 64;
  int ready_now = 0;
  int given_up = 0;
  int connect_failures = 0;  // attempts that ended before the client was ready

  void count_completion(std::uint64_t now) {
    if (now < origin_ns) return;
    auto b = (now - origin_ns) / bucket_ns;
    if (b > 200'000) return;
    if (st.timeline.size() <= b) st.timeline.resize(b + 1);
    ++st.timeline[b];
  }
};

void begin_connect(worker& w, client& c);
void connection_ready(worker& w, client& c);
void connection_down(worker& w, client& c, bool was_ready);

std::string_view field(std::string_view m, std::string_view key) {
  auto p = m.find(key);
  if (p == std::string_view::npos) return {};
  p += key.size();
  auto e = m.find('"', p);
  if (e == std::string_view::npos) return {};
  return m.substr(p, e - p);
}

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(client& c, worker& w) : c_(&c), w_(w), ws_(w.ioc) {}

  void start() {
    const auto& t = (*w_.targets)[static_cast<std::size_t>(c_->node)];
    auto& sock = beast::get_lowest_layer(ws_).socket();
    beast::error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec) {
      // Lets many connections share a source address: the port is chosen at
      // connect time per 4-tuple, not at bind time per address.
      int one = 1;
      ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sock.set_option(tcp::no_delay(true), ec);
    }
    if (!ec) {
      const auto& o = *w_.o;
      auto last = static_cast<std::uint32_t>(o.src_first + c_->id % o.src_count);
      sock.bind(tcp::endpoint(asio::ip::address_v4(0x7f000000u | last), 0), ec);
    }
    if (ec) {
      asio::post(w_.ioc, [self = shared_from_this(), ec] { self->fail(ec); });
      return;
    }
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(15));
    beast::get_lowest_layer(ws_).async_connect(
      t.ep, beast::bind_front_handler(&connection::on_connect, shared_from_this()));
  }

  void send(std::string frame) {
    if (dead_) return;
    out_.push_back(std::move(frame));
    if (!writing_) do_write();
  }

  bool is_socketio() const { return w_.o->proto == protocol::socketio; }

 private:
  void on_connect(beast::error_code ec) {
    if (ec) return fail(ec);
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = std::chrono::seconds(15);
    to.idle_timeout = websocket::stream_base::none();
    to.keep_alive_pings = false;
    ws_.set_option(to);
    ws_.text(true);
    std::string path;
    if (is_socketio())
      path = "/socket.io/?EIO=4&transport=websocket&room=" + c_->room + "&user=" + c_->user;
    else
      path = "/ws/chat/" + c_->room + "?user=" + c_->user;
    c_->resuming = false;
    if (!is_socketio() && w_.o->resume && !c_->resume_id.empty()) {
      path += "&client=" + c_->resume_id + "&last_seq=" + std::to_string(c_->last_seq)
              + "&resume_token=" + c_->resume_token;
      c_->resuming = true;
    }
    const auto& t = (*w_.targets)[static_cast<std::size_t>(c_->node)];
    ws_.async_handshake(t.host, path,
                        beast::bind_front_handler(&connection::on_handshake, shared_from_this()));
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return fail(ec);
    do_read();
  }

  void do_read() {
    ws_.async_read(buf_, beast::bind_front_handler(&connection::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec);
    auto d = buf_.cdata();
    std::string_view m(static_cast<const char*>(d.data()), d.size());
    if (is_socketio())
      handle_socketio(m);
    else
      handle_skein(m);
    buf_.consume(buf_.size());
    if (!dead_) do_read();
  }

  void handle_skein(std::string_view m) {
    if (m.rfind("{\"ack\":", 0) == 0) {
      std::uint64_t id = 0;
      std::from_chars(m.data() + 7, m.data() + m.size(), id);
      auto& q = c_->unacked;
      for (auto i = q.begin(); i != q.end(); ++i)
        if (i->first == id) {
          q.erase(i);
          break;
        }
      if (m.find("\"error\"") != std::string_view::npos) ++w_.st.errors;
      return;
    }
    if (auto p = m.find("\"seq\":"); p != std::string_view::npos) {
      std::uint64_t seq = 0;
      auto b = m.data() + p + 6;
      std::from_chars(b, m.data() + m.size(), seq);
      c_->last_seq = std::max(c_->last_seq, seq);
    }
    if (m.find("\"said\"") != std::string_view::npos) {
      if (ready_) w_.sc->on_said(w_, *c_, field(m, "\"user\":\""), field(m, "\"text\":\""));
    } else if (m.find("\"welcome\"") != std::string_view::npos) {
      auto id = field(m, "\"client\":\"");
      if (!id.empty()) c_->resume_id = std::string(id);
      auto token = field(m, "\"resume_token\":\"");
      if (!token.empty()) c_->resume_token = std::string(token);
      // A resumed client gets the events it missed, not the history.
      if (!ready_ && c_->resuming) {
        ready_ = true;
        connection_ready(w_, *c_);
      }
    } else if (!ready_ && (m.find("\"history\"") != std::string_view::npos
                           || m.find("\"reset\"") != std::string_view::npos)) {
      ready_ = true;
      connection_ready(w_, *c_);
    } else if (m.find("\"error\"") != std::string_view::npos) {
      ++w_.st.errors;
    }
  }

  void handle_socketio(std::string_view m) {
    if (m.empty()) return;
    switch (m[0]) {
      case '0':  // Engine.IO open: connect to the main namespace
        send("40");
        return;
      case '2':  // Engine.IO ping
        send("3");
        return;
      case '1':  // Engine.IO close
        return fail(beast::error_code(asio::error::connection_reset));
      case '4':
        if (m.size() < 2) return;
        if (m[1] == '0') {
          if (!ready_) {
            ready_ = true;
            connection_ready(w_, *c_);
          }
        } else if (m[1] == '2') {
          if (ready_ && m.substr(2, 8) == "[\"said\",")
            w_.sc->on_said(w_, *c_, field(m, "\"user\":\""), field(m, "\"text\":\""));
        } else if (m[1] == '1' || m[1] == '4') {
          ++w_.st.errors;
          return fail(beast::error_code(asio::error::connection_refused));
        }
        return;
      default:
        return;
    }
  }

  void do_write() {
    writing_ = true;
    ws_.async_write(asio::buffer(out_.front()),
                    beast::bind_front_handler(&connection::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return fail(ec);
    out_.pop_front();
    if (!out_.empty() && !dead_) do_write();
  }

  void fail(beast::error_code) {
    if (dead_) return;
    dead_ = true;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    if (c_ && c_->conn.get() == this) {
      auto self = shared_from_this();
      client* c = c_;
      c_ = nullptr;
      connection_down(w_, *c, ready_);
    }
  }

  client* c_;
  worker& w_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buf_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool dead_ = false;
  bool ready_ = false;
};

void client::say(std::string_view text) {
  if (!conn || !ready) return;
  std::string f;
  if (w->o->proto == protocol::socketio) {
    f.reserve(text.size() + 24);
    f.append("42[\"say\",{\"text\":\"").append(text).append("\"}]");
  } else {
    f.reserve(text.size() + 56);
    std::uint64_t id = 0;
    if (w->o->ids) {
      id = next_id++;
      f.append("{\"id\":").append(std::to_string(id)).append(",\"data\":");
    }
    f.append("{\"type\":\"say\",\"text\":\"").append(text).append("\"}");
    if (w->o->ids) {
      f.append("}");
      unacked.emplace_back(id, f);
    }
  }
  conn->send(std::move(f));
}

void pump(worker& w) {
  while (w.in_flight < w.slots && !w.queue.empty()) {
    client* c = w.queue.front();
    w.queue.pop_front();
    c->pacing = true;
    ++w.in_flight;
    begin_connect(w, *c);
  }
}

void release_slot(worker& w, client& c) {
  if (!c.pacing) return;
  c.pacing = false;
  --w.in_flight;
  pump(w);
}

void begin_connect(worker& w, client& c) {
  c.conn = std::make_shared<connection>(c, w);
  c.conn->start();
}

void connection_ready(worker& w, client& c) {
  c.ready = true;
  ++c.connects;
  c.failures = 0;
  ++w.ready_now;
  release_slot(w, c);
  // --ids: what the last connection did not get acknowledged goes again,
  // with the same ids (the session acknowledges a repeat without applying it).
  if (c.connects > 1)
    for (const auto& [id, frame] : c.unacked) c.conn->send(frame);
  w.sc->on_ready(w, c);
}

void connection_down(worker& w, client& c, bool was_ready) {
  c.conn.reset();
  c.ready = false;
  if (was_ready) {
    --w.ready_now;
    ++w.st.closed;
  } else {
    ++w.connect_failures;
  }
  w.sc->on_down(w, c, was_ready);
  if (++c.failures > w.sc->max_failures) {
    ++w.given_up;
    return release_slot(w, c);
  }
  if (w.sc->rotate_on_failure)
    c.node = (c.node + 1) % static_cast<int>(w.targets->size());
  if (was_ready) ++w.st.reconnects;
  if (!c.retry) c.retry = std::make_unique<asio::steady_timer>(w.ioc);
  c.retry->expires_after(std::chrono::milliseconds(std::min(1000, 50 * c.failures)));
  c.retry->async_wait([&w, &c](beast::error_code ec) {
    if (!ec && !c.conn) begin_connect(w, c);
  });
}

// --- main-thread helpers ----------------------------------------------------

using workers_t = std::vector<std::unique_ptr<worker>>;

template <class F>
void on_all(workers_t& ws, F f) {
  std::vector<std::future<void>> done;
  for (auto& w : ws) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    asio::post(w->ioc, [p, f, wp = w.get()]() mutable {
      f(*wp);
      p->set_value();
    });
  }
  for (auto& d : done) d.wait();
}

stats collect(workers_t& ws) {
  std::mutex m;
  stats total;
  on_all(ws, [&](worker& w) {
    std::lock_guard<std::mutex> lock(m);
    total.merge(w.st);
    w.st = stats{};
    w.origin_ns = now_ns();
  });
  return total;
}

struct counts {
  int ready = 0, given_up = 0, queued = 0, connect_failures = 0;
};

counts connection_counts(workers_t& ws) {
  std::mutex m;
  counts c;
  on_all(ws, [&](worker& w) {
    std::lock_guard<std::mutex> lock(m);
    c.ready += w.ready_now;
    c.given_up += w.given_up;
    c.connect_failures += w.connect_failures;
    c.queued += static_cast<int>(w.queue.size()) + w.in_flight;
  });
  return c;
}

/// Sleeps up to `seconds`, waking early on a stop request.
bool nap(double seconds) {
  auto end = std::chrono::steady_clock::now()
             + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               std::chrono::duration<double>(seconds));
  while (std::chrono::steady_clock::now() < end) {
    if (stop_requested()) return false;
    auto left = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      end - std::chrono::steady_clock::now());
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
      left, std::chrono::milliseconds(20)));
  }
  return !stop_requested();
}

/// Waits until `want` clients are ready (or gave up); returns the counts.
counts wait_connected(workers_t& ws, int want, double timeout_s) {
  auto start = std::chrono::steady_clock::now();
  counts c;
  for (;;) {
    c = connection_counts(ws);
    if (c.ready + c.given_up >= want || stop_requested()) break;
    if (std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_s)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return c;
}

json latency_json(const histogram& h) {
  auto ms = [](std::uint64_t ns) { return std::round(static_cast<double>(ns) / 1e3) / 1e3; };
  return json{{"n", h.count()},
              {"p50", ms(h.quantile(0.50))},
              {"p90", ms(h.quantile(0.90))},
              {"p99", ms(h.quantile(0.99))},
              {"p999", ms(h.quantile(0.999))},
              {"max", ms(h.max())},
              {"mean", std::round(h.mean() / 1e3) / 1e3}};
}

struct window {
  std::vector<proc_sample> procs;
  double self_cpu = 0;
  double machine = 0;
  std::uint64_t t = 0;
};

window open_window(const options& o) {
  return {sample_procs(o.pids), self_cpu_s(), machine_busy_s(), now_ns()};
}

json close_window(const options& o, const window& w0) {
  window w1 = open_window(o);
  double secs = static_cast<double>(w1.t - w0.t) / 1e9;
  json servers = json::array();
  double cpu_total = 0, kernel_total = 0, switches_total = 0;
  long rss_total = 0;
  for (std::size_t i = 0; i < w1.procs.size(); ++i) {
    const auto& a = w0.procs[i];
    const auto& b = w1.procs[i];
    const bool measured = b.alive && a.alive && secs > 0;
    double pct = measured ? 100.0 * (b.cpu_s - a.cpu_s) / secs : 0;
    cpu_total += pct;
    if (measured) {
      kernel_total += 100.0 * (b.kernel_s - a.kernel_s) / secs;
      switches_total += static_cast<double>(b.switches - a.switches) / secs;
    }
    rss_total += b.rss_kb;
    servers.push_back({{"pid", b.pid},
                       {"alive", b.alive},
                       {"cpu_pct", std::round(pct * 10) / 10},
                       {"rss_kb", b.rss_kb}});
  }
  double loadgen = 100.0 * (w1.self_cpu - w0.self_cpu) / secs;
  double machine = 100.0 * (w1.machine - w0.machine) / secs;
  return json{{"seconds", std::round(secs * 1000) / 1000},
              {"machine_cpu_pct", std::round(machine * 10) / 10},
              {"other_cpu_pct", std::round(std::max(0.0, machine - cpu_total - loadgen) * 10) / 10},
              {"servers", servers},
              {"server_cpu_pct", std::round(cpu_total * 10) / 10},
              // of server_cpu_pct, the time in the kernel (stime)
              {"server_kernel_cpu_pct", std::round(kernel_total * 10) / 10},
              // context switches of every server thread together, per second
              {"server_switches_per_s", std::round(switches_total)},
              {"server_rss_kb", rss_total},
              {"loadgen_cpu_pct", std::round(loadgen * 10) / 10},
              {"loadgen_rss_kb", self_rss_kb()}};
}

/// Runs `command` with /bin/sh -c, without waiting; returns the child PID.
pid_t spawn_shell(const std::string& command) {
  pid_t pid = -1;
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  if (::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
    return -1;
  return pid;
}

template <class T>
bool parse_num(std::string_view s, T& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

/// Splits "a.b.c" into three integers.
bool parse3(std::string_view text, std::uint64_t& a, std::uint64_t& b, std::uint64_t& c) {
  auto d1 = text.find('.');
  if (d1 == std::string_view::npos) return false;
  auto d2 = text.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  return parse_num(text.substr(0, d1), a) && parse_num(text.substr(d1 + 1, d2 - d1 - 1), b)
         && parse_num(text.substr(d2 + 1), c);
}

std::string text3(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  std::string s = std::to_string(a);
  s += '.';
  s += std::to_string(b);
  s += '.';
  s += std::to_string(c);
  return s;
}

// --- rtt: pairs ping-pong in their own rooms ----------------------------------

struct pair_state {
  client* a = nullptr;  // on node i % N
  client* b = nullptr;  // on node (i + 1) % N
  std::uint64_t index = 0;
  bool active = false;
  bool waiting = false;
  int turn = 0;  // 0: a sends next
  std::uint64_t seq = 0;
  std::uint64_t t0 = 0;
  std::uint64_t first_after_event = 0;
  // when one of its clients last lost its connection after the event: the
  // pair has recovered once a message sent after this made the round trip
  std::uint64_t down_ns = 0;
  // seqs counted lost (timed out, or in flight to a client that came back
  // without resume); one that arrives later is counted `late` instead of stale
  std::vector<std::uint64_t> given_up;

  void give_up() {
    given_up.push_back(seq);
    if (given_up.size() > 64) given_up.erase(given_up.begin());
  }
};

struct rtt_scenario final : scenario {
  std::vector<pair_state> pairs;
  std::vector<std::vector<pair_state*>> by_worker;
  std::uint64_t timeout_ns = 5'000'000'000;
  std::atomic<std::uint64_t> event_ns{0};
  // SKEIN_LOADGEN_TRACE=1: one line on stderr per message given up on
  bool trace = std::getenv("SKEIN_LOADGEN_TRACE") != nullptr;

  void kick(worker& w, pair_state& p) {
    if (!p.active || p.waiting || !p.a->ready || !p.b->ready) return;
    client* from = p.turn == 0 ? p.a : p.b;
    ++p.seq;
    p.t0 = now_ns();
    p.waiting = true;
    ++w.st.sent;
    from->say(text3(p.index, p.seq, p.t0));
  }

  // A connection lost after the event (a kill takes effect some ms after
  // the command starts; at 20,000 msg/s every pair can complete a message
  // first) makes its pair wait for a round trip sent after the loss.
  void on_down(worker&, client& c, bool) override {
    if (event_ns.load(std::memory_order_relaxed) == 0) return;
    auto& p = pairs[static_cast<std::size_t>(c.slot)];
    p.first_after_event = 0;
    p.down_ns = now_ns();
  }

  void on_ready(worker& w, client& c) override {
    auto& p = pairs[static_cast<std::size_t>(c.slot)];
    // A client that comes back on a new connection without resume (Socket.IO)
    // cannot receive what was sent to its old one: the message in flight is
    // lost, and the pair goes on at once instead of waiting for the timeout.
    // A resumed skein client gets it from the outbox.
    if (p.waiting && c.connects > 1 && !c.resuming) {
      ++w.st.lost;
      p.give_up();
      p.waiting = false;
    }
    kick(w, p);
  }


  void on_said(worker& w, client& c, std::string_view user, std::string_view text) override {
    if (user == c.user) return;  // our own echo
    std::uint64_t idx = 0, seq = 0, t0 = 0;
    auto& p = pairs[static_cast<std::size_t>(c.slot)];
    client* expect = p.turn == 0 ? p.b : p.a;
    if (!parse3(text, idx, seq, t0) || idx != p.index || &c != expect || !p.waiting
        || seq != p.seq) {
      auto g = std::find(p.given_up.begin(), p.given_up.end(), seq);
      if (idx == p.index && g != p.given_up.end()) {
        ++w.st.late;
        p.given_up.erase(g);
      } else {
        ++w.st.stale;
      }
      return;
    }
    auto now = now_ns();
    w.st.hist.record(now - t0);
    ++w.st.delivered;
    w.count_completion(now);
    auto ev = event_ns.load(std::memory_order_relaxed);
    // Recovered: a message sent after the event made the round trip (one
    // already in flight when a node was killed proves nothing).
    if (ev != 0 && p.first_after_event == 0 && t0 > ev && t0 > p.down_ns)
      p.first_after_event = now;
    p.waiting = false;
    p.turn ^= 1;
    kick(w, p);
  }

  void sweep(worker& w) {
    auto now = now_ns();
    for (auto* p : by_worker[static_cast<std::size_t>(w.index)]) {
      if (p->waiting && now - p->t0 > timeout_ns) {
        ++w.st.lost;
        p->give_up();
        if (trace) {
          client* from = p->turn == 0 ? p->a : p->b;
          client* to = p->turn == 0 ? p->b : p->a;
          std::fprintf(stderr, "timed out: room %s seq %llu from %s (node %d, %s, unacked %zu) to %s (node %d, %s, last_seq %llu)\n",
                       from->room.c_str(), static_cast<unsigned long long>(p->seq), from->user.c_str(), from->node,
                       from->ready ? "ready" : "down", from->unacked.size(), to->user.c_str(), to->node,
                       to->ready ? "ready" : "down", static_cast<unsigned long long>(to->last_seq));
        }
        p->waiting = false;
        kick(w, *p);
      }
    }
  }
};

/// Calls sc.sweep(w) every 50 ms on w's thread (timed-out messages).
template <class Scenario>
void start_sweeper(worker& w, Scenario& sc, std::shared_ptr<asio::steady_timer> t) {
  t->expires_after(std::chrono::milliseconds(50));
  t->async_wait([&w, &sc, t](beast::error_code ec) {
    if (ec) return;
    sc.sweep(w);
    start_sweeper(w, sc, t);
  });
}

// --- fanout: one room, one publisher at fixed rates --------------------------

struct fanout_scenario final : scenario {
  client* publisher = nullptr;
  std::atomic<std::uint64_t> measuring{0};

  // publisher state, touched on worker 0 only
  double rate = 0;
  std::uint64_t tag = 0, start = 0, warm_end = 0, end = 0, sent = 0, sent_measured = 0,
                unsent = 0;
  std::unique_ptr<asio::steady_timer> timer;
  std::shared_ptr<std::promise<void>> done;

  void on_said(worker& w, client& c, std::string_view, std::string_view text) override {
    if (&c == publisher) return;
    std::uint64_t t = 0, seq = 0, t0 = 0;
    if (!parse3(text, t, seq, t0)) return;
    if (t == 0) return;  // warm-up message
    if (t != measuring.load(std::memory_order_relaxed)) {
      ++w.st.stale;
      return;
    }
    auto now = now_ns();
    w.st.hist.record(now > t0 ? now - t0 : 0);
    ++w.st.delivered;
  }

  void tick(worker& w) {
    auto now = now_ns();
    if (now >= end) {
      done->set_value();
      return;
    }
    const double per = 1e9 / rate;
    auto due = static_cast<std::uint64_t>(static_cast<double>(now - start) / per) + 1;
    while (sent < due) {
      auto intended = start + static_cast<std::uint64_t>(static_cast<double>(sent) * per);
      if (intended >= end) break;
      std::uint64_t t = intended >= warm_end ? tag : 0;
      if (publisher->ready) {
        // The latency of a message counts from when it was due (open loop).
        publisher->say(text3(t, sent, intended));
        ++w.st.sent;
        if (t != 0) ++sent_measured;
      } else {
        ++unsent;
      }
      ++sent;
    }
    auto next = start + static_cast<std::uint64_t>(static_cast<double>(sent) * per);
    next = std::max(next, now + 200'000);
    timer->expires_after(std::chrono::nanoseconds(next - now));
    timer->async_wait([this, &w](beast::error_code ec) {
      if (!ec) tick(w);
    });
  }
};

// --- paced: pairs in their own rooms, messages at a fixed total rate ----------
//
// The open-loop form of rtt (as wrk2 measures): every worker sends its share
// of the offered rate on a schedule, whatever the replies, alternating a's
// and b's turns over its pairs. A message's latency counts from when it was
// due, not from when it was written, so a stalled server (or a late load
// generator) shows in the latency instead of slowing the offered load
// (coordinated omission). The server keeps a room's order, so each
// direction of a pair is a FIFO of messages in flight: a message that
// arrives after a later one of the same direction never will.

struct paced_pair {
  client* a = nullptr;
  client* b = nullptr;
  std::uint64_t index = 0;
  std::uint64_t seq[2] = {0, 0};  // last seq sent; direction 0 is a to b
  std::deque<std::pair<std::uint64_t, std::uint64_t>> in_flight[2];  // (seq, due ns)
  int next_dir = 0;
};

struct paced_pacer {  // one per worker, touched on that worker only
  std::vector<paced_pair*> pairs;
  std::size_t next = 0;
  double rate = 0;  // this worker's share, msg/s
  std::uint64_t start = 0, warm_end = 0, end = 0, sent = 0, sent_measured = 0, unsent = 0;
  std::unique_ptr<asio::steady_timer> timer;
  std::shared_ptr<std::promise<void>> done;
};

struct paced_scenario final : scenario {
  std::vector<paced_pair> pairs;
  std::vector<paced_pacer> pacers;
  std::uint64_t timeout_ns = 5'000'000'000;
  // Messages due in [win_start, win_end) are the measured ones.
  std::atomic<std::uint64_t> win_start{0}, win_end{0};

  bool measured(std::uint64_t due) const {
    return due >= win_start.load(std::memory_order_relaxed)
           && due < win_end.load(std::memory_order_relaxed);
  }

  void on_said(worker& w, client& c, std::string_view user, std::string_view text) override {
    if (user == c.user) return;  // our own echo
    std::uint64_t idx = 0, seq = 0, due = 0;
    auto& p = pairs[static_cast<std::size_t>(c.slot)];
    if (!parse3(text, idx, seq, due) || idx != p.index) {
      ++w.st.stale;
      return;
    }
    auto& q = p.in_flight[&c == p.b ? 0 : 1];
    while (!q.empty() && q.front().first < seq) {  // overtaken: never coming
      if (measured(q.front().second)) ++w.st.lost;
      q.pop_front();
    }
    if (q.empty() || q.front().first != seq) {  // timed out before, or a repeat
      ++w.st.stale;
      return;
    }
    q.pop_front();
    if (!measured(due)) return;
    auto now = now_ns();
    const auto ns = now > due ? now - due : 0;
    w.st.hist.record(ns);
    ++w.st.delivered;
    if (w.o->paced_timeline) {  // by when the message was due, not when it landed
      auto b = (due - win_start.load(std::memory_order_relaxed)) / w.bucket_ns;
      if (b < 200'000) {
        auto& t = w.st.timeline_max_us;
        if (t.size() <= b) t.resize(b + 1);
        t[b] = std::max(t[b], static_cast<std::uint32_t>(std::min<std::uint64_t>(ns / 1000, UINT32_MAX)));
        if (w.st.timeline.size() <= b) w.st.timeline.resize(b + 1);
        ++w.st.timeline[b];
      }
    }
  }

  void tick(worker& w) {
    auto& pc = pacers[static_cast<std::size_t>(w.index)];
    auto now = now_ns();
    if (now >= pc.end || pc.pairs.empty() || pc.rate <= 0) {
      pc.done->set_value();
      return;
    }
    const double per = 1e9 / pc.rate;
    auto due_count = static_cast<std::uint64_t>(static_cast<double>(now - pc.start) / per) + 1;
    while (pc.sent < due_count) {
      auto due = pc.start + static_cast<std::uint64_t>(static_cast<double>(pc.sent) * per);
      if (due >= pc.end) break;
      auto& p = *pc.pairs[pc.next++ % pc.pairs.size()];
      const int dir = p.next_dir;
      p.next_dir ^= 1;
      client* from = dir == 0 ? p.a : p.b;
      client* to = dir == 0 ? p.b : p.a;
      if (from->ready && to->ready) {
        auto seq = ++p.seq[dir];
        p.in_flight[dir].emplace_back(seq, due);
        from->say(text3(p.index, seq, due));
        ++w.st.sent;
        if (due >= pc.warm_end) ++pc.sent_measured;
      } else {
        ++pc.unsent;
      }
      ++pc.sent;
    }
    auto next = pc.start + static_cast<std::uint64_t>(static_cast<double>(pc.sent) * per);
    next = std::max(next, now + 100'000);
    pc.timer->expires_after(std::chrono::nanoseconds(next - now));
    pc.timer->async_wait([this, &w](beast::error_code ec) {
      if (!ec) tick(w);
    });
  }

  /// Messages in flight longer than the timeout count as lost.
  void sweep(worker& w) {
    auto now = now_ns();
    for (auto* p : pacers[static_cast<std::size_t>(w.index)].pairs)
      for (auto& q : p->in_flight)
        while (!q.empty() && now - q.front().second > timeout_ns) {
          if (measured(q.front().second)) ++w.st.lost;
          q.pop_front();
        }
  }

  std::size_t in_flight_of(worker& w) {
    std::size_t n = 0;
    for (auto* p : pacers[static_cast<std::size_t>(w.index)].pairs)
      n += p->in_flight[0].size() + p->in_flight[1].size();
    return n;
  }
};

// --- idle: connections in their own rooms -------------------------------------

struct idle_scenario final : scenario {
  void on_said(worker&, client&, std::string_view, std::string_view) override {}
};

// --- driver ---------------------------------------------------------------------

int owner_of(const std::vector<target>& targets, const std::string& room);

struct runtime {
  const options& o;
  std::vector<target> targets;
  workers_t workers;
  std::vector<std::unique_ptr<client>> clients;

  explicit runtime(const options& opts) : o(opts) {
    for (auto& u : o.urls) targets.push_back(parse_url(u));
    for (int i = 0; i < o.threads; ++i) {
      auto w = std::make_unique<worker>();
      w->index = i;
      w->o = &o;
      w->targets = &targets;
      w->guard.emplace(w->ioc.get_executor());
      w->slots = std::max(1, o.connect_concurrency / o.threads);
      w->bucket_ns = static_cast<std::uint64_t>(o.bucket_ms * 1e6);
      workers.push_back(std::move(w));
    }
  }

  void set_scenario(scenario& sc) {
    for (auto& w : workers) w->sc = &sc;
  }

  client& add_client(int id, int slot, int node, int worker_index, std::string user,
                     std::string room) {
    auto c = std::make_unique<client>();
    c->w = workers[static_cast<std::size_t>(worker_index)].get();
    c->id = id;
    c->slot = slot;
    c->node = node % static_cast<int>(targets.size());
    c->user = std::move(user);
    c->room = std::move(room);
    clients.push_back(std::move(c));
    return *clients.back();
  }

  void start_threads() {
    for (auto& w : workers)
      w->th = std::thread([wp = w.get()] { wp->ioc.run(); });
  }

  /// Queues every client for a paced connect; returns when all are in.
  counts connect_all(int want) {
    on_all(workers, [this](worker& w) {
      for (auto& c : clients)
        if (c->w == &w) w.queue.push_back(c.get());
      pump(w);
    });
    return wait_connected(workers, want, o.connect_timeout_s);
  }

  /// Connects every client (connect_all), prints the `connected` line, and
  /// an `error` line (returning false) unless all `want` are in.
  bool connect_and_report(int want) {
    auto t_connect = now_ns();
    auto c = connect_all(want);
    emit_line(json{{"type", "connected"},
                   {"clients", c.ready},
                   {"failed", c.given_up},
                   {"connect_failures", c.connect_failures},
                   {"seconds", static_cast<double>(now_ns() - t_connect) / 1e9}}
                .dump());
    if (c.ready >= want) return true;
    emit_line(json{{"type", "error"}, {"message", "not every client connected"}}.dump());
    return false;
  }

  /// Pair i's two clients in room TAG-rI, on worker i mod threads: a on node
  /// i mod N and b on i+1 mod N, or both on the session's owner (--placement
  /// owner; Socket.IO: both on a's node).
  std::pair<client*, client*> add_pair(int i) {
    int wi = i % o.threads;
    auto room = o.tag + "-r" + std::to_string(i);
    int nodes = static_cast<int>(targets.size());
    int na = i % nodes, nb = (i + 1) % nodes;
    if (o.placement == "owner")
      na = nb = o.proto == protocol::skein ? owner_of(targets, room) : na;
    auto& a = add_client(2 * i, i, na, wi, o.tag + "a" + std::to_string(i), room);
    auto& b = add_client(2 * i + 1, i, nb, wi, o.tag + "b" + std::to_string(i), room);
    return {&a, &b};
  }

  /// Stops every worker's io_context and joins its thread: no handler runs
  /// after this returns. A scenario is a local of its run_* function, and
  /// the workers' handlers (a frame that arrives, a sweep) call into it, so
  /// they must be halted before it is destroyed: a frame handled after
  /// run_rtt returned read the freed pairs and crashed the load generator
  /// once (SIGSEGV in rtt_scenario::kick, stop 53). Idempotent.
  void halt() {
    for (auto& w : workers) w->ioc.stop();
    for (auto& w : workers)
      if (w->th.joinable()) w->th.join();
  }
};

/// Declared right after a scenario, so that it is destroyed first: halts
/// the workers before the scenario they call into goes away.
struct halt_before_scenario_dies {
  runtime& rt;
  ~halt_before_scenario_dies() { rt.halt(); }
};

/// The index in `targets` of the node GET /gateway?session=chat/{room}
/// names (asked of targets[0]); throws when it answers otherwise or names a
/// node that is not in --urls.
int owner_of(const std::vector<target>& targets, const std::string& room) {
  namespace http = beast::http;
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  s.expires_after(std::chrono::seconds(10));
  s.connect(targets[0].ep);
  http::request<http::empty_body> req{http::verb::get, "/gateway?session=chat/" + room, 11};
  req.set(http::field::host, targets[0].host);
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  if (res.result() != http::status::ok)
    throw std::runtime_error("GET /gateway?session=chat/" + room + ": " +
                             std::to_string(res.result_int()));
  auto url = json::parse(res.body()).at("url").get<std::string>();
  auto ep = parse_url(url).ep;
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (targets[i].ep == ep) return static_cast<int>(i);
  throw std::runtime_error("the gateway named " + url + ", which is not in --urls");
}

int run_rtt(runtime& rt) {
  const auto& o = rt.o;
  rtt_scenario sc;
  halt_before_scenario_dies halt_first{rt};
  sc.rotate_on_failure = true;
  sc.timeout_ns = static_cast<std::uint64_t>(o.msg_timeout_s * 1e9);
  rt.set_scenario(sc);
  int max_pairs = *std::max_element(o.levels.begin(), o.levels.end());
  sc.pairs.resize(static_cast<std::size_t>(max_pairs));
  sc.by_worker.resize(rt.workers.size());
  for (int i = 0; i < max_pairs; ++i) {
    auto& p = sc.pairs[static_cast<std::size_t>(i)];
    std::tie(p.a, p.b) = rt.add_pair(i);
    p.index = static_cast<std::uint64_t>(i);
    sc.by_worker[static_cast<std::size_t>(i % o.threads)].push_back(&p);
  }
  rt.start_threads();
  for (auto& w : rt.workers) {
    auto t = std::make_shared<asio::steady_timer>(w->ioc);
    asio::post(w->ioc, [wp = w.get(), &sc, t] { start_sweeper(*wp, sc, t); });
  }
  if (!rt.connect_and_report(2 * max_pairs)) return 1;

  bool first = true;
  for (int level : o.levels) {
    if (stop_requested()) break;
    on_all(rt.workers, [&](worker& w) {
      for (auto* p : sc.by_worker[static_cast<std::size_t>(w.index)])
        if (p->index < static_cast<std::uint64_t>(level)) {
          p->active = true;
          p->first_after_event = 0;
          p->down_ns = 0;
          sc.kick(w, *p);
        }
    });
    nap(o.warmup_s);
    collect(rt.workers);
    auto w0 = open_window(o);
    json events = json::array();
    std::vector<pid_t> children;
    if (first && !o.events.empty()) {
      auto begin = std::chrono::steady_clock::now();
      auto evs = o.events;
      std::sort(evs.begin(), evs.end(), [](auto& x, auto& y) { return x.at_s < y.at_s; });
      for (auto& e : evs) {
        nap(std::max(0.0, e.at_s - std::chrono::duration<double>(
                                       std::chrono::steady_clock::now() - begin)
                                       .count()));
        if (sc.event_ns.load() == 0) sc.event_ns.store(now_ns());
        auto pid = spawn_shell(e.command);
        children.push_back(pid);
        events.push_back({{"at", std::chrono::duration<double>(
                                   std::chrono::steady_clock::now() - begin)
                                   .count()},
                          {"command", e.command},
                          {"pid", pid}});
      }
      nap(std::max(0.0, o.duration_s - std::chrono::duration<double>(
                                          std::chrono::steady_clock::now() - begin)
                                          .count()));
    } else {
      nap(o.duration_s);
    }
    auto st = collect(rt.workers);
    auto win = close_window(o, w0);
    // Recovery after the first event: when every active pair completed a
    // message again.
    double recover_s = -1;
    int unrecovered = 0;
    auto ev = sc.event_ns.load();
    if (ev != 0) {
      std::mutex m;
      std::uint64_t last = ev;
      on_all(rt.workers, [&](worker& w) {
        std::lock_guard<std::mutex> lock(m);
        for (auto* p : sc.by_worker[static_cast<std::size_t>(w.index)]) {
          if (!p->active) continue;
          if (p->first_after_event == 0)
            ++unrecovered;
          else
            last = std::max(last, p->first_after_event);
        }
      });
      recover_s = static_cast<double>(last - ev) / 1e9;
      sc.event_ns.store(0);
    }
    on_all(rt.workers, [&](worker& w) {
      for (auto* p : sc.by_worker[static_cast<std::size_t>(w.index)]) p->active = false;
    });
    // Let the messages in flight land before the next level.
    for (int i = 0; i < 100; ++i) {
      std::atomic<int> waiting{0};
      on_all(rt.workers, [&](worker& w) {
        for (auto* p : sc.by_worker[static_cast<std::size_t>(w.index)])
          if (p->waiting) ++waiting;
      });
      if (waiting == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    for (auto pid : children) {
      int status = 0;
      if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid)
        for (auto& e : events)
          if (e["pid"] == pid) e["exit"] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    double secs = win["seconds"].get<double>();
    json line{{"type", "rtt"},
              {"pairs", level},
              {"messages", st.delivered},
              {"rate", std::round(static_cast<double>(st.delivered) / secs * 10) / 10},
              {"latency_ms", latency_json(st.hist)},
              {"lost", st.lost},
              {"late", st.late},
              {"stale", st.stale},
              {"errors", st.errors},
              {"reconnects", st.reconnects},
              {"closed", st.closed}};
    line.update(win);
    if (!events.empty()) {
      line["events"] = events;
      line["recover_s"] = recover_s;
      line["unrecovered_pairs"] = unrecovered;
      line["bucket_ms"] = o.bucket_ms;
      line["timeline"] = st.timeline;
    }
    emit_line(line.dump());
    first = false;
  }
  return 0;
}

int run_fanout(runtime& rt) {
  const auto& o = rt.o;
  fanout_scenario sc;
  halt_before_scenario_dies halt_first{rt};
  rt.set_scenario(sc);
  int nodes = static_cast<int>(rt.targets.size());
  auto room = o.tag + "-fan";
  sc.publisher = &rt.add_client(0, 0, 0, 0, o.tag + "pub", room);
  for (int i = 1; i <= o.subscribers; ++i)
    rt.add_client(i, i, i % nodes, i % o.threads, o.tag + "s" + std::to_string(i), room);
  rt.start_threads();
  if (!rt.connect_and_report(o.subscribers + 1)) return 1;
  auto& w0 = *rt.workers[0];
  sc.timer = std::make_unique<asio::steady_timer>(w0.ioc);
  for (std::size_t k = 0; k < o.rates.size() && !stop_requested(); ++k) {
    double rate = o.rates[k];
    // Low rates get longer steps: p99 over a handful of publishes would be
    // the single slowest one.
    const double step_s = std::max(o.step_s, o.step_warmup_s + o.min_messages / rate);
    std::uint64_t tag = k + 1;
    sc.measuring.store(tag);
    collect(rt.workers);
    auto win0 = open_window(o);
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    asio::post(w0.ioc, [&sc, &w0, rate, tag, done, &o, step_s] {
      sc.rate = rate;
      sc.tag = tag;
      sc.start = now_ns();
      sc.warm_end = sc.start + static_cast<std::uint64_t>(o.step_warmup_s * 1e9);
      sc.end = sc.start + static_cast<std::uint64_t>(step_s * 1e9);
      sc.sent = sc.sent_measured = sc.unsent = 0;
      sc.done = done;
      sc.tick(w0);
    });
    fut.wait();
    auto win = close_window(o, win0);
    std::uint64_t sent_measured = 0, unsent = 0;
    on_all(rt.workers, [&](worker& w) {
      if (w.index == 0) {
        sent_measured = sc.sent_measured;
        unsent = sc.unsent;
      }
    });
    const auto expected = sent_measured * static_cast<std::uint64_t>(o.subscribers);
    // Drain: wait for the deliveries still in flight (bounded).
    auto drain_start = now_ns();
    stats st;
    for (;;) {
      std::mutex m;
      std::uint64_t got = 0;
      on_all(rt.workers, [&](worker& w) {
        std::lock_guard<std::mutex> lock(m);
        got += w.st.delivered;
      });
      if (got >= expected || now_ns() - drain_start > 3'000'000'000ull || stop_requested()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    double drain_s = static_cast<double>(now_ns() - drain_start) / 1e9;
    st = collect(rt.workers);
    double measured_s = step_s - o.step_warmup_s;
    double p99 = static_cast<double>(st.hist.quantile(0.99)) / 1e6;
    bool complete = st.delivered >= expected * 99 / 100;
    bool broken = !complete || p99 > o.p99_limit_ms;
    json line{{"type", "fanout"},
              {"rate", rate},
              {"step_s", step_s},
              {"subscribers", o.subscribers},
              {"sent", sent_measured},
              {"unsent", unsent},
              {"expected", expected},
              {"delivered", st.delivered},
              {"deliveries_per_s",
               std::round(static_cast<double>(st.delivered) / measured_s)},
              {"offered_per_s", std::round(rate * o.subscribers)},
              {"drain_s", std::round(drain_s * 1000) / 1000},
              {"latency_ms", latency_json(st.hist)},
              {"stale", st.stale},
              {"errors", st.errors},
              {"closed", st.closed},
              {"broken", broken}};
    line.update(win);
    emit_line(line.dump());
    if (broken) break;
    nap(0.5);
  }
  sc.measuring.store(0);
  return 0;
}

int run_paced(runtime& rt) {
  const auto& o = rt.o;
  paced_scenario sc;
  halt_before_scenario_dies halt_first{rt};
  sc.rotate_on_failure = true;
  sc.timeout_ns = static_cast<std::uint64_t>(o.msg_timeout_s * 1e9);
  rt.set_scenario(sc);
  const int n = o.pairs;
  sc.pairs.resize(static_cast<std::size_t>(n));
  sc.pacers.resize(rt.workers.size());
  for (int i = 0; i < n; ++i) {
    auto& p = sc.pairs[static_cast<std::size_t>(i)];
    std::tie(p.a, p.b) = rt.add_pair(i);
    p.index = static_cast<std::uint64_t>(i);
    sc.pacers[static_cast<std::size_t>(i % o.threads)].pairs.push_back(&p);
  }
  for (auto& w : rt.workers) {
    sc.pacers[static_cast<std::size_t>(w->index)].timer = std::make_unique<asio::steady_timer>(w->ioc);
    auto t = std::make_shared<asio::steady_timer>(w->ioc);
    asio::post(w->ioc, [wp = w.get(), &sc, t] { start_sweeper(*wp, sc, t); });
  }
  rt.start_threads();
  if (!rt.connect_and_report(2 * n)) return 1;
  for (double rate : o.rates) {
    if (stop_requested()) break;
    const auto start = now_ns() + 20'000'000;  // every worker starts on the same schedule
    const auto warm_end = start + static_cast<std::uint64_t>(o.warmup_s * 1e9);
    const auto end = warm_end + static_cast<std::uint64_t>(o.duration_s * 1e9);
    // Counts reset before the schedule starts, not at warm_end: a message
    // due at warm_end may land before this thread wakes (measured() picks
    // the window's messages by when they were due).
    collect(rt.workers);
    sc.win_start.store(warm_end);
    sc.win_end.store(end);
    std::vector<std::future<void>> done;
    for (auto& w : rt.workers) {
      auto& pc = sc.pacers[static_cast<std::size_t>(w->index)];
      auto pr = std::make_shared<std::promise<void>>();
      done.push_back(pr->get_future());
      const double share = rate * static_cast<double>(pc.pairs.size()) / n;
      asio::post(w->ioc, [&sc, wp = w.get(), &pc, pr, share, start, warm_end, end] {
        pc.rate = share;
        pc.start = start;
        pc.warm_end = warm_end;
        pc.end = end;
        pc.sent = pc.sent_measured = pc.unsent = 0;
        pc.done = pr;
        pc.timer->expires_after(std::chrono::nanoseconds(start > now_ns() ? start - now_ns() : 0));
        pc.timer->async_wait([&sc, wp](beast::error_code ec) {
          if (!ec) sc.tick(*wp);
        });
      });
    }
    nap(static_cast<double>(warm_end - std::min(warm_end, now_ns())) / 1e9);
    auto w0 = open_window(o);
    for (auto& d : done) d.wait();
    auto win = close_window(o, w0);
    // Drain: the messages still in flight land or time out (bounded).
    auto drain_start = now_ns();
    for (;;) {
      std::atomic<std::size_t> left{0};
      on_all(rt.workers, [&](worker& w) { left += sc.in_flight_of(w); });
      if (left == 0 || now_ns() - drain_start > sc.timeout_ns + 500'000'000 || stop_requested())
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    double drain_s = static_cast<double>(now_ns() - drain_start) / 1e9;
    std::atomic<std::uint64_t> sent_measured{0}, unsent{0};
    on_all(rt.workers, [&](worker& w) {
      sent_measured += sc.pacers[static_cast<std::size_t>(w.index)].sent_measured;
      unsent += sc.pacers[static_cast<std::size_t>(w.index)].unsent;
    });
    auto st = collect(rt.workers);
    // Broken: it did not carry the rate (a message lost, or under 99 % of
    // the measured ones delivered), or p99 passed the limit. The rates go
    // up: the next ones would only queue more.
    const double p99 = static_cast<double>(st.hist.quantile(0.99)) / 1e6;
    const bool broken = st.lost > 0 || st.delivered * 100 < sent_measured.load() * 99
                        || (o.p99_limit_ms > 0 && p99 > o.p99_limit_ms);
    json line{{"type", "paced"},
              {"pairs", n},
              {"offered", rate},
              {"sent", sent_measured.load()},
              {"unsent", unsent.load()},
              {"messages", st.delivered},
              {"rate", std::round(static_cast<double>(st.delivered) / o.duration_s * 10) / 10},
              {"drain_s", std::round(drain_s * 1000) / 1000},
              {"latency_ms", latency_json(st.hist)},
              {"lost", st.lost},
              {"stale", st.stale},
              {"errors", st.errors},
              {"reconnects", st.reconnects},
              {"closed", st.closed},
              {"broken", broken}};
    line.update(win);
    if (o.paced_timeline) {
      line["bucket_ms"] = o.bucket_ms;
      line["timeline"] = st.timeline;
      line["timeline_max_us"] = st.timeline_max_us;
    }
    emit_line(line.dump());
    if (broken && o.stop_when_broken) break;
    nap(0.5);
  }
  return 0;
}

int run_idle(runtime& rt) {
  const auto& o = rt.o;
  idle_scenario sc;
  halt_before_scenario_dies halt_first{rt};
  sc.max_failures = 5;
  rt.set_scenario(sc);
  int nodes = static_cast<int>(rt.targets.size());
  for (int i = 0; i < o.conns; ++i) {
    int id = o.id_offset + i;
    int room = o.rooms > 0 ? id % o.rooms : id;
    rt.add_client(id, i, id % nodes, i % o.threads, o.tag + "u" + std::to_string(id),
                  o.tag + "-i" + std::to_string(room));
  }
  rt.start_threads();
  auto t0 = now_ns();
  auto c = rt.connect_all(o.conns);
  emit_line(json{{"type", "connected"},
                 {"clients", c.ready},
                 {"failed", c.given_up},
                 {"pending", c.queued},
                 {"connect_failures", c.connect_failures},
                 {"seconds", std::round(static_cast<double>(now_ns() - t0) / 1e6) / 1e3},
                 {"loadgen_rss_kb", self_rss_kb()}}
              .dump());
  nap(o.hold_s);
  auto st = collect(rt.workers);
  c = connection_counts(rt.workers);
  emit_line(json{{"type", "held"}, {"clients", c.ready}, {"closed", st.closed}}.dump());
  return 0;
}

}  // namespace

int run(const options& o) {
  runtime rt(o);
  int rc = 1;
  if (o.scenario == "rtt")
    rc = run_rtt(rt);
  else if (o.scenario == "fanout")
    rc = run_fanout(rt);
  else if (o.scenario == "idle")
    rc = run_idle(rt);
  else if (o.scenario == "paced")
    rc = run_paced(rt);
  rt.halt();
  // Thousands of sockets: let the kernel close them; nothing else to flush.
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(rc);
}

}  // namespace loadgen
