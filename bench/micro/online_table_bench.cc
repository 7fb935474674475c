// The online table (presence/online_table.h) of one room at up to a million users: what a
// request pays on the room's loop (a heartbeat, a join, a leave and a rejoin), what the room's
// once-a-second tick pays (Expire plus Snapshot) in a steady room, and the bytes per user.
// Ids are 16 characters ("user-" and 11 digits), built beforehand in the order they are used,
// so that the timed loops touch the table at random and the ids in sequence, as a loop whose
// request has just been parsed does. Options are what Room gives the table by default: TTL
// 40 s, 1 s expiry buckets, a sample of 1,000 ids.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "chatroomd/presence/online_table.h"
#include "fixtures.h"

namespace chatroomd::bench {
namespace {

using presence::OnlineTable;

constexpr int64_t kTtlMs = 40'000;
constexpr int64_t kPollMs = 30'000;  // each user polls about this often

OnlineTable::Options RoomOptions() {
  return {.ttl_ms = kTtlMs, .sample_size = 1000, .bucket_ms = 1000};
}

std::string Id(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user-%011zu", i);
  return buf;
}

// The ids of users first..first+n-1 in a random order, each string built in that order.
std::vector<std::string> ShuffledIds(size_t first, size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), first);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i : order) out.push_back(Id(i));
  return out;
}

// A table of users 0..n-1 who joined over the last poll period (so their deadlines are spread
// as in a live room); returns the time of the last join.
int64_t Fill(OnlineTable& table, size_t n) {
  for (size_t i = 0; i < n; ++i) table.Touch(Id(i), static_cast<int64_t>(i) * kPollMs / n);
  return kPollMs;
}

// Bytes the allocator has handed out (in use, chunk headers included).
int64_t HeapBytes() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<int64_t>(m.uordblks + m.hblkhd);
}

// A heartbeat: Touch of a user who is online already (every poll of every user).
// range(0): users online.
void BM_OnlineHeartbeat(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  OnlineTable table(0, RoomOptions());
  int64_t now = Fill(table, n);
  const auto ids = ShuffledIds(0, n, 1);
  // The clock moves as the polls arrive: n users in a poll period.
  const size_t per_ms = std::max<size_t>(1, n / kPollMs);
  size_t i = 0, tick = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.Touch(ids[i], now));
    if (++i == n) i = 0;
    if (++tick == per_ms) {
      tick = 0;
      ++now;
    }
  }
  state.counters["online"] = static_cast<double>(table.count());
}
BENCHMARK(BM_OnlineHeartbeat)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

// A join: Touch of a user who is not in the table, into a room of range(0) users. A fixed
// 1,000,000 joins: from 1M users the table grows to 2M, through the wave of shard splits at
// about 1.5M (each split rehashes one 64 Ki-slot shard), so the average includes them.
void BM_OnlineJoin(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  OnlineTable table(0, RoomOptions());
  int64_t now = Fill(table, n);
  const size_t joins = static_cast<size_t>(state.max_iterations);
  const auto ids = ShuffledIds(n, joins, 2);
  const size_t shards_before = table.shard_count();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.Touch(ids[i], now));
    if (++i % 33 == 0) ++now;
  }
  state.counters["online"] = static_cast<double>(table.count());
  state.counters["shards_before"] = static_cast<double>(shards_before);
  state.counters["shards_after"] = static_cast<double>(table.shard_count());
}
BENCHMARK(BM_OnlineJoin)->Arg(1'000'000)->Iterations(1'000'000);

// A user leaves and comes back: Leave (the slot is erased, backward shift) and Touch (a fresh
// slot, queued in the expiry ring, counted). range(0): users online.
void BM_OnlineLeaveTouch(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  OnlineTable table(0, RoomOptions());
  int64_t now = Fill(table, n);
  const auto ids = ShuffledIds(0, n, 3);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.Leave(ids[i]));
    benchmark::DoNotOptimize(table.Touch(ids[i], now));
    if (++i == n) i = 0;
    if (i % 33 == 0) ++now;
  }
  state.counters["online"] = static_cast<double>(table.count());
}
BENCHMARK(BM_OnlineLeaveTouch)->Arg(1'000'000);

// A room past presence.spread_threshold moves its users into one part per other loop of its
// sect (OnlineTable::MoveInto), once, on its own loop. range(0): users online; two parts.
void BM_OnlineSpread(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto table = std::make_unique<OnlineTable>(0, RoomOptions());
    Fill(*table, n);
    auto a = std::make_unique<OnlineTable>(table->epoch_ms(), table->options());
    auto b = std::make_unique<OnlineTable>(table->epoch_ms(), table->options());
    state.ResumeTiming();
    table->MoveInto({a.get(), b.get()});
    state.PauseTiming();
    benchmark::DoNotOptimize(a->count() + b->count());
    table.reset();
    a.reset();
    b.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_OnlineSpread)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// One room in a steady state, simulated second by second. Each user polls every 25..35 s (a
// mean of 30 s, so about online/30 heartbeats a second, spread over the second); one poll in
// 40 is a user's last (a 20-minute visit), and of those half leave (Leave) and half just stop
// polling and expire after the TTL; as many new users join as go, so the room stays near its
// size (Little's law: joins/s = online / 1200 s).
class SteadyRoom {
 public:
  SteadyRoom(size_t online, uint64_t seed)
      : size_(online),
        ids_(ShuffledIds(0, online + online / 1200 * kMaxSeconds, seed)),
        table_(0, RoomOptions()),
        rng_(seed),
        wheel_(kWheel) {
    // The first visits start at random in the first poll period.
    for (uint32_t u = 0; u < online; ++u) wheel_[rng_() % (kPollMs / 1000)].push_back(u);
    next_id_ = online;
  }

  // The users' requests during second `second_`.
  void Requests() {
    std::vector<uint32_t> due = std::move(wheel_[second_ % kWheel]);
    wheel_[second_ % kWheel].clear();
    const size_t joins = std::min(size_ / 1200, ids_.size() - next_id_);
    for (size_t k = 0; k < joins; ++k) due.push_back(static_cast<uint32_t>(next_id_++));
    const int64_t start = second_ * 1000;
    for (size_t k = 0; k < due.size(); ++k) {
      const uint32_t u = due[k];
      const int64_t now = start + static_cast<int64_t>(k * 1000 / due.size());
      table_.Touch(ids_[u], now);
      ++heartbeats_;
      const uint64_t r = rng_();
      if (r % 40 == 0) {
        if ((r >> 8) % 2 == 0) table_.Leave(ids_[u]);  // else: never polls again
        continue;
      }
      wheel_[(second_ + 25 + (r >> 16) % 11) % kWheel].push_back(u);
    }
  }

  // What the room's tick does at the end of the second: drop the users past their TTL and
  // publish the snapshot. Returns the users expired.
  size_t Tick() {
    ++second_;
    const int64_t now = second_ * 1000;
    const size_t expired = table_.Expire(now);
    benchmark::DoNotOptimize(table_.Snapshot(now));
    return expired;
  }

  void Run(int64_t seconds) {
    for (int64_t s = 0; s < seconds; ++s) {
      Requests();
      Tick();
    }
  }

  OnlineTable& table() { return table_; }
  uint64_t TakeHeartbeats() { return std::exchange(heartbeats_, 0); }

  // Seconds of ids prepared for joins.
  static constexpr int64_t kMaxSeconds = 400;

 private:
  static constexpr size_t kWheel = 64;  // > the longest time between polls, in seconds

  const size_t size_;
  const std::vector<std::string> ids_;
  OnlineTable table_;
  std::mt19937_64 rng_;
  std::vector<std::vector<uint32_t>> wheel_;  // users by the second of their next poll
  size_t next_id_ = 0;
  int64_t second_ = 0;
  uint64_t heartbeats_ = 0;
};

// Reads 256 MiB, one word per cache line, so that the table is no longer in any cache: on a
// busy loop a second of other work passes between two ticks.
void EvictCaches() {
  static std::vector<uint64_t> buffer(size_t{32} << 20, 1);
  uint64_t sum = 0;
  for (size_t i = 0; i < buffer.size(); i += 8) sum += buffer[i];
  benchmark::DoNotOptimize(sum);
}

// The room's tick (Expire + Snapshot) once a second in a steady room of range(0) users. The
// simulation first runs 110 s (30 s of arrivals, then two TTLs) so that every user has been
// queued, checked and requeued at least twice and the ring holds a realistic mix of live and
// stale entries. Each iteration is one second: the requests (untimed), then the tick (the
// manual time, wall clock). core_pct is the tick's own CPU time (CLOCK_THREAD_CPUTIME_ID, so
// not inflated by waiting for a CPU on a shared machine) per second of simulated wall time, as
// a percentage of one core. range(1) = 1: the caches are emptied before each tick (untimed),
// so that every slot the tick reads comes from memory; 0: the tick follows the second's
// requests directly, which leaves part of the table cached.
void BM_OnlineAggregationStep(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const bool cold = state.range(1) != 0;
  SteadyRoom room(n, 4);
  constexpr int64_t kWarmupSeconds = kPollMs / 1000 + 2 * kTtlMs / 1000;
  room.Run(kWarmupSeconds);
  room.TakeHeartbeats();
  int64_t cpu_ns = 0;
  size_t expired = 0;
  for (auto _ : state) {
    room.Requests();
    if (cold) EvictCaches();
    const int64_t cpu0 = ThreadCpuNs();
    const auto wall0 = std::chrono::steady_clock::now();
    expired += room.Tick();
    const auto wall1 = std::chrono::steady_clock::now();
    cpu_ns += ThreadCpuNs() - cpu0;
    state.SetIterationTime(std::chrono::duration<double>(wall1 - wall0).count());
  }
  const auto steps = static_cast<double>(state.iterations());
  state.counters["core_pct"] = static_cast<double>(cpu_ns) / steps / 1e9 * 100;
  state.counters["cpu_us_per_step"] = static_cast<double>(cpu_ns) / steps / 1e3;
  state.counters["expired_per_step"] = static_cast<double>(expired) / steps;
  state.counters["heartbeats_per_step"] = static_cast<double>(room.TakeHeartbeats()) / steps;
  state.counters["online"] = static_cast<double>(room.table().count());
  state.counters["bytes_per_user"] =
      static_cast<double>(room.table().memory_bytes()) / static_cast<double>(room.table().count());
  state.SetLabel(cold ? "cold caches" : "after the requests");
}
BENCHMARK(BM_OnlineAggregationStep)
    ->ArgNames({"users", "cold"})
    ->Args({100'000, 0})
    ->Args({1'000'000, 0})
    ->Args({1'000'000, 1})
    ->UseManualTime()
    ->Iterations(120)
    ->Unit(benchmark::kMicrosecond);

// Bytes per online user: memory_bytes() (slots, directory, expiry ring, sample) of a table of
// range(0) users who joined over one poll period, and what the allocator handed out for it
// (mallinfo2: chunk headers and vector slack included; the ids are built before). The time is
// the build: range(0) joins.
void BM_OnlineTableMemory(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto ids = ShuffledIds(0, n, 5);
  double bytes = 0, heap = 0;
  for (auto _ : state) {
    const int64_t heap0 = HeapBytes();
    auto table = std::make_unique<OnlineTable>(0, RoomOptions());
    for (size_t i = 0; i < n; ++i) table->Touch(ids[i], static_cast<int64_t>(i) * kPollMs / n);
    bytes = static_cast<double>(table->memory_bytes());
    heap = static_cast<double>(HeapBytes() - heap0);
    state.PauseTiming();
    table.reset();
    state.ResumeTiming();
  }
  state.counters["bytes_per_user"] = bytes / static_cast<double>(n);
  state.counters["heap_bytes_per_user"] = heap / static_cast<double>(n);
}
BENCHMARK(BM_OnlineTableMemory)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

// The same steady room after the simulation: memory_bytes() per online user with the ring as
// the tick leaves it (live entries, and stale ones of users who left and came back).
void BM_OnlineSteadyMemory(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  SteadyRoom room(n, 6);
  for (auto _ : state) room.Run(kPollMs / 1000 + 2 * kTtlMs / 1000);
  state.counters["bytes_per_user"] =
      static_cast<double>(room.table().memory_bytes()) / static_cast<double>(room.table().count());
  state.counters["online"] = static_cast<double>(room.table().count());
  state.counters["shards"] = static_cast<double>(room.table().shard_count());
}
BENCHMARK(BM_OnlineSteadyMemory)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatroomd::bench
