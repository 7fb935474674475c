// GET /v1/admin/sects (API.md "Admin"): every sect with its threads, hash ranges, loaded rooms,
// held polls, online users and loop lag, as the sects file and the traffic say; and the loop
// lag histogram in /metrics.
#include <future>
#include <string>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

constexpr const char* kSects = R"(
sects { name: "low" threads: 1 ranges { start: 0 end: 0x7FFFFFFFFFFFFFFF } }
sects { name: "high" threads: 2 ranges { start: 0x8000000000000000 end: 0xFFFFFFFFFFFFFFFF } }
sects { name: "vip" vip: true threads: 1 rooms: "lobby" rooms: "stage" }
)";

// The sect called `name` in an answer of /v1/admin/sects (null when missing).
const boost::json::object* FindSect(const boost::json::value& v, std::string_view name) {
  for (const auto& s : v.at("sects").as_array()) {
    if (s.at("name").as_string() == name) return &s.as_object();
  }
  return nullptr;
}

int64_t Int(const boost::json::object& o, std::string_view key) {
  return std::stoll(std::string(o.at(key).as_string()));
}

class SectsTest : public SharedDaemonTest<SectsTest> {
 public:
  static DaemonOptions Options() { return {.sects = kSects}; }
};

TEST_F(SectsTest, EverySectWithItsThreadsRangesAndFigures) {
  User boss(port(), "boss");
  Response r = boss.client().Get("/v1/admin/sects", boss.Auth());
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_TRUE(IsJson(r));
  EXPECT_TRUE(HasNoStore(r));
  const boost::json::value v = r.Json();
  ASSERT_EQ(v.at("sects").as_array().size(), 3u);
  EXPECT_EQ(v.at("sects").as_array()[0].at("name").as_string(), "low") << "in the file's order";

  const auto* low = FindSect(v, "low");
  const auto* high = FindSect(v, "high");
  const auto* vip = FindSect(v, "vip");
  ASSERT_TRUE(low && high && vip);
  EXPECT_FALSE(low->at("vip").as_bool());
  EXPECT_TRUE(vip->at("vip").as_bool());
  EXPECT_EQ(low->at("threads").as_int64(), 1);
  EXPECT_EQ(high->at("threads").as_int64(), 2);
  // Hash bounds as decimal strings, as every 64-bit number in the API.
  ASSERT_EQ(high->at("ranges").as_array().size(), 1u);
  EXPECT_EQ(high->at("ranges").as_array()[0].at("start").as_string(), "9223372036854775808");
  EXPECT_EQ(high->at("ranges").as_array()[0].at("end").as_string(), "18446744073709551615");
  EXPECT_EQ(low->at("ranges").as_array()[0].at("start").as_string(), "0");
  EXPECT_TRUE(vip->at("ranges").as_array().empty());
  for (const auto* s : {low, high, vip}) {
    for (const char* key : {"rooms", "held_polls", "online"}) {
      ASSERT_TRUE(s->at(key).is_string()) << key;
      EXPECT_GE(Int(*s, key), 0) << key;
    }
    ASSERT_TRUE(s->at("loop_lag_ms").is_number());
    EXPECT_GE(s->at("loop_lag_ms").to_number<double>(), 0);
    EXPECT_LT(s->at("loop_lag_ms").to_number<double>(), 10000);
  }
}

TEST_F(SectsTest, APinnedRoomsFiguresShowInTheVipSect) {
  User boss(port(), "boss"), alice(port(), "alice"), bob(port(), "bob");
  auto vip = [&]() -> boost::json::object {
    Response r = boss.client().Get("/v1/admin/sects", boss.Auth());
    if (r.status != 200) return {};
    const boost::json::value v = r.Json();
    const auto* s = FindSect(v, "vip");
    return s ? *s : boost::json::object();
  };
  auto figure = [&](std::string_view key) {
    boost::json::object s = vip();
    return s.contains(key) ? Int(s, key) : -1;
  };
  JoinResult j = alice.Join("lobby");
  ASSERT_TRUE(j.ok);
  ASSERT_TRUE(bob.Join("stage").ok);
  // Figures of the last upkeep tick (every second).
  EXPECT_TRUE(WaitUntil([&] { return figure("rooms") == 2; }, 5s, 50ms)) << figure("rooms");
  EXPECT_TRUE(WaitUntil([&] { return figure("online") == 2; }, 5s, 50ms)) << figure("online");
  auto poll = std::async(std::launch::async, [&] {
    return alice.Poll("lobby", {.cursor = j.cursor, .timeout_ms = 10000});
  });
  EXPECT_TRUE(WaitUntil([&] { return figure("held_polls") == 1; }, 5s, 50ms))
      << figure("held_polls");
  ASSERT_GT(bob.Say("lobby", "wake"), 0u);
  EXPECT_TRUE(poll.get().ok);
  EXPECT_TRUE(WaitUntil([&] { return figure("held_polls") == 0; }, 5s, 50ms));
  EXPECT_EQ(alice.Leave("lobby").status, 204);
  EXPECT_TRUE(WaitUntil([&] { return figure("online") == 1; }, 5s, 50ms)) << figure("online");
}

TEST_F(SectsTest, OnlyGetAndTheLoopLagHistogramIsInMetrics) {
  User boss(port(), "boss");
  EXPECT_TRUE(IsError(boss.client().Request("POST", "/v1/admin/sects", "{}", boss.Auth()), 405,
                      "method_not_allowed"));
  EXPECT_TRUE(IsError(boss.client().Get("/v1/admin/nothing", boss.Auth()), 404, "not_found"));
  // Every sect's loops measure their lag ten times a second.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return ScrapeMetric(port(), "chatroomd_loop_lag_seconds_count", "sect=\"high\"")
                   .value_or(0) > 0;
      },
      5s, 50ms));
  for (const char* sect : {"low", "high", "vip"}) {
    const std::string label = "sect=\"" + std::string(sect) + "\"";
    EXPECT_TRUE(ScrapeMetric(port(), "chatroomd_loop_lag_seconds_bucket", label + ",le=\"+Inf\""))
        << sect;
    EXPECT_TRUE(ScrapeMetric(port(), "chatroomd_loop_lag_seconds_sum", label)) << sect;
  }
}

}  // namespace
}  // namespace chatroomd::it
