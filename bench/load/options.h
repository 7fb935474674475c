// crload's command line. See README.md for what each flag means.
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "identity.h"

namespace crload {

enum class Target { kChatroomd, kNchan };

struct Options {
  Target target = Target::kChatroomd;
  std::string host = "127.0.0.1";
  int port = 0;
  uint32_t pollers = 1000;
  uint32_t rooms = 1;
  uint64_t messages = 100;
  double rate = 0;  // msgs/s over all publishers; 0 = flat out
  uint32_t publishers = 4;
  uint32_t workers = 0;  // 0 = ceil(pollers / 15000)
  uint32_t sources = 0;  // 0 = ceil(pollers / 4000), at most 250
  std::vector<pid_t> server_pids;
  uint32_t poll_timeout_ms = 30000;
  double drain_s = 10;
  double duration_s = 120;
  std::string room_prefix = "bench";
  uint32_t setup_concurrency = 256;  // connects + joins (and leaves) in flight per worker
  // --leave-fraction as a ratio: after the drain, that part of each room's pollers leaves.
  uint32_t leave_num = 0;
  uint32_t leave_den = 1;
  double online_wait_s = 5;  // how long the online check waits for exact counts; 0 = no check
  // --obey-next-poll (chatroomd): after a poll answer with next_poll_ms > 0, wait that long
  // before the next poll, as a well-behaved client does.
  bool obey_next_poll = false;
  double publish_delay_s = 0;  // wait this long once every poll is held, before publishing
  bool quiet = false;
  // --jwt-secret-file: requests carry an HS256 token besides X-User-Id (identity.h).
  Identity identity;

  sockaddr_in dst{};  // resolved from host/port
  const char* target_name() const { return target == Target::kNchan ? "nchan" : "chatroomd"; }
  std::string RoomName(uint32_t room) const { return room_prefix + std::to_string(room); }
  bool AnyLeave() const { return leave_num > 0; }
  // Whether poller i leaves after the drain. It is poller j = i / rooms of its room, and it
  // leaves when floor((j + 1) * F) > floor(j * F): the leavers are spread evenly over each
  // room, floor(n * F) of a room's n pollers (i % L would empty whole rooms, or spare them,
  // whenever L shares a factor with the room count).
  bool Leaves(uint32_t i) const {
    uint64_t j = i / rooms;
    return (j + 1) * leave_num / leave_den > j * leave_num / leave_den;
  }
};

// Parses argv into opts; on error prints why (and usage) to stderr and returns false.
bool ParseOptions(int argc, char** argv, Options& opts);

}  // namespace crload
