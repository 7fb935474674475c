// crpresence: what an online user costs a server. Joins N users (ids of 16 characters) to one
// room over a few keep-alive connections and reads the server's VmRSS (and, for Redis, INFO's
// used_memory) before and after. Prints one JSON line on stdout, a summary on stderr.
//
// The run: connect every connection; warm up (user 0 joins, `depth` times on every connection,
// so the room or keys exist and every connection's buffers have grown to a pipelined burst's
// size); wait until the server is quiet and read the base; join users 1..N; wait until quiet and
// read again; ask how many are online (N + 1 expected). The connections stay open throughout, so
// what they cost the server is in both readings and not charged to the users.
//
// Exit status: 0 done, 1 bad command line, 2 setup failed (connect, warm-up, deadline, /proc),
// 3 done but some join was refused or the online count is not N + 1.
#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <string>

#include "options.h"
#include "pipeline.h"
#include "proc_stats.h"
#include "server_stats.h"
#include "wire.h"

namespace crpresence {
namespace {

struct Memory {
  bool settled = false;
  int64_t rss_kb = -1;
  int64_t used_memory = -1;  // Redis only
};

// Per-user bytes as JSON: (after - before) / users, or null when either reading is missing.
std::string PerUser(int64_t before, int64_t after, double unit, uint64_t users) {
  if (before < 0 || after < 0) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f",
                static_cast<double>(after - before) * unit / static_cast<double>(users));
  return buf;
}

std::string Num(int64_t v) { return v < 0 ? "null" : std::to_string(v); }

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out;
}

class Run {
 public:
  explicit Run(const Options& o)
      : o_(o),
        start_ns_(NowNs()),
        deadline_ns_(start_ns_ + static_cast<int64_t>(o.duration_s * 1e9)),
        wire_(o),
        pipeline_(wire_, o.dst, o.connections, deadline_ns_) {}

  int Main() {
    if (!pipeline_.Connect()) return Setup(pipeline_.error());
    Log("connected %u connections to %s:%d (%s)", o_.connections, o_.host.c_str(), o_.port,
        o_.TargetName());
    if (!WarmUp()) return 2;
    if (!ReadMemory(base_)) return Setup(error_);
    Log("base: VmRSS %" PRId64 " kB%s", base_.rss_kb, Redis(base_).c_str());

    int64_t t0 = NowNs();
    bool joined = pipeline_.Run(
        o_.users, o_.depth,
        [this](uint64_t i, std::string& out) { return wire_.AppendJoin(i + 1, out); },
        [this](const Answer& a) { CountJoinAnswer(a); });
    join_s_ = static_cast<double>(NowNs() - t0) / 1e9;
    if (!joined) return Setup("join: " + pipeline_.error());
    Log("joined %" PRIu64 " users in %.2f s (%" PRIu64 " answers refused)", o_.users, join_s_,
        refused_);

    if (!ReadMemory(after_)) return Setup(error_);
    Log("after: VmRSS %" PRId64 " kB%s", after_.rss_kb, Redis(after_).c_str());
    if (!ReadCount()) return Setup("count: " + pipeline_.error());
    Print();
    bool complete = refused_ == 0 && online_ == static_cast<int64_t>(o_.users + 1) &&
                    (o_.target != Target::kRedisCentrifugo || zcard_ == online_);
    return complete ? 0 : 3;
  }

 private:
  void Log(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (o_.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    std::fputs("crpresence: ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
  }

  int Setup(const std::string& why) {
    std::fprintf(stderr, "crpresence: %s\n", why.c_str());
    return 2;
  }

  std::string Redis(const Memory& m) const {
    return o_.IsRedis() ? ", used_memory " + std::to_string(m.used_memory) + " B" : "";
  }

  // False (with why printed) if the warm-up could not run or any answer was refused.
  bool WarmUp() {
    uint64_t refused = 0;
    std::string sample;
    bool ran = pipeline_.Run(
        uint64_t{o_.connections} * o_.depth, o_.depth,
        [this](uint64_t, std::string& out) { return wire_.AppendWarmUp(out); },
        [&](const Answer& a) {
          if (!wire_.WarmUpOk(a) && refused++ == 0) sample = Describe(a);
        });
    if (!ran) {
      Setup("warm-up: " + pipeline_.error());
      return false;
    }
    if (refused > 0) {
      Setup("warm-up: " + std::to_string(refused) + " answers refused, first: " + sample);
      return false;
    }
    return true;
  }

  void CountJoinAnswer(const Answer& a) {
    if (wire_.JoinOk(a)) return;
    if (refused_++ == 0) first_refused_ = Describe(a);
  }

  static std::string Describe(const Answer& a) {
    std::string body(a.body.substr(0, 160));
    if (a.http_status != 0) return "HTTP " + std::to_string(a.http_status) + " " + body;
    if (a.integer >= 0) return "integer " + std::to_string(a.integer);
    return (a.resp_error ? "error " : "reply ") + body;
  }

  // Waits for the server to go quiet (at least --settle-ms), then reads VmRSS and used_memory.
  bool ReadMemory(Memory& m) {
    if (o_.server_pid != 0) {
      int64_t left_ms = (deadline_ns_ - NowNs()) / 1000000;
      if (left_ms <= o_.settle_ms) {
        error_ = "--duration-s leaves no time to settle";
        return false;
      }
      uint32_t max_ms = static_cast<uint32_t>(std::min<int64_t>(left_ms, o_.settle_ms + 10000));
      m.settled = WaitQuiet(o_.server_pid, o_.settle_ms, max_ms);
      m.rss_kb = crload::ReadRssKb({o_.server_pid});
      if (m.rss_kb < 0) {
        error_ = "cannot read /proc/" + std::to_string(o_.server_pid) + "/status";
        return false;
      }
    }
    if (!o_.IsRedis()) return true;
    bool ran = pipeline_.Run(
        1, 1, [this](uint64_t, std::string& out) { return wire_.AppendInfo(out); },
        [&](const Answer& a) { m.used_memory = Wire::UsedMemoryOf(a); });
    if (!ran || m.used_memory < 0) {
      error_ = "INFO memory: " + (ran ? std::string("no used_memory") : pipeline_.error());
      return false;
    }
    return true;
  }

  // The online count (chatroomd: the answer to one more join of user 0; Redis: HLEN, and the
  // sorted set's ZCARD for Centrifugo), then Redis's own MEMORY USAGE of the keys.
  bool ReadCount() {
    int answer = 0;
    bool ran = pipeline_.Run(
        1, 1, [this](uint64_t, std::string& out) { return wire_.AppendCount(out); },
        [&](const Answer& a) { (answer++ == 0 ? online_ : zcard_) = wire_.CountOf(a); });
    if (!ran || !o_.IsRedis()) return ran;
    key_memory_ = 0;
    return pipeline_.Run(
        1, 1, [this](uint64_t, std::string& out) { return wire_.AppendKeyMemory(out); },
        [&](const Answer& a) { key_memory_ = a.integer < 0 ? -1 : key_memory_ + a.integer; });
  }

  void Print() const {
    double duration_s = static_cast<double>(NowNs() - start_ns_) / 1e9;
    std::printf(
        "{\"target\":\"%s\",\"users\":%" PRIu64
        ",\"connections\":%u,\"depth\":%u,"
        "\"room\":\"%s\",\"join_s\":%.3f,\"joins_per_s\":%.0f,\"refused\":%" PRIu64
        ",\"first_refused\":%s,\"online_after\":%s,\"zcard_after\":%s,"
        "\"settled_base\":%s,\"settled_after\":%s,\"rss_base_kb\":%s,\"rss_after_kb\":%s,"
        "\"rss_per_user_bytes\":%s,\"used_memory_base\":%s,\"used_memory_after\":%s,"
        "\"used_memory_per_user_bytes\":%s,\"key_memory_bytes\":%s,"
        "\"key_memory_per_entry_bytes\":%s,\"duration_s\":%.2f}\n",
        o_.TargetName(), o_.users, o_.connections, o_.depth, o_.room.c_str(), join_s_,
        static_cast<double>(o_.users) / join_s_, refused_,
        refused_ == 0 ? "null" : ("\"" + Escape(first_refused_) + "\"").c_str(),
        Num(online_).c_str(), o_.target == Target::kRedisCentrifugo ? Num(zcard_).c_str() : "null",
        o_.server_pid != 0 && base_.settled ? "true" : "false",
        o_.server_pid != 0 && after_.settled ? "true" : "false", Num(base_.rss_kb).c_str(),
        Num(after_.rss_kb).c_str(), PerUser(base_.rss_kb, after_.rss_kb, 1024, o_.users).c_str(),
        Num(base_.used_memory).c_str(), Num(after_.used_memory).c_str(),
        PerUser(base_.used_memory, after_.used_memory, 1, o_.users).c_str(),
        Num(key_memory_).c_str(),
        PerUser(0, key_memory_, 1, online_ > 0 ? static_cast<uint64_t>(online_) : 1).c_str(),
        duration_s);
    std::fflush(stdout);
    if (!o_.quiet) {
      std::fprintf(stderr,
                   "crpresence: %s: online %" PRId64 " (expected %" PRIu64 "), %s B/user RSS",
                   o_.TargetName(), online_, o_.users + 1,
                   PerUser(base_.rss_kb, after_.rss_kb, 1024, o_.users).c_str());
      if (o_.IsRedis()) {
        std::fprintf(stderr, ", %s B/user used_memory",
                     PerUser(base_.used_memory, after_.used_memory, 1, o_.users).c_str());
      }
      std::fputc('\n', stderr);
    }
  }

  const Options& o_;
  const int64_t start_ns_;
  const int64_t deadline_ns_;
  Wire wire_;
  Pipeline pipeline_;
  Memory base_;
  Memory after_;
  double join_s_ = 0;
  uint64_t refused_ = 0;
  std::string first_refused_;
  int64_t online_ = -1;
  int64_t zcard_ = -1;
  int64_t key_memory_ = -1;  // Redis: MEMORY USAGE summed over the presence keys
  std::string error_;
};

}  // namespace
}  // namespace crpresence

int main(int argc, char** argv) {
  crpresence::Options opts;
  if (!crpresence::ParseOptions(argc, argv, opts)) return 1;
  crpresence::Run run(opts);
  return run.Main();
}
