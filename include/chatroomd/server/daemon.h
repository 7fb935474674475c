// The whole process: config, store, sects, front end, signals, shutdown.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "chatroomd/config/config.h"

namespace chatroomd::server {

struct DaemonOptions {
  std::string config_path = "config/chatroomd.textproto";
  config::Overrides overrides;
};

// Runs the daemon until SIGTERM/SIGINT. Returns the process exit status; start-up failures
// are printed to stderr.
int RunDaemon(const DaemonOptions& options);

// Validates the config files; prints problems (file:line:col) to stderr. Exit status.
int CheckConfig(const DaemonOptions& options);

// `chatroomd token`: prints a JWT for `user` (docs/security.md).
struct TokenOptions {
  std::string user;
  bool admin = false;
  int64_t ttl_s = 3600;
  std::string config_path = "config/chatroomd.textproto";
  std::optional<std::string> jwt_secret_file;   // instead of the config's secret
  std::optional<std::string> private_key_file;  // RS256/ES256 instead of HS256
};
int RunToken(const TokenOptions& options);

}  // namespace chatroomd::server
