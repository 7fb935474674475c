// Key pairs made at test time with OpenSSL, as PEM text.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

namespace chatroomd::auth::testing {

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};

inline std::string Drain(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

inline KeyPair Pem(EVP_PKEY* key) {
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  EVP_PKEY_free(key);
  return {Drain(priv), Drain(pub)};
}

inline KeyPair RsaKey(size_t bits = 2048) {
  return Pem(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
}
inline KeyPair EcKey(const char* curve = "P-256") {
  return Pem(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

}  // namespace chatroomd::auth::testing
