// The room's side of edge holds (room/edge.h): a fake front-loop edge on its own loop, a room on
// a real loop with a real RocksDB store. Subscriptions (generations, groups), growth (one
// Grew per edge with a prebuilt response per group, none when priority messages outran the
// priority list), reports (online, still-held users, held counts for max_held_polls_per_room),
// unsubscription by generation, and unloading.
//
// The store is wrapped so that a test can hold back write completions and release them in one
// turn of the room's loop: several messages then become visible in one wake, deterministically
// (and priority reads from the store can be held back the same way).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "gated_store.h"
#include "proto/chatroomd/api.pb.h"
#include "room_fakes.h"

namespace chatroomd::room {
namespace {

using fakes::GatedStore;

using namespace std::chrono_literals;

// What the room told the fake edge.
struct EdgeEvent {
  enum Kind { kSubscribed, kGrew, kChanged, kKicked } kind = kSubscribed;
  std::string room;
  EdgeState state;
  std::string user;  // kKicked
  int64_t until_ms = 0;
  std::vector<EdgeGroup> groups;
  bool fresh = false;
  EdgeResponses responses;
};

class FakeEdge : public Edge {
 public:
  explicit FakeEdge(Loop& loop) : loop_(loop) {}
  Loop& loop() override { return loop_; }
  void Subscribed(const std::string& room, const EdgeState& state, std::vector<EdgeGroup> groups,
                  bool fresh) override {
    EdgeEvent e;
    e.kind = EdgeEvent::kSubscribed;
    e.room = room;
    e.state = state;
    e.groups = std::move(groups);
    e.fresh = fresh;
    Push(std::move(e));
  }
  void Grew(const std::string& room, const EdgeState& state, EdgeResponses responses) override {
    EdgeEvent e;
    e.kind = EdgeEvent::kGrew;
    e.room = room;
    e.state = state;
    e.responses = std::move(responses);
    Push(std::move(e));
  }
  void Changed(const std::string& room, const EdgeState& state) override {
    EdgeEvent e;
    e.kind = EdgeEvent::kChanged;
    e.room = room;
    e.state = state;
    Push(std::move(e));
  }
  void Kicked(const std::string& room, uint64_t gen, const std::string& user,
              int64_t until_ms) override {
    EdgeEvent e;
    e.kind = EdgeEvent::kKicked;
    e.room = room;
    e.state.gen = gen;
    e.user = user;
    e.until_ms = until_ms;
    Push(std::move(e));
  }

  // The oldest event of `kind` (others stay queued), or nullopt after `within`.
  std::optional<EdgeEvent> Next(EdgeEvent::Kind kind, std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mu_);
    std::optional<EdgeEvent> out;
    cv_.wait_for(lock, within, [&] {
      for (auto it = events_.begin(); it != events_.end(); ++it) {
        if (it->kind == kind) {
          out = std::move(*it);
          events_.erase(it);
          return true;
        }
      }
      return false;
    });
    return out;
  }
  // True when no event of `kind` arrives for `for_ms`.
  bool None(EdgeEvent::Kind kind, std::chrono::milliseconds for_ms) {
    return !Next(kind, for_ms).has_value();
  }
  bool off_loop() const { return off_loop_.load(); }

 private:
  void Push(EdgeEvent e) {
    if (!loop_.InLoop()) off_loop_ = true;
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
    cv_.notify_all();
  }

  Loop& loop_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EdgeEvent> events_;
  std::atomic<bool> off_loop_{false};
};

using fakes::Body;
using fakes::Code;
using fakes::FakeClient;
using fakes::Json;
bool IsProtobuf(const WirePtr& w) {
  return w->head.find("Content-Type: application/x-protobuf") != std::string::npos;
}

constexpr EdgeGroup kJson10{10, BodyFormat::kJson};
constexpr EdgeGroup kProto20{20, BodyFormat::kProtobuf};

class EdgeRoomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    real_store_.emplace("chatroomd-edge-room-test");
    store_ = std::make_unique<GatedStore>(*real_store_->store);
    settings_.priority_size = 2;
    settings_.window_size = 100;
    settings_.max_held_polls_per_room = max_held_polls_per_room_;
    settings_.online_ttl_ms = 1000;
    settings_.idle_unload_ms = 1000;
    settings_.aggregation_period_ms = 0;  // every change to who is online is published at once
    loop_ = std::make_unique<Loop>("room-test", 0);
    host_ = std::make_unique<RoomHost>(*loop_, *store_, std::make_shared<RoomSettings>(settings_),
                                       shared_, registry_.NewSlot(), clock_.AsClock());
    front_loop_ = std::make_unique<Loop>("front", 1);
    edge_ = std::make_unique<FakeEdge>(*front_loop_);
    loop_->Start();
    front_loop_->Start();
  }

  void TearDown() override {
    EXPECT_FALSE(edge_->off_loop()) << "an edge was called off its own loop";
    loop_->Abort();
    front_loop_->Abort();
    host_.reset();
    real_store_.reset();
  }

  // A client of the front loop whose edge is `edge` (nullptr: no edge).
  std::shared_ptr<FakeClient> NewClient(Edge* edge) {
    return std::make_shared<FakeClient>(*front_loop_, edge);
  }
  std::shared_ptr<FakeClient> EdgeClient() { return NewClient(edge_.get()); }

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

  // Runs `op` on the room's loop.
  void On(std::function<void(Room&)> op) {
    loop_->Post([this, op = std::move(op)] { op(*host_->Get("r")); });
  }
  // Runs `op` on the room's loop and returns its result.
  template <typename T>
  T Eval(std::function<T(Room&)> op) {
    std::promise<T> p;
    On([&](Room& r) { p.set_value(op(r)); });
    return p.get_future().get();
  }
  int64_t Online() {
    return Eval<int64_t>([](Room& r) { return r.online(); });
  }
  size_t EdgeCount() {
    return Eval<size_t>([](Room& r) { return r.edge_count(); });
  }
  int64_t EdgeHeld() {
    return Eval<int64_t>([](Room& r) { return r.edge_held(); });
  }
  size_t HeldCount() {
    return Eval<size_t>([](Room& r) { return r.held_count(); });
  }
  Cursor Head() {
    uint64_t h = Eval<uint64_t>([](Room& r) { return r.head(); });
    return {h, h};
  }

  WirePtr Join(const std::string& user) {
    auto c = NewClient(nullptr);
    On([caller = As(c, user)](Room& r) { r.Join(caller, JoinArgs{}); });
    return c->Next();
  }
  void Leave(const std::string& user) {
    auto c = NewClient(nullptr);
    On([caller = As(c, user)](Room& r) { r.Leave(caller); });
    WirePtr w = c->Next();
    ASSERT_TRUE(w);
    ASSERT_EQ(w->status, 204);
  }
  // An admin's message, once durable; its seq.
  uint64_t Say(const std::string& body, bool priority = false) {
    auto c = NewClient(nullptr);
    SendArgs a;
    a.body = body;
    a.priority = priority;
    On([caller = As(c, "backend", true), a](Room& r) { r.Send(caller, a); });
    WirePtr w = c->Next();
    if (!w || w->status != 200) {
      ADD_FAILURE() << "send failed: " << (w ? Body(w) : "no answer");
      return 0;
    }
    return std::stoull(std::string(Json(w).at("seq").as_string()));
  }
  // Several admin messages that become visible in one turn of the room's loop (one wake).
  void SayInOneWake(const std::vector<std::pair<std::string, bool>>& messages) {
    store_->Gate();
    auto c = NewClient(nullptr);
    for (const auto& [body, priority] : messages) {
      SendArgs a;
      a.body = body;
      a.priority = priority;
      On([caller = As(c, "backend", true), a](Room& r) { r.Send(caller, a); });
    }
    ASSERT_TRUE(store_->WaitHeld(messages.size())) << "the writes never completed";
    auto held = store_->Ungate();
    std::promise<void> released;
    On([&](Room&) {
      for (auto& [done, status] : held) done(std::move(status));
      released.set_value();
    });
    released.get_future().get();
    for (size_t i = 0; i < messages.size(); ++i) {
      WirePtr w = c->Next();
      ASSERT_TRUE(w);
      ASSERT_EQ(w->status, 200) << Body(w);
    }
  }

  void Poll(const std::shared_ptr<FakeClient>& c, const std::string& user, uint32_t limit,
            BodyFormat format = BodyFormat::kJson, std::optional<Cursor> cursor = std::nullopt,
            uint32_t timeout_ms = 30000) {
    PollArgs args;
    args.cursor = cursor;
    args.limit = limit;
    args.timeout_ms = timeout_ms;
    On([caller = As(c, user, false, format), args](Room& r) { r.Poll(caller, args); });
  }
  // Polls at the head and expects the room to hold it.
  void Hold(const std::shared_ptr<FakeClient>& c, const std::string& user, uint32_t limit = 10,
            BodyFormat format = BodyFormat::kJson) {
    size_t before = HeldCount();
    Poll(c, user, limit, format);
    ASSERT_EQ(HeldCount(), before + 1) << "the poll was not held";
  }
  void Report(uint64_t gen, Cursor head, int64_t held, std::vector<std::string> polled = {},
              std::vector<std::string> still_held = {}, Edge* edge = nullptr) {
    EdgeReport report;
    report.edge = edge ? edge : edge_.get();
    report.gen = gen;
    report.head = head;
    report.held = held;
    report.polled = std::move(polled);
    report.still_held = std::move(still_held);
    std::promise<void> done;
    On([&](Room& r) {
      r.OnEdgeReport(std::move(report));
      done.set_value();
    });
    done.get_future().get();
  }
  void Unsubscribe(Edge* edge, uint64_t gen) {
    std::promise<void> done;
    On([&](Room& r) {
      r.OnEdgeUnsubscribe(edge, gen);
      done.set_value();
    });
    done.get_future().get();
  }
  // The first held poll of edge_'s loop: subscribes edge_; returns the generation.
  uint64_t Subscribe(const std::shared_ptr<FakeClient>& c, const std::string& user,
                     uint32_t limit = 10) {
    Hold(c, user, limit);
    auto ev = edge_->Next(EdgeEvent::kSubscribed);
    if (!ev) {
      ADD_FAILURE() << "no subscription";
      return 0;
    }
    EXPECT_TRUE(ev->fresh);
    return ev->state.gen;
  }

  uint32_t max_held_polls_per_room_ = 1000000;
  std::optional<fakes::TestStore> real_store_;
  std::unique_ptr<GatedStore> store_;
  RoomSettings settings_;
  fakes::ManualClock clock_;
  SharedRoomState shared_;
  metrics::Registry registry_;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<Loop> front_loop_;
  std::unique_ptr<FakeEdge> edge_;
  std::unique_ptr<RoomHost> host_;
  uint64_t serial_ = 0;
};

std::vector<uint64_t> JsonSeqs(const boost::json::value& v) {
  std::vector<uint64_t> out;
  for (const auto& m : v.at("messages").as_array()) {
    out.push_back(std::stoull(std::string(m.at("seq").as_string())));
  }
  return out;
}

Cursor JsonCursor(const boost::json::value& v) {
  auto c = DecodeCursor("r", v.at("cursor").as_string());
  EXPECT_TRUE(c.ok());
  return c.ok() ? *c : Cursor{};
}

TEST_F(EdgeRoomTest, FirstHeldPollSubscribesTheEdgeAndNewGroupsJoinItsGeneration) {
  ASSERT_EQ(Join("alice")->status, 200);
  ASSERT_EQ(Say("m1"), 1u);

  // A poll answered at once subscribes nothing.
  auto early = EdgeClient();
  Poll(early, "alice", 10, BodyFormat::kJson, Cursor{0, 0});
  ASSERT_TRUE(early->Next());
  EXPECT_TRUE(edge_->None(EdgeEvent::kSubscribed, 100ms));
  EXPECT_EQ(EdgeCount(), 0u);

  // The first held poll through the edge subscribes it: a fresh generation at the head.
  auto a = EdgeClient();
  Hold(a, "alice", 10);
  auto first = edge_->Next(EdgeEvent::kSubscribed);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->room, "r");
  EXPECT_TRUE(first->fresh);
  EXPECT_GT(first->state.gen, 0u);
  EXPECT_EQ(first->state.head, (Cursor{1, 1}));
  EXPECT_FALSE(first->state.full);
  EXPECT_EQ(first->groups, std::vector<EdgeGroup>{kJson10});
  EXPECT_EQ(EdgeCount(), 1u);

  // Another (limit, format): more groups for the same generation.
  auto b = EdgeClient();
  Hold(b, "bob", 20, BodyFormat::kProtobuf);
  auto second = edge_->Next(EdgeEvent::kSubscribed);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->fresh);
  EXPECT_EQ(second->state.gen, first->state.gen);
  EXPECT_EQ(second->state.head, (Cursor{1, 1}));
  EXPECT_EQ(second->groups, (std::vector<EdgeGroup>{kJson10, kProto20}));

  // A group it already has: nothing new.
  auto c = EdgeClient();
  Hold(c, "carol", 10);
  EXPECT_TRUE(edge_->None(EdgeEvent::kSubscribed, 150ms));
  // A client without an edge subscribes nothing.
  auto d = NewClient(nullptr);
  Hold(d, "dave", 30);
  EXPECT_TRUE(edge_->None(EdgeEvent::kSubscribed, 150ms));
  EXPECT_EQ(EdgeCount(), 1u);

  // A second front loop's edge gets a subscription of its own, with another generation.
  Loop other_loop("front-2", 2);
  other_loop.Start();
  FakeEdge other(other_loop);
  auto e = NewClient(&other);
  Hold(e, "erin", 10);
  auto theirs = other.Next(EdgeEvent::kSubscribed);
  ASSERT_TRUE(theirs);
  EXPECT_TRUE(theirs->fresh);
  EXPECT_NE(theirs->state.gen, first->state.gen);
  EXPECT_EQ(EdgeCount(), 2u);
  EXPECT_FALSE(other.off_loop());
  // Let the room forget it before `other` goes away.
  Unsubscribe(&other, theirs->state.gen);
  EXPECT_EQ(EdgeCount(), 1u);
  other_loop.Abort();
}

TEST_F(EdgeRoomTest, GrowthSendsOneResponsePerGroupBuiltFromTheEdgesHead) {
  ASSERT_EQ(Join("alice")->status, 200);
  auto a = EdgeClient();
  Hold(a, "alice", 1, BodyFormat::kJson);
  auto sub = edge_->Next(EdgeEvent::kSubscribed);
  ASSERT_TRUE(sub);
  auto b = EdgeClient();
  Hold(b, "bob", 20, BodyFormat::kProtobuf);
  ASSERT_TRUE(edge_->Next(EdgeEvent::kSubscribed));
  const uint64_t gen = sub->state.gen;

  // Three messages in one wake: one Grew, one response per group, each read from the head
  // the edge knew ({0, 0}).
  SayInOneWake({{"n1", false}, {"n2", false}, {"n3", false}});
  auto grew = edge_->Next(EdgeEvent::kGrew);
  ASSERT_TRUE(grew);
  EXPECT_EQ(grew->room, "r");
  EXPECT_EQ(grew->state.gen, gen);
  EXPECT_EQ(grew->state.head, (Cursor{3, 3}));
  ASSERT_EQ(grew->responses.size(), 2u);
  WirePtr json, proto;
  for (const auto& [from, g, w] : grew->responses) {
    ASSERT_TRUE(w);
    EXPECT_EQ(from, (Cursor{0, 0}));  // no head before it to answer from
    if (g == EdgeGroup{1, BodyFormat::kJson}) json = w;
    if (g == kProto20) proto = w;
  }
  ASSERT_TRUE(json) << "no response for the limit-1 JSON group";
  ASSERT_TRUE(proto) << "no response for the limit-20 protobuf group";
  EXPECT_EQ(json->status, 200);
  auto j = Json(json);
  EXPECT_EQ(JsonSeqs(j), std::vector<uint64_t>{3}) << Body(json);  // the newest, the rest skipped
  EXPECT_EQ(j.at("messages").at(0).at("body").as_string(), "n3");
  EXPECT_TRUE(j.at("gap").as_bool());
  EXPECT_EQ(JsonCursor(j), (Cursor{3, 3}));
  EXPECT_EQ(proto->status, 200);
  ASSERT_TRUE(IsProtobuf(proto)) << proto->head;
  api::PollResponse p;
  ASSERT_TRUE(p.ParseFromString(Body(proto)));
  ASSERT_EQ(p.messages_size(), 3);
  EXPECT_EQ(p.messages(0).seq(), 1u);
  EXPECT_EQ(p.messages(0).body(), "n1");
  EXPECT_EQ(p.messages(2).body(), "n3");
  EXPECT_FALSE(p.gap());
  auto pc = DecodeCursor("r", p.cursor());
  ASSERT_TRUE(pc.ok());
  EXPECT_EQ(*pc, (Cursor{3, 3}));
  // The room's own waiters (at the same cursor) get the very same bodies.
  WirePtr wa = a->Next();
  WirePtr wb = b->Next();
  ASSERT_TRUE(wa && wb);
  EXPECT_EQ(Body(wa), Body(json));
  EXPECT_EQ(Body(wb), Body(proto));
  // One growth, one Grew.
  EXPECT_TRUE(edge_->None(EdgeEvent::kGrew, 150ms));

  // The next growth starts from the head the edge was last told.
  uint64_t seq = Say("n4");
  auto next = edge_->Next(EdgeEvent::kGrew);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->state.gen, gen);
  EXPECT_EQ(next->state.head, (Cursor{seq, seq}));
  // Per group: from the head the edge knew ({3, 3}) for its waiters, and from the head
  // before ({0, 0}) for polls that come back at it after this growth.
  ASSERT_EQ(next->responses.size(), 4u);
  int from_head = 0, from_before = 0;
  for (const auto& [from, g, w] : next->responses) {
    const bool before = from == Cursor{0, 0};
    if (before) {
      ++from_before;
    } else {
      EXPECT_EQ(from, (Cursor{3, 3}));
      ++from_head;
    }
    if (g.format == BodyFormat::kJson) {
      auto v = Json(w);
      EXPECT_EQ(JsonSeqs(v), std::vector<uint64_t>{seq});  // limit 1: the newest
      EXPECT_EQ(v.at("messages").at(0).at("body").as_string(), "n4");
      EXPECT_EQ(v.at("gap").as_bool(), before);
    } else {
      api::PollResponse q;
      ASSERT_TRUE(q.ParseFromString(Body(w)));
      ASSERT_EQ(q.messages_size(), before ? 4 : 1);
      EXPECT_EQ(q.messages(0).seq(), before ? 1u : seq);
      EXPECT_EQ(q.messages(q.messages_size() - 1).body(), "n4");
    }
    if (g.format == BodyFormat::kJson) {
      EXPECT_EQ(JsonCursor(Json(w)), (Cursor{seq, seq}));
    }
  }
  EXPECT_EQ(from_head, 2);
  EXPECT_EQ(from_before, 2);
}

TEST_F(EdgeRoomTest, GrewCarriesNoResponsesWhenPriorityMessagesOutranThePriorityList) {
  // priority_size is 2.
  ASSERT_EQ(Join("alice")->status, 200);
  Say("p1", true);
  Say("p2", true);  // the list is full: [p1, p2]
  auto a = EdgeClient();
  Hold(a, "alice", 10);
  auto sub = edge_->Next(EdgeEvent::kSubscribed);
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->state.head, (Cursor{2, 2}));

  // As many as the list holds: what was evicted had been read; responses as usual.
  SayInOneWake({{"p3", true}, {"p4", true}});
  auto grew = edge_->Next(EdgeEvent::kGrew);
  ASSERT_TRUE(grew);
  EXPECT_EQ(grew->state.head, (Cursor{4, 4}));
  ASSERT_EQ(grew->responses.size(), 1u);
  EXPECT_EQ(grew->responses[0].from, (Cursor{2, 2}));
  EXPECT_EQ(grew->responses[0].group, kJson10);
  EXPECT_EQ(JsonSeqs(Json(grew->responses[0].response)), (std::vector<uint64_t>{3, 4}));
  WirePtr wa = a->Next();
  ASSERT_TRUE(wa);
  EXPECT_EQ(JsonSeqs(Json(wa)), (std::vector<uint64_t>{3, 4}));

  // More than the list holds since the edge's head: p5 is only in the store now, so the edge
  // gets the new head and no responses (its waiters go back to the room).
  Hold(a, "alice", 10);
  SayInOneWake({{"p5", true}, {"p6", true}, {"p7", true}});
  auto past = edge_->Next(EdgeEvent::kGrew);
  ASSERT_TRUE(past);
  EXPECT_EQ(past->state.gen, sub->state.gen);
  EXPECT_EQ(past->state.head, (Cursor{7, 7}));
  EXPECT_TRUE(past->responses.empty()) << "a response read from the window would skip p5";
  // The room's own waiter at the same cursor is answered from the store: nothing skipped.
  WirePtr wb = a->Next();
  ASSERT_TRUE(wb);
  auto v = Json(wb);
  EXPECT_EQ(JsonSeqs(v), (std::vector<uint64_t>{5, 6, 7})) << Body(wb);
  EXPECT_EQ(JsonCursor(v), (Cursor{7, 7}));

  // A waiter the edge sends back (an ordinary poll at its old head) gets them all too.
  auto back = EdgeClient();
  Poll(back, "bob", 10, BodyFormat::kJson, Cursor{4, 4}, 5000);
  WirePtr wc = back->Next();
  ASSERT_TRUE(wc);
  EXPECT_EQ(JsonSeqs(Json(wc)), (std::vector<uint64_t>{5, 6, 7})) << Body(wc);
}

// Room::PollFromStore: the store read runs on a reader thread against a snapshot, and its
// completion runs on the room's loop later. A priority message that becomes visible in
// between is not in the records, so the returned cursor must not move past it: the priority
// position goes to the head the room had when the read was issued (or the last message
// taken), not to the head when the completion runs. Edges reach this through their
// forward-back path (a Grew without responses sends the waiters back as ordinary polls at the
// edge's old head while the rest of a burst is being committed).
// Here the read is held back deterministically while one more priority message lands.
TEST_F(EdgeRoomTest, ForwardedPollFromTheStoreSkipsNoPriorityMessageThatLandsMeanwhile) {
  // priority_size is 2.
  ASSERT_EQ(Join("alice")->status, 200);
  auto a = EdgeClient();
  Hold(a, "alice", 10);
  ASSERT_TRUE(edge_->Next(EdgeEvent::kSubscribed));
  SayInOneWake({{"p1", true}, {"p2", true}, {"p3", true}});
  auto grew = edge_->Next(EdgeEvent::kGrew);
  ASSERT_TRUE(grew);
  ASSERT_TRUE(grew->responses.empty());
  ASSERT_TRUE(a->Next());

  // What an edge does with such a Grew: its waiter polls the room at the edge's old head.
  store_->GateReads();
  auto back = EdgeClient();
  Poll(back, "bob", 10, BodyFormat::kJson, Cursor{0, 0}, 5000);
  ASSERT_TRUE(store_->WaitReads(1)) << "the poll did not read from the store";
  // The read is done (p1..p3); p4 becomes visible before its completion runs.
  ASSERT_EQ(Say("p4", true), 4u);
  store_->ReleaseReads();
  WirePtr first = back->Next();
  ASSERT_TRUE(first);
  auto v = Json(first);
  std::vector<uint64_t> seen = JsonSeqs(v);
  // Polling on from the cursor it was given must bring whatever is left.
  auto next = EdgeClient();
  Poll(next, "bob", 10, BodyFormat::kJson, JsonCursor(v), 0);
  WirePtr second = next->Next();
  ASSERT_TRUE(second);
  for (uint64_t s : JsonSeqs(Json(second))) seen.push_back(s);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4}))
      << "first answer " << Body(first) << "\nthen " << Body(second);
}

TEST_F(EdgeRoomTest, ReportsMarkPolledUsersOnlineAndStillHeldNeverResurrects) {
  ASSERT_EQ(Join("alice")->status, 200);
  auto a = EdgeClient();
  const uint64_t gen = Subscribe(a, "alice");
  const Cursor head = Head();
  ASSERT_EQ(Online(), 1);

  // Users whose polls the edge took are online, as if the room had taken the polls.
  Report(gen, head, 1, {"bob", "bob"});
  EXPECT_EQ(Online(), 2);
  // ...and the edges hear the new count.
  bool told = false;
  while (auto ch = edge_->Next(EdgeEvent::kChanged, 2s)) {
    if (ch->state.online == 2) {
      told = true;
      EXPECT_EQ(ch->state.gen, gen);
      break;
    }
  }
  EXPECT_TRUE(told) << "no Changed with online 2";

  // A user who left stays gone though the edge still holds their poll; still_held never
  // adds a user either.
  ASSERT_EQ(Join("carol")->status, 200);
  EXPECT_EQ(Online(), 3);
  Leave("carol");
  EXPECT_EQ(Online(), 2);
  Report(gen, head, 2, {}, {"carol", "dave"});
  EXPECT_EQ(Online(), 2);
  // Nor does one who left while the room itself still holds a poll of theirs.
  auto f = NewClient(nullptr);
  Hold(f, "frank");
  EXPECT_EQ(Online(), 3);
  Leave("frank");
  EXPECT_EQ(Online(), 2);
  Report(gen, head, 2, {}, {"frank"});
  EXPECT_EQ(Online(), 2);

  // still_held keeps a user online past the TTL measured from the poll.
  Report(gen, head, 2, {"erin"});
  EXPECT_EQ(Online(), 3);
  clock_.Advance(500);  // more than a tick and an expiry bucket (users expire that late)
  int64_t after = Eval<int64_t>([&](Room& r) {
    EdgeReport report;
    report.edge = edge_.get();
    report.gen = gen;
    report.head = head;
    report.held = 2;
    report.still_held = {"erin"};
    int64_t now = clock_.Now();
    r.OnEdgeReport(std::move(report));
    // Past the TTL of everyone seen 500 ms ago or earlier, not of a user re-told now.
    r.Sweep(now + settings_.online_ttl_ms - 100, 1'000'000);
    return r.online();
  });
  // alice (her poll is held by the room) and erin; bob expired, carol and dave never came back.
  EXPECT_EQ(after, 2);
}

TEST_F(EdgeRoomTest, UnsubscribeOnlyByTheCurrentGeneration) {
  ASSERT_EQ(Join("alice")->status, 200);
  auto a = EdgeClient();
  const uint64_t g1 = Subscribe(a, "alice");
  ASSERT_EQ(EdgeCount(), 1u);

  Loop other_loop("front-2", 2);
  FakeEdge other(other_loop);
  Unsubscribe(&other, g1);              // another edge
  Unsubscribe(edge_.get(), g1 + 1000);  // a generation it never had
  EXPECT_EQ(EdgeCount(), 1u);
  Unsubscribe(edge_.get(), g1);
  EXPECT_EQ(EdgeCount(), 0u);

  // Unsubscribed: growth tells it nothing (the room's own waiter is answered).
  Say("m1");
  ASSERT_TRUE(a->Next());
  EXPECT_TRUE(edge_->None(EdgeEvent::kGrew, 150ms));

  // The next held poll subscribes it again, with a new generation; a late drop of the old
  // one is ignored.
  auto b = EdgeClient();
  Hold(b, "bob");
  auto again = edge_->Next(EdgeEvent::kSubscribed);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->fresh);
  const uint64_t g2 = again->state.gen;
  EXPECT_NE(g2, g1);
  EXPECT_EQ(again->state.head, (Cursor{1, 1}));
  Unsubscribe(edge_.get(), g1);
  EXPECT_EQ(EdgeCount(), 1u);
  Say("m2");
  auto grew = edge_->Next(EdgeEvent::kGrew);
  ASSERT_TRUE(grew);
  EXPECT_EQ(grew->state.gen, g2);
  Unsubscribe(edge_.get(), g2);
  EXPECT_EQ(EdgeCount(), 0u);
}

class EdgeRoomFullTest : public EdgeRoomTest {
 protected:
  void SetUp() override {
    max_held_polls_per_room_ = 3;
    EdgeRoomTest::SetUp();
  }
};

TEST_F(EdgeRoomFullTest, FullCountsHeldPollsTheEdgesReportedAtTheCurrentHead) {
  // max_held_polls_per_room is 3.
  ASSERT_EQ(Join("alice")->status, 200);
  auto a = EdgeClient();
  const uint64_t gen = Subscribe(a, "alice");  // held by the room: 1
  const Cursor h1 = Head();

  // The edge holds 2 more: the room is full and a forwarded poll is refused.
  Report(gen, h1, 2, {"x"});
  EXPECT_EQ(EdgeHeld(), 2);
  bool told_full = false;
  while (auto ch = edge_->Next(EdgeEvent::kChanged, 2s)) {
    if (ch->state.full) {
      told_full = true;
      break;
    }
  }
  EXPECT_TRUE(told_full) << "the edge was not told the room is full";
  auto b = EdgeClient();
  Poll(b, "bob", 10);
  WirePtr refused = b->Next();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(Code(refused), "overloaded");
  EXPECT_NE(refused->head.find("Retry-After: "), std::string::npos);

  // Fewer held at the edge: room again.
  Report(gen, h1, 1);
  EXPECT_EQ(EdgeHeld(), 1);
  auto c = EdgeClient();
  Hold(c, "carol");  // 2 held by the room + 1 at the edge

  // Growth answers every waiter the edge held: it counts none until it reports again.
  Say("m1");
  ASSERT_TRUE(a->Next());
  ASSERT_TRUE(c->Next());
  ASSERT_TRUE(edge_->Next(EdgeEvent::kGrew));
  EXPECT_EQ(EdgeHeld(), 0);
  const Cursor h2 = Head();
  ASSERT_EQ(h2, (Cursor{1, 1}));

  // A report from before the edge heard of that growth (its head is older) counts nothing,
  // nor does one of another generation or another edge.
  Report(gen, h1, 5);
  Report(gen + 1000, h2, 5);
  Loop other_loop("front-2", 2);
  FakeEdge other(other_loop);
  Report(gen, h2, 5, {}, {}, &other);
  EXPECT_EQ(EdgeHeld(), 0);
  auto d = EdgeClient();
  Hold(d, "dave");  // 1 held by the room

  // At the current head it counts: 1 + 2 = 3.
  Report(gen, h2, 2);
  EXPECT_EQ(EdgeHeld(), 2);
  auto e = NewClient(nullptr);
  Poll(e, "erin", 10);
  WirePtr again = e->Next();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 503);
  EXPECT_EQ(Code(again), "overloaded");
}

// Room::NotifyEdges: a growth answers every poll the edges held, so the Grew must not tell
// them the room is full because of those holds (else the edges hold nothing and send every
// poll to the room until a sweep corrects it, or for as long as the room's own holds keep it
// at max_held_polls_per_room).
TEST_F(EdgeRoomFullTest, GrowthThatAnswersTheEdgesWaitersDoesNotCallTheRoomFull) {
  // max_held_polls_per_room is 3.
  ASSERT_EQ(Join("alice")->status, 200);
  auto a = EdgeClient();
  const uint64_t gen = Subscribe(a, "alice");  // held by the room: 1
  Report(gen, Head(), 3, {"x"});               // + 3 at the edge: full
  bool told_full = false;
  while (auto ch = edge_->Next(EdgeEvent::kChanged, 2s)) {
    if (ch->state.full) {
      told_full = true;
      break;
    }
  }
  ASSERT_TRUE(told_full);
  Say("m1");  // answers the room's waiter and (through the Grew) the edge's three
  ASSERT_TRUE(a->Next());
  auto grew = edge_->Next(EdgeEvent::kGrew);
  ASSERT_TRUE(grew);
  EXPECT_EQ(HeldCount(), 0u);
  EXPECT_EQ(EdgeHeld(), 0);
  EXPECT_FALSE(grew->state.full) << "nothing is held any more, yet the edge is told `full`";
}

TEST_F(EdgeRoomTest, NotUnloadedWhileAnEdgeIsSubscribed) {
  ASSERT_EQ(Join("alice")->status, 200);
  auto a = EdgeClient();
  Caller poll = As(a, "alice");
  PollArgs args;
  On([poll, args](Room& r) { r.Poll(poll, args); });
  auto sub = edge_->Next(EdgeEvent::kSubscribed);
  ASSERT_TRUE(sub);
  const uint64_t gen = sub->state.gen;
  // The poll goes away; nobody stays online.
  On([poll](Room& r) { r.CancelPoll(*poll.client, poll.serial); });
  ASSERT_EQ(HeldCount(), 0u);

  auto sweep = [&] {
    return Eval<bool>([&](Room& r) { return r.Sweep(clock_.Now() + 10'000'000, 1000); });
  };
  EXPECT_FALSE(sweep()) << "unloadable while an edge is subscribed";
  EXPECT_EQ(Online(), 0);
  EXPECT_EQ(EdgeCount(), 1u);
  Unsubscribe(edge_.get(), gen);
  EXPECT_TRUE(sweep()) << "idle, nothing held, no edge: should be unloadable";
}

}  // namespace
}  // namespace chatroomd::room
