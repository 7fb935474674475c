// crpresence's command line: which server speaks which protocol, how many users, over how many
// connections, and the bounds that make every run stop by itself.
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace crpresence {

// What "user i is online in the room" is written as.
enum class Target {
  kChatroomd,        // POST /v1/rooms/{room}/join {"backlog":0} with X-User-Id
  kRedisHash,        // HSET <room key> <user id> <last seen ms>: one hash per room
  kRedisCentrifugo,  // Centrifugo's Redis presence: ZADD expire-at + HSET client -> ClientInfo
};

struct Options {
  Target target = Target::kChatroomd;
  std::string host = "127.0.0.1";
  int port = 0;
  uint64_t users = 100000;  // joined after the base reading
  uint32_t connections = 32;
  uint32_t depth = 32;  // users in flight per connection (pipelined)
  std::string room = "presence";
  pid_t server_pid = 0;  // 0: no memory figures
  // At least this long between a phase and its memory reading: Redis frees an idle client's
  // query buffer after 2 s, so both readings should come after that (measured: 2 s gave
  // 90.5-92.8 B/user over runs, 3.5 s and 5 s both 90.5).
  uint32_t settle_ms = 3500;
  double duration_s = 120;  // hard cap on the whole run
  bool quiet = false;

  sockaddr_in dst{};  // resolved from host/port
  const char* TargetName() const;
  bool IsRedis() const { return target != Target::kChatroomd; }
};

// Parses argv into opts; on error prints why (and usage) to stderr and returns false.
bool ParseOptions(int argc, char** argv, Options& opts);

}  // namespace crpresence
