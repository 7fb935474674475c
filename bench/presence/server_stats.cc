#include "server_stats.h"

#include <time.h>

#include <deque>

#include "proc_stats.h"

namespace crpresence {
namespace {

void SleepMs(uint32_t ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

}  // namespace

bool WaitQuiet(pid_t pid, uint32_t min_ms, uint32_t max_ms) {
  constexpr uint32_t kStepMs = 50;
  constexpr size_t kWindow = 200 / kStepMs;  // samples spanning 200 ms
  const double tick = crload::CpuTickSeconds();
  SleepMs(min_ms);
  std::deque<double> samples{crload::ReadCpuSeconds({pid})};
  for (uint32_t waited = min_ms; waited < max_ms; waited += kStepMs) {
    SleepMs(kStepMs);
    samples.push_back(crload::ReadCpuSeconds({pid}));
    if (samples.back() < 0) return false;
    if (samples.size() > kWindow + 1) samples.pop_front();
    // At most one clock tick of CPU over the window (half a tick of slack for rounding).
    if (samples.size() == kWindow + 1 && samples.back() - samples.front() <= 1.5 * tick) {
      return true;
    }
  }
  return false;
}

}  // namespace crpresence
