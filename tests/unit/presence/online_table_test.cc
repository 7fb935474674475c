// OnlineTable (presence/online_table.h): who is online in one room. Touch/Find/Leave/Refresh,
// polls held and released, expiry in least-recently-seen order with held users kept, and a
// user who leaves while a poll of theirs is held (uncounted at once, the entry kept for the
// poll until it ends). Times are plain numbers: the table takes `now` from its caller.
#include "chatroomd/presence/online_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chatroomd::presence {
namespace {

constexpr int64_t kTtl = 1000;

// Users still online, found one by one.
std::vector<std::string> OnlineOf(OnlineTable& t, const std::vector<std::string>& users) {
  std::vector<std::string> out;
  for (const auto& u : users) {
    if (t.Find(u)) out.push_back(u);
  }
  return out;
}

TEST(OnlineTableTest, EmptyTable) {
  OnlineTable t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.count(), 0);
  EXPECT_EQ(t.Find("alice"), nullptr);
  EXPECT_FALSE(t.Leave("alice"));
  t.Refresh("alice", 10);  // not online: stays offline
  EXPECT_EQ(t.Find("alice"), nullptr);
  EXPECT_TRUE(t.empty());
  t.Expire(1'000'000, kTtl);
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, TouchFindLeave) {
  OnlineTable t;
  OnlineEntry& a = t.Touch("alice", 100);
  EXPECT_EQ(*a.user, "alice");
  EXPECT_EQ(a.last_seen_ms, 100);
  EXPECT_EQ(a.held, 0u);
  EXPECT_FALSE(a.left);
  EXPECT_EQ(t.count(), 1);
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(t.Find("alice"), &a);

  // Touching again is the same entry, seen later; the count does not move.
  EXPECT_EQ(&t.Touch("alice", 200), &a);
  EXPECT_EQ(a.last_seen_ms, 200);
  EXPECT_EQ(t.count(), 1);

  t.Touch("bob", 300);
  EXPECT_EQ(t.count(), 2);
  EXPECT_TRUE(t.Leave("alice"));
  EXPECT_EQ(t.count(), 1);
  EXPECT_EQ(t.Find("alice"), nullptr);
  EXPECT_FALSE(t.Leave("alice")) << "leaving twice";
  EXPECT_TRUE(t.Leave("bob"));
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.count(), 0);

  // Online again after a leave.
  t.Touch("alice", 400);
  EXPECT_NE(t.Find("alice"), nullptr);
  EXPECT_EQ(t.count(), 1);
}

TEST(OnlineTableTest, EntriesKeepTheirAddressWhileTheTableGrows) {
  OnlineTable t;
  OnlineEntry* a = &t.Touch("alice", 1);
  for (int i = 0; i < 5000; ++i) t.Touch("user" + std::to_string(i), 2 + i);
  EXPECT_EQ(t.Find("alice"), a);
  EXPECT_EQ(*a->user, "alice");
  EXPECT_EQ(t.count(), 5001);
}

TEST(OnlineTableTest, RefreshKeepsAnOnlineUserOnlineOnly) {
  OnlineTable t;
  t.Touch("alice", 0);
  t.Refresh("alice", 900);
  EXPECT_EQ(t.Find("alice")->last_seen_ms, 900);
  t.Expire(1500, kTtl);  // seen at 900: not yet
  EXPECT_NE(t.Find("alice"), nullptr);
  t.Expire(1900, kTtl);  // exactly the TTL after: gone
  EXPECT_EQ(t.Find("alice"), nullptr);
  EXPECT_TRUE(t.empty());

  // A user who left is not brought back by a refresh.
  t.Touch("bob", 2000);
  t.Leave("bob");
  t.Refresh("bob", 2100);
  EXPECT_EQ(t.Find("bob"), nullptr);
  EXPECT_EQ(t.count(), 0);
}

TEST(OnlineTableTest, ExpiresLeastRecentlySeenFirst) {
  OnlineTable t;
  t.Touch("a", 0);
  t.Touch("b", 100);
  t.Touch("c", 200);
  t.Refresh("b", 250);  // b moves behind c
  t.Touch("a", 300);    // a behind both
  // Last seen: a 300, b 250, c 200.
  t.Expire(1199, kTtl);
  EXPECT_EQ(OnlineOf(t, {"a", "b", "c"}), (std::vector<std::string>{"a", "b", "c"}));
  t.Expire(1200, kTtl);
  EXPECT_EQ(OnlineOf(t, {"a", "b", "c"}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.count(), 2);
  t.Expire(1250, kTtl);
  EXPECT_EQ(OnlineOf(t, {"a", "b", "c"}), (std::vector<std::string>{"a"}));
  t.Expire(1300, kTtl);
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, HeldUsersAreKeptAndSeenWhenTheirPollEnds) {
  OnlineTable t;
  OnlineEntry& a = t.Touch("alice", 0);
  t.Touch("bob", 0);
  t.Hold(a);
  EXPECT_EQ(a.held, 1u);
  t.Expire(5000, kTtl);  // long past the TTL: bob goes, alice polls on
  EXPECT_NE(t.Find("alice"), nullptr);
  EXPECT_EQ(t.Find("bob"), nullptr);
  EXPECT_EQ(t.count(), 1);

  // Two polls held; releasing one keeps her held, and each release counts as seen.
  t.Hold(a);
  t.Release(a, 6000);
  EXPECT_EQ(a.held, 1u);
  EXPECT_EQ(a.last_seen_ms, 6000);
  t.Release(a, 7000);
  EXPECT_EQ(a.held, 0u);
  EXPECT_EQ(a.last_seen_ms, 7000);
  t.Expire(7999, kTtl);
  EXPECT_NE(t.Find("alice"), nullptr);
  t.Expire(8000, kTtl);
  EXPECT_EQ(t.Find("alice"), nullptr);
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, LeavingWhileAPollIsHeldUncountsAtOnceAndKeepsTheEntryForThePoll) {
  OnlineTable t;
  OnlineEntry& a = t.Touch("alice", 0);
  t.Touch("bob", 0);
  t.Hold(a);
  EXPECT_TRUE(t.Leave("alice"));
  EXPECT_EQ(t.count(), 1);  // bob
  EXPECT_EQ(t.Find("alice"), nullptr);
  EXPECT_TRUE(a.left);
  EXPECT_FALSE(t.Leave("alice"));
  t.Refresh("alice", 10);  // the edge still holds her poll: she stays gone
  EXPECT_EQ(t.Find("alice"), nullptr);

  // Expiry neither counts nor drops the kept entry (the held poll points at it).
  t.Expire(100'000, kTtl);
  EXPECT_EQ(t.count(), 0);
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(*a.user, "alice");

  // The poll ends: the entry goes.
  t.Release(a, 100'000);
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.count(), 0);
}

TEST(OnlineTableTest, RejoinWhileTheLeftUsersPollIsStillHeld) {
  OnlineTable t;
  OnlineEntry& a = t.Touch("alice", 0);
  t.Hold(a);
  t.Hold(a);
  ASSERT_TRUE(t.Leave("alice"));
  EXPECT_EQ(t.count(), 0);

  // Back while the polls are held: the same entry, counted again.
  OnlineEntry& again = t.Touch("alice", 50);
  EXPECT_EQ(&again, &a);
  EXPECT_FALSE(a.left);
  EXPECT_EQ(a.held, 2u);
  EXPECT_EQ(t.count(), 1);
  EXPECT_EQ(t.Find("alice"), &a);

  // She stays while polling, and a release is a sighting, not the end of her.
  t.Release(a, 60);
  EXPECT_EQ(t.count(), 1);
  t.Expire(10'000, kTtl);  // still one poll held
  EXPECT_EQ(t.count(), 1);

  // Leave again with the poll still held, then the poll ends.
  ASSERT_TRUE(t.Leave("alice"));
  EXPECT_EQ(t.count(), 0);
  EXPECT_FALSE(t.empty());
  t.Release(a, 10'100);
  EXPECT_TRUE(t.empty());

  // And a fresh join after all that.
  t.Touch("alice", 10'200);
  EXPECT_EQ(t.count(), 1);
  t.Expire(11'200, kTtl);
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, CountIgnoresOnlyEntriesKeptForUsersWhoLeft) {
  OnlineTable t;
  std::vector<OnlineEntry*> held;
  for (int i = 0; i < 10; ++i) {
    OnlineEntry& e = t.Touch("u" + std::to_string(i), i);
    if (i % 2 == 0) {
      t.Hold(e);
      held.push_back(&e);
    }
  }
  EXPECT_EQ(t.count(), 10);
  for (int i = 0; i < 10; ++i) t.Leave("u" + std::to_string(i));
  EXPECT_EQ(t.count(), 0);
  EXPECT_FALSE(t.empty());  // five entries kept for their polls
  for (OnlineEntry* e : held) t.Release(*e, 100);
  EXPECT_TRUE(t.empty());
}

TEST(OnlineTableTest, DestroyedWithEntriesOfEveryKind) {
  // Online, held, and left-while-held entries at destruction: no crash, no leak (ASan).
  OnlineTable t;
  t.Touch("a", 0);
  OnlineEntry& b = t.Touch("b", 0);
  t.Hold(b);
  OnlineEntry& c = t.Touch("c", 0);
  t.Hold(c);
  t.Leave("c");
  EXPECT_EQ(t.count(), 2);
}

}  // namespace
}  // namespace chatroomd::presence
