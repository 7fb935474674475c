#include "options.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "net.h"

namespace crload {
namespace {

constexpr char kUsage[] =
    "usage: crload --target {chatroomd,nchan} --port P [--host 127.0.0.1] [--pollers N]\n"
    "              [--rooms K] [--messages M] [--rate R] [--publishers P] [--workers W]\n"
    "              [--sources S] [--server-pid PID[,PID...]] [--poll-timeout-ms T]\n"
    "              [--drain-s D] [--duration-s S] [--room-prefix STR]\n"
    "              [--setup-concurrency C] [--leave-fraction F] [--online-wait-s S]\n"
    "              [--jwt-secret-file F] [--obey-next-poll] [--publish-delay-s S]\n"
    "              [--quiet]\n";

bool ToU64(const std::string& s, uint64_t& out) {
  if (s.empty()) return false;
  char* end;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || s[0] == '-') return false;
  out = v;
  return true;
}

bool ToDouble(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || v < 0) return false;
  out = v;
  return true;
}

bool ToU32(const std::string& s, uint32_t& out, uint64_t max = 0xFFFFFFFFu) {
  uint64_t v;
  if (!ToU64(s, v) || v > max) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

// A fraction in [0, 1], "0.25" or "1/3", as num / den (exact for "A/B", 1e-6 steps otherwise).
bool ToFraction(const std::string& s, uint32_t& num, uint32_t& den) {
  constexpr uint32_t kMaxDen = 1000000;
  size_t slash = s.find('/');
  if (slash != std::string::npos) {
    uint32_t a, b;
    if (!ToU32(s.substr(0, slash), a) || !ToU32(s.substr(slash + 1), b)) return false;
    if (b == 0 || b > kMaxDen || a > b) return false;
    num = a;
    den = b;
    return true;
  }
  double f;
  if (!ToDouble(s, f) || !(f <= 1)) return false;  // also refuses nan
  num = static_cast<uint32_t>(std::llround(f * kMaxDen));
  den = kMaxDen;
  return true;
}

}  // namespace

bool ParseOptions(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stderr);
      return false;
    }
    if (arg == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (arg == "--obey-next-poll") {
      o.obey_next_poll = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "crload: %s needs a value\n%s", arg.c_str(), kUsage);
        return false;
      }
      value = argv[++i];
    }
    bool ok = true;
    if (arg == "--target") {
      if (value == "chatroomd") {
        o.target = Target::kChatroomd;
      } else if (value == "nchan") {
        o.target = Target::kNchan;
      } else {
        ok = false;
      }
    } else if (arg == "--host") {
      o.host = value;
    } else if (arg == "--port") {
      uint32_t p;
      ok = ToU32(value, p, 65535) && p > 0;
      o.port = static_cast<int>(p);
    } else if (arg == "--pollers") {
      ok = ToU32(value, o.pollers);
    } else if (arg == "--rooms") {
      ok = ToU32(value, o.rooms) && o.rooms > 0;
    } else if (arg == "--messages") {
      ok = ToU64(value, o.messages);
    } else if (arg == "--rate") {
      ok = ToDouble(value, o.rate);
    } else if (arg == "--publishers") {
      ok = ToU32(value, o.publishers, 1000) && o.publishers > 0;
    } else if (arg == "--workers") {
      ok = ToU32(value, o.workers, 256);
    } else if (arg == "--sources") {
      ok = ToU32(value, o.sources, 60000);
    } else if (arg == "--server-pid") {
      size_t start = 0;
      while (ok && start <= value.size()) {
        size_t comma = value.find(',', start);
        std::string one =
            value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        uint32_t pid;
        if (!one.empty()) {
          ok = ToU32(one, pid) && pid > 0;
          if (ok) o.server_pids.push_back(static_cast<pid_t>(pid));
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (arg == "--poll-timeout-ms") {
      ok = ToU32(value, o.poll_timeout_ms, 600000);
    } else if (arg == "--drain-s") {
      ok = ToDouble(value, o.drain_s);
    } else if (arg == "--duration-s") {
      ok = ToDouble(value, o.duration_s) && o.duration_s > 0;
    } else if (arg == "--room-prefix") {
      o.room_prefix = value;
      for (char c : value) {
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_.:-", c));
      }
    } else if (arg == "--setup-concurrency") {
      ok = ToU32(value, o.setup_concurrency) && o.setup_concurrency > 0;
    } else if (arg == "--leave-fraction") {
      ok = ToFraction(value, o.leave_num, o.leave_den);
    } else if (arg == "--publish-delay-s") {
      ok = ToDouble(value, o.publish_delay_s);
    } else if (arg == "--online-wait-s") {
      ok = ToDouble(value, o.online_wait_s);
    } else if (arg == "--jwt-secret-file") {
      ok = Identity::FromFile(value, o.identity);
    } else {
      std::fprintf(stderr, "crload: unknown flag %s\n%s", arg.c_str(), kUsage);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "crload: bad value for %s: '%s'\n", arg.c_str(), value.c_str());
      return false;
    }
  }
  if (o.port == 0) {
    std::fprintf(stderr, "crload: --port is required\n%s", kUsage);
    return false;
  }
  if (o.pollers == 0) {
    std::fprintf(stderr, "crload: --pollers must be > 0\n");
    return false;
  }
  if (o.AnyLeave() && o.target != Target::kChatroomd) {
    std::fprintf(stderr,
                 "crload: --leave-fraction needs --target chatroomd (Nchan has no leave)\n");
    return false;
  }
  if (o.obey_next_poll && o.target != Target::kChatroomd) {
    std::fprintf(stderr, "crload: --obey-next-poll needs --target chatroomd (Nchan sends none)\n");
    return false;
  }
  in_addr addr;
  if (!ParseLoopbackHost(o.host, addr)) {
    std::fprintf(stderr, "crload: --host must be an IPv4 address in 127.0.0.0/8\n");
    return false;
  }
  o.dst.sin_family = AF_INET;
  o.dst.sin_port = htons(static_cast<uint16_t>(o.port));
  o.dst.sin_addr = addr;
  if (o.workers == 0) o.workers = (o.pollers + 14999) / 15000;
  if (o.workers > o.pollers) o.workers = o.pollers;
  if ((o.pollers + o.workers - 1) / o.workers > 19000) {
    std::fprintf(stderr, "crload: %u pollers over %u workers is more than 19000 sockets each\n",
                 o.pollers, o.workers);
    return false;
  }
  // ~4000 connections per source address, although one address could take ~28000: the kernel's
  // search for a free source port gets slow as the range fills up (more so with TIME_WAIT left
  // by earlier runs), and that would show up as the server's held time.
  if (o.sources == 0) o.sources = std::min<uint32_t>((o.pollers + 3999) / 4000, 250);
  return true;
}

}  // namespace crload
