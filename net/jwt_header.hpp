// The first part of a JWS compact token (RFC 7515): base64url JSON whose
// "alg" says how the token is signed. Read before any key is chosen, so that
// a token can only be checked with the key of the algorithm the node
// accepts for it. No dependencies besides nlohmann-json (fuzzed on its own:
// tests/fuzz/fuzz_jwt_header.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace skein {

struct jwt_header {
  std::string alg;  // e.g. "HS256", "none"
};

/// Parses `token` = HEADER.PAYLOAD.SIGNATURE where every part is base64url
/// without padding ([A-Za-z0-9_-]*, header and payload non-empty) and
/// HEADER decodes to a JSON object with a string "alg". nullopt otherwise.
/// Never throws.
std::optional<jwt_header> parse_jwt_header(std::string_view token);

/// Decodes unpadded base64url; nullopt on a character outside the alphabet
/// or an impossible length (4n+1). Never throws.
std::optional<std::string> base64url_decode(std::string_view in);

}  // namespace skein
