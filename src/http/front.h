// Private to the front end: a front loop and the connection class.
#pragma once

#include <boost/asio/ip/tcp.hpp>

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

struct FrontLimits {
  uint32_t max_header_bytes = 8192;
  uint32_t max_body_bytes = 65536;
  int64_t read_timeout_ms = 10000;
  int64_t idle_timeout_ms = 75000;
  int64_t write_timeout_ms = 10000;
};

// One front-end loop and what its connections share. Touched only on its loop.
struct FrontLoop {
  FrontLoop(uint32_t index, metrics::ThreadMetrics& m, sect::RoomService* rooms);
  std::unique_ptr<Loop> loop;
  TimerWheel wheel;
  metrics::ThreadMetrics& metrics;
  // Reads land here first; a connection keeps bytes only while a request is incomplete.
  std::vector<char> scratch;
  // Polls at a room's head, held right here (destroyed first: it lets go of connections).
  FrontEdge edge;
};

class Router;

// One client connection. Lives on one front loop. Reads one request at a time (a pipelined
// request waits in `in_` until the answer before it is written), so answers go out in order.
// Owns no buffer while idle or while its poll is held.
class Connection final : public room::Client, public std::enable_shared_from_this<Connection> {
 public:
  Connection(FrontLoop& front, Router& router, boost::asio::ip::tcp::socket socket,
             const FrontLimits& limits, std::atomic<int64_t>& open_count);
  ~Connection() override;

  void Start();

  // room::Client
  Loop& loop() override { return *front_.loop; }
  void Deliver(uint64_t serial, WirePtr response) override;
  room::Edge* edge() override { return &front_.edge; }

  // For the router, while it handles the current request.
  uint64_t serial() const { return serial_; }
  void set_endpoint(metrics::Endpoint e) { endpoint_ = e; }
  // The poll in progress is held by this room; a disconnect cancels it there.
  void set_poll_room(std::string room) { poll_room_ = std::move(room); }
  // Answer the current request from the front loop itself (posted, never re-entrant).
  void ReplyLater(WirePtr response);

  // For the front loop's edge, which may hold the current poll.
  FrontLoop& front() { return front_; }
  EdgeWait& edge_wait() { return edge_wait_; }
  void ArmPollTimer(int64_t timeout_ms) { ArmTimer(timeout_ms); }
  void CancelTimer();

 private:
  enum class State { kReading, kProcessing, kWriting, kClosed };

  void WaitReadable();
  void OnRead(const boost::system::error_code& ec, size_t n);
  // Appends received bytes and parses them when no request is in progress.
  void Take(const char* data, size_t n);
  // Parses what is buffered; dispatches a complete request.
  void Parse();
  void Fail(int status, ErrorCode code, std::string message);
  void Dispatch(Request request);
  void Write(WirePtr response);
  void WriteMore(size_t written);
  void OnWritten();
  void PeerGone();
  void Close();
  void ArmTimer(int64_t timeout_ms);
  static void OnTimer(TimerNode* node);

  FrontLoop& front_;
  Router& router_;
  boost::asio::ip::tcp::socket socket_;
  const FrontLimits& limits_;
  std::atomic<int64_t>& open_count_;

  State state_ = State::kReading;
  bool waiting_readable_ = false;
  std::array<char, 256> inbuf_;  // the read in flight lands here
  bool close_after_write_ = false;
  bool peer_closed_ = false;
  uint64_t serial_ = 0;
  metrics::Endpoint endpoint_ = metrics::Endpoint::kOther;
  std::string poll_room_;

  std::string in_;  // unparsed bytes of the next request(s)
  std::unique_ptr<RequestParser> parser_;
  WirePtr out_;     // the response being written
  bool out_close_header_ = false;
  struct ConnTimer : TimerNode {
    Connection* owner = nullptr;
  } timer_;
  EdgeWait edge_wait_;
};

// Routes a request to its handler. Shared by the front loops; holds only immutable state.
class Router {
 public:
  Router(ServerDeps deps, FrontLimits limits);
  void Handle(Connection& conn, Request& request);
  const FrontLimits& limits() const { return limits_; }
  void CancelPoll(const std::string& room, room::ClientPtr client, uint64_t serial);

 private:
  ServerDeps deps_;
  FrontLimits limits_;
  uint32_t max_message_bytes_;
};

}  // namespace chatroomd::http
