// The client's message envelope: `{"id": N, "data": X}` (an object with
// exactly the keys `id` and `data`) is input X with client message id N; any
// other frame is an input without an id. See docs/protocol.md, "Message ids
// and acks".
#pragma once

#include <cstdint>
#include <string>

namespace skein {

/// Largest message id: 2^53 - 1, exact in every JSON number implementation.
inline constexpr std::uint64_t max_message_id = (std::uint64_t{1} << 53) - 1;

struct client_input {
  std::uint64_t id = 0;  // 0: no id
  std::string text;      // the input's JSON text (X for an envelope)
  std::string error;     // non-empty: an envelope with a bad id; nothing to deliver
};

/// Splits one client frame. `text` must already be bounded in size and depth
/// (net/input_check.hpp). Never throws.
client_input parse_client_input(std::string text);

/// `{"ack":id}` or `{"ack":id,"error":error}`.
std::string ack_frame(std::uint64_t id, const std::string& error);

}  // namespace skein
