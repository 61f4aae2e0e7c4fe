// Type erasure of a behaviour: what the session actor (and replay) drive.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "actors/behaviour.hpp"
#include "actors/timers.hpp"

namespace skein {

/// The kind of one session input.
/// timer: a timer set with ctx.after/at fired; tell: a message from another
/// session (ctx.tell).
enum class input_kind { open, message, close, timer, tell };

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

  /// Pending timers and unacknowledged tells, checkpointed beside the state
  /// (actors/timers.hpp); apply_input keeps it.
  session_runtime runtime;

  /// Runs one handler. `msg` is used for input_kind::message, timer (the
  /// payload) and tell (the payload; `c.id` is "@" + the sender's kind/id).
  /// Throws bad_input or nlohmann::json::exception to reject the input.
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

  void handle(input_kind kind, const client& c, const json& msg, effects& fx,
              const std::string& session_id) override {
    context<state_type> ctx{state_, fx, session_id};
    switch (kind) {
      case input_kind::open: behaviour_.on_open(ctx, c); break;
      case input_kind::message: behaviour_.on_message(ctx, c, msg); break;
      case input_kind::close: behaviour_.on_close(ctx, c); break;
      case input_kind::timer:
        if constexpr (requires { behaviour_.on_timer(ctx, msg); }) behaviour_.on_timer(ctx, msg);
        break;
      case input_kind::tell:
        if constexpr (requires { behaviour_.on_tell(ctx, c.id, msg); })
          behaviour_.on_tell(ctx, c.id.substr(1), msg);
        break;
    }
  }

  const state_type& state() const noexcept { return state_; }

 private:
  Behaviour behaviour_{};
  state_type state_{};
};

template <class Behaviour>
std::unique_ptr<behaviour_instance> make_instance() {
  return std::make_unique<behaviour_model<Behaviour>>();
}

}  // namespace skein
