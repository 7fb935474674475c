// The whole process: config, store, sects, front end, signals, shutdown.
#pragma once

#include <memory>
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

}  // namespace chatroomd::server
