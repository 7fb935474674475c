// Per-client limits over HTTP (issue 11, docs/security.md): a connection's rate of non-poll room
// requests (http.request_rate_per_s, request_burst) answered 429 with Retry-After while polls go
// on; the cap on connections from one address (http.max_connections_per_ip) refusing the one
// past it with 429 and admitting again once one closes; thousands of slowloris connections that
// do not stop others from being served and are closed at the read timeout; a client that never
// reads its answers closed at the write timeout, with the daemon holding one answer for it.
#include <sys/resource.h>

#include <chrono>
#include <memory>
#include <optional>
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
  // Scraped on a connection already in (a new one would be refused).
  auto refusals = [&] {
    return SumMetric(ParseMetrics(open.front()->Get("/metrics").body),
                     "chatroomd_connections_refused_total", "limit=\"max_connections_per_ip\"");
  };
  const std::optional<double> before = refusals();
  ASSERT_TRUE(before.has_value()) << "no chatroomd_connections_refused_total";
  Client fourth(port());
  const Response refused = fourth.Get("/healthz");
  EXPECT_TRUE(IsError(refused, 429, "rate_limited"));
  EXPECT_EQ(refused.Header("Retry-After"), "1");
  EXPECT_TRUE(WaitUntil([&] { return fourth.PeerClosed(); }, std::chrono::seconds(2)));
  EXPECT_EQ(refusals(), *before + 1);
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

class SlowClientsTest : public SharedDaemonTest<SlowClientsTest> {
 public:
  static DaemonOptions Options() {
    return {.config = "http { read_timeout_ms: 4000 write_timeout_ms: 1000 }"};
  }
};

TEST_F(SlowClientsTest, ThousandsOfSlowlorisConnectionsDoNotStopOthers) {
  constexpr int kSlow = 2000;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < kSlow + 200 && rl.rlim_max >= kSlow + 200) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ASSERT_GE(rl.rlim_cur, static_cast<rlim_t>(kSlow + 200)) << "this test needs the descriptors";
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<RawConnection>(port()));
    ASSERT_TRUE(slow.back()->ok()) << i << ": " << slow.back()->error();
    // A header block that never ends.
    slow.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  const auto start = Clock::now();
  const std::string room = UniqueRoom();
  User alice(port(), "alice");
  const JoinResult joined = alice.Join(room);
  ASSERT_TRUE(joined.ok);
  EXPECT_GT(alice.Say(room, "still here"), 0u);
  EXPECT_EQ(alice.Poll(room, {.cursor = joined.cursor, .timeout_ms = 0}).messages.size(), 1u);
  // Served while every slow connection is still open (they are cut off 4 s after their first
  // byte): a loose bound, far above what the three requests take.
  EXPECT_LT(Clock::now() - start, 3000ms) << "the others waited for the slow ones";
  // Every slow connection is cut off at the read timeout.
  size_t closed = 0;
  for (auto& c : slow) closed += c->ReadUntilClose(8s).closed ? 1 : 0;
  EXPECT_EQ(closed, static_cast<size_t>(kSlow));
  EXPECT_TRUE(WaitUntil(
      [&] { return ScrapeMetric(port(), "chatroomd_open_connections").value_or(1e9) < 10; }, 3s));
}

TEST_F(SlowClientsTest, AClientThatNeverReadsIsClosedAtTheWriteTimeout) {
  const std::string room = UniqueRoom();
  User alice(port(), "alice");
  ASSERT_TRUE(alice.Join(room).ok);
  const std::string body = Repeat('m', 4000);
  for (int i = 0; i < 200; ++i) ASSERT_GT(alice.Say(room, body), 0u) << i;
  // 200 pipelined requests for 800 KB of history each: far more than socket buffers hold.
  RawConnection reader(port());
  ASSERT_TRUE(reader.ok());
  std::string requests;
  for (int i = 0; i < 200; ++i) {
    requests += "GET /v1/rooms/" + room +
                "/messages?limit=200 HTTP/1.1\r\nHost: x\r\nX-User-Id: reader\r\n\r\n";
  }
  ASSERT_TRUE(reader.Send(requests));
  std::this_thread::sleep_for(2500ms);  // not reading: the daemon's writes stall
  // Others are served meanwhile.
  EXPECT_GT(alice.Say(room, "served"), 0u);
  const auto read = reader.ReadUntilClose(10s);
  EXPECT_TRUE(read.closed) << "a client that does not read was kept";
  EXPECT_LT(read.data.size(), 200u * 800'000 / 4) << "the daemon kept writing to it";
}

}  // namespace
}  // namespace chatroomd::it
