// What room unit tests share: a client that collects the answers a room posts back, and
// readers for those answers.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/room/client.h"
#include "chatroomd/store/store.h"

namespace chatroomd::room::fakes {

using namespace std::chrono_literals;

// A real store in a fresh directory named after the running test (no fsync, one reader).
// Closed and removed on destruction.
struct TestStore {
  explicit TestStore(const std::string& prefix)
      : dir(std::filesystem::temp_directory_path() /
            (prefix + "-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(dir);
    store::StoreOptions so;
    so.data_dir = dir.string();
    so.sync_wal = false;
    so.reader_threads = 1;
    store = std::move(store::Store::Open(so).value());
  }
  ~TestStore() {
    store->Close();
    std::filesystem::remove_all(dir);
  }
  TestStore(const TestStore&) = delete;
  TestStore& operator=(const TestStore&) = delete;

  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
};

// A clock the test moves by hand, for a RoomHost (TimerWheel::Clock): timeouts, the online TTL
// and idle unloading happen when the test says, not after real waits. Starts at the real
// steady clock, so that tests that never move it behave as before.
class ManualClock {
 public:
  int64_t Now() const { return now_ms_.load(); }
  void Advance(int64_t ms) { now_ms_.fetch_add(ms); }
  TimerWheel::Clock AsClock() {
    return [this] { return Now(); };
  }

 private:
  std::atomic<int64_t> now_ms_{TimerWheel::SteadyNowMs()};
};

// Collects the answers a room posts back, on the client loop; `edge` is its loop's edge.
class FakeClient : public Client {
 public:
  explicit FakeClient(Loop& loop, Edge* edge = nullptr) : loop_(loop), edge_(edge) {}
  Loop& loop() override { return loop_; }
  Edge* edge() override { return edge_; }
  void PollAtRoom(const std::string& room_id) override {
    std::lock_guard lock(mu_);
    poll_room_ = room_id;
  }
  // The room its poll was last said to wait at (PollAtRoom), or "".
  std::string poll_room() {
    std::lock_guard lock(mu_);
    return poll_room_;
  }
  void Deliver(uint64_t serial, WirePtr response) override {
    std::lock_guard lock(mu_);
    answers_.emplace_back(serial, std::move(response));
    cv_.notify_all();
  }
  // The next answer, or nullptr after a generous bound.
  WirePtr Next(std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, within, [&] { return !answers_.empty(); })) return nullptr;
    WirePtr w = answers_.front().second;
    answers_.pop_front();
    return w;
  }
  // True when no answer comes within `for_ms`.
  bool Idle(std::chrono::milliseconds for_ms) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, for_ms, [&] { return !answers_.empty(); });
  }

 private:
  Loop& loop_;
  Edge* edge_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string poll_room_;
  std::deque<std::pair<uint64_t, WirePtr>> answers_;
};

inline std::string Body(const WirePtr& w) { return w->tail.substr(2); }
inline boost::json::value Json(const WirePtr& w) { return boost::json::parse(Body(w)); }
inline std::string Code(const WirePtr& w) {
  return std::string(Json(w).at("error").at("code").as_string());
}

}  // namespace chatroomd::room::fakes
