// A kick reaches the front loops' edges (FrontEdge::Kicked): the kicked user's polls held there
// are answered 403 kicked, other waiters stay, and from then on the edge sends that user's
// polls to the room, which refuses them; a lift lets the edge hold them again.
#include <gtest/gtest.h>

#include "front_edge_fixture.h"

namespace chatroomd::room {
namespace {

using fakes::Code;
using fakes::FrontEdgeTest;
using namespace std::chrono_literals;

class FrontEdgeKickTest : public FrontEdgeTest {
 protected:
  // An admin's mute or kick at the room; the answer's status.
  int Moderate(ModerateArgs::Kind kind, const std::string& user, uint32_t seconds) {
    auto c = PlainClient();
    ModerateArgs args;
    args.kind = kind;
    args.user = user;
    args.seconds = seconds;
    host_->Post(kRoom, As(c, "boss", true), args);
    WirePtr w = c->Next();
    RoundTrip();  // what the room told the edge has run there
    return w ? w->status : 0;
  }
};

TEST_F(FrontEdgeKickTest, AKickAnswersTheUsersEdgeHeldPollsOnly) {
  const Cursor head = Join("alice");
  Join("bob");
  Join("carol");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);  // held by the room
  auto b1 = EdgeClient();
  auto b2 = EdgeClient();  // a second device of bob's
  auto c = EdgeClient();
  ASSERT_TRUE(Poll(b1, "bob", head));
  ASSERT_TRUE(Poll(b2, "bob", head));
  ASSERT_TRUE(Poll(c, "carol", head));
  EXPECT_EQ(EdgeHeldMetric(), 3);

  EXPECT_EQ(Moderate(ModerateArgs::Kind::kKick, "bob", 600), 204);
  for (auto* client : {&b1, &b2}) {
    WirePtr w = (*client)->Next();
    ASSERT_TRUE(w);
    EXPECT_EQ(w->status, 403);
    EXPECT_EQ(Code(w), "kicked");
    EXPECT_FALSE(EdgeWaiting(*client));
  }
  EXPECT_TRUE(EdgeWaiting(c));
  EXPECT_TRUE(a->Idle(0ms));
  EXPECT_TRUE(c->Idle(0ms));
  EXPECT_EQ(EdgeHeldMetric(), 1);
  EXPECT_EQ(SharedHeld(), 2);
  EXPECT_EQ(b1.use_count(), 1) << "the edge kept the client alive after answering";

  // bob's next poll goes to the room, which refuses it.
  EXPECT_FALSE(Poll(b1, "bob", head));
  WirePtr refused = b1->Next();
  ASSERT_TRUE(refused);
  EXPECT_EQ(Code(refused), "kicked");

  // Lifted: the edge holds his polls again.
  EXPECT_EQ(Moderate(ModerateArgs::Kind::kKick, "bob", 0), 204);
  EXPECT_TRUE(Poll(b1, "bob", head));
  EXPECT_TRUE(EdgeWaiting(b1));
}

TEST_F(FrontEdgeKickTest, AnEdgeSubscribedAfterTheKickKnowsOfIt) {
  const Cursor head = Join("alice");
  Join("bob");
  Join("carol");
  EXPECT_EQ(Moderate(ModerateArgs::Kind::kKick, "bob", 600), 204);  // no edge subscribed yet
  auto a = EdgeClient();
  Subscribe(a, "alice", head);
  RoundTrip();  // the kicks sent with the subscription have reached the edge
  auto b = EdgeClient();
  EXPECT_FALSE(Poll(b, "bob", head)) << "held by an edge that does not know of the kick";
  WirePtr refused = b->Next();
  ASSERT_TRUE(refused);
  EXPECT_EQ(Code(refused), "kicked");
  // Nor is he answered from the room's answers behind the head.
  Say("m1");
  ASSERT_TRUE(a->Next());
  EXPECT_FALSE(Poll(b, "bob", head));
  refused = b->Next();
  ASSERT_TRUE(refused);
  EXPECT_EQ(Code(refused), "kicked");
  // carol, from the same cursor, is answered by the edge.
  auto c = EdgeClient();
  EXPECT_TRUE(Poll(c, "carol", head));
  WirePtr answer = c->Next();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
}

TEST_F(FrontEdgeKickTest, AMuteLeavesPollsAlone) {
  const Cursor head = Join("alice");
  Join("bob");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);
  auto b = EdgeClient();
  ASSERT_TRUE(Poll(b, "bob", head));
  EXPECT_EQ(Moderate(ModerateArgs::Kind::kMute, "bob", 600), 204);
  EXPECT_TRUE(EdgeWaiting(b));
  EXPECT_TRUE(b->Idle(0ms));
}

}  // namespace
}  // namespace chatroomd::room
