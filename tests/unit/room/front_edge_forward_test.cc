// FrontEdge's way back to the room: a growth whose Grew carries no response for the edge's
// waiters (more priority messages became visible in one wake than the room's priority list
// holds, so the unread ones are only in the store) sends those waiters to the room as ordinary
// polls at the head they were held at; the room answers them from the store.
//
// Several sends become visible in one wake deterministically: the gated store (gated_store.h) keeps
// their write completions and runs them together in one turn of the room's loop.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "chatroomd/room/front_edge.h"
#include "front_edge_fixture.h"
#include "gated_store.h"

namespace chatroomd::room {
namespace {

using namespace std::chrono_literals;
using fakes::Body;
using fakes::Json;

class FrontEdgeForwardTest : public fakes::FrontEdgeTest {
 protected:
  void Configure(RoomSettings& s) override {
    s.priority_size = 2;
    s.max_held_polls_per_room = max_held_polls_per_room_;
  }
  store::Store& HostStore(store::Store& real) override {
    burst_ = std::make_unique<fakes::GatedStore>(real);
    return *burst_;
  }

  // Three priority messages that become visible in one wake: more than the priority list.
  void ThreePriorityMessagesInOneWake() {
    burst_->Gate();
    std::vector<std::shared_ptr<fakes::FakeClient>> senders;
    for (const char* body : {"p1", "p2", "p3"}) {
      senders.push_back(PlainClient());
      SendArgs a;
      a.body = body;
      a.priority = true;
      host_->Post(kRoom, As(senders.back(), "backend", true), a);
    }
    ASSERT_TRUE(burst_->ReleaseOn(3, *room_loop_)) << "the writes never completed";
    for (auto& s : senders) {
      WirePtr w = s->Next();
      ASSERT_TRUE(w);
      ASSERT_EQ(w->status, 200) << Body(w);
    }
  }

  // The first poll at the head subscribes the edge (held by the room); two more are held by
  // the edge, their report not sent yet.
  std::vector<std::shared_ptr<fakes::FakeClient>> HoldTwoAtTheEdge(Cursor head) {
    auto a = EdgeClient();
    Subscribe(a, "alice", head);
    std::vector<std::shared_ptr<fakes::FakeClient>> held;
    for (const char* user : {"bob", "carol"}) {
      held.push_back(EdgeClient());
      EXPECT_TRUE(Poll(held.back(), user, head));
    }
    room_waiter_ = a;
    return held;
  }

  uint32_t max_held_polls_per_room_ = 1000000;
  std::unique_ptr<fakes::GatedStore> burst_;
  std::shared_ptr<fakes::FakeClient> room_waiter_;
};

std::vector<std::string> BodiesOf(const WirePtr& w) {
  std::vector<std::string> out;
  const boost::json::value v = Json(w);
  for (const auto& m : v.at("messages").as_array()) out.emplace_back(m.at("body").as_string());
  return out;
}

TEST_F(FrontEdgeForwardTest, WaitersWithoutAResponseGoBackToTheRoomAndGetEveryPriorityMessage) {
  const Cursor head = Join("alice");
  auto held = HoldTwoAtTheEdge(head);
  ThreePriorityMessagesInOneWake();

  for (auto& c : held) {
    WirePtr w = c->Next();
    ASSERT_TRUE(w) << "a waiter the edge could not answer was lost";
    // Handed to the room: a client that went away would cancel it there.
    EXPECT_EQ(c->poll_room(), kRoom);
    EXPECT_EQ(w->status, 200);
    EXPECT_EQ(BodiesOf(w), (std::vector<std::string>{"p1", "p2", "p3"})) << Body(w);
    EXPECT_EQ(CursorOf(w), (Cursor{3, 3}));
  }
  WirePtr own = room_waiter_->Next();
  ASSERT_TRUE(own);
  EXPECT_EQ(BodiesOf(own), (std::vector<std::string>{"p1", "p2", "p3"}));
  EXPECT_EQ(EdgeHeldMetric(), 0);
  EXPECT_EQ(SharedHeld(), 0);
  EXPECT_EQ(HeldAtRoom(), 0u);
  for (auto& c : held) EXPECT_FALSE(EdgeWaiting(c));

  // At the new head the edge holds polls again.
  auto again = EdgeClient();
  EXPECT_TRUE(Poll(again, "bob", Cursor{3, 3}));
}

// Waiters an edge hands back to the room on a growth without answers for them (here: more
// priority messages than the list holds) are no longer counted as held at the edge, even when
// a report of polls taken just before was still pending: otherwise the room would count them
// at max_held_polls_per_room, call itself full and refuse every poll with 503.
class FrontEdgeForwardFullTest : public FrontEdgeForwardTest {
 protected:
  void SetUp() override {
    max_held_polls_per_room_ = 2;
    FrontEdgeForwardTest::SetUp();
  }
};

TEST_F(FrontEdgeForwardFullTest, ForwardedWaitersAreNotCountedAsHeldAtTheEdge) {
  const Cursor head = Join("alice");
  auto held = HoldTwoAtTheEdge(head);
  ThreePriorityMessagesInOneWake();
  for (auto& c : held) ASSERT_TRUE(c->Next());
  ASSERT_TRUE(room_waiter_->Next());
  ASSERT_EQ(EdgeHeldMetric(), 0);

  EXPECT_EQ(EdgeHeldAtRoom(), 0) << "the room counts polls the edge gave back";
  // Nothing is held anywhere: a poll at the head is held, not refused.
  auto c = EdgeClient();
  Poll(c, "dave", Cursor{3, 3});
  RoundTrip();
  EXPECT_TRUE(c->Idle(0ms)) << "answered at once: " << Body(c->Next(0ms));
  EXPECT_EQ(HeldAtRoom() + static_cast<size_t>(EdgeHeldMetric()), 1u);
}

}  // namespace
}  // namespace chatroomd::room
