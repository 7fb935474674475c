#include "proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace crload {
namespace {

bool ReadFile(const char* path, char* buf, size_t cap) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return false;
  size_t n = std::fread(buf, 1, cap - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  return n > 0;
}

double TimevalSeconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

int64_t ReadRssKb(const std::vector<pid_t>& pids) {
  if (pids.empty()) return -1;
  int64_t total = 0;
  char path[64];
  char buf[8192];
  for (pid_t pid : pids) {
    std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid));
    if (!ReadFile(path, buf, sizeof buf)) return -1;
    const char* p = std::strstr(buf, "VmRSS:");
    if (p == nullptr) return -1;
    total += std::strtoll(p + 6, nullptr, 10);
  }
  return total;
}

double ReadCpuSeconds(const std::vector<pid_t>& pids) {
  if (pids.empty()) return -1;
  uint64_t ticks = 0;
  char path[64];
  char buf[4096];
  for (pid_t pid : pids) {
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    if (!ReadFile(path, buf, sizeof buf)) return -1;
    // Fields after the comm, which may hold spaces: skip to the last ')'.
    const char* p = std::strrchr(buf, ')');
    if (p == nullptr) return -1;
    ++p;
    // p now at " S ppid ..." : state is field 3; utime is 14, stime 15.
    for (int field = 3; field < 14; ++field) {
      p = std::strchr(p + 1, ' ');
      if (p == nullptr) return -1;
    }
    char* end;
    uint64_t utime = std::strtoull(p + 1, &end, 10);
    uint64_t stime = std::strtoull(end + 1, nullptr, 10);
    ticks += utime + stime;
  }
  return static_cast<double>(ticks) * CpuTickSeconds();
}

double CpuTickSeconds() {
  static const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  return tick;
}

double OwnAndChildrenCpuSeconds() {
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  return TimevalSeconds(self.ru_utime) + TimevalSeconds(self.ru_stime) +
         TimevalSeconds(children.ru_utime) + TimevalSeconds(children.ru_stime);
}

}  // namespace crload
