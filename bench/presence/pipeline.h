// A fixed set of keep-alive connections to one server, kept open for the whole run (so that the
// memory a connection costs the server is in the base reading, not charged to the users), and a
// runner that sends a numbered batch of items over them, pipelined up to a depth per connection.
// One thread, level-triggered epoll, non-blocking sockets.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "wire.h"

namespace crpresence {

class Pipeline {
 public:
  // make(i, out) appends item i's request(s) to out and returns how many answers they bring;
  // on_answer is called for every answer, in order per connection.
  using Make = std::function<uint32_t(uint64_t i, std::string& out)>;
  using OnAnswer = std::function<void(const Answer& a)>;

  Pipeline(const Wire& wire, const sockaddr_in& dst, uint32_t connections, int64_t deadline_ns);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Connects every connection (blocking, bounded by the deadline). False with error() set.
  bool Connect();

  // Sends items [0, count), at most depth in flight per connection; items go to connections in
  // turn (with count <= depth they all go to the first). Returns once every answer is in, or
  // false (error() set) on a closed connection, a malformed answer or the deadline.
  bool Run(uint64_t count, uint32_t depth, const Make& make, const OnAnswer& on_answer);

  const std::string& error() const { return error_; }

 private:
  struct Conn {
    int fd = -1;
    std::string out;     // requests not yet written
    size_t out_off = 0;  // written part of out
    bool want_write = false;
    std::string in;  // bytes read, not yet framed
    std::string scratch;
    std::vector<uint32_t> due;  // answers still due per item in flight, oldest first
    size_t due_head = 0;
  };

  bool Flush(Conn& c, uint32_t index);
  // Reads what is there and frames answers; false on EOF, an error or a malformed answer.
  bool Drain(Conn& c, const OnAnswer& on_answer, uint64_t& items_done);
  bool Fail(std::string why);

  const Wire& wire_;
  sockaddr_in dst_;
  int64_t deadline_ns_;
  int epfd_ = -1;
  std::vector<Conn> conns_;
  std::string error_;
};

// CLOCK_MONOTONIC in ns.
int64_t NowNs();

}  // namespace crpresence
