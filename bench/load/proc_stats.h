// What /proc says about the server under test: resident memory and CPU time, summed over its
// processes (nginx: master and workers).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace crload {

// Sum of VmRSS in kB; -1 if a pid could not be read (or the list is empty).
int64_t ReadRssKb(const std::vector<pid_t>& pids);

// Sum of utime + stime in seconds (all threads); -1 if a pid could not be read.
double ReadCpuSeconds(const std::vector<pid_t>& pids);

// Seconds of one clock tick (the resolution of ReadCpuSeconds).
double CpuTickSeconds();

// This process's CPU plus that of its reaped children, in seconds.
double OwnAndChildrenCpuSeconds();

}  // namespace crload
