#include "server_stats.h"

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>

namespace crpresence {
namespace {

bool ReadFile(const char* path, char* buf, size_t cap) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return false;
  size_t n = std::fread(buf, 1, cap - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  return n > 0;
}

void SleepMs(uint32_t ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

}  // namespace

int64_t ReadRssKb(pid_t pid) {
  char path[64];
  char buf[8192];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid));
  if (!ReadFile(path, buf, sizeof buf)) return -1;
  const char* p = std::strstr(buf, "VmRSS:");
  return p == nullptr ? -1 : std::strtoll(p + 6, nullptr, 10);
}

int64_t ReadCpuTicks(pid_t pid) {
  char path[64];
  char buf[4096];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  if (!ReadFile(path, buf, sizeof buf)) return -1;
  // The command name is in parentheses and may hold spaces: count fields after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  // Field 2 ends at ')'; walk to the space before field 14 (utime; 15 is stime, man 5 proc).
  for (int field = 2; field < 14 && p != nullptr; ++field) p = std::strchr(p + 1, ' ');
  if (p == nullptr) return -1;
  char* end;
  int64_t utime = std::strtoll(p + 1, &end, 10);
  int64_t stime = std::strtoll(end + 1, nullptr, 10);
  return utime + stime;
}

bool WaitQuiet(pid_t pid, uint32_t min_ms, uint32_t max_ms) {
  constexpr uint32_t kStepMs = 50;
  constexpr size_t kWindow = 200 / kStepMs;  // samples spanning 200 ms
  SleepMs(min_ms);
  std::deque<int64_t> samples{ReadCpuTicks(pid)};
  for (uint32_t waited = min_ms; waited < max_ms; waited += kStepMs) {
    SleepMs(kStepMs);
    samples.push_back(ReadCpuTicks(pid));
    if (samples.back() < 0) return false;
    if (samples.size() > kWindow + 1) samples.pop_front();
    if (samples.size() == kWindow + 1 && samples.back() - samples.front() <= 1) return true;
  }
  return false;
}

}  // namespace crpresence
