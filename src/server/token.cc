// `chatroomd token --user U [--admin] [--ttl S] [--config F] [--jwt-secret-file F]
// [--private-key-file F]`: a JWT for operators and scripts, signed HS256 with the configured
// secret (or the one in F), or RS256/ES256 with a PEM private key.
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "chatroomd/auth/jwt.h"
#include "chatroomd/common/ids.h"
#include "chatroomd/config/config.h"
#include "chatroomd/server/daemon.h"

namespace chatroomd::server {
namespace {

constexpr int64_t kMaxTtlS = 10LL * 365 * 24 * 3600;

Result<std::string> Sign(const TokenOptions& options, const auth::Claims& claims) {
  if (options.private_key_file) {
    std::ifstream in(*options.private_key_file, std::ios::binary);
    if (!in) return MakeError(ErrorCode::kBadRequest, *options.private_key_file + ": cannot read");
    std::stringstream pem;
    pem << in.rdbuf();
    auto token = auth::SignWithPrivateKey(claims, pem.str());
    if (!token.ok()) {
      return MakeError(ErrorCode::kBadRequest,
                       *options.private_key_file + ": " + token.error().message);
    }
    return token;
  }
  if (options.jwt_secret_file) {
    auto secret = config::ReadJwtSecretFile(*options.jwt_secret_file);
    if (!secret.ok()) return secret.error();
    return auth::SignHs256(claims, secret.value());
  }
  auto loaded = config::LoadConfig(options.config_path, {});
  if (!loaded.ok()) return loaded.error();
  const std::string& secret = loaded.value()->main.auth().jwt_secret();
  if (secret.empty()) {
    return MakeError(ErrorCode::kBadRequest,
                     options.config_path +
                         ": no JWT secret (auth.jwt_secret_file); pass --jwt-secret-file or "
                         "--private-key-file");
  }
  return auth::SignHs256(claims, secret);
}

}  // namespace

int RunToken(const TokenOptions& options) {
  if (!IsValidUserId(options.user)) {
    std::cerr << "chatroomd token: --user must match [A-Za-z0-9_.:@-]{1,64}" << std::endl;
    return 2;
  }
  if (options.ttl_s < 1 || options.ttl_s > kMaxTtlS) {
    std::cerr << "chatroomd token: --ttl must be 1.." << kMaxTtlS << " seconds" << std::endl;
    return 2;
  }
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  auth::Claims claims{options.user, options.admin, now_s + options.ttl_s, 0};
  auto token = Sign(options, claims);
  if (!token.ok()) {
    std::cerr << "chatroomd token: " << token.error().message << std::endl;
    return 1;
  }
  std::cout << token.value() << std::endl;
  return 0;
}

}  // namespace chatroomd::server
