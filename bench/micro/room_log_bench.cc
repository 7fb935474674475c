// The room log: Append when a message becomes visible (steady state: the window is full and
// every append evicts), Read for every poll answered and every distinct waiter woken,
// HasUnread for every held waiter on a wake. Window 2000, priority list 1000.
#include <benchmark/benchmark.h>

#include <memory>

#include "chatroomd/room/room_log.h"
#include "fixtures.h"

namespace chatroomd::bench {
namespace {

constexpr uint32_t kWindow = 2000;
constexpr uint32_t kPriority = 1000;
constexpr uint32_t kLimit = 100;

room::MessagePtr Bare(uint64_t seq, bool priority) {
  auto m = std::make_shared<room::EncodedMessage>();
  m->seq = seq;
  m->priority = priority;
  return m;
}

// A full log: seqs 1..9000, every third one priority, so both lists are full and both have
// evicted (the normal window holds 4002..9000, the priority list 6003..9000).
room::RoomLog FullLog() {
  room::RoomLog log(kWindow, kPriority);
  for (uint64_t seq = 1; seq <= 9000; ++seq) log.Append(Bare(seq, seq % 3 == 0));
  return log;
}

void BM_RoomLogAppend(benchmark::State& state) {
  room::RoomLog log = FullLog();
  uint64_t seq = log.head();
  // Messages are made in batches outside the timing; the evicted one is freed inside it, as
  // in the room (the log holds the last reference).
  constexpr size_t kBatch = 1 << 16;
  std::vector<room::MessagePtr> batch;
  size_t next = kBatch;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      batch.clear();
      for (size_t i = 0; i < kBatch; ++i) batch.push_back(Bare(seq + 1 + i, false));
      next = 0;
      state.ResumeTiming();
    }
    log.Append(std::move(batch[next++]));
    ++seq;
  }
  if (log.window_count() != kWindow) state.SkipWithError("window not full");
}
BENCHMARK(BM_RoomLogAppend);

// range(0): how far the normal cursor is behind the head: 0 (nothing unread), 1, 100, or
// far (older than the window: a gap, answered with the newest `limit`).
void BM_RoomLogRead(benchmark::State& state) {
  const room::RoomLog log = FullLog();
  const int64_t behind = state.range(0);
  Cursor c{.normal = log.head(), .priority = log.head()};
  if (behind < 0) {
    c.normal = log.evicted_normal_seq() - 1000;
  } else {
    // Counting normal messages back from the head (every third seq is priority).
    uint64_t seq = log.head();
    for (int64_t n = 0; n < behind; --seq) {
      if (seq % 3 != 0) ++n;
    }
    c.normal = seq;
  }
  size_t returned = 0;
  bool gap = false;
  for (auto _ : state) {
    room::ReadResult r = log.Read(c, kLimit);
    returned = r.messages.size();
    gap = r.gap;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(returned));
  state.SetLabel(std::to_string(returned) + " returned" + (gap ? ", gap" : ""));
}
BENCHMARK(BM_RoomLogRead)->ArgName("behind")->Arg(0)->Arg(1)->Arg(100)->Arg(-1);

// What WakeHeld asks of every held waiter before anything else.
void BM_RoomLogHasUnread(benchmark::State& state) {
  const room::RoomLog log = FullLog();
  Cursor c{.normal = log.head() - 1, .priority = log.head()};
  for (auto _ : state) {
    benchmark::DoNotOptimize(c);
    bool unread = log.HasUnread(c);
    benchmark::DoNotOptimize(unread);
  }
}
BENCHMARK(BM_RoomLogHasUnread);

}  // namespace
}  // namespace chatroomd::bench
