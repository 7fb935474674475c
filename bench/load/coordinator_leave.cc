// The parent's last two phases (chatroomd only), after the drain and outside the CPU figures
// per delivery: the pollers chosen by --leave-fraction leave, then the online check reads every
// room's online count until it is what the workers say stays (online_check.h).
#include <algorithm>
#include <string>

#include "clock.h"
#include "coordinator.h"
#include "online_check.h"

namespace crload {
namespace {

constexpr int64_t kQuietBeforeLeaveCapNs = 3 * kNsPerS;
constexpr int64_t kLeavePhaseCapNs = 20 * kNsPerS;

}  // namespace

void Coordinator::LeaveAndCheck() {
  if (opts_.AnyLeave()) {
    // The last polls the drain saw answered went out just before it ended; let the server read
    // them first, as a poll it read after the poller's leave would count the user again.
    WaitServerQuiet(kQuietBeforeLeaveCapNs);
  }
  // Every worker reports who stays, also without leavers: that is the expected online count.
  leave_ran_ = true;
  leave_start_ns_ = NowNs();
  Broadcast(kMsgLeave, nullptr, 0);
  int64_t until = std::min(deadline_ns_, leave_start_ns_ + kLeavePhaseCapNs);
  while (!AllWorkers(&WorkerProc::staying) && NowNs() < until) PollOnce(20);
  leave_end_ns_ = NowNs();
  leave_complete_ =
      std::all_of(workers_.begin(), workers_.end(), [](const WorkerProc& w) { return w.staying; });
  if (!leave_complete_) {
    Log("the leave phase did not finish (a worker did not report); online counts not checked");
    return;
  }
  if (opts_.AnyLeave()) {
    Log("leave phase done in %.3f s", static_cast<double>(leave_end_ns_ - leave_start_ns_) / 1e9);
  }
  if (opts_.online_wait_s <= 0) return;
  if (PastDeadline()) {
    Log("--duration-s reached before the online check");
    return;
  }

  OnlineCheck check(opts_, epfd_, kCheckTag, staying_per_room_);
  online_check_ = &check;
  online_ran_ = true;
  online_start_ns_ = NowNs();
  int64_t check_until =
      std::min(deadline_ns_, online_start_ns_ + static_cast<int64_t>(opts_.online_wait_s * 1e9));
  if (check.Start(online_start_ns_, check_until)) {
    while (!check.Finished()) PollOnce(check.Pump(NowNs()));
  }
  online_check_ = nullptr;
  online_checked_ = check.checked();
  online_mismatch_ = check.mismatched();
  online_worst_diff_ = check.worst_diff();
  online_first_diff_ = check.first_worst_diff();
  online_exact_ns_ = check.all_exact_ns();
  online_errors_ = check.errors();
  if (!check.served()) {
    Log("the server has no online endpoint: online counts not checked");
  } else {
    Log("online counts: %u rooms, %u never exact (worst %lld, first readings %lld), %llu requests",
        online_checked_, online_mismatch_, static_cast<long long>(online_worst_diff_),
        static_cast<long long>(online_first_diff_),
        static_cast<unsigned long long>(check.requests()));
    if (online_mismatch_ > 0) Log("never exact: %s", check.MismatchSample(5).c_str());
  }
}

}  // namespace crload
