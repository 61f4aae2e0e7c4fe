// skein behaviour API: what users write a session kind against.
//
// A behaviour is a plain struct with handlers and a msgpack-serialisable
// state type; the runtime runs one instance per session (`kind/id`) inside a
// CAF actor, so handlers of one session never run concurrently and need no
// locks. Example (see examples/counter):
//
//   struct counter_state { std::int64_t value = 0; MSGPACK_DEFINE(value); };
//   struct counter {
//     using state_type = counter_state;
//     void on_open(skein::context<counter_state>& ctx, const skein::client& c);
//     void on_message(skein::context<counter_state>& ctx, const skein::client& c,
//                     const skein::json& msg);
//     void on_close(skein::context<counter_state>& ctx, const skein::client& c);
//   };
//   registry.add<counter>("counter");
//
// Only on_message is required; every other handler (on_open, on_close, ...)
// is optional: a kind that does not declare it ignores that input.
// Optional: `R on_publish(context<S>& ctx, const json& body)` receives a
// server-side publish (POST /api/sessions/{kind}/{id}/messages); R is void
// (answer with ctx.reply(json)) or anything convertible to json (the result).
// A kind without on_publish refuses publishes (HTTP 409).
//
// State versions: a kind whose state struct changed declares
//   static constexpr int state_version = 2;   // unversioned states are 1
//   static state_type upgrade(std::string_view old_bytes, int from_version);
// (old_bytes: the msgpack bytes of a snapshot written with from_version);
// snapshots record the version, and restoring an older one calls upgrade().
//
// Contract:
// - State must be default-constructible and msgpack-serialisable
//   (MSGPACK_DEFINE). It is checkpointed after every handled input and
//   restored from the newest checkpoint when the session is activated, on
//   whichever node owns it.
// - Handlers must be deterministic given state and input: read the time only
//   through ctx.now() and randomness only through ctx.random().
// - To reject an input, throw skein::bad_input("why") BEFORE mutating state;
//   the sender gets {"type":"error","message":"why"} and the session goes on.
//   A nlohmann::json exception (e.g. msg.at("text") on a missing field) is
//   treated the same way.
// - Outputs (send/broadcast) are released to clients only after the input's
//   checkpoint is committed (output gate), in the order they were produced.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace skein {

using json = nlohmann::json;

/// One client of a session: one transport stream (a WebSocket today).
struct client {
  /// Unique per connection; opaque text.
  std::string id;
  /// Query parameters of the URL that opened the connection, percent-decoded.
  std::map<std::string, std::string> params;

  /// The parameter `name`, or `fallback` when absent.
  std::string param(const std::string& name, std::string fallback = {}) const {
    auto i = params.find(name);
    return i == params.end() ? std::move(fallback) : i->second;
  }
};

/// Thrown by a handler to reject one input with a message for its sender.
struct bad_input : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One outbound event produced by a handler.
struct output {
  /// Empty: every client of the session; otherwise one client id.
  std::string target;
  json data;
};

/// What one handler call produced and consumed; filled by context<State>.
/// Not thread-safe; one per handler call.
struct effects {
  std::int64_t now_ms = 0;            // the input's time, ms since Unix epoch
  std::vector<std::uint64_t> random;  // values handed out by ctx.random(), in order
  std::vector<output> outputs;        // in production order
  std::uint64_t random_state = 0;     // seed of the splitmix64 stream behind random()
  /// Replay: when set, random() hands out these recorded values instead of
  /// drawing, and throws replay_divergence when they run out.
  const std::vector<std::uint64_t>* recorded_random = nullptr;
  /// on_publish: the result for the publisher (ctx.reply); null if none.
  json reply;
};

/// Thrown during replay when a behaviour asks for more random values than
/// the journal recorded (it is not deterministic).
struct replay_divergence : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The handle a handler gets: the session's state and its ways to answer.
template <class State>
class context {
 public:
  context(State& st, effects& fx, const std::string& session_id)
    : state_(st), fx_(fx), session_id_(session_id) {}

  /// The session's state; mutate it freely (after validating the input).
  State& state() noexcept { return state_; }

  /// The `id` part of the session key `kind/id`.
  const std::string& session_id() const noexcept { return session_id_; }

  /// Queue `data` for one client (released after the checkpoint commits).
  void send(const client& c, json data) { send(c.id, std::move(data)); }
  void send(const std::string& client_id, json data) {
    fx_.outputs.push_back({client_id, std::move(data)});
  }

  /// Queue `data` for every client of the session, on every node.
  void broadcast(json data) { fx_.outputs.push_back({std::string{}, std::move(data)}); }

  /// on_publish only: the result the publisher gets (HTTP 200 {"result":data});
  /// the last call wins. Returning a value from on_publish does the same.
  void reply(json data) { fx_.reply = std::move(data); }

  /// The time of the current input in ms since the Unix epoch. The same
  /// value for every call within one handler invocation.
  std::int64_t now() const noexcept { return fx_.now_ms; }

  /// A uniformly distributed 64-bit value (splitmix64, Steele et al. 2014,
  /// seeded by the runtime per input). Recorded so that replay reproduces it.
  std::uint64_t random() {
    if (fx_.recorded_random) {
      if (fx_.random.size() >= fx_.recorded_random->size())
        throw replay_divergence("behaviour drew more random values than the journal recorded");
      fx_.random.push_back((*fx_.recorded_random)[fx_.random.size()]);
      return fx_.random.back();
    }
    std::uint64_t z = (fx_.random_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    fx_.random.push_back(z);
    return z;
  }

 private:
  State& state_;
  effects& fx_;
  const std::string& session_id_;
};

}  // namespace skein
