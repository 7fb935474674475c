// Adaptive traffic control, the part built so far (API.md "Adaptive traffic control"): the
// `traffic` block of the config, validated, and `next_poll_ms` in every join and poll answer
// as the tier of the room's online count says, following the count across a tier.
#include <string>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

int64_t NextPollMs(const Response& r) {
  if (r.status != 200) return -1;
  const boost::json::value v = r.Json();
  return v.at("next_poll_ms").as_int64();
}

TEST(TrafficTest, NextPollMsFollowsTheTierOfTheOnlineCount) {
  Daemon d({.config = "traffic { tiers { min_online: 0 poll_interval_ms: 0 } "
                      "tiers { min_online: 2 poll_interval_ms: 1500 hold_ms: 0 } }"});
  ASSERT_TRUE(d.Start());
  User alice(d.port(), "alice"), bob(d.port(), "bob");
  EXPECT_EQ(NextPollMs(alice.JoinRaw("r")), 0);
  EXPECT_EQ(NextPollMs(alice.PollRaw("r", "timeout_ms=0")), 0);
  ASSERT_TRUE(bob.Join("r").ok);
  // Two online: the second tier once the count is published (at most a second later).
  EXPECT_TRUE(
      WaitUntil([&] { return NextPollMs(alice.PollRaw("r", "timeout_ms=0")) == 1500; }, 5s, 50ms));
  EXPECT_EQ(NextPollMs(bob.JoinRaw("r")), 1500);
  EXPECT_EQ(bob.Leave("r").status, 204);
  EXPECT_TRUE(
      WaitUntil([&] { return NextPollMs(alice.PollRaw("r", "timeout_ms=0")) == 0; }, 5s, 50ms));
}

TEST(TrafficTest, TiersThatDoNotAscendAreRefusedWithTheirPlace) {
  Daemon d({.config = "traffic { tiers { min_online: 100 } tiers { min_online: 10 } }"});
  auto started = d.Start();
  ASSERT_FALSE(started) << "started with descending tiers";
  EXPECT_NE(d.StderrText().find("traffic.tiers must ascend"), std::string::npos) << d.StderrText();
  EXPECT_NE(d.StderrText().find("chatroomd.textproto:"), std::string::npos) << d.StderrText();
}

}  // namespace
}  // namespace chatroomd::it
