#include "coordinator.h"

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "clock.h"
#include "net.h"
#include "online_check.h"
#include "proc_stats.h"
#include "publisher.h"
#include "worker.h"

namespace crload {
namespace {

constexpr int64_t kSettleWindowNs = 200 * kNsPerMs;
constexpr int64_t kSettleSampleNs = 50 * kNsPerMs;
constexpr int64_t kSettleCapNs = 10 * kNsPerS;
constexpr int64_t kStopGraceNs = 5 * kNsPerS;

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

// JSON number or null for "not measured".
std::string Num(double v, bool known = true, int digits = 6) {
  if (!known || std::isnan(v) || std::isinf(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

}  // namespace

Coordinator::Coordinator(const Options& opts) : opts_(opts) {}

Coordinator::~Coordinator() {
  for (WorkerProc& w : workers_) {
    if (w.fd >= 0) close(w.fd);
  }
  if (epfd_ >= 0) close(epfd_);
}

void Coordinator::Log(const char* fmt, ...) const {
  if (opts_.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "crload [%7.3fs] ", Seconds(NowNs() - t0_));
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

bool Coordinator::PastDeadline() const { return NowNs() >= deadline_ns_; }

bool Coordinator::SpawnWorkers() {
  uint32_t per = (opts_.pollers + opts_.workers - 1) / opts_.workers;
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t parent = getpid();
  for (uint32_t w = 0; w < opts_.workers; ++w) {
    uint32_t first = w * per;
    if (first >= opts_.pollers) break;
    uint32_t count = std::min(per, opts_.pollers - first);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      setup_error_ = std::string("socketpair: ") + std::strerror(errno);
      return false;
    }
    pid_t pid = fork();
    if (pid < 0) {
      setup_error_ = std::string("fork: ") + std::strerror(errno);
      close(sv[0]);
      close(sv[1]);
      return false;
    }
    if (pid == 0) {
      close(sv[0]);
      for (WorkerProc& other : workers_) close(other.fd);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(4);
      WorkerConfig cfg;
      cfg.opts = &opts_;
      cfg.first = first;
      cfg.count = count;
      cfg.ctrl_fd = sv[1];
      cfg.deadline_ns = deadline_ns_ + 2 * kStopGraceNs;
      _exit(RunWorker(cfg));
    }
    close(sv[1]);
    WorkerProc proc;
    proc.pid = pid;
    proc.fd = sv[0];
    workers_.push_back(proc);
  }
  return true;
}

void Coordinator::OnControl(size_t w) {
  WorkerProc& proc = workers_[w];
  uint32_t type;
  std::string payload;
  if (!ReadFrame(proc.fd, type, payload)) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, proc.fd, nullptr);
    close(proc.fd);
    proc.fd = -1;
    proc.gone = true;
    if (!proc.final) Log("worker %zu (pid %d) went away without its report", w, proc.pid);
    return;
  }
  switch (type) {
    case kMsgReady:
      std::memcpy(&proc.ready_msg, payload.data(), std::min(payload.size(), sizeof(ReadyMsg)));
      proc.ready = true;
      break;
    case kMsgPublishAck:
      proc.publish_ack = true;
      break;
    case kMsgDone:
      proc.done = true;
      break;
    case kMsgStaying: {
      std::vector<uint32_t> staying(opts_.rooms, 0);
      std::memcpy(staying.data(), payload.data(),
                  std::min(payload.size(), staying.size() * sizeof(uint32_t)));
      staying_per_room_.resize(opts_.rooms, 0);
      for (uint32_t r = 0; r < opts_.rooms; ++r) staying_per_room_[r] += staying[r];
      proc.staying = true;
      break;
    }
    case kMsgFinal: {
      if (payload.size() != sizeof(FinalStats) + sizeof(Histogram)) break;
      FinalStats s;
      std::memcpy(&s, payload.data(), sizeof s);
      // Histogram is a plain array of counters; both ends are this binary.
      auto* h = new Histogram;
      std::memcpy(static_cast<void*>(h), payload.data() + sizeof s, sizeof(Histogram));
      hist_.Merge(*h);
      delete h;
      total_.pollers_ok += s.pollers_ok;
      total_.failed += s.failed;
      total_.deliveries += s.deliveries;
      total_.expected += s.expected;
      total_.duplicated += s.duplicated;
      total_.skipped_gap += s.skipped_gap;
      total_.lost += s.lost;
      total_.responses += s.responses;
      total_.requests += s.requests;
      total_.empty_answers += s.empty_answers;
      total_.early_answers += s.early_answers;
      total_.errors += s.errors;
      total_.reconnects += s.reconnects;
      total_.stray += s.stray;
      total_.incomplete += s.incomplete;
      total_.left += s.left;
      total_.leave_failed += s.leave_failed;
      if (s.first_delivery_ns != 0 &&
          (total_.first_delivery_ns == 0 || s.first_delivery_ns < total_.first_delivery_ns)) {
        total_.first_delivery_ns = s.first_delivery_ns;
      }
      total_.last_delivery_ns = std::max(total_.last_delivery_ns, s.last_delivery_ns);
      proc.final = true;
      break;
    }
    default:
      break;
  }
}

void Coordinator::PollOnce(int timeout_ms) {
  epoll_event events[64];
  int n = epoll_wait(epfd_, events, 64, timeout_ms);
  for (int k = 0; k < n; ++k) {
    uint64_t tag = events[k].data.u64;
    if (tag < kPubTag) {
      if (workers_[tag].fd >= 0) OnControl(tag);
    } else if (tag == kCheckTag) {
      if (online_check_ != nullptr) online_check_->OnEvent();
    } else if (publisher_ != nullptr) {
      publisher_->OnEvent(static_cast<uint32_t>(tag - kPubTag), events[k].events);
    }
  }
}

bool Coordinator::AllWorkers(bool WorkerProc::*flag) const {
  for (const WorkerProc& w : workers_) {
    if (!(w.*flag) && !w.gone) return false;
  }
  return true;
}

void Coordinator::Broadcast(uint32_t type, const void* data, uint32_t len) {
  for (WorkerProc& w : workers_) {
    if (w.fd >= 0 && !w.gone) SendFrame(w.fd, type, data, len);
  }
}

// Waits until the server's CPU time stops moving: at most one clock tick in a 200 ms window, so
// that it has read (and parked) every request sent so far. Returns the start of that quiet
// window, or -1 if it did not go quiet within cap_ns (or --duration-s). Without --server-pid it
// waits one window and returns -1.
int64_t Coordinator::WaitServerQuiet(int64_t cap_ns) {
  if (opts_.server_pids.empty()) {
    int64_t until = NowNs() + kSettleWindowNs;
    while (NowNs() < until) PollOnce(20);
    return -1;
  }
  std::vector<std::pair<int64_t, double>> samples;
  samples.emplace_back(NowNs(), ReadCpuSeconds(opts_.server_pids));
  int64_t cap = NowNs() + cap_ns;
  double tick = CpuTickSeconds();
  for (;;) {
    int64_t next = samples.back().first + kSettleSampleNs;
    while (NowNs() < next) PollOnce(static_cast<int>((next - NowNs()) / kNsPerMs) + 1);
    int64_t t = NowNs();
    double cpu = ReadCpuSeconds(opts_.server_pids);
    samples.emplace_back(t, cpu);
    // The latest sample at least a window old.
    for (size_t k = samples.size(); k-- > 0;) {
      if (t - samples[k].first >= kSettleWindowNs) {
        if (cpu - samples[k].second <= tick * 1.01) return samples[k].first;
        break;
      }
    }
    if (t >= cap || PastDeadline()) return -1;
  }
}

// Held: every first poll is written; then wait until the server is quiet (WaitServerQuiet).
// held_ns_ is the start of that quiet window. Without --server-pid, held is when the last poll
// was written.
void Coordinator::Settle() {
  held_ns_ = all_sent_ns_;
  int64_t quiet = WaitServerQuiet(kSettleCapNs);
  if (quiet >= 0) {
    held_ns_ = std::max(quiet, all_sent_ns_);
    settled_ = true;
  } else if (!opts_.server_pids.empty()) {
    held_ns_ = NowNs();
    Log("server CPU did not go quiet within %.0f s of the last poll; held = now",
        Seconds(kSettleCapNs));
  }
}

void Coordinator::StopWorkers() {
  Broadcast(kMsgStop, nullptr, 0);
  int64_t until = NowNs() + kStopGraceNs;
  while (!AllWorkers(&WorkerProc::final) && NowNs() < until) PollOnce(50);
  for (size_t w = 0; w < workers_.size(); ++w) {
    if (!workers_[w].final) {
      Log("worker %zu (pid %d) sent no report; killing it", w, workers_[w].pid);
      kill(workers_[w].pid, SIGKILL);
    }
  }
  for (WorkerProc& w : workers_) {
    int status;
    while (waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (w.fd >= 0) {
      close(w.fd);
      w.fd = -1;
    }
    w.gone = true;
  }
}

int Coordinator::Run() {
  signal(SIGPIPE, SIG_IGN);
  t0_ = NowNs();
  deadline_ns_ = t0_ + static_cast<int64_t>(opts_.duration_s * 1e9);
  const auto& pids = opts_.server_pids;
  if (!pids.empty()) {
    rss_base_kb_ = ReadRssKb(pids);
    cpu_start_ = ReadCpuSeconds(pids);
    if (rss_base_kb_ < 0 || cpu_start_ < 0) {
      std::fprintf(stderr, "crload: cannot read /proc for --server-pid\n");
      return 2;
    }
  }
  Log("%s at %s:%d: %u pollers, %u rooms, %u workers, %u source addresses", opts_.target_name(),
      opts_.host.c_str(), opts_.port, opts_.pollers, opts_.rooms, opts_.workers, opts_.sources);
  if (!SpawnWorkers()) {
    std::fprintf(stderr, "crload: %s\n", setup_error_.c_str());
    StopWorkers();
    return 2;
  }
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  for (size_t w = 0; w < workers_.size(); ++w) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = w;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, workers_[w].fd, &ev);
  }

  // Phase 1: connect, join, first poll out.
  auto any_lost_before_ready = [&] {
    for (const WorkerProc& w : workers_) {
      if (w.gone && !w.ready) return true;
    }
    return false;
  };
  while (!AllWorkers(&WorkerProc::ready) && !PastDeadline()) PollOnce(100);
  if (!AllWorkers(&WorkerProc::ready) || any_lost_before_ready()) {
    setup_failed_ = true;
    setup_error_ = "not every worker got its polls out before --duration-s";
  }
  for (const WorkerProc& w : workers_) {
    pollers_ok_ += w.ready_msg.ok;
    pollers_failed_ += w.ready_msg.failed;
    all_sent_ns_ = std::max(all_sent_ns_, w.ready_msg.all_sent_ns);
  }
  if (!setup_failed_ && pollers_ok_ == 0) {
    setup_failed_ = true;
    setup_error_ = "no poller could be set up (is the server there?)";
  }
  Publisher pub(opts_, epfd_, kPubTag);
  if (!setup_failed_) {
    Log("%u pollers hold a poll (%u failed) after %.3f s; settling", pollers_ok_, pollers_failed_,
        Seconds(all_sent_ns_ - t0_));
    Settle();
    rss_held_kb_ = pids.empty() ? -1 : ReadRssKb(pids);
    Log("held at %.3f s; server RSS %lld kB (base %lld kB)", Seconds(held_ns_ - t0_),
        static_cast<long long>(rss_held_kb_), static_cast<long long>(rss_base_kb_));

    if (opts_.publish_delay_s > 0) {
      // Polls stay held meanwhile; e.g. the server publishes its online counts once a second,
      // and a room's traffic tier follows that count.
      Log("waiting %.1f s before publishing", opts_.publish_delay_s);
      int64_t until =
          std::min(deadline_ns_, NowNs() + static_cast<int64_t>(opts_.publish_delay_s * 1e9));
      while (NowNs() < until) PollOnce(static_cast<int>((until - NowNs()) / kNsPerMs) + 1);
    }

    // Phase 2: publish.
    publisher_ = &pub;
    bool opened = pub.OpenAll();
    int64_t connect_until = NowNs() + 5 * kNsPerS;
    while (opened && !pub.AllConnected() && NowNs() < connect_until && !PastDeadline()) {
      PollOnce(20);
    }
    if (!opened || !pub.AllConnected()) {
      setup_failed_ = true;
      setup_error_ = "the publisher could not connect";
    }
  }
  if (!setup_failed_) {
    Broadcast(kMsgPublishStart, nullptr, 0);
    while (!AllWorkers(&WorkerProc::publish_ack) && !PastDeadline()) PollOnce(20);
    cpu_publish_start_ = pids.empty() ? -1 : ReadCpuSeconds(pids);
    publish_start_ns_ = NowNs();
    Log("publishing %llu messages at %s", static_cast<unsigned long long>(opts_.messages),
        opts_.rate > 0 ? (Num(opts_.rate) + " msgs/s").c_str() : "full speed");
    pub.Start(publish_start_ns_);
    while (!pub.Finished() && !PastDeadline()) PollOnce(pub.Pump(NowNs()));
    if (!pub.Finished()) {
      Log("--duration-s reached while publishing");
      pub.Abort();
    }
    publish_end_ns_ = NowNs();
    published_per_room_ = pub.published_per_room();
    published_ = pub.published();
    publish_errors_ = pub.errors();
    first_send_ns_ = pub.first_send_ns();
    ack_hist_ = pub.ack_latency();
    Broadcast(kMsgPublished, published_per_room_.data(),
              static_cast<uint32_t>(published_per_room_.size() * sizeof(uint32_t)));
    double pub_s = Seconds(publish_end_ns_ - publish_start_ns_);
    if (opts_.rate > 0 && pub_s > 0 && published_ > 0 &&
        static_cast<double>(published_) / pub_s < 0.9 * opts_.rate) {
      Log("the publishers fell behind: %.0f msgs/s of %s (answers take long; raise --publishers)",
          static_cast<double>(published_) / pub_s, Num(opts_.rate).c_str());
    }
    Log("published %llu (%llu errors) in %.3f s; draining",
        static_cast<unsigned long long>(published_),
        static_cast<unsigned long long>(publish_errors_),
        Seconds(publish_end_ns_ - publish_start_ns_));

    // Phase 3: drain.
    int64_t drain_until =
        std::min(deadline_ns_, publish_end_ns_ + static_cast<int64_t>(opts_.drain_s * 1e9));
    while (!AllWorkers(&WorkerProc::done) && NowNs() < drain_until) PollOnce(20);
    drain_complete_ = AllWorkers(&WorkerProc::done);
    drain_end_ns_ = NowNs();
    cpu_drain_end_ = pids.empty() ? -1 : ReadCpuSeconds(pids);
    Log("%s", drain_complete_ ? "every poller has every message"
                              : "drain ended with pollers still missing messages");
    if (opts_.target == Target::kChatroomd && (opts_.AnyLeave() || opts_.online_wait_s > 0)) {
      LeaveAndCheck();
    }
  }
  publisher_ = nullptr;
  StopWorkers();
  end_ns_ = NowNs();
  if (!pids.empty()) {
    rss_end_kb_ = ReadRssKb(pids);
    cpu_end_ = ReadCpuSeconds(pids);
  }
  client_cpu_s_ = OwnAndChildrenCpuSeconds();
  if (setup_failed_) {
    std::fprintf(stderr, "crload: setup failed: %s\n", setup_error_.c_str());
  }
  Report();
  if (setup_failed_) return 2;
  if (online_mismatch_ > 0 || (leave_ran_ && !leave_complete_)) return 5;
  return pollers_failed_ > 0 ? 3 : 0;
}

void Coordinator::Report() {
  const FinalStats& t = total_;
  bool have_server = !opts_.server_pids.empty();
  double deliveries = static_cast<double>(t.deliveries);
  double span = Seconds(t.last_delivery_ns - first_send_ns_);
  double dps = (t.deliveries > 0 && span > 0) ? deliveries / span : 0;
  double lat_ms[4] = {Seconds(hist_.Quantile(0.50)) * 1e3, Seconds(hist_.Quantile(0.95)) * 1e3,
                      Seconds(hist_.Quantile(0.99)) * 1e3, Seconds(hist_.max()) * 1e3};
  double ack_ms[2] = {Seconds(ack_hist_.Quantile(0.50)) * 1e3,
                      Seconds(ack_hist_.Quantile(0.99)) * 1e3};
  double server_cpu = cpu_drain_end_ - cpu_publish_start_;
  bool have_pub_cpu = have_server && cpu_publish_start_ >= 0 && cpu_drain_end_ >= 0;
  double server_total = cpu_end_ - cpu_start_;
  bool have_held = have_server && rss_held_kb_ >= 0;
  double rss_per_poll =
      pollers_ok_ > 0 ? static_cast<double>(rss_held_kb_ - rss_base_kb_) * 1024.0 / pollers_ok_ : 0;
  double rpd = t.deliveries > 0 ? static_cast<double>(t.responses) / deliveries : 0;
  double qpd = t.deliveries > 0 ? static_cast<double>(t.requests) / deliveries : 0;
  double us_per = t.deliveries > 0 ? server_cpu * 1e6 / deliveries : 0;
  uint64_t errors = t.errors + publish_errors_ + online_errors_;
  double held_s = Seconds(held_ns_ - t0_);
  double sent_s = Seconds(all_sent_ns_ - t0_);
  bool ran = publish_start_ns_ != 0;
  double publish_s = ran ? Seconds(publish_end_ns_ - publish_start_ns_) : 0;
  double achieved = publish_s > 0 ? static_cast<double>(published_) / publish_s : 0;

  if (ran || !opts_.quiet) {
    std::fprintf(
        stderr,
        "\n== crload %s: %u pollers (%u ok, %u failed) in %u rooms ==\n"
        "held:        all first polls out at %.3f s, server quiet at %.3f s%s\n"
        "server RSS:  base %lld kB, held %lld kB, end %lld kB -> %.0f bytes per poll\n"
        "published:   %llu of %llu in %.3f s (%.0f msgs/s), %llu publish errors\n"
        "deliveries:  %llu of %llu expected, %.0f/s; lost %llu, duplicated %llu, "
        "skipped under gap %llu%s\n"
        "responses:   %llu with messages (%.3f per delivery), %llu empty, %llu early "
        "answers, %llu reconnects, %llu stray; %llu polls sent (%.3f per delivery)\n"
        "latency ms:  p50 %.3f  p95 %.3f  p99 %.3f  max %.3f (publish ack p50 %.3f p99 "
        "%.3f)\n"
        "cpu s:       server %.2f publish+drain (%.2f us/delivery), %.2f whole run; "
        "client %.2f\n"
        "errors:      %llu; duration %.3f s\n",
        opts_.target_name(), opts_.pollers, pollers_ok_, pollers_failed_, opts_.rooms, sent_s,
        held_s, settled_ ? "" : " (not measured or not quiet)",
        static_cast<long long>(rss_base_kb_), static_cast<long long>(rss_held_kb_),
        static_cast<long long>(rss_end_kb_), have_held ? rss_per_poll : 0.0,
        static_cast<unsigned long long>(published_),
        static_cast<unsigned long long>(opts_.messages), publish_s, achieved,
        static_cast<unsigned long long>(publish_errors_),
        static_cast<unsigned long long>(t.deliveries), static_cast<unsigned long long>(t.expected),
        dps, static_cast<unsigned long long>(t.lost), static_cast<unsigned long long>(t.duplicated),
        static_cast<unsigned long long>(t.skipped_gap),
        drain_complete_ ? "" : " (drain incomplete)", static_cast<unsigned long long>(t.responses),
        rpd, static_cast<unsigned long long>(t.empty_answers),
        static_cast<unsigned long long>(t.early_answers),
        static_cast<unsigned long long>(t.reconnects), static_cast<unsigned long long>(t.stray),
        static_cast<unsigned long long>(t.requests), qpd, lat_ms[0], lat_ms[1], lat_ms[2],
        lat_ms[3], ack_ms[0], ack_ms[1], have_pub_cpu ? server_cpu : 0.0,
        have_pub_cpu ? us_per : 0.0, have_server ? server_total : 0.0, client_cpu_s_,
        static_cast<unsigned long long>(errors), Seconds(end_ns_ - t0_));
    if (leave_ran_) {
      uint64_t expected = 0;
      for (uint32_t n : staying_per_room_) expected += n;
      std::fprintf(
          stderr,
          "leave:       %llu left, %llu failed to leave, %llu stay (%s)\n"
          "online:      %u rooms checked, %u never exact; worst %lld, first "
          "readings %lld%s\n",
          static_cast<unsigned long long>(t.left), static_cast<unsigned long long>(t.leave_failed),
          static_cast<unsigned long long>(expected), leave_complete_ ? "complete" : "INCOMPLETE",
          online_checked_, online_mismatch_, static_cast<long long>(online_worst_diff_),
          static_cast<long long>(online_first_diff_),
          !online_ran_           ? " (not checked)"
          : online_checked_ == 0 ? " (no online endpoint)"
                                 : "");
    }
  }

  auto u = [](uint64_t v) { return std::to_string(v); };
  std::string j = "{";
  auto field = [&j](const char* name, const std::string& value) {
    if (j.size() > 1) j += ",";
    j += "\"";
    j += name;
    j += "\":";
    j += value;
  };
  field("target", std::string("\"") + opts_.target_name() + "\"");
  field("pollers", u(opts_.pollers));
  field("pollers_ok", u(pollers_ok_));
  field("pollers_failed", u(pollers_failed_));
  field("rooms", u(opts_.rooms));
  field("messages", u(opts_.messages));
  field("rate", Num(opts_.rate));
  field("publishers", u(opts_.publishers));
  field("workers", u(workers_.size()));
  field("sources", u(opts_.sources));
  field("sent_s", Num(sent_s, all_sent_ns_ > 0));
  field("held_s", Num(held_s, held_ns_ > 0));
  field("held_settled", settled_ ? "true" : "false");
  field("rss_base_kb", Num(static_cast<double>(rss_base_kb_), have_server, 12));
  field("rss_held_kb", Num(static_cast<double>(rss_held_kb_), have_held, 12));
  field("rss_end_kb", Num(static_cast<double>(rss_end_kb_), have_server && rss_end_kb_ >= 0, 12));
  field("rss_per_poll_bytes", Num(rss_per_poll, have_held && pollers_ok_ > 0));
  field("published", u(published_));
  field("publish_s", Num(publish_s, ran));
  field("publish_rate_achieved", Num(achieved, ran));
  field("deliveries", u(t.deliveries));
  field("expected_deliveries", u(t.expected));
  field("deliveries_per_s", Num(dps, ran));
  field("lat_p50_ms", Num(lat_ms[0], t.deliveries > 0));
  field("lat_p95_ms", Num(lat_ms[1], t.deliveries > 0));
  field("lat_p99_ms", Num(lat_ms[2], t.deliveries > 0));
  field("lat_max_ms", Num(lat_ms[3], t.deliveries > 0));
  field("pub_ack_p50_ms", Num(ack_ms[0], ack_hist_.count() > 0));
  field("pub_ack_p99_ms", Num(ack_ms[1], ack_hist_.count() > 0));
  field("lost", u(t.lost));
  field("duplicated", u(t.duplicated));
  field("skipped_gap", u(t.skipped_gap));
  field("incomplete_pollers", u(t.incomplete));
  field("drain_complete", drain_complete_ ? "true" : "false");
  field("responses", u(t.responses));
  field("responses_per_delivery", Num(rpd, t.deliveries > 0));
  field("requests", u(t.requests));
  field("requests_per_delivery", Num(qpd, t.deliveries > 0));
  field("empty_answers", u(t.empty_answers));
  field("early_answers", u(t.early_answers));
  field("reconnects", u(t.reconnects));
  field("stray", u(t.stray));
  uint64_t online_expected = 0;
  for (uint32_t n : staying_per_room_) online_expected += n;
  bool have_online = online_checked_ > 0;
  field("leave_fraction", Num(static_cast<double>(opts_.leave_num) / opts_.leave_den));
  field("left", u(t.left));
  field("leave_failed", u(t.leave_failed));
  field("leave_complete", leave_ran_ && leave_complete_ ? "true" : "false");
  field("leave_s", Num(Seconds(leave_end_ns_ - leave_start_ns_), leave_ran_ && opts_.AnyLeave()));
  field("online_expected", Num(static_cast<double>(online_expected), leave_complete_, 12));
  field("online_checked", u(online_checked_));
  field("online_mismatch", u(online_mismatch_));
  field("online_worst_diff", Num(static_cast<double>(online_worst_diff_), have_online, 12));
  field("online_first_diff", Num(static_cast<double>(online_first_diff_), have_online, 12));
  field("online_exact_s",
        Num(Seconds(online_exact_ns_ - online_start_ns_), have_online && online_exact_ns_ > 0));
  field("server_cpu_s", Num(server_cpu, have_pub_cpu));
  field("server_cpu_total_s", Num(server_total, have_server && cpu_end_ >= 0));
  field("client_cpu_s", Num(client_cpu_s_));
  field("server_cpu_us_per_delivery", Num(us_per, have_pub_cpu && t.deliveries > 0));
  field("duration_s", Num(Seconds(end_ns_ - t0_)));
  field("errors", u(errors));
  field("setup_failed", setup_failed_ ? "true" : "false");
  j += "}\n";
  std::fputs(j.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace crload
