// FrontEdge's bounds: rooms.max_held_polls_per_room and rooms.max_held_polls make TryHold
// refuse a poll (it then goes to the room, which sees every edge's count and answers 503
// overloaded), and rooms.edge_max_groups keeps polls of further groups at the room.
#include <gtest/gtest.h>

#include "chatroomd/room/front_edge.h"
#include "front_edge_fixture.h"

namespace chatroomd::room {
namespace {

using namespace std::chrono_literals;
using fakes::Body;
using fakes::Json;

using fakes::Code;

class PerRoomBoundTest : public fakes::FrontEdgeTest {
 protected:
  void Configure(RoomSettings& s) override { s.max_held_polls_per_room = 2; }
};

TEST_F(PerRoomBoundTest, TryHoldRefusesPastTheRoomsBoundAndTheRoomAnswersOverloaded) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);  // held by the room: 1
  auto b = EdgeClient();
  auto c = EdgeClient();
  ASSERT_TRUE(Poll(b, "bob", head));
  ASSERT_TRUE(Poll(c, "carol", head));
  EXPECT_EQ(EdgeHeldMetric(), 2);

  // The edge holds as many as the bound allows; the next goes to the room, after the report
  // that tells it of the edge's two: 1 + 2 is past the bound.
  auto d = EdgeClient();
  EXPECT_FALSE(Poll(d, "dave", head));
  WirePtr w = d->Next();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 503);
  EXPECT_EQ(Code(w), "overloaded");
  EXPECT_NE(w->head.find("Retry-After: "), std::string::npos);
  EXPECT_FALSE(EdgeWaiting(d));
  EXPECT_EQ(d.use_count(), 1);
  EXPECT_EQ(SharedHeld(), 3);
  EXPECT_EQ(EdgeHeldAtRoom(), 2);

  // The held polls are unaffected: a growth answers them all.
  Say("m1");
  for (const auto& x : {a, b, c}) {
    WirePtr ans = x->Next();
    ASSERT_TRUE(ans);
    EXPECT_EQ(ans->status, 200);
  }
  EXPECT_EQ(SharedHeld(), 0);
}

class ProcessBoundTest : public fakes::FrontEdgeTest {
 protected:
  void Configure(RoomSettings& s) override { s.max_held_polls = 2; }
};

TEST_F(ProcessBoundTest, TryHoldRefusesPastTheProcessBoundAndTheRoomAnswersOverloaded) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);  // the process holds 1
  auto b = EdgeClient();
  ASSERT_TRUE(Poll(b, "bob", head));  // 2
  EXPECT_EQ(SharedHeld(), 2);

  auto c = EdgeClient();
  EXPECT_FALSE(Poll(c, "carol", head));
  WirePtr w = c->Next();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 503);
  EXPECT_EQ(Code(w), "overloaded");
  EXPECT_EQ(SharedHeld(), 2) << "a refused poll kept a process-wide slot";
  EXPECT_EQ(EdgeHeldMetric(), 1);

  // A slot given back (a cancelled poll) can be taken again.
  OnFront([&] { CancelEdgeWait(*b); });
  EXPECT_EQ(SharedHeld(), 1);
  auto d = EdgeClient();
  EXPECT_TRUE(Poll(d, "dave", head));
  EXPECT_EQ(SharedHeld(), 2);
}

class OneGroupTest : public fakes::FrontEdgeTest {
 protected:
  void Configure(RoomSettings& s) override { s.edge_max_groups = 1; }
};

TEST_F(OneGroupTest, PollsOfAGroupPastEdgeMaxGroupsStayAtTheRoom) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head, 10);
  // limit 20 is a second group: the room holds every such poll, and never gives it to the edge.
  for (int i = 0; i < 2; ++i) {
    auto c = EdgeClient();
    EXPECT_FALSE(Poll(c, "bob", head, 20));
    RoundTrip();
  }
  EXPECT_EQ(HeldAtRoom(), 3u);
  auto b = EdgeClient();
  EXPECT_TRUE(Poll(b, "bob", head, 10));
  EXPECT_EQ(EdgeHeldMetric(), 1);
  Say("m1");
  WirePtr w = b->Next();
  ASSERT_TRUE(w);
  EXPECT_EQ(Json(w).at("messages").at(0).at("body").as_string(), "m1");
}

}  // namespace
}  // namespace chatroomd::room
