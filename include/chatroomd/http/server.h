// The HTTP/1.1 front end: listeners, connections, request routing. Runs on its own loops
// (http.io_threads); a connection lives on one front loop for its whole life. Room work,
// history included, is handed to the sects (sect::RoomService).
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chatroomd/common/error.h"
#include "chatroomd/common/loop.h"
#include "chatroomd/config/config.h"
#include "chatroomd/http/auth.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/sect/room_service.h"

namespace chatroomd::http {

struct ServerDeps {
  std::shared_ptr<const config::LoadedConfig> config;
  sect::RoomService* rooms = nullptr;
  metrics::Registry* registry = nullptr;
  const Authenticator* auth = nullptr;
  // Extra /metrics text (store and process families).
  std::function<std::string()> extra_metrics;
  // /readyz answers 200 while this is true.
  const std::atomic<bool>* ready = nullptr;
  // POST /v1/admin/reload: re-reads the config files and applies what may change live (the
  // same as SIGHUP); an error (file:line:col) leaves the running config as it was.
  std::function<Status()> reload;
};

// `deps.rooms` must outlive the server: its front loops register their edges there and remove
// them when they go.
class HttpServer {
 public:
  explicit HttpServer(ServerDeps deps);
  ~HttpServer();

  // Binds every configured listener; returns the bound endpoints (port 0 resolved).
  Result<std::vector<boost::asio::ip::tcp::endpoint>> Listen();
  // Starts the front loops and accepting.
  void Start();
  // A reload (any thread): the front end's live settings from `config`.
  void Reconfigure(const config::Config& config);
  // Closes the listeners; open connections go on.
  void StopAccepting();
  // Stops the front loops; open connections are dropped. (Polls their edges hold are
  // answered by RoomService::Drain before, and let go by RoomService::Stop after.)
  void Stop();

  int64_t open_connections() const;
  // The front loops (for a shutdown barrier).
  std::vector<Loop*> loops() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chatroomd::http
