// The online check: after the leave phase, the parent reads GET /v1/rooms/{room}/online?limit=0
// for every room until its count is what crload expects (the room's set-up pollers that did not
// leave) or a time bound passes: a server's counts may lag by about one aggregation period.
// One keep-alive connection with one request in flight, in sweeps over the rooms not yet exact
// (at most one sweep per 100 ms), driven by the parent's epoll loop like the Publisher.
// A server without the endpoint (a 404 that is not room_not_found, or a 405: an older chatroomd,
// the floor) ends the check at once with nothing checked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "options.h"

namespace crload {

class OnlineCheck {
 public:
  // expected[room]: the count each room must reach. Tag identifies this check's epoll events.
  OnlineCheck(const Options& opts, int epfd, uint64_t tag, std::vector<uint32_t> expected);
  ~OnlineCheck();

  // Connects and runs until every room is exact or `until`; false if it cannot connect at all.
  bool Start(int64_t now, int64_t until);
  void OnEvent();
  // Sends what is due (and ends the check at `until`); returns the epoll timeout in ms.
  int Pump(int64_t now);
  bool Finished() const { return finished_; }

  // Whether the server serves the endpoint (false: the figures below are all zero).
  bool served() const { return !unsupported_; }
  uint32_t checked() const;
  // Checked rooms whose count never equalled the expected one (rooms never read included).
  uint32_t mismatched() const;
  // count - expected of the largest magnitude: over the mismatched rooms' last readings, and
  // over every room's first reading (how far the counts lagged right after the leaves).
  int64_t worst_diff() const;
  int64_t first_worst_diff() const;
  // When the last room read exact; 0 if some room never did.
  int64_t all_exact_ns() const;
  // A few mismatched rooms for the log: "bench7: read 76 for 75, ...".
  std::string MismatchSample(size_t max) const;
  uint64_t requests() const { return requests_; }
  uint64_t errors() const { return errors_; }

 private:
  struct Room {
    uint32_t expected = 0;
    bool read = false;
    bool exact = false;
    int64_t first_diff = 0;
    int64_t last_diff = 0;
  };
  bool Open();
  void Send();
  void OnAnswer(int status, std::string_view body, int64_t now);
  void Lost();
  void Finish();

  const Options& opts_;
  int epfd_;
  uint64_t tag_;
  std::vector<Room> rooms_;
  std::vector<uint32_t> pending_;  // rooms not yet exact; the sweep walks it
  size_t pos_ = 0;                 // next room of the sweep in pending_
  int64_t sweep_start_ns_ = 0;
  int64_t until_ns_ = 0;
  int64_t last_exact_ns_ = 0;
  int fd_ = -1;
  bool connected_ = false;
  bool busy_ = false;
  bool unsupported_ = false;
  bool finished_ = false;
  int reconnects_ = 0;
  uint64_t requests_ = 0;
  uint64_t errors_ = 0;
  std::string host_header_;
  std::string user_header_;
  std::string req_;
  std::string in_;
  std::string scratch_;
  char rbuf_[16384];
};

}  // namespace crload
