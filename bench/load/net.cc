#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace crload {

bool ParseLoopbackHost(const std::string& host, in_addr& out) {
  std::string h = host == "localhost" ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, h.c_str(), &out) != 1) return false;
  return (ntohl(out.s_addr) >> 24) == 127;
}

in_addr SourceAddress(uint32_t i) {
  in_addr a;
  a.s_addr = htonl(0x7F000002u + (i % 0xFFFFFDu));
  return a;
}

int StartConnect(const in_addr* src, const sockaddr_in& dst) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (src != nullptr) {
    // Defer the port choice to connect(): the kernel then needs only the 4-tuple to be unique.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr = *src;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0 &&
      errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

bool WriteAll(int fd, std::string_view data) {
  ssize_t n;
  do {
    n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(data.size());
}

namespace {

bool WriteBlocking(int fd, const char* p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool ReadBlocking(int fd, char* p, size_t len) {
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool SendFrame(int fd, uint32_t type, const void* data, uint32_t len) {
  uint32_t hdr[2] = {type, len};
  return WriteBlocking(fd, reinterpret_cast<const char*>(hdr), sizeof hdr) &&
         WriteBlocking(fd, static_cast<const char*>(data), len);
}

bool ReadFrame(int fd, uint32_t& type, std::string& payload) {
  uint32_t hdr[2];
  if (!ReadBlocking(fd, reinterpret_cast<char*>(hdr), sizeof hdr)) return false;
  type = hdr[0];
  payload.resize(hdr[1]);
  return ReadBlocking(fd, payload.data(), hdr[1]);
}

uint64_t RaiseFileLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

}  // namespace crload
