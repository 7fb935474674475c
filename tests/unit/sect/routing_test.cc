#include "chatroomd/sect/routing.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "chatroomd/common/ids.h"
#include "proto/chatroomd/config.pb.h"

namespace chatroomd::sect {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kHalf = uint64_t{1} << 63;

config::Sect* AddSect(config::Sects& sects, const std::string& name, uint32_t threads) {
  config::Sect* s = sects.add_sects();
  s->set_name(name);
  s->set_threads(threads);
  return s;
}

void AddRange(config::Sect* s, uint64_t start, uint64_t end) {
  config::HashRange* r = s->add_ranges();
  r->set_start(start);
  r->set_end(end);
}

// normal-1 [0, 2^63-1] x4 threads, normal-2 [2^63, 2^64-1] x2, vip (pinned rooms) x3.
config::Sects TwoHalvesAndVip() {
  config::Sects sects;
  AddRange(AddSect(sects, "normal-1", 4), 0, kHalf - 1);
  AddRange(AddSect(sects, "normal-2", 2), kHalf, kMax);
  config::Sect* vip = AddSect(sects, "vip", 3);
  vip->set_vip(true);
  vip->add_rooms("lobby");
  vip->add_rooms("big-show");
  return sects;
}

TEST(RoutingTest, SplitAtTheMiddle) {
  RoutingTable table(TwoHalvesAndVip());
  EXPECT_EQ(table.sect_count(), 3u);
  EXPECT_EQ(table.Find("x", 0).sect, 0u);
  EXPECT_EQ(table.Find("x", 1).sect, 0u);
  EXPECT_EQ(table.Find("x", kHalf - 1).sect, 0u);
  EXPECT_EQ(table.Find("x", kHalf).sect, 1u);
  EXPECT_EQ(table.Find("x", kHalf + 1).sect, 1u);
  EXPECT_EQ(table.Find("x", kMax - 1).sect, 1u);
  EXPECT_EQ(table.Find("x", kMax).sect, 1u);
}

TEST(RoutingTest, RangesGivenOutOfOrder) {
  // One sect owning both ends, another the middle, listed with the high range first.
  config::Sects sects;
  config::Sect* outer = AddSect(sects, "outer", 1);
  AddRange(outer, 201, kMax);
  AddRange(outer, 0, 99);
  AddRange(AddSect(sects, "middle", 1), 100, 200);
  RoutingTable table(sects);
  for (uint64_t h : {uint64_t{0}, uint64_t{99}, uint64_t{201}, kHalf, kMax}) {
    EXPECT_EQ(table.Find("x", h).sect, 0u) << h;
  }
  for (uint64_t h : {uint64_t{100}, uint64_t{150}, uint64_t{200}}) {
    EXPECT_EQ(table.Find("x", h).sect, 1u) << h;
  }
}

TEST(RoutingTest, PinnedRoomsGoToTheVipSectWhateverTheirHash) {
  RoutingTable table(TwoHalvesAndVip());
  for (uint64_t h : {uint64_t{0}, kHalf - 1, kHalf, kMax, RoomHash("lobby")}) {
    Route r = table.Find("lobby", h);
    EXPECT_EQ(r.sect, 2u) << h;
    EXPECT_LT(r.loop, 3u);
    EXPECT_EQ(table.Find("big-show", h).sect, 2u) << h;
  }
  // Only the exact id is pinned.
  EXPECT_EQ(table.Find("Lobby", 0).sect, 0u);
  EXPECT_EQ(table.Find("lobby2", kMax).sect, 1u);
  EXPECT_EQ(table.Find("lobb", 0).sect, 0u);
}

TEST(RoutingTest, PinnedToANonVipSect) {
  config::Sects sects = TwoHalvesAndVip();
  sects.mutable_sects(1)->add_rooms("pinned-high");
  RoutingTable table(sects);
  EXPECT_EQ(table.Find("pinned-high", 0).sect, 1u);
  EXPECT_EQ(table.Find("pinned-high", kMax).sect, 1u);
}

TEST(RoutingTest, APlacementMovesARoomAndLeavesTheTableItCameFrom) {
  const auto table = std::make_shared<RoutingTable>(TwoHalvesAndVip());
  ASSERT_EQ(table->vip_sect(), 2u);
  const uint64_t h = 5;  // normal-1's range
  auto placed = table->WithPlacement("show", Placement{2, true});
  EXPECT_EQ(placed->Find("show", h).sect, 2u);
  EXPECT_EQ(placed->Placed("show")->by_admin, true);
  EXPECT_EQ(table->Find("show", h).sect, 0u) << "tables are immutable";
  EXPECT_FALSE(table->Placed("show"));
  EXPECT_EQ(placed->Find("other", h).sect, 0u);
  // The loop within a sect is the room's own: the same whichever way it got there.
  EXPECT_EQ(placed->Find("show", h).loop, table->Find("lobby", h).loop);
  auto back = placed->WithPlacement("show", std::nullopt);
  EXPECT_EQ(back->Find("show", h).sect, 0u);
  // A pin wins over a placement.
  auto pinned_placed = table->WithPlacement("lobby", Placement{0, true});
  EXPECT_EQ(pinned_placed->Find("lobby", h).sect, 2u);
}

TEST(RoutingTest, AReloadedFileRepinsOneRoomAtATime) {
  const config::Sects before = TwoHalvesAndVip();  // lobby, big-show in vip
  config::Sects after = before;
  after.mutable_sects(2)->clear_rooms();
  after.mutable_sects(2)->add_rooms("lobby");
  after.mutable_sects(2)->add_rooms("stage");
  after.mutable_sects(0)->add_rooms("big-show");
  EXPECT_TRUE(SameShape(before, after));
  EXPECT_EQ(RepinnedRooms(before, after), (std::vector<std::string>{"big-show", "stage"}));
  EXPECT_TRUE(RepinnedRooms(before, before).empty());

  auto table = std::make_shared<const RoutingTable>(before);
  table = table->WithPlacement("stage", Placement{1, true});
  auto stage = table->WithPinFrom("stage", after);
  EXPECT_EQ(stage->Find("stage", 0).sect, 2u);
  EXPECT_FALSE(stage->Placed("stage")) << "a pinned room loses its placement";
  EXPECT_EQ(stage->Find("big-show", 0).sect, 2u) << "one room at a time";
  auto show = stage->WithPinFrom("big-show", after);
  EXPECT_EQ(show->Find("big-show", kMax).sect, 0u);
  auto unpinned = show->WithPinFrom("lobby", config::Sects());
  EXPECT_EQ(unpinned->Find("lobby", kMax).sect, 1u) << "unpinned: its hash range";

  config::Sects more_threads = before;
  more_threads.mutable_sects(0)->set_threads(8);
  EXPECT_FALSE(SameShape(before, more_threads));
  config::Sects new_range = before;
  new_range.mutable_sects(1)->mutable_ranges(0)->set_end(kMax - 1);
  EXPECT_FALSE(SameShape(before, new_range));
}

TEST(RoutingTest, SameRoomSameRoute) {
  RoutingTable table(TwoHalvesAndVip());
  RoutingTable again(TwoHalvesAndVip());
  for (std::string id : {"r1", "r2", "lobby", "some:room-42"}) {
    Route a = table.Find(id, RoomHash(id));
    Route b = table.Find(id, RoomHash(id));
    Route c = again.Find(id, RoomHash(id));
    EXPECT_EQ(a.sect, b.sect);
    EXPECT_EQ(a.loop, b.loop);
    EXPECT_EQ(a.sect, c.sect);
    EXPECT_EQ(a.loop, c.loop);
  }
}

TEST(RoutingTest, LoopIsBelowThreads) {
  RoutingTable table(TwoHalvesAndVip());
  const uint32_t threads[] = {4, 2, 3};
  std::mt19937_64 rng(5);
  for (int i = 0; i < 10000; ++i) {
    uint64_t h = rng();
    std::string id = "room-" + std::to_string(i);
    Route r = table.Find(id, h);
    ASSERT_LT(r.sect, 3u);
    EXPECT_LT(r.loop, threads[r.sect]);
    Route pinned = table.Find("lobby", h);
    EXPECT_LT(pinned.loop, 3u);
  }
  for (uint64_t h : {uint64_t{0}, kHalf - 1, kHalf, kMax}) {
    Route r = table.Find("x", h);
    EXPECT_LT(r.loop, threads[r.sect]) << h;
  }
}

TEST(RoutingTest, UnsetOrZeroThreadsMeansOneLoop) {
  config::Sects sects;
  config::Sect* s = sects.add_sects();  // threads unset: the default, 1
  s->set_name("only");
  AddRange(s, 0, kHalf - 1);
  AddRange(AddSect(sects, "zero", 0), kHalf, kMax);
  RoutingTable table(sects);
  std::mt19937_64 rng(6);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(table.Find("x", rng()).loop, 0u);
  }
}

std::string RandomRoomId(std::mt19937_64& rng) {
  static constexpr char kChars[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-";
  size_t len = 1 + rng() % 24;
  std::string id;
  for (size_t i = 0; i < len; ++i) id += kChars[rng() % (sizeof kChars - 1)];
  return id;
}

// Rooms spread roughly evenly over a sect's loops (loose bounds: 15%..35% each of 4).
TEST(RoutingTest, LoopsShareTheRoomsEvenly) {
  config::Sects sects;
  AddRange(AddSect(sects, "all", 4), 0, kMax);
  RoutingTable table(sects);
  std::mt19937_64 rng(2024);
  std::vector<int> counts(4);
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    std::string id = RandomRoomId(rng);
    Route r = table.Find(id, RoomHash(id));
    ASSERT_EQ(r.sect, 0u);
    ASSERT_LT(r.loop, 4u);
    ++counts[r.loop];
  }
  for (int loop = 0; loop < 4; ++loop) {
    EXPECT_GT(counts[loop], n * 15 / 100) << "loop " << loop;
    EXPECT_LT(counts[loop], n * 35 / 100) << "loop " << loop;
  }
}

// The same holds inside a sect that owns only part of the space: its loops still share it.
TEST(RoutingTest, LoopsShareAHalfRangeEvenly) {
  RoutingTable table(TwoHalvesAndVip());
  std::mt19937_64 rng(77);
  std::vector<int> counts(4);
  int in_first = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string id = "room-" + std::to_string(rng());
    Route r = table.Find(id, RoomHash(id));
    if (r.sect != 0) continue;
    ++in_first;
    ++counts[r.loop];
  }
  // About half the rooms land in the first half.
  EXPECT_GT(in_first, 8000);
  EXPECT_LT(in_first, 12000);
  for (int loop = 0; loop < 4; ++loop) {
    EXPECT_GT(counts[loop], in_first * 15 / 100) << "loop " << loop;
    EXPECT_LT(counts[loop], in_first * 35 / 100) << "loop " << loop;
  }
}

// Sequential room ids (the common case: "room-1", "room-2", ...) spread too.
TEST(RoutingTest, SequentialIdsSpread) {
  config::Sects sects;
  AddRange(AddSect(sects, "all", 4), 0, kMax);
  RoutingTable table(sects);
  std::vector<int> counts(4);
  for (int i = 0; i < 10000; ++i) {
    std::string id = "room-" + std::to_string(i);
    ++counts[table.Find(id, RoomHash(id)).loop];
  }
  for (int loop = 0; loop < 4; ++loop) {
    EXPECT_GT(counts[loop], 1500) << "loop " << loop;
    EXPECT_LT(counts[loop], 3500) << "loop " << loop;
  }
}

}  // namespace
}  // namespace chatroomd::sect
