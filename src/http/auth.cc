#include "chatroomd/http/auth.h"

#include <chrono>

#include "chatroomd/auth/token_cache.h"
#include "chatroomd/common/ids.h"
#include "http/request.h"

namespace chatroomd::http {
namespace {

class DevAuthenticator final : public Authenticator {
 public:
  Result<Identity> Authenticate(const Credentials& c) const override {
    if (c.x_user_id_count == 0) {
      return MakeError(ErrorCode::kUnauthorized, "X-User-Id header required (dev auth mode)");
    }
    if (c.x_user_id_count > 1) {
      return MakeError(ErrorCode::kBadRequest, "more than one X-User-Id header");
    }
    if (!IsValidUserId(c.x_user_id)) {  // the empty id too
      return MakeError(ErrorCode::kBadRequest, "user id must match [A-Za-z0-9_.:@-]{1,64}");
    }
    return Identity{std::string(c.x_user_id), true};
  }
};

class JwtAuthenticator final : public Authenticator {
 public:
  JwtAuthenticator(std::unique_ptr<auth::JwtVerifier> verifier, size_t cache_entries)
      : verifier_(std::move(verifier)), cache_(cache_entries, verifier_->leeway_s()) {}

  Result<Identity> Authenticate(const Credentials& c) const override {
    std::string_view token = c.authorization;
    // The scheme is case-insensitive (RFC 9110); one or more spaces after it.
    constexpr std::string_view kScheme = "bearer ";
    if (token.size() <= kScheme.size() || !IEquals(token.substr(0, kScheme.size()), kScheme)) {
      return MakeError(ErrorCode::kUnauthorized, token.empty()
                                                     ? "Authorization: Bearer <token> required"
                                                     : "Authorization must be Bearer <token>");
    }
    token.remove_prefix(kScheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    if (auto hit = cache_.Find(token, now_s)) return Identity{hit->user, hit->admin};
    Result<auth::Claims> claims = verifier_->Verify(token, now_s);
    if (!claims.ok()) return claims.error();
    cache_.Insert(token, claims.value());
    return Identity{claims.value().user, claims.value().admin};
  }

 private:
  std::unique_ptr<auth::JwtVerifier> verifier_;
  mutable auth::TokenCache cache_;
};

}  // namespace

std::unique_ptr<Authenticator> MakeDevAuthenticator() {
  return std::make_unique<DevAuthenticator>();
}

std::unique_ptr<Authenticator> MakeJwtAuthenticator(std::unique_ptr<auth::JwtVerifier> verifier,
                                                    size_t cache_entries) {
  return std::make_unique<JwtAuthenticator>(std::move(verifier), cache_entries);
}

}  // namespace chatroomd::http
