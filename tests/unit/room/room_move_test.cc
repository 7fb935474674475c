// A room handed from one host's loop to another (RoomHost::ExpectRoom, Depart; Room::Detach,
// Adopt): what arrives for it meanwhile waits and then runs in order, its held polls keep
// waiting (their deadlines on the new loop's wheel), store work under way comes back to the old
// loop before the room leaves, and whatever still reaches the old host is forwarded.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <thread>

#include "gated_store.h"
#include "host_test.h"

namespace chatroomd::room {
namespace {

using fakes::FakeClient;
using fakes::GatedStore;
using fakes::Json;
using namespace std::chrono_literals;

class RoomMoveTest : public fakes::HostTest {
 protected:
  void SetUp() override {
    real_store_.emplace("chatroomd-room-move-test");
    gated_ = std::make_unique<GatedStore>(*real_store_->store);
    StartHost(*gated_);
    other_loop_ = std::make_unique<Loop>("room-test-2", 2);
    other_ =
        std::make_unique<RoomHost>(*other_loop_, *gated_, std::make_shared<RoomSettings>(settings_),
                                   shared_, registry_.NewSlot(), clock_.AsClock());
    other_loop_->Start();
  }
  void TearDown() override {
    HostTest::TearDown();
    if (other_loop_) other_loop_->Abort();
    other_.reset();
    gated_.reset();
    real_store_.reset();
  }

  static SendArgs Text(std::string body) {
    SendArgs a;
    a.body = std::move(body);
    return a;
  }
  static PollArgs HeldFromHead(uint32_t timeout_ms) {
    PollArgs a;
    a.timeout_ms = timeout_ms;
    return a;
  }
  // Moves room "r" from host_ to other_ and waits for its arrival.
  bool Move() {
    OnLoopOf(*other_, [](RoomHost& h) { h.ExpectRoom("r"); });
    std::promise<void> arrived;
    OnHost([&](RoomHost& h) { h.Depart("r", *other_, [&] { arrived.set_value(); }); });
    return arrived.get_future().wait_for(5s) == std::future_status::ready;
  }
  size_t Rooms(RoomHost& host) {
    size_t n = 0;
    OnLoopOf(host, [&](RoomHost& h) { n = h.room_count(); });
    return n;
  }

  std::optional<fakes::TestStore> real_store_;
  std::unique_ptr<GatedStore> gated_;
  std::unique_ptr<Loop> other_loop_;
  std::unique_ptr<RoomHost> other_;
};

TEST_F(RoomMoveTest, HeldPollsAndMessagesMoveAndWhatWaitedRunsInOrder) {
  auto alice = NewClient(), bob = NewClient(), carol = NewClient();
  host_->Post("r", As(alice, "alice"), JoinArgs{});
  ASSERT_TRUE(alice->Next());
  host_->Post("r", As(alice, "alice"), Text("one"));
  ASSERT_TRUE(alice->Next());
  host_->Post("r", As(bob, "bob"), HeldFromHead(60000));
  ASSERT_TRUE(bob->Idle(50ms)) << "held at the head";

  OnLoopOf(*other_, [](RoomHost& h) { h.ExpectRoom("r"); });
  // Sent to the new home before the room is there: kept, then run in order (the send needs
  // the join before it).
  other_->Post("r", As(carol, "carol"), JoinArgs{});
  other_->Post("r", As(carol, "carol"), Text("two"));
  EXPECT_TRUE(carol->Idle(100ms)) << "nothing runs before the room arrives";
  EXPECT_TRUE(bob->Idle(10ms)) << "the held poll is still held";

  std::promise<void> arrived;
  OnHost([&](RoomHost& h) { h.Depart("r", *other_, [&] { arrived.set_value(); }); });
  ASSERT_EQ(arrived.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(Rooms(*host_), 0u);
  EXPECT_EQ(Rooms(*other_), 1u);
  WirePtr joined = carol->Next(), sent = carol->Next();
  ASSERT_TRUE(joined && sent);
  EXPECT_EQ(joined->status, 200);
  ASSERT_EQ(sent->status, 200) << fakes::Body(sent);
  EXPECT_EQ(Json(sent).at("seq").as_string(), "2") << "seqs go on from where the room was";

  // bob's poll moved with the room and is answered there.
  WirePtr polled = bob->Next();
  ASSERT_TRUE(polled);
  const auto msgs = Json(polled).at("messages").as_array();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].at("body").as_string(), "two");

  // Sent to the old home late: forwarded, not loaded there again.
  host_->Post("r", As(alice, "alice"), StatsArgs{});
  WirePtr stats = alice->Next();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->status, 200);
  EXPECT_EQ(Json(stats).at("messages").as_string(), "2");
  EXPECT_EQ(Rooms(*host_), 0u);
}

TEST_F(RoomMoveTest, AHeldPollTimesOutOnTheNewLoopsWheel) {
  auto alice = NewClient();
  host_->Post("r", As(alice, "alice"), JoinArgs{});
  ASSERT_TRUE(alice->Next());
  host_->Post("r", As(alice, "alice"), HeldFromHead(1000));
  ASSERT_TRUE(alice->Idle(50ms));
  ASSERT_TRUE(Move());
  clock_.Advance(1500);
  WirePtr timed_out = alice->Next();
  ASSERT_TRUE(timed_out) << "the deadline moved with the poll";
  EXPECT_EQ(timed_out->status, 200);
  EXPECT_TRUE(Json(timed_out).at("messages").as_array().empty());
  // A poll and its cancel sent the old way reach the room where it is now.
  Caller caller = As(alice, "alice");
  const uint64_t serial = caller.serial;
  host_->Post("r", caller, HeldFromHead(60000));
  ASSERT_TRUE(alice->Idle(50ms));
  EXPECT_EQ(shared_.held_polls.load(), 1);
  host_->PostCancelPoll("r", alice, serial);
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (shared_.held_polls.load() != 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(shared_.held_polls.load(), 0) << "cancelled where the room is now";
}

TEST_F(RoomMoveTest, TheRoomLeavesOnlyOnceItsStoreWorkIsBack) {
  auto alice = NewClient();
  host_->Post("r", As(alice, "alice"), JoinArgs{});
  ASSERT_TRUE(alice->Next());
  gated_->Gate();
  host_->Post("r", As(alice, "alice"), Text("in flight"));
  ASSERT_TRUE(gated_->WaitHeld(1));

  OnLoopOf(*other_, [](RoomHost& h) { h.ExpectRoom("r"); });
  std::promise<void> arrived;
  auto arrival = arrived.get_future();
  OnHost([&](RoomHost& h) { h.Depart("r", *other_, [&] { arrived.set_value(); }); });
  EXPECT_EQ(arrival.wait_for(100ms), std::future_status::timeout) << "waits for the write";
  EXPECT_EQ(Rooms(*host_), 1u);

  ASSERT_TRUE(gated_->ReleaseOn(1, *loop_));
  WirePtr sent = alice->Next();
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->status, 200) << "answered on the old loop, before the move";
  ASSERT_EQ(arrival.wait_for(5s), std::future_status::ready);
  other_->Post("r", As(alice, "alice"), StatsArgs{});
  WirePtr stats = alice->Next();
  ASSERT_TRUE(stats);
  EXPECT_EQ(Json(stats).at("messages").as_string(), "1");
}

TEST_F(RoomMoveTest, ARoomThatIsNotLoadedMovesAsWell) {
  auto alice = NewClient();
  ASSERT_TRUE(Move());
  other_->Post("r", As(alice, "alice"), JoinArgs{});
  WirePtr joined = alice->Next();
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->status, 200);
  EXPECT_EQ(Rooms(*other_), 1u);
  host_->Post("r", As(alice, "alice"), StatsArgs{});
  ASSERT_TRUE(alice->Next());
  EXPECT_EQ(Rooms(*host_), 0u) << "the old home forwards";
}

}  // namespace
}  // namespace chatroomd::room
