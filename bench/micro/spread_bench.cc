// A big room's heartbeats on its own loop, and with its online table spread over its sect's
// loops (room/room_online.h). A real sect: N loops, each with a RoomHost (peers of one
// another), a real store in a temp dir; one room of a million online users on loop 0, fed the
// way front loops feed it: edge reports of 1,000 users whose polls were taken (16-character
// ids, in a random order). Each round posts 100 reports (100,000 heartbeats) and waits until
// every loop has applied them. Counters, per heartbeat, from each loop's own CPU clock:
// `room_cpu_ns` (the room's loop: the report, the unique-viewer counter, and, alone, the whole
// table; spread, the hashing and batching plus its own part), `parts_cpu_ns` (the sect's other
// loops: their parts), `total_cpu_ns`. Manual time is the round's wall time.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "chatroomd/store/store.h"
#include "fixtures.h"

namespace chatroomd::bench {
namespace {

constexpr size_t kReportUsers = 1000;
constexpr size_t kRoundReports = 100;

// A sect of `loops` loops and hosts over one store.
class SectHarness {
 public:
  SectHarness(size_t loops, uint32_t spread_threshold) : store_("spread") {
    if (!store_.store) return;
    auto settings = std::make_shared<room::RoomSettings>();
    settings->spread_threshold = spread_threshold;
    std::vector<room::RoomHost*> peers;
    for (size_t i = 0; i < loops; ++i) {
      loops_.push_back(std::make_unique<Loop>("sect-bench-" + std::to_string(i), i));
      hosts_.push_back(std::make_unique<room::RoomHost>(*loops_.back(), *store_.store, settings,
                                                        shared_, registry_.NewSlot()));
      peers.push_back(hosts_.back().get());
    }
    for (auto& h : hosts_) h->set_peers(peers);
    client_loop_ = std::make_unique<Loop>("client", loops);
    for (auto& l : loops_) l->Start();
    client_loop_->Start();
  }

  ~SectHarness() {
    if (!store_.store) return;
    for (auto& l : loops_) l->Abort();
    client_loop_->Abort();
    hosts_.clear();
  }

  bool ok() const { return store_.store != nullptr; }

  int Create(const std::string& room) {
    std::promise<int> p;
    auto creator = std::make_shared<CallbackClient>(*client_loop_,
                                                    [&p](WirePtr w) { p.set_value(w->status); });
    loops_[0]->Post([&, creator] {
      hosts_[0]->Get(room)->Join(room::Caller{creator, 1, "admin", true, BodyFormat::kJson}, {});
    });
    return p.get_future().get();
  }

  void Report(const std::string& room, std::vector<std::string> users) {
    room::EdgeReport r;
    r.polled = std::move(users);
    hosts_[0]->PostEdgeReport(room, std::move(r));
  }

  // Every loop has done what was posted to it, and what that sent on (the room's batches
  // leave at the end of its turn, the loop's outbox after that).
  void Settle() {
    for (int i = 0; i < 2; ++i) RunOn(*loops_[0], [] { return 0; });
    for (auto& l : loops_) RunOn(*l, [] { return 0; });
  }

  // Every host's upkeep tick, the parts' loops first (a big room spreads at its tick).
  void Tick() {
    Settle();
    for (size_t i = hosts_.size(); i-- > 0;) {
      room::RoomHost* h = hosts_[i].get();
      RunOn(h->loop(), [h] {
        h->Sweep(h->NowMs());
        return 0;
      });
    }
    Settle();
  }

  std::vector<int64_t> LoopCpu() {
    std::vector<int64_t> out;
    for (auto& l : loops_) out.push_back(RunOn(*l, ThreadCpuNs));
    return out;
  }

  template <typename T>
  T AtRoom(const std::string& room, T (*f)(room::Room&)) {
    room::RoomHost* h = hosts_[0].get();
    return RunOn(h->loop(), [&] { return f(*h->Find(room)); });
  }

 private:
  TempStore store_;
  room::SharedRoomState shared_;
  metrics::Registry registry_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::unique_ptr<room::RoomHost>> hosts_;
  std::unique_ptr<Loop> client_loop_;
};

std::string Id(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user-%011zu", i);
  return buf;
}

// range(0): loops in the sect; range(1): 1 to spread the room (threshold 100,000), 0 to keep
// it on its own loop.
void BM_BigRoomHeartbeats(benchmark::State& state) {
  const size_t loops = static_cast<size_t>(state.range(0));
  const bool spread = state.range(1) != 0;
  constexpr size_t kUsers = 1'000'000;
  SectHarness h(loops, spread ? 100'000 : 0);
  if (!h.ok()) return state.SkipWithError("store did not open");
  const std::string room = "big";
  if (h.Create(room) != 200) return state.SkipWithError("room not created");

  std::vector<size_t> order(kUsers);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  auto report_of = [&](size_t at) {
    std::vector<std::string> users;
    users.reserve(kReportUsers);
    for (size_t i = 0; i < kReportUsers; ++i) users.push_back(Id(order[(at + i) % kUsers]));
    return users;
  };
  for (size_t at = 0; at < kUsers; at += kReportUsers) {
    h.Report(room, report_of(at));
    if (at % 100'000 == 0) h.Settle();
  }
  h.Tick();  // spreads (or not)
  h.Tick();
  std::shuffle(order.begin(), order.end(), std::mt19937_64(8));

  size_t at = 0;
  int64_t room_cpu = 0, parts_cpu = 0, heartbeats = 0;
  for (auto _ : state) {
    std::vector<std::vector<std::string>> reports;
    for (size_t r = 0; r < kRoundReports; ++r, at += kReportUsers) reports.push_back(report_of(at));
    const std::vector<int64_t> before = h.LoopCpu();
    const auto start = std::chrono::steady_clock::now();
    for (auto& users : reports) h.Report(room, std::move(users));
    h.Settle();
    const auto wall = std::chrono::steady_clock::now() - start;
    const std::vector<int64_t> after = h.LoopCpu();
    room_cpu += after[0] - before[0];
    for (size_t i = 1; i < loops; ++i) parts_cpu += after[i] - before[i];
    heartbeats += kRoundReports * kReportUsers;
    state.SetIterationTime(std::chrono::duration<double>(wall).count());
  }
  h.Tick();
  const auto per = [&](int64_t ns) {
    return benchmark::Counter(static_cast<double>(ns) / static_cast<double>(heartbeats));
  };
  state.counters["room_cpu_ns"] = per(room_cpu);
  state.counters["parts_cpu_ns"] = per(parts_cpu);
  state.counters["total_cpu_ns"] = per(room_cpu + parts_cpu);
  state.counters["online"] =
      static_cast<double>(h.AtRoom<int64_t>(room, [](room::Room& r) { return r.online(); }));
  state.counters["spread"] =
      h.AtRoom<bool>(room, [](room::Room& r) { return r.online_spread(); }) ? 1 : 0;
  state.SetItemsProcessed(heartbeats);
}
BENCHMARK(BM_BigRoomHeartbeats)
    ->Args({1, 0})
    ->Args({2, 1})
    ->Args({4, 1})
    ->Iterations(20)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatroomd::bench
