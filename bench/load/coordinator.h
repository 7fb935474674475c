// The parent process: forks the workers, walks the phases (connect + hold, settle, publish,
// drain, leave and online check, stop), samples the server's /proc figures between them and
// prints the report.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "histogram.h"
#include "options.h"
#include "wire.h"

namespace crload {

class OnlineCheck;
class Publisher;

class Coordinator {
 public:
  explicit Coordinator(const Options& opts);
  ~Coordinator();
  // Runs the whole benchmark; returns the process exit code.
  int Run();

 private:
  // Tags of the parent's epoll events: worker w's control socket is w, publisher connection c
  // is kPubTag + c, the online check's connection kCheckTag.
  static constexpr uint64_t kPubTag = uint64_t{1} << 32;
  static constexpr uint64_t kCheckTag = uint64_t{2} << 32;

  struct WorkerProc {
    pid_t pid = -1;
    int fd = -1;
    bool ready = false;
    bool publish_ack = false;
    bool done = false;
    bool staying = false;
    bool final = false;
    bool gone = false;
    ReadyMsg ready_msg;
  };

  bool SpawnWorkers();
  // One round of the parent's event loop: control messages and publisher sockets.
  void PollOnce(int timeout_ms);
  void OnControl(size_t w);
  bool AllWorkers(bool WorkerProc::*flag) const;
  bool PastDeadline() const;
  void Broadcast(uint32_t type, const void* data, uint32_t len);
  int64_t WaitServerQuiet(int64_t cap_ns);
  void Settle();
  // After the drain: the chosen pollers leave, then the online counts are checked
  // (coordinator_leave.cc).
  void LeaveAndCheck();
  void StopWorkers();
  void Log(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void Report();

  const Options& opts_;
  std::vector<WorkerProc> workers_;
  int epfd_ = -1;
  Publisher* publisher_ = nullptr;
  OnlineCheck* online_check_ = nullptr;

  int64_t t0_ = 0;
  int64_t deadline_ns_ = 0;
  int64_t all_sent_ns_ = 0;
  int64_t held_ns_ = 0;
  bool settled_ = false;
  int64_t publish_start_ns_ = 0;
  int64_t publish_end_ns_ = 0;
  int64_t drain_end_ns_ = 0;
  int64_t end_ns_ = 0;
  bool drain_complete_ = false;
  bool setup_failed_ = false;
  std::string setup_error_;

  int64_t rss_base_kb_ = -1;
  int64_t rss_held_kb_ = -1;
  int64_t rss_end_kb_ = -1;
  double cpu_start_ = -1;
  double cpu_publish_start_ = -1;
  double cpu_drain_end_ = -1;
  double cpu_end_ = -1;
  double client_cpu_s_ = 0;

  uint32_t pollers_ok_ = 0;
  uint32_t pollers_failed_ = 0;
  std::vector<uint32_t> published_per_room_;
  uint64_t published_ = 0;
  uint64_t publish_errors_ = 0;
  int64_t first_send_ns_ = 0;

  bool leave_ran_ = false;
  bool leave_complete_ = false;
  int64_t leave_start_ns_ = 0;
  int64_t leave_end_ns_ = 0;
  std::vector<uint32_t> staying_per_room_;  // summed over the workers' kMsgStaying
  bool online_ran_ = false;
  uint32_t online_checked_ = 0;
  uint32_t online_mismatch_ = 0;
  int64_t online_worst_diff_ = 0;
  int64_t online_first_diff_ = 0;
  int64_t online_start_ns_ = 0;
  int64_t online_exact_ns_ = 0;
  uint64_t online_errors_ = 0;

  FinalStats total_;
  Histogram hist_;
  Histogram ack_hist_;
};

}  // namespace crload
