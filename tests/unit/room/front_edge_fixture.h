// The fixture of the FrontEdge tests: a real FrontEdge on a front loop whose timer wheel goes by
// a hand-moved clock, a real RoomHost (same clock) on a room loop with a real RocksDB store, and
// a directory that maps every room to that host. Clients are FakeClients of the front loop
// whose edge() is the edge under test.
//
// Everything the edge does runs on the front loop; the helpers post there and wait. Requests
// for the room go from the front loop (Loop::Send keeps order per sender and target), so a
// front -> room -> front round trip is a barrier: the room has handled what the front loop
// sent it before, and whatever the room sent the edge before has been handled by the edge.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "chatroomd/room/front_edge.h"
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "room_fakes.h"

namespace chatroomd::room::fakes {

// Every room lives on the one host.
class OneHostDirectory final : public RoomDirectory {
 public:
  void set(RoomHost* host) { host_ = host; }
  RoomHost& HostOf(const std::string&) override { return *host_; }

 private:
  RoomHost* host_ = nullptr;
};

class FrontEdgeTest : public ::testing::Test {
 protected:
  static constexpr const char* kRoom = "r";

  // Subclasses change the settings before anything is built.
  virtual void Configure(RoomSettings&) {}
  // Subclasses may put a wrapper between the host and the real store (owned by them).
  virtual store::Store& HostStore(store::Store& real) { return real; }

  void SetUp() override {
    store_.emplace("chatroomd-front-edge-test");
    settings_.online_ttl_ms = 1000;       // the edge's upkeep runs every 250 ms (real)
    settings_.aggregation_period_ms = 0;  // every change to who is online is published at once
    Configure(settings_);
    auto settings = std::make_shared<const RoomSettings>(settings_);
    room_loop_ = std::make_unique<Loop>("room", 0);
    front_loop_ = std::make_unique<Loop>("front", 1);
    host_ = std::make_unique<RoomHost>(*room_loop_, HostStore(*store_->store), settings, shared_,
                                       registry_.NewSlot(), clock_.AsClock());
    directory_.set(host_.get());
    wheel_ = std::make_unique<TimerWheel>(front_loop_->context(), 10, 8192, clock_.AsClock());
    edge_metrics_ = &registry_.NewSlot();
    edge_ = std::make_unique<FrontEdge>(*front_loop_, *wheel_, directory_, settings, shared_,
                                        *edge_metrics_);
    room_loop_->Start();
    front_loop_->Start();
  }

  void TearDown() override {
    room_loop_->Abort();
    front_loop_->Abort();
    edge_.reset();
    wheel_.reset();
    host_.reset();
    store_.reset();
  }

  // A client of the front loop whose edge is the one under test.
  std::shared_ptr<FakeClient> EdgeClient() {
    return std::make_shared<FakeClient>(*front_loop_, edge_.get());
  }
  // A client with no edge (joins, sends).
  std::shared_ptr<FakeClient> PlainClient() { return std::make_shared<FakeClient>(*front_loop_); }

  Caller As(const std::shared_ptr<FakeClient>& c, std::string user, bool admin = false,
            BodyFormat format = BodyFormat::kJson) {
    Caller caller;
    caller.client = c;
    caller.serial = ++serial_;
    caller.user = std::move(user);
    caller.admin = admin;
    caller.format = format;
    return caller;
  }

  // Runs `fn` on the front loop and returns its result.
  template <typename F>
  auto OnFront(F fn) -> decltype(fn()) {
    using T = decltype(fn());
    auto task = std::make_shared<std::packaged_task<T()>>(std::move(fn));
    auto result = task->get_future();
    front_loop_->Post([task] { (*task)(); });
    return result.get();
  }

  // Runs `fn` at the room on its loop, sent from the front loop (after what it sent before).
  template <typename T>
  T AtRoom(std::function<T(Room&)> fn) {
    std::promise<T> p;
    front_loop_->Post([&] {
      Loop::Send(*room_loop_, [&] {
        Room* room = host_->Find(kRoom);
        if (!room) {
          ADD_FAILURE() << "room not loaded";
          return p.set_value(T{});
        }
        p.set_value(fn(*room));
      });
    });
    return p.get_future().get();
  }
  int64_t Online() {
    return AtRoom<int64_t>([](Room& r) { return r.online(); });
  }
  size_t HeldAtRoom() {
    return AtRoom<size_t>([](Room& r) { return r.held_count(); });
  }
  int64_t EdgeHeldAtRoom() {
    return AtRoom<int64_t>([](Room& r) { return r.edge_held(); });
  }
  size_t EdgeCount() {
    return AtRoom<size_t>([](Room& r) { return r.edge_count(); });
  }

  // front -> room -> front: what the front loop sent the room has run there, and what the room
  // sent the edge before has run on the front loop.
  void RoundTrip() {
    std::promise<void> p;
    front_loop_->Post([&] {
      Loop::Send(*room_loop_, [&] { Loop::Send(*front_loop_, [&] { p.set_value(); }); });
    });
    p.get_future().get();
  }

  // What a front loop does with a poll (sect::RoomService::Poll): the edge holds it, or answers
  // it from the room's answers; else it goes to the room, after the edge's reports. True: the
  // edge took it. The caller's serial is left in last_serial_.
  bool Poll(const std::shared_ptr<FakeClient>& c, const std::string& user, Cursor cursor,
            uint32_t limit = 10, BodyFormat format = BodyFormat::kJson,
            uint32_t timeout_ms = 60000) {
    Caller caller = As(c, user, false, format);
    last_serial_ = caller.serial;
    PollArgs args;
    args.cursor = cursor;
    args.limit = limit;
    args.timeout_ms = timeout_ms;
    return OnFront([&] {
      if (edge_->TryHold(kRoom, caller, args)) return true;
      edge_->Flush();
      host_->Post(kRoom, std::move(caller), args);
      return false;
    });
  }

  // The first poll of a group at the head: not the edge's; the room holds it and subscribes
  // the edge (to the group).
  void Subscribe(const std::shared_ptr<FakeClient>& c, const std::string& user, Cursor head,
                 uint32_t limit = 10, BodyFormat format = BodyFormat::kJson) {
    size_t before = HeldAtRoom();
    ASSERT_FALSE(Poll(c, user, head, limit, format)) << "held by the edge before a subscription";
    RoundTrip();
    ASSERT_EQ(HeldAtRoom(), before + 1) << "the room did not hold the poll";
  }

  bool EdgeWaiting(const std::shared_ptr<FakeClient>& c) {
    return OnFront([&] { return c->edge_waiting(); });
  }

  // Joins `user` (creating the room); the head cursor of the answer.
  Cursor Join(const std::string& user) {
    auto c = PlainClient();
    host_->Post(kRoom, As(c, user), JoinArgs{});
    WirePtr w = c->Next();
    if (!w || w->status != 200) {
      ADD_FAILURE() << "join failed: " << (w ? Body(w) : "no answer");
      return {};
    }
    return CursorOf(w);
  }
  // An admin's message, once durable and once the room's wake has reached the edge; its seq.
  uint64_t Say(const std::string& body) {
    auto c = PlainClient();
    SendArgs a;
    a.body = body;
    host_->Post(kRoom, As(c, "backend", true), a);
    WirePtr w = c->Next();
    if (!w || w->status != 200) {
      ADD_FAILURE() << "send failed: " << (w ? Body(w) : "no answer");
      return 0;
    }
    // The wake was posted on the room's loop before the answer left it.
    RoundTrip();
    return std::stoull(std::string(Json(w).at("seq").as_string()));
  }

  static Cursor CursorOf(const WirePtr& w) {
    auto c = DecodeCursor(kRoom, Json(w).at("cursor").as_string());
    EXPECT_TRUE(c.ok()) << Body(w);
    return c.ok() ? *c : Cursor{};
  }
  static std::vector<std::string> Bodies(const WirePtr& w) {
    std::vector<std::string> out;
    const boost::json::value v = Json(w);
    for (const auto& m : v.at("messages").as_array()) {
      out.emplace_back(m.at("body").as_string());
    }
    return out;
  }
  // True once `cond` holds; for effects of the wheels' real ticks (bounded).
  static bool Eventually(const std::function<bool()>& cond,
                         std::chrono::milliseconds within = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + within;
    while (!cond()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  int64_t SharedHeld() const { return shared_.held_polls.load(); }
  int64_t EdgeHeldMetric() const { return edge_metrics_->edge_held_polls.load(); }
  int64_t RoomHeldMetric() { return host_->metrics().held_polls.load(); }

  RoomSettings settings_;
  ManualClock clock_;
  SharedRoomState shared_;
  metrics::Registry registry_;
  std::optional<TestStore> store_;
  std::unique_ptr<Loop> room_loop_;
  std::unique_ptr<Loop> front_loop_;
  std::unique_ptr<RoomHost> host_;
  OneHostDirectory directory_;
  std::unique_ptr<TimerWheel> wheel_;
  metrics::ThreadMetrics* edge_metrics_ = nullptr;
  std::unique_ptr<FrontEdge> edge_;
  uint64_t serial_ = 0;
  uint64_t last_serial_ = 0;
};

}  // namespace chatroomd::room::fakes
