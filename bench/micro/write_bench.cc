// The write side of a fan-out: one response written to N = 1000 connected sockets, as the
// front loop does after a wake. "shared" writes the one pre-built WireResponse (head and tail,
// writev) to every socket, as the daemon does; "copy" first gives every socket its own
// std::string (allocated, filled, written, freed), as a server with a buffer per connection
// would. A reader thread drains the other ends (epoll), so the socket buffers do not fill up.
// The timed part is the writer's loop only; each round waits, untimed, until all was read.
// Wall time includes waiting for a CPU (the reader thread, and anything else on the machine);
// `cpu_ns_per_socket` is the writer thread's own CPU time (syscalls, copies, page faults).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/metrics/metrics.h"
#include "fixtures.h"

namespace chatroomd::bench {
namespace {

constexpr int kSockets = 1000;

int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// N connected socket pairs; the reader ends are drained by a thread.
class SocketFarm {
 public:
  SocketFarm(int n, bool tcp) {
    if (tcp ? !ConnectTcp(n) : !ConnectUnix(n)) return;
    for (int fd : writers_) SetNonBlocking(fd);
    epoll_ = ::epoll_create1(0);
    stop_ = ::eventfd(0, EFD_NONBLOCK);
    Watch(stop_);
    for (int fd : readers_) {
      SetNonBlocking(fd);
      Watch(fd);
    }
    reader_ = std::thread([this] { Drain(); });
    ok_ = true;
  }

  ~SocketFarm() {
    if (reader_.joinable()) {
      uint64_t one = 1;
      (void)!::write(stop_, &one, sizeof one);
      reader_.join();
    }
    for (int fd : writers_) ::close(fd);
    for (int fd : readers_) ::close(fd);
    if (epoll_ >= 0) ::close(epoll_);
    if (stop_ >= 0) ::close(stop_);
  }

  bool ok() const { return ok_; }
  const std::vector<int>& writers() const { return writers_; }
  uint64_t read_bytes() const { return read_.load(std::memory_order_acquire); }

 private:
  bool ConnectUnix(int n) {
    for (int i = 0; i < n; ++i) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return false;
      writers_.push_back(sv[0]);
      readers_.push_back(sv[1]);
    }
    return true;
  }

  // Loopback TCP: the server side (accepted, TCP_NODELAY as the daemon sets it) writes.
  bool ConnectTcp(int n) {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 1024) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(listener);
      return false;
    }
    for (int i = 0; i < n; ++i) {
      int c = ::socket(AF_INET, SOCK_STREAM, 0);
      if (::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(c);
        ::close(listener);
        return false;
      }
      int s = ::accept(listener, nullptr, nullptr);
      int on = 1;
      ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      writers_.push_back(s);
      readers_.push_back(c);
    }
    ::close(listener);
    return true;
  }

  void Watch(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  void Drain() {
    std::vector<epoll_event> events(256);
    std::vector<char> buf(1 << 16);
    for (;;) {
      int k = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), -1);
      for (int i = 0; i < k; ++i) {
        int fd = events[i].data.fd;
        if (fd == stop_) return;
        for (;;) {
          ssize_t r = ::read(fd, buf.data(), buf.size());
          if (r <= 0) break;
          read_.fetch_add(static_cast<uint64_t>(r), std::memory_order_release);
        }
      }
    }
  }

  bool ok_ = false;
  std::vector<int> writers_;
  std::vector<int> readers_;
  int epoll_ = -1;
  int stop_ = -1;
  std::thread reader_;
  std::atomic<uint64_t> read_{0};
};

// Writes a (then b) from `offset` on; returns the new offset (EAGAIN leaves it as is).
size_t WriteFrom(int fd, std::string_view a, std::string_view b, size_t offset) {
  iovec iov[2];
  int k = 0;
  if (offset < a.size()) {
    iov[k++] = {const_cast<char*>(a.data()) + offset, a.size() - offset};
    if (!b.empty()) iov[k++] = {const_cast<char*>(b.data()), b.size()};
  } else {
    size_t skip = offset - a.size();
    iov[k++] = {const_cast<char*>(b.data()) + skip, b.size() - skip};
  }
  ssize_t n = ::writev(fd, iov, k);
  return n > 0 ? offset + static_cast<size_t>(n) : offset;
}

// range(0): messages in the response (40-byte bodies); range(1): 0 shared, 1 copy per
// socket; range(2): 0 unix socketpair, 1 loopback TCP.
void BM_FanoutWrite(benchmark::State& state) {
  const size_t msgs = static_cast<size_t>(state.range(0));
  const bool copy = state.range(1) != 0;
  const bool tcp = state.range(2) != 0;
  SocketFarm farm(kSockets, tcp);
  if (!farm.ok()) return state.SkipWithError("could not connect the sockets");

  auto owned = SampleMessages(msgs, 40);
  auto raw = Raw(owned);
  room::ResponseFields f;
  f.room = kRoom;
  f.cursor = EncodeCursor(kRoom, {owned.back()->seq, owned.back()->seq});
  f.messages = &raw;
  f.online = kSockets;
  const WirePtr wire = room::BuildMessagesResponse(f, BodyFormat::kJson);
  const size_t total = wire->head.size() + wire->tail.size();

  std::vector<size_t> pending;  // sockets whose write was partial
  std::vector<size_t> offsets(kSockets);
  uint64_t expected = farm.read_bytes();
  int64_t total_ns = 0, cpu_ns = 0;
  for (auto _ : state) {
    const int64_t cpu = ThreadCpuNs();
    const int64_t start = SteadyNowNs();
    pending.clear();
    std::vector<std::string> copies;
    if (copy) copies.resize(kSockets);
    for (size_t i = 0; i < kSockets; ++i) {
      int fd = farm.writers()[i];
      if (copy) {
        std::string& s = copies[i];
        s.reserve(total);
        s.append(wire->head);
        s.append(wire->tail);
        offsets[i] = WriteFrom(fd, s, {}, 0);
      } else {
        offsets[i] = WriteFrom(fd, wire->head, wire->tail, 0);
      }
      if (offsets[i] < total) pending.push_back(i);
    }
    // Full socket buffers: keep trying until the reader has made room (rare for one message).
    while (!pending.empty()) {
      sched_yield();
      size_t keep = 0;
      for (size_t i : pending) {
        int fd = farm.writers()[i];
        offsets[i] = copy ? WriteFrom(fd, copies[i], {}, offsets[i])
                          : WriteFrom(fd, wire->head, wire->tail, offsets[i]);
        if (offsets[i] < total) pending[keep++] = i;
      }
      pending.resize(keep);
    }
    copies.clear();
    copies.shrink_to_fit();
    const int64_t end = SteadyNowNs();
    cpu_ns += ThreadCpuNs() - cpu;
    total_ns += end - start;
    state.SetIterationTime(static_cast<double>(end - start) / 1e9);
    // Not timed: wait for the reader to empty the buffers.
    expected += static_cast<uint64_t>(kSockets) * total;
    while (farm.read_bytes() < expected) sched_yield();
  }
  state.SetItemsProcessed(state.iterations() * kSockets);
  state.SetBytesProcessed(state.iterations() * kSockets * static_cast<int64_t>(total));
  state.counters["ns_per_socket"] =
      static_cast<double>(total_ns) / static_cast<double>(state.iterations() * kSockets);
  state.counters["cpu_ns_per_socket"] =
      static_cast<double>(cpu_ns) / static_cast<double>(state.iterations() * kSockets);
  state.counters["response_bytes"] = static_cast<double>(total);
  state.SetLabel(std::string(tcp ? "tcp" : "unix") + (copy ? ", copy per socket" : ", shared"));
}
BENCHMARK(BM_FanoutWrite)
    ->ArgNames({"msgs", "copy", "tcp"})
    ->ArgsProduct({{1, 100}, {0, 1}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.2);

// The bookkeeping after each write (Connection::OnWritten): one delivery-latency histogram
// observation per message the response carries, on the front loop's own metrics slot.
void BM_DeliveryLatencyObserve(benchmark::State& state) {
  // A poll response keeps the accepted time of every live message it carries.
  std::vector<int64_t> accepted(static_cast<size_t>(state.range(0)), SteadyNowNs() - 3000000);
  metrics::ThreadMetrics m;
  for (auto _ : state) {
    m.CountRequest(metrics::Endpoint::kPoll, 200);
    m.deliveries.fetch_add(accepted.size(), std::memory_order_relaxed);
    int64_t now = SteadyNowNs();
    for (int64_t t : accepted) m.delivery_latency.Observe((now - t) / 1e9);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DeliveryLatencyObserve)->ArgName("msgs")->Arg(1)->Arg(100);

}  // namespace
}  // namespace chatroomd::bench
