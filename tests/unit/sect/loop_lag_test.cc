// LoopLagProbe: an idle loop shows next to no lag; a loop held up shows at least the part of
// the hold-up that came after a due time, and the histogram counts every measurement.
#include "sect/loop_lag.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace chatroomd::sect {
namespace {

using namespace std::chrono_literals;

// Runs `fn` on the loop and waits for it.
template <typename F>
void On(Loop& loop, F fn) {
  std::promise<void> done;
  loop.Post([&] {
    fn();
    done.set_value();
  });
  done.get_future().get();
}

TEST(LoopLagProbeTest, AHeldUpLoopShowsItsLag) {
  Loop loop("lag-test", 0);
  loop.Start();
  LoopLagProbe probe(loop);
  On(loop, [&] { probe.Start(); });
  // The loop is stuck for 300 ms: at least two due times fall inside, the first at least 200 ms
  // before its end.
  On(loop, [] { std::this_thread::sleep_for(300ms); });
  On(loop, [] {});  // the timer's late handler has run by now, or runs next
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (probe.current_ms() < 150 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GE(probe.current_ms(), 150);
  std::string out;
  const metrics::Histogram* parts[] = {&probe.histogram()};
  metrics::Histogram::RenderSeries(out, "lag", "sect=\"t\"", parts, 1);
  EXPECT_NE(out.find("lag_bucket{sect=\"t\",le=\"+Inf\"} "), std::string::npos) << out;
  EXPECT_NE(out.find("lag_count{sect=\"t\"} "), std::string::npos) << out;
  EXPECT_EQ(out.find("lag_count{sect=\"t\"} 0\n"), std::string::npos) << "nothing measured";
  On(loop, [&] { probe.Stop(); });
  loop.Abort();
}

}  // namespace
}  // namespace chatroomd::sect
