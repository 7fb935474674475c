// The leave phase of a worker (--leave-fraction): after the drain, the chosen pollers send
// POST /v1/rooms/{room}/leave, each on a connection of its own (the poll connection holds a
// poll), then close both connections; their held polls end with them. Then the worker tells
// the parent how many of each room's pollers stay: what the room's online count must become.
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <limits>

#include "clock.h"
#include "net.h"
#include "worker_impl.h"

namespace crload {
namespace worker_internal {
namespace {

// Makes close() abortive (RST), as for every connection at the end of a run: each leaver's two
// connections would otherwise sit in TIME_WAIT on the source addresses the next run uses.
void SetAbortiveClose(int fd) {
  linger hard{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
}

}  // namespace

void Worker::StartLeavePhase() {
  if (leave_phase_) return;
  leave_phase_ = true;
  for (uint32_t i = 0; i < cfg_.count; ++i) {
    Poller& p = pollers_[i];
    // A poller that gave up after errors (kDead) sends nothing more; it counts as staying.
    if (!p.setup_done || p.state == State::kDead || !opts_.Leaves(cfg_.first + i)) continue;
    p.leave = Leave::kWaiting;
    leavers_.push_back(i);
  }
  StartLeaves();
  MaybeSendStaying();
}

// Starts leaves while fewer than --setup-concurrency are in flight.
void Worker::StartLeaves() {
  while (next_leaver_ < leavers_.size() && leaves_in_flight_ < opts_.setup_concurrency) {
    uint32_t i = leavers_[next_leaver_++];
    ++leaves_in_flight_;
    pollers_[i].attempts = 0;
    SendLeave(i);
  }
}

// Opens the leave's connection from the poller's own source address; OnLeaveEvent writes the
// request once it is connected.
void Worker::SendLeave(uint32_t i) {
  Poller& p = pollers_[i];
  in_addr src = SourceAddress((cfg_.first + i) % opts_.sources);
  int fd = StartConnect(&src, opts_.dst);
  if (fd < 0) {
    LeaveFailed(i);
    return;
  }
  p.leave_fd = fd;
  p.leave = Leave::kConnecting;
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = kLeaveTag | i;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
}

void Worker::OnLeaveEvent(uint32_t i) {
  Poller& p = pollers_[i];
  if (p.leave_fd < 0) return;  // closed earlier in this batch
  if (p.leave == Leave::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p.leave_fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      LeaveFailed(i);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kLeaveTag | i;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, p.leave_fd, &ev);
    req_buf_ = "POST /v1/rooms/" + room_names_[RoomOf(i)] + "/leave HTTP/1.1\r\n" + host_header_ +
               user_headers_[i] + "Content-Length: 0\r\n\r\n";
    if (!WriteAll(p.leave_fd, req_buf_)) {
      LeaveFailed(i);
      return;
    }
    p.leave = Leave::kSent;
    return;
  }
  ssize_t n = recv(p.leave_fd, rbuf_.get(), kReadBufBytes, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    LeaveFailed(i);
    return;
  }
  std::string_view data(rbuf_.get(), static_cast<size_t>(n));
  auto partial = leave_partial_.find(i);
  if (partial != leave_partial_.end()) {
    partial->second.append(data);
    data = partial->second;
  }
  HttpResponse r;
  Parse res = ParseHttpResponse(data, r, scratch_);
  if (res == Parse::kIncomplete) {
    if (partial == leave_partial_.end()) leave_partial_.emplace(i, std::string(data));
    return;
  }
  if (res == Parse::kBad) {
    LeaveFailed(i);
  } else {
    OnLeaveAnswer(i, r);
  }
  leave_partial_.erase(i);  // r points into it: only now
}

void Worker::OnLeaveAnswer(uint32_t i, const HttpResponse& r) {
  if (r.status >= 200 && r.status < 300) {
    LeaveDone(i, true);
    return;
  }
  if (st_.errors < 5) {
    std::fprintf(stderr, "crload worker: leave answered %d: %.*s\n", r.status,
                 static_cast<int>(r.body.size() > 200 ? 200 : r.body.size()), r.body.data());
  }
  LeaveFailed(i);
}

// An error: tried again after a growing back-off, kMaxSetupAttempts times in all.
void Worker::LeaveFailed(uint32_t i) {
  Poller& p = pollers_[i];
  ++st_.errors;
  CloseLeaveFd(p);
  if (++p.attempts >= kMaxSetupAttempts) {
    LeaveDone(i, false);
    return;
  }
  p.leave = Leave::kWaiting;
  leave_timers_.emplace(NowNs() + p.attempts * 100 * kNsPerMs, i);
}

void Worker::LeaveDone(uint32_t i, bool ok) {
  Poller& p = pollers_[i];
  CloseLeaveFd(p);
  if (ok) {
    // Left: it stops polling; its held poll ends with the connection.
    p.leave = Leave::kLeft;
    ++st_.left;
    if (p.fd >= 0) SetAbortiveClose(p.fd);
    CloseFd(p);
    p.state = State::kLeft;
  } else {
    // It stays (and counts as online): poll on if it had stopped.
    p.leave = Leave::kFailed;
    ++st_.leave_failed;
    if (p.state == State::kIdle) {
      if (p.fd >= 0) {
        SendPoll(i);
      } else {
        Reschedule(i, 0);
      }
    }
  }
  --leaves_in_flight_;
  StartLeaves();
  MaybeSendStaying();
}

void Worker::CloseLeaveFd(Poller& p) {
  if (p.leave_fd < 0) return;
  SetAbortiveClose(p.leave_fd);
  close(p.leave_fd);
  p.leave_fd = -1;
}

void Worker::RunLeaveTimers(int64_t now) {
  while (!leave_timers_.empty() && leave_timers_.top().first <= now) {
    uint32_t i = leave_timers_.top().second;
    leave_timers_.pop();
    if (pollers_[i].leave == Leave::kWaiting) SendLeave(i);
  }
}

// Once every chosen poller has left or given up: per room, the set-up pollers that stay.
void Worker::MaybeSendStaying() {
  if (!leave_phase_ || staying_sent_) return;
  if (next_leaver_ < leavers_.size() || leaves_in_flight_ > 0) return;
  std::vector<uint32_t> staying(opts_.rooms, 0);
  for (uint32_t i = 0; i < cfg_.count; ++i) {
    if (pollers_[i].setup_done && pollers_[i].leave != Leave::kLeft) ++staying[RoomOf(i)];
  }
  SendFrame(cfg_.ctrl_fd, kMsgStaying, staying.data(),
            static_cast<uint32_t>(staying.size() * sizeof(uint32_t)));
  staying_sent_ = true;
}

int64_t Worker::NextTimerNs() const {
  int64_t next = std::numeric_limits<int64_t>::max();
  if (!timers_.empty()) next = timers_.top().first;
  if (!leave_timers_.empty() && leave_timers_.top().first < next) {
    next = leave_timers_.top().first;
  }
  return next;
}

}  // namespace worker_internal
}  // namespace crload
