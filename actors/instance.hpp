// Type erasure of a behaviour: what the session actor (and replay) drive.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "actors/behaviour.hpp"

namespace skein {

/// The kind of one session input.
enum class input_kind { open, message, close };

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

  /// Runs one handler. `msg` is used for input_kind::message only.
  /// Whatever the handler throws propagates; the state is then the one
  /// before the call (rolled back).
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
    // A handler that throws leaves the state as it was before the input: a
    // copy taken here is moved back while the exception propagates.
    rollback guard{state_};
    context<state_type> ctx{state_, fx, session_id};
    switch (kind) {
      case input_kind::open:
        if constexpr (requires { behaviour_.on_open(ctx, c); }) behaviour_.on_open(ctx, c);
        break;
      case input_kind::message: behaviour_.on_message(ctx, c, msg); break;
      case input_kind::close:
        if constexpr (requires { behaviour_.on_close(ctx, c); }) behaviour_.on_close(ctx, c);
        break;
    }
  }

  const state_type& state() const noexcept { return state_; }

 private:
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
