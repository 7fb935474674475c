#include "sect/loop_lag.h"

#include <algorithm>
#include <cassert>

namespace chatroomd::sect {
namespace {

// Seconds: from well under a millisecond (an idle loop) to a loop stuck for a second.
constexpr double kLagBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1};

}  // namespace

LoopLagProbe::LoopLagProbe(Loop& loop)
    : loop_(loop),
      timer_(loop.context()),
      histogram_(kLagBounds, sizeof kLagBounds / sizeof kLagBounds[0]) {}

void LoopLagProbe::Start() {
  assert(loop_.InLoop());
  due_ = std::chrono::steady_clock::now();
  Arm();
}

void LoopLagProbe::Stop() { timer_.cancel(); }

void LoopLagProbe::Arm() {
  // From the time it was due, not from when it ran: a late loop is not given a longer period.
  // After a stall longer than a period the next one starts from now.
  const auto now = std::chrono::steady_clock::now();
  due_ = std::max(due_ + std::chrono::milliseconds(kPeriodMs), now);
  timer_.expires_at(due_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Fired();
  });
}

void LoopLagProbe::Fired() {
  const double lag_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - due_).count();
  histogram_.Observe(lag_ms / 1000);
  recent_[next_] = lag_ms;
  next_ = (next_ + 1) % kWindow;
  current_ms_.store(*std::max_element(recent_.begin(), recent_.end()), std::memory_order_relaxed);
  Arm();
}

}  // namespace chatroomd::sect
