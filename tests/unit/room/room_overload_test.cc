// Past a bound a room or its host answers 503 overloaded with Retry-After and changes nothing,
// while what is already in goes on being served: the store's queue of pending writes
// (store.max_pending_writes), the loaded rooms (rooms.max_rooms) and their memory
// (rooms.max_memory_mb, Room::memory_bytes summed at the upkeep tick).
#include <gtest/gtest.h>

#include <string>

#include "gated_store.h"
#include "host_test.h"

namespace chatroomd::room {
namespace {

using fakes::Code;
using fakes::FakeClient;
using fakes::GatedStore;

class RoomOverloadTest : public fakes::HostTest {
 protected:
  void SetUp() override {
    real_store_.emplace("chatroomd-room-overload-test");
    gated_ = std::make_unique<GatedStore>(*real_store_->store);
    settings_.max_pending_writes = 1;
    settings_.max_rooms = 3;
    settings_.max_room_bytes = 64 * 1024;
    StartHost(*gated_);
  }
  void TearDown() override {
    HostTest::TearDown();
    gated_.reset();
    real_store_.reset();
  }

  // A request for `room` as a front loop sends it (loading the room when it may).
  WirePtr Ask(const std::shared_ptr<FakeClient>& c, const std::string& room, Request request,
              const std::string& user = "admin") {
    host_->Post(room, As(c, user, true), std::move(request));
    return c->Next();
  }
  static SendArgs Text(std::string body) {
    SendArgs a;
    a.body = std::move(body);
    return a;
  }
  static bool IsOverloaded(const WirePtr& w) {
    return w && w->status == 503 && Code(w) == "overloaded" &&
           w->head.find("Retry-After: ") != std::string::npos;
  }
  int64_t RoomBytes() {
    int64_t bytes = 0;
    OnHost([&](RoomHost& h) { bytes = static_cast<int64_t>(h.Find("r")->memory_bytes()); });
    return bytes;
  }

  std::optional<fakes::TestStore> real_store_;
  std::unique_ptr<GatedStore> gated_;
};

TEST_F(RoomOverloadTest, SendsPastThePendingWritesBoundAre503UntilTheStoreCatchesUp) {
  auto c = NewClient();
  ASSERT_EQ(Ask(c, "r", JoinArgs{})->status, 200);
  gated_->Gate();
  host_->Post("r", As(c, "admin", true), Text("first"));
  ASSERT_TRUE(gated_->WaitHeld(1));
  EXPECT_TRUE(IsOverloaded(Ask(c, "r", Text("second"))));
  ASSERT_TRUE(gated_->ReleaseOn(1, host_->loop()));
  WirePtr first = c->Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(fakes::Json(first).at("seq").as_string(), "1") << "the refused send used no seq";
  WirePtr third = Ask(c, "r", Text("third"));
  ASSERT_TRUE(third);
  EXPECT_EQ(fakes::Json(third).at("seq").as_string(), "2");
}

TEST_F(RoomOverloadTest, PastMaxRoomsOnlyNewRoomsAreRefused) {
  auto c = NewClient();
  ASSERT_EQ(Ask(c, "r", JoinArgs{})->status, 200);
  ASSERT_EQ(Ask(c, "s", JoinArgs{})->status, 200);
  ASSERT_EQ(Ask(c, "u", JoinArgs{})->status, 200);
  WirePtr refused = Ask(c, "t", JoinArgs{});
  EXPECT_TRUE(IsOverloaded(refused));
  EXPECT_NE(fakes::Body(refused).find("too many rooms"), std::string::npos);
  EXPECT_EQ(Ask(c, "r", Text("still here"))->status, 200);
  OnHost([](RoomHost& h) { EXPECT_EQ(h.room_count(), 3u); });
}

TEST_F(RoomOverloadTest, PastTheRoomsMemoryOnlyNewRoomsAreRefused) {
  auto c = NewClient();
  ASSERT_EQ(Ask(c, "r", JoinArgs{})->status, 200);
  const int64_t empty = RoomBytes();
  EXPECT_GT(empty, 0);
  // Each message is kept twice encoded (JSON and protobuf): about 8 KiB for a 4000-byte body.
  for (int i = 0; i < 8; ++i) ASSERT_EQ(Ask(c, "r", Text(std::string(4000, 'x')))->status, 200);
  const int64_t full = RoomBytes();
  EXPECT_GT(full - empty, 8 * 8000);
  EXPECT_LT(full - empty, 8 * 9000);
  // Counted at the upkeep tick.
  EXPECT_EQ(Ask(c, "s", JoinArgs{})->status, 200) << "not counted before the tick";
  OnHost([](RoomHost& h) { h.Sweep(h.NowMs()); });
  EXPECT_GE(shared_.room_bytes.load(), full);
  WirePtr refused = Ask(c, "t", JoinArgs{});
  EXPECT_TRUE(IsOverloaded(refused));
  EXPECT_NE(fakes::Body(refused).find("memory"), std::string::npos);
  // The rooms already loaded go on.
  EXPECT_EQ(Ask(c, "r", Text("still served"))->status, 200);
  EXPECT_EQ(Ask(c, "s", JoinArgs{}, "bob")->status, 200);
}

}  // namespace
}  // namespace chatroomd::room
