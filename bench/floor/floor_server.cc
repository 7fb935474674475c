// floor_server: the floor of the long-poll benchmark, the least work this box can do for
// crload --target chatroomd. One thread, raw non-blocking epoll (edge triggered), keep-alive,
// just enough HTTP and JSON for join, poll and send (bench/README.md). A held poll costs one
// Conn slot (indexed by fd) and one waiter entry: no timer, no buffer. A publish builds ONE
// response and writes the same bytes to every held poll of the room. The cursor is the room's
// seq, and each room keeps its last 2000 messages, so a poller that was between two polls when
// a message came gets it on its next poll (built for that poll alone): the floor loses nothing,
// and its latency counts those late deliveries too. Not a product: no timeouts, no auth, no
// persistence, no limits beyond the 64 KiB request cap.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kMaxRequestBytes = 64 * 1024;
constexpr size_t kWindow = 2000;      // recent messages kept per room, like chatroomd's default
constexpr uint64_t kMaxLimit = 1000;  // most messages in one poll response

struct Room;

// One per fd. `in` holds only an incomplete request (usually empty), `out` only the unsent
// tail of a response the kernel would not take at once (usually empty).
struct Conn {
  std::string in;
  std::string out;
  Room* held = nullptr;  // the room whose next message answers this connection's poll
  uint32_t gen = 0;      // bumped on close, so stale waiter entries are skipped
  bool open = false;
};

struct Waiter {
  int fd;
  uint32_t gen;
};

struct Room {
  uint64_t seq = 0;
  std::vector<Waiter> waiters;
  std::deque<std::string> recent;  // JSON objects of messages seq-recent.size()+1 .. seq
};

int g_epoll = -1;
std::vector<Conn> g_conns;
std::unordered_map<std::string, Room> g_rooms;
std::vector<int> g_resume;  // connections answered while they had more input buffered
std::string g_message;      // the response built once per published message

void CloseConn(int fd) {
  Conn& c = g_conns[fd];
  ::close(fd);  // also removes it from the epoll set
  c.open = false;
  c.held = nullptr;
  ++c.gen;
  std::string().swap(c.in);
  std::string().swap(c.out);
}

// Writes `data` or queues what the socket would not take; false if the connection died.
bool Send(int fd, std::string_view data) {
  Conn& c = g_conns[fd];
  if (!c.out.empty()) {
    c.out.append(data);
    return true;
  }
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c.out.assign(data);  // EPOLLOUT (edge) tells us when to go on
      return true;
    } else {
      CloseConn(fd);
      return false;
    }
  }
  return true;
}

void Flush(int fd) {
  Conn& c = g_conns[fd];
  std::string pending;
  pending.swap(c.out);
  Send(fd, pending);
}

void AppendResponse(std::string& out, const char* status, std::string_view json) {
  out.append("HTTP/1.1 ").append(status);
  out.append("\r\nContent-Type: application/json\r\nContent-Length: ");
  out.append(std::to_string(json.size())).append("\r\n\r\n").append(json);
}

bool Reply(int fd, const char* status, std::string_view json) {
  std::string r;
  AppendResponse(r, status, json);
  return Send(fd, r);
}

// Content-Length from the header block, 0 if absent; -1 if malformed.
long ContentLength(std::string_view head) {
  static constexpr std::string_view kName = "\r\ncontent-length:";
  for (size_t i = 0; i + kName.size() <= head.size(); ++i) {
    size_t k = 0;
    while (k < kName.size()) {
      char ch = head[i + k];
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
      if (ch != kName[k]) break;
      ++k;
    }
    if (k != kName.size()) continue;
    size_t p = i + k;
    while (p < head.size() && head[p] == ' ') ++p;
    long v = 0;
    size_t digits = 0;
    for (; p < head.size() && head[p] >= '0' && head[p] <= '9'; ++p, ++digits) {
      v = v * 10 + (head[p] - '0');
      if (v > static_cast<long>(kMaxRequestBytes)) return -1;
    }
    return digits ? v : -1;
  }
  return 0;
}

// The raw (still JSON-escaped) text of the "body" string in a send request.
std::string_view BodyField(std::string_view json) {
  size_t k = json.find("\"body\"");
  if (k == std::string_view::npos) return {};
  size_t q = json.find('"', json.find(':', k + 6));
  if (q == std::string_view::npos) return {};
  size_t end = q + 1;
  while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
  if (end >= json.size()) return {};
  return json.substr(q + 1, end - q - 1);
}

// A poll response carrying `messages` (comma-separated JSON objects).
std::string PollJson(uint64_t cursor, std::string_view messages, bool gap) {
  std::string json;
  json.reserve(96 + messages.size());
  json.append("{\"room\":\"r\",\"cursor\":\"").append(std::to_string(cursor));
  json.append("\",\"messages\":[").append(messages).append("],\"gap\":");
  json.append(gap ? "true" : "false").append(",\"online\":\"0\",\"next_poll_ms\":0}");
  return json;
}

// The messages after `cursor` (at most kMaxLimit, the newest), for a poll that came late.
std::string Backlog(const Room& room, uint64_t cursor) {
  uint64_t first = room.seq - room.recent.size() + 1;  // oldest kept
  uint64_t newest_limit = room.seq >= kMaxLimit ? room.seq - kMaxLimit + 1 : 1;
  uint64_t from = std::max({cursor + 1, first, newest_limit});
  std::string messages;
  for (uint64_t s = from; s <= room.seq; ++s) {
    if (!messages.empty()) messages.push_back(',');
    messages.append(room.recent[s - first]);
  }
  return PollJson(room.seq, messages, from > cursor + 1);
}

void Publish(Room& room, std::string_view body) {
  ++room.seq;
  std::string message;
  message.reserve(96 + body.size());
  message.append("{\"seq\":\"").append(std::to_string(room.seq));
  message.append("\",\"priority\":false,\"sender\":\"s\",\"type\":\"text\",\"body\":\"");
  message.append(body).append("\",\"ts_ms\":\"0\"}");
  g_message.clear();
  AppendResponse(g_message, "200 OK", PollJson(room.seq, message, false));
  room.recent.push_back(std::move(message));
  if (room.recent.size() > kWindow) room.recent.pop_front();
  std::vector<Waiter> waiters;
  waiters.swap(room.waiters);
  for (const Waiter& w : waiters) {
    Conn& c = g_conns[w.fd];
    if (!c.open || c.gen != w.gen || c.held != &room) continue;
    c.held = nullptr;
    if (Send(w.fd, g_message) && !c.in.empty()) g_resume.push_back(w.fd);
  }
  // Keep the capacity: the room's pollers come straight back.
  if (room.waiters.empty()) {
    waiters.clear();
    room.waiters.swap(waiters);
  }
}

// Handles one complete request; false if the connection was closed.
bool Handle(int fd, std::string_view head, std::string_view body) {
  size_t sp = head.find(' ');
  if (sp == std::string_view::npos) return Reply(fd, "400 Bad Request", "{}");
  std::string_view method = head.substr(0, sp);
  std::string_view target = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
  static constexpr std::string_view kPrefix = "/v1/rooms/";
  if (target.substr(0, kPrefix.size()) != kPrefix) return Reply(fd, "404 Not Found", "{}");
  target.remove_prefix(kPrefix.size());
  size_t slash = target.find('/');
  if (slash == std::string_view::npos) return Reply(fd, "404 Not Found", "{}");
  std::string_view name = target.substr(0, slash);
  std::string_view action = target.substr(slash + 1);
  std::string_view query;
  if (size_t q = action.find('?'); q != std::string_view::npos) {
    query = action.substr(q + 1);
    action = action.substr(0, q);
  }
  auto it = g_rooms.find(std::string(name));
  if (it == g_rooms.end()) it = g_rooms.emplace(std::string(name), Room{}).first;
  Room& room = it->second;
  if (method == "GET" && action == "poll") {
    // cursor=N (digits): answered at once if the room is past N; anything else waits for news.
    uint64_t cursor = room.seq;
    size_t k = query.find("cursor=");
    if (k != std::string_view::npos && (k == 0 || query[k - 1] == '&')) {
      uint64_t v = 0;
      size_t p = k + 7, digits = 0;
      for (; p < query.size() && query[p] >= '0' && query[p] <= '9'; ++p, ++digits) {
        v = v * 10 + static_cast<uint64_t>(query[p] - '0');
      }
      if (digits > 0 && (p == query.size() || query[p] == '&') && v < room.seq) cursor = v;
    }
    if (cursor < room.seq) return Reply(fd, "200 OK", Backlog(room, cursor));
    g_conns[fd].held = &room;
    room.waiters.push_back({fd, g_conns[fd].gen});
    return true;
  }
  if (method == "POST" && action == "join") {
    return Reply(fd, "200 OK",
                 "{\"room\":\"r\",\"cursor\":\"" + std::to_string(room.seq) +
                     "\",\"messages\":[],\"online\":\"0\",\"next_poll_ms\":0}");
  }
  if (method == "POST" && action == "messages") {
    uint32_t gen = g_conns[fd].gen;
    Publish(room, BodyField(body));
    if (!g_conns[fd].open || g_conns[fd].gen != gen) return false;
    std::string json = "{\"seq\":\"" + std::to_string(room.seq) + "\",\"duplicate\":false}";
    return Reply(fd, "200 OK", json);
  }
  return Reply(fd, "404 Not Found", "{}");
}

// Runs every complete request in `c.in` until one is held; false if the connection closed.
bool Process(int fd) {
  Conn& c = g_conns[fd];
  size_t used = 0;
  bool alive = true;
  while (alive && !c.held) {
    std::string_view rest(c.in.data() + used, c.in.size() - used);
    size_t end = rest.find("\r\n\r\n");
    if (end == std::string_view::npos) break;
    long len = ContentLength(rest.substr(0, end + 2));
    if (len < 0) {
      CloseConn(fd);
      return false;
    }
    size_t total = end + 4 + static_cast<size_t>(len);
    if (rest.size() < total) break;
    // Handle may grow c.in's siblings but never c.in itself, so the views stay valid.
    alive = Handle(fd, rest.substr(0, end), rest.substr(end + 4, static_cast<size_t>(len)));
    used += total;
  }
  if (!alive) return false;
  c.in.erase(0, used);
  if (c.in.size() > kMaxRequestBytes) {
    CloseConn(fd);
    return false;
  }
  return true;
}

void OnReadable(int fd) {
  Conn& c = g_conns[fd];
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) break;  // drained; ET re-arms on new data
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      CloseConn(fd);  // EOF or error; a held poll's waiter entry goes stale
      return;
    }
  }
  Process(fd);
}

void OnAccept(int listen_fd) {
  for (;;) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) std::perror("floor_server: accept");
      return;
    }
    if (static_cast<size_t>(fd) >= g_conns.size()) g_conns.resize(fd + 1024);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (::epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    g_conns[fd].open = true;
  }
}

int Listen(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4096) != 0) {
    std::perror("floor_server: bind/listen");
    std::exit(1);
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on 127.0.0.1:%u\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  long port = -1;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::strtol(argv[i + 1], nullptr, 10);
  }
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: floor_server --port P   (0 = any free port)\n");
    return 2;
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  g_conns.resize(rl.rlim_cur > 0 && rl.rlim_cur < (1u << 20) ? rl.rlim_cur : 65536);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sig_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

  g_epoll = ::epoll_create1(EPOLL_CLOEXEC);
  int listen_fd = Listen(static_cast<uint16_t>(port));
  for (int fd : {listen_fd, sig_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &ev);
  }

  std::vector<epoll_event> events(1024);
  for (;;) {
    int n = ::epoll_wait(g_epoll, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      uint32_t ev = events[i].events;
      if (fd == sig_fd) return 0;
      if (fd == listen_fd) {
        OnAccept(listen_fd);
        continue;
      }
      if (!g_conns[fd].open) continue;  // closed earlier in this batch
      if ((ev & EPOLLOUT) && !g_conns[fd].out.empty()) Flush(fd);
      if (g_conns[fd].open && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        OnReadable(fd);
      }
    }
    while (!g_resume.empty()) {
      int fd = g_resume.back();
      g_resume.pop_back();
      if (g_conns[fd].open && !g_conns[fd].held) Process(fd);
    }
  }
}
