// A big room's online table spread over its sect's loops (room/room_online.h): two hosts on
// two loops of one sect, a spread threshold of a few users. The room keeps answering as if it
// were alone: counts, /online, leave, membership checks on send (also for a join still on its
// way to its part), expiry on the parts' loops, held polls, and unloading once every part is
// empty.
#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "host_test.h"
#include "room_fakes.h"

namespace chatroomd::room {
namespace {

using namespace std::chrono_literals;

using fakes::Code;
using fakes::FakeClient;
using fakes::Json;

class SpreadTest : public fakes::HostTest {
 protected:
  void SetUp() override {
    store_.emplace("chatroomd-spread-test");
    settings_.online_ttl_ms = 1000;
    settings_.aggregation_period_ms = 0;  // every tick publishes what changed
    settings_.spread_threshold = 4;
    settings_.send_rate_per_s = 0;
    settings_.idle_unload_ms = 0;
    StartHost(*store_->store);
    peer_loop_ = std::make_unique<Loop>("peer", 2);
    peer_ = std::make_unique<RoomHost>(*peer_loop_, *store_->store,
                                       std::make_shared<RoomSettings>(settings_), shared_,
                                       registry_.NewSlot(), clock_.AsClock());
    host_->set_peers({host_.get(), peer_.get()});
    peer_->set_peers({host_.get(), peer_.get()});
    peer_loop_->Start();
  }

  void TearDown() override {
    peer_loop_->Abort();
    HostTest::TearDown();
    peer_.reset();
    store_.reset();
  }

  void OnPeer(std::function<void(RoomHost&)> op) { OnLoopOf(*peer_, std::move(op)); }

  // Everything the room's loop has sent its parts has been applied.
  void Settle() {
    OnHost([](RoomHost&) {});  // the room's batches leave at the end of its turn
    OnHost([](RoomHost&) {});  // and the loop's outbox after that
    OnPeer([](RoomHost&) {});
  }

  // One upkeep tick of the sect: the parts' loop, then the room's.
  void Tick() {
    Settle();
    OnPeer([this](RoomHost& h) { h.Sweep(clock_.Now()); });
    OnHost([this](RoomHost& h) { h.Sweep(clock_.Now()); });
  }

  template <typename T>
  T Read(std::function<T(Room&)> f) {
    std::promise<T> out;
    OnHost([&](RoomHost& h) {
      Room* r = h.Find("r");
      out.set_value(r ? f(*r) : T{});
    });
    return out.get_future().get();
  }
  int64_t Online() {
    return Read<int64_t>([](Room& r) { return r.online(); });
  }
  bool Spread() {
    return Read<bool>([](Room& r) { return r.online_spread(); });
  }
  size_t Parts(RoomHost& host) {
    size_t n = 0;
    OnLoopOf(host, [&n](RoomHost& h) { n = h.part_count(); });
    return n;
  }

  std::set<std::string> Listed(const std::shared_ptr<FakeClient>& c) {
    On("r", [caller = As(c, "reader")](Room& r) { r.Handle(caller, OnlineArgs{1000}); });
    std::set<std::string> users;
    const boost::json::value answer = Json(c->Next());
    for (const auto& u : answer.at("users").as_array()) {
      users.insert(std::string(u.as_string()));
    }
    return users;
  }

  WirePtr Send(const std::shared_ptr<FakeClient>& c, const std::string& user) {
    SendArgs args;
    args.body = "hi";
    On("r", [caller = As(c, user), args](Room& r) { r.Send(caller, args); });
    return c->Next();
  }

  void JoinAll(const std::shared_ptr<FakeClient>& c, int from, int to) {
    for (int i = from; i < to; ++i) ASSERT_EQ(Join(c, "u" + std::to_string(i))->status, 200);
  }

  std::optional<fakes::TestStore> store_;
  std::unique_ptr<Loop> peer_loop_;
  std::unique_ptr<RoomHost> peer_;
};

TEST_F(SpreadTest, ABigRoomSpreadsOverTheSectsLoopsAndCountsAsBefore) {
  auto c = NewClient();
  JoinAll(c, 0, 3);
  Tick();
  EXPECT_FALSE(Spread()) << "below the threshold a room keeps its own table";
  EXPECT_EQ(Parts(*peer_), 0u);
  JoinAll(c, 3, 10);
  Tick();
  ASSERT_TRUE(Spread());
  EXPECT_EQ(Parts(*host_), 0u) << "the room's own loop keeps no part";
  EXPECT_EQ(Parts(*peer_), 1u);
  EXPECT_EQ(Online(), 10);
  std::set<std::string> all;
  for (int i = 0; i < 10; ++i) all.insert("u" + std::to_string(i));
  EXPECT_EQ(Listed(c), all) << "the sample moved with the users";

  JoinAll(c, 10, 15);
  for (int i = 10; i < 15; ++i) all.insert("u" + std::to_string(i));
  Tick();
  EXPECT_EQ(Online(), 15);
  EXPECT_EQ(Listed(c), all);

  On("r", [caller = As(c, "u0")](Room& r) { r.Leave(caller); });
  EXPECT_EQ(c->Next()->status, 204);
  ASSERT_EQ(Join(c, "u3")->status, 200) << "a second device counts once";
  Tick();
  EXPECT_EQ(Online(), 14);
  all.erase("u0");
  EXPECT_EQ(Listed(c), all);
  std::promise<int64_t> metric;
  OnHost([&](RoomHost& h) { metric.set_value(h.presence_stats().rooms_spread.load()); });
  EXPECT_EQ(metric.get_future().get(), 1);
}

TEST_F(SpreadTest, SendsCheckMembershipWithTheSendersPart) {
  auto c = NewClient();
  JoinAll(c, 0, 6);
  Tick();
  ASSERT_TRUE(Spread());
  EXPECT_EQ(Send(c, "u1")->status, 200);
  WirePtr stranger = Send(c, "stranger");
  EXPECT_EQ(stranger->status, 403);
  EXPECT_EQ(Code(stranger), "not_joined");
  // A join and a send in one turn of the room's loop: the send is checked after the join has
  // reached the part.
  SendArgs args;
  args.body = "hello";
  On("r", [join = As(c, "late"), send = As(c, "late"), args](Room& r) {
    r.Join(join, JoinArgs{});
    r.Send(send, args);
  });
  EXPECT_EQ(c->Next()->status, 200);
  WirePtr sent = c->Next();
  EXPECT_EQ(sent->status, 200) << fakes::Body(sent);
  // And a leave is seen by the next send.
  On("r", [caller = As(c, "u2")](Room& r) { r.Leave(caller); });
  EXPECT_EQ(c->Next()->status, 204);
  Settle();
  EXPECT_EQ(Code(Send(c, "u2")), "not_joined");
}

TEST_F(SpreadTest, PartsExpireOnTheirLoopsHeldPollsKeepUsersAndAnEmptyRoomUnloads) {
  auto c = NewClient();
  JoinAll(c, 0, 6);
  Tick();
  ASSERT_TRUE(Spread());
  auto poller = NewClient();
  PollArgs args;
  args.timeout_ms = 3000;
  On("r", [caller = As(poller, "u5"), args](Room& r) { r.Poll(caller, args); });
  EXPECT_TRUE(poller->Idle(20ms)) << "held";
  clock_.Advance(1500);  // past the TTL
  Tick();
  EXPECT_EQ(Online(), 1) << "only the user whose poll is held";
  uint64_t expired = 0;
  OnHost([&](RoomHost& h) { expired += h.presence_stats().expired.load(); });
  OnPeer([&](RoomHost& h) { expired += h.presence_stats().expired.load(); });
  EXPECT_EQ(expired, 5u) << "each part's loop counts what it expired";

  clock_.Advance(1600);  // the poll times out; its user is seen then
  ASSERT_TRUE(poller->Next(2s));
  Tick();
  EXPECT_EQ(Online(), 1);
  clock_.Advance(1500);
  Tick();  // u5 expires; the room now reads every part empty
  EXPECT_EQ(Online(), 0);
  Tick();  // and is unloaded, its parts dropped by their loops
  Settle();
  EXPECT_FALSE(Read<bool>([](Room&) { return true; })) << "unloaded";
  EXPECT_EQ(Parts(*host_), 0u);
  EXPECT_EQ(Parts(*peer_), 0u);
}

}  // namespace
}  // namespace chatroomd::room
