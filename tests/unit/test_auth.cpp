// net/auth (client JWTs, the admin token helpers) and net/jwt_header: tokens
// are made here with libjwt and keys with OpenSSL, at test time.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <jwt.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "net/auth.hpp"
#include "net/jwt_header.hpp"

using namespace skein;
using json = nlohmann::json;

namespace {

const std::int64_t now = 1'800'000'000;  // a fixed "now" (2027)

struct pem_pair {
  std::string private_pem, public_pem;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

pem_pair make_keys(const char* type) {
  EVP_PKEY* key = std::string_view(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                                   : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  REQUIRE(key != nullptr);
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  REQUIRE(PEM_write_bio_PUBKEY(pub, key) == 1);
  pem_pair out{bio_text(priv), bio_text(pub)};
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return out;
}

const pem_pair& rsa() {
  static pem_pair k = make_keys("RSA");
  return k;
}
const pem_pair& ec() {
  static pem_pair k = make_keys("EC");
  return k;
}

/// A token with `claims`, signed with `alg` and `key` (libjwt).
std::string sign(jwt_alg_t alg, const std::string& key, const json& claims) {
  jwt_t* j = nullptr;
  REQUIRE(jwt_new(&j) == 0);
  REQUIRE(jwt_add_grants_json(j, claims.dump().c_str()) == 0);
  REQUIRE(jwt_set_alg(j, alg, reinterpret_cast<const unsigned char*>(key.data()),
                      static_cast<int>(key.size())) == 0);
  char* text = jwt_encode_str(j);
  REQUIRE(text != nullptr);
  std::string out = text;
  std::free(text);
  jwt_free(j);
  return out;
}

std::string b64url(const std::string& s) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : s) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(a[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(a[(acc << (6 - bits)) & 63]);
  return out;
}

const std::string secret = "correct horse battery staple";

auth_options hs_only() {
  auth_options o;
  o.jwt_secret = secret;
  return o;
}

token_error check(const jwt_verifier& v, const std::string& token, client_identity* id = nullptr) {
  client_identity tmp;
  return v.verify(token, now, id ? *id : tmp);
}

}  // namespace

TEST_CASE("HS256: a good token gives the user (sub) and every claim", "[auth]") {
  jwt_verifier v{hs_only()};
  REQUIRE(v.enabled());
  CHECK(v.algorithms() == "HS256");
  client_identity id;
  auto t = sign(JWT_ALG_HS256, secret, {{"sub", "alice"}, {"exp", now + 60}, {"nbf", now - 1}, {"role", "admin"}});
  REQUIRE(check(v, t, &id) == token_error::none);
  CHECK(id.user == "alice");
  CHECK(id.claims.at("role") == "admin");
  CHECK(id.claims.at("exp") == now + 60);
}

TEST_CASE("HS256: missing, expired, not yet valid, wrong key, tampered", "[auth]") {
  jwt_verifier v{hs_only()};
  CHECK(check(v, "") == token_error::missing);
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"sub", "a"}, {"exp", now}})) == token_error::expired);
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"sub", "a"}, {"exp", now - 5}})) == token_error::expired);
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"sub", "a"}, {"nbf", now + 30}})) == token_error::not_yet_valid);
  CHECK(check(v, sign(JWT_ALG_HS256, "another secret", {{"sub", "a"}})) == token_error::bad_signature);
  // The payload swapped for another user's: the signature no longer matches.
  auto good = sign(JWT_ALG_HS256, secret, {{"sub", "alice"}});
  auto dot1 = good.find('.'), dot2 = good.rfind('.');
  auto forged = good.substr(0, dot1 + 1) + b64url(R"({"sub":"mallory"})") + good.substr(dot2);
  CHECK(check(v, forged) == token_error::bad_signature);
}

TEST_CASE("claims: sub required, exp/nbf numbers, sessions a list of strings", "[auth]") {
  jwt_verifier v{hs_only()};
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"name", "x"}})) == token_error::bad_claims);
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"sub", ""}})) == token_error::bad_claims);
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"sub", 7}})) == token_error::bad_claims);
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"sub", "a"}, {"exp", "tomorrow"}})) == token_error::bad_claims);
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"sub", "a"}, {"sessions", "chat/x"}})) == token_error::bad_claims);
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"sub", "a"}, {"sessions", {"chat/x", 1}}})) == token_error::bad_claims);
  CHECK(check(v, sign(JWT_ALG_HS256, secret, {{"sub", "a"}, {"sessions", {"chat/x"}}})) == token_error::none);
}

TEST_CASE("wrong algorithms are refused before the signature", "[auth]") {
  auth_options o;
  o.jwt_public_key = rsa().public_pem;
  jwt_verifier rs{o};
  CHECK(rs.algorithms() == "RS256");
  // alg none, unsigned.
  auto none = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(R"({"sub":"a"})") + ".";
  CHECK(check(rs, none) == token_error::wrong_algorithm);
  CHECK(check(jwt_verifier{hs_only()}, none) == token_error::wrong_algorithm);
  // Algorithm confusion: HS256 keyed with the public key's PEM text.
  CHECK(check(rs, sign(JWT_ALG_HS256, rsa().public_pem, {{"sub", "a"}})) == token_error::wrong_algorithm);
  // An RS256 token where only a secret is configured; HS512 with the right secret.
  CHECK(check(jwt_verifier{hs_only()}, sign(JWT_ALG_RS256, rsa().private_pem, {{"sub", "a"}}))
        == token_error::wrong_algorithm);
  CHECK(check(jwt_verifier{hs_only()}, sign(JWT_ALG_HS512, secret, {{"sub", "a"}})) == token_error::wrong_algorithm);
  // An ES256 token against an RSA key.
  CHECK(check(rs, sign(JWT_ALG_ES256, ec().private_pem, {{"sub", "a"}})) == token_error::wrong_algorithm);
}

TEST_CASE("RS256 and ES256 verify with the public key", "[auth]") {
  auth_options o;
  o.jwt_public_key = rsa().public_pem;
  o.jwt_secret = secret;
  jwt_verifier both{o};
  CHECK(both.algorithms() == "HS256, RS256");
  client_identity id;
  REQUIRE(check(both, sign(JWT_ALG_RS256, rsa().private_pem, {{"sub", "bob"}, {"exp", now + 10}}), &id)
          == token_error::none);
  CHECK(id.user == "bob");
  CHECK(check(both, sign(JWT_ALG_HS256, secret, {{"sub", "carol"}})) == token_error::none);
  CHECK(check(both, sign(JWT_ALG_RS256, make_keys("RSA").private_pem, {{"sub", "bob"}}))
        == token_error::bad_signature);

  auth_options e;
  e.jwt_public_key = ec().public_pem;
  jwt_verifier es{e};
  CHECK(es.algorithms() == "ES256");
  REQUIRE(check(es, sign(JWT_ALG_ES256, ec().private_pem, {{"sub", "dave"}}), &id) == token_error::none);
  CHECK(id.user == "dave");
  CHECK(check(es, sign(JWT_ALG_ES256, make_keys("EC").private_pem, {{"sub", "dave"}})) == token_error::bad_signature);
}

TEST_CASE("a public key that is not RSA or P-256 PEM is refused at start", "[auth]") {
  auth_options o;
  o.jwt_public_key = "not a key";
  CHECK_THROWS_AS(jwt_verifier{o}, std::invalid_argument);
  o.jwt_public_key = rsa().private_pem;  // a private key is not a public key file
  CHECK_THROWS_AS(jwt_verifier{o}, std::invalid_argument);
  CHECK_FALSE(jwt_verifier{auth_options{}}.enabled());
}

TEST_CASE("malformed tokens", "[auth]") {
  jwt_verifier v{hs_only()};
  for (const std::string& t : std::vector<std::string>{"abc", "a.b", "a.b.c.d", ".e30.x", "e30..x", "e30.e30.x y", "%%%.e30.",
                        b64url("[1]") + ".e30.", b64url(R"({"alg":5})") + ".e30.",
                        std::string(9000, 'a')})
    CHECK(check(v, t) == token_error::malformed);
}

TEST_CASE("jwt header and base64url", "[auth]") {
  CHECK(base64url_decode("") == std::string{});
  CHECK(base64url_decode("YQ") == std::string{"a"});
  CHECK(base64url_decode("YWI") == std::string{"ab"});
  CHECK(base64url_decode("YWJj") == std::string{"abc"});
  CHECK_FALSE(base64url_decode("Y"));
  CHECK_FALSE(base64url_decode("YW=="));
  CHECK_FALSE(base64url_decode("Y+Jj"));
  auto h = parse_jwt_header(b64url(R"({"alg":"RS256","typ":"JWT"})") + ".e30.sig");
  REQUIRE(h);
  CHECK(h->alg == "RS256");
}

TEST_CASE("session claim patterns", "[auth]") {
  json c = {{"sessions", {"chat/lobby", "counter/*", "chat/team-*"}}};
  CHECK(session_allowed(c, "chat/lobby"));
  CHECK_FALSE(session_allowed(c, "chat/lobby2"));
  CHECK(session_allowed(c, "counter/a"));
  CHECK(session_allowed(c, "counter/a/b"));
  CHECK_FALSE(session_allowed(c, "counterx/a"));
  CHECK(session_allowed(c, "chat/team-7"));
  CHECK_FALSE(session_allowed(c, "chat/other"));
  CHECK(session_allowed(json::object(), "anything/x"));
  CHECK(session_allowed(json{{"sessions", {"*"}}}, "anything/x"));
  CHECK_FALSE(session_allowed(json{{"sessions", json::array()}}, "chat/x"));
}

TEST_CASE("bearer tokens, secret comparison, secret files", "[auth]") {
  CHECK(bearer_token("Bearer abc") == std::string_view{"abc"});
  CHECK(bearer_token("bearer  abc ") == std::string_view{"abc"});
  CHECK_FALSE(bearer_token("Basic abc"));
  CHECK_FALSE(bearer_token("Bearer "));
  CHECK_FALSE(bearer_token("Bearerabc"));
  CHECK(same_secret("abc", "abc"));
  CHECK_FALSE(same_secret("abc", "abd"));
  CHECK_FALSE(same_secret("abc", "abcd"));

  auto dir = std::filesystem::temp_directory_path() / ("skein-auth-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return (dir / name).string();
  };
  CHECK(read_secret_file(write("a", "key\n")) == "key");
  CHECK(read_secret_file(write("b", "key\n\n")) == "key\n");  // one newline only
  CHECK(read_secret_file(write("c", "key")) == "key");
  CHECK(read_secret_file(write("d", "key \r\n")) == "key \r");
  CHECK(read_secret_file(write("e", "pem\n"), false) == "pem\n");
  CHECK_THROWS(read_secret_file(write("f", "\n")));
  CHECK_THROWS(read_secret_file((dir / "missing").string()));
  std::filesystem::remove_all(dir);

  auto t = new_admin_token();
  CHECK(t.size() == 64);
  CHECK(t != new_admin_token());
}
