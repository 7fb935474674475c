// JWT parsing and verification (auth/jwt.h) with an HS256 secret and an ES256 key configured.
// Two kinds of input:
// - any bytes as a token: refused or verified, never a crash;
// - `header JSON \0 payload JSON`: the target encodes and signs them with the configured
//   secret, so that the claims checks behind the signature (sub, exp, nbf, adm, their types)
//   see arbitrary JSON too. A verified token's claims must be what the payload says: a user id
//   that is valid, and an expiry after the verification time (else abort).
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "auth/base64url.h"
#include "chatroomd/auth/jwt.h"
#include "chatroomd/common/ids.h"

namespace {

constexpr std::string_view kSecret = "a-fuzzing-secret-of-32-bytes-ok!";
constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kLeeway = 30;

std::string EcPublicPem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio, &p);
  std::string pem(p, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

const chatroomd::auth::JwtVerifier& Verifier() {
  static const auto verifier = [] {
    chatroomd::auth::JwtKeys keys;
    keys.hs256_secrets = {std::string(kSecret)};
    keys.public_key_pems = {EcPublicPem()};
    return std::move(chatroomd::auth::JwtVerifier::Create(keys, kLeeway).value());
  }();
  return *verifier;
}

std::string Signed(std::string_view header, std::string_view payload) {
  using chatroomd::auth::Base64UrlEncode;
  const std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), len));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  if (nul == std::string_view::npos) {
    (void)Verifier().Verify(input, kNow);
    return 0;
  }
  auto claims = Verifier().Verify(Signed(input.substr(0, nul), input.substr(nul + 1)), kNow);
  if (claims.ok() &&
      (!chatroomd::IsValidUserId(claims.value().user) || kNow - kLeeway >= claims.value().exp_s)) {
    std::abort();
  }
  return 0;
}
