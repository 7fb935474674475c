// JWT verification and signing over OpenSSL (libcrypto): HMAC-SHA256, RSASSA-PKCS1-v1_5 with
// SHA-256, ECDSA P-256 with SHA-256 (the signature as r||s, RFC 7518 section 3.4).
#include "chatroomd/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstring>
#include <optional>

#include "auth/base64url.h"
#include "chatroomd/common/ids.h"

namespace chatroomd::auth {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
using EcSig = std::unique_ptr<ECDSA_SIG, SigFree>;

constexpr size_t kEs256Half = 32;  // r and s of a P-256 signature, each

Error Unauthorized(std::string why) { return MakeError(ErrorCode::kUnauthorized, std::move(why)); }

Bio MemBio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

bool DigestVerify(EVP_PKEY* key, std::string_view der_or_raw_sig, std::string_view data) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der_or_raw_sig.data()),
                          der_or_raw_sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

std::optional<std::string> DigestSign(EVP_PKEY* key, std::string_view data) {
  MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return std::nullopt;
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return std::nullopt;
  }
  sig.resize(len);
  return sig;
}

// r||s (JWS) to the DER form OpenSSL verifies.
std::optional<std::string> RawToDer(std::string_view raw) {
  if (raw.size() != 2 * kEs256Half) return std::nullopt;
  EcSig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), kEs256Half, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + kEs256Half, kEs256Half,
                        nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// DER to r||s, each left-padded to 32 bytes.
std::optional<std::string> DerToRaw(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  std::string out(2 * kEs256Half, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, kEs256Half) != kEs256Half ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + kEs256Half, kEs256Half) != kEs256Half) {
    return std::nullopt;
  }
  return out;
}

enum class KeyKind { kRsa, kP256, kOther };

KeyKind KindOf(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) return KeyKind::kRsa;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1 &&
        (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0)) {
      return KeyKind::kP256;
    }
  }
  return KeyKind::kOther;
}

Pkey ReadPublicKey(std::string_view pem) {
  {
    Bio bio = MemBio(pem);
    if (EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)) return Pkey(key);
  }
  Bio bio = MemBio(pem);
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (!cert) return nullptr;
  Pkey key(X509_get_pubkey(cert));
  X509_free(cert);
  return key;
}

// A JSON number as whole seconds (clamped to int64); nullopt for anything else.
std::optional<int64_t> Seconds(const boost::json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) {
    return v.as_uint64() > static_cast<uint64_t>(INT64_MAX) ? std::optional<int64_t>(INT64_MAX)
                                                            : static_cast<int64_t>(v.as_uint64());
  }
  if (v.is_double() && std::isfinite(v.as_double())) {
    // Past int64 the time is simply the end (or the start) of time.
    const double d = v.as_double();
    if (d >= 9e18) return INT64_MAX;
    if (d <= -9e18) return INT64_MIN;
    return static_cast<int64_t>(std::floor(d));
  }
  return std::nullopt;
}

std::optional<boost::json::object> JsonObject(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string SigningInput(const Claims& claims, std::string_view alg) {
  boost::json::object header{{"alg", alg}, {"typ", "JWT"}};
  boost::json::object payload{{"sub", claims.user}, {"exp", claims.exp_s}};
  if (claims.admin) payload["adm"] = true;
  if (claims.nbf_s != 0) payload["nbf"] = claims.nbf_s;
  return Base64UrlEncode(boost::json::serialize(header)) + "." +
         Base64UrlEncode(boost::json::serialize(payload));
}

}  // namespace

struct JwtVerifier::Keys {
  std::vector<std::string> hs256;
  std::vector<Pkey> rs256;
  std::vector<Pkey> es256;
};

JwtVerifier::JwtVerifier(std::unique_ptr<Keys> keys, int64_t leeway_s)
    : keys_(std::move(keys)), leeway_s_(leeway_s) {}

JwtVerifier::~JwtVerifier() = default;

Result<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(const JwtKeys& keys, int64_t leeway_s) {
  auto k = std::make_unique<Keys>();
  k->hs256 = keys.hs256_secrets;
  for (size_t i = 0; i < keys.public_key_pems.size(); ++i) {
    Pkey key = ReadPublicKey(keys.public_key_pems[i]);
    const std::string which = "public key " + std::to_string(i + 1);
    if (!key) return MakeError(ErrorCode::kBadRequest, which + " is not a PEM public key");
    switch (KindOf(key.get())) {
      case KeyKind::kRsa:
        if (EVP_PKEY_get_bits(key.get()) < 2048) {
          return MakeError(ErrorCode::kBadRequest, which + ": an RSA key needs 2048 bits or more");
        }
        k->rs256.push_back(std::move(key));
        break;
      case KeyKind::kP256:
        k->es256.push_back(std::move(key));
        break;
      case KeyKind::kOther:
        return MakeError(ErrorCode::kBadRequest,
                         which + " is neither RSA (RS256) nor EC P-256 (ES256)");
    }
  }
  if (k->hs256.empty() && k->rs256.empty() && k->es256.empty()) {
    return MakeError(ErrorCode::kBadRequest, "JWT auth needs a secret or a public key");
  }
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(k), leeway_s));
}

Result<Claims> JwtVerifier::Verify(std::string_view token, int64_t now_s) const {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Unauthorized("malformed token: a JWT has three parts");
  }
  const std::string_view signed_part = token.substr(0, dot2);
  auto header_text = Base64UrlDecode(token.substr(0, dot1));
  auto payload_text = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !signature) {
    return Unauthorized("malformed token: not base64url");
  }
  auto header = JsonObject(*header_text);
  if (!header) return Unauthorized("malformed token: the header is not a JSON object");
  const boost::json::value* alg = header->if_contains("alg");
  if (!alg || !alg->is_string()) return Unauthorized("malformed token: no alg");
  if (header->contains("crit")) return Unauthorized("token has critical extensions (crit)");

  // The algorithm picks the keys: a public key is never used as an HMAC secret.
  bool good = false;
  const std::string_view a = alg->as_string();
  if (a == "HS256" && !keys_->hs256.empty()) {
    for (const std::string& secret : keys_->hs256) {
      const std::string mac = HmacSha256(secret, signed_part);
      good = good || (signature->size() == mac.size() &&
                      CRYPTO_memcmp(signature->data(), mac.data(), mac.size()) == 0);
    }
  } else if (a == "RS256" && !keys_->rs256.empty()) {
    for (const Pkey& key : keys_->rs256)
      good = good || DigestVerify(key.get(), *signature, signed_part);
  } else if (a == "ES256" && !keys_->es256.empty()) {
    if (auto der = RawToDer(*signature)) {
      for (const Pkey& key : keys_->es256)
        good = good || DigestVerify(key.get(), *der, signed_part);
    }
  } else {
    return Unauthorized("token algorithm " + std::string(a) + " is not accepted");
  }
  if (!good) return Unauthorized("token signature does not verify");

  auto payload = JsonObject(*payload_text);
  if (!payload) return Unauthorized("malformed token: the payload is not a JSON object");
  Claims claims;
  const boost::json::value* sub = payload->if_contains("sub");
  if (!sub || !sub->is_string() || !IsValidUserId(sub->as_string())) {
    return Unauthorized("token sub must be a user id ([A-Za-z0-9_.:@-]{1,64})");
  }
  claims.user = std::string(sub->as_string());
  const boost::json::value* exp = payload->if_contains("exp");
  std::optional<int64_t> exp_s = exp ? Seconds(*exp) : std::nullopt;
  if (!exp_s) return Unauthorized("token exp (unix seconds) is required");
  claims.exp_s = *exp_s;
  if (const boost::json::value* nbf = payload->if_contains("nbf")) {
    std::optional<int64_t> nbf_s = Seconds(*nbf);
    if (!nbf_s) return Unauthorized("token nbf must be unix seconds");
    claims.nbf_s = *nbf_s;
  }
  if (const boost::json::value* adm = payload->if_contains("adm")) {
    if (!adm->is_bool()) return Unauthorized("token adm must be true or false");
    claims.admin = adm->as_bool();
  }
  // The leeway goes on `now`, never on the claim: an exp near INT64_MAX must not overflow (found
  // by fuzz/jwt_fuzz.cc).
  if (now_s - leeway_s_ >= claims.exp_s) return Unauthorized("token expired");
  if (claims.nbf_s != 0 && now_s + leeway_s_ < claims.nbf_s) {
    return Unauthorized("token not valid yet (nbf)");
  }
  return claims;
}

std::string SignHs256(const Claims& claims, std::string_view secret) {
  std::string input = SigningInput(claims, "HS256");
  return input + "." + Base64UrlEncode(HmacSha256(secret, input));
}

Result<std::string> SignWithPrivateKey(const Claims& claims, std::string_view private_pem) {
  Bio bio = MemBio(private_pem);
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return MakeError(ErrorCode::kBadRequest, "not a PEM private key");
  const KeyKind kind = KindOf(key.get());
  if (kind == KeyKind::kOther) {
    return MakeError(ErrorCode::kBadRequest, "the key is neither RSA nor EC P-256");
  }
  std::string input = SigningInput(claims, kind == KeyKind::kRsa ? "RS256" : "ES256");
  std::optional<std::string> sig = DigestSign(key.get(), input);
  if (sig && kind == KeyKind::kP256) sig = DerToRaw(*sig);
  if (!sig) return MakeError(ErrorCode::kInternal, "signing failed");
  return input + "." + Base64UrlEncode(*sig);
}

}  // namespace chatroomd::auth
