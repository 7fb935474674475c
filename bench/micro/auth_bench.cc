// What authenticating a request costs (http/auth.h over auth/jwt.h): a token seen before (the
// cache: what every poll after a client's first pays) against a full verification of an HS256,
// RS256 (2048-bit) and ES256 (P-256) token, and the dev mode's header check for reference.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <string>

#include "chatroomd/auth/jwt.h"
#include "chatroomd/http/auth.h"

namespace chatroomd::bench {
namespace {

const std::string kSecret = "a-benchmark-secret-of-32-bytes!!";

std::string PrivatePem(EVP_PKEY* key, std::string* public_pem) {
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  char* data = nullptr;
  long len = BIO_get_mem_data(pub, &data);
  public_pem->assign(data, static_cast<size_t>(len));
  len = BIO_get_mem_data(priv, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return out;
}

auth::Claims Viewer() {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return {"viewer-0001234567", false, now + 3600, 0};
}

// range(0): 0 HS256, 1 RS256, 2 ES256. range(1): 1 = cached (the same token again), 0 = every
// request verifies (a cache of 0 entries).
void BM_Authenticate(benchmark::State& state) {
  std::string public_pem;
  std::string token;
  auth::JwtKeys keys;
  switch (state.range(0)) {
    case 0:
      keys.hs256_secrets = {kSecret};
      token = auth::SignHs256(Viewer(), kSecret);
      break;
    case 1: {
      std::string priv =
          PrivatePem(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), &public_pem);
      keys.public_key_pems = {public_pem};
      token = auth::SignWithPrivateKey(Viewer(), priv).value();
      break;
    }
    default: {
      std::string priv =
          PrivatePem(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), &public_pem);
      keys.public_key_pems = {public_pem};
      token = auth::SignWithPrivateKey(Viewer(), priv).value();
    }
  }
  auto verifier = auth::JwtVerifier::Create(keys, 30);
  if (!verifier.ok()) return state.SkipWithError("no verifier");
  auto authenticator =
      http::MakeJwtAuthenticator(std::move(verifier.value()), state.range(1) ? 100000 : 0);
  const std::string header = "Bearer " + token;
  http::Credentials c;
  c.authorization = header;
  for (auto _ : state) {
    auto who = authenticator->Authenticate(c);
    if (!who.ok()) return state.SkipWithError("refused");
    benchmark::DoNotOptimize(who);
  }
  state.SetLabel(std::string(state.range(0) == 0   ? "HS256"
                             : state.range(0) == 1 ? "RS256"
                                                   : "ES256") +
                 (state.range(1) ? ", cached" : ", verified every time"));
}
BENCHMARK(BM_Authenticate)->ArgsProduct({{0, 1, 2}, {1, 0}});

void BM_AuthenticateDevMode(benchmark::State& state) {
  auto authenticator = http::MakeDevAuthenticator();
  http::Credentials c;
  c.x_user_id = "viewer-0001234567";
  c.x_user_id_count = 1;
  for (auto _ : state) benchmark::DoNotOptimize(authenticator->Authenticate(c));
}
BENCHMARK(BM_AuthenticateDevMode);

}  // namespace
}  // namespace chatroomd::bench
