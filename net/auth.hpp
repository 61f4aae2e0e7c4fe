// Who may talk to a node: client tokens (JWT) for /ws, /sse and /mcp, and
// the admin token for /admin/*. No HTTP here: net/client_auth.cpp applies
// these checks to requests; this file only decides.
//
// Client tokens are JWS compact tokens (RFC 7519) verified with libjwt:
//   - HS256 with the shared secret (--jwt-secret-file), and/or
//   - RS256 (an RSA public key) or ES256 (an EC P-256 public key) with the
//     PEM public key (--jwt-public-key-file).
//   Any other "alg" (none, HS384, an RS256 token when only a secret is
//   configured, an HS256 token signed with the public key's PEM text, ...)
//   is refused before the signature is looked at.
// Claims checked (times are NumericDate seconds, no leeway):
//   exp       optional number; refused when now >= exp
//   nbf       optional number; refused when now < nbf
//   sub       required non-empty string: the client's `user`
//   sessions  optional array of strings: the session keys ("kind/id") the
//             token may open; an entry ending in `*` matches every key that
//             starts with what precedes it ("chat/*", "chat/team-*", "*").
//             Absent: every session.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace skein {

/// Keys for client authentication and the admin token. Every field empty:
/// clients are not authenticated and every /admin/* request is refused.
struct auth_options {
  std::string jwt_secret;      // HS256 key bytes; empty: HS256 tokens refused
  std::string jwt_public_key;  // PEM public key (RSA: RS256, EC P-256: ES256); empty: refused
  std::string admin_token;     // Bearer token of /admin/*; empty: /admin/* always 401

  /// True when client routes need a token.
  bool clients_need_token() const { return !jwt_secret.empty() || !jwt_public_key.empty(); }
};

/// Why a client token was refused (token_error::none: accepted).
enum class token_error {
  none,
  missing,          // no Authorization: Bearer and no ?token=
  malformed,        // not three base64url parts, too long, undecodable
  wrong_algorithm,  // "alg" is not one this node has a key for
  bad_signature,    // the signature does not verify with the key
  expired,          // now >= exp
  not_yet_valid,    // now < nbf
  bad_claims,       // sub missing or not a string, exp/nbf not numbers, sessions not strings
};

/// A short English reason, for the 401 body and the log.
std::string_view describe(token_error e);

/// An accepted token: who the client is.
struct client_identity {
  std::string user;                          // the "sub" claim
  nlohmann::json claims = nlohmann::json::object();  // every claim of the payload
};

/// Verifies client tokens. Construction reads the keys; verify() is const and
/// safe to call from many threads at once (libjwt keeps no shared state).
class jwt_verifier {
 public:
  /// Longest token accepted, bytes (longer: malformed).
  static constexpr std::size_t max_token_bytes = 8192;

  /// Throws std::invalid_argument if jwt_public_key is set and is not a PEM
  /// RSA or EC P-256 public key.
  explicit jwt_verifier(const auth_options& opts);

  /// False when neither key is set (clients are not authenticated).
  bool enabled() const { return hs256_ || rs256_ || es256_; }
  /// The algorithms accepted, e.g. "HS256, RS256" (empty when disabled).
  std::string algorithms() const;

  /// Checks `token` at `now` (seconds since the Unix epoch); fills `out` on
  /// token_error::none.
  token_error verify(std::string_view token, std::int64_t now, client_identity& out) const;

 private:
  std::string secret_;
  std::string public_pem_;
  bool hs256_ = false, rs256_ = false, es256_ = false;
};

/// Whether the claims' `sessions` list admits `key` (true when absent).
/// Claims already passed verify(), so `sessions` is absent or strings.
bool session_allowed(const nlohmann::json& claims, std::string_view key);

/// The token of an `Authorization: Bearer TOKEN` value (scheme
/// case-insensitive), or nullopt.
std::optional<std::string_view> bearer_token(std::string_view authorization);

/// Constant-time comparison of two secrets (length leaks, content does not).
bool same_secret(std::string_view a, std::string_view b);

/// Reads a key or token file: its bytes, less one trailing "\n" when
/// strip_newline (secrets and tokens; a PEM file is read as is). Throws
/// std::runtime_error if it cannot be read or is empty.
std::string read_secret_file(const std::string& path, bool strip_newline = true);

/// A new admin token: 32 random bytes as 64 hex digits (OpenSSL RAND_bytes).
std::string new_admin_token();

}  // namespace skein
