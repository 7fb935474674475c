// JWT authentication over HTTP (API.md, "Authentication"; docs/security.md): tokens from the
// `chatroomd token` command accepted, admin rights from `adm`, membership for sends; every kind
// of bad token answered 401 with nothing changed; a rotated secret; RS256 and ES256 with public
// key files; --check-config on a key that is not one.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

namespace fs = std::filesystem;

const std::string kSecret = "integration-secret-32-bytes-long";
const std::string kNextSecret = "the-next-secret-also-32-bytes-ok";

fs::path AuthDir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("chatroomd-it-auth-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// The keys and secrets the tests wrote go with the test program.
class RemoveAuthDir : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(AuthDir(), ec);
  }
};
[[maybe_unused]] ::testing::Environment* const kRemoveAuthDir =
    ::testing::AddGlobalTestEnvironment(new RemoveAuthDir);

void Write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

struct RunResult {
  int status = -1;
  std::string out;
};

// The chatroomd binary with `args` (test-made, no quoting needed), stdout (and stderr when
// `with_stderr`) captured.
RunResult Chatroomd(const std::string& args, bool with_stderr = false) {
  const std::string cmd =
      std::string(CHATROOMD_BINARY) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
  return r;
}

std::string Token(const std::string& args) {
  RunResult r = Chatroomd("token " + args);
  EXPECT_EQ(r.status, 0) << "token " << args;
  return r.out;
}

std::string B64Url(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

// A token with exactly this header and payload, signed HS256 with `secret`.
std::string Hs256(const std::string& header, const std::string& payload,
                  const std::string& secret = kSecret) {
  const std::string input = B64Url(header) + "." + B64Url(payload);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + B64Url(std::string(reinterpret_cast<char*>(mac), len));
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Claims(const std::string& sub, int64_t exp, const std::string& more = {}) {
  return R"({"sub":")" + sub + R"(","exp":)" + std::to_string(exp) + more + "}";
}

constexpr const char* kHs256Header = R"({"alg":"HS256","typ":"JWT"})";

// A key pair written as PEM files; returns the private key's path, the public one beside it.
fs::path MakeKey(const char* type, const char* curve_or_null, const std::string& name) {
  EVP_PKEY* key = curve_or_null ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve_or_null)
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, type, size_t{2048});
  const fs::path priv = AuthDir() / (name + ".key"), pub = AuthDir() / (name + ".pub");
  FILE* f = std::fopen(priv.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(pub.c_str(), "w");
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  EVP_PKEY_free(key);
  return priv;
}

class JwtAuthTest : public SharedDaemonTest<JwtAuthTest> {
 public:
  static DaemonOptions Options() {
    Write(AuthDir() / "secret", kSecret + "\n");
    Write(AuthDir() / "next", kNextSecret);
    return {.config = "auth { enabled: true jwt_secret_file: \"" + (AuthDir() / "secret").string() +
                      "\" jwt_extra_secret_files: \"" + (AuthDir() / "next").string() +
                      "\" jwt_leeway_s: 5 }"};
  }
  static std::string SecretFile() { return (AuthDir() / "secret").string(); }
};

TEST_F(JwtAuthTest, TheTokenCommandsTokensAreAcceptedWithTheirRights) {
  const std::string room = UniqueRoom();
  User alice(port(), "alice");
  alice.set_token(Token("--user alice --jwt-secret-file " + SecretFile()));
  User boss(port(), "boss");
  boss.set_token(Token("--user boss --admin --ttl 120 --jwt-secret-file " + SecretFile()));
  User carol(port(), "carol");
  // The secret as the daemon's own config names it.
  carol.set_token(Token("--user carol --config " + daemon().config_path().string()));

  ASSERT_TRUE(alice.Join(room).ok);
  EXPECT_GT(alice.Say(room, "hello"), 0u);
  EXPECT_TRUE(
      IsError(alice.SendRaw(room, R"({"body":"big gift","priority":true})"), 403, "forbidden"))
      << "priority needs adm";
  EXPECT_TRUE(IsError(carol.SendRaw(room, R"({"body":"hi"})"), 403, "not_joined"));
  EXPECT_GT(boss.Say(room, "from the host", /*priority=*/true), 0u) << "an admin needs no join";
  ASSERT_TRUE(carol.Join(room).ok);
  EXPECT_GT(carol.Say(room, "now I can"), 0u);
  // The scheme in any case, and spaces around the token.
  Client raw(port());
  const std::string token = Token("--user dave --jwt-secret-file " + SecretFile());
  EXPECT_EQ(raw.Request("POST", "/v1/rooms/" + room + "/join", {},
                        {{"Authorization", "bEaReR   " + token + "  "}})
                .status,
            200);
  EXPECT_EQ(alice.HistoryAll(room).size(), 3u);
}

TEST_F(JwtAuthTest, AdminEndpointsNeedAdminRightsAndARetractionTheSenderOrAnAdmin) {
  const std::string room = UniqueRoom();
  User alice(port(), "alice"), bob(port(), "bob"), boss(port(), "boss");
  alice.set_token(Token("--user alice --jwt-secret-file " + SecretFile()));
  bob.set_token(Token("--user bob --jwt-secret-file " + SecretFile()));
  boss.set_token(Token("--user boss --admin --jwt-secret-file " + SecretFile()));
  ASSERT_TRUE(alice.Join(room).ok);
  ASSERT_TRUE(bob.Join(room).ok);
  const uint64_t a1 = alice.Say(room, "mine"), a2 = alice.Say(room, "also mine");
  const uint64_t b1 = bob.Say(room, "bob's");
  ASSERT_GT(b1, 0u);

  for (const char* action : {"mute", "kick"}) {
    Response r = alice.client().Request("POST", "/v1/admin/rooms/" + room + "/" + action,
                                        R"({"user":"bob","seconds":60})", alice.Auth());
    EXPECT_TRUE(IsError(r, 403, "forbidden")) << action << ": " << r;
  }
  EXPECT_GT(bob.Say(room, "not muted"), 0u) << "the refused mute changed nothing";
  EXPECT_TRUE(IsError(alice.client().Get("/v1/admin/sects", alice.Auth()), 403, "forbidden"));
  EXPECT_TRUE(IsError(alice.client().Request("POST", "/v1/admin/reload", {}, alice.Auth()), 403,
                      "forbidden"));
  EXPECT_EQ(boss.client().Get("/v1/admin/sects", boss.Auth()).status, 200);
  auto retract = [&](User& u, uint64_t seq) {
    return u.client().Request("DELETE", "/v1/rooms/" + room + "/messages/" + std::to_string(seq),
                              {}, u.Auth());
  };
  EXPECT_TRUE(IsError(retract(bob, a1), 403, "forbidden")) << "not his message";
  EXPECT_EQ(retract(alice, a1).status, 204) << "her own";
  EXPECT_EQ(retract(boss, b1).status, 204) << "an admin, anyone's";
  Client anonymous(port());
  EXPECT_TRUE(
      IsError(anonymous.Request("DELETE", "/v1/rooms/" + room + "/messages/" + std::to_string(a2)),
              401, "unauthorized"));
  EXPECT_EQ(boss.client()
                .Request("POST", "/v1/admin/rooms/" + room + "/mute",
                         R"({"user":"bob","seconds":60})", boss.Auth())
                .status,
            204);
  EXPECT_TRUE(IsError(bob.SendRaw(room, R"({"body":"hi"})"), 403, "muted"));
  std::vector<uint64_t> seqs;
  for (const auto& m : boss.HistoryAll(room)) {
    if (m.type != "retract") seqs.push_back(m.seq);
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{a2, b1 + 1}));
}

TEST_F(JwtAuthTest, EveryBadTokenIs401AndChangesNothing) {
  const std::string room = UniqueRoom();
  User alice(port(), "alice");
  alice.set_token(Token("--user alice --jwt-secret-file " + SecretFile()));
  ASSERT_TRUE(alice.Join(room).ok);
  const int64_t exp = Now() + 600;
  const std::string admin_claims = Claims("mallory", exp, R"(,"adm":true)");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"expired", Hs256(kHs256Header, Claims("mallory", Now() - 60, R"(,"adm":true)"))},
      {"forged", Hs256(kHs256Header, admin_claims, "a-guessed-secret-of-32-bytes-abc")},
      {"none", B64Url(R"({"alg":"none","typ":"JWT"})") + "." + B64Url(admin_claims) + "."},
      {"HS512", Hs256(R"({"alg":"HS512","typ":"JWT"})", admin_claims)},
      {"RS256 without a public key", Hs256(R"({"alg":"RS256","typ":"JWT"})", admin_claims)},
      {"no sub", Hs256(kHs256Header, R"({"exp":)" + std::to_string(exp) + "}")},
      {"no exp", Hs256(kHs256Header, R"({"sub":"mallory","adm":true})")},
      {"adm not a bool", Hs256(kHs256Header, Claims("mallory", exp, R"(,"adm":"true")"))},
      {"bad sub", Hs256(kHs256Header, Claims("mal lory", exp))},
      {"garbage", "not.a.token"},
      {"two parts", "abc.def"},
  };
  for (const auto& [what, token] : bad) {
    User mallory(port(), "mallory");
    mallory.set_token(token);
    EXPECT_TRUE(
        IsError(mallory.SendRaw(room, R"({"body":"pwned","priority":true})"), 401, "unauthorized"))
        << what;
    EXPECT_TRUE(IsError(mallory.JoinRaw(room), 401, "unauthorized")) << what;
  }
  Client raw(port());
  const std::string path = "/v1/rooms/" + room + "/messages";
  const Response missing = raw.Request("POST", path, R"({"body":"x"})");
  EXPECT_TRUE(IsError(missing, 401, "unauthorized")) << "no Authorization";
  EXPECT_EQ(missing.Header("WWW-Authenticate"), "Bearer realm=\"chatroomd\"");
  EXPECT_TRUE(IsError(raw.Request("POST", path, R"({"body":"x"})", {{"X-User-Id", "alice"}}), 401,
                      "unauthorized"))
      << "X-User-Id is dev mode's only";
  EXPECT_TRUE(IsError(
      raw.Request("POST", path, R"({"body":"x"})", {{"Authorization", "Basic YWxpY2U6cHc="}}), 401,
      "unauthorized"));
  EXPECT_TRUE(alice.HistoryAll(room).empty()) << "nothing was stored";
  EXPECT_EQ(alice.OnlineCount(room), 1) << "and nobody else joined";
}

TEST_F(JwtAuthTest, ARotatedSecretVerifiesAlongsideTheCurrentOne) {
  const std::string room = UniqueRoom();
  User next(port(), "next");
  next.set_token(Hs256(kHs256Header, Claims("next", Now() + 600), kNextSecret));
  EXPECT_TRUE(next.Join(room).ok);
  // A token just past its exp is still within the leeway (5 s) of a skewed clock.
  User late(port(), "late");
  late.set_token(Hs256(kHs256Header, Claims("late", Now() - 2)));
  EXPECT_TRUE(late.Join(room).ok);
}

TEST(JwtPublicKeyTest, Rs256AndEs256TokensVerifyWithPublicKeyFiles) {
  const fs::path rsa = MakeKey("RSA", nullptr, "rsa");
  const fs::path ec = MakeKey("EC", "P-256", "ec");
  const fs::path stranger = MakeKey("EC", "P-256", "stranger");
  Daemon d({.config = "auth { enabled: true jwt_public_key_files: \"" +
                      fs::path(rsa).replace_extension(".pub").string() +
                      "\" jwt_public_key_files: \"" +
                      fs::path(ec).replace_extension(".pub").string() + "\" }"});
  ASSERT_TRUE(d.Start());
  const std::string room = UniqueRoom();
  User viewer(d.port(), "viewer");
  viewer.set_token(Token("--user viewer --private-key-file " + rsa.string()));
  ASSERT_TRUE(viewer.Join(room).ok);
  User host(d.port(), "host");
  host.set_token(Token("--user host --admin --private-key-file " + ec.string()));
  EXPECT_GT(host.Say(room, "on air", /*priority=*/true), 0u);
  User mallory(d.port(), "mallory");
  mallory.set_token(Token("--user mallory --admin --private-key-file " + stranger.string()));
  EXPECT_TRUE(IsError(mallory.JoinRaw(room), 401, "unauthorized")) << "a key the daemon lacks";
  // The public key as an HMAC secret (the algorithm-confusion attack).
  std::ifstream in(fs::path(rsa).replace_extension(".pub"));
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  mallory.set_token(Hs256(kHs256Header, Claims("mallory", Now() + 600, R"(,"adm":true)"), pem));
  EXPECT_TRUE(IsError(mallory.JoinRaw(room), 401, "unauthorized"));
  EXPECT_EQ(viewer.HistoryAll(room).size(), 1u);
}

TEST(JwtConfigTest, CheckConfigRefusesAKeyThatIsNotOne) {
  const fs::path dir = AuthDir() / "check";
  fs::create_directories(dir);
  Write(dir / "sects.textproto",
        "sects { name: \"main\" threads: 1 ranges { start: 0 end: 18446744073709551615 } }\n");
  Write(dir / "bad.pub", "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n");
  Write(dir / "main.textproto",
        "sects_file: \"sects.textproto\"\nauth { enabled: true jwt_public_key_files: "
        "\"bad.pub\" }\n");
  RunResult r = Chatroomd("--check-config --config " + (dir / "main.textproto").string(), true);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("public key 1 is not a PEM public key"), std::string::npos) << r.out;
  Write(dir / "main.textproto", "sects_file: \"sects.textproto\"\nauth { enabled: true }\n");
  r = Chatroomd("--check-config --config " + (dir / "main.textproto").string(), true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("no JWT key"), std::string::npos) << r.out;
  // The token command without any secret says so.
  r = Chatroomd("token --user alice --config " + (dir / "main.textproto").string(), true);
  EXPECT_NE(r.status, 0);
  r = Chatroomd("token --user 'bad id' --jwt-secret-file " + (AuthDir() / "secret").string(), true);
  EXPECT_EQ(r.status, 2) << r.out;
}

}  // namespace
}  // namespace chatroomd::it
