#include "chatroomd/http/auth.h"

#include "chatroomd/common/ids.h"

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

}  // namespace

std::unique_ptr<Authenticator> MakeDevAuthenticator() {
  return std::make_unique<DevAuthenticator>();
}

}  // namespace chatroomd::http
