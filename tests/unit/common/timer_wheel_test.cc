#include "chatroomd/common/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace chatroomd {
namespace {

using std::chrono::milliseconds;

// Firing late is allowed (a tick or two, plus a busy shared machine); firing early never.
constexpr int64_t kLateMs = 500;
// How long any one test may wait for its timers before giving up.
constexpr milliseconds kMaxWait{5000};

struct TestNode : TimerNode {
  int fires = 0;
  int64_t fired_at = -1;
  std::vector<int>* order = nullptr;
  int id = 0;
  std::function<void(TestNode&)> on_fire;

  TestNode() {
    fire = [](TimerNode* n) {
      auto* t = static_cast<TestNode*>(n);
      ++t->fires;
      t->fired_at = TimerWheel::SteadyNowMs();
      if (t->order) t->order->push_back(t->id);
      if (t->on_fire) t->on_fire(*t);
    };
  }
};

class TimerWheelTest : public ::testing::Test {
 protected:
  // Runs the loop on this thread until `done` holds or kMaxWait passes. Returns `done()`.
  bool RunUntil(const std::function<bool()>& done) {
    auto end = std::chrono::steady_clock::now() + kMaxWait;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      context_.restart();
      // 0 handlers: either out of work (nothing more can happen) or out of time.
      if (context_.run_one_until(end) == 0) return done();
    }
    return true;
  }

  // Runs the loop for a bounded extra while, to see that nothing else fires.
  void RunFor(milliseconds d) {
    auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
      context_.restart();
      if (context_.run_until(end) == 0 && context_.stopped()) {
        // Out of work: nothing can fire any more, but let the time pass for the caller.
        std::this_thread::sleep_until(end);
      }
    }
  }

  static void ExpectOnTime(const TestNode& n) {
    EXPECT_EQ(n.fires, 1) << "node " << n.id;
    EXPECT_GE(n.fired_at, n.deadline_ms) << "node " << n.id << " fired early";
    EXPECT_LT(n.fired_at, n.deadline_ms + kLateMs) << "node " << n.id << " fired too late";
  }

  boost::asio::io_context context_;
};

TEST_F(TimerWheelTest, FiresNotBeforeDeadline) {
  TimerWheel wheel(context_, 10, 64);
  TestNode a;
  int64_t start = TimerWheel::SteadyNowMs();
  wheel.Schedule(a, start + 50);
  EXPECT_TRUE(a.scheduled());
  EXPECT_EQ(a.fires, 0);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  ExpectOnTime(a);
  EXPECT_FALSE(a.scheduled());
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, DeadlineInThePastFiresSoon) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a;
  int64_t start = TimerWheel::SteadyNowMs();
  wheel.Schedule(a, start - 1000);
  // Never synchronously from Schedule.
  EXPECT_EQ(a.fires, 0);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  EXPECT_EQ(a.fires, 1);
  EXPECT_LT(a.fired_at, start + kLateMs);
}

TEST_F(TimerWheelTest, CancelPreventsFiring) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a, b;
  a.id = 1;
  b.id = 2;
  int64_t start = TimerWheel::SteadyNowMs();
  wheel.Schedule(a, start + 30);
  wheel.Schedule(b, start + 100);
  EXPECT_EQ(wheel.size(), 2u);
  wheel.Cancel(a);
  EXPECT_FALSE(a.scheduled());
  EXPECT_EQ(wheel.size(), 1u);
  wheel.Cancel(a);  // cancelling twice is harmless
  EXPECT_EQ(wheel.size(), 1u);
  ASSERT_TRUE(RunUntil([&] { return b.fires > 0; }));
  ExpectOnTime(b);
  RunFor(milliseconds(50));
  EXPECT_EQ(a.fires, 0);
  EXPECT_EQ(b.fires, 1);
}

TEST_F(TimerWheelTest, CancelEverythingLeavesAnIdleWheel) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a;
  wheel.Schedule(a, TimerWheel::SteadyNowMs() + 20);
  wheel.Cancel(a);
  EXPECT_EQ(wheel.size(), 0u);
  RunFor(milliseconds(80));
  EXPECT_EQ(a.fires, 0);
  // Still usable afterwards.
  wheel.Schedule(a, TimerWheel::SteadyNowMs() + 20);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  ExpectOnTime(a);
}

TEST_F(TimerWheelTest, RescheduleEarlier) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a;
  int64_t start = TimerWheel::SteadyNowMs();
  wheel.Schedule(a, start + 3000);
  wheel.Schedule(a, start + 50);
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(a.deadline_ms, start + 50);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  ExpectOnTime(a);
  EXPECT_LT(a.fired_at, start + 3000);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, RescheduleLater) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a;
  int64_t start = TimerWheel::SteadyNowMs();
  wheel.Schedule(a, start + 20);
  wheel.Schedule(a, start + 300);  // beyond the 160 ms span, too
  EXPECT_EQ(wheel.size(), 1u);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  ExpectOnTime(a);
  EXPECT_GE(a.fired_at, start + 300);
}

TEST_F(TimerWheelTest, RescheduleWhileTheLoopRuns) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a, mover;
  int64_t start = TimerWheel::SteadyNowMs();
  wheel.Schedule(a, start + 40);
  // Half-way, `mover` pushes `a` 200 ms further out.
  mover.on_fire = [&](TestNode&) { wheel.Schedule(a, start + 240); };
  wheel.Schedule(mover, start + 20);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  ExpectOnTime(a);
  EXPECT_GE(a.fired_at, start + 240);
}

TEST_F(TimerWheelTest, FiresInDeadlineOrder) {
  // A span of 2.56 s so that every deadline has its own slot.
  TimerWheel wheel(context_, 10, 256);
  std::vector<int> order;
  std::vector<std::unique_ptr<TestNode>> nodes;
  int64_t start = TimerWheel::SteadyNowMs();
  // Scheduled out of order; deadlines 30 ms apart, several ticks.
  for (int id : {4, 1, 6, 3, 0, 5, 2, 7}) {
    auto n = std::make_unique<TestNode>();
    n->id = id;
    n->order = &order;
    wheel.Schedule(*n, start + 30 + 30 * id);
    nodes.push_back(std::move(n));
  }
  EXPECT_EQ(wheel.size(), 8u);
  ASSERT_TRUE(RunUntil([&] { return order.size() == nodes.size(); }));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  for (const auto& n : nodes) ExpectOnTime(*n);
}

TEST_F(TimerWheelTest, DeadlinesBeyondTheSpan) {
  // 10 ms x 16 slots: a span of 160 ms; these deadlines go round the wheel several times.
  TimerWheel wheel(context_, 10, 16);
  std::vector<int> order;
  std::vector<std::unique_ptr<TestNode>> nodes;
  int64_t start = TimerWheel::SteadyNowMs();
  const std::vector<int64_t> offsets = {1000, 170, 550, 330};
  for (size_t i = 0; i < offsets.size(); ++i) {
    auto n = std::make_unique<TestNode>();
    n->id = static_cast<int>(i);
    n->order = &order;
    wheel.Schedule(*n, start + offsets[i]);
    nodes.push_back(std::move(n));
  }
  ASSERT_TRUE(RunUntil([&] { return order.size() == nodes.size(); }));
  for (const auto& n : nodes) ExpectOnTime(*n);
  EXPECT_EQ(order, (std::vector<int>{1, 3, 2, 0}));
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, ScheduleFromInsideAFireCallback) {
  TimerWheel wheel(context_, 10, 16);
  TestNode periodic, other;
  // `periodic` reschedules itself twice, and on its first firing starts `other`.
  periodic.on_fire = [&](TestNode& self) {
    if (self.fires == 1) wheel.Schedule(other, TimerWheel::SteadyNowMs() + 50);
    if (self.fires < 3) {
      EXPECT_FALSE(self.scheduled());
      wheel.Schedule(self, TimerWheel::SteadyNowMs() + 30);
      EXPECT_TRUE(self.scheduled());
    }
  };
  wheel.Schedule(periodic, TimerWheel::SteadyNowMs() + 20);
  ASSERT_TRUE(RunUntil([&] { return periodic.fires == 3 && other.fires == 1; }));
  EXPECT_GE(other.fired_at, other.deadline_ms);
  EXPECT_GE(periodic.fired_at, periodic.deadline_ms);
  RunFor(milliseconds(60));
  EXPECT_EQ(periodic.fires, 3);
  EXPECT_EQ(other.fires, 1);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, ScheduleDueNodeFromInsideAFireCallback) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a, b;
  // A deadline already due when scheduled from a callback still fires, once.
  a.on_fire = [&](TestNode&) { wheel.Schedule(b, TimerWheel::SteadyNowMs() - 5); };
  wheel.Schedule(a, TimerWheel::SteadyNowMs() + 20);
  ASSERT_TRUE(RunUntil([&] { return b.fires > 0; }));
  ExpectOnTime(a);
  ExpectOnTime(b);
}

TEST_F(TimerWheelTest, CancelFromInsideAFireCallback) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a, b, c;
  int64_t start = TimerWheel::SteadyNowMs();
  // `b` and `c` may well share a tick with `a`; cancelling them from `a` stops them.
  a.on_fire = [&](TestNode&) {
    wheel.Cancel(b);
    wheel.Cancel(c);
  };
  wheel.Schedule(a, start + 30);
  wheel.Schedule(b, start + 31);
  wheel.Schedule(c, start + 100);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  EXPECT_EQ(wheel.size(), 0u);
  RunFor(milliseconds(120));
  EXPECT_EQ(b.fires + c.fires, 0);
}

TEST_F(TimerWheelTest, SizeTracksScheduledNodes) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a, b, c;
  EXPECT_EQ(wheel.size(), 0u);
  int64_t start = TimerWheel::SteadyNowMs();
  wheel.Schedule(a, start + 20);
  wheel.Schedule(b, start + 40);
  wheel.Schedule(c, start + 400);
  EXPECT_EQ(wheel.size(), 3u);
  wheel.Schedule(b, start + 60);  // a reschedule is not a new node
  EXPECT_EQ(wheel.size(), 3u);
  wheel.Cancel(c);
  EXPECT_EQ(wheel.size(), 2u);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  EXPECT_LE(wheel.size(), 1u);
  ASSERT_TRUE(RunUntil([&] { return b.fires > 0; }));
  EXPECT_EQ(wheel.size(), 0u);
  ExpectOnTime(a);
  ExpectOnTime(b);
  EXPECT_EQ(c.fires, 0);
}

TEST_F(TimerWheelTest, ManyNodesRandomDeadlines) {
  TimerWheel wheel(context_, 5, 32);  // span 160 ms, deadlines up to 400 ms
  std::mt19937 rng(1);
  std::vector<std::unique_ptr<TestNode>> nodes;
  int64_t start = TimerWheel::SteadyNowMs();
  int fired = 0;
  for (int i = 0; i < 1000; ++i) {
    auto n = std::make_unique<TestNode>();
    n->id = i;
    n->on_fire = [&](TestNode&) { ++fired; };
    wheel.Schedule(*n, start + static_cast<int64_t>(rng() % 400));
    nodes.push_back(std::move(n));
  }
  // Cancel every tenth, reschedule every seventh.
  int cancelled = 0;
  for (int i = 0; i < 1000; ++i) {
    if (i % 10 == 0) {
      wheel.Cancel(*nodes[i]);
      ++cancelled;
    } else if (i % 7 == 0) {
      wheel.Schedule(*nodes[i], start + static_cast<int64_t>(rng() % 400));
    }
  }
  EXPECT_EQ(wheel.size(), static_cast<size_t>(1000 - cancelled));
  ASSERT_TRUE(RunUntil([&] { return fired == 1000 - cancelled; }));
  EXPECT_EQ(wheel.size(), 0u);
  for (int i = 0; i < 1000; ++i) {
    if (i % 10 == 0) {
      EXPECT_EQ(nodes[i]->fires, 0);
    } else {
      ExpectOnTime(*nodes[i]);
    }
  }
}

// The loop stalls (a long handler, a paused process) past the whole span: every due node
// fires once when it comes back, none early, and later ones still wait for their time.
TEST_F(TimerWheelTest, LoopStallLongerThanTheSpan) {
  TimerWheel wheel(context_, 10, 16);
  TestNode due1, due2, later;
  int64_t start = TimerWheel::SteadyNowMs();
  wheel.Schedule(due1, start + 20);
  wheel.Schedule(due2, start + 120);
  wheel.Schedule(later, start + 600);
  std::this_thread::sleep_for(milliseconds(300));  // the stall: nothing runs the loop
  ASSERT_TRUE(RunUntil([&] { return due1.fires && due2.fires; }));
  EXPECT_EQ(due1.fires, 1);
  EXPECT_EQ(due2.fires, 1);
  EXPECT_GE(due1.fired_at, due1.deadline_ms);
  EXPECT_GE(due2.fired_at, due2.deadline_ms);
  ASSERT_TRUE(RunUntil([&] { return later.fires > 0; }));
  ExpectOnTime(later);
}

// A wheel left idle for longer than its span catches up before filing a new node.
TEST_F(TimerWheelTest, IdleWheelCatchesUp) {
  TimerWheel wheel(context_, 10, 16);
  TestNode a;
  wheel.Schedule(a, TimerWheel::SteadyNowMs() + 10);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  RunFor(milliseconds(400));  // idle: nothing scheduled
  wheel.Schedule(a, TimerWheel::SteadyNowMs() + 100);
  ASSERT_TRUE(RunUntil([&] { return a.fires > 1; }));
  EXPECT_EQ(a.fires, 2);
  EXPECT_GE(a.fired_at, a.deadline_ms);
  EXPECT_LT(a.fired_at, a.deadline_ms + kLateMs);
}

TEST_F(TimerWheelTest, DestroyingTheWheelWithScheduledNodes) {
  TestNode a;
  {
    TimerWheel wheel(context_, 10, 16);
    wheel.Schedule(a, TimerWheel::SteadyNowMs() + 10000);
  }
  EXPECT_FALSE(a.scheduled());
  // The aborted wait completes harmlessly.
  context_.restart();
  context_.run_for(milliseconds(20));
  EXPECT_EQ(a.fires, 0);
}

// --- A hand-moved clock (the third constructor argument): the wheel goes by it alone; real
// time only drives its ticks, at which it looks at the clock.

class ManualClockWheelTest : public TimerWheelTest {
 protected:
  // Not a multiple of the tick, so that deadlines fall inside ticks.
  int64_t now_ = 5'000'003;
  TimerWheel::Clock clock_ = [this] { return now_; };
  // The wheel's clock when a node fired.
  static void RecordClock(TimerWheel& wheel, TestNode& n) {
    n.on_fire = [&wheel](TestNode& t) { t.fired_at = wheel.NowMs(); };
  }
};

TEST_F(ManualClockWheelTest, NowMsIsTheInjectedClock) {
  TimerWheel wheel(context_, 10, 16, clock_);
  EXPECT_EQ(wheel.NowMs(), 5'000'003);
  now_ = 42;
  EXPECT_EQ(wheel.NowMs(), 42);
  now_ += 1000;
  EXPECT_EQ(wheel.NowMs(), 1042);
}

TEST_F(ManualClockWheelTest, NothingFiresBeforeTheClockReachesTheDeadlinesTick) {
  TimerWheel wheel(context_, 10, 16, clock_);
  TestNode a;
  RecordClock(wheel, a);
  const int64_t deadline = now_ + 50;
  wheel.Schedule(a, deadline);
  // Real time passes; the clock does not.
  RunFor(milliseconds(100));
  EXPECT_EQ(a.fires, 0);
  now_ = deadline - 1;
  RunFor(milliseconds(100));
  EXPECT_EQ(a.fires, 0) << "fired before its deadline";
  EXPECT_TRUE(a.scheduled());
  // Past the deadline's tick.
  now_ = (deadline / 10 + 1) * 10;
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  EXPECT_EQ(a.fires, 1);
  EXPECT_GE(a.fired_at, deadline);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(ManualClockWheelTest, EverythingDueFiresOnceWhenTheClockJumps) {
  TimerWheel manual(context_, 10, 16, clock_);  // span 150 ms
  std::vector<std::unique_ptr<TestNode>> nodes;
  int fired = 0;
  const int64_t start = now_;
  // Inside the span, past it, and several laps past it.
  const std::vector<int64_t> due = {0, 5, 40, 149, 150, 151, 400, 1000, 5000};
  for (size_t i = 0; i < due.size(); ++i) {
    auto n = std::make_unique<TestNode>();
    n->id = static_cast<int>(i);
    n->on_fire = [&](TestNode& t) {
      ++fired;
      t.fired_at = manual.NowMs();
    };
    manual.Schedule(*n, start + due[i]);
    nodes.push_back(std::move(n));
  }
  TestNode later;
  RecordClock(manual, later);
  manual.Schedule(later, start + 7000);
  EXPECT_EQ(manual.size(), due.size() + 1);

  now_ = start + 6000;
  ASSERT_TRUE(RunUntil([&] { return fired == static_cast<int>(due.size()); }));
  RunFor(milliseconds(50));  // and nothing fires twice
  for (const auto& n : nodes) {
    EXPECT_EQ(n->fires, 1) << "node " << n->id;
    EXPECT_GE(n->fired_at, n->deadline_ms) << "node " << n->id;
  }
  EXPECT_EQ(later.fires, 0);
  EXPECT_TRUE(later.scheduled());
  EXPECT_EQ(manual.size(), 1u);

  now_ = start + 7010;
  ASSERT_TRUE(RunUntil([&] { return later.fires > 0; }));
  EXPECT_EQ(later.fires, 1);
  EXPECT_EQ(manual.size(), 0u);
  for (const auto& n : nodes) EXPECT_EQ(n->fires, 1);
}

TEST_F(ManualClockWheelTest, ADeadlineAlreadyPassedOnTheClockFiresWithoutMovingIt) {
  TimerWheel wheel(context_, 10, 16, clock_);
  TestNode a;
  wheel.Schedule(a, now_ - 1000);
  EXPECT_EQ(a.fires, 0);  // never from Schedule itself
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  EXPECT_EQ(a.fires, 1);
}

TEST_F(ManualClockWheelTest, AnIdleWheelFollowsTheClockBeforeFilingANewNode) {
  TimerWheel wheel(context_, 10, 16, clock_);
  TestNode a;
  wheel.Schedule(a, now_ + 10);
  now_ += 20;
  ASSERT_TRUE(RunUntil([&] { return a.fires > 0; }));
  // Idle while the clock moves far ahead (many laps of the wheel).
  now_ += 3'600'000;
  const int64_t deadline = now_ + 100;
  wheel.Schedule(a, deadline);
  RunFor(milliseconds(100));
  EXPECT_EQ(a.fires, 1) << "fired before the clock reached its deadline";
  now_ = deadline + 10;
  ASSERT_TRUE(RunUntil([&] { return a.fires > 1; }));
  EXPECT_EQ(a.fires, 2);
}

}  // namespace
}  // namespace chatroomd
