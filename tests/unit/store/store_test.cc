// The store against a real RocksDB in a fresh temporary directory per test, with a fake clock
// (the fixture is store_fixture.h).
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "proto/chatroomd/store.pb.h"
#include "store/column_families.h"
#include "store/rocks_store.h"
#include "store_fixture.h"

namespace chatroomd::store {
namespace {

TEST_F(StoreTest, LoadRoomOfUnknownRoomDoesNotExist) {
  Open();
  RoomSnapshot snapshot = Load("nobody", 10, 10);
  EXPECT_FALSE(snapshot.exists);
  EXPECT_TRUE(snapshot.normal.empty());
  EXPECT_TRUE(snapshot.priority.empty());
}

TEST_F(StoreTest, LoadRoomRoundTripsWindowAndEvictedSeqs) {
  Open();
  auto messages = TenMessages();
  messages[0].client_msg_id = "c-1";
  WriteMessages("r", messages);
  // A neighbour whose id extends ours must never leak into our ranges.
  WriteMessages("r.x", {Msg(11), Msg(12, true)});

  RoomSnapshot s = Load("r", 4, 2);
  ASSERT_TRUE(s.exists);
  EXPECT_EQ(s.head_seq, 10u);
  EXPECT_EQ(s.created_ms, kCreated);
  EXPECT_EQ(Seqs(s.normal), (SeqList{5, 7, 8, 10}));
  EXPECT_EQ(s.evicted_normal_seq, 4u);
  EXPECT_EQ(Seqs(s.priority), (SeqList{6, 9}));
  EXPECT_EQ(s.evicted_priority_seq, 3u);
  for (const auto& m : s.normal) EXPECT_FALSE(m.priority);
  for (const auto& m : s.priority) EXPECT_TRUE(m.priority);
  EXPECT_EQ(s.normal.back().sender, "alice");
  EXPECT_EQ(s.normal.back().type, "text");
  EXPECT_EQ(s.normal.back().body, "body 10");
  EXPECT_EQ(s.normal.back().ts_ms, kT0);
  EXPECT_FALSE(s.normal.back().client_msg_id.has_value());
  EXPECT_EQ(s.priority.front().type, "notice");

  // The window exactly fits: nothing evicted.
  s = Load("r", 7, 3);
  EXPECT_EQ(Seqs(s.normal), (SeqList{1, 2, 4, 5, 7, 8, 10}));
  EXPECT_EQ(s.evicted_normal_seq, 0u);
  EXPECT_EQ(s.normal.front().client_msg_id, "c-1");
  EXPECT_EQ(Seqs(s.priority), (SeqList{3, 6, 9}));
  EXPECT_EQ(s.evicted_priority_seq, 0u);

  // One short: the oldest is evicted.
  s = Load("r", 6, 2);
  EXPECT_EQ(Seqs(s.normal), (SeqList{2, 4, 5, 7, 8, 10}));
  EXPECT_EQ(s.evicted_normal_seq, 1u);

  // Empty windows: only the evicted seqs.
  s = Load("r", 0, 0);
  EXPECT_TRUE(s.normal.empty());
  EXPECT_TRUE(s.priority.empty());
  EXPECT_EQ(s.evicted_normal_seq, 10u);
  EXPECT_EQ(s.evicted_priority_seq, 9u);

  s = Load("r.x", 10, 10);
  EXPECT_EQ(Seqs(s.normal), (SeqList{11}));
  EXPECT_EQ(Seqs(s.priority), (SeqList{12}));
}

TEST_F(StoreTest, LoadRoomSkipsARunOfPriorityMessages) {
  Open();
  std::vector<MessageRecord> messages{Msg(1)};
  for (uint64_t seq = 2; seq <= 101; ++seq) messages.push_back(Msg(seq, true));
  messages.push_back(Msg(102));
  messages.push_back(Msg(103));
  WriteMessages("r", messages);

  RoomSnapshot s = Load("r", 2, 1);
  EXPECT_EQ(Seqs(s.normal), (SeqList{102, 103}));
  EXPECT_EQ(s.evicted_normal_seq, 1u);  // within the scan budget: exact
  EXPECT_EQ(Seqs(s.priority), (SeqList{101}));
  EXPECT_EQ(s.evicted_priority_seq, 100u);
}

TEST_F(StoreTest, LoadRoomPastTheScanBudgetIsConservative) {
  Open();
  std::vector<MessageRecord> messages{Msg(1)};
  for (uint64_t seq = 2; seq <= 401; ++seq) messages.push_back(Msg(seq, true));
  messages.push_back(Msg(402));
  messages.push_back(Msg(403));
  WriteMessages("r", messages);

  RoomSnapshot s = Load("r", 3, 1);
  // Only two normal messages are within reach; the evicted seq may overstate the true one (1)
  // but must say that something older exists, and stay below the window.
  EXPECT_EQ(Seqs(s.normal), (SeqList{402, 403}));
  EXPECT_GE(s.evicted_normal_seq, 1u);
  EXPECT_LT(s.evicted_normal_seq, 402u);
}

TEST_F(StoreTest, HeadSeqAndMessagesSurviveReopen) {
  Open();
  WriteMessages("r", TenMessages());
  ASSERT_TRUE(Write(Req("empty", 0, std::nullopt, 42)).ok());
  Reopen();

  RoomSnapshot s = Load("r", 3, 3);
  ASSERT_TRUE(s.exists);
  EXPECT_EQ(s.head_seq, 10u);
  EXPECT_EQ(s.created_ms, kCreated);
  EXPECT_EQ(Seqs(s.normal), (SeqList{7, 8, 10}));
  EXPECT_EQ(Seqs(s.priority), (SeqList{3, 6, 9}));

  RoomSnapshot empty = Load("empty", 3, 3);
  EXPECT_TRUE(empty.exists);
  EXPECT_EQ(empty.head_seq, 0u);
  EXPECT_EQ(empty.created_ms, 42);
}

TEST_F(StoreTest, CreatedMsIsKeptWhenLaterWritesOmitIt) {
  Open();
  // Across batches: the writer reads the stored meta.
  ASSERT_TRUE(Write(Req("a", 0, std::nullopt, 1234)).ok());
  ASSERT_TRUE(Write(Req("a", 1, Msg(1), /*created_ms=*/0)).ok());
  RoomSnapshot s = Load("a", 10, 10);
  EXPECT_EQ(s.created_ms, 1234);
  EXPECT_EQ(s.head_seq, 1u);

  // Within one batch (the writer is held so both land in the next batch).
  WriterBlocker blocker(*store_);
  std::vector<std::unique_ptr<WriteRequest>> requests;
  requests.push_back(Req("b", 0, std::nullopt, 777));
  requests.push_back(Req("b", 1, Msg(1), 0));
  requests.push_back(Req("b", 2, Msg(2), 0));
  std::thread release([&] { blocker.Release(); });
  WriteAll(std::move(requests));
  release.join();
  s = Load("b", 10, 10);
  EXPECT_EQ(s.created_ms, 777);
  EXPECT_EQ(s.head_seq, 2u);  // the last request for the room wins
  EXPECT_EQ(Seqs(s.normal), (SeqList{1, 2}));
}

TEST_F(StoreTest, HistoryPagesBackwardWithPriorityIncluded) {
  Open();
  WriteMessages("r", TenMessages());

  HistoryPage page = History("r", std::nullopt, 4);
  EXPECT_TRUE(page.room_exists);
  EXPECT_EQ(Seqs(page.messages), (SeqList{7, 8, 9, 10}));
  EXPECT_TRUE(page.messages[2].priority);
  ASSERT_EQ(page.next_before, 7u);

  page = History("r", 7, 4);
  EXPECT_EQ(Seqs(page.messages), (SeqList{3, 4, 5, 6}));
  ASSERT_EQ(page.next_before, 3u);

  page = History("r", 3, 4);
  EXPECT_EQ(Seqs(page.messages), (SeqList{1, 2}));
  EXPECT_FALSE(page.next_before.has_value());

  // Exactly the rest: no further page.
  page = History("r", 5, 4);
  EXPECT_EQ(Seqs(page.messages), (SeqList{1, 2, 3, 4}));
  EXPECT_FALSE(page.next_before.has_value());

  page = History("r", 1, 4);
  EXPECT_TRUE(page.room_exists);
  EXPECT_TRUE(page.messages.empty());
  EXPECT_FALSE(page.next_before.has_value());

  // Past the head is the same as the head.
  page = History("r", 1000, 2);
  EXPECT_EQ(Seqs(page.messages), (SeqList{9, 10}));

  page = History("nobody", std::nullopt, 4);
  EXPECT_FALSE(page.room_exists);
  EXPECT_TRUE(page.messages.empty());
}

TEST_F(StoreTest, PriorityAfterReturnsOldestFirst) {
  Open();
  WriteMessages("r", TenMessages());
  WriteMessages("r2", {Msg(1, true)});

  auto messages = PriorityAfter("r", 0, 2);
  EXPECT_EQ(Seqs(messages), (SeqList{3, 6}));
  EXPECT_EQ(messages[0].body, "body 3");
  EXPECT_EQ(Seqs(PriorityAfter("r", 3, 10)), (SeqList{6, 9}));
  EXPECT_EQ(Seqs(PriorityAfter("r", 4, 10)), (SeqList{6, 9}));
  EXPECT_TRUE(PriorityAfter("r", 9, 10).empty());
  EXPECT_TRUE(PriorityAfter("r", 0, 0).empty());
  EXPECT_TRUE(PriorityAfter("nobody", 0, 10).empty());
}

TEST_F(StoreTest, DedupLookup) {
  Open();
  WriteMessages("r", {Msg(1, false, kT0, "c-1"), Msg(2, true, kT0, "c-2"), Msg(3)});
  EXPECT_EQ(Dedup("r", "alice", "c-1"), 1u);
  EXPECT_EQ(Dedup("r", "alice", "c-2"), 2u);
  EXPECT_EQ(Dedup("r", "bob", "c-1"), std::nullopt);
  EXPECT_EQ(Dedup("r", "alice", "c-3"), std::nullopt);
  EXPECT_EQ(Dedup("r2", "alice", "c-1"), std::nullopt);
}

TEST_F(StoreTest, RetentionHidesThenCompactionRemovesExpiredEntries) {
  Open();  // retention 10 s, dedup window 5 s
  WriteMessages("r", {Msg(1, false, kT0, "c-1"), Msg(2, true, kT0), Msg(3, false, kT0)});

  now_->store(kT0 + 6'000);
  EXPECT_EQ(Dedup("r", "alice", "c-1"), std::nullopt);         // past the dedup window
  EXPECT_EQ(Seqs(Load("r", 10, 10).normal), (SeqList{1, 3}));  // still retained
  WriteMessages("r", {Msg(4, false, kT0 + 6'000, "c-4"), Msg(5, true, kT0 + 6'000),
                      Msg(6, false, kT0 + 6'000)});
  EXPECT_EQ(Dedup("r", "alice", "c-4"), 4u);

  now_->store(kT0 + 12'000);  // 1..3 are past the retention, c-4 past the dedup window
  RoomSnapshot s = Load("r", 10, 10);
  EXPECT_EQ(s.head_seq, 6u);
  EXPECT_EQ(Seqs(s.normal), (SeqList{4, 6}));
  EXPECT_EQ(s.evicted_normal_seq, 0u);
  EXPECT_EQ(Seqs(s.priority), (SeqList{5}));
  EXPECT_EQ(s.evicted_priority_seq, 0u);
  HistoryPage page = History("r", std::nullopt, 10);
  EXPECT_EQ(Seqs(page.messages), (SeqList{4, 5, 6}));
  EXPECT_FALSE(page.next_before.has_value());
  page = History("r", std::nullopt, 3);
  EXPECT_FALSE(page.next_before.has_value());  // the expired ones do not count as older
  page = History("r", 4, 10);
  EXPECT_TRUE(page.messages.empty());
  EXPECT_FALSE(page.next_before.has_value());
  EXPECT_EQ(Seqs(PriorityAfter("r", 0, 10)), (SeqList{5}));
  EXPECT_EQ(Dedup("r", "alice", "c-4"), std::nullopt);

  // Hidden but still on disk until compaction.
  EXPECT_EQ(Count("messages"), 6u);
  EXPECT_EQ(Count("priority"), 2u);
  EXPECT_EQ(Count("dedup"), 2u);
  ASSERT_TRUE(Impl().CompactAllForTesting().ok());
  EXPECT_EQ(Count("messages"), 3u);
  EXPECT_EQ(Count("priority"), 1u);
  EXPECT_EQ(Count("dedup"), 0u);
  EXPECT_EQ(Count("rooms"), 1u);

  // Everything expires; the room and its head_seq stay, so seqs are never reused.
  now_->store(kT0 + 1'000'000);
  ASSERT_TRUE(Impl().CompactAllForTesting().ok());
  EXPECT_EQ(Count("messages"), 0u);
  EXPECT_EQ(Count("priority"), 0u);
  Reopen();
  s = Load("r", 10, 10);
  EXPECT_TRUE(s.exists);
  EXPECT_EQ(s.head_seq, 6u);
  EXPECT_EQ(s.created_ms, kCreated);
  EXPECT_TRUE(s.normal.empty());
  EXPECT_TRUE(s.priority.empty());
}

TEST_F(StoreTest, ConcurrentSubmitsBatchAndCompleteInOrder) {
  Open();
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 500;
  constexpr uint64_t kTotal = kThreads * kPerThread;
  // Completions run on the one writer thread: these are written there only and read after
  // `all_done`, which orders them.
  std::vector<std::vector<uint64_t>> completed(kThreads);
  std::atomic<int> failures{0};
  std::latch all_done(kTotal);

  // With the writer held, everything the threads submit queues up and must be group-committed.
  WriterBlocker blocker(*store_);
  {
    std::latch start(kThreads);
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        const std::string room = "room-" + std::to_string(t);
        for (uint64_t seq = 1; seq <= kPerThread; ++seq) {
          store_->Submit(Req(room, seq, Msg(seq, seq % 10 == 0), kCreated, [&, t, seq](Status s) {
            if (!s.ok()) failures.fetch_add(1);
            completed[t].push_back(seq);
            all_done.count_down();
          }));
        }
      });
    }
  }
  EXPECT_GT(store_->Stats().pending, 0u);
  blocker.Release();
  all_done.wait();

  EXPECT_EQ(failures.load(), 0);
  std::vector<uint64_t> expected;
  for (uint64_t seq = 1; seq <= kPerThread; ++seq) expected.push_back(seq);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(completed[t], expected) << "thread " << t;

  StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.batch_writes, kTotal + 1);  // + the blocker
  EXPECT_LE(stats.batches, 2u);               // the blocker's batch, then everything else
  EXPECT_EQ(stats.pending, 0u);
  ASSERT_EQ(stats.latency_buckets.size(), std::size(Store::kLatencyBucketsUs));
  for (size_t i = 1; i < stats.latency_buckets.size(); ++i) {
    EXPECT_LE(stats.latency_buckets[i - 1], stats.latency_buckets[i]);  // cumulative
  }
  EXPECT_LE(stats.latency_buckets.back(), stats.batches);

  for (int t = 0; t < kThreads; ++t) {
    RoomSnapshot s = Load("room-" + std::to_string(t), 5, 5);
    EXPECT_EQ(s.head_seq, kPerThread);
    EXPECT_EQ(Seqs(s.normal), (SeqList{495, 496, 497, 498, 499}));
    EXPECT_EQ(Seqs(s.priority), (SeqList{460, 470, 480, 490, 500}));
  }
}

TEST_F(StoreTest, CloseCompletesPendingWritesAndRejectsLaterCalls) {
  Open();
  constexpr uint64_t kQueued = 200;
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
  auto count = [&](Status s) { (s.ok() ? ok : failed).fetch_add(1); };

  WriterBlocker blocker(*store_);
  for (uint64_t seq = 1; seq <= kQueued; ++seq)
    store_->Submit(Req("r", seq, Msg(seq), kCreated, count));
  std::thread closer([&] { store_->Close(); });
  // Probe until the store stops accepting: a rejected Submit completes inline with an error.
  uint64_t accepted_probes = 0;
  for (uint64_t probe = 1;; ++probe) {
    auto rejected = std::make_shared<std::atomic<bool>>(false);
    store_->Submit(Req("probe", probe, std::nullopt, kCreated, [&, rejected](Status s) {
      count(s);
      if (!s.ok()) rejected->store(true);
    }));
    if (rejected->load()) break;  // a rejection completes inline, so it is visible here
    ++accepted_probes;
    std::this_thread::yield();
  }
  blocker.Release();
  closer.join();

  // Close returned: every accepted write has completed, successfully.
  EXPECT_EQ(ok.load(), kQueued + accepted_probes);
  EXPECT_EQ(failed.load(), 1u);  // the rejected probe
  EXPECT_EQ(store_->Stats().pending, 0u);

  auto load = Await<Result<RoomSnapshot>>(
      [&](auto done) { store_->LoadRoom("r", 1, 1, nullptr, std::move(done)); });
  EXPECT_FALSE(load.ok());
  auto dedup = Await<Result<std::optional<uint64_t>>>(
      [&](auto done) { store_->LookupDedup("r", "a", "b", nullptr, std::move(done)); });
  EXPECT_FALSE(dedup.ok());
  store_->Close();  // idempotent

  Open();
  RoomSnapshot s = Load("r", 1000, 10);
  EXPECT_EQ(s.head_seq, kQueued);
  EXPECT_EQ(s.normal.size(), kQueued);
  EXPECT_EQ(History("r", std::nullopt, 1000).messages.size(), kQueued);
}

TEST_F(StoreTest, UnsyncedWritesSurviveCloseAndReopen) {
  StoreOptions options = Options();
  options.sync_wal = false;  // Close() still syncs the WAL
  Open(options);
  WriteMessages("r", TenMessages());
  store_->Close();
  store_.reset();
  Open(options);
  EXPECT_EQ(Seqs(History("r", std::nullopt, 100).messages),
            (SeqList{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST_F(StoreTest, OpenFailureIsAnError) {
  StoreOptions options = Options();
  options.data_dir = "";
  EXPECT_FALSE(Store::Open(options).ok());
  // A file where the directory should be.
  std::string file = dir_ + "/file";
  { std::ofstream(file) << "x"; }
  options.data_dir = file;
  auto opened = Store::Open(options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
  EXPECT_EQ(opened.error().message.rfind("store: ", 0), 0u) << opened.error().message;
}

// Audience counters (presence::RoomAudience's records) in the counters column family.
constexpr CounterKey kDayKey{'d', 20'000};
constexpr CounterKey kHourKey{'h', 480'010};
constexpr CounterKey kNextHourKey{'h', 480'011};
using Values = std::vector<std::optional<std::string>>;

CounterRecord Counter(std::string room, CounterKey key, std::string value) {
  return CounterRecord{std::move(room), key, std::move(value)};
}

TEST_F(StoreTest, CountersOnlyRequestTouchesNoRoomMeta) {
  Open();
  auto room = Req("r", 2, Msg(2, true));
  room->priority_count = 1;
  ASSERT_TRUE(Write(std::move(room)).ok());

  // An empty room: only the counters are written (of any rooms), whatever the meta fields say.
  auto counters = Req("", 99, std::nullopt, /*created_ms=*/5);
  counters->priority_count = 77;
  counters->counters = {Counter("r", kDayKey, "day"), Counter("r", kHourKey, "hour"),
                        Counter("r", kNextHourKey, "next hour"),
                        Counter("other", kDayKey, "other day")};
  ASSERT_TRUE(Write(std::move(counters)).ok());
  EXPECT_EQ(Count("rooms"), 1u);
  EXPECT_EQ(Count("counters"), 4u);
  RoomSnapshot s = Load("r", 10, 10);
  EXPECT_EQ(s.head_seq, 2u);
  EXPECT_EQ(s.created_ms, kCreated);
  EXPECT_EQ(s.priority_count, 1u);
  EXPECT_FALSE(Load("other", 10, 10).exists) << "counters do not create a room";
  EXPECT_FALSE(Load("", 10, 10).exists);

  // Read back in the order asked, nullopt for what is missing (another period, another kind,
  // another room).
  EXPECT_EQ(ReadCounters("r", {kNextHourKey, {'d', 20'001}, kDayKey, {'d', 480'010}, kHourKey}),
            (Values{"next hour", std::nullopt, "day", std::nullopt, "hour"}));
  EXPECT_EQ(ReadCounters("other", {kDayKey, kHourKey}), (Values{"other day", std::nullopt}));
  EXPECT_EQ(ReadCounters("nobody", {kDayKey}), (Values{std::nullopt}));
  EXPECT_TRUE(ReadCounters("r", {}).empty());

  // A later flush of the same period replaces it.
  auto again = Req("", 0, std::nullopt, 0);
  again->counters = {Counter("r", kDayKey, "day, later")};
  ASSERT_TRUE(Write(std::move(again)).ok());
  EXPECT_EQ(ReadCounters("r", {kDayKey}), (Values{"day, later"}));

  // Counters are not messages: retention never removes them.
  now_->store(kT0 + 1'000'000'000);
  ASSERT_TRUE(Impl().CompactAllForTesting().ok());
  EXPECT_EQ(Count("counters"), 4u);
  Reopen();
  EXPECT_EQ(ReadCounters("r", {kDayKey, kHourKey}), (Values{"day, later", "hour"}));
}

TEST_F(StoreTest, CountersAndMessagesShareABatch) {
  Open();
  // One request with both.
  auto both = Req("r", 1, Msg(1));
  both->counters = {Counter("r", kDayKey, "day 1")};
  ASSERT_TRUE(Write(std::move(both)).ok());
  EXPECT_EQ(Seqs(Load("r", 10, 10).normal), (SeqList{1}));
  EXPECT_EQ(ReadCounters("r", {kDayKey}), (Values{"day 1"}));

  // Messages, a counters-only request between them and counters of another room, all in one
  // group commit (the writer is held so that they land in one batch).
  const uint64_t batches_before = store_->Stats().batches;
  WriterBlocker blocker(*store_);
  std::vector<std::unique_ptr<WriteRequest>> requests;
  requests.push_back(Req("r", 2, Msg(2, true)));
  requests.back()->priority_count = 1;
  requests.back()->counters = {Counter("r", kHourKey, "hour 2")};
  requests.push_back(Req("", 0, std::nullopt, 0));
  requests.back()->counters = {Counter("r", kDayKey, "day 2"), Counter("s", kDayKey, "s day")};
  requests.push_back(Req("r", 3, Msg(3), /*created_ms=*/0));
  requests.back()->priority_count = 1;
  std::thread release([&] { blocker.Release(); });
  WriteAll(std::move(requests));
  release.join();
  EXPECT_EQ(store_->Stats().batches, batches_before + 2);  // the blocker's, then this one

  RoomSnapshot s = Load("r", 10, 10);
  EXPECT_EQ(s.head_seq, 3u);
  EXPECT_EQ(s.created_ms, kCreated);
  EXPECT_EQ(s.priority_count, 1u);
  EXPECT_EQ(Seqs(s.normal), (SeqList{1, 3}));
  EXPECT_EQ(Seqs(s.priority), (SeqList{2}));
  EXPECT_EQ(ReadCounters("r", {kDayKey, kHourKey}), (Values{"day 2", "hour 2"}));
  EXPECT_EQ(ReadCounters("s", {kDayKey}), (Values{"s day"}));
  EXPECT_EQ(Count("rooms"), 2u);  // "r" and the blocker's room, no meta for the empty room
}

TEST_F(StoreTest, PriorityCountIsStoredAndLoadedAfterReopen) {
  Open();
  // A room that accepted 100 priority messages long ago (gone by retention), then 3 more: the
  // stored count, not the 3 retained, is what comes back.
  std::vector<std::unique_ptr<WriteRequest>> requests;
  uint64_t accepted = 100;
  for (MessageRecord& m : TenMessages()) {
    if (m.priority) ++accepted;
    const uint64_t seq = m.seq;
    requests.push_back(Req("r", seq, std::move(m)));
    requests.back()->priority_count = accepted;
  }
  WriteAll(std::move(requests));
  EXPECT_EQ(Load("r", 10, 10).priority_count, 103u);
  Reopen();
  RoomSnapshot s = Load("r", 10, 10);
  EXPECT_EQ(s.priority_count, 103u);
  EXPECT_EQ(Seqs(s.priority), (SeqList{3, 6, 9}));

  // A meta-only write (room creation, a counters flush of its own room) keeps what it is given.
  auto meta = Req("r", 10, std::nullopt, 0);
  meta->priority_count = 104;
  ASSERT_TRUE(Write(std::move(meta)).ok());
  Reopen();
  EXPECT_EQ(Load("r", 10, 10).priority_count, 104u);
}

TEST_F(StoreTest, RoomMetaWithoutPriorityCountCountsRetainedPriorityMessages) {
  Open();
  WriteMessages("r", TenMessages());                     // priority 3, 6, 9
  WriteMessages("r.x", {Msg(11, true), Msg(12, true)});  // a neighbour's are not ours
  // Written by this store: the count is present (0 here, as the requests said) and taken as it
  // is; only an absent count is counted.
  EXPECT_EQ(Load("r", 10, 10).priority_count, 0u);

  // The meta as a store from before the count wrote it.
  RoomMeta legacy;
  legacy.set_head_seq(10);
  legacy.set_created_ms(kCreated);
  ASSERT_FALSE(legacy.has_priority_count());
  PutRawAndReopen(kRoomsCf, "r", legacy.SerializeAsString());

  RoomSnapshot s = Load("r", 10, 10);
  ASSERT_TRUE(s.exists);
  EXPECT_EQ(s.head_seq, 10u);
  EXPECT_EQ(s.created_ms, kCreated);
  EXPECT_EQ(s.priority_count, 3u);
  EXPECT_EQ(Seqs(s.priority), (SeqList{3, 6, 9}));

  // The room's next write stores its count; from then on that is what loads.
  auto next = Req("r", 11, Msg(11, true), 0);
  next->priority_count = 4;
  ASSERT_TRUE(Write(std::move(next)).ok());
  Reopen();
  EXPECT_EQ(Load("r", 10, 10).priority_count, 4u);
}

}  // namespace
}  // namespace chatroomd::store
