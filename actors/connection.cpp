// The connection actor (actors/connection.hpp): one client stream, its session and its unacknowledged inputs.
#include "actors/connection.hpp"
#include "actors/metrics.hpp"
#include "actors/rate_limit.hpp"

#include <charconv>
#include <random>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/envelope.hpp"
#include "actors/errors.hpp"
#include "actors/lane_barrier.hpp"
#include "actors/stray_errors.hpp"

namespace skein {

namespace {

using clock = std::chrono::steady_clock;

/// An input sent to the session and not acknowledged yet: re-sent to every
/// activation the connection attaches to until its ack comes.
struct unacked_input {
  std::uint64_t cseq = 0, id = 0;
  std::string text;
};

/// The unacknowledged inputs in cseq order: a vector read from `head_`, so
/// that an idle connection keeps 32 bytes and no heap (a deque keeps 80
/// bytes and a block). Acknowledged inputs leave from the front; the vector
/// is compacted once they are half of it and freed when none are left.
class input_queue {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  unacked_input& front() { return items_[head_]; }
  unacked_input& back() { return items_.back(); }
  void push_back(unacked_input in) { items_.push_back(std::move(in)); }
  void pop_front() {
    items_[head_++].text = std::string{};
    if (empty()) {
      items_ = std::vector<unacked_input>{};
      head_ = 0;
    } else if (head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  auto begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() { return items_.end(); }

 private:
  std::vector<unacked_input> items_;
  std::size_t head_ = 0;
};

struct connection_state {
  static inline const char* name = "skein.connection";
  connection_init init;
  caf::actor session;                 // the attached activation
  std::uint64_t token = 0;            // this connection's id in the session's delivery table
  input_queue unacked;                // sent (or to send) and not acknowledged, by cseq
  std::uint64_t next_cseq = 1;
  std::uint64_t last_seq = 0;         // highest event seq handed to the transport
  std::uint64_t acked_at_check = 0;   // cseq of the oldest unacked input at the last check
  bool attached_once = false;
  bool resolving = false;
  bool checking = false;              // a check timer is armed
  clock::time_point detached_since = clock::now();
  token_bucket rate{1000, 1000};      // replaced from init when spawned
  // Hibernation (actors/session_hibernate.cpp): the activation stopped with
  // this client kept by its directory; nothing is attached until the client
  // sends or leaves, the directory wakes it, or the directory goes down.
  bool dormant = false;
  caf::actor dormant_host;            // monitored while dormant
  bool leaving = false;               // the stream closed while detached: leave once attached
};

using connection_actor = caf::stateful_actor<connection_state>;

void resolve(connection_actor* self);

std::uint64_t random_token() {
  static thread_local std::random_device rd;  // the OS's source (getrandom)
  std::uint64_t t = 0;
  while (t == 0) t = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return t;
}

/// Sends m to the session: through the node's lane when the session is on
/// another node, so that inputs of many connections cross the cluster in one
/// message (runtime/lane.hpp). Every message to the session takes this path,
/// so a join, the inputs and a leave keep their order.
bool via_lane(connection_actor* self) {
  const auto& st = self->state;
  return st.init.lane && st.session && st.session.node() != self->node();
}

void to_session(connection_actor* self, caf::message m) {
  auto& st = self->state;
  if (via_lane(self))
    self->send(st.init.lane, bundle_atom::value, st.session, std::move(m));
  else
    self->send(st.session, std::move(m));
}

/// Quits once the lane has sent on what this connection gave it: the session
/// then hears of this actor's end (its down message goes directly) after the
/// inputs and the leave that went through the lane, not before them.
void quit_after_lane(connection_actor* self) {
  if (!via_lane(self)) return self->quit();
  quit_after_flush(self, self->state.init.lane);
}

void send_input(connection_actor* self, const unacked_input& in) {
  auto& st = self->state;
  to_session(self, caf::make_message(message_atom::value, st.init.client_id, st.token, in.cseq,
                                     in.id, in.text, caf::actor_cast<caf::actor>(self)));
}

/// While inputs wait for acks, check now and then that the activation they
/// went to is still the session's (a partition or a lost down message leaves
/// no other trace); if another one serves it now, re-attach there.
void arm_check(connection_actor* self) {
  auto& st = self->state;
  if (st.checking || st.unacked.empty()) return;
  st.checking = true;
  st.acked_at_check = st.unacked.front().cseq;
  self->delayed_send(self, st.init.ack_check_interval, check_atom::value);
}

void attach(connection_actor* self, caf::actor session) {
  auto& st = self->state;
  if (st.session) self->demonitor(st.session);
  st.session = std::move(session);
  self->monitor(st.session);
  const bool resume = st.attached_once || st.init.resume;
  st.attached_once = true;
  auto me = caf::actor_cast<caf::actor>(self);
  const auto next_unacked = st.unacked.empty() ? st.next_cseq : st.unacked.front().cseq;
  to_session(self, caf::make_message(join_atom::value, st.init.client_id, st.init.params_json, me,
                                     st.last_seq, resume, st.token, next_unacked,
                                     st.init.resume_token));
  // Everything not acknowledged goes (again) to this activation: it applies
  // what it has not seen and acknowledges the rest (actors/delivery.hpp).
  for (auto& in : st.unacked) send_input(self, in);
  if (st.leaving) {
    // The stream closed while this connection was dormant or resolving:
    // the session runs on_close now, after the inputs above.
    to_session(self, caf::make_message(leave_atom::value, st.init.client_id, st.token,
                                       st.next_cseq, me));
    quit_after_lane(self);
    return;
  }
  arm_check(self);
}

/// Leaves dormancy and resolves the session (which activates it).
void wake(connection_actor* self) {
  auto& st = self->state;
  if (!st.dormant) return;
  st.dormant = false;
  if (st.dormant_host) self->demonitor(st.dormant_host);
  st.dormant_host = nullptr;
  st.detached_since = clock::now();
  resolve(self);
}

void detach_and_retry(connection_actor* self, const std::string& why) {
  auto& st = self->state;
  if (st.session) self->demonitor(st.session);
  st.session = nullptr;
  if (st.leaving) {  // its stream is gone: nobody waits for the session
    self->quit();
    return;
  }
  if (clock::now() - st.detached_since > st.init.reattach_timeout) {
    st.init.out->close(1012, "session unavailable (" + why + "); reconnect to resume");
    self->quit();
    return;
  }
  self->delayed_send(self, std::chrono::milliseconds(200), retry_atom::value);
}

void resolve(connection_actor* self) {
  auto& st = self->state;
  if (st.resolving) return;
  st.resolving = true;
  self->request(st.init.host, st.init.resolve_timeout, resolve_atom::value, st.init.session_key,
                std::uint64_t{0}, st.init.existing_only)
    .then(
      [self](caf::actor session) {
        self->state.resolving = false;
        attach(self, std::move(session));
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.resolving = false;
        auto why = self->system().render(err);
        if (is(err, skein_error::no_session)) {
          st.init.out->close(4404, "session not found");
          self->quit(err);
          return;
        }
        if (is(err, skein_error::overloaded)) {
          st.init.out->close(1013, "try again later: " + why);
          self->quit(err);
          return;
        }
        if (is(err, skein_error::unrecoverable) || is(err, skein_error::unknown_kind)
            || is(err, skein_error::malformed_key)) {
          spdlog::warn("connection {}: {}: {}", st.init.client_id, st.init.session_key, why);
          st.init.out->close(1011, "session unavailable: " + why);
          self->quit(err);
          return;
        }
        spdlog::debug("connection {}: resolving {} failed ({}); retrying", st.init.client_id,
                      st.init.session_key, why);
        detach_and_retry(self, why);
      });
}

/// The activation failed (its handler threw, its store failed, its records
/// cannot be recovered): the client is told (1012) rather than moved, since
/// re-sending the same inputs may fail the next activation the same way. A
/// fenced activation is not a failure: a newer one serves the session and
/// takes the re-sent inputs (each applied once).
bool activation_failed(const caf::error& reason) {
  return is(reason, skein_error::handler_failed) || is(reason, skein_error::store_failure)
         || is(reason, skein_error::unrecoverable);
}

std::uint64_t seq_of(const std::string& frame) {
  // Frames start with {"seq":N
  constexpr std::string_view prefix = "{\"seq\":";
  std::uint64_t seq = 0;
  if (frame.compare(0, prefix.size(), prefix) == 0)
    std::from_chars(frame.data() + prefix.size(), frame.data() + frame.size(), seq);
  return seq;
}

caf::behavior connection_fun(connection_actor* self, connection_init init) {
  auto& st = self->state;
  st.init = std::move(init);
  st.rate = token_bucket{st.init.max_message_rate, st.init.message_burst};
  st.last_seq = st.init.last_seq;
  if (st.init.welcome)
    st.init.out->deliver(nlohmann::json{{"seq", 0},
                                      {"data", {{"type", "welcome"},
                                                {"client", st.init.client_id},
                                                {"node", st.init.node_name},
                                                {"resume_token", st.init.resume_token}}}}
                         .dump());
  st.token = random_token();
  static stray_error_log stray{"connection"};
  log_stray_errors(self, stray);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.dormant && st.dormant_host && dm.source == st.dormant_host.address()) {
      // The directory that kept this client hibernated is gone (its node
      // died or stopped): the session activates on its next owner.
      st.dormant_host = nullptr;
      wake(self);
      return;
    }
    if (!st.session || dm.source != st.session.address()) return;
    if (activation_failed(dm.reason)) {
      st.init.out->close(1012, is(dm.reason, skein_error::store_failure)
                                 ? "store failure on this node (writes refused); reconnect with "
                                   "client and last_seq to resume"
                                 : "session restarting; reconnect with client and last_seq to "
                                   "resume");
      self->quit();
      return;
    }
    // Its node died or lost its lease: find the next activation and send it
    // every input not acknowledged yet; the client sees only latency.
    spdlog::debug("connection {}: activation of {} down ({}); re-resolving", st.init.client_id,
                  st.init.session_key, self->system().render(dm.reason));
    st.session = nullptr;
    st.detached_since = clock::now();
    resolve(self);
  });
  resolve(self);
  return {
    [self](message_atom, std::string& raw) {
      auto& st = self->state;
      auto in = parse_client_input(std::move(raw));
      if (!in.error.empty()) {
        st.init.out->deliver(nlohmann::json{{"seq", 0},
                                            {"data", {{"type", "error"}, {"message", in.error}}}}
                               .dump());
        return;
      }
      if (!st.rate.take()) {
        st.init.out->deliver(
          nlohmann::json{{"seq", 0},
                         {"data", {{"type", "error"}, {"code", "rate_limited"},
                                   {"message", "more than " + std::to_string(static_cast<long>(
                                                 st.init.max_message_rate))
                                                 + " messages per second"}}}}
            .dump());
        st.init.out->close(1008, "message rate limit exceeded");
        metrics().rate_limited.fetch_add(1, std::memory_order_relaxed);
        quit_after_lane(self);
        return;
      }
      if (st.unacked.size() >= st.init.max_unacked) {
        st.init.out->close(1008, "too many unacknowledged messages");
        quit_after_lane(self);
        return;
      }
      st.unacked.push_back({st.next_cseq++, in.id, std::move(in.text)});
      if (!st.session) {  // sent once attached
        wake(self);
        return;
      }
      send_input(self, st.unacked.back());
      arm_check(self);
    },
    [self](ack_atom, std::uint64_t cseq, std::uint64_t id, std::string& error) {
      auto& st = self->state;
      // Acks come in cseq order; a repeated one (the input was sent twice
      // around a move) finds nothing left to pop.
      while (!st.unacked.empty() && st.unacked.front().cseq <= cseq) {
        const bool exact = st.unacked.front().cseq == cseq;
        st.unacked.pop_front();
        if (exact && id != 0) st.init.out->deliver(ack_frame(id, error));
      }
    },
    [self](check_atom) {
      auto& st = self->state;
      st.checking = false;
      if (st.unacked.empty()) return;
      if (st.session && st.unacked.front().cseq == st.acked_at_check && !st.resolving) {
        // No progress for a whole interval: is this still the activation?
        st.resolving = true;
        self->request(st.init.host, st.init.resolve_timeout, resolve_atom::value,
                      st.init.session_key, std::uint64_t{0}, st.init.existing_only)
          .then(
            [self](caf::actor session) {
              auto& st = self->state;
              st.resolving = false;
              if (session != st.session) {
                spdlog::info("connection {}: {} is served by another activation now; re-attaching",
                             st.init.client_id, st.init.session_key);
                attach(self, std::move(session));
              }
            },
            [self](caf::error& err) {
              auto& st = self->state;
              st.resolving = false;
              // The activation went down meanwhile (its resolve found this
              // one in flight): keep trying.
              if (!st.session) detach_and_retry(self, self->system().render(err));
            });
      } else if (!st.session && !st.resolving) {
        resolve(self);
      }
      arm_check(self);
    },
    [self](leave_atom) {
      auto& st = self->state;
      if (!st.session && (st.dormant || st.resolving)) {
        // Detached: the session hears of the leave (on_close) once attached.
        st.leaving = true;
        wake(self);
        return;
      }
      if (st.session)
        to_session(self, caf::make_message(leave_atom::value, st.init.client_id, st.token,
                                           st.next_cseq, caf::actor_cast<caf::actor>(self)));
      quit_after_lane(self);
    },
    [self](frame_atom, std::string& frame) {
      auto& st = self->state;
      // Only the activation this connection joined speaks to it: a frame
      // still on its way from one it left (a failover, a partition) could
      // raise last_seq past frames the new activation is about to send for
      // the join's last_seq, which would then be dropped as delivered. What
      // the old one sent after the join, the new one sends too (or a reset).
      const auto& from = self->current_sender();
      if (!st.session || !from || from->address() != st.session.address()) return;
      auto seq = seq_of(frame);
      if (seq != 0 && seq <= st.last_seq) return;  // already delivered (resume overlap)
      if (seq > st.last_seq) st.last_seq = seq;
      st.init.out->deliver(std::move(frame));
    },
    [self](moved_atom, caf::actor& successor) {
      auto& st = self->state;
      if (successor == st.session) return;
      attach(self, std::move(successor));
    },
    [self](retry_atom) { resolve(self); },
    [self](hibernate_atom, caf::actor& host) {
      auto& st = self->state;
      const auto& from = self->current_sender();
      if (!st.session || !from || from->address() != st.session.address()) return;
      self->demonitor(st.session);
      st.session = nullptr;
      st.detached_since = clock::now();
      if (!st.unacked.empty()) {
        // Inputs crossed the hibernation (the session stopped before they
        // arrived): they go to the next activation at once.
        resolve(self);
        return;
      }
      st.dormant = true;
      st.dormant_host = std::move(host);
      if (st.dormant_host) self->monitor(st.dormant_host);
    },
    [self](wake_atom) { wake(self); },
    [self](deny_atom, std::string& reason) {
      spdlog::info("connection {}: {}: {}", self->state.init.client_id,
                   self->state.init.session_key, reason);
      self->state.init.out->close(1008, reason);
      self->quit();
    },
    [self](shutdown_atom, bool now) {
      // The node stops: let acks already on their way arrive, then close
      // with 1001 so the client resumes on another node.
      if (!now) {
        self->delayed_send(self, std::chrono::milliseconds(300), shutdown_atom::value, true);
        return;
      }
      self->state.init.out->close(1001, "node stopping; reconnect with client and last_seq");
    },
  };
}

}  // namespace

caf::actor spawn_connection(caf::actor_system& sys, connection_init init) {
  return sys.spawn(connection_fun, std::move(init));
}

}  // namespace skein
