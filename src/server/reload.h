// Private to the daemon: reloading the config (SIGHUP, POST /v1/admin/reload). The files are
// read again with the command line's overrides; what may change live (the fields config.proto
// marks "live": the rooms' limits, the presence settings, the front end's message size, the
// log level) is applied, every loop taking the new settings on its own turn; what needs a
// restart is logged and keeps its running value. A file that does not load changes nothing
// and the error (file:line:col) is returned. Any thread; one reload at a time.
#pragma once

#include <memory>
#include <mutex>
#include <string_view>

#include "chatroomd/common/error.h"
#include "chatroomd/config/config.h"
#include "chatroomd/server/daemon.h"

namespace chatroomd::http {
class HttpServer;
}  // namespace chatroomd::http
namespace chatroomd::sect {
class RoomService;
}  // namespace chatroomd::sect

namespace chatroomd::server {

class Reloader {
 public:
  Reloader(DaemonOptions options, std::shared_ptr<const config::LoadedConfig> running,
           sect::RoomService& rooms);
  // Before the first reload.
  void set_server(http::HttpServer* server) { server_ = server; }
  // `why`: what asked (for the log).
  Status Reload(std::string_view why);

 private:
  const DaemonOptions options_;
  sect::RoomService& rooms_;
  http::HttpServer* server_ = nullptr;
  std::mutex mu_;
  std::shared_ptr<const config::LoadedConfig> running_;  // guarded by mu_
};

// `running` with the live fields of `next` (the rest stays as it runs).
config::Config LiveConfig(const config::Config& running, const config::Config& next);

}  // namespace chatroomd::server
