// FrontEdge (room/front_edge.h), the front loop's side of edge holds, against a real room: the
// first poll at a room's head goes to the room, which holds it and subscribes the edge; later
// polls at the head are held by the edge itself, answered when the room grows (one shared
// response per (limit, format) group), answered at once one growth behind, timed out on the
// front loop's wheel (a hand-moved clock), cancelled, reported to the room, released at
// shutdown or let go. Bounds are in front_edge_bounds_test.cc.
#include "chatroomd/room/front_edge.h"

#include <gtest/gtest.h>

#include "front_edge_fixture.h"
#include "proto/chatroomd/api.pb.h"

namespace chatroomd::room {
namespace {

using namespace std::chrono_literals;
using fakes::Body;
using fakes::Json;
class FrontEdgeTest : public fakes::FrontEdgeTest {};

bool IsProtobuf(const WirePtr& w) {
  return w->head.find("Content-Type: application/x-protobuf") != std::string::npos;
}

TEST_F(FrontEdgeTest, FirstPollGoesToTheRoomThenTheEdgeHoldsPollsAtTheHead) {
  const Cursor head = Join("alice");
  ASSERT_EQ(head, (Cursor{0, 0}));

  // Nothing subscribed yet: the room holds the poll and subscribes the edge.
  auto a = EdgeClient();
  Subscribe(a, "alice", head);
  EXPECT_EQ(EdgeCount(), 1u);
  EXPECT_FALSE(EdgeWaiting(a));

  // The next poll at the head stays on the front loop.
  auto b = EdgeClient();
  EXPECT_TRUE(Poll(b, "bob", head));
  EXPECT_TRUE(EdgeWaiting(b));
  EXPECT_EQ(HeldAtRoom(), 1u);
  EXPECT_EQ(SharedHeld(), 2);
  EXPECT_EQ(EdgeHeldMetric(), 1);
  EXPECT_EQ(RoomHeldMetric(), 1);
  EXPECT_TRUE(a->Idle(0ms));
  EXPECT_TRUE(b->Idle(0ms));

  // A growth answers both, the room's waiter and the edge's, with the same body.
  Say("m1");
  WirePtr wa = a->Next();
  WirePtr wb = b->Next();
  ASSERT_TRUE(wa && wb);
  EXPECT_EQ(wb->status, 200);
  EXPECT_EQ(Bodies(wb), std::vector<std::string>{"m1"});
  EXPECT_EQ(CursorOf(wb), (Cursor{1, 1}));
  EXPECT_EQ(Body(wa), Body(wb));
  EXPECT_FALSE(EdgeWaiting(b));
  EXPECT_EQ(SharedHeld(), 0);
  EXPECT_EQ(EdgeHeldMetric(), 0);
  EXPECT_EQ(b.use_count(), 1) << "the edge kept the client alive after answering";
}

TEST_F(FrontEdgeTest, GrowthAnswersEveryWaiterOfAGroupWithTheSameBytes) {
  const Cursor head = Join("alice");
  auto sj = EdgeClient();
  auto sp = EdgeClient();
  Subscribe(sj, "alice", head, 10, BodyFormat::kJson);
  Subscribe(sp, "alice", head, 20, BodyFormat::kProtobuf);

  std::vector<std::shared_ptr<fakes::FakeClient>> json, proto;
  for (int i = 0; i < 3; ++i) {
    json.push_back(EdgeClient());
    ASSERT_TRUE(Poll(json.back(), "j" + std::to_string(i), head, 10, BodyFormat::kJson));
  }
  for (int i = 0; i < 2; ++i) {
    proto.push_back(EdgeClient());
    ASSERT_TRUE(Poll(proto.back(), "p" + std::to_string(i), head, 20, BodyFormat::kProtobuf));
  }
  EXPECT_EQ(EdgeHeldMetric(), 5);
  EXPECT_EQ(SharedHeld(), 7);

  const uint64_t seq = Say("hello");
  std::vector<WirePtr> jw, pw;
  for (auto& c : json) jw.push_back(c->Next());
  for (auto& c : proto) pw.push_back(c->Next());
  for (const auto& w : jw) ASSERT_TRUE(w);
  for (const auto& w : pw) ASSERT_TRUE(w);
  // One response per group, shared by every waiter of the group.
  for (const auto& w : jw) EXPECT_EQ(w.get(), jw[0].get());
  for (const auto& w : pw) EXPECT_EQ(w.get(), pw[0].get());
  EXPECT_NE(jw[0].get(), pw[0].get());

  EXPECT_EQ(jw[0]->status, 200);
  auto j = Json(jw[0]);
  ASSERT_EQ(j.at("messages").as_array().size(), 1u);
  EXPECT_EQ(j.at("messages").at(0).at("body").as_string(), "hello");
  EXPECT_EQ(j.at("messages").at(0).at("seq").as_string(), std::to_string(seq));
  EXPECT_FALSE(j.at("gap").as_bool());
  EXPECT_EQ(CursorOf(jw[0]), (Cursor{seq, seq}));

  ASSERT_TRUE(IsProtobuf(pw[0])) << pw[0]->head;
  api::PollResponse p;
  ASSERT_TRUE(p.ParseFromString(Body(pw[0])));
  ASSERT_EQ(p.messages_size(), 1);
  EXPECT_EQ(p.messages(0).body(), "hello");
  EXPECT_EQ(p.messages(0).seq(), seq);
  auto pc = DecodeCursor(kRoom, p.cursor());
  ASSERT_TRUE(pc.ok());
  EXPECT_EQ(*pc, (Cursor{seq, seq}));

  // The room's own waiters got the same bodies.
  WirePtr rj = sj->Next();
  WirePtr rp = sp->Next();
  ASSERT_TRUE(rj && rp);
  EXPECT_EQ(Body(rj), Body(jw[0]));
  EXPECT_EQ(Body(rp), Body(pw[0]));
  EXPECT_EQ(SharedHeld(), 0);
  EXPECT_EQ(EdgeHeldMetric(), 0);
}

TEST_F(FrontEdgeTest, APollOneGrowthBehindIsAnsweredAtOnceFromTheRoomsAnswers) {
  const Cursor c0 = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", c0);
  auto b = EdgeClient();
  ASSERT_TRUE(Poll(b, "alice", c0));
  Say("m1");
  ASSERT_TRUE(a->Next());
  WirePtr grown = b->Next();
  ASSERT_TRUE(grown);
  const Cursor c1 = CursorOf(grown);
  ASSERT_EQ(c1, (Cursor{1, 1}));

  // A re-poll at the old head (it missed the growth): answered right inside TryHold with the
  // room's answer from there; nothing is held and nothing goes to the room.
  auto late = EdgeClient();
  ASSERT_TRUE(Poll(late, "alice", c0));
  WirePtr at_once = late->Next(0ms);
  ASSERT_TRUE(at_once) << "not answered within TryHold";
  EXPECT_EQ(at_once.get(), grown.get());
  EXPECT_EQ(edge_metrics_->edge_answers.load(), 1u);
  EXPECT_FALSE(EdgeWaiting(late));
  EXPECT_EQ(SharedHeld(), 0);
  EXPECT_EQ(HeldAtRoom(), 0u);

  // Another group at the old head: the edge has no answer for it; the room answers.
  auto other = EdgeClient();
  EXPECT_FALSE(Poll(other, "alice", c0, 5));
  WirePtr from_room = other->Next();
  ASSERT_TRUE(from_room);
  EXPECT_EQ(Bodies(from_room), std::vector<std::string>{"m1"});

  // At the new head the edge holds it again.
  auto next = EdgeClient();
  EXPECT_TRUE(Poll(next, "alice", c1));
  EXPECT_TRUE(EdgeWaiting(next));
  EXPECT_EQ(edge_metrics_->edge_answers.load(), 1u);
}

TEST_F(FrontEdgeTest, TwoGrowthsBehindIsAnsweredToo) {
  const Cursor c0 = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", c0);
  auto b = EdgeClient();
  ASSERT_TRUE(Poll(b, "alice", c0));
  Say("m1");
  ASSERT_TRUE(a->Next());
  const Cursor c1 = CursorOf(b->Next());
  auto c = EdgeClient();
  ASSERT_TRUE(Poll(c, "alice", c1));
  Say("m2");
  const Cursor c2 = CursorOf(c->Next());
  ASSERT_EQ(c2, (Cursor{2, 2}));

  // The last growth carried answers from the head before it (c1) and the one before (c0).
  auto from1 = EdgeClient();
  ASSERT_TRUE(Poll(from1, "alice", c1));
  WirePtr w1 = from1->Next(0ms);
  ASSERT_TRUE(w1);
  EXPECT_EQ(Bodies(w1), std::vector<std::string>{"m2"});
  auto from0 = EdgeClient();
  ASSERT_TRUE(Poll(from0, "alice", c0));
  WirePtr w0 = from0->Next(0ms);
  ASSERT_TRUE(w0);
  EXPECT_EQ(Bodies(w0), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(CursorOf(w0), c2);
  EXPECT_EQ(edge_metrics_->edge_answers.load(), 2u);

  // One more growth: c0 is three behind, and the room answers it.
  auto d = EdgeClient();
  ASSERT_TRUE(Poll(d, "alice", c2));
  Say("m3");
  ASSERT_TRUE(d->Next());
  auto old = EdgeClient();
  EXPECT_FALSE(Poll(old, "alice", c0));
  WirePtr w = old->Next();
  ASSERT_TRUE(w);
  EXPECT_EQ(Bodies(w), (std::vector<std::string>{"m1", "m2", "m3"}));
}

TEST_F(FrontEdgeTest, AnswersBehindTheHeadAreDroppedWhenTheOnlineCountMoves) {
  const Cursor c0 = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", c0);
  Say("m1");
  ASSERT_TRUE(a->Next());
  ASSERT_EQ(Online(), 1);

  // bob's poll, answered from the room's answers, makes him online once the edge reports it;
  // the room tells the edge the new count, and answers carrying the old count go.
  auto b = EdgeClient();
  ASSERT_TRUE(Poll(b, "bob", c0));
  ASSERT_TRUE(b->Next(0ms));
  OnFront([&] { edge_->Flush(); });
  EXPECT_EQ(Online(), 2);
  RoundTrip();  // the room's Changed has reached the edge

  auto c = EdgeClient();
  EXPECT_FALSE(Poll(c, "carol", c0)) << "answered with a stale online count";
  WirePtr w = c->Next();
  ASSERT_TRUE(w);
  EXPECT_EQ(Bodies(w), std::vector<std::string>{"m1"});
  EXPECT_EQ(Json(w).at("online").as_string(), "3");
}

TEST_F(FrontEdgeTest, AnotherGroupIsHeldByTheEdgeOnlyOnceTheRoomSubscribedIt) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head, 10, BodyFormat::kJson);

  // Another limit: the room's, until the room has subscribed the edge to it.
  auto l20 = EdgeClient();
  EXPECT_FALSE(Poll(l20, "bob", head, 20));
  RoundTrip();
  auto l20b = EdgeClient();
  EXPECT_TRUE(Poll(l20b, "bob", head, 20));

  // Another format: the same.
  auto pb = EdgeClient();
  EXPECT_FALSE(Poll(pb, "carol", head, 10, BodyFormat::kProtobuf));
  RoundTrip();
  auto pb2 = EdgeClient();
  EXPECT_TRUE(Poll(pb2, "carol", head, 10, BodyFormat::kProtobuf));

  EXPECT_EQ(HeldAtRoom(), 3u);
  EXPECT_EQ(EdgeHeldMetric(), 2);

  Say("m1");
  for (const auto& c : {a, l20, l20b, pb, pb2}) {
    WirePtr w = c->Next();
    ASSERT_TRUE(w);
    EXPECT_EQ(w->status, 200);
  }
  EXPECT_EQ(SharedHeld(), 0);
}

TEST_F(FrontEdgeTest, HeldPollTimesOutWithNoMessagesAndTheHeadCursor) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);  // held by the room for 60 s
  auto b = EdgeClient();
  ASSERT_TRUE(Poll(b, "bob", head, 10, BodyFormat::kJson, 1000));
  auto p = EdgeClient();
  ASSERT_FALSE(Poll(p, "carol", head, 10, BodyFormat::kProtobuf));
  RoundTrip();
  auto q = EdgeClient();
  ASSERT_TRUE(Poll(q, "carol", head, 10, BodyFormat::kProtobuf, 1000));

  // Past the deadline's tick on the front loop's clock.
  clock_.Advance(1000 + 20);
  WirePtr w = b->Next();
  ASSERT_TRUE(w) << "the edge's poll did not time out";
  EXPECT_EQ(w->status, 200);
  EXPECT_TRUE(Json(w).at("messages").as_array().empty());
  EXPECT_EQ(Json(w).at("cursor").as_string(), EncodeCursor(kRoom, head));
  WirePtr wq = q->Next();
  ASSERT_TRUE(wq);
  ASSERT_TRUE(IsProtobuf(wq));
  api::PollResponse pr;
  ASSERT_TRUE(pr.ParseFromString(Body(wq)));
  EXPECT_EQ(pr.messages_size(), 0);
  EXPECT_EQ(pr.cursor(), EncodeCursor(kRoom, head));

  EXPECT_FALSE(EdgeWaiting(b));
  EXPECT_EQ(EdgeHeldMetric(), 0);
  EXPECT_EQ(HeldAtRoom(), 2u);  // the room's own are not due
  EXPECT_EQ(SharedHeld(), 2);
  EXPECT_TRUE(a->Idle(0ms));
}

TEST_F(FrontEdgeTest, CancelForgetsTheWait) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);
  const uint64_t a_serial = last_serial_;
  auto b = EdgeClient();
  auto c = EdgeClient();
  ASSERT_TRUE(Poll(b, "bob", head));
  ASSERT_TRUE(Poll(c, "carol", head));
  ASSERT_EQ(EdgeHeldMetric(), 2);

  OnFront([&] {
    CancelEdgeWait(*b);
    edge_->Cancel(*c);
    CancelEdgeWait(*b);  // no longer waiting: nothing happens
  });
  EXPECT_FALSE(EdgeWaiting(b));
  EXPECT_FALSE(EdgeWaiting(c));
  EXPECT_EQ(EdgeHeldMetric(), 0);
  EXPECT_EQ(SharedHeld(), 1);  // the room's
  EXPECT_EQ(b.use_count(), 1);
  EXPECT_EQ(c.use_count(), 1);
  // The room's poll too: nothing is held anywhere.
  OnFront([&] { host_->PostCancelPoll("r", a, a_serial); });
  EXPECT_EQ(HeldAtRoom(), 0u);
  EXPECT_EQ(SharedHeld(), 0);
  EXPECT_EQ(RoomHeldMetric(), 0);

  // The edge is still subscribed: a growth answers the poll it holds now, not the cancelled.
  auto d = EdgeClient();
  ASSERT_TRUE(Poll(d, "dave", head));
  Say("m1");
  ASSERT_TRUE(d->Next());
  EXPECT_TRUE(a->Idle(0ms));
  EXPECT_TRUE(b->Idle(0ms));
  EXPECT_TRUE(c->Idle(0ms));
}

TEST_F(FrontEdgeTest, ReportsMakeThePolledUsersOnline) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);
  auto b = EdgeClient();
  auto c = EdgeClient();
  auto c2 = EdgeClient();
  ASSERT_TRUE(Poll(b, "bob", head));
  ASSERT_TRUE(Poll(c, "carol", head));
  ASSERT_TRUE(Poll(c2, "carol", head));
  // Reports wait rooms.edge_report_delay_ms on the front loop's clock.
  EXPECT_EQ(Online(), 1);

  // (The wheel fires at most a tick after the deadline: one tick more.)
  clock_.Advance(settings_.edge_report_delay_ms + 10);
  EXPECT_TRUE(Eventually([&] { return Online() == 3; })) << "online " << Online();
  EXPECT_EQ(EdgeHeldAtRoom(), 3);

  // Flush sends the report now.
  auto d = EdgeClient();
  ASSERT_TRUE(Poll(d, "dave", head));
  OnFront([&] { edge_->Flush(); });
  EXPECT_EQ(Online(), 4);
  EXPECT_EQ(EdgeHeldAtRoom(), 4);
}

TEST_F(FrontEdgeTest, ReleaseAllAnswersEveryWaiterEmpty) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);
  auto b = EdgeClient();
  auto c = EdgeClient();
  ASSERT_TRUE(Poll(b, "bob", head));
  ASSERT_TRUE(Poll(c, "carol", head));

  OnFront([&] { edge_->ReleaseAll(); });
  for (const auto& x : {b, c}) {
    WirePtr w = x->Next(0ms);
    ASSERT_TRUE(w) << "not answered by ReleaseAll";
    EXPECT_EQ(w->status, 200);
    EXPECT_TRUE(Json(w).at("messages").as_array().empty());
    EXPECT_EQ(CursorOf(w), head);
  }
  EXPECT_EQ(EdgeHeldMetric(), 0);
  EXPECT_EQ(SharedHeld(), 1);  // the room's poll: the room releases its own

  // Draining: the edge holds nothing more; the poll goes to the room.
  auto d = EdgeClient();
  EXPECT_FALSE(Poll(d, "dave", head));
  RoundTrip();
  EXPECT_EQ(EdgeHeldMetric(), 0);
  EXPECT_EQ(HeldAtRoom(), 2u);
}

TEST_F(FrontEdgeTest, DetachLetsGoWithoutAnswering) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);
  auto b = EdgeClient();
  auto c = EdgeClient();
  ASSERT_TRUE(Poll(b, "bob", head));
  ASSERT_TRUE(Poll(c, "carol", head, 10, BodyFormat::kJson, 1000));

  // After the front loop has stopped (shutdown).
  front_loop_->Abort();
  edge_->Detach();
  EXPECT_FALSE(b->edge_waiting());
  EXPECT_FALSE(c->edge_waiting());
  EXPECT_EQ(b.use_count(), 1) << "still kept alive by the edge";
  EXPECT_EQ(c.use_count(), 1);
  EXPECT_TRUE(b->Idle(0ms));
  EXPECT_TRUE(c->Idle(0ms));
  EXPECT_EQ(wheel_->size(), 0u) << "a timeout is still scheduled";
}

TEST_F(FrontEdgeTest, PollsTheEdgeCannotTakeGoToTheRoom) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);
  Caller caller = As(EdgeClient(), "bob");
  PollArgs args;
  args.cursor = head;
  args.limit = 10;
  auto try_hold = [&](const std::string& room, const PollArgs& x) {
    return OnFront([&] { return edge_->TryHold(room, caller, x); });
  };
  EXPECT_TRUE(try_hold(kRoom, args));
  OnFront([&] { CancelEdgeWait(*a); });  // a is the room's, not the edge's: nothing happens
  EXPECT_EQ(HeldAtRoom(), 1u);

  caller = As(EdgeClient(), "bob");
  PollArgs x = args;
  x.cursor.reset();  // no cursor: the room's head is not known here
  EXPECT_FALSE(try_hold(kRoom, x));
  x = args;
  x.timeout_ms = 0;
  EXPECT_FALSE(try_hold(kRoom, x));
  x = args;
  x.cursor = Cursor{5, 5};  // ahead of the head the edge knows
  EXPECT_FALSE(try_hold(kRoom, x));
  EXPECT_FALSE(try_hold("other-room", args));
  // Refused: the caller is left as it was.
  ASSERT_TRUE(caller.client);
  EXPECT_EQ(caller.user, "bob");
}

TEST_F(FrontEdgeTest, AnIdleRoomIsDroppedAndUnsubscribed) {
  const Cursor head = Join("alice");
  auto a = EdgeClient();
  Subscribe(a, "alice", head);
  const uint64_t a_serial = last_serial_;
  OnFront([&] { host_->PostCancelPoll("r", a, a_serial); });
  ASSERT_EQ(HeldAtRoom(), 0u);
  ASSERT_EQ(EdgeCount(), 1u);

  // Nothing held at the edge for edge_idle_ms: its periodic upkeep lets the room go.
  OnFront([&] { edge_->Start(); });
  clock_.Advance(settings_.edge_idle_ms);
  EXPECT_TRUE(Eventually([&] { return EdgeCount() == 0; })) << "still subscribed";
  auto b = EdgeClient();
  EXPECT_FALSE(Poll(b, "bob", head)) << "held for a room the edge dropped";
}

}  // namespace
}  // namespace chatroomd::room
