#include "online_check.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "clock.h"
#include "http_response.h"
#include "net.h"

namespace crload {
namespace {

constexpr int64_t kSweepNs = 100 * kNsPerMs;
constexpr int kMaxReconnects = 20;

int64_t Magnitude(int64_t v) { return v < 0 ? -v : v; }

}  // namespace

OnlineCheck::OnlineCheck(const Options& opts, int epfd, uint64_t tag,
                         std::vector<uint32_t> expected)
    : opts_(opts), epfd_(epfd), tag_(tag), rooms_(expected.size()) {
  for (size_t r = 0; r < expected.size(); ++r) {
    rooms_[r].expected = expected[r];
    pending_.push_back(static_cast<uint32_t>(r));
  }
  host_header_ = "Host: " + opts.host + ":" + std::to_string(opts.port) + "\r\n";
  user_header_ = opts.identity.Headers("crload-check");
}

OnlineCheck::~OnlineCheck() {
  if (fd_ >= 0) close(fd_);
}

bool OnlineCheck::Open() {
  fd_ = StartConnect(nullptr, opts_.dst);
  if (fd_ < 0) return false;
  connected_ = false;
  busy_ = false;
  in_.clear();
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = tag_;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd_, &ev);
  return true;
}

bool OnlineCheck::Start(int64_t now, int64_t until) {
  sweep_start_ns_ = now;
  until_ns_ = until;
  if (pending_.empty()) {
    finished_ = true;
    return true;
  }
  if (!Open()) {
    ++errors_;
    finished_ = true;
    return false;
  }
  return true;
}

void OnlineCheck::Send() {
  uint32_t room = pending_[pos_];
  req_ = "GET /v1/rooms/" + opts_.RoomName(room) + "/online?limit=0 HTTP/1.1\r\n" + host_header_ +
         user_header_ + "\r\n";
  busy_ = true;
  ++requests_;
  if (!WriteAll(fd_, req_)) Lost();
}

// The connection died: the room in flight is asked again in this sweep.
void OnlineCheck::Lost() {
  ++errors_;
  busy_ = false;
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  connected_ = false;
  if (++reconnects_ > kMaxReconnects || !Open()) Finish();
}

void OnlineCheck::OnEvent() {
  if (fd_ < 0 || finished_) return;
  if (!connected_) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Lost();
      return;
    }
    connected_ = true;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag_;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, fd_, &ev);
    return;
  }
  ssize_t n = recv(fd_, rbuf_, sizeof rbuf_, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    Lost();
    return;
  }
  in_.append(rbuf_, static_cast<size_t>(n));
  HttpResponse r;
  Parse p = ParseHttpResponse(in_, r, scratch_);
  if (p == Parse::kIncomplete) return;
  if (p == Parse::kBad || !busy_) {
    Lost();
    return;
  }
  busy_ = false;
  bool close_it = r.close || r.total_len != in_.size();
  OnAnswer(r.status, r.body, NowNs());
  in_.clear();
  if (close_it && !finished_) {
    close(fd_);
    fd_ = -1;
    connected_ = false;
    if (++reconnects_ > kMaxReconnects || !Open()) Finish();
  }
}

void OnlineCheck::OnAnswer(int status, std::string_view body, int64_t now) {
  Room& room = rooms_[pending_[pos_]];
  uint64_t count;
  if (status == 200 && ParseOnlineCount(body, count)) {
    int64_t diff = static_cast<int64_t>(count) - static_cast<int64_t>(room.expected);
    if (!room.read) room.first_diff = diff;
    room.read = true;
    room.last_diff = diff;
    if (diff == 0) {
      room.exact = true;
      last_exact_ns_ = now;
    }
  } else if ((status == 404 && body.find("\"room_not_found\"") == std::string_view::npos) ||
             status == 405) {
    unsupported_ = true;  // no such endpoint here: nothing to check
    Finish();
    return;
  } else {
    ++errors_;
    if (errors_ <= 5) {
      std::fprintf(stderr, "crload: online answered %d: %.*s\n", status,
                   static_cast<int>(body.size() > 200 ? 200 : body.size()), body.data());
    }
  }
  ++pos_;
}

int OnlineCheck::Pump(int64_t now) {
  if (finished_) return 100;
  if (now >= until_ns_) {
    Finish();
    return 100;
  }
  if (fd_ < 0 || !connected_ || busy_) return 20;
  if (pos_ >= pending_.size()) {
    // The sweep is over: keep the rooms not yet exact; the next sweep starts kSweepNs after this
    // one did (until then pos_ stays at the end and we come back here).
    std::vector<uint32_t> left;
    for (uint32_t r : pending_) {
      if (!rooms_[r].exact) left.push_back(r);
    }
    pending_ = std::move(left);
    if (pending_.empty()) {
      Finish();
      return 100;
    }
    int64_t due = sweep_start_ns_ + kSweepNs;
    if (due > now) {
      pos_ = pending_.size();
      return static_cast<int>((due - now + kNsPerMs - 1) / kNsPerMs);
    }
    sweep_start_ns_ = now;
    pos_ = 0;
  }
  Send();
  return 20;
}

void OnlineCheck::Finish() {
  finished_ = true;
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

uint32_t OnlineCheck::checked() const {
  return unsupported_ ? 0 : static_cast<uint32_t>(rooms_.size());
}

uint32_t OnlineCheck::mismatched() const {
  if (unsupported_) return 0;
  uint32_t n = 0;
  for (const Room& r : rooms_) n += r.exact ? 0 : 1;
  return n;
}

int64_t OnlineCheck::worst_diff() const {
  int64_t worst = 0;
  if (unsupported_) return 0;
  for (const Room& r : rooms_) {
    if (!r.exact && r.read && Magnitude(r.last_diff) > Magnitude(worst)) worst = r.last_diff;
  }
  return worst;
}

int64_t OnlineCheck::first_worst_diff() const {
  int64_t worst = 0;
  if (unsupported_) return 0;
  for (const Room& r : rooms_) {
    if (r.read && Magnitude(r.first_diff) > Magnitude(worst)) worst = r.first_diff;
  }
  return worst;
}

int64_t OnlineCheck::all_exact_ns() const {
  return !unsupported_ && mismatched() == 0 ? last_exact_ns_ : 0;
}

std::string OnlineCheck::MismatchSample(size_t max) const {
  std::string out;
  size_t n = 0;
  for (size_t r = 0; r < rooms_.size() && n < max && !unsupported_; ++r) {
    const Room& room = rooms_[r];
    if (room.exact) continue;
    if (n++ > 0) out += ", ";
    out += opts_.RoomName(static_cast<uint32_t>(r)) + ": ";
    if (room.read) {
      out += "read " + std::to_string(static_cast<int64_t>(room.expected) + room.last_diff) +
             " for " + std::to_string(room.expected);
    } else {
      out += "never read";
    }
  }
  return out;
}

}  // namespace crload
