// The fixture of the Router tests: a Router over a real sect::RoomService (config loaded from
// config/chatroomd.textproto as the daemon does, with a temporary data dir) on a real RocksDB,
// the dev authenticator, and a fake Exchange on a real client loop that collects every answer:
// the router's own (ReplyLater, posted to the loop) and the rooms' (Deliver, on the loop).
// Router::Handle runs on the client loop, as a connection calls it.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "chatroomd/config/config.h"
#include "chatroomd/http/auth.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/sect/room_service.h"
#include "chatroomd/store/store.h"
#include "http/exchange.h"
#include "http/request.h"
#include "http/router.h"

namespace chatroomd::http::fakes {

using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

// One request in progress, as the router sees it.
class FakeExchange final : public Exchange, public std::enable_shared_from_this<FakeExchange> {
 public:
  enum class Via { kReplyLater, kDeliver };
  struct Answer {
    uint64_t serial = 0;
    WirePtr response;
    Via via = Via::kDeliver;
    bool on_loop = false;  // ran on the client's loop
  };

  FakeExchange(Loop& loop, uint64_t serial, room::Edge* edge)
      : loop_(loop), serial_(serial), edge_(edge) {}

  // room::Client
  Loop& loop() override { return loop_; }
  void Deliver(uint64_t serial, WirePtr response) override {
    Record({serial, std::move(response), Via::kDeliver, loop_.InLoop()});
  }
  room::Edge* edge() override { return edge_; }

  // Exchange
  uint64_t serial() const override { return serial_; }
  void set_endpoint(metrics::Endpoint e) override { endpoint = e; }
  void PollAtRoom(const std::string& room_id) override { poll_room = room_id; }
  void ReplyLater(WirePtr response) override {
    loop_.Post([self = shared_from_this(), serial = serial_, response = std::move(response)] {
      self->Record({serial, response, Via::kReplyLater, self->loop_.InLoop()});
    });
  }
  void CloseAfterAnswer() override { close_after_answer = true; }
  room::ClientPtr self() override { return shared_from_this(); }
  RequestBudget& budget() override { return budget_; }

  // The next answer, or nullopt after a generous bound.
  std::optional<Answer> Next(std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, within, [&] { return !answers_.empty(); })) return std::nullopt;
    Answer a = answers_.front();
    answers_.pop_front();
    return a;
  }
  bool Idle() {
    std::lock_guard lock(mu_);
    return answers_.empty();
  }

  // Set by the router on the client loop; read once Handle has returned.
  std::optional<metrics::Endpoint> endpoint;
  std::optional<std::string> poll_room;
  bool close_after_answer = false;

 private:
  void Record(Answer a) {
    std::lock_guard lock(mu_);
    answers_.push_back(std::move(a));
    cv_.notify_all();
  }

  Loop& loop_;
  const uint64_t serial_;
  room::Edge* edge_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Answer> answers_;
  RequestBudget budget_;
};

inline std::string Body(const WirePtr& w) { return w->tail.substr(2); }
inline boost::json::value Json(const WirePtr& w) { return boost::json::parse(Body(w)); }
inline std::string Code(const WirePtr& w) {
  return std::string(Json(w).at("error").at("code").as_string());
}
inline bool HasHeader(const WirePtr& w, std::string_view line) {
  return w->head.find(std::string(line) + "\r\n") != std::string::npos;
}

class RouterTest : public ::testing::Test {
 protected:
  // Subclasses change the loaded config (cors_origins, ...) before anything is built.
  virtual void Configure(config::LoadedConfig&) {}
  // Subclasses that want their client loop to be a front loop with an edge.
  virtual bool WithEdge() const { return false; }

  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "chatroomd_router_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    config::Overrides overrides;
    overrides.data_dir = dir_ + "/data";
    auto loaded = config::LoadConfig(
        std::string(CHATROOMD_SOURCE_DIR) + "/config/chatroomd.textproto", overrides);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    auto config = std::make_shared<config::LoadedConfig>(*loaded.value());
    config->main.mutable_store()->set_sync_wal(false);
    Configure(*config);
    config_ = config;

    auto opened = store::Store::Open(store::OptionsFromConfig(config_->main.store()));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    rooms_ = std::make_unique<sect::RoomService>(*config_, *store_, registry_);
    if (WithEdge()) {
      wheel_.emplace(client_loop_.context(), 10, 8192);
      edge_ = rooms_->AddFrontLoop(client_loop_, *wheel_, registry_.NewSlot());
    }
    auth_ = MakeDevAuthenticator();
    ServerDeps deps;
    deps.config = config_;
    deps.rooms = rooms_.get();
    deps.registry = &registry_;
    deps.auth = auth_.get();
    deps.extra_metrics = [] { return std::string("# extra metrics text\n"); };
    deps.ready = &ready_;
    router_ = std::make_unique<Router>(deps);
    client_loop_.Start();
    rooms_->Start();
  }

  void TearDown() override {
    client_loop_.Abort();
    if (rooms_) rooms_->Stop();
    rooms_.reset();
    if (store_) store_->Close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static Request Req(verb method, std::string target,
                     std::optional<std::string> user = std::string("alice"),
                     std::string body = "") {
    Request r;
    r.method = method;
    r.target = std::move(target);
    if (user) {
      r.x_user_id = *user;
      r.x_user_id_count = 1;
    }
    r.host_count = 1;
    r.body = std::move(body);
    return r;
  }

  // Runs `fn` on the client loop and waits for it.
  void OnClient(std::function<void()> fn) {
    std::promise<void> done;
    client_loop_.Post([&] {
      fn();
      done.set_value();
    });
    done.get_future().get();
  }

  // Hands `req` to the router on the client loop, as a connection does; the exchange.
  std::shared_ptr<FakeExchange> Handle(Request req) {
    auto ex = std::make_shared<FakeExchange>(client_loop_, ++serial_, edge_);
    OnClient([&] { router_->Handle(*ex, req); });
    return ex;
  }
  // The answer to `req`; checks that it came on the client loop with the request's serial.
  FakeExchange::Answer Ask(Request req) {
    auto ex = Handle(std::move(req));
    auto a = ex->Next();
    if (!a) {
      ADD_FAILURE() << "no answer";
      return {};
    }
    EXPECT_TRUE(a->on_loop) << "answered off the client's loop";
    EXPECT_EQ(a->serial, ex->serial());
    return *a;
  }
  WirePtr Answer(Request req) { return Ask(std::move(req)).response; }

  // Joins `user` to `room`; the cursor of the answer.
  std::string Join(const std::string& room, const std::string& user = "alice") {
    WirePtr w = Answer(Req(verb::post, "/v1/rooms/" + room + "/join", user));
    if (!w || w->status != 200) {
      ADD_FAILURE() << "join failed: " << (w ? Body(w) : "no answer");
      return {};
    }
    return std::string(Json(w).at("cursor").as_string());
  }
  // Sends `body` to `room`; the seq.
  std::string Send(const std::string& room, const std::string& body) {
    WirePtr w = Answer(
        Req(verb::post, "/v1/rooms/" + room + "/messages", "alice", "{\"body\":\"" + body + "\"}"));
    if (!w || w->status != 200) {
      ADD_FAILURE() << "send failed: " << (w ? Body(w) : "no answer");
      return {};
    }
    return std::string(Json(w).at("seq").as_string());
  }

  std::string dir_;
  std::shared_ptr<const config::LoadedConfig> config_;
  metrics::Registry registry_;
  std::unique_ptr<store::Store> store_;
  Loop client_loop_{"client", 100};
  std::optional<TimerWheel> wheel_;
  std::unique_ptr<sect::RoomService> rooms_;
  room::Edge* edge_ = nullptr;
  std::unique_ptr<Authenticator> auth_;
  std::atomic<bool> ready_{true};
  std::unique_ptr<Router> router_;
  uint64_t serial_ = 0;
};

}  // namespace chatroomd::http::fakes
