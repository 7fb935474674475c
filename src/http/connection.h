// Private to the front end: one client connection.
#pragma once

#include <atomic>
#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "chatroomd/common/loop.h"
#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/metrics/metrics.h"
#include "http/exchange.h"
#include "http/request.h"

namespace chatroomd::http {

namespace beast_http = boost::beast::http;

struct FrontLoop;

using ConnectionHook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>;

// Bounds on one connection (http.* in the config).
struct FrontLimits {
  uint32_t max_header_bytes = 8192;
  uint32_t max_body_bytes = 65536;
  int64_t read_timeout_ms = 10000;
  int64_t idle_timeout_ms = 75000;
  int64_t write_timeout_ms = 10000;
};

struct AddressSlot;  // http/address_limit.h

// One client connection. Lives on one front loop, and reaches what the loop's connections share
// (router, limits, the open-connection count) through it: every byte here is paid per held poll.
// Reads one request at a time (a pipelined request waits in `in_` until the answer before it is
// written), so answers go out in order. Owns no buffer while idle or while its poll is held. Keeps
// itself alive from Start until it closes.
class Connection final : public Exchange, public std::enable_shared_from_this<Connection> {
 public:
  Connection(FrontLoop& front, int fd);
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
  void PollAtRoom(const std::string& room_id) override { poll_room_ = room_id; }

  // Exchange: for the router, while it handles the current request.
  uint64_t serial() const override { return serial_; }
  void set_endpoint(metrics::Endpoint e) override { endpoint_ = e; }
  void ReplyLater(WirePtr response) override;
  void CloseAfterAnswer() override { close_after_write_ = true; }
  room::ClientPtr self() override { return shared_from_this(); }
  RequestBudget& budget() override { return budget_; }
  // Held while the connection is open when http.max_connections_per_ip is on.
  void set_address_slot(std::unique_ptr<AddressSlot> slot);

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
  int fd_ = -1;
  std::shared_ptr<Connection> self_;  // from Start to Close

 public:
  ConnectionHook open_hook;

 private:
  State state_ = State::kReading;
  bool readable_ = false;       // an edge came and the socket has not been read empty since
  bool peer_shut_ = false;      // the peer shut its side: read to the end, not to a short read
  bool reading_ = false;        // inside ReadAvailable
  bool parsing_ = false;        // inside Parse
  bool write_blocked_ = false;  // waiting for an EPOLLOUT edge
  size_t written_ = 0;
  bool close_after_write_ = false;
  bool peer_closed_ = false;
  uint64_t serial_ = 0;
  metrics::Endpoint endpoint_ = metrics::Endpoint::kOther;
  RequestBudget budget_;
  std::unique_ptr<AddressSlot> address_slot_;
  std::string poll_room_;

  std::string in_;  // unparsed bytes of the next request(s)
  std::unique_ptr<RequestParser> parser_;
  WirePtr out_;  // the response being written
  bool out_close_header_ = false;
  bool head_only_ = false;             // HEAD: the answer's headers without its body
  bool continue_sent_ = false;         // 100 Continue written for the request being read
  const std::string* cors_ = nullptr;  // CORS header lines for this request's origin
  struct ConnTimer : TimerNode {
    Connection* owner = nullptr;
  } timer_;
};

}  // namespace chatroomd::http
