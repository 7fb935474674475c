// The process_* families of the Prometheus client libraries' process collector, so that the
// usual dashboards and alerts (CPU, memory, descriptors, restarts) work unchanged. Read from
// /proc at scrape time: nothing is counted on the hot path.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chatroomd/metrics/metrics.h"

namespace chatroomd::metrics {
namespace {

// The system's boot time in Unix seconds (/proc/stat's btime), or 0.
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

void AppendProcessMetrics(std::string& out) {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) closed by the last ')'; the first
  // one there is field 3 (state).
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
  for (int n = 3; fields >> field && n <= 24; ++n) {
    if (n == 14) utime = std::stod(field);
    if (n == 15) stime = std::stod(field);
    if (n == 22) start_ticks = std::stod(field);
    if (n == 23) vsize = std::stod(field);
    if (n == 24) rss_pages = std::stod(field);
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  rlimit limit{};
  const double max_fds = ::getrlimit(RLIMIT_NOFILE, &limit) == 0
                             ? static_cast<double>(limit.rlim_cur)
                             : 0;  // RLIM_INFINITY does not happen for descriptors
  AppendCounter(out, "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.", (utime + stime) / ticks);
  AppendCounter(out, "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                BootTime() + start_ticks / ticks, "gauge");
  AppendCounter(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
                rss_pages * page, "gauge");
  AppendCounter(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize,
                "gauge");
  AppendCounter(out, "process_open_fds", "Number of open file descriptors.", fds, "gauge");
  AppendCounter(out, "process_max_fds", "Maximum number of open file descriptors.", max_fds,
                "gauge");
}

}  // namespace chatroomd::metrics
