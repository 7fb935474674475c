// Process metrics in Prometheus text format.
//
// Every thread that counts gets its own ThreadMetrics slot and writes only that slot
// (relaxed atomics, no shared cache line on the hot path); a scrape sums the slots.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/common/error.h"

namespace chatroomd::metrics {

enum class Endpoint : uint8_t {
  kJoin,
  kPoll,
  kSend,
  kLeave,
  kHistory,
  kOnline,
  kStats,
  kVisitors,
  kRetract,
  kMute,
  kKick,
  kPlace,
  kSects,
  kReload,
  kHealthz,
  kReadyz,
  kMetrics,
  kWeb,  // the web client's pages and scripts, /openapi.json
  kOther,
  kCount
};
std::string_view EndpointName(Endpoint e);

inline constexpr size_t kErrorCodes = static_cast<size_t>(ErrorCode::kInternal) + 1;

// Connections closed at accept with an error answer, by the limit that refused them.
enum class Refusal : uint8_t { kMaxConnections, kMaxConnectionsPerIp, kCount };

// Statuses the daemon answers with; anything else is counted as "other".
inline constexpr std::array<int, 14> kStatuses = {200, 204, 400, 401, 403, 404, 405,
                                                  408, 413, 429, 431, 500, 503, 0};

// Adds to a counter that only the calling thread writes (its own slot): a plain load and
// store, no locked read-modify-write; a scrape on another thread reads a whole value.
inline void Bump(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Observed by the thread that owns the slot only.
class Histogram {
 public:
  // Upper bounds, in the histogram's unit.
  explicit Histogram(const double* bounds, size_t n) : bounds_(bounds), n_(n) {}
  void Observe(double v);
  // Prometheus lines for `name` (cumulative buckets, _sum, _count), summing `parts`.
  static void Render(std::string& out, std::string_view name, std::string_view help,
                     const Histogram* const* parts, size_t count);
  // The same lines without HELP and TYPE, with `labels` (e.g. `sect="main"`) on each: one
  // series of a labelled family.
  static void RenderSeries(std::string& out, std::string_view name, std::string_view labels,
                           const Histogram* const* parts, size_t count);

 private:
  static constexpr size_t kMaxBuckets = 20;
  const double* bounds_;
  size_t n_;
  std::array<std::atomic<uint64_t>, kMaxBuckets + 1> counts_{};
  std::atomic<uint64_t> sum_micro_{0};  // sum in millionths of the unit
};

struct ThreadMetrics {
  ThreadMetrics();
  std::atomic<int64_t> open_connections{0};
  std::atomic<int64_t> held_polls{0};       // by the rooms of this thread
  std::atomic<int64_t> edge_held_polls{0};  // by this thread's edge (a front loop)
  std::atomic<uint64_t> messages_accepted{0};
  std::atomic<uint64_t> deliveries{0};
  std::atomic<uint64_t> edge_answers{0};  // polls a front loop answered from a room's answers
  // Poll answers (200) written, and the messages they carried (deliveries without joins').
  std::atomic<uint64_t> poll_responses{0};
  std::atomic<uint64_t> poll_deliveries{0};
  // Polls a room held because they came before the time their cursor gave (adaptive tiers).
  std::atomic<uint64_t> polls_held_early{0};
  std::array<std::array<std::atomic<uint64_t>, kStatuses.size()>,
             static_cast<size_t>(Endpoint::kCount)>
      requests{};
  // Error answers written, by the API's error code (a subset of `requests`).
  std::array<std::atomic<uint64_t>, kErrorCodes> error_responses{};
  // The one exception to "only the owner writes": the acceptor may run on another loop, so
  // these take fetch_add (rare: only past a connection limit).
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Refusal::kCount)> connections_refused{};
  Histogram delivery_latency;  // seconds, send accepted -> poll response written

  void CountRequest(Endpoint e, int status);
  void CountError(ErrorCode code) { Bump(error_responses[static_cast<size_t>(code)], 1); }
  void CountRefusal(Refusal r) {
    connections_refused[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

class Registry {
 public:
  // A new slot for the calling component's thread; slots live as long as the registry.
  ThreadMetrics& NewSlot();
  // Renders every family, summing the slots. `extra` is appended (other components' text).
  std::string Render(std::string_view extra) const;

 private:
  mutable std::mutex mu_;  // guards the slot list (start-up and scrape only)
  std::deque<ThreadMetrics> slots_;
};

// Helpers for other components rendering their own families.
void AppendCounter(std::string& out, std::string_view name, std::string_view help, double v,
                   std::string_view type = "counter");
// A histogram whose cumulative bucket counts the caller keeps: cumulative[i] observations
// <= bounds[i] * scale (one entry per bound), plus the +Inf bucket (`count`), _sum and _count.
void AppendCumulativeHistogram(std::string& out, std::string_view name, std::string_view help,
                               const uint64_t* bounds, double scale,
                               const std::vector<uint64_t>& cumulative, double sum, uint64_t count);
// The process families every Prometheus client library exports (process_cpu_seconds_total,
// process_resident_memory_bytes, process_open_fds, ...), read from /proc at scrape time.
void AppendProcessMetrics(std::string& out);

}  // namespace chatroomd::metrics
