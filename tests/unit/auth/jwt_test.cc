// JwtVerifier (auth/jwt.h): HS256, RS256 and ES256 tokens; every way a token can be bad
// (expired, not yet valid, forged, another algorithm or `none`, a public key used as an HMAC
// secret, missing or mistyped claims, malformed parts); keys rotated by accepting two.
#include "chatroomd/auth/jwt.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <string>

#include "auth/base64url.h"
#include "test_keys.h"

namespace chatroomd::auth {
namespace {

constexpr int64_t kNow = 1'800'000'000;
const std::string kSecret = "a-secret-of-thirty-two-bytes-ok!";

Claims Alice(bool admin = false) { return Claims{"alice", admin, kNow + 600, 0}; }

std::unique_ptr<JwtVerifier> Verifier(JwtKeys keys, int64_t leeway = 30) {
  auto v = JwtVerifier::Create(keys, leeway);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  return std::move(v.value());
}

std::string Unauthorized(const Result<Claims>& r) {
  if (r.ok()) return "<accepted>";
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized);
  return r.error().message;
}

// A token with the given header and payload JSON, signed with HS256 over exactly that text.
std::string Forge(const std::string& header, const std::string& payload,
                  const std::string& secret = kSecret) {
  const std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len));
}

TEST(JwtTest, Hs256RoundTrip) {
  auto v = Verifier({.hs256_secrets = {kSecret}});
  auto claims = v->Verify(SignHs256(Alice(true), kSecret), kNow);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims.value().user, "alice");
  EXPECT_TRUE(claims.value().admin);
  EXPECT_EQ(claims.value().exp_s, kNow + 600);
  auto plain = v->Verify(SignHs256(Alice(false), kSecret), kNow);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain.value().admin) << "no adm claim: no admin rights";
}

TEST(JwtTest, ExpiryAndNotBeforeWithTheLeeway) {
  auto v = Verifier({.hs256_secrets = {kSecret}}, /*leeway=*/30);
  Claims c = Alice();
  c.exp_s = kNow - 10;
  EXPECT_TRUE(v->Verify(SignHs256(c, kSecret), kNow).ok()) << "within the leeway";
  c.exp_s = kNow - 30;
  EXPECT_EQ(Unauthorized(v->Verify(SignHs256(c, kSecret), kNow)), "token expired");
  c = Alice();
  c.nbf_s = kNow + 20;
  EXPECT_TRUE(v->Verify(SignHs256(c, kSecret), kNow).ok());
  c.nbf_s = kNow + 31;
  EXPECT_EQ(Unauthorized(v->Verify(SignHs256(c, kSecret), kNow)), "token not valid yet (nbf)");
}

TEST(JwtTest, ExtremeTimesDoNotOverflow) {
  // Found by fuzz/jwt_fuzz.cc: an exp near INT64_MAX plus the leeway overflowed.
  auto v = Verifier({.hs256_secrets = {kSecret}}, /*leeway=*/30);
  const std::string h = R"({"alg":"HS256"})";
  for (const char* exp : {"9223372036854775807", "17777777777777000000", "1e300"}) {
    auto claims = v->Verify(Forge(h, std::string(R"({"sub":"a","exp":)") + exp + "}"), kNow);
    ASSERT_TRUE(claims.ok()) << exp << ": " << claims.error().message;
  }
  EXPECT_NE(Unauthorized(v->Verify(Forge(h, R"({"sub":"a","exp":-9223372036854775808})"), kNow)),
            "<accepted>");
  EXPECT_NE(Unauthorized(v->Verify(
                Forge(h, R"({"sub":"a","exp":1900000000,"nbf":9223372036854775807})"), kNow)),
            "<accepted>");
}

TEST(JwtTest, ForgedAndTamperedTokensAreRefused) {
  auto v = Verifier({.hs256_secrets = {kSecret}});
  EXPECT_EQ(Unauthorized(v->Verify(SignHs256(Alice(), "another-secret-of-32-bytes-here"), kNow)),
            "token signature does not verify");
  // The payload changed after signing (alice made herself an admin).
  std::string token = SignHs256(Alice(), kSecret);
  const size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  const std::string admin_payload =
      Base64UrlEncode(R"({"sub":"alice","exp":)" + std::to_string(kNow + 600) + R"(,"adm":true})");
  const std::string tampered = token.substr(0, dot1 + 1) + admin_payload + token.substr(dot2);
  EXPECT_EQ(Unauthorized(v->Verify(tampered, kNow)), "token signature does not verify");
  // A signature one bit off, or cut short.
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_NE(Unauthorized(v->Verify(flipped, kNow)), "<accepted>");
  EXPECT_NE(Unauthorized(v->Verify(token.substr(0, token.size() - 4), kNow)), "<accepted>");
}

TEST(JwtTest, OnlyTheKeysAlgorithmsAreAccepted) {
  auto v = Verifier({.hs256_secrets = {kSecret}});
  const std::string payload =
      R"({"sub":"alice","exp":)" + std::to_string(kNow + 600) + R"(,"adm":true})";
  // alg none, with and without a signature.
  const std::string none =
      Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + Base64UrlEncode(payload) + ".";
  EXPECT_EQ(Unauthorized(v->Verify(none, kNow)), "token algorithm none is not accepted");
  EXPECT_EQ(Unauthorized(v->Verify(Forge(R"({"alg":"HS512"})", payload), kNow)),
            "token algorithm HS512 is not accepted");
  EXPECT_EQ(Unauthorized(v->Verify(Forge(R"({"alg":"RS256"})", payload), kNow)),
            "token algorithm RS256 is not accepted")
      << "no public key configured";
  EXPECT_NE(Unauthorized(v->Verify(Forge(R"({"typ":"JWT"})", payload), kNow)), "<accepted>");
  EXPECT_NE(Unauthorized(v->Verify(Forge(R"({"alg":"HS256","crit":["x"]})", payload), kNow)),
            "<accepted>");
  EXPECT_TRUE(v->Verify(Forge(R"({"alg":"HS256"})", payload), kNow).ok());
}

TEST(JwtTest, APublicKeyIsNeverAnHmacSecret) {
  // The classic confusion: an attacker signs HS256 with the server's public key as the secret.
  testing::KeyPair rsa = testing::RsaKey();
  auto v = Verifier({.public_key_pems = {rsa.public_pem}});
  EXPECT_EQ(Unauthorized(v->Verify(SignHs256(Alice(true), rsa.public_pem), kNow)),
            "token algorithm HS256 is not accepted");
}

TEST(JwtTest, Rs256AndEs256WithPublicKeys) {
  testing::KeyPair rsa = testing::RsaKey();
  testing::KeyPair ec = testing::EcKey();
  auto v = Verifier({.public_key_pems = {rsa.public_pem, ec.public_pem}});
  for (const auto* key : {&rsa, &ec}) {
    auto token = SignWithPrivateKey(Alice(true), key->private_pem);
    ASSERT_TRUE(token.ok()) << token.error().message;
    auto claims = v->Verify(token.value(), kNow);
    ASSERT_TRUE(claims.ok()) << claims.error().message;
    EXPECT_EQ(claims.value().user, "alice");
    EXPECT_TRUE(claims.value().admin);
  }
  // Signed by a key the verifier does not hold.
  testing::KeyPair other = testing::EcKey();
  auto stranger = SignWithPrivateKey(Alice(), other.private_pem);
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(Unauthorized(v->Verify(stranger.value(), kNow)), "token signature does not verify");
  // An ES256 signature must be exactly r||s (64 bytes).
  std::string token = SignWithPrivateKey(Alice(), ec.private_pem).value();
  EXPECT_NE(Unauthorized(v->Verify(token + "AA", kNow)), "<accepted>");
}

TEST(JwtTest, KeysThatCannotBeUsedAreRefusedAtStart) {
  EXPECT_FALSE(JwtVerifier::Create({}, 30).ok()) << "no key at all";
  EXPECT_FALSE(JwtVerifier::Create({.public_key_pems = {"not a pem"}}, 30).ok());
  EXPECT_FALSE(
      JwtVerifier::Create({.public_key_pems = {testing::RsaKey(1024).public_pem}}, 30).ok())
      << "RSA under 2048 bits";
  EXPECT_FALSE(
      JwtVerifier::Create({.public_key_pems = {testing::EcKey("P-384").public_pem}}, 30).ok())
      << "ES256 is P-256 only";
}

TEST(JwtTest, RotationAcceptsEveryConfiguredSecret) {
  const std::string next = "the-next-secret-of-thirty-two-b!";
  auto v = Verifier({.hs256_secrets = {kSecret, next}});
  EXPECT_TRUE(v->Verify(SignHs256(Alice(), kSecret), kNow).ok());
  EXPECT_TRUE(v->Verify(SignHs256(Alice(), next), kNow).ok());
}

TEST(JwtTest, ClaimsMustBeThereAndOfTheRightType) {
  auto v = Verifier({.hs256_secrets = {kSecret}});
  const std::string exp = std::to_string(kNow + 600);
  const std::string h = R"({"alg":"HS256","typ":"JWT"})";
  EXPECT_EQ(Unauthorized(v->Verify(Forge(h, R"({"exp":)" + exp + "}"), kNow)),
            "token sub must be a user id ([A-Za-z0-9_.:@-]{1,64})");
  EXPECT_NE(Unauthorized(v->Verify(Forge(h, R"({"sub":"bad id","exp":)" + exp + "}"), kNow)),
            "<accepted>");
  EXPECT_NE(Unauthorized(v->Verify(Forge(h, R"({"sub":7,"exp":)" + exp + "}"), kNow)),
            "<accepted>");
  EXPECT_EQ(Unauthorized(v->Verify(Forge(h, R"({"sub":"alice"})"), kNow)),
            "token exp (unix seconds) is required");
  EXPECT_NE(Unauthorized(v->Verify(Forge(h, R"({"sub":"alice","exp":"soon"})"), kNow)),
            "<accepted>");
  EXPECT_EQ(
      Unauthorized(v->Verify(Forge(h, R"({"sub":"alice","adm":"yes","exp":)" + exp + "}"), kNow)),
      "token adm must be true or false");
  EXPECT_TRUE(v->Verify(Forge(h, R"({"sub":"alice","exp":)" + exp + ".5}"), kNow).ok())
      << "a fractional exp is allowed (NumericDate)";
  EXPECT_NE(Unauthorized(v->Verify(Forge(h, "[1,2]"), kNow)), "<accepted>");
}

TEST(JwtTest, MalformedTokensAreRefusedWithoutACrash) {
  auto v = Verifier({.hs256_secrets = {kSecret}});
  const std::string good = SignHs256(Alice(), kSecret);
  for (const std::string& bad :
       {std::string(), std::string("."), std::string(".."), std::string("a.b"),
        std::string("a.b.c.d"), good + ".", "!" + good, good.substr(0, good.find('.')) + "..",
        std::string("eyJhbGciOiJIUzI1NiJ9.e30=.sig"), std::string(5000, 'A')}) {
    EXPECT_NE(Unauthorized(v->Verify(bad, kNow)), "<accepted>") << bad;
  }
}

TEST(Base64UrlTest, RoundTripAndStrictDecoding) {
  for (const std::string& s :
       {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
        std::string("foob"), std::string("\xff\xfe\x00", 3)}) {
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zm9v=").has_value()) << "no padding";
  EXPECT_FALSE(Base64UrlDecode("Zm9+").has_value()) << "not the URL alphabet";
  EXPECT_FALSE(Base64UrlDecode("Z").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zh").has_value()) << "non-zero leftover bits";
  EXPECT_TRUE(Base64UrlDecode("Zg").has_value());
}

}  // namespace
}  // namespace chatroomd::auth
