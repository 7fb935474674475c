// A store for room tests that can hold back completions: forwards to a real store, and while
// gated keeps write completions (and priority reads) until the test releases them, so that
// several sends become visible in one wake of the room, deterministically. It can also fail
// counters-only writes (fail_counters).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/store/store.h"

namespace chatroomd::room::fakes {

using namespace std::chrono_literals;

// Forwards to a real store; while gated, completed writes are kept (not run) until Release.
class GatedStore : public store::Store {
 public:
  explicit GatedStore(store::Store& real) : real_(real) {}

  // While set, counters-only writes (an empty room) fail at once; those that reach the store
  // are counted by their records.
  std::atomic<bool> fail_counters{false};
  std::atomic<int> counter_records{0};

  void Submit(std::unique_ptr<store::WriteRequest> request) override {
    if (request->room.empty()) {
      if (fail_counters.load()) {
        return store::Complete<Status>(request->done_loop, std::move(request->done),
                                       MakeError(ErrorCode::kInternal, "injected"));
      }
      counter_records += static_cast<int>(request->counters.size());
    }
    // Kept back completions are run by the test on the room's loop; the others go there.
    Loop* loop = request->done_loop;
    request->done_loop = nullptr;
    auto done = std::move(request->done);
    request->done = [this, loop, done = std::move(done)](Status s) mutable {
      std::unique_lock lock(mu_);
      if (gated_) {
        held_.emplace_back(std::move(done), std::move(s));
        cv_.notify_all();
        return;
      }
      lock.unlock();
      if (done) store::Complete<Status>(loop, std::move(done), std::move(s));
    };
    real_.Submit(std::move(request));
  }
  void LoadRoom(std::string room, uint32_t window_size, uint32_t priority_size, Loop* done_loop,
                std::function<void(Result<store::RoomSnapshot>)> done) override {
    real_.LoadRoom(std::move(room), window_size, priority_size, done_loop, std::move(done));
  }
  void History(std::string room, std::optional<uint64_t> before, uint32_t limit, Loop* done_loop,
               std::function<void(Result<store::HistoryPage>)> done) override {
    real_.History(std::move(room), before, limit, done_loop, std::move(done));
  }
  void ReadMessage(std::string room, uint64_t seq, Loop* done_loop,
                   std::function<void(Result<std::optional<store::MessageRecord>>)> done) override {
    real_.ReadMessage(std::move(room), seq, done_loop, std::move(done));
  }
  void PriorityAfter(std::string room, uint64_t after, uint32_t limit, Loop* done_loop,
                     std::function<void(Result<std::vector<store::MessageRecord>>)> done) override {
    using R = Result<std::vector<store::MessageRecord>>;
    // Read on a reader thread; the result then goes to `done_loop`, now or when released.
    real_.PriorityAfter(std::move(room), after, limit, nullptr,
                        [this, done_loop, done = std::move(done)](R r) {
                          auto deliver = [done_loop, done, r = std::make_shared<R>(std::move(r))] {
                            store::Complete<R>(done_loop, done, *r);
                          };
                          std::unique_lock lock(mu_);
                          if (reads_gated_) {
                            reads_.push_back(std::move(deliver));
                            cv_.notify_all();
                            return;
                          }
                          lock.unlock();
                          deliver();
                        });
  }
  void LookupDedup(std::string room, std::string sender, std::string client_msg_id, Loop* done_loop,
                   std::function<void(Result<std::optional<uint64_t>>)> done) override {
    real_.LookupDedup(std::move(room), std::move(sender), std::move(client_msg_id), done_loop,
                      std::move(done));
  }
  void ReadCounters(
      std::string room, std::vector<store::CounterKey> keys, Loop* done_loop,
      std::function<void(Result<std::vector<std::optional<std::string>>>)> done) override {
    real_.ReadCounters(std::move(room), std::move(keys), done_loop, std::move(done));
  }
  store::StoreStats Stats() const override { return real_.Stats(); }
  void Close() override {}

  void Gate() {
    std::lock_guard lock(mu_);
    gated_ = true;
  }
  // Waits until `n` completions are kept back.
  bool WaitHeld(size_t n, std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, within, [&] { return held_.size() >= n; });
  }
  // The same for priority reads: while gated, a read's result (already read) is kept back.
  void GateReads() {
    std::lock_guard lock(mu_);
    reads_gated_ = true;
  }
  bool WaitReads(size_t n, std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, within, [&] { return reads_.size() >= n; });
  }
  // Ungates reads and completes the ones kept back (on the calling thread).
  void ReleaseReads() {
    std::vector<std::function<void()>> reads;
    {
      std::lock_guard lock(mu_);
      reads_gated_ = false;
      reads = std::move(reads_);
    }
    for (auto& r : reads) r();
  }
  // Once `n` write completions are kept back: ungates and runs them all in one handler on
  // `loop` (several sends become visible in one wake).
  bool ReleaseOn(size_t n, Loop& loop) {
    if (!WaitHeld(n)) return false;
    loop.Post([held = Ungate()]() mutable {
      for (auto& [done, status] : held) done(std::move(status));
    });
    return true;
  }
  // Ungates and hands over what was kept back, in completion order.
  std::vector<std::pair<std::function<void(Status)>, Status>> Ungate() {
    std::lock_guard lock(mu_);
    gated_ = false;
    return std::move(held_);
  }

 private:
  store::Store& real_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool gated_ = false;
  std::vector<std::pair<std::function<void(Status)>, Status>> held_;
  bool reads_gated_ = false;
  std::vector<std::function<void()>> reads_;
};

}  // namespace chatroomd::room::fakes
