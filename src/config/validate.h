// Private to the config component: the semantic checks run on a parsed config.
#pragma once

#include <string>

#include "config/text_file.h"
#include "proto/chatroomd/config.pb.h"

namespace chatroomd::config {

// Which values came from the command line instead of a file, so that a problem with them
// names the flag (there is no line to point at).
// The shortest HS256 secret accepted.
inline constexpr size_t kMinJwtSecretBytes = 16;

struct ValueSources {
  bool listen = false;          // listeners came from --listen (already syntax-checked)
  std::string jwt_secret_file;  // non-empty: auth.jwt_secret was read from this file
  size_t jwt_public_keys = 0;   // public key files read
};

// Checks every documented bound and cross-field rule of both files, adding one problem per
// violation at the offending field. Runs before defaults are filled in, so that `Node`
// can still tell a written field from an absent one.
void Validate(const Config& main, const Node& main_node, const Sects& sects, const Node& sects_node,
              const ValueSources& sources, Problems* problems);

// An IP literal (v4, or v6 without brackets) or "localhost": what a listener may bind.
bool IsListenHost(const std::string& host);

// "HOST:PORT", with the IPv6 host in brackets, as operators and `listening on` lines write it.
std::string HostPort(const Listener& listener);

}  // namespace chatroomd::config
