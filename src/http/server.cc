#include "chatroomd/http/server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>

#include "http/address_limit.h"
#include "http/connection.h"
#include "http/front_loop.h"
#include "http/router.h"

namespace chatroomd::http {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Sent to a connection refused at a connection limit, then the socket is closed.
std::string RefusalBytes(ErrorCode code, std::string message) {
  WirePtr w = MakeErrorWire(MakeError(code, std::move(message), 1), BodyFormat::kJson);
  return w->head + "Connection: close\r\n" + w->tail;
}

// Answers `refusal` on a fresh socket, as far as its buffer takes it, and closes it.
void Refuse(tcp::socket& socket, const std::string& refusal) {
  error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(refusal), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

}  // namespace

struct HttpServer::Impl {
  explicit Impl(ServerDeps d) : deps(std::move(d)) {
    const auto& h = deps.config->main.http();
    limits.max_header_bytes = h.max_header_bytes();
    limits.max_body_bytes = h.max_body_bytes();
    limits.read_timeout_ms = h.read_timeout_ms();
    limits.idle_timeout_ms = h.idle_timeout_ms();
    limits.write_timeout_ms = h.write_timeout_ms();
    max_connections = h.max_connections();
    if (h.max_connections_per_ip() > 0) {
      per_address = std::make_unique<AddressLimit>(h.max_connections_per_ip());
    }
    router = std::make_unique<Router>(deps);
    for (uint32_t i = 0; i < std::max<uint32_t>(1, h.io_threads()); ++i) {
      fronts.push_back(std::make_unique<FrontLoop>(i, deps.registry->NewSlot(), deps.rooms, *router,
                                                   limits, open));
    }
  }

  void Accept(tcp::acceptor& acceptor) {
    FrontLoop& target = *fronts[next_front++ % fronts.size()];
    acceptor.async_accept(target.loop->context(),
                          [this, &acceptor, &target](const error_code& ec, tcp::socket socket) {
                            if (ec == asio::error::operation_aborted) return;
                            if (!ec)
                              Admit(target, std::move(socket));
                            else if (ec != asio::error::connection_aborted)
                              spdlog::warn("accept: {}", ec.message());
                            // Out of descriptors: back off a moment instead of spinning.
                            if (ec == asio::error::no_descriptors) {
                              auto timer = std::make_shared<asio::steady_timer>(
                                  acceptor.get_executor(), std::chrono::milliseconds(50));
                              timer->async_wait([this, &acceptor, timer](const error_code& e) {
                                if (!e && accepting) Accept(acceptor);
                              });
                              return;
                            }
                            if (accepting) Accept(acceptor);
                          });
  }

  void Admit(FrontLoop& front, tcp::socket socket) {
    std::unique_ptr<AddressSlot> slot;
    if (per_address) {
      error_code ec;
      const tcp::endpoint peer = socket.remote_endpoint(ec);
      if (ec) return;  // gone already
      const AddressLimit::Key key = AddressLimit::KeyOf(peer.address());
      if (!per_address->TryTake(key)) {
        static const std::string kRefusal =
            RefusalBytes(ErrorCode::kRateLimited, "too many connections from this address");
        front.metrics.CountRefusal(metrics::Refusal::kMaxConnectionsPerIp);
        return Refuse(socket, kRefusal);
      }
      slot = std::make_unique<AddressSlot>(*per_address, key);
    }
    if (open.fetch_add(1, std::memory_order_relaxed) >= static_cast<int64_t>(max_connections)) {
      open.fetch_sub(1, std::memory_order_relaxed);
      static const std::string kRefusal =
          RefusalBytes(ErrorCode::kOverloaded, "too many open connections");
      front.metrics.CountRefusal(metrics::Refusal::kMaxConnections);
      return Refuse(socket, kRefusal);
    }
    // The connection does its own I/O on the front loop's epoll set: take the descriptor
    // out of Asio's hands, then start the connection on its loop.
    error_code ec;
    int fd = socket.release(ec);
    if (ec) {
      spdlog::warn("accept: cannot take the socket: {}", ec.message());
      open.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    // Closed with the handler if the loop stops before it runs.
    struct PendingFd {
      int fd = -1;
      ~PendingFd() {
        if (fd >= 0) ::close(fd);
      }
    };
    auto pending = std::make_shared<PendingFd>();
    pending->fd = fd;
    front.loop->Post([&front, pending, slot = std::move(slot)]() mutable {
      auto conn = std::make_shared<Connection>(front, pending->fd);
      pending->fd = -1;
      if (slot) conn->set_address_slot(std::move(slot));
      conn->Start();
    });
  }

  // Declaration order matters: connections still queued in a front loop are destroyed with
  // it, and they use `open` and the router, which must outlive the loops.
  ServerDeps deps;
  FrontLimits limits;
  uint32_t max_connections = 0;
  std::unique_ptr<AddressLimit> per_address;  // http.max_connections_per_ip, when on
  std::atomic<int64_t> open{0};
  std::atomic<bool> accepting{false};
  size_t next_front = 0;
  std::unique_ptr<Router> router;
  std::vector<std::unique_ptr<FrontLoop>> fronts;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
};

HttpServer::HttpServer(ServerDeps deps) : impl_(std::make_unique<Impl>(std::move(deps))) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::vector<tcp::endpoint>> HttpServer::Listen() {
  std::vector<tcp::endpoint> bound;
  // Acceptors live on the first front loop.
  auto& context = impl_->fronts[0]->loop->context();
  for (const auto& l : impl_->deps.config->main.listeners()) {
    error_code ec;
    std::string host = l.host() == "localhost" ? "127.0.0.1" : l.host();
    auto address = asio::ip::make_address(host, ec);
    if (ec)
      return MakeError(ErrorCode::kInternal, "listener host " + l.host() + ": " + ec.message());
    tcp::endpoint endpoint(address, static_cast<uint16_t>(l.port()));
    auto acceptor = std::make_unique<tcp::acceptor>(context);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec)
      acceptor->listen(static_cast<int>(impl_->deps.config->main.http().listen_backlog()), ec);
    if (ec) {
      return MakeError(ErrorCode::kInternal, "cannot listen on " + l.host() + ":" +
                                                 std::to_string(l.port()) + ": " + ec.message());
    }
    bound.push_back(acceptor->local_endpoint());
    impl_->acceptors.push_back(std::move(acceptor));
  }
  return bound;
}

void HttpServer::Start() {
  impl_->accepting = true;
  for (auto& front : impl_->fronts) {
    front->loop->Start();
    FrontLoop* f = front.get();
    front->loop->Post([f] { f->WatchSockets(); });
  }
  auto* impl = impl_.get();
  impl->fronts[0]->loop->Post([impl] {
    for (auto& a : impl->acceptors) impl->Accept(*a);
  });
}

void HttpServer::Reconfigure(const config::Config& config) { impl_->router->Reconfigure(config); }

void HttpServer::StopAccepting() {
  auto* impl = impl_.get();
  impl->accepting = false;
  if (impl->fronts.empty()) return;
  impl->fronts[0]->loop->Post([impl] {
    for (auto& a : impl->acceptors) {
      error_code ec;
      a->close(ec);
    }
  });
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->accepting = false;
  for (auto& front : impl_->fronts) front->loop->Abort();
  impl_->acceptors.clear();
}

std::vector<Loop*> HttpServer::loops() const {
  std::vector<Loop*> out;
  for (auto& front : impl_->fronts) out.push_back(front->loop.get());
  return out;
}

int64_t HttpServer::open_connections() const { return impl_->open.load(); }

}  // namespace chatroomd::http
