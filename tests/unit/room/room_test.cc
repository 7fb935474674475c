// A room on a real loop with a real RocksDB store: the rules that need an identity other than
// dev mode's everyone-is-admin (membership, priority rights, rate limit), idempotency under
// concurrent repeats, held polls and their cancellation, online expiry.
#include "chatroomd/room/room.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>

#include "chatroomd/common/ids.h"
#include "chatroomd/presence/room_audience.h"
#include "chatroomd/presence/unique_counter.h"
#include "chatroomd/room/room_host.h"
#include "host_test.h"
#include "proto/chatroomd/store.pb.h"
#include "room_fakes.h"

namespace chatroomd::room {
namespace {

using namespace std::chrono_literals;

using fakes::Body;
using fakes::Code;
using fakes::FakeClient;
using fakes::Json;

class RoomTest : public fakes::HostTest {
 protected:
  void SetUp() override {
    store_.emplace("chatroomd-room-test");
    settings_.send_rate_per_s = 1;
    settings_.send_burst = 2;
    settings_.online_ttl_ms = 1000;
    StartHost(*store_->store);
  }

  void TearDown() override {
    HostTest::TearDown();
    store_.reset();
  }

  WirePtr Send(const std::shared_ptr<FakeClient>& c, const std::string& user, bool admin,
               SendArgs args) {
    On("r", [caller = As(c, user, admin), args](Room& r) { r.Send(caller, args); });
    return c->Next();
  }

  static SendArgs Text(std::string body, bool priority = false) {
    SendArgs a;
    a.body = std::move(body);
    a.priority = priority;
    return a;
  }

  std::optional<fakes::TestStore> store_;
};

TEST_F(RoomTest, MembershipAndPriorityRights) {
  auto c = NewClient();
  // No room yet: even an admin cannot post to it.
  EXPECT_EQ(Code(Send(c, "admin", true, Text("x"))), "room_not_found");
  ASSERT_EQ(Join(c, "alice")->status, 200);  // creates it

  WirePtr w = Send(c, "bob", false, Text("hi"));
  EXPECT_EQ(w->status, 403);
  EXPECT_EQ(Code(w), "not_joined");
  EXPECT_EQ(Send(c, "admin", true, Text("from the backend", true))->status, 200);

  ASSERT_EQ(Join(c, "bob")->status, 200);
  EXPECT_EQ(Json(Send(c, "bob", false, Text("hi"))).at("seq").as_string(), "2");
  w = Send(c, "bob", false, Text("gift", true));
  EXPECT_EQ(w->status, 403);
  EXPECT_EQ(Code(w), "forbidden");

  On("r", [caller = As(c, "bob")](Room& r) { r.Leave(caller); });
  EXPECT_EQ(c->Next()->status, 204);
  EXPECT_EQ(Code(Send(c, "bob", false, Text("again"))), "not_joined");
}

TEST_F(RoomTest, SendRateLimitSparesAdmins) {
  auto c = NewClient();
  ASSERT_EQ(Join(c, "bob")->status, 200);
  EXPECT_EQ(Send(c, "bob", false, Text("1"))->status, 200);
  EXPECT_EQ(Send(c, "bob", false, Text("2"))->status, 200);
  WirePtr w = Send(c, "bob", false, Text("3"));
  EXPECT_EQ(w->status, 429);
  EXPECT_EQ(Code(w), "rate_limited");
  EXPECT_NE(w->head.find("Retry-After: "), std::string::npos);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Send(c, "admin", true, Text("a"))->status, 200);
}

TEST_F(RoomTest, ConcurrentRepeatsOfOneKeyGetOneSeq) {
  auto c = NewClient();
  ASSERT_EQ(Join(c, "alice", true)->status, 200);
  SendArgs a = Text("once");
  a.client_msg_id = "k1";
  // Both reach the room before the first is durable.
  On("r", [c1 = As(c, "alice", true), c2 = As(c, "alice", true), a](Room& r) {
    r.Send(c1, a);
    r.Send(c2, a);
  });
  auto first = Json(c->Next());
  auto second = Json(c->Next());
  EXPECT_EQ(first.at("seq"), second.at("seq"));
  EXPECT_NE(first.at("duplicate").as_bool(), second.at("duplicate").as_bool());
  // Another sender's same key is a different message.
  WirePtr other = Send(c, "bob", true, a);
  EXPECT_EQ(Json(other).at("seq").as_string(), "2");
  EXPECT_FALSE(Json(other).at("duplicate").as_bool());
}

TEST_F(RoomTest, HeldPollWokenBySendAndReleasedByCancel) {
  auto poller = NewClient();
  auto sender = NewClient();
  ASSERT_EQ(Join(poller, "p")->status, 200);
  Caller poll = As(poller, "p");
  On("r", [poll](Room& r) { r.Poll(poll, PollArgs{}); });
  EXPECT_TRUE(poller->Idle(100ms));  // held
  std::promise<size_t> held;
  On("r", [&held](Room& r) { held.set_value(r.held_count()); });
  EXPECT_EQ(held.get_future().get(), 1u);

  ASSERT_EQ(Send(sender, "s", true, Text("wake"))->status, 200);
  WirePtr w = poller->Next();
  ASSERT_TRUE(w);
  auto j = Json(w);
  ASSERT_EQ(j.at("messages").as_array().size(), 1u);
  EXPECT_EQ(j.at("messages").at(0).at("body").as_string(), "wake");
  EXPECT_FALSE(j.at("gap").as_bool());

  // A second held poll, cancelled (the client went away): no answer, nothing held.
  Caller again = As(poller, "p");
  On("r", [again](Room& r) { r.Poll(again, PollArgs{}); });
  EXPECT_TRUE(poller->Idle(100ms));
  On("r", [again](Room& r) { r.CancelPoll(*again.client, again.serial); });
  std::promise<size_t> after;
  On("r", [&after](Room& r) { after.set_value(r.held_count()); });
  EXPECT_EQ(after.get_future().get(), 0u);
  ASSERT_EQ(Send(sender, "s", true, Text("nobody waits"))->status, 200);
  EXPECT_TRUE(poller->Idle(200ms));
}

TEST_F(RoomTest, HeldPollTimesOutWithItsCursor) {
  auto c = NewClient();
  auto joined = Json(Join(c, "p"));
  PollArgs args;
  args.timeout_ms = 50'000;
  std::promise<size_t> held;
  On("r", [caller = As(c, "p"), args, &held](Room& r) {
    r.Poll(caller, args);
    held.set_value(r.held_count());
  });
  ASSERT_EQ(held.get_future().get(), 1u);
  EXPECT_TRUE(c->Idle(30ms)) << "answered before its timeout";
  clock_.Advance(50'010);  // past the deadline's tick, on the room's clock: no real wait
  WirePtr w = c->Next(2s);
  ASSERT_TRUE(w);
  auto j = Json(w);
  EXPECT_TRUE(j.at("messages").as_array().empty());
  EXPECT_EQ(j.at("cursor"), joined.at("cursor"));
}

TEST_F(RoomTest, OnlineExpiresAfterTtlUnlessPolling) {
  auto c = NewClient();
  ASSERT_EQ(Join(c, "idle")->status, 200);
  ASSERT_EQ(Join(c, "active")->status, 200);
  On("r", [caller = As(c, "active")](Room& r) { r.Poll(caller, PollArgs{}); });
  std::promise<int64_t> before, after;
  On("r", [&](Room& r) {
    before.set_value(r.online_now());
    r.Sweep(clock_.Now() + 10'000, 1'000'000);
    after.set_value(r.online());
  });
  EXPECT_EQ(before.get_future().get(), 2);
  EXPECT_EQ(after.get_future().get(), 1);  // the held poll keeps "active" online
}

TEST_F(RoomTest, TheOnlineCountIsPublishedAtMostOncePerTick) {
  // A quiet room shows a join at once; later changes within the aggregation period wait for
  // the next tick, so that a busy room does not rebuild its answers on every join.
  auto c = NewClient();
  auto first = Join(c, "alice");
  ASSERT_EQ(first->status, 200);
  EXPECT_EQ(Json(first).at("online").as_string(), "1");
  auto second = Join(c, "bob");
  EXPECT_EQ(Json(second).at("online").as_string(), "1") << "within the period: not yet";
  std::promise<std::pair<int64_t, int64_t>> counts;
  On("r", [&](Room& r) {
    const int64_t now = r.online();
    r.Sweep(clock_.Now() + 1000, 1'000'000);  // the next tick
    counts.set_value({now, r.online()});
  });
  auto [before, after] = counts.get_future().get();
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after, 2);
  // A leave after a quiet period is published at once again.
  clock_.Advance(5000);
  On("r", [caller = As(c, "bob")](Room& r) { r.Leave(caller); });
  std::promise<int64_t> left;
  On("r", [&](Room& r) { left.set_value(r.online()); });
  EXPECT_EQ(left.get_future().get(), 1);
}

TEST_F(RoomTest, VisitorsMergeStoredDaysWithTodaysLiveCounter) {
  // Two days ago five users came (a counter as a host writes it); today alice and one of them.
  const uint32_t today = presence::RoomAudience::DayOf(WallNowMs());
  presence::UniqueCounter past(settings_.unique_exact_threshold);
  for (const char* u : {"x1", "x2", "x3", "x4", "alice"}) past.Add(UserHash(u));
  store::AudienceCounter stored;
  stored.set_unique(past.Serialize());
  auto c = NewClient();
  ASSERT_EQ(Join(c, "alice")->status, 200);  // creates the room
  ASSERT_EQ(Join(c, "x1")->status, 200);
  std::promise<bool> written;
  auto req = std::make_unique<store::WriteRequest>();
  req->counters.push_back({"r", {'d', today - 2}, stored.SerializeAsString()});
  req->done = [&written](Status s) { written.set_value(s.ok()); };
  store_->store->Submit(std::move(req));
  ASSERT_TRUE(written.get_future().get());

  auto visitors = [&](uint32_t from, uint32_t to) {
    On("r", [caller = As(c, "reader"), from, to](Room& r) {
      r.Handle(caller, VisitorsArgs{from, to});
    });
    return c->Next();
  };
  WirePtr all = visitors(today - 2, today);
  ASSERT_EQ(all->status, 200) << Body(all);
  EXPECT_EQ(Json(all).at("unique_visitors").as_string(), "5") << "a union: alice and x1 once";
  WirePtr past_only = visitors(today - 3, today - 1);
  EXPECT_EQ(Json(past_only).at("unique_visitors").as_string(), "5");
  WirePtr today_only = visitors(today, today);
  EXPECT_EQ(Json(today_only).at("unique_visitors").as_string(), "2");
  WirePtr none = visitors(today - 10, today - 3);
  EXPECT_EQ(Json(none).at("unique_visitors").as_string(), "0");
}

}  // namespace
}  // namespace chatroomd::room
