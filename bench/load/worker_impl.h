// The worker's insides, shared by its two files: worker.cc (connect, join, poll, drain) and
// worker_leave.cc (the leave phase). Private to crload's worker: nothing else includes it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "histogram.h"
#include "http_response.h"
#include "wire.h"
#include "worker.h"

namespace crload {
namespace worker_internal {

constexpr uint64_t kCtrlTag = ~uint64_t{0};
constexpr uint64_t kLeaveTag = uint64_t{1} << 32;  // epoll tag of poller i's leave: i | kLeaveTag
constexpr uint32_t kNoReq = ~uint32_t{0};
constexpr int kMaxSetupAttempts = 6;
constexpr int kMaxErrorsInRow = 10;
constexpr size_t kReadBufBytes = 256 * 1024;

// The poll connection's state. kBackoff: waiting for its timer (timers_), after an error or,
// with --obey-next-poll, for the next_poll_ms an answer asked for; the connection may be open or
// closed. kLeft: the poller left (--leave-fraction) and is closed.
enum class State : uint8_t { kIdle, kConnecting, kJoining, kPolling, kBackoff, kDead, kLeft };

// Where a poller is in the leave phase. Only pollers chosen by --leave-fraction leave kStays;
// from kWaiting to kSent a poller sends no new poll (its held poll, if any, stays held), so that
// no poll of its can reach the server after its leave. kFailed: it gave up leaving and polls on.
enum class Leave : uint8_t { kStays, kWaiting, kConnecting, kSent, kLeft, kFailed };

// Which pubseqs (as room-local indices pubseq / rooms) a poller has accounted for (received or
// skipped under a gap): all below `base`, and base + i where bit i of `mask` is set. Publishers
// race only a few messages per room, so a 64-wide window covers any reordering; indices pushed
// out of it unseen are remembered only as a count (`evicted`).
struct Poller {
  int32_t fd = -1;
  uint32_t req = kNoReq;  // interned request prefix: the cursor (chatroomd) or Etag (nchan)
  uint32_t base = 0;
  uint32_t received = 0;
  uint32_t duplicated = 0;
  uint32_t skipped = 0;
  uint32_t evicted = 0;
  int32_t leave_fd = -1;  // the leave's own connection, while it is in flight
  uint64_t mask = 0;
  std::string* partial = nullptr;  // a response split over reads; rare
  State state = State::kIdle;
  Leave leave = Leave::kStays;
  uint8_t attempts = 0;  // setup attempts; in the leave phase, leave attempts
  uint8_t errors_in_row = 0;
  bool setup_done = false;
  bool complete = false;
};

static_assert(sizeof(Poller) <= 64, "per-poller state must stay small");

// One worker process: its pollers, their connections and its epoll loop (see worker.h).
// Single-threaded: every method runs on the worker's only thread.
class Worker {
 public:
  explicit Worker(const WorkerConfig& cfg);
  ~Worker();
  int Run();

 private:
  // --- interned request prefixes: pollers of a room mostly share the same cursor/Etag
  uint32_t Intern(uint32_t room, std::string_view a, std::string_view b);
  void Release(uint32_t id);

  uint32_t RoomOf(uint32_t i) const { return (cfg_.first + i) % opts_.rooms; }

  void StartSetups();
  void Connect(uint32_t i);
  void OnConnected(uint32_t i);
  void OnReadable(uint32_t i);
  void OnResponse(uint32_t i, const HttpResponse& r, int64_t now, bool must_close);
  void OnJoinAnswer(uint32_t i, const HttpResponse& r, int64_t now);
  void OnPollAnswer(uint32_t i, const HttpResponse& r, int64_t now);
  void SendJoin(uint32_t i);
  void SendPoll(uint32_t i);
  void CloseFd(Poller& p);
  void ConnectionLost(uint32_t i);
  void Reschedule(uint32_t i, int64_t delay_ns);
  void Failed(uint32_t i, int64_t delay_ns);
  void Kill(uint32_t i);
  void SetupFinished(uint32_t i, bool ok);
  void Deliver(uint32_t i, uint64_t pubseq, int64_t send_ns, int64_t now);
  void SkipBelow(Poller& p, uint32_t target);
  void CheckComplete(uint32_t i);
  void MaybeSendReady();
  bool OnControl();
  void SendFinal();
  int64_t NextTimerNs() const;

  // --- the leave phase (worker_leave.cc)
  bool Leaving(const Poller& p) const {
    return p.leave == Leave::kWaiting || p.leave == Leave::kConnecting || p.leave == Leave::kSent;
  }
  void StartLeavePhase();
  void StartLeaves();
  void SendLeave(uint32_t i);
  void OnLeaveEvent(uint32_t i);
  void OnLeaveAnswer(uint32_t i, const HttpResponse& r);
  void LeaveFailed(uint32_t i);
  void LeaveDone(uint32_t i, bool ok);
  void CloseLeaveFd(Poller& p);
  void RunLeaveTimers(int64_t now);
  void MaybeSendStaying();

  const WorkerConfig cfg_;
  const Options& opts_;
  int epfd_ = -1;
  std::string host_header_;
  std::vector<std::string> room_names_;
  std::vector<std::string> join_prefix_;   // per room, up to the user header
  std::vector<std::string> user_headers_;  // per poller: who it speaks as (identity.h)
  std::vector<Poller> pollers_;
  std::unique_ptr<char[]> rbuf_;
  std::string scratch_;
  std::string key_;
  std::string req_buf_;
  std::vector<std::pair<uint64_t, int64_t>> msgs_;

  struct Prefix {
    std::string text;
    std::string key;
    uint32_t refs = 0;
  };
  std::vector<Prefix> prefixes_;
  std::vector<uint32_t> free_prefixes_;
  std::unordered_map<std::string, uint32_t> prefix_ids_;

  using Timer = std::pair<int64_t, uint32_t>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;

  uint32_t next_to_start_ = 0;
  uint32_t in_setup_ = 0;
  uint32_t ok_ = 0;
  uint32_t failed_ = 0;
  int64_t last_first_poll_ns_ = 0;
  bool ready_sent_ = false;
  bool publish_started_ = false;
  bool have_published_ = false;
  bool done_sent_ = false;
  bool stop_ = false;
  std::vector<uint32_t> published_;
  uint32_t incomplete_ = 0;

  bool leave_phase_ = false;
  bool staying_sent_ = false;
  std::vector<uint32_t> leavers_;  // chosen pollers, in index order
  uint32_t next_leaver_ = 0;
  uint32_t leaves_in_flight_ = 0;  // started and not yet done (connecting, sent or retry wait)
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> leave_timers_;
  std::unordered_map<uint32_t, std::string> leave_partial_;  // a leave answer split over reads

  Histogram hist_;
  FinalStats st_;
};

}  // namespace worker_internal
}  // namespace crload
