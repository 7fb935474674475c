#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace crpresence {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Pipeline::Pipeline(const Wire& wire, const sockaddr_in& dst, uint32_t connections,
                   int64_t deadline_ns)
    : wire_(wire), dst_(dst), deadline_ns_(deadline_ns), conns_(connections) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
}

Pipeline::~Pipeline() {
  for (Conn& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
  if (epfd_ >= 0) close(epfd_);
}

bool Pipeline::Fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

bool Pipeline::Connect() {
  if (epfd_ < 0) return Fail(std::string("epoll_create1: ") + std::strerror(errno));
  for (uint32_t i = 0; i < conns_.size(); ++i) {
    Conn& c = conns_[i];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return Fail(std::string("socket: ") + std::strerror(errno));
    // A blocking connect honours SO_SNDTIMEO: bounded even if the server stops accepting.
    int64_t left_us = std::max<int64_t>((deadline_ns_ - NowNs()) / 1000, 1000);
    timeval tv{static_cast<time_t>(left_us / 1000000), static_cast<suseconds_t>(left_us % 1000000)};
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&dst_), sizeof dst_) != 0) {
      return Fail(std::string("connect: ") + std::strerror(errno));
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      return Fail(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }
  return true;
}

bool Pipeline::Flush(Conn& c, uint32_t index) {
  while (c.out_off < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      return Fail(std::string("send: ") + std::strerror(errno));
    }
  }
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  }
  // Ask for EPOLLOUT only while something waits to be written (level-triggered).
  bool want = !c.out.empty();
  if (want != c.want_write) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u32 = index;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_write = want;
  }
  return true;
}

bool Pipeline::Drain(Conn& c, const OnAnswer& on_answer, uint64_t& items_done) {
  char buf[65536];
  for (;;) {
    ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) break;
    } else if (n == 0) {
      return Fail("the server closed a connection");
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else {
      return Fail(std::string("recv: ") + std::strerror(errno));
    }
  }
  size_t off = 0;
  while (off < c.in.size()) {
    Answer a;
    Frame f = wire_.Parse(std::string_view(c.in).substr(off), a, c.scratch);
    if (f == Frame::kIncomplete) break;
    if (f == Frame::kBad) return Fail("a malformed answer");
    if (c.due_head == c.due.size()) return Fail("an answer to nothing that was sent");
    on_answer(a);
    off += a.len;
    if (--c.due[c.due_head] == 0) {
      ++c.due_head;
      ++items_done;
    }
  }
  c.in.erase(0, off);
  if (c.due_head == c.due.size()) {
    c.due.clear();
    c.due_head = 0;
  }
  return true;
}

bool Pipeline::Run(uint64_t count, uint32_t depth, const Make& make, const OnAnswer& on_answer) {
  uint64_t next = 0;
  uint64_t done = 0;
  auto refill = [&](Conn& c) {
    while (c.due.size() - c.due_head < depth && next < count) {
      uint32_t answers = make(next++, c.out);
      if (answers == 0) {
        ++done;  // nothing to wait for
      } else {
        c.due.push_back(answers);
      }
    }
  };
  for (uint32_t i = 0; i < conns_.size(); ++i) {
    refill(conns_[i]);
    if (!Flush(conns_[i], i)) return false;
  }
  epoll_event events[64];
  while (done < count) {
    int64_t left_ms = (deadline_ns_ - NowNs()) / 1000000;
    if (left_ms <= 0) {
      return Fail("--duration-s passed with " + std::to_string(done) + " of " +
                  std::to_string(count) + " answered");
    }
    int n = epoll_wait(epfd_, events, 64, static_cast<int>(std::min<int64_t>(left_ms, 100)));
    if (n < 0 && errno != EINTR) return Fail(std::string("epoll_wait: ") + std::strerror(errno));
    for (int e = 0; e < n; ++e) {
      uint32_t index = events[e].data.u32;
      Conn& c = conns_[index];
      if ((events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !Drain(c, on_answer, done)) {
        return false;
      }
      refill(c);
      if (!Flush(c, index)) return false;
    }
  }
  return true;
}

}  // namespace crpresence
