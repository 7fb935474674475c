// Adaptive tiers in a room (room_poll.cc, docs/traffic.md): the early re-poll hold carried in
// the cursor, the batching hold (hold_ms), priority ending both, and the room's lifecycle with a
// batch pending. The room's clock is moved by hand: a hold ends when the test says.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "host_test.h"
#include "room_fakes.h"

namespace chatroomd::room {
namespace {

using namespace std::chrono_literals;

using fakes::FakeClient;
using fakes::Json;

constexpr uint32_t kInterval = 1500;
constexpr uint32_t kHold = 400;

class RoomTiersTest : public fakes::HostTest {
 protected:
  void SetUp() override {
    store_.emplace("chatroomd-room-tiers-test");
    settings_.tiers = {TrafficTier{0, kInterval, kHold}};
    settings_.online_ttl_ms = 600'000;
    StartHost(*store_->store);
  }
  void TearDown() override {
    HostTest::TearDown();
    store_.reset();
  }

  // Sends as an admin; returns its seq.
  std::string Send(const std::string& body, bool priority = false) {
    auto c = NewClient();
    SendArgs a;
    a.body = body;
    a.priority = priority;
    On("r", [caller = As(c, "backend", true), a](Room& r) { r.Send(caller, a); });
    WirePtr w = c->Next();
    if (!w || w->status != 200) return "";
    return std::string(Json(w).at("seq").as_string());
  }

  // The cursor of an answer, with its time.
  static std::pair<Cursor, int64_t> CursorOf(const WirePtr& w) {
    int64_t not_before = -1;
    auto c = DecodeCursor("r", Json(w).at("cursor").as_string(), &not_before);
    EXPECT_TRUE(c.ok());
    return {c.ok() ? *c : Cursor{}, not_before};
  }

  static std::vector<std::string> Bodies(const WirePtr& w) {
    std::vector<std::string> out;
    const boost::json::value j = Json(w);
    for (const auto& m : j.at("messages").as_array()) {
      out.emplace_back(m.at("body").as_string());
    }
    return out;
  }

  void Poll(const std::shared_ptr<FakeClient>& c, std::optional<Cursor> cursor,
            int64_t not_before_ms, uint32_t timeout_ms = 50'000) {
    PollArgs args;
    args.cursor = cursor;
    args.not_before_ms = not_before_ms;
    args.timeout_ms = timeout_ms;
    // Done before the test moves the clock: the hold's deadline is on the room's clock.
    std::promise<void> done;
    On("r", [caller = As(c, "p"), args, &done](Room& r) {
      r.Poll(caller, args);
      done.set_value();
    });
    done.get_future().get();
  }

  template <typename T>
  T OnRoom(std::function<T(Room&)> f) {
    std::promise<T> p;
    On("r", [&](Room& r) { p.set_value(f(r)); });
    return p.get_future().get();
  }

  std::optional<fakes::TestStore> store_;
};

TEST_F(RoomTiersTest, AnswersCarryANotBeforeOfNextPollMs) {
  auto c = NewClient();
  const int64_t before = WallNowMs();
  auto [cursor, not_before] = CursorOf(Join(c, "p"));
  EXPECT_GE(not_before, before + kInterval);
  EXPECT_LE(not_before, WallNowMs() + kInterval);
  EXPECT_EQ(Json(Join(c, "p")).at("next_poll_ms").as_int64(), kInterval);
}

TEST_F(RoomTiersTest, AnEarlyPollIsHeldUntilItsTimeThroughBatchesThenAnswered) {
  auto c = NewClient();
  auto [cursor, not_before] = CursorOf(Join(c, "p"));
  Poll(c, cursor, not_before);
  EXPECT_TRUE(c->Idle(50ms));
  EXPECT_EQ(OnRoom<size_t>([](Room& r) { return r.held_count(); }), 1u) << "counted as held";
  ASSERT_EQ(Send("n1"), "1");
  EXPECT_TRUE(OnRoom<bool>([](Room& r) { return r.batch_pending(); }));
  clock_.Advance(kHold + 20);  // the batch goes out: not to an early poll
  EXPECT_TRUE(c->Idle(100ms)) << "a normal message ended an early hold";
  EXPECT_FALSE(OnRoom<bool>([](Room& r) { return r.batch_pending(); }));
  clock_.Advance(kInterval);  // its time
  WirePtr w = c->Next(2s);
  ASSERT_TRUE(w);
  EXPECT_EQ(Bodies(w), std::vector<std::string>{"n1"});
  EXPECT_GT(CursorOf(w).second, not_before) << "a new time for the next poll";
}

TEST_F(RoomTiersTest, AnEarlyPollsTimeoutCountsFromItsArrival) {
  auto c = NewClient();
  auto [cursor, not_before] = CursorOf(Join(c, "p"));
  // 200 ms of timeout for a 1500 ms wait: nothing is left at its time, so it is answered then.
  Poll(c, cursor, not_before, 200);
  clock_.Advance(300);
  EXPECT_TRUE(c->Idle(100ms)) << "answered before its time";
  clock_.Advance(kInterval);
  WirePtr w = c->Next(2s);
  ASSERT_TRUE(w);
  EXPECT_TRUE(Bodies(w).empty());
  EXPECT_EQ(CursorOf(w).first, cursor);

  // A long timeout: after its time it is an ordinary held poll for the rest of it.
  auto [c2, t2] = CursorOf(w);
  Poll(c, c2, t2, 10'000);
  clock_.Advance(kInterval + 20);
  EXPECT_TRUE(c->Idle(100ms));
  EXPECT_EQ(OnRoom<size_t>([](Room& r) { return r.held_count(); }), 1u);
  ASSERT_EQ(Send("n1", true), "1");
  w = c->Next(2s);
  ASSERT_TRUE(w);
  EXPECT_EQ(Bodies(w), std::vector<std::string>{"n1"});
}

TEST_F(RoomTiersTest, PriorityEndsAnEarlyHoldAndABatchAtOnce) {
  auto early = NewClient();
  auto batched = NewClient();
  auto [cursor, not_before] = CursorOf(Join(early, "p"));
  Poll(early, cursor, not_before);
  Poll(batched, std::nullopt, 0);  // at the head
  ASSERT_EQ(Send("n1"), "1");
  EXPECT_TRUE(early->Idle(50ms));
  EXPECT_TRUE(batched->Idle(50ms));
  ASSERT_EQ(Send("gift", true), "2");  // no clock moves: only the priority message wakes them
  for (auto* c : {&early, &batched}) {
    WirePtr w = (*c)->Next(2s);
    ASSERT_TRUE(w);
    EXPECT_EQ(Bodies(w), (std::vector<std::string>{"gift", "n1"}));
  }
  EXPECT_FALSE(OnRoom<bool>([](Room& r) { return r.batch_pending(); }));
}

TEST_F(RoomTiersTest, APollWithUnreadNormalMessagesJoinsThePendingBatch) {
  auto c = NewClient();
  ASSERT_EQ(Join(c, "p")->status, 200);
  ASSERT_EQ(Send("n1"), "1");
  // Unread n1, no time in its cursor, timeout 0: held into the batch all the same.
  Poll(c, Cursor{0, 0}, 0, 0);
  EXPECT_TRUE(c->Idle(50ms));
  ASSERT_EQ(Send("n2"), "2");
  clock_.Advance(kHold + 20);
  WirePtr w = c->Next(2s);
  ASSERT_TRUE(w);
  EXPECT_EQ(Bodies(w), (std::vector<std::string>{"n1", "n2"}));

  // Unread priority: answered at once, batch or not.
  ASSERT_EQ(Send("n3"), "3");
  ASSERT_EQ(Send("p4", true), "4");
  ASSERT_EQ(Send("n5"), "5");
  Poll(c, Cursor{2, 2}, 0);
  w = c->Next(2s);
  ASSERT_TRUE(w);
  EXPECT_EQ(Bodies(w), (std::vector<std::string>{"p4", "n3", "n5"}));
}

TEST_F(RoomTiersTest, FlushBatchWakesNowAndAPendingBatchKeepsTheRoomLoaded) {
  auto c = NewClient();
  ASSERT_EQ(Join(c, "p")->status, 200);
  Poll(c, std::nullopt, 0);
  ASSERT_EQ(Send("n1"), "1");
  EXPECT_TRUE(c->Idle(50ms));
  // What the lead's migration calls before a room moves.
  On("r", [](Room& r) { r.FlushBatch(); });
  WirePtr w = c->Next(2s);
  ASSERT_TRUE(w);
  EXPECT_EQ(Bodies(w), std::vector<std::string>{"n1"});
  EXPECT_FALSE(OnRoom<bool>([](Room& r) { return r.batch_pending(); }));
  On("r", [](Room& r) { r.FlushBatch(); });  // nothing pending: nothing happens
  EXPECT_TRUE(c->Idle(50ms));

  // Nothing held, nobody online (far in the future), idle: only the batch keeps it loaded.
  ASSERT_EQ(Send("n2"), "2");
  const int64_t far = clock_.Now() + 100'000'000;
  EXPECT_FALSE(OnRoom<bool>([&](Room& r) { return r.Sweep(far, 0); }))
      << "unloadable with a batch pending";
  On("r", [](Room& r) { r.FlushBatch(); });
  EXPECT_TRUE(OnRoom<bool>([&](Room& r) { return r.Sweep(far, 0); }));
}

TEST_F(RoomTiersTest, ShutdownAnswersEarlyPollsAsTimeouts) {
  auto c = NewClient();
  auto [cursor, not_before] = CursorOf(Join(c, "p"));
  Poll(c, cursor, not_before);
  ASSERT_EQ(Send("n1"), "1");
  EXPECT_TRUE(c->Idle(50ms));
  On("r", [](Room& r) { r.ReleaseAllHeld(); });
  WirePtr w = c->Next(2s);
  ASSERT_TRUE(w);
  EXPECT_TRUE(Bodies(w).empty());
  EXPECT_EQ(CursorOf(w).first, cursor);
  EXPECT_EQ(OnRoom<size_t>([](Room& r) { return r.held_count(); }), 0u);
}

TEST_F(RoomTiersTest, TheTierIndexIsThatOfThePublishedCount) {
  auto c = NewClient();
  ASSERT_EQ(Join(c, "p")->status, 200);  // a quiet room publishes a join at once: 1 online
  EXPECT_EQ(OnRoom<int>([](Room& r) { return r.tier_index(); }), 0);
  auto set_tiers = [this](std::vector<TrafficTier> tiers) {
    OnHost([&](RoomHost& h) {
      auto s = std::make_shared<RoomSettings>(h.settings());
      s->tiers = tiers;
      h.set_settings(s);
    });
  };
  set_tiers({{0, 0, 0}, {1, 100, 0}, {2, 200, 0}});
  EXPECT_EQ(OnRoom<int>([](Room& r) { return r.tier_index(); }), 1);
  set_tiers({{5, 100, 0}});
  EXPECT_EQ(OnRoom<int>([](Room& r) { return r.tier_index(); }), -1) << "below the first tier";
  set_tiers({});
  EXPECT_EQ(OnRoom<int>([](Room& r) { return r.tier_index(); }), -1) << "no tiers";
}

// Tiers off: no time in cursors, no batch, a growth wakes at once (as before tiers).
class RoomNoTiersTest : public RoomTiersTest {
 protected:
  void SetUp() override {
    store_.emplace("chatroomd-room-no-tiers-test");
    StartHost(*store_->store);
  }
};

TEST_F(RoomNoTiersTest, NothingIsHeldBackWithoutTiers) {
  auto c = NewClient();
  auto [cursor, not_before] = CursorOf(Join(c, "p"));
  EXPECT_EQ(not_before, 0);
  EXPECT_EQ(EncodeCursor("r", cursor), std::string(Json(Join(c, "p")).at("cursor").as_string()));
  Poll(c, cursor, 0);
  ASSERT_EQ(Send("n1"), "1");
  WirePtr w = c->Next(2s);
  ASSERT_TRUE(w);
  EXPECT_EQ(Bodies(w), std::vector<std::string>{"n1"});
  EXPECT_FALSE(OnRoom<bool>([](Room& r) { return r.batch_pending(); }));
  EXPECT_EQ(CursorOf(w).second, 0);
}

}  // namespace
}  // namespace chatroomd::room
