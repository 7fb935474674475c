// OnlineTable (presence/online_table.h): who is online in one room. Touch/IsOnline/Leave/
// Refresh, polls held and released, expiry through the ring (never early, late by at most a
// tick and a bucket), a user who leaves while a poll of theirs is held, the bounded sample of
// ids and the published snapshot. Times are plain numbers: the table takes `now` from its
// caller.
#include "chatroomd/presence/online_table.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "chatroomd/common/ids.h"

namespace chatroomd::presence {
namespace {

constexpr int64_t kTtl = 1000;
// Users expire at most this late: last-seen rounds up to a tick, and a bucket is checked once
// its whole span has passed.
constexpr int64_t kLate = OnlineTable::kTickMs + 100;

OnlineTable MakeTable(uint32_t sample = 1000) {
  return OnlineTable(0, {.ttl_ms = kTtl, .sample_size = sample, .bucket_ms = 100});
}

std::vector<std::string> OnlineOf(OnlineTable& t, const std::vector<std::string>& users) {
  std::vector<std::string> out;
  for (const auto& u : users) {
    if (t.IsOnline(u)) out.push_back(u);
  }
  return out;
}

TEST(OnlineTableTest, EmptyTable) {
  OnlineTable t = MakeTable();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.count(), 0);
  EXPECT_FALSE(t.IsOnline("alice"));
  EXPECT_FALSE(t.Leave("alice"));
  t.Refresh("alice", 10);  // not online: stays offline
  t.Release(UserHash("alice"), 10);
  EXPECT_FALSE(t.IsOnline("alice"));
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.Expire(1'000'000), 0u);
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, TouchLeaveAndTheCount) {
  OnlineTable t = MakeTable();
  EXPECT_EQ(t.Touch("alice", 100), UserHash("alice"));
  EXPECT_TRUE(t.IsOnline("alice"));
  EXPECT_EQ(t.count(), 1);
  const uint64_t v = t.version();
  t.Touch("alice", 200);  // a second device, or a later poll: still one
  EXPECT_EQ(t.count(), 1);
  EXPECT_EQ(t.version(), v) << "a heartbeat is not a change of who is online";

  t.Touch("bob", 300);
  EXPECT_EQ(t.count(), 2);
  EXPECT_NE(t.version(), v);
  EXPECT_TRUE(t.Leave("alice"));
  EXPECT_EQ(t.count(), 1);
  EXPECT_FALSE(t.IsOnline("alice"));
  EXPECT_FALSE(t.Leave("alice")) << "leaving twice";
  EXPECT_TRUE(t.Leave("bob"));
  EXPECT_TRUE(t.empty());

  t.Touch("alice", 400);  // online again after a leave
  EXPECT_TRUE(t.IsOnline("alice"));
  EXPECT_EQ(t.count(), 1);
}

TEST(OnlineTableTest, ExpiresAfterTheTtlNeverBefore) {
  OnlineTable t = MakeTable();
  t.Touch("a", 0);
  t.Touch("b", 150);
  t.Touch("c", 420);
  t.Touch("a", 300);  // a heartbeat moves a's deadline
  // Deadlines: a 1300, b 1150, c 1420.
  EXPECT_EQ(t.Expire(1149), 0u);
  EXPECT_EQ(OnlineOf(t, {"a", "b", "c"}), (std::vector<std::string>{"a", "b", "c"}));
  t.Expire(1150 + kLate);
  EXPECT_EQ(OnlineOf(t, {"a", "b", "c"}), (std::vector<std::string>{"a", "c"}));
  t.Expire(1299);
  EXPECT_TRUE(t.IsOnline("a"));
  t.Expire(1300 + kLate);
  EXPECT_EQ(OnlineOf(t, {"a", "b", "c"}), (std::vector<std::string>{"c"}));
  EXPECT_EQ(t.count(), 1);
  t.Expire(1420 + kLate);
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, RefreshKeepsAnOnlineUserOnlineOnly) {
  OnlineTable t = MakeTable();
  t.Touch("alice", 0);
  t.Refresh("alice", 900);
  t.Expire(1800);  // seen at 900: not yet
  EXPECT_TRUE(t.IsOnline("alice"));
  t.Expire(1900 + kLate);
  EXPECT_FALSE(t.IsOnline("alice"));
  EXPECT_TRUE(t.empty());

  // A user who left is not brought back by a refresh.
  t.Touch("bob", 3000);
  t.Leave("bob");
  t.Refresh("bob", 3100);
  EXPECT_FALSE(t.IsOnline("bob"));
  EXPECT_EQ(t.count(), 0);
}

TEST(OnlineTableTest, HeldUsersAreKeptAndSeenWhenTheirPollEnds) {
  OnlineTable t = MakeTable();
  const uint64_t a = t.Touch("alice", 0);
  t.Touch("bob", 0);
  t.Hold(a);
  EXPECT_EQ(t.Expire(5000), 1u);  // long past the TTL: bob goes, alice polls on
  EXPECT_TRUE(t.IsOnline("alice"));
  EXPECT_FALSE(t.IsOnline("bob"));

  // Two polls held; the last release counts as a sighting.
  t.Hold(a);
  t.Release(a, 6000);
  t.Expire(9000);
  EXPECT_TRUE(t.IsOnline("alice")) << "one poll still held";
  t.Release(a, 9500);
  t.Expire(10'499);
  EXPECT_TRUE(t.IsOnline("alice"));
  t.Expire(10'500 + kLate);
  EXPECT_FALSE(t.IsOnline("alice"));
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, LeavingWhileAPollIsHeldUncountsAtOnceAndKeepsTheSlotForThePoll) {
  OnlineTable t = MakeTable();
  const uint64_t a = t.Touch("alice", 0);
  t.Touch("bob", 0);
  t.Hold(a);
  EXPECT_TRUE(t.Leave("alice"));
  EXPECT_EQ(t.count(), 1);  // bob
  EXPECT_FALSE(t.IsOnline("alice"));
  EXPECT_FALSE(t.Leave("alice"));
  t.Refresh("alice", 10);  // an edge still holds her poll: she stays gone
  EXPECT_FALSE(t.IsOnline("alice"));

  // Expiry neither counts nor drops the kept slot.
  t.Expire(100'000);
  EXPECT_EQ(t.count(), 0);
  EXPECT_FALSE(t.empty());

  t.Release(a, 100'000);  // the poll ends: the slot goes
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.count(), 0);
}

TEST(OnlineTableTest, RejoinWhileTheLeftUsersPollIsStillHeld) {
  OnlineTable t = MakeTable();
  const uint64_t a = t.Touch("alice", 0);
  t.Hold(a);
  t.Hold(a);
  ASSERT_TRUE(t.Leave("alice"));
  EXPECT_EQ(t.count(), 0);

  // Back while the polls are held: counted again, the holds still hers.
  EXPECT_EQ(t.Touch("alice", 50), a);
  EXPECT_EQ(t.count(), 1);
  t.Release(a, 60);
  t.Expire(10'000);  // one poll still held
  EXPECT_EQ(t.count(), 1);

  ASSERT_TRUE(t.Leave("alice"));
  EXPECT_FALSE(t.empty());
  t.Release(a, 10'100);
  EXPECT_TRUE(t.empty());

  // A fresh join after all that, and stale queue entries from before do not touch it.
  t.Touch("alice", 10'200);
  EXPECT_EQ(t.count(), 1);
  t.Expire(11'100);
  EXPECT_TRUE(t.IsOnline("alice"));
  t.Expire(11'200 + kLate);
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, ARingEmptiedWhileCheckingKeepsEveryDeadline) {
  // alice (held) and bob share the ring's only bucket. Checking it, alice goes a TTL ahead
  // first; bob, seen since, must keep his own, earlier deadline, not be pushed behind hers.
  OnlineTable t = MakeTable();
  const uint64_t a = t.Touch("alice", 0);
  t.Touch("bob", 0);
  t.Hold(a);
  t.Refresh("bob", 500);  // deadline 1500
  t.Expire(1100);         // the bucket of 1000 comes due: alice to 2100, bob to 1500
  EXPECT_TRUE(t.IsOnline("bob"));
  t.Expire(1500 + kLate);
  EXPECT_FALSE(t.IsOnline("bob")) << "bob expired late, behind alice's held deadline";
  EXPECT_TRUE(t.IsOnline("alice"));
}

TEST(OnlineTableTest, ATtlChangeRequeuesEveryoneWithTheNewDeadline) {
  OnlineTable t(0, {.ttl_ms = 1000, .bucket_ms = OnlineTable::BucketMsFor(1000)});
  t.Touch("alice", 0);
  t.set_ttl_ms(3'600'000);  // an hour: a bucket of a 64th of it
  t.Expire(10'000);
  EXPECT_TRUE(t.IsOnline("alice"));
  t.set_ttl_ms(2000);  // back to short buckets
  t.Expire(1999);
  EXPECT_TRUE(t.IsOnline("alice"));
  t.Expire(2000 + OnlineTable::kTickMs + OnlineTable::BucketMsFor(2000));
  EXPECT_FALSE(t.IsOnline("alice"));
  EXPECT_EQ(OnlineTable::BucketMsFor(40'000), 1000);
  EXPECT_EQ(OnlineTable::BucketMsFor(1000), 125);
  EXPECT_EQ(OnlineTable::BucketMsFor(86'400'000), 86'400'000 / 64);
}

TEST(OnlineTableTest, LeaveAndComeBackManyTimesQueuesTheUserOnce) {
  OnlineTable t = MakeTable();
  for (int i = 0; i < 50; ++i) {
    t.Touch("alice", i * 10);
    t.Leave("alice");
  }
  t.Touch("alice", 500);
  // Stale entries of the earlier visits come due first: they must neither expire her early
  // nor leave duplicates that keep her queued twice.
  t.Expire(1499);
  EXPECT_TRUE(t.IsOnline("alice"));
  EXPECT_EQ(t.Expire(1500 + kLate), 1u);
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, AUserHoldingMorePollsThanASlotCounts) {
  OnlineTable t = MakeTable();
  const uint64_t a = t.Touch("alice", 0);
  constexpr int kPolls = 70'000;  // past the slot's 16-bit counter
  for (int i = 0; i < kPolls; ++i) t.Hold(a);
  t.Expire(100'000);
  EXPECT_TRUE(t.IsOnline("alice"));
  for (int i = 0; i < kPolls - 1; ++i) t.Release(a, 100'000);
  t.Expire(200'000);
  EXPECT_TRUE(t.IsOnline("alice")) << "one poll is still held";
  t.Release(a, 200'000);
  t.Expire(201'000 + kLate);
  EXPECT_FALSE(t.IsOnline("alice"));
}

TEST(OnlineTableTest, TheSampleListsASmallRoomWhole) {
  OnlineTable t = MakeTable();
  for (int i = 0; i < 20; ++i) t.Touch("u" + std::to_string(i), i);
  auto snap = t.Snapshot(1234);
  EXPECT_EQ(snap->count, 20);
  EXPECT_EQ(snap->as_of_ms, 1234);
  ASSERT_EQ(snap->users->size(), 20u);
  std::vector<std::string> users = *snap->users;
  std::sort(users.begin(), users.end());
  std::vector<std::string> want;
  for (int i = 0; i < 20; ++i) want.push_back("u" + std::to_string(i));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(users, want);

  // A published snapshot never changes; the next one has the news.
  t.Leave("u3");
  t.Leave("u4");
  EXPECT_EQ(snap->count, 20);
  EXPECT_EQ(snap->users->size(), 20u);
  auto next = t.Snapshot(2000);
  EXPECT_EQ(next->count, 18);
  EXPECT_EQ(next->users->size(), 18u);
  EXPECT_EQ(std::count(next->users->begin(), next->users->end(), "u3"), 0);
}

TEST(OnlineTableTest, TheSampleIsBoundedAndToppedUpByLaterHeartbeats) {
  OnlineTable t = MakeTable(/*sample=*/10);
  for (int i = 0; i < 100; ++i) t.Touch("u" + std::to_string(i), 0);
  auto snap = t.Snapshot(0);
  EXPECT_EQ(snap->count, 100);
  ASSERT_EQ(snap->users->size(), 10u);
  // Sampled users leave; others' next heartbeats take their places.
  const std::vector<std::string> left = *snap->users;
  for (const auto& u : left) t.Leave(u);
  EXPECT_EQ(t.Snapshot(0)->users->size(), 0u);
  for (int i = 0; i < 100; ++i) {
    const std::string u = "u" + std::to_string(i);
    if (std::find(left.begin(), left.end(), u) == left.end()) t.Touch(u, 10);
  }
  auto later = t.Snapshot(0);
  EXPECT_EQ(later->count, 90);
  ASSERT_EQ(later->users->size(), 10u);
  for (const auto& u : *later->users) EXPECT_TRUE(t.IsOnline(u)) << u;
}

TEST(OnlineTableTest, ManyUsersAgainstASimpleModel) {
  // Random joins, heartbeats, polls held and ended, leaves and expiry over 20,000 users: never
  // expired early, never kept more than kLate past the TTL (a held poll keeps its user), and
  // the count always agrees.
  OnlineTable t = MakeTable(/*sample=*/50);
  std::map<std::string, int64_t> seen;  // online users -> last seen
  std::map<std::string, int> held;      // polls held, online or not (a user who left)
  std::mt19937_64 rng(7);
  int64_t now = 0;
  for (int step = 0; step < 200'000; ++step) {
    now += rng() % 3;
    const std::string user = "user" + std::to_string(rng() % 20'000);
    const uint64_t op = rng() % 10;
    if (op == 0) {
      EXPECT_EQ(t.Leave(user), seen.erase(user) == 1);
    } else if (op == 1) {  // a poll is held
      t.Hold(t.Touch(user, now));
      seen[user] = now;
      ++held[user];
    } else if (op == 2 && held[user] > 0) {  // it ends: a sighting if still online
      t.Release(UserHash(user), now);
      --held[user];
      if (seen.count(user)) seen[user] = now;
    } else {
      t.Touch(user, now);
      seen[user] = now;
    }
    if (step % 1000 == 0) {
      t.Expire(now);
      for (auto it = seen.begin(); it != seen.end();) {
        const bool polling = held[it->first] > 0;
        const bool must_stay = polling || it->second + kTtl > now;
        const bool must_go = !polling && it->second + kTtl + kLate <= now;
        const bool online = t.IsOnline(it->first);
        if (must_stay) {
          ASSERT_TRUE(online) << it->first;
        }
        if (must_go) {
          ASSERT_FALSE(online) << it->first;
        }
        it = online ? std::next(it) : seen.erase(it);
      }
      ASSERT_EQ(t.count(), static_cast<int64_t>(seen.size()));
    }
  }
  EXPECT_GT(t.shard_count(), 0u);
}

TEST(OnlineTableTest, DestroyedWithSlotsOfEveryKind) {
  // Online, held, and left-while-held slots at destruction: no crash, no leak (ASan).
  OnlineTable t = MakeTable();
  t.Touch("a", 0);
  t.Hold(t.Touch("b", 0));
  t.Hold(t.Touch("c", 0));
  t.Leave("c");
  EXPECT_EQ(t.count(), 2);
}

TEST(OnlineTableTest, MoveIntoSplitsTheUsersByPartKeepingWhatTheyHold) {
  // A room's table spread over three loops: every user lands in the part PartOf names, with
  // their last sighting, held polls and place in the sample; the source is left empty.
  OnlineTable t = MakeTable(/*sample=*/100);
  std::vector<std::string> users;
  for (int i = 0; i < 3000; ++i) users.push_back("user-" + std::to_string(i));
  for (const auto& u : users) t.Touch(u, 0);
  t.Hold(UserHash("user-1"));
  t.Hold(UserHash("user-2"));
  t.Leave("user-2");  // left while held: uncounted, kept for the poll
  t.Leave("user-3");
  t.Touch("user-4", 500);  // seen later: expires later

  std::deque<OnlineTable> parts;
  for (int i = 0; i < 3; ++i) parts.emplace_back(t.epoch_ms(), t.options());
  std::vector<OnlineTable*> to{&parts[0], &parts[1], &parts[2]};
  const uint64_t version = t.version();
  t.MoveInto(to);
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.count(), 0);
  EXPECT_TRUE(t.sample().empty());
  EXPECT_NE(t.version(), version);

  int64_t total = 0;
  size_t sampled = 0;
  for (auto& p : parts) {
    total += p.count();
    sampled += p.sample().size();
    EXPECT_GT(p.count(), 800) << "users spread evenly over the parts";
    EXPECT_LT(p.count(), 1200);
    for (const auto& u : p.sample()) {
      EXPECT_EQ(&p, &parts[OnlineTable::PartOf(UserHash(u), 3)]) << u;
    }
  }
  EXPECT_EQ(total, 2998);
  EXPECT_EQ(sampled, 98u) << "the sample was full; the two who left were taken out";
  for (const auto& u : users) {
    OnlineTable& home = parts[OnlineTable::PartOf(UserHash(u), 3)];
    const bool gone = u == "user-2" || u == "user-3";
    EXPECT_EQ(home.IsOnline(u), !gone) << u;
  }
  // The deadlines moved with them: everyone but the held and the late one expire at the TTL.
  for (auto& p : parts) p.Expire(kTtl + kLate);
  for (auto& p : parts) EXPECT_EQ(p.count(), p.IsOnline("user-1") + p.IsOnline("user-4"));
  OnlineTable& late = parts[OnlineTable::PartOf(UserHash("user-4"), 3)];
  late.Expire(500 + kTtl + kLate);
  EXPECT_FALSE(late.IsOnline("user-4"));
  // The left user's slot went with its poll, and goes when the poll ends.
  OnlineTable& left = parts[OnlineTable::PartOf(UserHash("user-2"), 3)];
  left.Release(UserHash("user-2"), 3000);
  EXPECT_FALSE(left.IsOnline("user-2"));
  OnlineTable& held = parts[OnlineTable::PartOf(UserHash("user-1"), 3)];
  EXPECT_TRUE(held.IsOnline("user-1"));
  held.Release(UserHash("user-1"), 3000);
  held.Expire(3000 + kTtl + kLate);
  int64_t left_over = 0;
  for (auto& p : parts) left_over += p.count();
  EXPECT_EQ(left_over, 0);
}

TEST(OnlineTableTest, PartOfIsEvenAndIndependentOfTheShardBits) {
  // Users of one part still fill their own shards evenly: the part comes from bits the
  // directory (top 16) and a slot's home (bits 2..17) do not use.
  std::vector<int> per_part(4);
  std::vector<int> top_bit_in_part0(2);
  for (int i = 0; i < 40000; ++i) {
    const uint64_t h = UserHash("u" + std::to_string(i));
    const size_t part = OnlineTable::PartOf(h, 4);
    ASSERT_LT(part, 4u);
    ++per_part[part];
    if (part == 0) ++top_bit_in_part0[h >> 63];
  }
  for (int n : per_part) EXPECT_NEAR(n, 10000, 600);
  EXPECT_NEAR(top_bit_in_part0[0], top_bit_in_part0[1], 600);
  EXPECT_EQ(OnlineTable::PartOf(~0ull, 1), 0u);
}

}  // namespace
}  // namespace chatroomd::presence
