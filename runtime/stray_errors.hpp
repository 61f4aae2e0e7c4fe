// Asynchronous error messages at a node's own actors: logged, not fatal.
//
// CAF 0.17 answers an asynchronous message that an actor has no handler for
// with an asynchronous error message to its sender
// (scheduled_actor::consume, the `print_and_drop` default handler), and
// `scheduled_actor::default_error_handler` quits the actor that receives one
// (libcaf_core/src/scheduled_actor.cpp, 0.17.6). For the membership,
// directory, replica and lane that is a node exit (70, runtime/node.cpp's
// fatal hook) caused by a peer: one that runs another version and did not
// take a message shape, or an actor that stopped understanding a message.
// The receiver of the error is not the party at fault, so it logs and lives
// on.
//
// Errors that answer a request go to that request's own handler, not here.
//
// Thread-safety: call from `self`'s own behaviour factory (before it returns
// its behaviour); the handler then runs on `self`'s turns only.
#pragma once

#include <caf/fwd.hpp>

namespace skein {

/// Replaces `self`'s error handler by one that logs each asynchronous error
/// message (the first, then every power of two: 1, 2, 4, ...) with `who`
/// (a static string naming the actor), the sender's node and the error,
/// and keeps `self` running.
void log_stray_errors(caf::scheduled_actor* self, const char* who);

}  // namespace skein
