#include "chatroomd/metrics/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#ifndef CHATROOMD_VERSION
#define CHATROOMD_VERSION "unknown"
#endif

namespace chatroomd::metrics {
namespace {

// Seconds from a send's acceptance to its delivery: a held poll gets it in well under a
// millisecond; a batching tier holds it up to hold_ms (seconds); a client told to wait
// next_poll_ms, or one that was away, fetches it up to a poll's length (60 s) later.
constexpr double kLatencyBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                     0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                     1,      2.5,     5,      10,    30,     60};
static_assert(std::size(kLatencyBounds) <= 20);

std::string_view RefusalName(Refusal r) {
  return r == Refusal::kMaxConnections ? "max_connections" : "max_connections_per_ip";
}

size_t StatusIndex(int status) {
  for (size_t i = 0; i + 1 < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  return kStatuses.size() - 1;
}

}  // namespace

std::string_view EndpointName(Endpoint e) {
  switch (e) {
    case Endpoint::kJoin:
      return "join";
    case Endpoint::kPoll:
      return "poll";
    case Endpoint::kSend:
      return "send";
    case Endpoint::kLeave:
      return "leave";
    case Endpoint::kHistory:
      return "history";
    case Endpoint::kOnline:
      return "online";
    case Endpoint::kStats:
      return "stats";
    case Endpoint::kVisitors:
      return "visitors";
    case Endpoint::kRetract:
      return "retract";
    case Endpoint::kMute:
      return "mute";
    case Endpoint::kKick:
      return "kick";
    case Endpoint::kSects:
      return "sects";
    case Endpoint::kPlace:
      return "place";
    case Endpoint::kReload:
      return "reload";
    case Endpoint::kHealthz:
      return "healthz";
    case Endpoint::kReadyz:
      return "readyz";
    case Endpoint::kMetrics:
      return "metrics";
    case Endpoint::kWeb:
      return "web";
    case Endpoint::kOther:
    case Endpoint::kCount:
      break;
  }
  return "other";
}

void Histogram::Observe(double v) {
  // The first bound >= v (Prometheus buckets are "less than or equal").
  const size_t i = std::lower_bound(bounds_, bounds_ + n_, v) - bounds_;
  Bump(counts_[i], 1);
  Bump(sum_micro_, static_cast<uint64_t>(v * 1e6));
}

void Histogram::Render(std::string& out, std::string_view name, std::string_view help,
                       const Histogram* const* parts, size_t count) {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  RenderSeries(out, name, {}, parts, count);
}

void Histogram::RenderSeries(std::string& out, std::string_view name, std::string_view labels,
                             const Histogram* const* parts, size_t count) {
  if (count == 0) return;
  const std::string before_le = labels.empty() ? std::string() : std::string(labels) + ",";
  const std::string braces = labels.empty() ? std::string() : "{" + std::string(labels) + "}";
  const Histogram& first = *parts[0];
  uint64_t cumulative = 0;
  uint64_t sum_micro = 0;
  for (size_t b = 0; b <= first.n_; ++b) {
    for (size_t p = 0; p < count; ++p) {
      cumulative += parts[p]->counts_[b].load(std::memory_order_relaxed);
    }
    if (b < first.n_) {
      out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, before_le, first.bounds_[b],
                         cumulative);
    } else {
      out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, before_le, cumulative);
    }
  }
  for (size_t p = 0; p < count; ++p) {
    sum_micro += parts[p]->sum_micro_.load(std::memory_order_relaxed);
  }
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces,
                     static_cast<double>(sum_micro) / 1e6, name, braces, cumulative);
}

ThreadMetrics::ThreadMetrics()
    : delivery_latency(kLatencyBounds, sizeof kLatencyBounds / sizeof kLatencyBounds[0]) {}

void ThreadMetrics::CountRequest(Endpoint e, int status) {
  Bump(requests[static_cast<size_t>(e)][StatusIndex(status)], 1);
}

ThreadMetrics& Registry::NewSlot() {
  std::lock_guard lock(mu_);
  return slots_.emplace_back();
}

void AppendCounter(std::string& out, std::string_view name, std::string_view help, double v,
                   std::string_view type) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, v);
}

void AppendCumulativeHistogram(std::string& out, std::string_view name, std::string_view help,
                               const uint64_t* bounds, double scale,
                               const std::vector<uint64_t>& cumulative, double sum,
                               uint64_t count) {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  for (size_t i = 0; i < cumulative.size(); ++i) {
    // 12 digits: 100 * 1e-6 is written 0.0001, not the product's rounding error.
    out += fmt::format("{}_bucket{{le=\"{:.12g}\"}} {}\n", name,
                       static_cast<double>(bounds[i]) * scale, cumulative[i]);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count, name,
                     sum, name, count);
}

std::string Registry::Render(std::string_view extra) const {
  std::lock_guard lock(mu_);
  std::string out;
  int64_t open = 0, held = 0, edge_held = 0;
  uint64_t accepted = 0, deliveries = 0, edge_answers = 0, poll_responses = 0, poll_deliveries = 0,
           held_early = 0;
  std::vector<const Histogram*> latency;
  for (const auto& s : slots_) {
    open += s.open_connections.load(std::memory_order_relaxed);
    held += s.held_polls.load(std::memory_order_relaxed);
    edge_held += s.edge_held_polls.load(std::memory_order_relaxed);
    accepted += s.messages_accepted.load(std::memory_order_relaxed);
    deliveries += s.deliveries.load(std::memory_order_relaxed);
    edge_answers += s.edge_answers.load(std::memory_order_relaxed);
    poll_responses += s.poll_responses.load(std::memory_order_relaxed);
    poll_deliveries += s.poll_deliveries.load(std::memory_order_relaxed);
    held_early += s.polls_held_early.load(std::memory_order_relaxed);
    latency.push_back(&s.delivery_latency);
  }
  AppendCounter(out, "chatroomd_open_connections", "Open client connections.",
                static_cast<double>(open), "gauge");
  AppendCounter(out, "chatroomd_held_polls", "Polls held waiting for a message.",
                static_cast<double>(held + edge_held), "gauge");
  AppendCounter(out, "chatroomd_edge_held_polls",
                "Of chatroomd_held_polls, those held by the front loops at a room's head (edges).",
                static_cast<double>(edge_held), "gauge");
  AppendCounter(out, "chatroomd_messages_accepted_total",
                "Messages accepted (durable and acknowledged).", static_cast<double>(accepted));
  AppendCounter(out, "chatroomd_deliveries_total",
                "Messages written to clients in poll and join responses.",
                static_cast<double>(deliveries));
  AppendCounter(out, "chatroomd_edge_answered_polls_total",
                "Polls behind a room's head that a front loop answered itself, with the answer "
                "the room sent at its last growth.",
                static_cast<double>(edge_answers));
  AppendCounter(out, "chatroomd_poll_responses_total",
                "Poll answers (200) written, with messages or empty, by a room or a front loop; "
                "per delivered message: rate of this / rate of chatroomd_poll_deliveries_total.",
                static_cast<double>(poll_responses));
  AppendCounter(out, "chatroomd_poll_deliveries_total",
                "Of chatroomd_deliveries_total, the messages written in poll answers (joins' "
                "backlogs left out).",
                static_cast<double>(poll_deliveries));
  AppendCounter(out, "chatroomd_polls_held_early_total",
                "Polls held because they came before the time the previous answer gave "
                "(next_poll_ms, adaptive tiers).",
                static_cast<double>(held_early));
  out +=
      "# HELP chatroomd_requests_total Requests answered, by endpoint and status.\n"
      "# TYPE chatroomd_requests_total counter\n";
  for (size_t e = 0; e < static_cast<size_t>(Endpoint::kCount); ++e) {
    for (size_t st = 0; st < kStatuses.size(); ++st) {
      uint64_t n = 0;
      for (const auto& s : slots_) n += s.requests[e][st].load(std::memory_order_relaxed);
      if (n == 0) continue;
      std::string status = kStatuses[st] ? std::to_string(kStatuses[st]) : "other";
      out += fmt::format("chatroomd_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n",
                         EndpointName(static_cast<Endpoint>(e)), status, n);
    }
  }
  out +=
      "# HELP chatroomd_error_responses_total Error answers written, by the API's error code "
      "(of chatroomd_requests_total).\n"
      "# TYPE chatroomd_error_responses_total counter\n";
  for (size_t c = 0; c < kErrorCodes; ++c) {
    uint64_t n = 0;
    for (const auto& s : slots_) n += s.error_responses[c].load(std::memory_order_relaxed);
    out += fmt::format("chatroomd_error_responses_total{{code=\"{}\"}} {}\n",
                       ErrorCodeName(static_cast<ErrorCode>(c)), n);
  }
  out +=
      "# HELP chatroomd_connections_refused_total Connections answered with an error and closed "
      "at accept, by the limit reached (http.max_connections, http.max_connections_per_ip).\n"
      "# TYPE chatroomd_connections_refused_total counter\n";
  for (size_t r = 0; r < static_cast<size_t>(Refusal::kCount); ++r) {
    uint64_t n = 0;
    for (const auto& s : slots_) n += s.connections_refused[r].load(std::memory_order_relaxed);
    out += fmt::format("chatroomd_connections_refused_total{{limit=\"{}\"}} {}\n",
                       RefusalName(static_cast<Refusal>(r)), n);
  }
  Histogram::Render(out, "chatroomd_delivery_latency_seconds",
                    "Time from a send being accepted to the poll response carrying it written.",
                    latency.data(), latency.size());
  out += extra;
  out +=
      "# HELP chatroomd_build_info The running chatroomd's version (always 1).\n"
      "# TYPE chatroomd_build_info gauge\n"
      "chatroomd_build_info{version=\"" CHATROOMD_VERSION "\"} 1\n";
  AppendProcessMetrics(out);
  return out;
}

}  // namespace chatroomd::metrics
