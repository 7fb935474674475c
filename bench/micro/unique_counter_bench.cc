// Unique viewers (presence/unique_counter.h): a poll adds its user to the room's hour and day
// counters, so Add is on the poll path; Count runs for /stats and once per aggregation; Merge
// runs per day of a /visitors range (up to 366).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "chatroomd/common/ids.h"
#include "chatroomd/presence/unique_counter.h"

namespace chatroomd::bench {
namespace {

std::vector<uint64_t> Users(size_t n, uint64_t seed) {
  std::vector<uint64_t> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(UserHash("u" + std::to_string(seed) + "-" + std::to_string(i)));
  }
  return out;
}

void BM_UserHash(benchmark::State& state) {
  const std::string id = "user-0123456789ab";  // 16 characters
  for (auto _ : state) benchmark::DoNotOptimize(UserHash(id));
}
BENCHMARK(BM_UserHash);

// range(0): distinct users in the counter (exact below 10,000, dense above); the adds cycle
// over them, so they are repeats, as most of a room's polls are.
void BM_UniqueAdd(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto users = Users(n, 1);
  presence::UniqueCounter c;
  for (uint64_t h : users) c.Add(h);
  size_t i = 0;
  for (auto _ : state) {
    c.Add(users[i]);
    if (++i == n) i = 0;
  }
  state.SetLabel(c.exact() ? "exact" : "dense");
}
BENCHMARK(BM_UniqueAdd)->Arg(100)->Arg(5000)->Arg(1000000);

void BM_UniqueCountDense(benchmark::State& state) {
  presence::UniqueCounter c;
  for (uint64_t h : Users(1000000, 2)) c.Add(h);
  for (auto _ : state) benchmark::DoNotOptimize(c.Count());
}
BENCHMARK(BM_UniqueCountDense);

void BM_UniqueMergeDense(benchmark::State& state) {
  presence::UniqueCounter a, b;
  for (uint64_t h : Users(200000, 3)) a.Add(h);
  for (uint64_t h : Users(200000, 4)) b.Add(h);
  for (auto _ : state) {
    presence::UniqueCounter day = a;
    day.Merge(b);
    benchmark::DoNotOptimize(day);
  }
}
BENCHMARK(BM_UniqueMergeDense);

}  // namespace
}  // namespace chatroomd::bench
