// Private to the sects: how late a loop runs its work. A timer on the loop asks to fire every
// kPeriodMs; how much later than asked it fires is the time the loop's queue held it behind
// other work, the loop's lag. The figure of GET /v1/admin/sects is the worst of the last
// second; every measurement also goes into a histogram (chatroomd_loop_lag_seconds).
//
// Start and Stop run on the loop; current_ms and the histogram are read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "chatroomd/common/loop.h"
#include "chatroomd/metrics/metrics.h"

namespace chatroomd::sect {

class LoopLagProbe {
 public:
  static constexpr int kPeriodMs = 100;
  static constexpr size_t kWindow = 10;  // measurements in the current figure: one second

  explicit LoopLagProbe(Loop& loop);
  void Start();
  void Stop();
  double current_ms() const { return current_ms_.load(std::memory_order_relaxed); }
  const metrics::Histogram& histogram() const { return histogram_; }

 private:
  void Arm();
  void Fired();

  Loop& loop_;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point due_;
  std::array<double, kWindow> recent_{};
  size_t next_ = 0;
  std::atomic<double> current_ms_{0};
  metrics::Histogram histogram_;
};

}  // namespace chatroomd::sect
