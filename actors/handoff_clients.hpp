// The clients a session's handoff (or hibernation) carries to its next
// activation, as JSON text between nodes (the adopt message), and their
// parser. No CAF: the fuzz target (tests/fuzz/fuzz_handoff_clients.cpp)
// links it alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace skein {

/// A client a handoff (or a hibernation) carries to the next activation.
struct handoff_client {
  std::string id;           // the client id, 1..256 bytes
  std::string params_json;  // its open's params, as the connection sent them
  std::uint64_t token = 0;  // the connection's token
};

/// Parses session_init::clients_json as a handoff writes it: a JSON array of
/// `{"id": string, "params": string, "token": unsigned}`, at most 1 MiB of
/// text. An adopt brings it from a peer, so the host checks it before it
/// writes anything (runtime/activation.cpp). nullopt, with `why` set, if it
/// is not that shape. Pure; thread-safe.
std::optional<std::vector<handoff_client>> parse_handoff_clients(const std::string& text,
                                                                 std::string* why = nullptr);

}  // namespace skein
