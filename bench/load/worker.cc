#include "worker.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "clock.h"
#include "histogram.h"
#include "http_response.h"
#include "net.h"
#include "wire.h"
#include "worker_impl.h"

namespace crload {
namespace worker_internal {

Worker::Worker(const WorkerConfig& cfg) : cfg_(cfg), opts_(*cfg.opts) {
  host_header_ = "Host: " + opts_.host + ":" + std::to_string(opts_.port) + "\r\n";
  for (uint32_t r = 0; r < opts_.rooms; ++r) {
    room_names_.push_back(opts_.RoomName(r));
    join_prefix_.push_back("POST /v1/rooms/" + room_names_.back() + "/join HTTP/1.1\r\n" +
                           host_header_);
  }
  pollers_.resize(cfg.count);
  if (opts_.target == Target::kChatroomd) {
    user_headers_.reserve(cfg.count);
    for (uint32_t i = 0; i < cfg.count; ++i) {
      user_headers_.push_back(opts_.identity.Headers("u" + std::to_string(cfg.first + i)));
    }
  }
  rbuf_.reset(new char[kReadBufBytes]);
  msgs_.reserve(1024);
}

Worker::~Worker() {
  // Abortive close at the end: no TIME_WAIT left to crowd the next run's source ports.
  linger hard{1, 0};
  for (Poller& p : pollers_) {
    if (p.fd >= 0) setsockopt(p.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    CloseFd(p);
    delete p.partial;
    CloseLeaveFd(p);
  }
  if (epfd_ >= 0) close(epfd_);
}

uint32_t Worker::Intern(uint32_t room, std::string_view a, std::string_view b) {
  key_.clear();
  key_.append(reinterpret_cast<const char*>(&room), sizeof room);
  key_.append(a);
  key_.push_back('\n');
  key_.append(b);
  auto it = prefix_ids_.find(key_);
  if (it != prefix_ids_.end()) {
    ++prefixes_[it->second].refs;
    return it->second;
  }
  uint32_t id;
  if (!free_prefixes_.empty()) {
    id = free_prefixes_.back();
    free_prefixes_.pop_back();
  } else {
    id = static_cast<uint32_t>(prefixes_.size());
    prefixes_.emplace_back();
  }
  Prefix& px = prefixes_[id];
  px.key = key_;
  px.refs = 1;
  const std::string& room_name = room_names_[room];
  if (opts_.target == Target::kChatroomd) {
    px.text = "GET /v1/rooms/" + room_name + "/poll?cursor=" + std::string(a) +
              "&timeout_ms=" + std::to_string(opts_.poll_timeout_ms) + "&limit=1000 HTTP/1.1\r\n" +
              host_header_;
  } else {
    px.text = "GET /sub/" + room_name + " HTTP/1.1\r\n" + host_header_;
    if (!a.empty()) px.text += "If-Modified-Since: " + std::string(a) + "\r\n";
    if (!b.empty()) px.text += "If-None-Match: " + std::string(b) + "\r\n";
  }
  prefix_ids_.emplace(key_, id);
  return id;
}

void Worker::Release(uint32_t id) {
  if (id == kNoReq) return;
  Prefix& px = prefixes_[id];
  if (--px.refs > 0) return;
  prefix_ids_.erase(px.key);
  px.text.clear();
  px.text.shrink_to_fit();
  px.key.clear();
  px.key.shrink_to_fit();
  free_prefixes_.push_back(id);
}

void Worker::StartSetups() {
  while (next_to_start_ < cfg_.count && in_setup_ < opts_.setup_concurrency) {
    uint32_t i = next_to_start_++;
    ++in_setup_;
    Connect(i);
  }
  MaybeSendReady();
}

void Worker::Connect(uint32_t i) {
  Poller& p = pollers_[i];
  in_addr src = SourceAddress((cfg_.first + i) % opts_.sources);
  int fd = StartConnect(&src, opts_.dst);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE) {
      std::fprintf(stderr, "crload worker: out of file descriptors: %s\n", std::strerror(errno));
    }
    Failed(i, 0);
    return;
  }
  p.fd = fd;
  p.state = State::kConnecting;
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = i;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
}

void Worker::OnConnected(uint32_t i) {
  Poller& p = pollers_[i];
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    CloseFd(p);
    Failed(i, 0);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = i;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, p.fd, &ev);
  if (opts_.target == Target::kChatroomd && !p.setup_done) {
    SendJoin(i);
  } else {
    SendPoll(i);
  }
}

void Worker::SendJoin(uint32_t i) {
  Poller& p = pollers_[i];
  static constexpr char kTail[] =
      "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"backlog\":0}";
  req_buf_ = join_prefix_[RoomOf(i)];
  req_buf_ += user_headers_[i];
  req_buf_ += kTail;
  if (!WriteAll(p.fd, req_buf_)) {
    ConnectionLost(i);
    return;
  }
  p.state = State::kJoining;
}

void Worker::SendPoll(uint32_t i) {
  Poller& p = pollers_[i];
  if (Leaving(p)) {
    p.state = State::kIdle;  // about to leave: no poll may reach the server after the leave
    return;
  }
  if (p.req == kNoReq) p.req = Intern(RoomOf(i), "", "");  // nchan: start at the head
  req_buf_ = prefixes_[p.req].text;
  if (opts_.target == Target::kChatroomd) {
    req_buf_ += user_headers_[i];
  }
  req_buf_ += "\r\n";
  if (!WriteAll(p.fd, req_buf_)) {
    ConnectionLost(i);
    return;
  }
  p.state = State::kPolling;
  if (publish_started_) ++st_.requests;
  if (!p.setup_done) {
    last_first_poll_ns_ = NowNs();
    SetupFinished(i, true);
  }
}

void Worker::SetupFinished(uint32_t i, bool ok) {
  Poller& p = pollers_[i];
  --in_setup_;
  if (ok) {
    p.setup_done = true;
    p.attempts = 0;
    ++ok_;
  } else {
    ++failed_;
  }
  MaybeSendReady();
}

void Worker::MaybeSendReady() {
  if (ready_sent_ || next_to_start_ < cfg_.count || in_setup_ > 0) return;
  ReadyMsg m;
  m.all_sent_ns = last_first_poll_ns_;
  m.ok = ok_;
  m.failed = failed_;
  m.errors = st_.errors;
  SendFrame(cfg_.ctrl_fd, kMsgReady, &m, sizeof m);
  ready_sent_ = true;
}

void Worker::CloseFd(Poller& p) {
  if (p.fd >= 0) {
    close(p.fd);
    p.fd = -1;
  }
  if (p.partial != nullptr) {
    delete p.partial;
    p.partial = nullptr;
  }
}

// The server closed the connection (or sent garbage). Not an error by itself (an idle timeout
// does this), but a connection that keeps dying without answering ends the poller.
void Worker::ConnectionLost(uint32_t i) {
  Poller& p = pollers_[i];
  CloseFd(p);
  if (p.state == State::kBackoff) return;  // reconnects when its timer fires
  if (p.setup_done) {
    ++st_.reconnects;
    if (++p.errors_in_row > kMaxErrorsInRow) {
      ++st_.errors;
      Kill(i);
      return;
    }
    Reschedule(i, p.errors_in_row > 1 ? 100 * kNsPerMs : 0);
  } else {
    Failed(i, 0);
  }
}

void Worker::Reschedule(uint32_t i, int64_t delay_ns) {
  pollers_[i].state = State::kBackoff;
  timers_.emplace(NowNs() + delay_ns, i);
}

// An error: retried after a growing back-off, a few times during setup, afterwards until too
// many errors in a row. The connection is reopened if it was closed.
void Worker::Failed(uint32_t i, int64_t delay_ns) {
  Poller& p = pollers_[i];
  ++st_.errors;
  if (!p.setup_done) {
    if (++p.attempts >= kMaxSetupAttempts) {
      Kill(i);
      return;
    }
    delay_ns += p.attempts * 100 * kNsPerMs;
  } else {
    if (++p.errors_in_row > kMaxErrorsInRow) {
      Kill(i);
      return;
    }
    delay_ns += p.errors_in_row * 100 * kNsPerMs;
  }
  Reschedule(i, delay_ns);
}

void Worker::Kill(uint32_t i) {
  Poller& p = pollers_[i];
  CloseFd(p);
  p.state = State::kDead;
  if (!p.setup_done) SetupFinished(i, false);
}

void Worker::OnReadable(uint32_t i) {
  Poller& p = pollers_[i];
  ssize_t n = recv(p.fd, rbuf_.get(), kReadBufBytes, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    ConnectionLost(i);
    return;
  }
  std::string_view data(rbuf_.get(), static_cast<size_t>(n));
  if (p.partial != nullptr) {
    p.partial->append(data);
    data = *p.partial;
  }
  if (p.state != State::kJoining && p.state != State::kPolling) {
    ++st_.errors;  // bytes nobody asked for
    CloseFd(p);
    if (p.state != State::kBackoff) Reschedule(i, 0);
    return;
  }
  HttpResponse r;
  Parse res = ParseHttpResponse(data, r, scratch_);
  if (res == Parse::kIncomplete) {
    if (p.partial == nullptr) p.partial = new std::string(data);
    return;
  }
  if (res == Parse::kBad) {
    ++st_.errors;
    ConnectionLost(i);
    return;
  }
  int64_t now = NowNs();
  bool extra = r.total_len != data.size();
  if (extra) ++st_.errors;
  // r points into partial (if any): free it only after the answer is handled.
  std::string* partial = p.partial;
  p.partial = nullptr;
  OnResponse(i, r, now, r.close || extra);
  delete partial;
}

void Worker::OnResponse(uint32_t i, const HttpResponse& r, int64_t now, bool must_close) {
  Poller& p = pollers_[i];
  if (must_close) {
    // Handle the answer as if the connection stayed, then reconnect before the next request.
    CloseFd(p);
  }
  if (p.state == State::kJoining) {
    OnJoinAnswer(i, r, now);
  } else {
    OnPollAnswer(i, r, now);
  }
}

void Worker::OnJoinAnswer(uint32_t i, const HttpResponse& r, int64_t now) {
  Poller& p = pollers_[i];
  std::string_view cursor;
  bool gap = false;
  if (r.status == 200) {
    ScanChatroomdJson(r.body, cursor, gap, [](std::string_view) {});
  }
  if (cursor.empty()) {
    if (r.status != 200 || p.attempts + 1 >= kMaxSetupAttempts) {
      std::fprintf(stderr, "crload worker: join answered %d: %.*s\n", r.status,
                   static_cast<int>(r.body.size() > 200 ? 200 : r.body.size()), r.body.data());
    }
    Failed(i, 0);
    return;
  }
  uint32_t id = Intern(RoomOf(i), cursor, "");
  Release(p.req);
  p.req = id;
  if (p.fd < 0) {
    Reschedule(i, 0);  // the server closed after the join: join again on a fresh connection
    return;
  }
  SendPoll(i);
}

void Worker::OnPollAnswer(uint32_t i, const HttpResponse& r, int64_t now) {
  Poller& p = pollers_[i];
  uint32_t room = RoomOf(i);
  msgs_.clear();
  bool ok = false;
  bool gap = false;
  int64_t wait_ns = 0;  // --obey-next-poll: the answer's next_poll_ms
  if (opts_.target == Target::kChatroomd) {
    if (r.status == 200) {
      if (opts_.obey_next_poll) {
        wait_ns = static_cast<int64_t>(ParseNextPollMs(r.body)) * kNsPerMs;
      }
      std::string_view cursor;
      ScanChatroomdJson(r.body, cursor, gap, [&](std::string_view body) {
        uint64_t seq;
        int64_t ns;
        if (ParsePubBody(body, seq, ns)) {
          msgs_.emplace_back(seq, ns);
        } else if (publish_started_) {
          ++st_.stray;
        }
      });
      if (!cursor.empty()) {
        uint32_t id = Intern(room, cursor, "");
        Release(p.req);
        p.req = id;
        ok = true;
      }
    }
  } else if (r.status == 200) {
    ok = ForEachNchanMessage(r, [&](std::string_view body) {
      uint64_t seq;
      int64_t ns;
      if (ParsePubBody(body, seq, ns)) {
        msgs_.emplace_back(seq, ns);
      } else if (publish_started_) {
        ++st_.stray;
      }
    });
    if (ok) {
      uint32_t id = Intern(room, r.last_modified, r.etag);
      Release(p.req);
      p.req = id;
    }
  } else if (r.status == 304 || r.status == 408) {
    ok = true;  // a long-poll timeout: ask again with the same validators
  }
  if (!ok) {
    if (st_.errors < 5) {
      std::fprintf(stderr, "crload worker: poll answered %d: %.*s\n", r.status,
                   static_cast<int>(r.body.size() > 200 ? 200 : r.body.size()), r.body.data());
    }
    Failed(i, 200 * kNsPerMs);
    return;
  }
  p.errors_in_row = 0;
  if (!publish_started_) {
    // Answered before we published: a timeout, or backlog left in the room by an earlier run
    // (Nchan's default nchan_subscriber_first_message is "oldest"). Not ours: just move on from
    // the validators/cursor it gave.
    ++st_.early_answers;
  } else if (msgs_.empty()) {
    ++st_.empty_answers;
  } else {
    ++st_.responses;
    if (gap) {
      uint64_t min_idx = ~uint64_t{0};
      for (auto& m : msgs_) {
        if (m.first % opts_.rooms == room && m.first / opts_.rooms < min_idx) {
          min_idx = m.first / opts_.rooms;
        }
      }
      if (min_idx != ~uint64_t{0}) SkipBelow(p, static_cast<uint32_t>(min_idx));
    }
    for (auto& m : msgs_) Deliver(i, m.first, m.second, now);
    if (have_published_ && !p.complete) CheckComplete(i);
  }
  if (wait_ns > 0 || p.fd < 0) {
    // The next poll when the timer fires, from when this answer was read; a closed connection
    // is reopened first. A waiting poller is not complete until it has received everything, so
    // the drain waits for it.
    p.state = State::kBackoff;
    timers_.emplace(now + wait_ns, i);
    return;
  }
  SendPoll(i);
}

void Worker::Deliver(uint32_t i, uint64_t pubseq, int64_t send_ns, int64_t now) {
  Poller& p = pollers_[i];
  if (pubseq >= opts_.messages || pubseq % opts_.rooms != RoomOf(i)) {
    ++st_.stray;
    return;
  }
  uint32_t idx = static_cast<uint32_t>(pubseq / opts_.rooms);
  bool fresh;
  if (idx < p.base) {
    // Below the window: either a late one that was pushed out unseen, or a repeat.
    fresh = p.evicted > 0;
    if (fresh) --p.evicted;
  } else {
    if (idx >= p.base + 64) {
      uint32_t new_base = idx - 63;
      uint32_t d = new_base - p.base;
      if (d >= 64) {
        p.evicted += d - static_cast<uint32_t>(__builtin_popcountll(p.mask));
        p.mask = 0;
      } else {
        uint64_t low = p.mask & ((uint64_t{1} << d) - 1);
        p.evicted += d - static_cast<uint32_t>(__builtin_popcountll(low));
        p.mask >>= d;
      }
      p.base = new_base;
    }
    uint64_t bit = uint64_t{1} << (idx - p.base);
    fresh = (p.mask & bit) == 0;
    p.mask |= bit;
    int run = p.mask == ~uint64_t{0} ? 64 : __builtin_ctzll(~p.mask);
    p.mask = run == 64 ? 0 : p.mask >> run;
    p.base += static_cast<uint32_t>(run);
  }
  if (!fresh) {
    ++p.duplicated;
    return;
  }
  ++p.received;
  hist_.Add(now - send_ns);
  if (st_.first_delivery_ns == 0 || now < st_.first_delivery_ns) st_.first_delivery_ns = now;
  if (now > st_.last_delivery_ns) st_.last_delivery_ns = now;
}

// A gap answer: everything of this room older than target that was not seen was skipped.
void Worker::SkipBelow(Poller& p, uint32_t target) {
  if (target <= p.base) return;
  uint32_t d = target - p.base;
  if (d >= 64) {
    p.skipped += d - static_cast<uint32_t>(__builtin_popcountll(p.mask));
    p.mask = 0;
  } else {
    uint64_t low = p.mask & ((uint64_t{1} << d) - 1);
    p.skipped += d - static_cast<uint32_t>(__builtin_popcountll(low));
    p.mask >>= d;
  }
  p.base = target;
  int run = p.mask == ~uint64_t{0} ? 64 : __builtin_ctzll(~p.mask);
  p.mask = run == 64 ? 0 : p.mask >> run;
  p.base += static_cast<uint32_t>(run);
}

void Worker::CheckComplete(uint32_t i) {
  Poller& p = pollers_[i];
  if (p.complete || !p.setup_done) return;
  if (static_cast<uint64_t>(p.received) + p.skipped >= published_[RoomOf(i)]) {
    p.complete = true;
    if (--incomplete_ == 0 && !done_sent_) {
      SendFrame(cfg_.ctrl_fd, kMsgDone, nullptr, 0);
      done_sent_ = true;
    }
  }
}

bool Worker::OnControl() {
  uint32_t type;
  std::string payload;
  if (!ReadFrame(cfg_.ctrl_fd, type, payload)) return false;  // the parent is gone
  switch (type) {
    case kMsgPublishStart:
      // Acknowledged, so that no answer to a published message can overtake this switch.
      publish_started_ = true;
      SendFrame(cfg_.ctrl_fd, kMsgPublishAck, nullptr, 0);
      break;
    case kMsgPublished: {
      published_.assign(opts_.rooms, 0);
      std::memcpy(published_.data(), payload.data(),
                  std::min(payload.size(), published_.size() * sizeof(uint32_t)));
      have_published_ = true;
      incomplete_ = 1;  // held while scanning so that Done goes out once, at the end
      for (uint32_t i = 0; i < cfg_.count; ++i) {
        if (pollers_[i].setup_done) {
          ++incomplete_;
          CheckComplete(i);
        }
      }
      if (--incomplete_ == 0 && !done_sent_) {
        SendFrame(cfg_.ctrl_fd, kMsgDone, nullptr, 0);
        done_sent_ = true;
      }
      break;
    }
    case kMsgLeave:
      StartLeavePhase();
      break;
    case kMsgStop:
      stop_ = true;
      break;
    default:
      break;
  }
  return true;
}

void Worker::SendFinal() {
  for (uint32_t i = 0; i < cfg_.count; ++i) {
    const Poller& p = pollers_[i];
    if (!p.setup_done) continue;
    ++st_.pollers_ok;
    uint64_t pub = have_published_ ? published_[RoomOf(i)] : 0;
    uint64_t got = static_cast<uint64_t>(p.received) + p.skipped;
    st_.deliveries += p.received;
    st_.duplicated += p.duplicated;
    st_.skipped_gap += p.skipped;
    st_.expected += pub;
    if (pub > got) {
      st_.lost += pub - got;
      ++st_.incomplete;
    }
  }
  st_.failed = failed_;
  std::string out(reinterpret_cast<const char*>(&st_), sizeof st_);
  out.append(reinterpret_cast<const char*>(&hist_), sizeof hist_);
  SendFrame(cfg_.ctrl_fd, kMsgFinal, out.data(), static_cast<uint32_t>(out.size()));
}

int Worker::Run() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return 2;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kCtrlTag;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, cfg_.ctrl_fd, &ev);
  StartSetups();
  std::vector<epoll_event> events(1024);
  while (!stop_) {
    int64_t now = NowNs();
    if (now >= cfg_.deadline_ns) return 4;  // the parent should have stopped us by now
    int timeout_ms = 100;
    int64_t next_timer = NextTimerNs();
    if (next_timer - now < timeout_ms * kNsPerMs) {
      int64_t wait = (next_timer - now + kNsPerMs - 1) / kNsPerMs;
      timeout_ms = wait < 0 ? 0 : static_cast<int>(wait);
    }
    int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) return 2;
    for (int k = 0; k < n; ++k) {
      uint64_t tag = events[k].data.u64;
      if (tag == kCtrlTag) {
        if (!OnControl()) return 4;
        continue;
      }
      uint32_t i = static_cast<uint32_t>(tag);
      if ((tag & kLeaveTag) != 0) {
        OnLeaveEvent(i);
        continue;
      }
      Poller& p = pollers_[i];
      if (p.fd < 0) continue;  // closed earlier in this batch
      if (p.state == State::kConnecting) {
        OnConnected(i);
      } else {
        OnReadable(i);
      }
    }
    now = NowNs();
    while (!timers_.empty() && timers_.top().first <= now) {
      uint32_t i = timers_.top().second;
      timers_.pop();
      Poller& p = pollers_[i];
      if (p.state != State::kBackoff) continue;
      if (p.fd < 0) {
        Connect(i);
      } else if (opts_.target == Target::kChatroomd && !p.setup_done) {
        SendJoin(i);
      } else {
        SendPoll(i);
      }
    }
    RunLeaveTimers(now);
    StartSetups();
  }
  SendFinal();
  return 0;
}

}  // namespace worker_internal

int RunWorker(const WorkerConfig& cfg) {
  worker_internal::Worker w(cfg);
  return w.Run();
}

}  // namespace crload
