// Type erasure of a behaviour: what the session actor (and replay) drive.
#pragma once

#include <exception>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "actors/behaviour.hpp"
#include "actors/timers.hpp"

namespace skein {

/// The kind of one session input.
/// publish: a server-side publish (on_publish); timer: a timer set with
/// ctx.after/at fired; tell: a message from another session (ctx.tell);
/// resume: a client came back into an activation where it was not open
/// (on_resume; journaled only for kinds that declare it).
enum class input_kind { open, message, close, publish, timer, tell, resume };

/// restore() of a state version this binary cannot read.
struct state_version_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Thrown by handle() for a publish to a kind without on_publish.
struct no_publish_handler : std::logic_error {
  using std::logic_error::logic_error;
};

/// One behaviour instance plus its state. Not thread-safe: owned by one
/// session actor.
class behaviour_instance {
 public:
  virtual ~behaviour_instance() = default;

  /// Replaces the state with the msgpack bytes of a checkpoint.
  /// Throws std::runtime_error (msgpack's errors) if they do not decode.
  virtual void restore(std::string_view state_bytes) = 0;

  /// The state as msgpack bytes.
  virtual std::string snapshot() const = 0;

  /// The names of the state's top-level fields in encoding order
  /// (state_type::field_names), empty if the state does not declare them.
  /// For tools that render the state (inspect, replay).
  virtual std::vector<std::string> field_names() const { return {}; }

  /// The kind's state_version (Behaviour::state_version, else 1).
  virtual int state_version() const = 0;

  /// restore() of bytes written with state version `version` (0: unversioned,
  /// i.e. 1). An older version goes through Behaviour::upgrade(bytes, version);
  /// throws state_version_error if the version is newer than this binary's
  /// or older without an upgrade, std::runtime_error if the bytes do not decode.
  virtual void restore(std::string_view state_bytes, int version) = 0;

  /// Pending timers and unacknowledged tells, checkpointed beside the state
  /// (actors/timers.hpp); apply_input keeps it.
  session_runtime runtime;

  /// Whether the kind declares on_resume (else no resume input is journaled).
  virtual bool has_on_resume() const { return false; }

  /// Runs one handler. `msg` is used for input_kind::message and publish,
  /// timer (the payload) and tell (the payload; `c.id` is "@" + the sender's
  /// kind/id). Whatever the handler throws propagates; the state is then the
  /// one before the call (rolled back).
  virtual void handle(input_kind kind, const client& c, const json& msg,
                      effects& fx, const std::string& session_id) = 0;
};

template <class Behaviour>
class behaviour_model final : public behaviour_instance {
 public:
  using state_type = typename Behaviour::state_type;

  void restore(std::string_view bytes) override {
    auto handle = msgpack::unpack(bytes.data(), bytes.size());
    state_type fresh{};
    handle.get().convert(fresh);
    state_ = std::move(fresh);
  }

  std::string snapshot() const override {
    msgpack::sbuffer buf;
    msgpack::pack(buf, state_);
    return std::string(buf.data(), buf.size());
  }

  std::vector<std::string> field_names() const override {
    if constexpr (requires { state_type::field_names; })
      return {std::begin(state_type::field_names), std::end(state_type::field_names)};
    else
      return {};
  }

  int state_version() const override {
    if constexpr (requires { Behaviour::state_version; }) return Behaviour::state_version;
    else return 1;
  }

  void restore(std::string_view bytes, int version) override {
    const int current = state_version();
    if (version <= 0) version = 1;
    if (version == current) return restore(bytes);
    if (version > current)
      throw state_version_error("state version " + std::to_string(version)
                                + " is newer than this binary's (" + std::to_string(current) + ")");
    if constexpr (requires { Behaviour::upgrade(bytes, version); }) {
      state_ = Behaviour::upgrade(bytes, version);
    } else {
      throw state_version_error("state version " + std::to_string(version) + " is older than "
                                + std::to_string(current) + " and the kind has no upgrade()");
    }
  }

  bool has_on_resume() const override {
    return requires(Behaviour& b, context<state_type>& ctx, const client& c) { b.on_resume(ctx, c); };
  }

  void handle(input_kind kind, const client& c, const json& msg, effects& fx,
              const std::string& session_id) override {
    // A handler that throws leaves the state as it was before the input: a
    // copy taken here is moved back while the exception propagates. A kind
    // that declares `static constexpr bool rollback = false;` promises that
    // its handlers change nothing before their last throw, and skips the
    // copy (actors/behaviour.hpp, docs/benchmarks.md "Cost of the handler
    // rollback copy").
    if constexpr (takes_copy()) {
      rollback guard{state_};
      dispatch(kind, c, msg, fx, session_id);
    } else {
      dispatch(kind, c, msg, fx, session_id);
    }
  }

  const state_type& state() const noexcept { return state_; }

 private:
  static constexpr bool takes_copy() {
    if constexpr (requires { Behaviour::rollback; }) return Behaviour::rollback;
    else return true;
  }

  void dispatch(input_kind kind, const client& c, const json& msg, effects& fx,
                const std::string& session_id) {
    context<state_type> ctx{state_, fx, session_id};
    switch (kind) {
      case input_kind::open:
        if constexpr (requires { behaviour_.on_open(ctx, c); }) behaviour_.on_open(ctx, c);
        break;
      case input_kind::message: behaviour_.on_message(ctx, c, msg); break;
      case input_kind::close:
        if constexpr (requires { behaviour_.on_close(ctx, c); }) behaviour_.on_close(ctx, c);
        break;
      case input_kind::publish:
        if constexpr (requires { behaviour_.on_publish(ctx, msg); }) {
          if constexpr (std::is_void_v<decltype(behaviour_.on_publish(ctx, msg))>)
            behaviour_.on_publish(ctx, msg);
          else
            ctx.reply(json(behaviour_.on_publish(ctx, msg)));
        } else {
          throw no_publish_handler("this kind has no on_publish handler");
        }
        break;
      case input_kind::timer:
        if constexpr (requires { behaviour_.on_timer(ctx, msg); }) behaviour_.on_timer(ctx, msg);
        break;
      case input_kind::tell:
        if constexpr (requires { behaviour_.on_tell(ctx, c.id, msg); })
          behaviour_.on_tell(ctx, c.id.substr(1), msg);
        break;
      case input_kind::resume:
        if constexpr (requires { behaviour_.on_resume(ctx, c); }) behaviour_.on_resume(ctx, c);
        break;
    }
  }

  struct rollback {
    state_type& live;
    state_type before = live;
    int unwinding = std::uncaught_exceptions();
    ~rollback() {
      if (std::uncaught_exceptions() > unwinding) live = std::move(before);
    }
  };

  Behaviour behaviour_{};
  state_type state_{};
};

template <class Behaviour>
std::unique_ptr<behaviour_instance> make_instance() {
  return std::make_unique<behaviour_model<Behaviour>>();
}

}  // namespace skein
