// skein-bench-ceiling: the ceiling of skein's benchmark suite (system
// `ceiling` of bench/lib/run.mjs, issue 15). The smallest single-process
// Boost.Beast WebSocket broadcast server that speaks the chat protocol of
// skein's demo (examples/chat, docs/protocol.md) as far as
// `skein-loadgen --proto skein` and a chat client use it: no actors, no
// persistence, no cluster; rooms live in memory while they have clients; one
// io_context on one thread. The report gives skein's rtt peak and fanout as a
// fraction of it: how close the runtime comes to what Beast alone does on
// this machine.
//
//   skein-bench-ceiling [--host 127.0.0.1] [--port 0]
//
// Listens (port 0: the kernel picks a free one), then prints
// `node ceiling http://HOST:PORT` and `ready` on stdout, like
// `skein-demo launch`; SIGINT/SIGTERM stop it (exit 0).
//
//   GET /ws/chat/{room}?user=U  WebSocket; every event is {"seq":N,"data":{...}}, N per room
//     on open   {"seq":0,"data":{"type":"welcome","client":ID,"node":"ceiling","resume_token":T}},
//               then {"type":"history","messages":[{"user","text"},...]} (the last 50)
//     resume    ?client=ID&last_seq=N&resume_token=T: nothing is kept to replay (and T is
//               not checked), so the welcome (same ID and T),
//               {"type":"reset"} and the history, as skein answers a seq its outbox dropped
//     say       {"type":"say","text":T} (T at most 4096 bytes) -> every client of the room,
//               sender included: {"type":"said","user":U,"text":T}
//     envelope  {"id":K,"data":X} -> {"ack":K} (or {"ack":K,"error":...}) before the events
//     bad input {"type":"error","code":"bad_json"|"bad_input","message":...}
//   GET /healthz                {"status":"ok","node":"ceiling","clients":C,"rooms":R}
//   anything else               404 {"error":"no such route"}
// A client with more than 8192 frames queued (it reads too slowly) is
// disconnected (skein closes it with 1008).
#include <sys/random.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using frame_ptr = std::shared_ptr<const std::string>;

constexpr std::size_t history_size = 50;    // examples/chat: chat::history_size
constexpr std::size_t max_text = 4096;      // chat::max_text
constexpr std::size_t max_queued = 8192;    // skein's server_options::max_queued_frames
constexpr std::uint64_t max_message_id = (std::uint64_t{1} << 53) - 1;

class ws_session;

struct room {
  std::vector<ws_session*> members;
  std::deque<std::pair<std::string, std::string>> history;  // user, text; oldest first
  std::uint64_t seq = 0;
};

std::unordered_map<std::string, room> rooms;  // only touched by the one io thread
std::size_t clients = 0;

std::string random_hex() {  // 128 bits, 32 hex digits (skein: getrandom too)
  unsigned char b[16];
  if (::getrandom(b, sizeof b, 0) != sizeof b) throw std::runtime_error("getrandom failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto hexval = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      };
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

/// The value of query parameter `key` in "a=1&b=2", percent-decoded.
std::string query_param(std::string_view query, std::string_view key, std::string fallback) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    auto eq = part.find('=');
    if (part.substr(0, eq) == key) return eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return fallback;
}

/// {"seq":N,"data":DATA} with DATA already JSON.
frame_ptr event(std::uint64_t seq, std::string_view data) {
  auto s = std::make_shared<std::string>();
  s->reserve(data.size() + 28);
  s->append("{\"seq\":").append(std::to_string(seq)).append(",\"data\":").append(data).append("}");
  return s;
}

class ws_session : public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(beast::tcp_stream&& stream, std::string room_name, std::string user, std::string resume_client,
             std::string resume_token)
    : ws_(std::move(stream)), room_name_(std::move(room_name)), user_(std::move(user)),
      client_(std::move(resume_client)), token_(std::move(resume_token)) {}

  ~ws_session() { leave(); }

  void run(http::request<http::string_body> req) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(1 << 20);  // skein's --max-frame default
    ws_.text(true);
    ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
  }

  void send(frame_ptr f) {
    if (closed_) return;
    if (out_.size() >= max_queued) return drop();
    out_.push_back(std::move(f));
    if (!writing_) do_write();
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return;
    room_ = &rooms[room_name_];
    index_ = room_->members.size();
    room_->members.push_back(this);
    ++clients;
    bool resume = !client_.empty();
    if (!resume) client_ = random_hex();
    if (!resume || token_.empty()) token_ = random_hex();
    json welcome{{"type", "welcome"}, {"client", client_}, {"node", "ceiling"}, {"resume_token", token_}};
    send(event(0, welcome.dump()));
    if (resume) send(event(++room_->seq, R"({"type":"reset"})"));
    json messages = json::array();
    for (auto& [u, t] : room_->history) messages.push_back({{"user", u}, {"text", t}});
    send(event(++room_->seq, json{{"type", "history"}, {"messages", std::move(messages)}}.dump()));
    do_read();
  }

  void do_read() {
    ws_.async_read(buf_, beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec || closed_) return leave();
    auto d = buf_.cdata();
    handle(std::string_view(static_cast<const char*>(d.data()), d.size()));
    buf_.consume(buf_.size());
    if (!closed_) do_read();
  }

  void error(std::string_view code, std::string_view message) {
    send(event(++room_->seq, json{{"type", "error"}, {"code", code}, {"message", message}}.dump()));
  }

  void handle(std::string_view frame) {
    auto j = json::parse(frame, nullptr, false);
    if (j.is_discarded()) return error("bad_json", "malformed JSON");
    std::uint64_t id = 0;
    const json* msg = &j;
    if (j.is_object() && j.size() == 2 && j.contains("id") && j.contains("data")) {
      const auto& v = j["id"];
      if (v.is_number_unsigned()) id = v.get<std::uint64_t>();
      else if (v.is_number_integer() && v.get<std::int64_t>() > 0) id = static_cast<std::uint64_t>(v.get<std::int64_t>());
      if (id == 0 || id > max_message_id)
        return send(event(0, R"({"type":"error","message":"message id must be an integer from 1 to 2^53-1"})"));
      msg = &j["data"];
    }
    // examples/chat's checks and words (no exceptions here: parse and find only).
    const char* bad = nullptr;
    const json* text = nullptr;
    auto type = msg->is_object() ? msg->find("type") : msg->end();
    if (!msg->is_object() || type == msg->end() || !type->is_string() || *type != "say") {
      bad = "unknown message: expected {\"type\":\"say\",\"text\":...}";
    } else if (auto it = msg->find("text"); it == msg->end() || !it->is_string()) {
      bad = "text must be a string";
    } else {
      text = &*it;
      if (text->get_ref<const std::string&>().size() > max_text) bad = "text longer than 4096 bytes";
    }
    if (bad) {
      if (id) send(std::make_shared<const std::string>(json{{"ack", id}, {"error", std::string("bad_input: ") + bad}}.dump()));
      return error("bad_input", bad);
    }
    if (id) send(std::make_shared<const std::string>("{\"ack\":" + std::to_string(id) + "}"));
    const auto& t = text->get_ref<const std::string&>();
    // One frame, shared by every member's queue.
    std::string data = R"({"type":"said","user":)" + json(user_).dump() + R"(,"text":)" + json(t).dump() + "}";
    auto f = event(++room_->seq, data);
    room_->history.emplace_back(user_, t);
    while (room_->history.size() > history_size) room_->history.pop_front();
    for (auto* m : room_->members) m->send(f);
  }

  void do_write() {
    writing_ = true;
    ws_.async_write(asio::buffer(*out_.front()), beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return leave();
    out_.pop_front();
    if (!out_.empty() && !closed_) do_write();
  }

  // Too slow a reader: stop queueing and end the connection (the pending
  // read fails and leaves the room; never while a broadcast iterates it).
  void drop() {
    closed_ = true;
    out_.erase(out_.begin() + (writing_ ? 1 : 0), out_.end());  // the front may be being written
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
  }

  void leave() {
    closed_ = true;
    if (!room_) return;
    auto& members = room_->members;
    members[index_] = members.back();
    members[index_]->index_ = index_;
    members.pop_back();
    if (members.empty()) rooms.erase(room_name_);
    room_ = nullptr;
    --clients;
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buf_;
  std::string room_name_, user_, client_, token_;
  room* room_ = nullptr;  // set while a member
  std::size_t index_ = 0;  // in room_->members
  std::deque<frame_ptr> out_;
  bool writing_ = false;
  bool closed_ = false;
};

/// One HTTP request: a WebSocket upgrade to /ws/chat/{room}, /healthz, or 404.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  explicit http_session(tcp::socket&& s) : stream_(std::move(s)) {}

  void run() {
    parser_.header_limit(16 * 1024);
    parser_.body_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(15));
    http::async_read(stream_, buf_, parser_, beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

 private:
  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return;
    auto req = parser_.release();
    std::string_view target(req.target().data(), req.target().size());
    auto q = target.find('?');
    auto path = target.substr(0, q);
    auto query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    constexpr std::string_view prefix = "/ws/chat/";
    if (websocket::is_upgrade(req) && path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix) {
      stream_.expires_never();
      std::make_shared<ws_session>(std::move(stream_), percent_decode(path.substr(prefix.size())),
                                   query_param(query, "user", "anonymous"), query_param(query, "client", ""),
                                   query_param(query, "resume_token", ""))
        ->run(std::move(req));
      return;
    }
    auto res = std::make_shared<http::response<http::string_body>>(http::status::not_found, req.version());
    res->set(http::field::content_type, "application/json");
    res->keep_alive(false);
    if (path == "/healthz") {
      res->result(http::status::ok);
      res->body() = json{{"status", "ok"}, {"node", "ceiling"}, {"clients", clients}, {"rooms", rooms.size()}}.dump();
    } else {
      res->body() = R"({"error":"no such route"})";
    }
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request_parser<http::string_body> parser_;
};

void accept(tcp::acceptor& acceptor, asio::steady_timer& backoff) {
  acceptor.async_accept([&](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {  // e.g. out of file descriptors: try again shortly
      backoff.expires_after(std::chrono::milliseconds(50));
      backoff.async_wait([&](beast::error_code e) {
        if (!e) accept(acceptor, backoff);
      });
      return;
    }
    beast::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    std::make_shared<http_session>(std::move(s))->run();
    accept(acceptor, backoff);
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skein-bench-ceiling: a one-thread Beast chat broadcast server, the benchmark's ceiling"};
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  app.add_option("--host", host, "address to listen on");
  app.add_option("--port", port, "port (0: any free port, printed)");
  CLI11_PARSE(app, argc, argv);

  asio::io_context ioc{1};
  tcp::acceptor acceptor(ioc);
  tcp::endpoint ep(asio::ip::make_address(host), port);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(asio::socket_base::max_listen_connections);
  asio::steady_timer backoff(ioc);
  accept(acceptor, backoff);

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
  std::signal(SIGPIPE, SIG_IGN);

  auto bound = acceptor.local_endpoint();
  std::cout << "node ceiling http://" << bound.address().to_string() << ":" << bound.port() << "\n"
            << "ready" << std::endl;
  ioc.run();
  // Thousands of sockets: let the kernel close them (nothing to flush).
  std::fflush(stdout);
  std::_Exit(0);
}
