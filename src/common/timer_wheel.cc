#include "chatroomd/common/timer_wheel.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace chatroomd {

int64_t TimerWheel::SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

TimerWheel::TimerWheel(boost::asio::io_context& context, uint32_t tick_ms, uint32_t slots,
                       Clock clock)
    : clock_(std::move(clock)),
      timer_(context),
      tick_ms_(tick_ms),
      slots_(slots),
      next_tick_(NowMs() / tick_ms) {}

TimerWheel::~TimerWheel() {
  for (auto& slot : slots_) slot.clear();
}

void TimerWheel::Schedule(TimerNode& node, int64_t deadline_ms) {
  if (node.is_linked()) {
    node.unlink();
  } else {
    // An idle wheel's cursor may be far behind: catch it up before filing.
    if (count_ == 0) next_tick_ = std::max(next_tick_, NowMs() / tick_ms_);
    ++count_;
  }
  node.deadline_ms = deadline_ms;
  int64_t tick = deadline_ms / tick_ms_ + 1;  // never early
  if (tick < next_tick_) tick = next_tick_;
  // Deadlines past the wheel's span sit in the farthest slot and are re-filed when it comes.
  int64_t span = static_cast<int64_t>(slots_.size()) - 1;
  if (tick - next_tick_ > span) tick = next_tick_ + span;
  slots_[static_cast<size_t>(tick % static_cast<int64_t>(slots_.size()))].push_back(node);
  Arm();
}

void TimerWheel::Cancel(TimerNode& node) {
  if (!node.is_linked()) return;
  node.unlink();
  --count_;
}

void TimerWheel::Arm() {
  if (armed_ || count_ == 0) return;
  armed_ = true;
  timer_.expires_after(std::chrono::milliseconds(tick_ms_));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    // Aborted only by ~TimerWheel (nothing else cancels timer_): `this` may be gone.
    if (ec) return;
    armed_ = false;
    OnTick();
  });
}

void TimerWheel::OnTick() {
  int64_t now = NowMs();
  int64_t now_tick = now / tick_ms_;
  // Never sweep more than one lap: a long stall only needs every slot once.
  if (now_tick - next_tick_ >= static_cast<int64_t>(slots_.size())) {
    next_tick_ = now_tick - static_cast<int64_t>(slots_.size()) + 1;
  }
  while (next_tick_ <= now_tick && count_ > 0) {
    List& slot = slots_[static_cast<size_t>(next_tick_ % static_cast<int64_t>(slots_.size()))];
    ++next_tick_;
    // Take the slot's nodes first: firing may schedule into this very slot.
    List due;
    due.splice(due.end(), slot);
    while (!due.empty()) {
      TimerNode& node = due.front();
      due.pop_front();
      if (node.deadline_ms > now) {
        --count_;
        Schedule(node, node.deadline_ms);
        continue;
      }
      --count_;
      node.fire(&node);
    }
  }
  if (next_tick_ <= now_tick) next_tick_ = now_tick + 1;
  Arm();
}

}  // namespace chatroomd
