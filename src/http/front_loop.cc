#include "http/front_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace chatroomd::http {

namespace asio = boost::asio;
using boost::system::error_code;

FrontLoop::FrontLoop(uint32_t index, metrics::ThreadMetrics& m, sect::RoomService* rooms,
                     Router& router, const FrontLimits& limits, std::atomic<int64_t>& open_count)
    : loop(std::make_unique<Loop>("http-" + std::to_string(index), index)),
      wheel(loop->context(), 10, 8192),
      metrics(m),
      router(router),
      limits(limits),
      open_count(open_count),
      scratch(64 * 1024),
      epoll_fd(::epoll_create1(EPOLL_CLOEXEC)),
      epoll_watch(loop->context()) {
  if (epoll_fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  epoll_watch.assign(epoll_fd);
  if (rooms) {
    edge = rooms->AddFrontLoop(*loop, wheel, m);
    rooms_ = rooms;
  }
}

FrontLoop::~FrontLoop() {
  loop->Abort();
  // The edge borrows this loop and its wheel: it goes first, letting go of its polls.
  if (rooms_) rooms_->RemoveFrontLoop(edge);
  edge = nullptr;
  // Connections still open: close them (their timers and held polls go with them).
  while (!open.empty()) open.front().Close();
  error_code ec;
  epoll_watch.close(ec);
}

void FrontLoop::WatchSockets() {
  epoll_watch.async_wait(asio::posix::stream_descriptor::wait_read, [this](const error_code& ec) {
    if (!ec) RunSocketEvents();
  });
}

void FrontLoop::RunSocketEvents() {
  AssertOnLoop();
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int n = ::epoll_wait(epoll_fd, events, kMaxEvents, 0);
  for (int i = 0; i < n; ++i) {
    // A connection closed by an earlier event of this batch is still alive (its release is
    // posted) and ignores the event.
    static_cast<Connection*>(events[i].data.ptr)->OnEvents(events[i].events);
  }
  if (n == kMaxEvents) {
    // Maybe more ready: the set is edge-triggered in the reactor, so come back by ourselves,
    // after what else is queued.
    loop->Post([this] { RunSocketEvents(); });
    return;
  }
  WatchSockets();
}

}  // namespace chatroomd::http
