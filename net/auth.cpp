// Client token verification (libjwt) and the admin token helpers; the
// contract is in net/auth.hpp.
//
// Order of checks in verify(): shape (three base64url parts, bounded
// length) -> the header's "alg" (net/jwt_header.hpp, our own small parser)
// against the algorithms this node has keys for -> libjwt verifies the
// signature with the one key of that algorithm -> the claims.
#include "net/auth.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "net/jwt_header.hpp"

namespace skein {

namespace {

using json = nlohmann::json;

struct jwt_deleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using jwt_ptr = std::unique_ptr<jwt_t, jwt_deleter>;

/// "RSA", "EC-P256" or throws.
std::string public_key_kind(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  if (!bio) throw std::invalid_argument("cannot read the JWT public key");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
    PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) throw std::invalid_argument("the JWT public key is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  if (EVP_PKEY_is_a(key.get(), "RSA")) return "RSA";
  if (EVP_PKEY_is_a(key.get(), "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key.get(), "group", group, sizeof group, &len) == 1
        && (std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256"))
      return "EC-P256";
    throw std::invalid_argument("the JWT public key is an EC key but not on P-256 (ES256 needs P-256)");
  }
  throw std::invalid_argument("the JWT public key must be RSA (RS256) or EC P-256 (ES256)");
}

bool is_number(const json& j) { return j.is_number_integer() || j.is_number_unsigned() || j.is_number_float(); }

}  // namespace

std::string_view describe(token_error e) {
  switch (e) {
    case token_error::none: return "ok";
    case token_error::missing: return "token required (Authorization: Bearer TOKEN or ?token=)";
    case token_error::malformed: return "malformed token";
    case token_error::wrong_algorithm: return "token algorithm not accepted";
    case token_error::bad_signature: return "token signature does not verify";
    case token_error::expired: return "token expired";
    case token_error::not_yet_valid: return "token not valid yet (nbf)";
    case token_error::bad_claims: return "token claims malformed (sub, exp, nbf, sessions)";
  }
  return "bad token";
}

jwt_verifier::jwt_verifier(const auth_options& opts)
  : secret_(opts.jwt_secret), public_pem_(opts.jwt_public_key) {
  hs256_ = !secret_.empty();
  if (!public_pem_.empty()) {
    auto kind = public_key_kind(public_pem_);
    rs256_ = kind == "RSA";
    es256_ = kind == "EC-P256";
  }
}

std::string jwt_verifier::algorithms() const {
  std::string out;
  for (auto [on, name] : {std::pair{hs256_, "HS256"}, std::pair{rs256_, "RS256"}, std::pair{es256_, "ES256"}})
    if (on) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

token_error jwt_verifier::verify(std::string_view token, std::int64_t now, client_identity& out) const {
  if (token.empty()) return token_error::missing;
  if (token.size() > max_token_bytes) return token_error::malformed;
  auto header = parse_jwt_header(token);
  if (!header) return token_error::malformed;
  const std::string* key = nullptr;
  jwt_alg_t alg = JWT_ALG_INVAL;
  if (header->alg == "HS256" && hs256_) {
    key = &secret_;
    alg = JWT_ALG_HS256;
  } else if (header->alg == "RS256" && rs256_) {
    key = &public_pem_;
    alg = JWT_ALG_RS256;
  } else if (header->alg == "ES256" && es256_) {
    key = &public_pem_;
    alg = JWT_ALG_ES256;
  } else {
    return token_error::wrong_algorithm;
  }
  std::string text(token);  // libjwt wants a NUL-terminated string
  jwt_t* raw = nullptr;
  int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key->data()),
                      static_cast<int>(key->size()));
  jwt_ptr decoded(raw);
  if (rc != 0 || !decoded) return token_error::bad_signature;
  if (jwt_get_alg(decoded.get()) != alg) return token_error::wrong_algorithm;

  char* grants = jwt_get_grants_json(decoded.get(), nullptr);
  if (grants == nullptr) return token_error::bad_claims;
  auto claims = json::parse(grants, nullptr, false);
  std::free(grants);
  if (!claims.is_object()) return token_error::bad_claims;

  if (claims.contains("exp")) {
    if (!is_number(claims["exp"])) return token_error::bad_claims;
    if (static_cast<double>(now) >= claims["exp"].get<double>()) return token_error::expired;
  }
  if (claims.contains("nbf")) {
    if (!is_number(claims["nbf"])) return token_error::bad_claims;
    if (static_cast<double>(now) < claims["nbf"].get<double>()) return token_error::not_yet_valid;
  }
  auto sub = claims.find("sub");
  if (sub == claims.end() || !sub->is_string() || sub->get_ref<const std::string&>().empty())
    return token_error::bad_claims;
  if (auto s = claims.find("sessions"); s != claims.end()) {
    if (!s->is_array()) return token_error::bad_claims;
    for (auto& p : *s)
      if (!p.is_string()) return token_error::bad_claims;
  }
  out.user = sub->get<std::string>();
  out.claims = std::move(claims);
  return token_error::none;
}

bool session_allowed(const json& claims, std::string_view key) {
  auto s = claims.find("sessions");
  if (s == claims.end()) return true;
  if (!s->is_array()) return false;
  for (auto& p : *s) {
    if (!p.is_string()) continue;
    std::string_view pattern = p.get_ref<const std::string&>();
    if (!pattern.empty() && pattern.back() == '*') {
      if (key.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1)) return true;
    } else if (key == pattern) {
      return true;
    }
  }
  return false;
}

std::optional<std::string_view> bearer_token(std::string_view v) {
  constexpr std::string_view scheme = "bearer ";
  if (v.size() <= scheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(v[i])) != scheme[i]) return std::nullopt;
  v.remove_prefix(scheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  return v;
}

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string read_secret_file(const std::string& path, bool strip_newline) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (strip_newline && !bytes.empty() && bytes.back() == '\n') bytes.pop_back();
  if (bytes.empty()) throw std::runtime_error(path + " is empty");
  return bytes;
}

std::string new_admin_token() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

}  // namespace skein
