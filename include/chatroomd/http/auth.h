// Who is asking: JWT bearer tokens (auth/jwt.h), or development mode's X-User-Id.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "chatroomd/auth/jwt.h"
#include "chatroomd/common/error.h"

namespace chatroomd::http {

struct Identity {
  std::string user;
  bool admin = false;
};

// What an authenticator may look at; filled from the request headers.
struct Credentials {
  std::string_view authorization;  // the Authorization header, if any
  std::string_view x_user_id;      // the first X-User-Id header, if any
  int x_user_id_count = 0;         // X-User-Id headers sent
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // unauthorized (401) when the credentials are missing or invalid.
  virtual Result<Identity> Authenticate(const Credentials& credentials) const = 0;
};

// Development mode: the user id from X-User-Id, every user an admin. Only allowed when every
// listener is on loopback (checked at start-up).
std::unique_ptr<Authenticator> MakeDevAuthenticator();

// `Authorization: Bearer <JWT>` checked by `verifier`; verified tokens are remembered (up to
// `cache_entries`) until they expire. Any thread may call it.
std::unique_ptr<Authenticator> MakeJwtAuthenticator(std::unique_ptr<auth::JwtVerifier> verifier,
                                                    size_t cache_entries);

}  // namespace chatroomd::http
