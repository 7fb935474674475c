// A worker process: owns a contiguous slice of the pollers, each one keep-alive connection with
// one long poll outstanding at a time, all on one epoll loop. Talks to the parent over ctrl_fd
// (see wire.h). Single-threaded.
#pragma once

#include <cstdint>

#include "options.h"

namespace crload {

struct WorkerConfig {
  const Options* opts = nullptr;
  uint32_t first = 0;  // global index of the first poller (user id u<first>)
  uint32_t count = 0;
  int ctrl_fd = -1;
  int64_t deadline_ns = 0;  // give up and exit at this CLOCK_MONOTONIC time
};

// Runs the worker to completion; returns the process exit code.
int RunWorker(const WorkerConfig& cfg);

}  // namespace crload
