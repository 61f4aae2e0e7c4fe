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
// Field names: a state encoded with MSGPACK_DEFINE is a msgpack array, which
// `skein inspect` and `skein replay` print as a JSON array. A state that
// declares its members' names in MSGPACK_DEFINE order,
//   static constexpr std::array field_names{"bids", "winner", "amount"};
// is printed as a JSON object instead (MSGPACK_DEFINE_MAP states already are).
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
//   treated the same way. The runtime copies the state before each handler
//   and puts the copy back if the handler throws, so a handler that breaks
//   this rule still leaves the state as it was. A kind whose handlers keep
//   it (nothing changes the state before a handler's last possible throw)
//   may skip that copy, a cost that grows with the state's size:
//     static constexpr bool rollback = false;
// - Outputs (send/broadcast) are released to clients only after the input's
//   checkpoint is committed (output gate), in the order they were produced.
// - Timers and messages to other sessions (optional handlers, see
//   docs/user-guide.md): ctx.after(ms, payload) / ctx.at(time_ms, payload)
//   set a timer and return its id, ctx.cancel(id) cancels it; it fires once
//   as `void on_timer(context<S>&, const json& payload)`, also after a
//   migration, failover or restart (late if the session was down, never
//   twice). ctx.tell("kind/id", payload) delivers, exactly once, to that
//   session's `void on_tell(context<S>&, const std::string& from,
//   const json& payload)` (from = the sender's "kind/id"), wherever it
//   lives. Both take effect only if the input is applied: an input rejected
//   with bad_input sets no timer and sends no tell. A session with pending
//   timers may passivate; its directory activates it when the first is due.
// - Presence (optional): `void on_resume(context<S>&, const client&)` runs
//   when a client resumes into an activation in which it is not open (at the
//   new owner after a failover or handoff, or after its connection went
//   away); a resume into the activation it is open in runs nothing. After a
//   failover, open clients that do not resume within the kind option
//   `resume_grace_ms` (default 10000) get on_close. on_open, on_resume and
//   on_close are journaled inputs like the others (<skein/presence.hpp>
//   keeps a presence set from them; docs/user-guide.md, "Presence").
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
  /// Timers and tells (actors/timers.hpp keeps the pending ones): ids come
  /// from next_id, which the runtime sets before the handler runs.
  struct timer_set {
    std::uint64_t id = 0;
    std::int64_t due_ms = 0;  // ms since the Unix epoch
    json payload;
  };
  struct tell_sent {
    std::uint64_t id = 0;
    std::string target;  // "kind/id"
    json payload;
  };
  std::uint64_t next_id = 1;
  std::vector<timer_set> timers;       // set by this call, in order
  std::vector<std::uint64_t> cancels;  // ids of timers set by earlier inputs
  std::vector<tell_sent> tells;        // in order
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

  /// Sets a timer `delay_ms` (>= 0) after now(); returns its id (> 0, unique
  /// within the session). It fires once as on_timer(ctx, payload).
  std::uint64_t after(std::int64_t delay_ms, json payload = json::object()) {
    return at(now() + (delay_ms > 0 ? delay_ms : 0), std::move(payload));
  }

  /// Sets a timer due at `time_ms` (ms since the Unix epoch; a time in the
  /// past fires at once); returns its id.
  std::uint64_t at(std::int64_t time_ms, json payload = json::object()) {
    const auto id = fx_.next_id++;
    fx_.timers.push_back({id, time_ms, std::move(payload)});
    return id;
  }

  /// Cancels a pending timer; an unknown or fired id is ignored.
  void cancel(std::uint64_t timer_id) {
    for (auto i = fx_.timers.begin(); i != fx_.timers.end(); ++i)
      if (i->id == timer_id) {
        fx_.timers.erase(i);
        return;
      }
    fx_.cancels.push_back(timer_id);
  }

  /// Sends `payload` to the session `target` ("kind/id"): it runs that
  /// session's on_tell(ctx, "<this kind/id>", payload) once, after this
  /// input is durable. Tells from one session to another arrive in order.
  /// Throws std::invalid_argument if `target` has no '/'.
  void tell(const std::string& target, json payload) {
    const auto slash = target.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == target.size())
      throw std::invalid_argument("tell target '" + target + "' is not kind/id");
    fx_.tells.push_back({fx_.next_id++, target, std::move(payload)});
  }

 private:
  State& state_;
  effects& fx_;
  const std::string& session_id_;
};

}  // namespace skein
