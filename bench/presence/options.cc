#include "options.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "net.h"

namespace crpresence {
namespace {

constexpr char kUsage[] =
    "usage: crpresence --port P [--target {chatroomd,redis-hash,redis-centrifugo}]\n"
    "                  [--host 127.0.0.1] [--users N] [--connections C] [--depth D]\n"
    "                  [--room NAME] [--server-pid PID] [--settle-ms MS] [--duration-s S]\n"
    "                  [--quiet]\n";

bool ToU64(const std::string& s, uint64_t& out, uint64_t min, uint64_t max) {
  if (s.empty() || s[0] == '-') return false;
  char* end;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return false;
  out = v;
  return true;
}

// Room names go into a URL path and a Redis key unescaped: keep them to the API's room charset.
bool ValidRoom(const std::string& r) {
  if (r.empty() || r.size() > 128) return false;
  for (char c : r) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const char* Options::TargetName() const {
  switch (target) {
    case Target::kChatroomd:
      return "chatroomd";
    case Target::kRedisHash:
      return "redis-hash";
    case Target::kRedisCentrifugo:
      return "redis-centrifugo";
  }
  return "?";
}

bool ParseOptions(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stderr);
      return false;
    }
    if (arg == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "crpresence: %s needs a value\n%s", arg.c_str(), kUsage);
      return false;
    }
    std::string value = argv[++i];
    uint64_t n = 0;
    bool ok = true;
    if (arg == "--target") {
      if (value == "chatroomd") {
        o.target = Target::kChatroomd;
      } else if (value == "redis-hash") {
        o.target = Target::kRedisHash;
      } else if (value == "redis-centrifugo") {
        o.target = Target::kRedisCentrifugo;
      } else {
        ok = false;
      }
    } else if (arg == "--host") {
      o.host = value;
    } else if (arg == "--port") {
      ok = ToU64(value, n, 1, 65535);
      o.port = static_cast<int>(n);
    } else if (arg == "--users") {
      // Ids are "u" + 15 digits: the index must fit in 15.
      ok = ToU64(value, n, 1, 999999999999998ull);
      o.users = n;
    } else if (arg == "--connections") {
      ok = ToU64(value, n, 1, 1000);
      o.connections = static_cast<uint32_t>(n);
    } else if (arg == "--depth") {
      ok = ToU64(value, n, 1, 10000);
      o.depth = static_cast<uint32_t>(n);
    } else if (arg == "--room") {
      o.room = value;
      ok = ValidRoom(value);
    } else if (arg == "--server-pid") {
      ok = ToU64(value, n, 1, 1u << 30);
      o.server_pid = static_cast<pid_t>(n);
    } else if (arg == "--settle-ms") {
      ok = ToU64(value, n, 0, 600000);
      o.settle_ms = static_cast<uint32_t>(n);
    } else if (arg == "--duration-s") {
      ok = ToU64(value, n, 1, 3600);
      o.duration_s = static_cast<double>(n);
    } else {
      std::fprintf(stderr, "crpresence: unknown flag %s\n%s", arg.c_str(), kUsage);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "crpresence: bad value for %s: %s\n", arg.c_str(), value.c_str());
      return false;
    }
  }
  if (o.port == 0) {
    std::fprintf(stderr, "crpresence: --port is required\n%s", kUsage);
    return false;
  }
  in_addr addr;
  if (!crload::ParseLoopbackHost(o.host, addr)) {
    std::fprintf(stderr, "crpresence: --host must be an address in 127.0.0.0/8\n");
    return false;
  }
  o.dst.sin_family = AF_INET;
  o.dst.sin_port = htons(static_cast<uint16_t>(o.port));
  o.dst.sin_addr = addr;
  return true;
}

}  // namespace crpresence
