// Private to the front end: one front loop and what its connections share.
#pragma once

#include <atomic>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/intrusive/list.hpp>
#include <cassert>
#include <memory>
#include <optional>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/sect/room_service.h"
#include "http/connection.h"
#include "http/request.h"

namespace chatroomd::http {

class Router;

// One front-end loop and what its connections share. Touched only on its loop.
//
// Connections do their own socket I/O on an epoll set of the loop's own, edge-triggered,
// each socket registered once for its whole life. That set is one descriptor in the loop's
// Asio reactor, waited on once per turn. Through Asio, every read would be a reactor
// operation (a descriptor lock, an operation object, a posted completion) and would begin
// with a speculative recv that finds nothing: a long poll's socket is empty when its next
// read is started. Here a readiness edge leads straight to the one recv that has the bytes.
struct FrontLoop {
  // Registers the loop with `rooms` (if any), which gives it its edge. The router, limits and
  // count are the server's, shared by every front loop.
  FrontLoop(uint32_t index, metrics::ThreadMetrics& m, sect::RoomService* rooms, Router& router,
            const FrontLimits& limits, std::atomic<int64_t>& open_count);
  // Closes what is still open; the loop's thread must have stopped.
  ~FrontLoop();
  // Starts waiting for socket events (on the loop).
  void WatchSockets();
  void AssertOnLoop() const { assert(loop->InLoop()); }

  std::unique_ptr<Loop> loop;
  TimerWheel wheel;
  metrics::ThreadMetrics& metrics;
  Router& router;
  const FrontLimits& limits;
  // Open connections of the whole server (http.max_connections).
  std::atomic<int64_t>& open_count;
  // Reads land here first; a connection keeps bytes only while a request is incomplete.
  std::vector<char> scratch;
  // Parses whole requests that are in `scratch`.
  std::optional<RequestParser> parser;
  int epoll_fd = -1;
  boost::asio::posix::stream_descriptor epoll_watch;
  // Every open connection of this loop.
  boost::intrusive::list<
      Connection, boost::intrusive::member_hook<Connection, ConnectionHook, &Connection::open_hook>,
      boost::intrusive::constant_time_size<false>>
      open;
  // Holds polls at a room's head right here (room/front_edge.h; owned by the sects, removed
  // when this loop goes: the sects must outlive it).
  room::Edge* edge = nullptr;

 private:
  void RunSocketEvents();

  sect::RoomService* rooms_ = nullptr;
};

}  // namespace chatroomd::http
