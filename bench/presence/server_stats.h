// What /proc says about the server under test: its resident memory, and whether it has gone
// quiet after a phase (so that the memory reading is not taken while it is still working).
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace crpresence {

// VmRSS of pid in kB; -1 if it could not be read.
int64_t ReadRssKb(pid_t pid);

// utime + stime of pid in clock ticks (all threads); -1 if it could not be read.
int64_t ReadCpuTicks(pid_t pid);

// Sleeps min_ms, then samples pid's CPU time every 50 ms until a 200 ms window in which it moved
// by at most one tick, or max_ms have passed in all. True if the server went quiet.
bool WaitQuiet(pid_t pid, uint32_t min_ms, uint32_t max_ms);

}  // namespace crpresence
