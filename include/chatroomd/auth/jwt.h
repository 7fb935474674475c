// JSON Web Tokens (RFC 7519) as the API's authentication uses them: `Authorization: Bearer
// <JWT>` with the claims `sub` (the user id), `exp` (unix seconds) and `adm` (admin rights).
// HS256 with shared secrets (API.md); beyond the contract, as Centrifugo does, RS256 and ES256
// with public keys (PEM), so that a host can verify tokens without holding a signing secret.
//
// A JwtVerifier is immutable once built: any thread may call Verify at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/common/error.h"

namespace chatroomd::auth {

// What a verified token says.
struct Claims {
  std::string user;    // `sub`
  bool admin = false;  // `adm`
  int64_t exp_s = 0;   // `exp`, unix seconds
  int64_t nbf_s = 0;   // `nbf` (0: none)
};

// The keys tokens may be signed with. Every key is tried for a token of its algorithm, so that
// a key can be rotated by accepting the old and the new one for a while (docs/security.md).
struct JwtKeys {
  std::vector<std::string> hs256_secrets;
  // PEM public keys (or certificates): RSA keys verify RS256, P-256 EC keys ES256.
  std::vector<std::string> public_key_pems;
};

class JwtVerifier {
 public:
  // Fails (bad_request, naming the key) when a PEM is not an RSA or P-256 public key.
  static Result<std::unique_ptr<JwtVerifier>> Create(const JwtKeys& keys, int64_t leeway_s);
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // The token's claims if its signature is good and it is valid at `now_s` (give or take the
  // leeway); else `unauthorized` saying why. Any algorithm other than those of the keys,
  // `none` included, is refused.
  Result<Claims> Verify(std::string_view token, int64_t now_s) const;

  int64_t leeway_s() const { return leeway_s_; }

 private:
  struct Keys;  // OpenSSL objects, src/auth/jwt.cc
  JwtVerifier(std::unique_ptr<Keys> keys, int64_t leeway_s);
  std::unique_ptr<Keys> keys_;
  int64_t leeway_s_;
};

// A token for `claims` signed with HS256 (the token command, tests).
std::string SignHs256(const Claims& claims, std::string_view secret);
// A token signed with a PEM private key: RS256 for RSA, ES256 for P-256 (tests, tools).
Result<std::string> SignWithPrivateKey(const Claims& claims, std::string_view private_pem);

}  // namespace chatroomd::auth
