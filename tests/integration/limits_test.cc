// Per-client limits over HTTP (issue 11, docs/security.md): a connection's rate of non-poll room
// requests (http.request_rate_per_s, request_burst) answered 429 with Retry-After while polls go
// on; the cap on connections from one address (http.max_connections_per_ip) refusing the one
// past it with 429 and admitting again once one closes.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class RequestRateTest : public SharedDaemonTest<RequestRateTest> {
 public:
  static DaemonOptions Options() {
    return {.config = "http { request_rate_per_s: 1 request_burst: 3 }"};
  }
};

TEST_F(RequestRateTest, AConnectionPastItsRateGets429WhilePollsGoOn) {
  const std::string room = UniqueRoom();
  User alice(port(), "alice");
  const JoinResult joined = alice.Join(room);  // 1 of the burst of 3
  ASSERT_TRUE(joined.ok);
  EXPECT_EQ(alice.RoomGet(room, "stats").status, 200);  // 2
  EXPECT_EQ(alice.RoomGet(room, "stats").status, 200);  // 3
  const Response limited = alice.RoomGet(room, "stats");
  EXPECT_TRUE(IsError(limited, 429, "rate_limited"));
  EXPECT_EQ(limited.Header("Retry-After"), "1");
  EXPECT_FALSE(alice.client().PeerClosed()) << "refused, not disconnected";
  // Polls are not counted: a client waiting for messages is never throttled.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(alice.Poll(room, {.cursor = joined.cursor, .timeout_ms = 0}).ok) << i;
  }
  // Another connection has an allowance of its own.
  User bob(port(), "bob");
  EXPECT_EQ(bob.RoomGet(room, "stats").status, 200);
  // The allowance comes back at the configured rate.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(alice.RoomGet(room, "stats").status, 200);
}

class PerAddressCapTest : public SharedDaemonTest<PerAddressCapTest> {
 public:
  static DaemonOptions Options() { return {.config = "http { max_connections_per_ip: 3 }"}; }
};

TEST_F(PerAddressCapTest, TheConnectionPastTheCapIsRefusedUntilOneCloses) {
  std::vector<std::unique_ptr<Client>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<Client>(port()));
    ASSERT_EQ(open.back()->Get("/healthz").status, 200) << i;
  }
  Client fourth(port());
  const Response refused = fourth.Get("/healthz");
  EXPECT_TRUE(IsError(refused, 429, "rate_limited"));
  EXPECT_EQ(refused.Header("Retry-After"), "1");
  EXPECT_TRUE(WaitUntil([&] { return fourth.PeerClosed(); }, std::chrono::seconds(2)));
  // The three are still served.
  for (auto& c : open) EXPECT_EQ(c->Get("/healthz").status, 200);
  open.front()->Close();
  EXPECT_TRUE(WaitUntil(
      [&] {
        Client again(port());
        return again.Get("/healthz").status == 200;
      },
      std::chrono::seconds(3)))
      << "a closed connection gives its place back";
}

}  // namespace
}  // namespace chatroomd::it
