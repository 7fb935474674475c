// JWT parsing and verification (auth/jwt.h) with an HS256 secret and an ES256 key configured:
// any bytes as a token, refused or verified, never a crash. The seed corpus holds good tokens
// of both kinds, so that the mutations reach the claims checks behind the signature.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "chatroomd/auth/jwt.h"

namespace {

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
    keys.hs256_secrets = {"a-fuzzing-secret-of-32-bytes-ok!"};
    keys.public_key_pems = {EcPublicPem()};
    return std::move(chatroomd::auth::JwtVerifier::Create(keys, 30).value());
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view token(reinterpret_cast<const char*>(data), size);
  (void)Verifier().Verify(token, 1'800'000'000);
  return 0;
}
