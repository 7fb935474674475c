// What crpresence writes and reads for each target: the requests that make a user online, the
// warm-up, the count and memory queries, and the framing of one answer (HTTP/1.1 through
// crload's parser, RESP2 here). Pure functions of the options: no sockets.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "options.h"

namespace crpresence {

// One answer framed from the start of a connection's input. Views point into that input (or
// into the scratch string for a chunked HTTP body) and live until the input is consumed.
struct Answer {
  size_t len = 0;           // bytes of the input it used
  int http_status = 0;      // HTTP: the status; RESP: 0
  bool resp_error = false;  // RESP: an error reply ("-ERR ...")
  int64_t integer = -1;     // RESP: an integer reply (":1"), else -1
  std::string_view body;    // HTTP body, RESP bulk string or status/error text
};

enum class Frame { kIncomplete, kComplete, kBad };

class Wire {
 public:
  explicit Wire(const Options& opts);

  // User i's id: "u" + i in 15 digits, 16 characters (the id length).
  static std::string UserId(uint64_t i);

  // Appends the request(s) that make user i online; returns how many answers they bring.
  // chatroomd: a join. Redis hash: HSET room-key id last-seen-ms. Centrifugo: ZADD expire-key
  // expire-at client-id, HSET data-key client-id ClientInfo (client-id a UUID made from i).
  uint32_t AppendJoin(uint64_t i, std::string& out) const;
  // An answer to AppendJoin for a user who was not online before (200; Redis: ":1", a new entry).
  bool JoinOk(const Answer& a) const;

  // The warm-up: user 0 joins (creating the room, or the Redis keys, with their TTLs). Repeating
  // it adds nothing; any 200 or integer answer is fine.
  uint32_t AppendWarmUp(std::string& out) const;
  bool WarmUpOk(const Answer& a) const;

  // How many are online: chatroomd: user 0 joins again and the answer's "online" is read;
  // Redis: HLEN of the hash (Centrifugo: and ZCARD of the sorted set). CountOf: -1 if unreadable.
  uint32_t AppendCount(std::string& out) const;
  int64_t CountOf(const Answer& a) const;

  // Redis only: INFO memory, and its used_memory (-1 if absent).
  uint32_t AppendInfo(std::string& out) const;
  static int64_t UsedMemoryOf(const Answer& a);
  // Redis only: MEMORY USAGE of each presence key (SAMPLES 0: every element is counted), one
  // integer answer per key: what Redis itself reckons the data structures hold.
  uint32_t AppendKeyMemory(std::string& out) const;

  Frame Parse(std::string_view in, Answer& a, std::string& scratch) const;

 private:
  static void AppendCommand(std::string& out, std::initializer_list<std::string_view> args);
  void AppendRedisJoin(uint64_t i, std::string& out) const;

  const Options& opts_;
  std::string join_prefix_;   // chatroomd: the join request up to the X-User-Id value
  std::string hash_key_;      // Redis: the hash (Centrifugo: the client -> ClientInfo hash)
  std::string zset_key_;      // Centrifugo: the client -> expire-at sorted set
  std::string last_seen_ms_;  // Redis hash: the value of every field (now, in ms)
  std::string expire_at_s_;   // Centrifugo: the score of every member (now + 60 s)
};

}  // namespace crpresence
