#include "integration/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#ifndef CHATROOMD_BINARY
#error "CHATROOMD_BINARY must name the built daemon"
#endif

namespace chatroomd::it {
namespace {

namespace http = boost::beast::http;
namespace fs = std::filesystem;

constexpr auto kStartTimeout = 20s;
constexpr std::string_view kListeningPrefix = "listening on 127.0.0.1:";

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

bool ContainsSection(std::string_view text, std::string_view name) {
  // `name {` or `name:` at a word boundary; good enough for the harness's own overrides.
  for (size_t pos = text.find(name); pos != std::string_view::npos;
       pos = text.find(name, pos + 1)) {
    bool start_ok = pos == 0 || !(std::isalnum(static_cast<unsigned char>(text[pos - 1])) ||
                                  text[pos - 1] == '_');
    size_t after = pos + name.size();
    while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) ++after;
    if (start_ok && after < text.size() && (text[after] == '{' || text[after] == ':')) return true;
  }
  return false;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// > 0: bytes appended; 0: EOF; -1: reset/error; -2: deadline passed.
int ReadSome(int fd, std::string& buf, Clock::time_point deadline, bool* reset = nullptr) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, RemainingMs(deadline));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (rc == 0) return -2;
    char chunk[16384];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      return static_cast<int>(n);
    }
    if (n == 0) return 0;
    if (errno == EINTR || errno == EAGAIN) continue;
    if (reset) *reset = errno == ECONNRESET;
    return -1;
  }
}

bool SendAll(int fd, std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      int rc = ::poll(&p, 1, RemainingMs(deadline));
      if (rc <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

int ConnectLoopback(uint16_t port, std::string* error) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

Response FromMessage(http::response<http::string_body>&& msg) {
  Response r;
  r.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  r.keep_alive = msg.keep_alive();
  r.body = std::move(msg.body());
  return r;
}

// One response parser step over `in`. Returns true when a response is complete (erasing
// its bytes), false when more bytes are needed; sets `error` on a parse error.
struct Parse {
  std::optional<http::response_parser<http::string_body>> parser;

  void Reset() {
    parser.emplace();
    parser->eager(true);
    parser->header_limit(1 << 20);
    parser->body_limit(64ull << 20);
  }

  bool Feed(std::string& in, std::string* error) {
    if (!parser) Reset();
    while (!in.empty() && !parser->is_done()) {
      boost::beast::error_code ec;
      size_t n = parser->put(boost::asio::buffer(in.data(), in.size()), ec);
      in.erase(0, n);
      if (ec == http::error::need_more) break;
      if (ec) {
        *error = "bad HTTP response: " + ec.message();
        return false;
      }
      if (n == 0) break;
    }
    return parser->is_done();
  }

  bool Eof(std::string* error) {
    if (!parser) return false;
    // Beast completes an empty message on EOF when no byte came at all: that is no response.
    if (!parser->got_some()) {
      *error = "connection closed before any response byte";
      return false;
    }
    boost::beast::error_code ec;
    parser->put_eof(ec);
    if (ec) {
      *error = "connection closed before a complete response (" + ec.message() + ")";
      return false;
    }
    return parser->is_done();
  }
};

std::string SanitizeRoomPart(std::string_view text) {
  std::string out;
  for (char c : text) {
    out +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
  }
  return out;
}

bool ParseDecimal(const boost::json::value& v, uint64_t* out) {
  if (!v.is_string()) return false;
  const auto& s = v.as_string();
  if (s.empty() || s.size() > 20) return false;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = n;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Daemon

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/chatroomd-it-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
    return;
  }
  dir_ = buf.data();
  fs::create_directories(dir_ / "data");
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  JoinReader();
  if (::testing::Test::HasFailure() && !dir_.empty()) {
    std::cerr << "---- chatroomd stderr (" << dir_.string() << "/stderr.log) ----\n"
              << Tail(StderrText(), 6000) << "\n---- end of chatroomd stderr ----\n";
  }
  if (!dir_.empty() && std::getenv("CHATROOMD_IT_KEEP") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void Daemon::WriteConfig() {
  std::string main = "# Written by the integration-test harness.\n";
  if (!ContainsSection(options_.config, "auth")) main += "auth { enabled: false }\n";
  if (!ContainsSection(options_.config, "log")) main += "log { level: \"info\" }\n";
  main += "sects_file: \"sects.textproto\"\n";
  main += options_.config;
  main += "\n";
  WriteFile(config_path(), main);
  std::string sects = options_.sects.empty()
                          ? "sects { name: \"main\" threads: 1 ranges { start: 0 end: "
                            "18446744073709551615 } }\n"
                          : options_.sects;
  WriteFile(dir_ / "sects.textproto", sects);
}

std::string Daemon::StderrText() const { return ReadFile(dir_ / "stderr.log"); }

std::string Daemon::StdoutText() const {
  std::lock_guard lock(mu_);
  return stdout_;
}

void Daemon::JoinReader() {
  if (reader_.joinable()) reader_.join();
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

void Daemon::Reap(int status) {
  if (WIFEXITED(status)) {
    exit_status_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit_status_ = 128 + WTERMSIG(status);
  } else {
    exit_status_ = -1;
  }
  pid_ = -1;
  JoinReader();
}

::testing::AssertionResult Daemon::Start() {
  if (dir_.empty()) return ::testing::AssertionFailure() << "no temporary directory";
  if (pid_ > 0) return ::testing::AssertionFailure() << "already running (pid " << pid_ << ")";
  JoinReader();
  WriteConfig();
  ++starts_;
  port_ = 0;
  exit_status_ = -1;
  {
    std::lock_guard lock(mu_);
    stdout_.clear();
    stdout_eof_ = false;
  }
  {
    std::ofstream err(dir_ / "stderr.log", std::ios::app);
    err << "==== harness: start #" << starts_ << " ====\n";
  }

  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::string binary = CHATROOMD_BINARY;
  std::string config = config_path().string();
  std::string data = data_dir().string();
  std::string dir = dir_.string();
  std::string err_path = (dir_ / "stderr.log").string();
  std::vector<std::string> args = {binary,        "--config",   config, "--listen",
                                   "127.0.0.1:0", "--data-dir", data};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return ::testing::AssertionFailure() << "pipe2: " << std::strerror(errno);
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
  }
  if (pid == 0) {
    // Child: die with the test process, never outlive it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int null_fd = ::open("/dev/null", O_RDONLY);
    int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null_fd < 0 || err_fd < 0) ::_exit(127);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    if (::chdir(dir.c_str()) != 0) ::_exit(127);
    ::execv(argv[0], argv.data());
    static const char kMsg[] = "harness: execv failed\n";
    ssize_t ignored = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  pid_ = pid;
  stdout_fd_ = out_pipe[0];
  // Drains stdout for the life of the process, so that a chatty daemon never blocks on a full
  // pipe; the harness only looks for the `listening on` line.
  reader_ = std::thread([this, fd = stdout_fd_] {
    char chunk[4096];
    for (;;) {
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mu_);
      if (n <= 0) {
        stdout_eof_ = true;
        cv_.notify_all();
        return;
      }
      stdout_.append(chunk, static_cast<size_t>(n));
      cv_.notify_all();
    }
  });

  auto deadline = Clock::now() + kStartTimeout;
  std::unique_lock lock(mu_);
  for (;;) {
    size_t pos = 0;
    while (pos < stdout_.size()) {
      size_t eol = stdout_.find('\n', pos);
      if (eol == std::string::npos) break;
      std::string_view line(stdout_.data() + pos, eol - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.substr(0, kListeningPrefix.size()) == kListeningPrefix) {
        std::string_view port_text = line.substr(kListeningPrefix.size());
        unsigned long port = 0;
        bool digits = !port_text.empty() && port_text.size() <= 5 &&
                      std::all_of(port_text.begin(), port_text.end(),
                                  [](char c) { return c >= '0' && c <= '9'; });
        if (digits) port = std::stoul(std::string(port_text));
        if (!digits || port == 0 || port > 65535) {
          lock.unlock();
          return ::testing::AssertionFailure() << "bad listening line: " << line;
        }
        port_ = static_cast<uint16_t>(port);
        return ::testing::AssertionSuccess();
      }
      pos = eol + 1;
    }
    if (stdout_eof_) break;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && Clock::now() >= deadline) {
      break;
    }
  }
  bool eof = stdout_eof_;
  std::string out = stdout_;
  lock.unlock();

  std::string why;
  if (eof) {
    // The process closed stdout: it is exiting. Reap it to report how.
    int status = 0;
    auto reap_deadline = Clock::now() + 5s;
    pid_t r = 0;
    while ((r = ::waitpid(pid_, &status, WNOHANG)) == 0 && Clock::now() < reap_deadline) {
      std::this_thread::sleep_for(5ms);
    }
    if (r == pid_) {
      Reap(status);
      why = "chatroomd exited with status " + std::to_string(exit_status_) +
            " before printing `listening on`";
    } else {
      Kill9();
      why = "chatroomd closed stdout without printing `listening on`";
    }
  } else {
    Kill9();
    why = "chatroomd did not print `listening on 127.0.0.1:PORT` within 20 s";
  }
  return ::testing::AssertionFailure() << why << "\nbinary: " << binary << "\nconfig:\n"
                                       << ReadFile(config_path()) << "stdout:\n"
                                       << Tail(out, 2000) << "\nstderr:\n"
                                       << Tail(StderrText(), 4000);
}

void Daemon::Signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int Daemon::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;
  auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      Reap(status);
      return exit_status_;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      JoinReader();
      return -1;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(5ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  Reap(status);
  exit_status_ = -1;
  return -1;
}

int Daemon::Stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;
  Signal(signal);
  return Wait(timeout);
}

void Daemon::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  Reap(status);
}

bool Daemon::Exited() {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    Reap(status);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Response

std::string Response::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return "";
}

bool Response::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& kv) { return IEquals(kv.first, name); });
}

boost::json::value Response::Json() const {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) {
    ADD_FAILURE() << "response body is not JSON (" << ec.message() << "): " << *this;
    return nullptr;
  }
  return v;
}

std::string Response::ErrorCode() const {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return "";
  const auto* err = v.as_object().if_contains("error");
  if (!err || !err->is_object()) return "";
  const auto* code = err->as_object().if_contains("code");
  if (!code || !code->is_string()) return "";
  return std::string(code->as_string());
}

std::ostream& operator<<(std::ostream& os, const Response& r) {
  if (r.status == 0) return os << "[no response: " << r.error << "]";
  os << "[HTTP " << r.status;
  std::string ct = r.Header("Content-Type");
  if (!ct.empty()) os << ", " << ct;
  os << "] ";
  bool printable = std::all_of(r.body.begin(), r.body.end(), [](char c) {
    return c == '\n' || c == '\t' || static_cast<unsigned char>(c) >= 0x20;
  });
  if (printable) {
    os << Tail(r.body.size() > 600 ? r.body.substr(0, 600) + "..." : r.body, 700);
  } else {
    os << "<" << r.body.size() << " binary bytes>";
  }
  return os;
}

std::string DumpHeaders(const Response& r) {
  std::string out = "HTTP " + std::to_string(r.status) + "\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\n";
  return out;
}

std::vector<Response> ParseResponses(std::string_view bytes, bool eof) {
  std::vector<Response> out;
  std::string in(bytes);
  Parse parse;
  std::string error;
  while (!in.empty()) {
    parse.Reset();
    if (parse.Feed(in, &error)) {
      out.push_back(FromMessage(parse.parser->release()));
      continue;
    }
    if (!error.empty()) break;
    if (eof && parse.Eof(&error)) out.push_back(FromMessage(parse.parser->release()));
    break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Client

Client::Client(uint16_t port, std::chrono::milliseconds timeout) : port_(port), timeout_(timeout) {}

Client::~Client() { Close(); }

bool Client::Connect() {
  Close();
  fd_ = ConnectLoopback(port_, &last_error_);
  if (fd_ < 0) return false;
  ++connects_;
  return true;
}

void Client::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  in_.clear();
}

bool Client::PeerClosed() {
  if (fd_ < 0) return true;
  if (!in_.empty()) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char c;
  ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

bool Client::SendBytes(std::string_view bytes) {
  if (fd_ < 0 || PeerClosed()) {
    if (!Connect()) return false;
  }
  if (!SendAll(fd_, bytes, Clock::now() + timeout_)) {
    last_error_ = std::string("send failed: ") + std::strerror(errno);
    Close();
    return false;
  }
  return true;
}

Response Client::ReadResponse() {
  Response r;
  if (fd_ < 0) {
    r.error = "not connected (" + last_error_ + ")";
    return r;
  }
  auto deadline = Clock::now() + timeout_;
  Parse parse;
  parse.Reset();
  for (;;) {
    std::string error;
    if (parse.Feed(in_, &error)) break;
    if (!error.empty()) {
      r.error = error;
      Close();
      return r;
    }
    bool reset = false;
    int n = ReadSome(fd_, in_, deadline, &reset);
    if (n > 0) continue;
    if (n == 0 && parse.Eof(&error)) {
      r = FromMessage(parse.parser->release());
      Close();
      return r;
    }
    if (n == -2) {
      r.error = "no complete response within " + std::to_string(timeout_.count()) + " ms";
    } else if (n == 0) {
      r.error = error.empty() ? "connection closed before a complete response" : error;
    } else {
      r.error = reset ? "connection reset" : "recv failed";
    }
    Close();
    return r;
  }
  r = FromMessage(parse.parser->release());
  if (!r.keep_alive) Close();
  return r;
}

Response Client::Request(std::string_view method, std::string_view target, std::string_view body,
                         const Headers& headers) {
  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  req.append("Host: 127.0.0.1:").append(std::to_string(port_)).append("\r\n");
  bool has_length = false;
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    has_length |= IEquals(k, "Content-Length") || IEquals(k, "Transfer-Encoding");
    has_type |= IEquals(k, "Content-Type");
    req.append(k).append(": ").append(v).append("\r\n");
  }
  bool wants_length = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (wants_length && !has_length) {
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  if (!body.empty() && !has_type) req.append("Content-Type: application/json\r\n");
  req.append("\r\n");
  req.append(body);
  if (!SendBytes(req)) {
    Response r;
    r.error = "could not send the request: " + last_error_;
    return r;
  }
  return ReadResponse();
}

// ---------------------------------------------------------------------------------------------
// RawConnection

RawConnection::RawConnection(uint16_t port) { fd_ = ConnectLoopback(port, &error_); }

RawConnection::~RawConnection() { Close(); }

void RawConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::Send(std::string_view bytes) {
  if (fd_ < 0) return false;
  if (!SendAll(fd_, bytes, Clock::now() + 5s)) {
    error_ = std::string("send: ") + std::strerror(errno);
    return false;
  }
  return true;
}

RawConnection::ReadResult RawConnection::ReadUntil(
    const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout) {
  ReadResult result;
  auto start = Clock::now();
  auto deadline = start + timeout;
  while (fd_ >= 0 && !done(result.data)) {
    bool reset = false;
    int n = ReadSome(fd_, result.data, deadline, &reset);
    if (n > 0) continue;
    if (n == 0 || n == -1) {
      result.closed = true;
      result.reset = reset;
    }
    break;
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

RawConnection::ReadResult RawConnection::ReadUntilClose(std::chrono::milliseconds timeout) {
  return ReadUntil([](const std::string&) { return false; }, timeout);
}

RawConnection::ReadResult RawConnection::ReadResponses(size_t count,
                                                       std::chrono::milliseconds timeout) {
  return ReadUntil(
      [count](const std::string& data) { return ParseResponses(data, false).size() >= count; },
      timeout);
}

RawConnection::ReadResult RawConnection::ReadUntilEndsWith(std::string_view tail,
                                                           std::chrono::milliseconds timeout) {
  return ReadUntil([tail](const std::string& data) { return data.ends_with(tail); }, timeout);
}

// ---------------------------------------------------------------------------------------------
// Messages and the API as one user

std::ostream& operator<<(std::ostream& os, const Msg& m) {
  os << "{seq " << m.seq << (m.priority ? " P" : "") << " " << m.sender << " " << m.type << " \""
     << (m.body.size() > 40 ? m.body.substr(0, 40) + "..." : m.body) << "\"";
  if (m.client_msg_id) os << " id=" << *m.client_msg_id;
  return os << "}";
}

std::vector<uint64_t> Seqs(const std::vector<Msg>& messages) {
  std::vector<uint64_t> out;
  for (const auto& m : messages) out.push_back(m.seq);
  return out;
}

bool ParseMsg(const boost::json::value& v, Msg* out, std::string* why) {
  if (!v.is_object()) {
    *why = "message is not an object";
    return false;
  }
  const auto& o = v.as_object();
  Msg m;
  const auto* seq = o.if_contains("seq");
  if (!seq || !ParseDecimal(*seq, &m.seq)) {
    *why = "seq missing or not a decimal string";
    return false;
  }
  const auto* priority = o.if_contains("priority");
  if (!priority || !priority->is_bool()) {
    *why = "priority missing or not a bool";
    return false;
  }
  m.priority = priority->as_bool();
  for (auto [name, field] :
       {std::pair{"sender", &m.sender}, std::pair{"type", &m.type}, std::pair{"body", &m.body}}) {
    const auto* f = o.if_contains(name);
    if (!f || !f->is_string()) {
      *why = std::string(name) + " missing or not a string";
      return false;
    }
    *field = std::string(f->as_string());
  }
  uint64_t ts = 0;
  const auto* ts_ms = o.if_contains("ts_ms");
  if (!ts_ms || !ParseDecimal(*ts_ms, &ts)) {
    *why = "ts_ms missing or not a decimal string";
    return false;
  }
  m.ts_ms = static_cast<int64_t>(ts);
  if (const auto* id = o.if_contains("client_msg_id")) {
    if (!id->is_string()) {
      *why = "client_msg_id not a string";
      return false;
    }
    m.client_msg_id = std::string(id->as_string());
  }
  *out = std::move(m);
  return true;
}

namespace {

bool ParseMessages(const boost::json::object& o, std::vector<Msg>* out, std::string* why) {
  const auto* msgs = o.if_contains("messages");
  if (!msgs || !msgs->is_array()) {
    *why = "messages missing or not an array";
    return false;
  }
  for (const auto& v : msgs->as_array()) {
    Msg m;
    if (!ParseMsg(v, &m, why)) return false;
    out->push_back(std::move(m));
  }
  return true;
}

bool ParseOnline(const boost::json::object& o, std::string* online, std::string* why) {
  uint64_t n = 0;
  const auto* v = o.if_contains("online");
  if (!v || !ParseDecimal(*v, &n)) {
    *why = "online missing or not a decimal string";
    return false;
  }
  *online = std::string(v->as_string());
  const auto* next = o.if_contains("next_poll_ms");
  if (!next || !next->is_int64() || next->as_int64() < 0) {
    *why = "next_poll_ms missing or not a non-negative number";
    return false;
  }
  return true;
}

std::string RoomPath(std::string_view room, std::string_view rest) {
  return "/v1/rooms/" + std::string(room) + "/" + std::string(rest);
}

}  // namespace

User::User(uint16_t port, std::string id, std::chrono::milliseconds timeout)
    : client_(port, timeout), id_(std::move(id)) {}

Headers User::Auth(Headers extra) const {
  if (token_.empty()) {
    extra.emplace_back("X-User-Id", id_);
  } else {
    extra.emplace_back("Authorization", "Bearer " + token_);
  }
  return extra;
}

Response User::JoinRaw(std::string_view room, std::string_view body) {
  return client_.Request("POST", RoomPath(room, "join"), body, Auth());
}

Response User::PollRaw(std::string_view room, std::string_view query) {
  std::string target = RoomPath(room, "poll");
  if (!query.empty()) target += "?" + std::string(query);
  return client_.Request("GET", target, {}, Auth());
}

Response User::SendRaw(std::string_view room, std::string_view json_body) {
  return client_.Request("POST", RoomPath(room, "messages"), json_body, Auth());
}

Response User::HistoryRaw(std::string_view room, std::string_view query) {
  std::string target = RoomPath(room, "messages");
  if (!query.empty()) target += "?" + std::string(query);
  return client_.Request("GET", target, {}, Auth());
}

Response User::Leave(std::string_view room) {
  return client_.Request("POST", RoomPath(room, "leave"), {}, Auth());
}

Response User::RoomGet(std::string_view room, std::string_view action, std::string_view query) {
  std::string target = RoomPath(room, action);
  if (!query.empty()) target += "?" + std::string(query);
  return client_.Request("GET", target, {}, Auth());
}

int64_t User::OnlineCount(std::string_view room) {
  Response r = RoomGet(room, "online", "limit=0");
  if (r.status != 200) return -1;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) return -1;
  const boost::json::value* count = v.as_object().if_contains("count");
  if (!count || !count->is_string()) return -1;
  return std::stoll(std::string(count->as_string()));
}

JoinResult User::Join(std::string_view room, std::optional<int> backlog) {
  JoinResult out;
  std::string body = backlog ? "{\"backlog\":" + std::to_string(*backlog) + "}" : "";
  out.response = JoinRaw(room, body);
  if (out.response.status != 200) {
    ADD_FAILURE() << id_ << " join " << room << ": " << out.response;
    return out;
  }
  boost::json::value v = out.response.Json();
  std::string why;
  if (!v.is_object()) {
    ADD_FAILURE() << "join response is not an object: " << out.response;
    return out;
  }
  const auto& o = v.as_object();
  const auto* r = o.if_contains("room");
  const auto* c = o.if_contains("cursor");
  if (!r || !r->is_string() || r->as_string() != room) {
    why = "room missing or not the room joined";
  } else if (!c || !c->is_string() || c->as_string().empty()) {
    why = "cursor missing or empty";
  } else if (ParseMessages(o, &out.messages, &why) && ParseOnline(o, &out.online, &why)) {
    out.cursor = std::string(c->as_string());
    out.ok = true;
    return out;
  }
  ADD_FAILURE() << "join response: " << why << ": " << out.response;
  return out;
}

PollResult User::Poll(std::string_view room, const PollArgs& args) {
  PollResult out;
  std::string query;
  auto add = [&](std::string_view k, const std::string& v) {
    if (!query.empty()) query += "&";
    query.append(k).append("=").append(v);
  };
  if (!args.cursor.empty()) add("cursor", args.cursor);
  if (args.timeout_ms >= 0) add("timeout_ms", std::to_string(args.timeout_ms));
  if (args.limit > 0) add("limit", std::to_string(args.limit));
  auto start = Clock::now();
  out.response = PollRaw(room, query);
  out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  if (out.response.status != 200) {
    ADD_FAILURE() << id_ << " poll " << room << "?" << query << ": " << out.response;
    return out;
  }
  boost::json::value v = out.response.Json();
  if (!v.is_object()) {
    ADD_FAILURE() << "poll response is not an object: " << out.response;
    return out;
  }
  const auto& o = v.as_object();
  std::string why;
  const auto* r = o.if_contains("room");
  const auto* c = o.if_contains("cursor");
  const auto* gap = o.if_contains("gap");
  if (!r || !r->is_string() || r->as_string() != room) {
    why = "room missing or not the room polled";
  } else if (!c || !c->is_string() || c->as_string().empty()) {
    why = "cursor missing or empty";
  } else if (!gap || !gap->is_bool()) {
    why = "gap missing or not a bool";
  } else if (ParseMessages(o, &out.messages, &why) && ParseOnline(o, &out.online, &why)) {
    out.cursor = std::string(c->as_string());
    out.gap = gap->as_bool();
    out.ok = true;
    return out;
  }
  ADD_FAILURE() << "poll response: " << why << ": " << out.response;
  return out;
}

SendResult User::Send(std::string_view room, const SendArgs& args) {
  boost::json::object body;
  body["body"] = args.body;
  if (args.priority) body["priority"] = true;
  if (!args.client_msg_id.empty()) body["client_msg_id"] = args.client_msg_id;
  if (!args.type.empty()) body["type"] = args.type;
  SendResult out;
  out.response = SendRaw(room, boost::json::serialize(body));
  if (out.response.status != 200) {
    ADD_FAILURE() << id_ << " send to " << room << ": " << out.response;
    return out;
  }
  boost::json::value v = out.response.Json();
  const auto* o = v.if_object();
  const boost::json::value* seq = o ? o->if_contains("seq") : nullptr;
  const boost::json::value* dup = o ? o->if_contains("duplicate") : nullptr;
  if (!seq || !ParseDecimal(*seq, &out.seq) || !dup || !dup->is_bool()) {
    ADD_FAILURE() << "send response needs seq (decimal string) and duplicate (bool): "
                  << out.response;
    out.seq = 0;
    return out;
  }
  out.duplicate = dup->as_bool();
  out.ok = true;
  return out;
}

uint64_t User::Say(std::string_view room, std::string_view body, bool priority) {
  SendArgs args;
  args.body = std::string(body);
  args.priority = priority;
  return Send(room, args).seq;
}

HistoryPage User::History(std::string_view room, std::optional<uint64_t> before, int limit) {
  HistoryPage out;
  std::string query;
  if (before) query += "before=" + std::to_string(*before);
  if (limit > 0) query += std::string(query.empty() ? "" : "&") + "limit=" + std::to_string(limit);
  out.response = HistoryRaw(room, query);
  if (out.response.status != 200) {
    ADD_FAILURE() << id_ << " history " << room << "?" << query << ": " << out.response;
    return out;
  }
  boost::json::value v = out.response.Json();
  const auto* o = v.if_object();
  std::string why;
  if (!o) {
    why = "not an object";
  } else if (ParseMessages(*o, &out.messages, &why)) {
    const auto* nb = o->if_contains("next_before");
    uint64_t n = 0;
    if (nb && !ParseDecimal(*nb, &n)) {
      why = "next_before is not a decimal string";
    } else {
      if (nb) out.next_before = n;
      out.ok = true;
      return out;
    }
  }
  ADD_FAILURE() << "history response: " << why << ": " << out.response;
  return out;
}

std::vector<Msg> User::HistoryAll(std::string_view room) {
  std::vector<std::vector<Msg>> pages;
  std::optional<uint64_t> before;
  for (int i = 0; i < 100000; ++i) {
    HistoryPage page = History(room, before, 200);
    if (!page.ok) break;
    pages.push_back(std::move(page.messages));
    if (!page.next_before) break;
    if (before && *page.next_before >= *before) {
      ADD_FAILURE() << "history next_before did not move back: " << *page.next_before
                    << " after before=" << *before;
      break;
    }
    before = page.next_before;
  }
  std::vector<Msg> all;
  for (auto it = pages.rbegin(); it != pages.rend(); ++it) {
    all.insert(all.end(), std::make_move_iterator(it->begin()), std::make_move_iterator(it->end()));
  }
  return all;
}

uint64_t User::Head(std::string_view room) {
  HistoryPage page = History(room, std::nullopt, 1);
  return page.messages.empty() ? 0 : page.messages.back().seq;
}

// ---------------------------------------------------------------------------------------------
// Checks and utilities

::testing::AssertionResult HasNoStore(const Response& r) {
  std::string cc = r.Header("Cache-Control");
  if (cc.find("no-store") == std::string::npos) {
    return ::testing::AssertionFailure() << "no `Cache-Control: no-store` on " << r;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsJson(const Response& r) {
  std::string ct = r.Header("Content-Type");
  if (ct.rfind("application/json", 0) != 0) {
    return ::testing::AssertionFailure() << "Content-Type is not application/json: " << r;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsError(const Response& r, int status, std::string_view code) {
  if (r.status != status) {
    return ::testing::AssertionFailure() << "want HTTP " << status << " " << code << ", got " << r;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  const boost::json::object* err = nullptr;
  if (!ec && v.is_object()) {
    if (const auto* e = v.as_object().if_contains("error")) err = e->if_object();
  }
  if (!err) {
    return ::testing::AssertionFailure() << "want an {\"error\":{...}} body, got " << r;
  }
  const auto* c = err->if_contains("code");
  const auto* m = err->if_contains("message");
  if (!c || !c->is_string() || c->as_string() != code) {
    return ::testing::AssertionFailure() << "want error code " << code << ", got " << r;
  }
  if (!m || !m->is_string()) {
    return ::testing::AssertionFailure() << "error.message missing or not a string: " << r;
  }
  if (auto ok = IsJson(r); !ok) return ok;
  if (auto ok = HasNoStore(r); !ok) return ok;
  return ::testing::AssertionSuccess();
}

std::string UniqueRoom(std::string_view tag) {
  static std::atomic<int> counter{0};
  std::string name = "it";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name += "." + SanitizeRoomPart(info->test_suite_name()) + "." + SanitizeRoomPart(info->name());
  }
  if (!tag.empty()) name += "." + SanitizeRoomPart(tag);
  if (name.size() > 80) name = name.substr(name.size() - 80);
  name += "." + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  return name;
}

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(interval);
  }
}

bool WaitForHeldPolls(uint16_t port, double count, std::chrono::milliseconds timeout) {
  return WaitUntil(
      [&] {
        auto held = ScrapeMetric(port, "chatroomd_held_polls");
        return held && *held >= count;
      },
      timeout, 20ms);
}

std::vector<MetricSample> ParseMetrics(std::string_view text) {
  std::vector<MetricSample> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    MetricSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
    s.name = std::string(line.substr(0, i));
    if (i < line.size() && line[i] == '{') {
      size_t j = i + 1;
      bool quoted = false;
      for (; j < line.size(); ++j) {
        if (quoted && line[j] == '\\') {
          ++j;
          continue;
        }
        if (line[j] == '"') quoted = !quoted;
        if (!quoted && line[j] == '}') break;
      }
      if (j >= line.size()) continue;
      s.labels = std::string(line.substr(i + 1, j - i - 1));
      i = j + 1;
    }
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t end = i;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    std::string value(line.substr(i, end - i));
    if (value.empty()) continue;
    char* parse_end = nullptr;
    s.value = std::strtod(value.c_str(), &parse_end);
    if (parse_end == value.c_str()) continue;
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<double> SumMetric(const std::vector<MetricSample>& samples, std::string_view name,
                                std::string_view label_filter) {
  std::optional<double> sum;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    if (!label_filter.empty() && s.labels.find(label_filter) == std::string::npos) continue;
    sum = sum.value_or(0) + s.value;
  }
  return sum;
}

std::optional<double> ScrapeMetric(uint16_t port, std::string_view name,
                                   std::string_view label_filter) {
  Client c(port, 5s);
  Response r = c.Get("/metrics");
  if (r.status != 200) return std::nullopt;
  return SumMetric(ParseMetrics(r.body), name, label_filter);
}

bool DecodeProto(std::string_view data, std::vector<ProtoField>* fields) {
  size_t pos = 0;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= data.size()) return false;
      uint8_t b = static_cast<uint8_t>(data[pos++]);
      *v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  while (pos < data.size()) {
    uint64_t key = 0;
    if (!varint(&key)) return false;
    ProtoField f;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire_type = static_cast<uint32_t>(key & 7);
    if (f.number == 0) return false;
    switch (f.wire_type) {
      case 0:
        if (!varint(&f.varint)) return false;
        break;
      case 1:
        if (data.size() - pos < 8) return false;
        f.bytes = std::string(data.substr(pos, 8));
        pos += 8;
        break;
      case 2: {
        uint64_t len = 0;
        if (!varint(&len) || len > data.size() - pos) return false;
        f.bytes = std::string(data.substr(pos, len));
        pos += len;
        break;
      }
      case 5:
        if (data.size() - pos < 4) return false;
        f.bytes = std::string(data.substr(pos, 4));
        pos += 4;
        break;
      default:
        return false;
    }
    fields->push_back(std::move(f));
  }
  return true;
}

std::string ProtoVarint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}

std::string ProtoBytesField(uint32_t number, std::string_view value) {
  return ProtoVarint((uint64_t{number} << 3) | 2) + ProtoVarint(value.size()) + std::string(value);
}

std::string ProtoVarintField(uint32_t number, uint64_t value) {
  return ProtoVarint(uint64_t{number} << 3) + ProtoVarint(value);
}

std::string Repeat(char c, size_t n) { return std::string(n, c); }

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace chatroomd::it
