// Asynchronous error messages at a node's actors: logged, not fatal.
//
// CAF 0.17 answers an asynchronous message that an actor has no handler for
// with an asynchronous error message to its sender
// (scheduled_actor::consume, the `print_and_drop` default handler), and
// `scheduled_actor::default_error_handler` quits the actor that receives one
// (libcaf_core/src/scheduled_actor.cpp, 0.17.6). For the membership,
// directory, replica and lane that is a node exit (70, runtime/node.cpp's
// fatal hook); for a session, its activation; for a connection, the
// client's stream. The cause is a peer: one that runs another version and
// did not take a message shape, or an actor that stopped understanding a
// message. The receiver of the error is not the party at fault, so it logs
// and lives on.
//
// Errors that answer a request go to that request's own handler, not here.
//
// Memory: the handler keeps one pointer (CAF's std::function stores it in
// place), so installing it on every session and connection allocates
// nothing.
//
// Thread-safety: call from `self`'s own behaviour factory (before it returns
// its behaviour); the handler then runs on `self`'s turns only. The count
// of a `stray_error_log` is atomic, shared by every actor given it.
#pragma once

#include <atomic>
#include <cstdint>

#include <caf/fwd.hpp>

namespace skein {

/// What one kind of actor logs its stray errors under. Give every actor of
/// a kind the same one, with static storage duration.
struct stray_error_log {
  const char* who;                         // names the actor kind in the log
  std::atomic<std::uint64_t> count{0};     // errors seen by every actor given this log
};

/// Replaces `self`'s error handler by one that logs an asynchronous error
/// message (the first of `log`, then every power of two: 1, 2, 4, ...) with
/// `log.who`, the sender's node and the error, and keeps `self` running.
void log_stray_errors(caf::scheduled_actor* self, stray_error_log& log);

}  // namespace skein
