// What a session's answer to a server-side publish means for the HTTP
// request that carried it (net/publish_route.cpp; docs/protocol.md
// "Publish"). Kept apart from the route so that it builds without Beast and
// has a fuzz target (tests/fuzz/fuzz_publish_answer.cpp): the answer comes
// from the session actor, which may run on another node, or is the one
// recorded with an Idempotency-Key's first use (a delivery credential,
// read back from the journal or a snapshot), so it is outside input here.
//
// The answer is the text actors/session_publish.cpp builds:
//   {"ok": true, "result": R}
//   {"ok": false, "code": C, "message": M}   C one of the codes below
// or the poison guard's plain text "poison_input: ..." (not JSON).
// Anything else is a handler_error (422), never an exception.
// Thread-safe (pure functions).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace skein::net_detail {

/// The HTTP status of a publish refused with `code`: 400 bad_input and
/// bad_json, 409 no_publish_handler and in_progress, 503 unavailable, 422
/// for anything else (handler_error, poison_input, idempotency_key_reused).
unsigned publish_status_of(std::string_view code);

struct publish_outcome {
  unsigned status = 422;  // HTTP status
  nlohmann::json body;    // the response body (an object)
  bool unavailable = false;  // the session was moving: nothing applied, retry
};

/// Reads one answer (see above). Field types are checked: an "ok" that is
/// not a boolean, a "code" or "message" that is not a string count as
/// absent; an unknown code is reported as handler_error. Text that is not
/// valid UTF-8 is kept with U+FFFD in place of the invalid bytes when the
/// body is dumped (dump with error_handler_t::replace). Never throws.
publish_outcome read_publish_answer(std::string_view text);

}  // namespace skein::net_detail
