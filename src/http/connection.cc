#include "http/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http/error.hpp>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "http/address_limit.h"
#include "http/front_loop.h"
#include "http/router.h"

namespace chatroomd::http {

namespace asio = boost::asio;
using boost::system::error_code;

Connection::Connection(FrontLoop& front, int fd) : front_(front), fd_(fd) {
  timer_.fire = &Connection::OnTimer;
  timer_.owner = this;
}

void Connection::set_address_slot(std::unique_ptr<AddressSlot> slot) {
  address_slot_ = std::move(slot);
}

Connection::~Connection() {
  // A connection may outlive its wheel at shutdown (the wheel clears its nodes first).
  if (timer_.is_linked()) front_.wheel.Cancel(timer_);
  if (fd_ >= 0) ::close(fd_);
  if (state_ != State::kClosed) {
    front_.open_count.fetch_sub(1, std::memory_order_relaxed);
    front_.metrics.open_connections.fetch_sub(1, std::memory_order_relaxed);
  }
}

Loop& Connection::loop() { return *front_.loop; }

room::Edge* Connection::edge() { return front_.edge; }

void Connection::Start() {
  int one = 1;
  ::ioctl(fd_, FIONBIO, &one);
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  front_.metrics.open_connections.fetch_add(1, std::memory_order_relaxed);
  self_ = shared_from_this();
  front_.open.push_back(*this);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = this;
  if (::epoll_ctl(front_.epoll_fd, EPOLL_CTL_ADD, fd_, &ev) != 0) {
    spdlog::warn("epoll_ctl: {}", std::strerror(errno));
    return Close();
  }
  // Bytes that are already there are reported at once.
  ArmTimer(front_.limits.idle_timeout_ms);
}

void Connection::OnEvents(uint32_t events) {
  front_.AssertOnLoop();
  if (state_ == State::kClosed) return;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peer_shut_ = true;
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && write_blocked_) {
    write_blocked_ = false;
    WriteMore(written_);
    if (state_ == State::kClosed) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    readable_ = true;
    ReadAvailable();
  }
}

void Connection::ArmTimer(int64_t timeout_ms) {
  front_.wheel.Schedule(timer_, front_.wheel.NowMs() + timeout_ms);
}

void Connection::OnTimer(TimerNode* node) {
  // A request that did not arrive whole, an idle keep-alive connection, or a client that
  // does not read its answer. (A held poll's timeout is its holder's timer, not this one.)
  Connection* self = static_cast<ConnTimer*>(node)->owner;
  auto keep = self->shared_from_this();
  self->Close();
}

void Connection::ReadAvailable() {
  if (reading_) return;  // an answer written from inside the loop below: it goes on
  reading_ = true;
  const size_t cap = front_.limits.max_header_bytes + front_.limits.max_body_bytes;
  while (readable_ && state_ != State::kClosed) {
    // While a request is being answered, buffer what comes (pipelined requests) but only up
    // to one more request's worth; past that, stop reading until the answer is out.
    if (state_ != State::kReading && in_.size() >= cap) break;
    ssize_t n = ::recv(fd_, front_.scratch.data(), front_.scratch.size(), 0);
    if (n > 0) {
      // Edge-triggered: a short read emptied the socket; new bytes bring a new edge. After
      // the peer shut its side, read on to the end so that it is seen.
      if (static_cast<size_t>(n) < front_.scratch.size() && !peer_shut_) readable_ = false;
      Take(front_.scratch.data(), static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      readable_ = false;
      break;
    }
    readable_ = false;
    reading_ = false;
    return PeerGone();  // end of stream or a socket error
  }
  reading_ = false;
}

void Connection::Take(const char* data, size_t n) {
  if (in_.empty() && state_ == State::kReading && !parser_) {
    // The usual case: whole requests in the loop's read buffer. Parse them right there with
    // the loop's parser; only the bytes of an incomplete request are kept (and parsed again
    // from its start once the rest is in).
    while (n > 0 && state_ == State::kReading) {
      RequestParser& p = front_.parser.emplace();
      p.header_limit(front_.limits.max_header_bytes);
      p.body_limit(front_.limits.max_body_bytes);
      p.eager(true);
      size_t used = 0;
      Fed fed = Feed(p, data, n, used);
      if (fed == Fed::kFailed) return;
      if (fed == Fed::kMore) break;
      Request request = std::move(p.request());
      data += used;
      n -= used;
      Finish(std::move(request));
    }
    if (n == 0 || state_ == State::kClosed) return;
    // First bytes of an incomplete request: it must now arrive whole within the read timeout.
    if (state_ == State::kReading) ArmTimer(front_.limits.read_timeout_ms);
  }
  in_.append(data, n);
  if (state_ == State::kReading) Parse();
}

Connection::Fed Connection::Feed(RequestParser& p, const char* data, size_t n, size_t& used) {
  error_code ec;
  used = p.put(asio::const_buffer(data, n), ec);
  if (ec == beast_http::error::need_more) return Fed::kMore;
  if (ec == beast_http::error::header_limit) {
    Fail(431, ErrorCode::kHeadersTooLarge, "request headers exceed the limit");
    return Fed::kFailed;
  }
  if (ec == beast_http::error::body_limit) {
    Fail(413, ErrorCode::kPayloadTooLarge, "request body exceeds the limit");
    return Fed::kFailed;
  }
  if (ec) {
    Fail(400, ErrorCode::kBadRequest, "malformed HTTP request: " + ec.message());
    return Fed::kFailed;
  }
  return p.is_done() ? Fed::kDone : Fed::kMore;
}

void Connection::Parse() {
  // An answer written from inside this loop (the front loop's edge answers some polls at
  // once) comes back to OnWritten, which leaves the next request to this loop: a client's
  // pipelined requests never nest calls.
  parsing_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{parsing_};
  while (state_ == State::kReading && !in_.empty()) {
    if (!parser_) {
      parser_ = std::make_unique<RequestParser>();
      parser_->header_limit(front_.limits.max_header_bytes);
      parser_->body_limit(front_.limits.max_body_bytes);
      parser_->eager(true);
    }
    size_t used = 0;
    Fed fed = Feed(*parser_, in_.data(), in_.size(), used);
    if (fed == Fed::kFailed) return;
    in_.erase(0, used);
    if (fed == Fed::kMore) {
      if (in_.size() > front_.limits.max_header_bytes + front_.limits.max_body_bytes + 1024) {
        return Fail(400, ErrorCode::kBadRequest, "request too large");
      }
      if (!continue_sent_ && parser_->is_header_done() && parser_->request().expect_continue) {
        // The client waits for this before it sends the body (curl: for a second). Nothing
        // else is being written (this connection is reading), so it goes out whole or not at
        // all; if not, the client sends the body after its own wait.
        static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
        continue_sent_ = true;
        (void)::send(fd_, k100.data(), k100.size(), MSG_NOSIGNAL);
      }
      return;  // wait for more bytes
    }
    Request request = std::move(parser_->request());
    parser_.reset();
    continue_sent_ = false;
    // A held poll should cost no buffer: give back what the request needed.
    if (in_.empty() && in_.capacity() > 64) std::string().swap(in_);
    Finish(std::move(request));
  }
}

void Connection::Finish(Request request) {
  // Framing that could be read two ways is refused, so nothing can be smuggled past us.
  if (request.content_length_count > 0 && request.transfer_encoding_count > 0) {
    return Fail(400, ErrorCode::kBadRequest,
                "Content-Length together with Transfer-Encoding is not allowed");
  }
  if (request.content_length_count > 1) {
    return Fail(400, ErrorCode::kBadRequest, "more than one Content-Length");
  }
  if (request.version >= 11 && request.host_count != 1) {
    return Fail(400, ErrorCode::kBadRequest, "an HTTP/1.1 request needs exactly one Host");
  }
  Dispatch(std::move(request));
}

void Connection::Fail(int status, ErrorCode code, std::string message) {
  // The stream can no longer be trusted: answer and close.
  parser_.reset();
  in_.clear();
  close_after_write_ = true;
  head_only_ = false;
  cors_ = nullptr;
  ++serial_;
  state_ = State::kProcessing;
  endpoint_ = metrics::Endpoint::kOther;
  Write(MakeErrorWire(MakeError(code, std::move(message)), BodyFormat::kJson));
}

void Connection::Dispatch(Request request) {
  state_ = State::kProcessing;
  ++serial_;
  front_.wheel.Cancel(timer_);
  endpoint_ = metrics::Endpoint::kOther;
  poll_room_.clear();
  close_after_write_ = !request.keep_alive;
  head_only_ = request.method == beast_http::verb::head;
  cors_ = front_.router.CorsHeaders(request);
  front_.router.Handle(*this, request);
}

void Connection::ReplyLater(WirePtr response) {
  loop().Post([self = shared_from_this(), serial = serial_, response = std::move(response)] {
    self->Deliver(serial, response);
  });
}

void Connection::Deliver(uint64_t serial, WirePtr response) {
  front_.AssertOnLoop();
  if (state_ != State::kProcessing || serial != serial_) return;  // stale or closed
  poll_room_.clear();
  Write(std::move(response));
}

void Connection::Write(WirePtr response) {
  state_ = State::kWriting;
  out_ = std::move(response);
  out_close_header_ = close_after_write_;
  // Try the write right away: most answers fit in the socket buffer, so no async step.
  WriteMore(0);
}

void Connection::WriteMore(size_t written) {
  static constexpr std::string_view kClose = "Connection: close\r\n";
  static constexpr std::string_view kNoBody = "\r\n";
  const std::string_view parts[4] = {out_->head, out_close_header_ ? kClose : std::string_view(),
                                     cors_ ? std::string_view(*cors_) : std::string_view(),
                                     head_only_ ? kNoBody : std::string_view(out_->tail)};
  size_t total = parts[0].size() + parts[1].size() + parts[2].size() + parts[3].size();
  while (written < total) {
    iovec iov[4];
    size_t skip = written, k = 0;
    for (const auto& p : parts) {
      if (skip >= p.size()) {
        skip -= p.size();
        continue;
      }
      iov[k].iov_base = const_cast<char*>(p.data() + skip);
      iov[k].iov_len = p.size() - skip;
      ++k;
      skip = 0;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = k;
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The socket buffer is full: the next EPOLLOUT edge goes on from here.
      write_blocked_ = true;
      written_ = written;
      ArmTimer(front_.limits.write_timeout_ms);
      return;
    }
    if (n < 0) return Close();
    written += static_cast<size_t>(n);
  }
  OnWritten();
}

void Connection::OnWritten() {
  auto& m = front_.metrics;
  m.CountRequest(endpoint_, out_->status);
  if (out_->error) m.CountError(*out_->error);
  // Counted here, as written, with the deliveries below: responses per delivered message.
  if (endpoint_ == metrics::Endpoint::kPoll && out_->status == 200) {
    metrics::Bump(m.poll_responses, 1);
    metrics::Bump(m.poll_deliveries, out_->messages);
  }
  if (out_->messages) {
    metrics::Bump(m.deliveries, out_->messages);
    if (!out_->accepted_ns.empty()) {
      int64_t now = SteadyNowNs();
      for (int64_t t : out_->accepted_ns) m.delivery_latency.Observe((now - t) / 1e9);
    }
  }
  out_.reset();
  if (close_after_write_ || peer_closed_) return Close();
  state_ = State::kReading;
  if (!in_.empty()) {
    ArmTimer(front_.limits.read_timeout_ms);
    if (parsing_) return;  // the Parse() this answer came from goes on
    Parse();
    if (state_ != State::kReading) return;
  } else {
    ArmTimer(front_.limits.idle_timeout_ms);
  }
  if (readable_) ReadAvailable();  // reading stopped while the answer was pending
}

void Connection::PeerGone() {
  // The client closed (or the socket failed). A held poll is released at its room; any other
  // request in progress is answered into the void and the connection then closes.
  if (edge_waiting()) return Close();
  if (state_ == State::kProcessing && !poll_room_.empty()) {
    front_.router.CancelPoll(poll_room_, shared_from_this(), serial_);
  }
  if (state_ == State::kProcessing || state_ == State::kWriting) {
    peer_closed_ = true;
    if (!poll_room_.empty()) Close();
    return;
  }
  Close();
}

void Connection::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  room::CancelEdgeWait(*this);
  front_.wheel.Cancel(timer_);
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);  // also leaves the loop's epoll set
    fd_ = -1;
  }
  parser_.reset();
  in_.clear();
  in_.shrink_to_fit();
  out_.reset();
  front_.open_count.fetch_sub(1, std::memory_order_relaxed);
  front_.metrics.open_connections.fetch_sub(1, std::memory_order_relaxed);
  if (open_hook.is_linked()) front_.open.erase(front_.open.iterator_to(*this));
  // Whoever called may still be using this connection: let it go at the end of the turn.
  if (self_) front_.loop->Post([keep = std::move(self_)] {});
}

}  // namespace chatroomd::http
