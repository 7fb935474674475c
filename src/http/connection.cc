#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cassert>
#include <span>

#include "front.h"

namespace chatroomd::http {

namespace asio = boost::asio;
using boost::system::error_code;

FrontLoop::FrontLoop(uint32_t index, metrics::ThreadMetrics& m, sect::RoomService* rooms)
    : loop(std::make_unique<Loop>("http-" + std::to_string(index), index)),
      wheel(loop->context(), 10, 8192),
      metrics(m),
      scratch(64 * 1024),
      edge(*loop, rooms, m) {}

Connection::Connection(FrontLoop& front, Router& router, asio::ip::tcp::socket socket,
                       const FrontLimits& limits, std::atomic<int64_t>& open_count)
    : front_(front),
      router_(router),
      socket_(std::move(socket)),
      limits_(limits),
      open_count_(open_count) {
  timer_.fire = &Connection::OnTimer;
  timer_.owner = this;
}

Connection::~Connection() {
  // A connection may outlive its wheel at shutdown (the wheel clears its nodes first).
  if (timer_.is_linked()) front_.wheel.Cancel(timer_);
  if (state_ != State::kClosed) {
    open_count_.fetch_sub(1, std::memory_order_relaxed);
    front_.metrics.open_connections.fetch_sub(1, std::memory_order_relaxed);
  }
}

void Connection::Start() {
  error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  front_.metrics.open_connections.fetch_add(1, std::memory_order_relaxed);
  ArmTimer(limits_.idle_timeout_ms);
  WaitReadable();
}

void Connection::ArmTimer(int64_t timeout_ms) {
  front_.wheel.Schedule(timer_, TimerWheel::NowMs() + timeout_ms);
}

void Connection::CancelTimer() { front_.wheel.Cancel(timer_); }

void Connection::OnTimer(TimerNode* node) {
  Connection* self = static_cast<ConnTimer*>(node)->owner;
  auto keep = self->shared_from_this();
  // The poll the edge holds timed out.
  if (self->edge_wait_.hook.is_linked()) return self->front_.edge.Expire(*self);
  // Otherwise: a request that did not arrive whole, an idle keep-alive connection, or a
  // client that does not read its answer.
  self->Close();
}

void Connection::WaitReadable() {
  if (waiting_readable_ || state_ == State::kClosed) return;
  waiting_readable_ = true;
  // A read with a real (small, inline) buffer rather than a readiness wait: Asio re-arms a
  // readiness wait with an epoll_ctl each time, a read op rides on the edge-triggered
  // registration the socket already has. A typical poll request fits in the buffer.
  socket_.async_read_some(asio::buffer(inbuf_),
                          [self = shared_from_this()](const error_code& ec, size_t n) {
                            self->waiting_readable_ = false;
                            self->OnRead(ec, n);
                          });
}

void Connection::OnRead(const error_code& ec, size_t n) {
  if (state_ == State::kClosed) return;
  if (ec) return PeerGone();
  Take(inbuf_.data(), n);
  if (state_ == State::kClosed) return;
  if (n == inbuf_.size()) {
    // The buffer filled up: take the rest that is already there.
    size_t cap = limits_.max_header_bytes + limits_.max_body_bytes;
    for (;;) {
      if (state_ != State::kReading && in_.size() >= cap) return;  // resume after the answer
      error_code rec;
      size_t got = socket_.read_some(asio::buffer(front_.scratch), rec);
      if (rec == asio::error::would_block || rec == asio::error::try_again) break;
      if (rec) return PeerGone();
      Take(front_.scratch.data(), got);
      if (state_ == State::kClosed) return;
      if (got < front_.scratch.size()) break;
    }
  }
  // While a request is being answered, buffer what comes (pipelined requests) but only up to
  // one more request's worth; past that, stop reading until the answer is out.
  if (state_ != State::kReading &&
      in_.size() >= limits_.max_header_bytes + limits_.max_body_bytes) {
    return;
  }
  WaitReadable();
}

void Connection::Take(const char* data, size_t n) {
  if (in_.empty() && state_ == State::kReading && !parser_) {
    // First bytes of a request: it must now arrive whole within the read timeout.
    ArmTimer(limits_.read_timeout_ms);
  }
  in_.append(data, n);
  if (state_ == State::kReading) Parse();
}

void Connection::Parse() {
  while (state_ == State::kReading && !in_.empty()) {
    if (!parser_) {
      parser_ = std::make_unique<RequestParser>();
      parser_->header_limit(limits_.max_header_bytes);
      parser_->body_limit(limits_.max_body_bytes);
      parser_->eager(true);
    }
    error_code ec;
    size_t used = parser_->put(asio::buffer(in_), ec);
    in_.erase(0, used);
    if (ec == beast_http::error::need_more) {
      if (in_.size() > limits_.max_header_bytes + limits_.max_body_bytes + 1024) {
        return Fail(400, ErrorCode::kBadRequest, "request too large");
      }
      return;  // wait for more bytes
    }
    if (ec == beast_http::error::header_limit) {
      return Fail(431, ErrorCode::kHeadersTooLarge, "request headers exceed the limit");
    }
    if (ec == beast_http::error::body_limit) {
      return Fail(413, ErrorCode::kPayloadTooLarge, "request body exceeds the limit");
    }
    if (ec) return Fail(400, ErrorCode::kBadRequest, "malformed HTTP request: " + ec.message());
    if (!parser_->is_done()) return;
    Request request = std::move(parser_->request());
    parser_.reset();
    // A held poll should cost no buffer: give back what the request needed.
    if (in_.empty() && in_.capacity() > 64) std::string().swap(in_);
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
}

void Connection::Fail(int status, ErrorCode code, std::string message) {
  // The stream can no longer be trusted: answer and close.
  parser_.reset();
  in_.clear();
  close_after_write_ = true;
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
  router_.Handle(*this, request);
}

void Connection::ReplyLater(WirePtr response) {
  loop().Post([self = shared_from_this(), serial = serial_, response = std::move(response)] {
    self->Deliver(serial, response);
  });
}

void Connection::Deliver(uint64_t serial, WirePtr response) {
  assert(front_.loop->InLoop());
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
  std::array<asio::const_buffer, 3> parts = {
      asio::buffer(out_->head),
      out_close_header_ ? asio::buffer(kClose.data(), kClose.size()) : asio::const_buffer(),
      asio::buffer(out_->tail)};
  size_t total = out_->head.size() + (out_close_header_ ? kClose.size() : 0) + out_->tail.size();
  while (written < total) {
    std::array<asio::const_buffer, 3> rest;
    size_t skip = written, k = 0;
    for (const auto& p : parts) {
      if (skip >= p.size()) {
        skip -= p.size();
        continue;
      }
      rest[k++] = p + skip;
      skip = 0;
    }
    error_code ec;
    size_t n = socket_.write_some(std::span(rest.data(), k), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ArmTimer(limits_.write_timeout_ms);
      socket_.async_wait(asio::ip::tcp::socket::wait_write,
                         [self = shared_from_this(), written](const error_code& wec) {
                           if (self->state_ == State::kClosed) return;
                           if (wec) return self->Close();
                           self->WriteMore(written);
                         });
      return;
    }
    if (ec) return Close();
    written += n;
  }
  OnWritten();
}

void Connection::OnWritten() {
  auto& m = front_.metrics;
  m.CountRequest(endpoint_, out_->status);
  if (out_->messages) {
    m.deliveries.fetch_add(out_->messages, std::memory_order_relaxed);
    if (!out_->accepted_ns.empty()) {
      int64_t now = SteadyNowNs();
      for (int64_t t : out_->accepted_ns) m.delivery_latency.Observe((now - t) / 1e9);
    }
  }
  out_.reset();
  if (close_after_write_ || peer_closed_) return Close();
  state_ = State::kReading;
  if (!in_.empty()) {
    ArmTimer(limits_.read_timeout_ms);
    Parse();
    if (state_ != State::kReading) return;
  } else {
    ArmTimer(limits_.idle_timeout_ms);
  }
  WaitReadable();
}

void Connection::PeerGone() {
  // The client closed (or the socket failed). A held poll is released at its room; any other
  // request in progress is answered into the void and the connection then closes.
  if (edge_wait_.hook.is_linked()) return Close();
  if (state_ == State::kProcessing && !poll_room_.empty()) {
    router_.CancelPoll(poll_room_, std::static_pointer_cast<room::Client>(shared_from_this()),
                       serial_);
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
  front_.edge.Cancel(*this);
  front_.wheel.Cancel(timer_);
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  parser_.reset();
  in_.clear();
  in_.shrink_to_fit();
  out_.reset();
  open_count_.fetch_sub(1, std::memory_order_relaxed);
  front_.metrics.open_connections.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace chatroomd::http
