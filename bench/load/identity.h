// Who crload's requests speak as. Always the X-User-Id header (a chatroomd in dev mode, and the
// floor server, read it); with --jwt-secret-file also an HS256 token for the same user
// (`Authorization: Bearer`), which a chatroomd with JWT auth reads instead. One run thus works
// against either mode, and the request bytes differ only in what the server does with them.
// Tokens are minted once per user (workers keep each poller's header lines), never per request.
#pragma once

#include <string>

namespace crload {

class Identity {
 public:
  // `secret` empty: X-User-Id only.
  explicit Identity(std::string secret = {}) : secret_(std::move(secret)) {}
  // Reads the secret from a file (trailing whitespace dropped, as chatroomd does); false and a
  // message on stderr when it cannot.
  static bool FromFile(const std::string& path, Identity& out);

  bool jwt() const { return !secret_.empty(); }
  // The header lines for `user`, each ending in CRLF; `admin` adds `"adm":true` to the token.
  std::string Headers(const std::string& user, bool admin = false) const;

 private:
  std::string secret_;
};

}  // namespace crload
