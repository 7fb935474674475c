#include "chatroomd/server/daemon.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/http/auth.h"
#include "chatroomd/http/server.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/sect/room_service.h"
#include "chatroomd/store/store.h"
#include "server/reload.h"

namespace chatroomd::server {
namespace {

// Raises the soft descriptor limit to the hard one: every held poll is a socket.
rlim_t RaiseFdLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

Result<std::shared_ptr<const config::LoadedConfig>> Load(const DaemonOptions& options) {
  return config::LoadConfig(options.config_path, options.overrides);
}

// JWT auth with the configured keys, or dev mode.
Result<std::unique_ptr<http::Authenticator>> MakeAuthenticator(const config::LoadedConfig& c) {
  const config::AuthConfig& a = c.main.auth();
  if (!a.enabled()) return http::MakeDevAuthenticator();
  auth::JwtKeys keys;
  if (!a.jwt_secret().empty()) keys.hs256_secrets.push_back(a.jwt_secret());
  for (const std::string& s : c.jwt_extra_secrets) keys.hs256_secrets.push_back(s);
  keys.public_key_pems = c.jwt_public_keys;
  auto verifier = auth::JwtVerifier::Create(keys, a.jwt_leeway_s());
  if (!verifier.ok()) {
    return MakeError(ErrorCode::kBadRequest,
                     "auth.jwt_public_key_files: " + verifier.error().message);
  }
  return http::MakeJwtAuthenticator(std::move(verifier.value()), a.jwt_cache_entries());
}

// True once a marker from every sect loop has passed through every front loop, and every
// front loop has run what was posted to it before (see the shutdown sequence).
bool WriteBarrier(const std::vector<Loop*>& sects, const std::vector<Loop*>& fronts,
                  std::chrono::steady_clock::time_point deadline) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
    void Arrive() {
      std::lock_guard lock(mu);
      if (--left == 0) cv.notify_all();
    }
  };
  auto state = std::make_shared<State>();
  state->left = (sects.size() + 1) * fronts.size();
  if (state->left == 0) return true;
  for (Loop* sect : sects) {
    sect->Post([state, fronts] {
      for (Loop* front : fronts) Loop::Send(*front, [state] { state->Arrive(); });
    });
  }
  for (Loop* front : fronts) front->Post([state] { state->Arrive(); });
  std::unique_lock lock(state->mu);
  return state->cv.wait_until(lock, deadline, [&] { return state->left == 0; });
}

}  // namespace

int CheckConfig(const DaemonOptions& options) {
  auto config = Load(options);
  if (!config) {
    std::cerr << config.error().message << std::endl;
    return 1;
  }
  if (auto auth = MakeAuthenticator(*config.value()); !auth.ok()) {
    std::cerr << auth.error().message << std::endl;
    return 1;
  }
  std::cout << "config ok: " << options.config_path << std::endl;
  return 0;
}

int RunDaemon(const DaemonOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);
  // Signals are taken by a signal_set below; block them in every thread until then, so no
  // loop thread is picked to run a default handler.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto logger = spdlog::stderr_color_mt("chatroomd");
  spdlog::set_default_logger(logger);

  auto loaded = Load(options);
  if (!loaded) {
    std::cerr << loaded.error().message << std::endl;
    return 1;
  }
  std::shared_ptr<const config::LoadedConfig> config = loaded.value();
  spdlog::set_level(spdlog::level::from_str(config->main.log().level()));
  auto made_auth = MakeAuthenticator(*config);
  if (!made_auth.ok()) {
    std::cerr << made_auth.error().message << std::endl;
    return 1;
  }
  std::unique_ptr<http::Authenticator> auth = std::move(made_auth.value());

  rlim_t fds = RaiseFdLimit();
  spdlog::info("chatroomd starting; open-file limit {}", static_cast<uint64_t>(fds));
  for (const auto& line : std::vector<std::string>{config::DescribeConfig(*config)}) {
    spdlog::info("effective config:\n{}", line);
  }
  if (fds < config->main.http().max_connections() + 64) {
    spdlog::warn("http.max_connections ({}) is above what the open-file limit ({}) allows",
                 config->main.http().max_connections(), static_cast<uint64_t>(fds));
  }

  const auto& sc = config->main.store();
  auto opened = store::Store::Open(store::OptionsFromConfig(sc));
  if (!opened) {
    std::cerr << "cannot open the store in " << sc.data_dir() << ": " << opened.error().message
              << std::endl;
    return 1;
  }
  std::unique_ptr<store::Store> store = std::move(opened.value());

  metrics::Registry registry;
  std::atomic<bool> ready{false};
  auto rooms = std::make_unique<sect::RoomService>(*config, *store, registry);

  http::ServerDeps deps;
  deps.config = config;
  deps.rooms = rooms.get();
  deps.registry = &registry;
  deps.auth = auth.get();
  deps.ready = &ready;
  store::Store* store_ptr = store.get();
  sect::RoomService* rooms_ptr = rooms.get();
  deps.extra_metrics = [store_ptr, rooms_ptr] {
    return store_ptr->RenderMetrics() + rooms_ptr->RenderMetrics();
  };
  Reloader reloader(options, config, *rooms);
  deps.reload = [&reloader] { return reloader.Reload("POST /v1/admin/reload"); };
  auto server = std::make_unique<http::HttpServer>(deps);
  reloader.set_server(server.get());

  auto bound = server->Listen();
  if (!bound) {
    std::cerr << bound.error().message << std::endl;
    return 1;
  }
  rooms->Start();
  server->Start();
  ready = true;
  for (const auto& ep : bound.value()) {
    std::string host = ep.address().to_string();
    if (ep.address().is_v6()) host = "[" + host + "]";
    std::printf("listening on %s:%u\n", host.c_str(), ep.port());
    spdlog::info("listening on {}:{}", host, ep.port());
  }
  std::fflush(stdout);

  // Wait for a signal on this (the main) thread.
  boost::asio::io_context signal_context;
  boost::asio::signal_set set(signal_context, SIGTERM, SIGINT, SIGHUP);
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  bool stop = false;
  std::function<void()> wait = [&] {
    set.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        (void)reloader.Reload("SIGHUP");
        wait();
        return;
      }
      spdlog::info("signal {}: shutting down", signo);
      stop = true;
    });
  };
  wait();
  while (!stop) signal_context.run_one();

  // Shutdown: stop accepting, answer held polls, let sends in flight become durable and
  // their answers go out, then flush and close the store. Bounded well inside 5 s.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(3500);
  ready = false;
  server->StopAccepting();
  rooms->Drain();  // the rooms' held polls and their edges'
  while (rooms->pending_writes() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Wait until every answer the rooms and the front loops have made is written (or the
  // deadline passes): a marker sent from each sect loop to each front loop arrives after
  // what that sect loop sent before it (Loop::Send keeps order), and one posted to each front
  // loop runs after its own release of held polls.
  if (!WriteBarrier(rooms->loops(), server->loops(), deadline)) {
    spdlog::warn("shutdown: answers still queued at the deadline");
  }
  server->Stop();
  rooms->Stop();
  store->Close();
  // The server's front loops hand their edges back to the rooms as they go: server first.
  server.reset();
  rooms.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace chatroomd::server
