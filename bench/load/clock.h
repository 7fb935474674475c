// Monotonic time in nanoseconds: the clock the publisher stamps into bodies and the pollers
// read on receipt. CLOCK_MONOTONIC is system-wide, so stamps compare across processes.
#pragma once

#include <time.h>

#include <cstdint>

namespace crload {

inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

constexpr int64_t kNsPerMs = 1000000;
constexpr int64_t kNsPerS = 1000000000;

}  // namespace crload
