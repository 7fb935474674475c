// Private to the front end: a front loop and the connection class.
#pragma once

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/intrusive/list.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/http/server.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/room/client.h"
#include "edge.h"
#include "request.h"

namespace chatroomd::http {

namespace beast_http = boost::beast::http;

class Connection;
using ConnectionHook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>;

struct FrontLimits {
  uint32_t max_header_bytes = 8192;
  uint32_t max_body_bytes = 65536;
  int64_t read_timeout_ms = 10000;
  int64_t idle_timeout_ms = 75000;
  int64_t write_timeout_ms = 10000;
};

struct FrontLoop;
class Router;

// One client connection. Lives on one front loop. Reads one request at a time (a pipelined
// request waits in `in_` until the answer before it is written), so answers go out in order.
// Owns no buffer while idle or while its poll is held. Keeps itself alive from Start until
// it closes.
class Connection final : public room::Client, public std::enable_shared_from_this<Connection> {
 public:
  Connection(FrontLoop& front, Router& router, int fd, const FrontLimits& limits,
             std::atomic<int64_t>& open_count);
  ~Connection() override;

  void Start();
  // Readiness from the loop's epoll set.
  void OnEvents(uint32_t events);
  // Shutdown: close without answering.
  void Close();

  // room::Client
  Loop& loop() override;
  void Deliver(uint64_t serial, WirePtr response) override;
  room::Edge* edge() override;

  // For the router, while it handles the current request.
  uint64_t serial() const { return serial_; }
  void set_endpoint(metrics::Endpoint e) { endpoint_ = e; }
  // The poll in progress is held by this room; a disconnect cancels it there.
  void set_poll_room(std::string room) { poll_room_ = std::move(room); }
  // Answer the current request from the front loop itself (posted, never re-entrant).
  void ReplyLater(WirePtr response);
  // The current request's answer ends the connection (the stream cannot be trusted).
  void CloseAfterAnswer() { close_after_write_ = true; }

  // For the front loop's edge, which may hold the current poll.
  FrontLoop& front() { return front_; }
  EdgeWait& edge_wait() { return edge_wait_; }
  void ArmPollTimer(int64_t timeout_ms) { ArmTimer(timeout_ms); }
  void CancelTimer();

 private:
  enum class State { kReading, kProcessing, kWriting, kClosed };

  // Reads what the socket has (it signalled readable) unless a request is being answered
  // and enough is buffered already.
  void ReadAvailable();
  // Appends received bytes and parses them when no request is in progress.
  void Take(const char* data, size_t n);
  // Parses what is buffered; dispatches a complete request.
  void Parse();
  enum class Fed { kMore, kDone, kFailed };
  // Feeds bytes to a parser; on a parse error the connection has failed.
  Fed Feed(RequestParser& p, const char* data, size_t n, size_t& used);
  // A whole request: check its framing, then dispatch it.
  void Finish(Request request);
  void Fail(int status, ErrorCode code, std::string message);
  void Dispatch(Request request);
  void Write(WirePtr response);
  void WriteMore(size_t written);
  void OnWritten();
  void PeerGone();
  void ArmTimer(int64_t timeout_ms);
  static void OnTimer(TimerNode* node);

  FrontLoop& front_;
  Router& router_;
  int fd_ = -1;
  const FrontLimits& limits_;
  std::atomic<int64_t>& open_count_;
  std::shared_ptr<Connection> self_;  // from Start to Close

 public:
  ConnectionHook open_hook;

 private:
  State state_ = State::kReading;
  bool readable_ = false;      // an edge came and the socket has not been read empty since
  bool peer_shut_ = false;     // the peer shut its side: read to the end, not to a short read
  bool reading_ = false;       // inside ReadAvailable
  bool parsing_ = false;       // inside Parse
  bool write_blocked_ = false; // waiting for an EPOLLOUT edge
  size_t written_ = 0;
  bool close_after_write_ = false;
  bool peer_closed_ = false;
  uint64_t serial_ = 0;
  metrics::Endpoint endpoint_ = metrics::Endpoint::kOther;
  std::string poll_room_;

  std::string in_;  // unparsed bytes of the next request(s)
  std::unique_ptr<RequestParser> parser_;
  WirePtr out_;     // the response being written
  bool out_close_header_ = false;
  bool head_only_ = false;           // HEAD: the answer's headers without its body
  bool continue_sent_ = false;       // 100 Continue written for the request being read
  const std::string* cors_ = nullptr;  // CORS header lines for this request's origin
  struct ConnTimer : TimerNode {
    Connection* owner = nullptr;
  } timer_;
  EdgeWait edge_wait_;
};

// One front-end loop and what its connections share. Touched only on its loop.
//
// Connections do their own socket I/O on an epoll set of the loop's own, edge-triggered,
// each socket registered once for its whole life. That set is one descriptor in the loop's
// Asio reactor, waited on once per turn. Through Asio, every read would be a reactor
// operation (a descriptor lock, an operation object, a posted completion) and would begin
// with a speculative recv that finds nothing: a long poll's socket is empty when its next
// read is started. Here a readiness edge leads straight to the one recv that has the bytes.
struct FrontLoop {
  FrontLoop(uint32_t index, metrics::ThreadMetrics& m, sect::RoomService* rooms);
  // Closes what is still open; the loop's thread must have stopped.
  ~FrontLoop();
  // Starts waiting for socket events (on the loop).
  void WatchSockets();

  std::unique_ptr<Loop> loop;
  TimerWheel wheel;
  metrics::ThreadMetrics& metrics;
  // Reads land here first; a connection keeps bytes only while a request is incomplete.
  std::vector<char> scratch;
  // Parses whole requests that are in `scratch`.
  std::optional<RequestParser> parser;
  int epoll_fd = -1;
  boost::asio::posix::stream_descriptor epoll_watch;
  // Every open connection of this loop.
  boost::intrusive::list<
      Connection,
      boost::intrusive::member_hook<Connection, ConnectionHook, &Connection::open_hook>,
      boost::intrusive::constant_time_size<false>>
      open;
  // Polls at a room's head, held right here (destroyed first: it lets go of connections).
  FrontEdge edge;

 private:
  void RunSocketEvents();
};

// Routes a request to its handler. Shared by the front loops; holds only immutable state.
class Router {
 public:
  Router(ServerDeps deps, FrontLimits limits);
  void Handle(Connection& conn, Request& request);
  const FrontLimits& limits() const { return limits_; }
  void CancelPoll(const std::string& room, room::ClientPtr client, uint64_t serial);
  // The CORS header lines for a request's Origin, or null (none sent, or not allowed).
  const std::string* CorsHeaders(const Request& request) const;

 private:
  ServerDeps deps_;
  FrontLimits limits_;
  uint32_t max_message_bytes_;
  // http.cors_origins: each allowed origin with its header lines; "*" allows any origin.
  std::vector<std::pair<std::string, std::string>> cors_;
  std::string cors_any_;
};

}  // namespace chatroomd::http
