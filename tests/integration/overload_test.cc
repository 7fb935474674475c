// Overload over HTTP (API.md `overloaded`; docs/operations.md "Limits"): past the bound on
// loaded rooms or on the rooms' memory, a request for a room that is not loaded is answered 503
// overloaded with Retry-After and changes nothing, while the rooms already in go on serving
// their clients. (Held polls: edge_test.cc; connections: http_test.cc; pending store writes:
// unit/room/room_overload_test.cc, which can hold the store back.)
#include <future>
#include <string>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

::testing::AssertionResult IsOverloaded(const Response& r) {
  auto e = IsError(r, 503, "overloaded");
  if (!e) return e;
  if (r.Header("Retry-After").empty()) return ::testing::AssertionFailure() << "no Retry-After";
  return ::testing::AssertionSuccess();
}

// What a client in a loaded room does: join, send, and a poll woken by a message.
void StillServed(uint16_t port, const std::string& room) {
  User carol(port, "carol"), dave(port, "dave");
  JoinResult j = carol.Join(room);
  ASSERT_TRUE(j.ok);
  auto poll = std::async(std::launch::async, [&] {
    return carol.Poll(room, {.cursor = j.cursor, .timeout_ms = 10000});
  });
  ASSERT_TRUE(dave.Join(room).ok);
  ASSERT_TRUE(WaitForHeldPolls(port, 1));
  const uint64_t seq = dave.Say(room, "still served");
  ASSERT_GT(seq, 0u);
  PollResult p = poll.get();
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Seqs(p.messages), std::vector<uint64_t>{seq});
}

TEST(OverloadTest, PastMaxRoomsANewRoomIs503AndLoadedRoomsServe) {
  Daemon d({.config = "rooms { max_rooms: 2 }"});
  ASSERT_TRUE(d.Start());
  User alice(d.port(), "alice");
  ASSERT_TRUE(alice.Join("first").ok);
  ASSERT_TRUE(alice.Join("second").ok);
  EXPECT_TRUE(IsOverloaded(alice.JoinRaw("third")));
  EXPECT_TRUE(IsOverloaded(alice.RoomGet("third", "stats")));
  StillServed(d.port(), "first");
  EXPECT_TRUE(IsError(alice.HistoryRaw("third"), 404, "room_not_found"))
      << "the refused join created nothing";
}

TEST(OverloadTest, PastTheRoomsMemoryANewRoomIs503AndLoadedRoomsServe) {
  Daemon d({.config = "rooms { max_memory_mb: 1 }"});
  ASSERT_TRUE(d.Start());
  User alice(d.port(), "alice");
  ASSERT_TRUE(alice.Join("big").ok);
  ASSERT_TRUE(alice.Join("small").ok);
  // About 8 KiB in memory each (JSON and protobuf): 160 of them pass 1 MiB.
  const std::string body(4000, 'x');
  for (int i = 0; i < 160; ++i)
    ASSERT_EQ(alice.SendRaw("big", R"({"body":")" + body + R"("})").status, 200);
  // Counted at the rooms' upkeep tick (every second).
  ASSERT_TRUE(WaitUntil(
      [&] { return ScrapeMetric(d.port(), "chatroomd_room_memory_bytes").value_or(0) >= 1 << 20; },
      5s, 50ms));
  EXPECT_TRUE(IsOverloaded(alice.JoinRaw("newcomer")));
  StillServed(d.port(), "small");
  StillServed(d.port(), "big");
}

}  // namespace
}  // namespace chatroomd::it
