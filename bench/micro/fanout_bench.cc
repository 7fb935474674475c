// The fan-out path on the room side, end to end: N polls held in one room, one admin Send,
// and the time until every waiter's Deliver has run on the front loop. That covers the store
// write (RocksDB, WAL not synced) and its completion, the wake (one Read and one response for
// every distinct cursor/limit/format, Unhold for every waiter), the DeliveryBatch post and N
// Deliver calls. N = 1 is the fixed cost; the slope above it is the cost per waiter.
//
// Wall time depends on how soon each woken thread gets a CPU, which on a shared machine is
// noise. So each round also reads the CPU time of the room loop's thread and the front loop's
// thread (CLOCK_THREAD_CPUTIME_ID, read on the loop itself before and after the round):
// `room_cpu_ns_per_waiter` is the room's work (Send, the durable completion, the wake walk)
// divided by N, `front_cpu_ns_per_waiter` the Deliver side. `hold_cpu_ns_per_poll` is the
// room loop's CPU time per Room::Poll that is held (untimed set-up of each round): every woken
// waiter polls again, so in steady state it is paid once per waiter per wake as well.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "chatroomd/metrics/metrics.h"
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "chatroomd/store/store.h"
#include "fixtures.h"

namespace chatroomd::bench {
namespace {

// What one timed wake waits for: `remaining` answers; the last one records when it ran.
struct Round {
  std::atomic<int64_t> remaining{0};
  std::atomic<int64_t> bad{0};  // answers that were not a 200 with one message
  std::promise<int64_t> done;   // steady ns of the last Deliver
};

// A held poll's connection, reduced to counting its answer on the front loop.
class CountingClient : public room::Client {
 public:
  CountingClient(Loop& loop, std::string user) : loop_(loop), user_(std::move(user)) {}
  Loop& loop() override { return loop_; }
  void Deliver(uint64_t serial, WirePtr response) override {
    if (serial != serial_ || !round_) return;
    if (response->status != 200 || response->messages != 1) round_->bad.fetch_add(1);
    if (round_->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      round_->done.set_value(SteadyNowNs());
    }
  }
  const std::string& user() const { return user_; }
  // Set by the benchmark thread before the poll is posted (the post orders it).
  void Arm(uint64_t serial, Round* round) {
    serial_ = serial;
    round_ = round;
  }

 private:
  Loop& loop_;
  std::string user_;
  uint64_t serial_ = 0;
  Round* round_ = nullptr;
};

// A room host on its own loop, a front loop for the clients, a real store in a temp dir.
class FanoutHarness {
 public:
  FanoutHarness() : store_("fanout") {
    if (!store_.store) return;
    room_loop_ = std::make_unique<Loop>("sect-bench-0", 0);
    front_loop_ = std::make_unique<Loop>("http-bench-0", 1);
    host_ = std::make_unique<room::RoomHost>(*room_loop_, *store_.store,
                                             std::make_shared<room::RoomSettings>(), shared_,
                                             registry_.NewSlot());
    sink_ = std::make_shared<CallbackClient>(*front_loop_, [](WirePtr) {});
    room_loop_->Start();
    front_loop_->Start();
  }

  ~FanoutHarness() {
    if (!store_.store) return;
    room_loop_->Abort();
    front_loop_->Abort();
    host_.reset();
  }

  bool ok() const { return store_.store != nullptr; }
  Loop& room_loop() { return *room_loop_; }
  Loop& front_loop() { return *front_loop_; }
  room::RoomHost& host() { return *host_; }

  // Sends as admin (no membership, no rate limit) and returns at once; the answer is dropped.
  void Send(const std::string& room, std::string body) {
    room_loop_->Post([this, room, body = std::move(body)]() mutable {
      room::Caller caller{sink_, ++serial_, "admin", true, BodyFormat::kJson};
      room::SendArgs args;
      args.body = std::move(body);
      host_->Get(room)->Send(std::move(caller), std::move(args));
    });
  }

  // Creates the room (a durable write) and waits for the join's answer.
  int Create(const std::string& room) {
    std::promise<int> p;
    auto creator =
        std::make_shared<CallbackClient>(*front_loop_, [&p](WirePtr w) { p.set_value(w->status); });
    room_loop_->Post([&, creator] {
      host_->Get(room)->Join(room::Caller{creator, 1, "admin", true, BodyFormat::kJson}, {});
    });
    return p.get_future().get();
  }

 private:
  TempStore store_;
  room::SharedRoomState shared_;
  metrics::Registry registry_;
  std::unique_ptr<Loop> room_loop_;
  std::unique_ptr<Loop> front_loop_;
  std::unique_ptr<room::RoomHost> host_;
  std::shared_ptr<room::Client> sink_;  // the sender
  uint64_t serial_ = 1000;
};

// range(0): held polls N; range(1): distinct poll limits among them (1: every waiter gets the
// same shared response; 100: more distinct (cursor, limit, format) keys than WakeHeld caches).
void BM_FanoutWake(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int64_t limits = state.range(1);
  FanoutHarness h;
  if (!h.ok()) return state.SkipWithError("store did not open");
  const std::string room = "fanout-" + std::to_string(n) + "-" + std::to_string(limits);
  if (h.Create(room) != 200) return state.SkipWithError("room not created");

  std::vector<std::shared_ptr<CountingClient>> clients;
  clients.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    clients.push_back(
        std::make_shared<CountingClient>(h.front_loop(), "user-" + std::to_string(i)));
  }
  const std::string body = SampleBody(40);
  uint64_t serial = 1;
  int64_t total_ns = 0, room_cpu_ns = 0, front_cpu_ns = 0, hold_cpu_ns = 0;

  for (auto _ : state) {
    Round round;
    round.remaining.store(n);
    ++serial;
    for (auto& c : clients) c->Arm(serial, &round);
    // Hold every poll (not timed, but its CPU time is counted): no cursor means "from the
    // head", so each one waits.
    size_t held = RunOn(h.room_loop(), [&] {
      const int64_t cpu = ThreadCpuNs();
      room::Room* r = h.host().Get(room);
      for (int64_t i = 0; i < n; ++i) {
        const auto& c = clients[static_cast<size_t>(i)];
        room::PollArgs args;
        args.limit = static_cast<uint32_t>(100 - i % limits);
        args.timeout_ms = 60000;
        r->Poll(room::Caller{c, serial, c->user(), false, BodyFormat::kJson}, args);
      }
      hold_cpu_ns += ThreadCpuNs() - cpu;
      return r->held_count();
    });
    if (held != static_cast<size_t>(n)) return state.SkipWithError("polls were not held");

    const int64_t room_cpu = RunOn(h.room_loop(), ThreadCpuNs);
    const int64_t front_cpu = RunOn(h.front_loop(), ThreadCpuNs);
    auto done = round.done.get_future();
    int64_t start = SteadyNowNs();
    h.Send(room, body);
    int64_t end = done.get();
    // Not timed: let the front loop finish the batch before the clients are armed again.
    front_cpu_ns += RunOn(h.front_loop(), ThreadCpuNs) - front_cpu;
    room_cpu_ns += RunOn(h.room_loop(), ThreadCpuNs) - room_cpu;
    total_ns += end - start;
    state.SetIterationTime(static_cast<double>(end - start) / 1e9);
    if (round.bad.load() != 0) return state.SkipWithError("a waiter got a wrong answer");
  }
  state.SetItemsProcessed(state.iterations() * n);
  const auto rounds = static_cast<double>(state.iterations());
  state.counters["ns_per_waiter"] = static_cast<double>(total_ns) / (rounds * n);
  state.counters["room_cpu_ns_per_waiter"] = static_cast<double>(room_cpu_ns) / (rounds * n);
  state.counters["front_cpu_ns_per_waiter"] = static_cast<double>(front_cpu_ns) / (rounds * n);
  state.counters["hold_cpu_ns_per_poll"] = static_cast<double>(hold_cpu_ns) / (rounds * n);
}
BENCHMARK(BM_FanoutWake)
    ->ArgNames({"held", "limits"})
    ->Args({1, 1})
    ->Args({1000, 1})
    ->Args({10000, 1})
    ->Args({10000, 100})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.3);

// For scale: the clock read that the room does per held poll (Ready, Poll, Hold) and per
// released one (Unhold -> ReleaseUser).
void BM_TimerWheelNowMs(benchmark::State& state) {
  for (auto _ : state) {
    int64_t now = TimerWheel::SteadyNowMs();
    benchmark::DoNotOptimize(now);
  }
}
BENCHMARK(BM_TimerWheelNowMs);

}  // namespace
}  // namespace chatroomd::bench
