// The store's moderation entries (mutes and kicks), retractions and single-message reads against
// a real RocksDB with a fake clock (the fixture is store_fixture.h).
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <future>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "store/codec.h"
#include "store/column_families.h"
#include "store_fixture.h"

namespace chatroomd::store {
namespace {

using ModerationStoreTest = StoreTest;

constexpr char kMuted = ModerationRecord::kMuted;
constexpr char kKicked = ModerationRecord::kKicked;

ModerationRecord Mod(std::string room, char kind, std::string user, int64_t until_ms) {
  return ModerationRecord{std::move(room), kind, std::move(user), until_ms};
}

// A request that writes only these moderation records (an empty room).
std::unique_ptr<WriteRequest> ModReq(std::vector<ModerationRecord> records) {
  auto r = Req("", 0, std::nullopt, 0);
  r->moderation = std::move(records);
  return r;
}

// A snapshot's moderation entries as (kind, user, until_ms), sorted; each must name `room`.
using Entries = std::vector<std::tuple<char, std::string, int64_t>>;
Entries EntriesOf(const RoomSnapshot& snapshot, const std::string& room) {
  Entries out;
  for (const ModerationRecord& m : snapshot.moderation) {
    EXPECT_EQ(m.room, room);
    out.emplace_back(m.kind, m.user, m.until_ms);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(ModerationStoreTest, EntriesAreLoadedWithTheirRoomOnlyAndSurviveReopen) {
  Open();
  ASSERT_TRUE(Write(Req("a", 0, std::nullopt)).ok());
  ASSERT_TRUE(Write(Req("a:b", 0, std::nullopt)).ok());
  // With a room's own write, naming it and another room whose id extends its own.
  auto request = Req("a", 1, Msg(1));
  request->moderation = {Mod("a", kMuted, "bob", kT0 + 60'000),
                         Mod("a", kKicked, "carol", kT0 + 120'000),
                         Mod("a:b", kMuted, "bob", kT0 + 30'000)};
  ASSERT_TRUE(Write(std::move(request)).ok());
  // And one on its own: the same user both muted and kicked are two entries.
  ASSERT_TRUE(Write(ModReq({Mod("a", kKicked, "bob", kT0 + 90'000)})).ok());

  const Entries a{{kKicked, "bob", kT0 + 90'000},
                  {kKicked, "carol", kT0 + 120'000},
                  {kMuted, "bob", kT0 + 60'000}};
  const Entries ab{{kMuted, "bob", kT0 + 30'000}};
  RoomSnapshot s = Load("a", 10, 10);
  EXPECT_EQ(s.head_seq, 1u);
  EXPECT_EQ(Seqs(s.normal), (SeqList{1}));
  EXPECT_EQ(EntriesOf(s, "a"), a);
  EXPECT_EQ(EntriesOf(Load("a:b", 10, 10), "a:b"), ab);
  EXPECT_TRUE(Load("b", 10, 10).moderation.empty());
  EXPECT_EQ(Count(kModerationCf), 4u);

  Reopen();
  EXPECT_EQ(EntriesOf(Load("a", 10, 10), "a"), a);
  EXPECT_EQ(EntriesOf(Load("a:b", 10, 10), "a:b"), ab);

  // A later record for the same entry replaces it.
  ASSERT_TRUE(Write(ModReq({Mod("a", kMuted, "bob", kT0 + 5'000)})).ok());
  EXPECT_EQ(EntriesOf(Load("a", 10, 10), "a"), (Entries{{kKicked, "bob", kT0 + 90'000},
                                                        {kKicked, "carol", kT0 + 120'000},
                                                        {kMuted, "bob", kT0 + 5'000}}));
}

TEST_F(ModerationStoreTest, ALiftDeletesTheEntryOfItsRoomOnly) {
  Open();
  ASSERT_TRUE(
      Write(ModReq({Mod("a", kMuted, "bob", kT0 + 60'000), Mod("a", kKicked, "bob", kT0 + 60'000),
                    Mod("a:b", kMuted, "bob", kT0 + 60'000)}))
          .ok());
  EXPECT_EQ(Count(kModerationCf), 3u);

  // until_ms at the store's clock is already over: a lift. So is one in the past.
  ASSERT_TRUE(Write(ModReq({Mod("a", kMuted, "bob", kT0)})).ok());
  EXPECT_EQ(Count(kModerationCf), 2u);
  EXPECT_EQ(EntriesOf(Load("a", 10, 10), "a"), (Entries{{kKicked, "bob", kT0 + 60'000}}));
  EXPECT_EQ(EntriesOf(Load("a:b", 10, 10), "a:b"), (Entries{{kMuted, "bob", kT0 + 60'000}}));
  ASSERT_TRUE(Write(ModReq({Mod("a", kKicked, "bob", 0)})).ok());
  EXPECT_EQ(Count(kModerationCf), 1u);
  EXPECT_TRUE(Load("a", 10, 10).moderation.empty());
  // Lifting what is not there is no error.
  ASSERT_TRUE(Write(ModReq({Mod("a", kKicked, "nobody", 0)})).ok());

  Reopen();
  EXPECT_TRUE(Load("a", 10, 10).moderation.empty());
  EXPECT_EQ(EntriesOf(Load("a:b", 10, 10), "a:b"), (Entries{{kMuted, "bob", kT0 + 60'000}}));
}

TEST_F(ModerationStoreTest, RecordsInOneBatchApplyInOrder) {
  Open();
  // All queued while the writer is held, so that they land in one batch.
  WriterBlocker blocker(*store_);
  const uint64_t batches = store_->Stats().batches;
  store_->Submit(ModReq({Mod("a", kMuted, "bob", kT0 + 1'000)}));
  store_->Submit(ModReq({Mod("a", kMuted, "bob", kT0 - 1)}));  // lifts it again
  store_->Submit(ModReq({Mod("a", kKicked, "eve", kT0 - 1)}));
  auto last = ModReq({Mod("a", kKicked, "eve", kT0 + 2'000)});  // then kicks
  auto written = std::make_shared<std::promise<Status>>();
  auto future = written->get_future();
  last->done = [written](Status s) { written->set_value(s); };
  store_->Submit(std::move(last));
  blocker.Release();
  ASSERT_TRUE(future.get().ok());
  EXPECT_EQ(store_->Stats().batches, batches + 1);
  EXPECT_EQ(EntriesOf(Load("a", 10, 10), "a"), (Entries{{kKicked, "eve", kT0 + 2'000}}));
  EXPECT_EQ(Count(kModerationCf), 1u);
}

TEST_F(ModerationStoreTest, ModerationOnlyRequestCreatesNoRoom) {
  Open();
  auto request = ModReq({Mod("x", kKicked, "bob", kT0 + 1'000)});
  request->head_seq = 7;  // whatever the meta fields say
  request->created_ms = 5;
  ASSERT_TRUE(Write(std::move(request)).ok());
  EXPECT_EQ(Count(kRoomsCf), 0u);
  RoomSnapshot s = Load("x", 10, 10);
  EXPECT_FALSE(s.exists);
  EXPECT_EQ(s.head_seq, 0u);
  // Loaded all the same, so that the room, once created, starts with it in force.
  EXPECT_EQ(EntriesOf(s, "x"), (Entries{{kKicked, "bob", kT0 + 1'000}}));
  EXPECT_FALSE(Load("", 10, 10).exists);
}

TEST_F(ModerationStoreTest, EntriesPastTheirEndAreHiddenThenCompactedAway) {
  Open();
  ASSERT_TRUE(
      Write(ModReq({Mod("a", kMuted, "bob", kT0 + 1'000), Mod("a", kKicked, "carol", kT0 + 5'000),
                    Mod("a:b", kMuted, "dave", kT0 + 1'000)}))
          .ok());
  // A value too short to parse (not the store's): the filter keeps it.
  PutRawAndReopen(kModerationCf, ModerationKey("odd", kMuted, "x"), "short");

  now_->store(kT0 + 1'000);  // bob's and dave's end: no longer in force
  EXPECT_EQ(EntriesOf(Load("a", 10, 10), "a"), (Entries{{kKicked, "carol", kT0 + 5'000}}));
  EXPECT_TRUE(Load("a:b", 10, 10).moderation.empty());
  EXPECT_EQ(Count(kModerationCf), 4u) << "hidden, still on disk";
  ASSERT_TRUE(Impl().CompactAllForTesting().ok());
  EXPECT_EQ(Count(kModerationCf), 2u);  // carol's and the short value
  EXPECT_EQ(EntriesOf(Load("a", 10, 10), "a"), (Entries{{kKicked, "carol", kT0 + 5'000}}));

  now_->store(kT0 + 5'001);
  EXPECT_TRUE(Load("a", 10, 10).moderation.empty());
  ASSERT_TRUE(Impl().CompactAllForTesting().ok());
  EXPECT_EQ(Count(kModerationCf), 1u);
}

TEST_F(ModerationStoreTest, ADbFromBeforeModerationOpensAndGainsTheColumnFamily) {
  // The column families of a store from before moderation, made by RocksDB itself.
  {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const char* name : {rocksdb::kDefaultColumnFamilyName.c_str(), kMessagesCf, kPriorityCf,
                             kRoomsCf, kDedupCf, kCountersCf}) {
      rocksdb::ColumnFamilyOptions cf;
      cf.level_compaction_dynamic_level_bytes = true;  // as the store opens them
      descriptors.emplace_back(name, cf);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_ + "/db", descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (rocksdb::ColumnFamilyHandle* h : handles)
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  Open();
  WriteMessages("a", {Msg(1)});
  ASSERT_TRUE(Write(ModReq({Mod("a", kMuted, "bob", kT0 + 1'000)})).ok());
  Reopen();
  RoomSnapshot s = Load("a", 10, 10);
  EXPECT_EQ(Seqs(s.normal), (SeqList{1}));
  EXPECT_EQ(EntriesOf(s, "a"), (Entries{{kMuted, "bob", kT0 + 1'000}}));
}

TEST_F(ModerationStoreTest, ReadMessageReturnsAStoredMessageOnly) {
  Open();
  WriteMessages("a", {Msg(1, false, kT0, "c-1"), Msg(2, true, kT0 + 3'000)});
  WriteMessages("a:b", {Msg(3)});

  auto m = ReadMessage("a", 1);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->seq, 1u);
  EXPECT_FALSE(m->priority);
  EXPECT_EQ(m->sender, "alice");
  EXPECT_EQ(m->type, "text");
  EXPECT_EQ(m->body, "body 1");
  EXPECT_EQ(m->ts_ms, kT0);
  EXPECT_EQ(m->client_msg_id, "c-1");
  m = ReadMessage("a", 2);
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->priority);
  EXPECT_EQ(m->type, "notice");

  EXPECT_EQ(ReadMessage("a", 3), std::nullopt) << "another room's seq";
  EXPECT_EQ(ReadMessage("a", 4), std::nullopt);
  EXPECT_EQ(ReadMessage("a:b", 1), std::nullopt);
  EXPECT_EQ(ReadMessage("nobody", 1), std::nullopt);
  ASSERT_TRUE(ReadMessage("a:b", 3).has_value());

  // Past the retention (10 s): gone before compaction has removed it.
  now_->store(kT0 + 10'000);
  EXPECT_TRUE(ReadMessage("a", 1).has_value()) << "exactly the retention old: kept";
  now_->store(kT0 + 10'001);
  EXPECT_EQ(ReadMessage("a", 1), std::nullopt);
  EXPECT_TRUE(ReadMessage("a", 2).has_value());
  EXPECT_EQ(Count(kMessagesCf), 3u);
}

TEST_F(ModerationStoreTest, RetractionRemovesTheMessageInTheBatchOfItsNotice) {
  Open();
  WriteMessages("r", TenMessages());  // normal 1 2 4 5 7 8 10, priority 3 6 9
  WriteMessages("r:x", {Msg(5), Msg(6, true)});

  // A normal message. The writer is held so that the state before the batch can be read.
  auto retract = Req("r", 11, Msg(11, true));
  retract->retract_seq = 5;
  {
    WriterBlocker blocker(*store_);
    auto written = std::make_shared<std::promise<Status>>();
    auto future = written->get_future();
    retract->done = [written](Status s) { written->set_value(s); };
    store_->Submit(std::move(retract));
    EXPECT_TRUE(ReadMessage("r", 5).has_value());
    EXPECT_FALSE(ReadMessage("r", 11).has_value());
    const uint64_t batches = store_->Stats().batches;
    blocker.Release();
    ASSERT_TRUE(future.get().ok());
    EXPECT_EQ(store_->Stats().batches, batches + 1) << "one batch for both";
  }
  EXPECT_EQ(ReadMessage("r", 5), std::nullopt);
  EXPECT_TRUE(ReadMessage("r", 11).has_value());
  EXPECT_EQ(Seqs(History("r", std::nullopt, 100).messages),
            (SeqList{1, 2, 3, 4, 6, 7, 8, 9, 10, 11}));
  RoomSnapshot s = Load("r", 10, 10);
  EXPECT_EQ(s.head_seq, 11u);
  EXPECT_EQ(Seqs(s.normal), (SeqList{1, 2, 4, 7, 8, 10}));
  EXPECT_EQ(Seqs(s.priority), (SeqList{3, 6, 9, 11}));

  // A priority message: gone from the index too.
  retract = Req("r", 12, Msg(12, true));
  retract->retract_seq = 6;
  ASSERT_TRUE(Write(std::move(retract)).ok());
  EXPECT_EQ(ReadMessage("r", 6), std::nullopt);
  EXPECT_EQ(Seqs(PriorityAfter("r", 0, 10)), (SeqList{3, 9, 11, 12}));
  EXPECT_EQ(Seqs(PriorityAfter("r", 5, 1)), (SeqList{9}));
  s = Load("r", 10, 2);
  EXPECT_EQ(Seqs(s.priority), (SeqList{11, 12}));
  EXPECT_EQ(s.evicted_priority_seq, 9u);
  EXPECT_EQ(Seqs(History("r", 10, 100).messages), (SeqList{1, 2, 3, 4, 7, 8, 9}));

  // A seq that is not stored (or already retracted): no error, the message is written.
  retract = Req("r", 13, Msg(13));
  retract->retract_seq = 6;
  ASSERT_TRUE(Write(std::move(retract)).ok());
  EXPECT_TRUE(ReadMessage("r", 13).has_value());

  // The neighbour kept its seqs 5 and 6; on disk, only r's two are gone.
  EXPECT_TRUE(ReadMessage("r:x", 5).has_value());
  EXPECT_EQ(Seqs(PriorityAfter("r:x", 0, 10)), (SeqList{6}));
  EXPECT_EQ(Count(kMessagesCf), 10u + 3 - 2 + 2);
  EXPECT_EQ(Count(kPriorityCf), 3u + 2 - 1 + 1);

  Reopen();
  EXPECT_EQ(ReadMessage("r", 5), std::nullopt);
  EXPECT_EQ(ReadMessage("r", 6), std::nullopt);
  s = Load("r", 10, 10);
  EXPECT_EQ(Seqs(s.normal), (SeqList{1, 2, 4, 7, 8, 10, 13}));
  EXPECT_EQ(Seqs(s.priority), (SeqList{3, 9, 11, 12}));
}

}  // namespace
}  // namespace chatroomd::store
