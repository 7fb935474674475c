#include "publisher.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "clock.h"
#include "http_response.h"
#include "net.h"

namespace crload {

constexpr int kMaxReconnects = 20;

Publisher::Publisher(const Options& opts, int epfd, uint64_t tag_base)
    : opts_(opts), epfd_(epfd), tag_base_(tag_base), conns_(opts.publishers) {
  std::string host = "Host: " + opts.host + ":" + std::to_string(opts.port) + "\r\n";
  for (uint32_t c = 0; c < opts.publishers; ++c) {
    user_headers_.push_back(opts.identity.Headers("pub" + std::to_string(c), /*admin=*/true));
  }
  for (uint32_t r = 0; r < opts.rooms; ++r) {
    if (opts.target == Target::kChatroomd) {
      prefixes_.push_back("POST /v1/rooms/" + opts.RoomName(r) + "/messages HTTP/1.1\r\n" + host +
                          "Content-Type: application/json\r\n");
    } else {
      prefixes_.push_back("POST /pub/" + opts.RoomName(r) + " HTTP/1.1\r\n" + host +
                          "Content-Type: text/plain\r\n");
    }
  }
  per_room_.assign(opts.rooms, 0);
}

Publisher::~Publisher() {
  for (Conn& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
}

bool Publisher::Open(uint32_t c) {
  Conn& conn = conns_[c];
  conn.fd = StartConnect(nullptr, opts_.dst);
  if (conn.fd < 0) return false;
  conn.connected = false;
  conn.busy = false;
  conn.in.clear();
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = tag_base_ + c;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, conn.fd, &ev);
  return true;
}

bool Publisher::OpenAll() {
  for (uint32_t c = 0; c < conns_.size(); ++c) {
    if (!Open(c)) {
      std::fprintf(stderr, "crload: publisher connect failed: %s\n", std::strerror(errno));
      return false;
    }
  }
  return true;
}

bool Publisher::AllConnected() const {
  for (const Conn& c : conns_) {
    if (!c.connected) return false;
  }
  return true;
}

void Publisher::Start(int64_t now) { start_ns_ = now; }

void Publisher::Send(uint32_t c, int64_t now) {
  Conn& conn = conns_[c];
  uint64_t seq = next_++;
  uint32_t room = static_cast<uint32_t>(seq % opts_.rooms);
  char body[96];
  int64_t send_ns = NowNs();
  int blen;
  if (opts_.target == Target::kChatroomd) {
    blen = std::snprintf(body, sizeof body, "{\"body\":\"%llu:%lld\"}",
                         static_cast<unsigned long long>(seq), static_cast<long long>(send_ns));
  } else {
    blen = std::snprintf(body, sizeof body, "%llu:%lld", static_cast<unsigned long long>(seq),
                         static_cast<long long>(send_ns));
  }
  req_ = prefixes_[room];
  if (opts_.target == Target::kChatroomd) {
    req_ += user_headers_[c];
  }
  req_ += "Content-Length: ";
  req_ += std::to_string(blen);
  req_ += "\r\n\r\n";
  req_.append(body, static_cast<size_t>(blen));
  if (first_send_ns_ == 0) first_send_ns_ = send_ns;
  conn.busy = true;
  conn.pubseq = seq;
  conn.send_ns = send_ns;
  if (!WriteAll(conn.fd, req_)) Lost(c);
}

// The connection died: what was in flight counts as not published.
void Publisher::Lost(uint32_t c) {
  Conn& conn = conns_[c];
  if (conn.busy) {
    ++errors_;
    conn.busy = false;
  }
  close(conn.fd);
  conn.fd = -1;
  conn.connected = false;
  if (++conn.reconnects > kMaxReconnects || !Open(c)) {
    ++errors_;
    if (conn.fd >= 0) close(conn.fd);
    conn.fd = -1;
  }
}

void Publisher::OnEvent(uint32_t c, uint32_t events) {
  Conn& conn = conns_[c];
  if (conn.fd < 0) return;
  if (!conn.connected) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(conn.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Lost(c);
      return;
    }
    conn.connected = true;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag_base_ + c;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, conn.fd, &ev);
    return;
  }
  ssize_t n = recv(conn.fd, rbuf_, sizeof rbuf_, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    Lost(c);
    return;
  }
  conn.in.append(rbuf_, static_cast<size_t>(n));
  HttpResponse r;
  Parse p = ParseHttpResponse(conn.in, r, scratch_);
  if (p == Parse::kIncomplete) return;
  if (p == Parse::kBad || !conn.busy) {
    Lost(c);
    return;
  }
  int64_t now = NowNs();
  conn.busy = false;
  if (r.status >= 200 && r.status < 300) {
    ++published_;
    ++per_room_[conn.pubseq % opts_.rooms];
    last_ack_ns_ = now;
    ack_hist_.Add(now - conn.send_ns);
  } else {
    ++errors_;
    if (errors_ <= 5) {
      std::fprintf(stderr, "crload: publish answered %d: %.*s\n", r.status,
                   static_cast<int>(r.body.size() > 200 ? 200 : r.body.size()), r.body.data());
    }
  }
  bool close_it = r.close || r.total_len != conn.in.size();
  conn.in.clear();
  if (close_it) {
    close(conn.fd);
    conn.fd = -1;
    conn.connected = false;
    if (!Open(c)) ++errors_;
  }
}

int Publisher::Pump(int64_t now) {
  bool any_idle = false;
  for (uint32_t c = 0; c < conns_.size() && next_ < opts_.messages; ++c) {
    Conn& conn = conns_[c];
    if (conn.fd < 0 || !conn.connected || conn.busy) continue;
    if (opts_.rate > 0) {
      int64_t due = start_ns_ + static_cast<int64_t>(static_cast<double>(next_) * 1e9 / opts_.rate);
      if (due > now) {
        any_idle = true;
        break;
      }
    }
    Send(c, now);
  }
  if (next_ >= opts_.messages || !any_idle) return 100;
  int64_t due = start_ns_ + static_cast<int64_t>(static_cast<double>(next_) * 1e9 / opts_.rate);
  int64_t ms = (due - now + kNsPerMs - 1) / kNsPerMs;
  return ms < 1 ? 1 : static_cast<int>(ms > 100 ? 100 : ms);
}

bool Publisher::Finished() const {
  bool any_alive = false, any_busy = false;
  for (const Conn& c : conns_) {
    any_alive = any_alive || c.fd >= 0;
    any_busy = any_busy || c.busy;
  }
  if (!any_alive) return true;  // every connection gave up
  return next_ >= opts_.messages && !any_busy;
}

void Publisher::Abort() {
  for (Conn& c : conns_) {
    if (c.busy) {
      c.busy = false;
      ++errors_;
    }
  }
}

}  // namespace crload
