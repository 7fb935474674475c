// A hashed timer wheel owned by one loop: O(1) schedule and cancel, no allocation, no
// syscall per timer. Used for held-poll deadlines and connection timeouts, where a
// steady_timer per object would cost a heap operation and an aborted completion per cancel.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <functional>
#include <vector>

namespace chatroomd {

// Embed in the object that owns the deadline. The object must outlive its scheduling or
// cancel it first (Cancel is O(1)).
struct TimerNode
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
  int64_t deadline_ms = 0;
  void (*fire)(TimerNode*) = nullptr;
  bool scheduled() const { return is_linked(); }
};

class TimerWheel {
 public:
  // Milliseconds of some steady clock.
  using Clock = std::function<int64_t()>;
  // The process's steady clock, in milliseconds: what a wheel goes by unless told otherwise.
  static int64_t SteadyNowMs();

  // `clock` is the time the wheel and its owner go by; tests pass one they move by hand (the
  // wheel still looks at it once per real tick while timers are pending).
  TimerWheel(boost::asio::io_context& context, uint32_t tick_ms, uint32_t slots,
             Clock clock = &SteadyNowMs);
  ~TimerWheel();

  // The wheel's clock now (steady ms). Deadlines are on this clock.
  int64_t NowMs() const { return clock_(); }

  // (Re)schedules `node` to fire at `deadline_ms` (steady ms), at most one tick late.
  void Schedule(TimerNode& node, int64_t deadline_ms);
  void Cancel(TimerNode& node);
  size_t size() const { return count_; }

 private:
  using List = boost::intrusive::list<TimerNode, boost::intrusive::constant_time_size<false>>;
  void Arm();
  void OnTick();

  Clock clock_;
  boost::asio::steady_timer timer_;
  uint32_t tick_ms_;
  std::vector<List> slots_;
  int64_t next_tick_;  // the first tick not yet processed
  size_t count_ = 0;
  bool armed_ = false;
};

}  // namespace chatroomd
