// Whether the server under test has gone quiet after a phase, so that a memory reading is not
// taken while it is still working. Its memory and CPU time come from crload's proc_stats.h.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace crpresence {

// Sleeps min_ms, then samples pid's CPU time every 50 ms until a 200 ms window in which it moved
// by at most one clock tick, or max_ms have passed in all. True if the server went quiet.
bool WaitQuiet(pid_t pid, uint32_t min_ms, uint32_t max_ms);

}  // namespace crpresence
