// Integration-test harness: runs the real chatroomd binary (CHATROOMD_BINARY) in a fresh
// temporary directory on 127.0.0.1 port 0 and speaks HTTP to it.
//
// Every read has a deadline (poll(2) on plain sockets; Beast only parses), so a broken or
// hung daemon makes a test fail with a message, never hang. Nothing here sleeps to wait for
// an event it can observe: WaitUntil() polls a condition with a bound.
//
// Threads: a Daemon is driven by one test thread (it forks from the calling thread and asks
// the kernel to kill the child if that thread dies). A Client or User belongs to the thread
// that uses it; tests that need concurrency give each thread its own.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

// GCC 12 reports -Wmissing-field-initializers for designated initializers that leave members
// to their default member initializers ({.body = "x"}); the tests rely on exactly that.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace chatroomd::it {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------------------------
// The daemon process.

struct DaemonOptions {
  // Appended to the main config (protobuf text format, schema proto/chatroomd/config.proto),
  // e.g. "rooms { window_size: 10 priority_size: 5 }". The harness writes only
  // `auth { enabled: false }`, `log { level: "info" }` and `sects_file`; it leaves out its
  // own `auth`/`log` when this text sets them. Listener and data dir come from the command line.
  std::string config;
  // The sects file; empty = one sect of one thread owning the whole hash space.
  std::string sects;
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options = {});
  // Kills the process it started (by PID) if it still runs, removes the temporary directory
  // (kept when CHATROOMD_IT_KEEP is set), and prints the daemon's stderr if the test failed.
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Writes the config files and starts the binary; succeeds once it printed
  // `listening on 127.0.0.1:PORT` (20 s at most). The failure text holds its stderr.
  ::testing::AssertionResult Start();
  // Starts it again after Stop/Kill9: same data dir and config, a new port 0.
  ::testing::AssertionResult Restart() { return Start(); }

  // Sends `signal` and waits up to `timeout` for the exit. Returns the exit code, 128+N when
  // it died of signal N, or -1 when it had to be SIGKILLed after the timeout.
  int Stop(int signal = SIGTERM, std::chrono::milliseconds timeout = 10s);
  // The two halves of Stop: send a signal; wait for the exit (same result as Stop).
  void Signal(int signal);
  int Wait(std::chrono::milliseconds timeout);
  // SIGKILL and reap.
  void Kill9();
  // Non-blocking: true once the process has exited (reaps it; exit_status() tells how).
  bool Exited();
  int exit_status() const { return exit_status_; }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  int starts() const { return starts_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path config_path() const { return dir_ / "chatroomd.textproto"; }
  std::string StderrText() const;
  std::string StdoutText() const;

 private:
  void WriteConfig();
  void Reap(int status);
  void JoinReader();

  DaemonOptions options_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  int starts_ = 0;
  int exit_status_ = -1;

  int stdout_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string stdout_;       // guarded by mu_
  bool stdout_eof_ = false;  // guarded by mu_
};

// ---------------------------------------------------------------------------------------------
// HTTP.

struct Response {
  int status = 0;  // 0: no response; `error` says why
  Headers headers;
  std::string body;
  std::string error;
  bool keep_alive = false;

  // First header with this name (case-insensitive), "" if none.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
  // The body as JSON; null (and a test failure) when it is not JSON.
  boost::json::value Json() const;
  // error.code of a JSON error body, "" otherwise.
  std::string ErrorCode() const;
};
std::ostream& operator<<(std::ostream& os, const Response& r);
// Every header, one per line, for diagnostics.
std::string DumpHeaders(const Response& r);

// Parses every complete response in `bytes` (pipelined answers); `eof` = the peer closed after
// them, which completes a body delimited by the close. A trailing partial response is dropped.
std::vector<Response> ParseResponses(std::string_view bytes, bool eof);

// A blocking HTTP/1.1 keep-alive connection to 127.0.0.1:port. Connects lazily, and again
// when the daemon closed the previous connection (connects() counts how often).
class Client {
 public:
  explicit Client(uint16_t port, std::chrono::milliseconds timeout = 10s);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Adds Host, and Content-Length for a body or a POST/PUT. Content-Type defaults to JSON
  // when there is a body. Waits at most timeout() for the whole answer.
  Response Request(std::string_view method, std::string_view target, std::string_view body = {},
                   const Headers& headers = {});
  Response Get(std::string_view target, const Headers& headers = {}) {
    return Request("GET", target, {}, headers);
  }

  // For pipelining: write bytes as they are, then read the answers one by one.
  bool SendBytes(std::string_view bytes);
  Response ReadResponse();

  // True when the daemon has closed this connection (EOF or reset seen without blocking).
  bool PeerClosed();
  bool Connect();
  void Close();
  bool connected() const { return fd_ >= 0; }
  int connects() const { return connects_; }
  void set_port(uint16_t port) {
    Close();
    port_ = port;
  }
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  const std::string& last_error() const { return last_error_; }

 private:
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  int connects_ = 0;
  std::string in_;  // bytes read past the last response
  std::string last_error_;
};

// A plain TCP connection for bytes that are not (valid) HTTP.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  // false when the peer is gone (EPIPE/ECONNRESET) or the write did not finish in 5 s.
  bool Send(std::string_view bytes);

  struct ReadResult {
    std::string data;
    bool closed = false;  // the peer closed (EOF or reset) before the timeout
    bool reset = false;
    std::chrono::milliseconds elapsed{0};
  };
  // Reads until the peer closes or `timeout` passes.
  ReadResult ReadUntilClose(std::chrono::milliseconds timeout);
  // Reads until `bytes` holds `count` complete responses, the peer closes, or the timeout.
  ReadResult ReadResponses(size_t count, std::chrono::milliseconds timeout);
  // Reads until the bytes read end with `tail`, the peer closes, or the timeout (for answers
  // ParseResponses cannot count: HEAD, 100 Continue).
  ReadResult ReadUntilEndsWith(std::string_view tail, std::chrono::milliseconds timeout);
  void Close();

 private:
  // Reads until done(bytes so far), the peer closes, or the timeout.
  ReadResult ReadUntil(const std::function<bool(const std::string&)>& done,
                       std::chrono::milliseconds timeout);

  int fd_ = -1;
  std::string error_;
};

// ---------------------------------------------------------------------------------------------
// The chatroom API as one user (dev mode: `X-User-Id`, every user an admin).

struct Msg {
  uint64_t seq = 0;
  bool priority = false;
  std::string sender;
  std::string type;
  std::string body;
  int64_t ts_ms = 0;
  std::optional<std::string> client_msg_id;
};
std::ostream& operator<<(std::ostream& os, const Msg& m);
std::vector<uint64_t> Seqs(const std::vector<Msg>& messages);

// Strict proto3-JSON reading of one message (64-bit fields as decimal strings); false and `why`
// when a field is missing or of the wrong type.
bool ParseMsg(const boost::json::value& v, Msg* out, std::string* why);

struct JoinResult {
  bool ok = false;
  std::string cursor;
  std::vector<Msg> messages;
  std::string online;
  Response response;
};

struct PollArgs {
  std::string cursor;  // empty: no cursor parameter
  int timeout_ms = 0;  // < 0: no timeout_ms parameter
  int limit = 0;       // <= 0: no limit parameter
};

struct PollResult {
  bool ok = false;
  std::string cursor;
  std::vector<Msg> messages;
  bool gap = false;
  std::string online;
  Response response;
  std::chrono::milliseconds elapsed{0};
};

struct SendArgs {
  std::string body;
  bool priority = false;
  std::string client_msg_id;  // empty: none
  std::string type;           // empty: none (server default "text")
};

struct SendResult {
  bool ok = false;
  uint64_t seq = 0;
  bool duplicate = false;
  Response response;
};

struct HistoryPage {
  bool ok = false;
  std::vector<Msg> messages;
  std::optional<uint64_t> next_before;
  Response response;
};

class User {
 public:
  User(uint16_t port, std::string id, std::chrono::milliseconds timeout = 10s);

  Client& client() { return client_; }
  const std::string& id() const { return id_; }
  // Dev mode: X-User-Id. With a token set: `Authorization: Bearer <token>` instead.
  Headers Auth(Headers extra = {}) const;
  void set_token(std::string token) { token_ = std::move(token); }

  // Raw calls: any status.
  Response JoinRaw(std::string_view room, std::string_view body = {});
  Response PollRaw(std::string_view room, std::string_view query);
  Response SendRaw(std::string_view room, std::string_view json_body);
  Response HistoryRaw(std::string_view room, std::string_view query = {});
  Response Leave(std::string_view room);
  // GET /v1/rooms/{room}/{action}[?query]: online, stats, visitors.
  Response RoomGet(std::string_view room, std::string_view action, std::string_view query = {});
  // The room's published online count from /online, or -1 when it does not answer one.
  int64_t OnlineCount(std::string_view room);

  // Checked calls: a non-200 answer or a malformed body is a (non-fatal) test failure and
  // leaves ok == false.
  JoinResult Join(std::string_view room, std::optional<int> backlog = std::nullopt);
  PollResult Poll(std::string_view room, const PollArgs& args);
  SendResult Send(std::string_view room, const SendArgs& args);
  // Sends a normal text message and returns its seq (0 on failure).
  uint64_t Say(std::string_view room, std::string_view body, bool priority = false);
  HistoryPage History(std::string_view room, std::optional<uint64_t> before = std::nullopt,
                      int limit = 0);
  // The whole retained history, ascending, walking next_before back from the head.
  std::vector<Msg> HistoryAll(std::string_view room);
  // Seq of the newest message (0 for an empty room), from history.
  uint64_t Head(std::string_view room);

 private:
  Client client_;
  std::string id_;
  std::string token_;
};

// ---------------------------------------------------------------------------------------------
// Checks and utilities.

// status, `{"error":{"code":code,"message":string}}`, JSON content type, Cache-Control no-store.
::testing::AssertionResult IsError(const Response& r, int status, std::string_view code);
// Cache-Control: no-store.
::testing::AssertionResult HasNoStore(const Response& r);
// Content-Type starts with application/json.
::testing::AssertionResult IsJson(const Response& r);

// A room id unique in this test process, built from the running test's name (max 100 chars).
std::string UniqueRoom(std::string_view tag = {});

// Polls `pred` every `interval` until it is true or `timeout` passed; returns its last value.
bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = 10ms);

// Waits until the daemon's chatroomd_held_polls gauge is at least `count`.
bool WaitForHeldPolls(uint16_t port, double count, std::chrono::milliseconds timeout = 5s);

// Prometheus text.
struct MetricSample {
  std::string name;
  std::string labels;  // the text between the braces, "" without labels
  double value = 0;
};
std::vector<MetricSample> ParseMetrics(std::string_view text);
// Sum of the samples named exactly `name` whose label text contains `label_filter`;
// nullopt when there is no such sample.
std::optional<double> SumMetric(const std::vector<MetricSample>& samples, std::string_view name,
                                std::string_view label_filter = {});
// Scrapes /metrics on a fresh connection; nullopt when the scrape or the sample is missing.
std::optional<double> ScrapeMetric(uint16_t port, std::string_view name,
                                   std::string_view label_filter = {});

// Tiny protobuf wire-format reader for checking binary responses without linking protobuf.
struct ProtoField {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t varint = 0;  // wire type 0
  std::string bytes;    // wire type 2
};
// false on malformed input.
bool DecodeProto(std::string_view data, std::vector<ProtoField>* fields);
std::string ProtoVarint(uint64_t v);
// Field `number` as a length-delimited value.
std::string ProtoBytesField(uint32_t number, std::string_view value);
std::string ProtoVarintField(uint32_t number, uint64_t value);

std::string Repeat(char c, size_t n);
int64_t NowUnixMs();

// ---------------------------------------------------------------------------------------------
// A fixture whose tests share one daemon (started by the first test of the suite, again if it
// died). Derived may define `static DaemonOptions Options()`. Tests keep apart by room name.
template <typename Derived>
class SharedDaemonTest : public ::testing::Test {
 public:
  static DaemonOptions Options() { return {}; }
  static void TearDownTestSuite() {
    Slot().reset();
    StartFailed() = false;
  }

 protected:
  void SetUp() override {
    auto& daemon = Slot();
    if (daemon && !daemon->Exited()) return;
    ASSERT_FALSE(StartFailed()) << "the suite's daemon failed to start in an earlier test";
    if (daemon) ADD_FAILURE() << "the suite's daemon died; starting a new one";
    daemon = std::make_unique<Daemon>(Derived::Options());
    auto started = daemon->Start();
    if (!started) StartFailed() = true;
    ASSERT_TRUE(started);
  }
  void TearDown() override {
    if (HasFailure() && Slot()) {
      std::string err = Slot()->StderrText();
      if (err.size() > 3000) err = "..." + err.substr(err.size() - 3000);
      std::cerr << "---- chatroomd stderr (tail) ----\n" << err << "\n---- end ----\n";
    }
  }

  Daemon& daemon() { return *Slot(); }
  uint16_t port() { return Slot()->port(); }

 private:
  static std::unique_ptr<Daemon>& Slot() {
    static std::unique_ptr<Daemon> daemon;
    return daemon;
  }
  static bool& StartFailed() {
    static bool failed = false;
    return failed;
  }
};

}  // namespace chatroomd::it
