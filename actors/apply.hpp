// Applying one journaled input to a behaviour instance: the single step that
// the live session actor, recovery (snapshot + journal) and `replay` share,
// so that all three run exactly the same code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/instance.hpp"
#include "persistence/records.hpp"

namespace skein {

/// The journal's names for input kinds ("open", "message", "close").
const char* input_kind_name(input_kind k);
/// Throws std::invalid_argument for an unknown name.
input_kind parse_input_kind(const std::string& name);

/// Builds the journal record of a live input. `params_json` is the client's
/// query parameters as a JSON object text; `text` the raw client frame (for
/// message inputs). `reset`: an open of a client that resumed from a seq
/// older than the outbox; its first output is {"type":"reset"}. Time and
/// random values are filled in by apply_input.
persistence::journal_record make_input(input_kind kind, const std::string& client_id,
                                       const std::string& params_json, const std::string& text,
                                       bool reset = false);

/// Client-facing error codes of a rejected input (the `code` of error_event).
namespace error_code {
inline constexpr const char* bad_json = "bad_json";            // a message that is not JSON
inline constexpr const char* bad_input = "bad_input";          // bad_input, or a json::exception
inline constexpr const char* handler_error = "handler_error";  // any other std::exception
inline constexpr const char* no_publish_handler = "no_publish_handler";  // publish, no on_publish
}  // namespace error_code

/// The client id of timer inputs (no client sends it: ids are [A-Za-z0-9_-]).
inline const std::string timer_client = "@timer";

/// The journal record of timer `timer_id` firing; on_timer gets `payload`.
persistence::journal_record make_timer_input(std::uint64_t timer_id, const json& payload);

/// The journal record of tell `tell_id` from session `from` ("kind/id"):
/// client "@kind/id", msg_id = tell_id (the receiver's delivery table drops
/// a repeat). `payload_text` is JSON text (not JSON: on_tell gets null).
persistence::journal_record make_tell_input(const std::string& from, std::uint64_t tell_id,
                                            const std::string& payload_text);

/// Runs `rec` through `logic`.
/// - Live (replay == false): the time is `rec.time_ms` (set it first) and
///   random values are drawn from `seed`; they are stored into `rec.random`.
/// - Replay (replay == true): time and random values come from `rec`.
/// A rejected input (malformed JSON; a handler throwing bad_input,
/// json::exception or any other std::exception) keeps the state as it was
/// before the input and yields no outputs but one error_event(code, message)
/// for the sender of a message input; the message is bad_input's text or a
/// fixed sentence, never a library's exception text (a std::exception's
/// what() is logged). An exception not derived from std::exception, and
/// replay_divergence, propagates to the caller (the state rolled back).
/// `rejected` (if given) is set to "code: message" when the input was
/// rejected, else cleared.
/// An applied input's timers, cancels and tells go into logic.runtime (a
/// rejected one sets none); a timer input removes its timer from it.
std::vector<output> apply_input(behaviour_instance& logic, persistence::journal_record& rec,
                                const std::string& session_id, bool replay,
                                std::uint64_t seed = 0, std::string* rejected = nullptr);

/// The state hash journaled with an input when the kind's check_state option
/// is on (persistence::journal_record::state_hash): XXH3-64 (xxHash, seed 0)
/// of the state's msgpack bytes, never 0 (a hash of 0 becomes 1). Stable
/// across builds and machines for the same bytes.
std::uint64_t state_hash(std::string_view state_bytes) noexcept;

/// `{"type":"error","message":message}`
json error_event(const std::string& message);
/// `{"type":"error","code":code,"message":message}`
json error_event(const std::string& code, const std::string& message);

}  // namespace skein
