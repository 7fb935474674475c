// The publisher: a few keep-alive connections in the parent, each with at most one send in
// flight, paced to a total rate (or flat out). Message i goes to room i % rooms with the body
// "<i>:<CLOCK_MONOTONIC ns at send>". Driven by the parent's epoll loop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "histogram.h"
#include "options.h"

namespace crload {

class Publisher {
 public:
  // Tags in [tag_base, tag_base + publishers) identify this publisher's epoll events.
  Publisher(const Options& opts, int epfd, uint64_t tag_base);
  ~Publisher();

  // Starts connecting; the parent's loop finishes the connects through OnEvent.
  bool OpenAll();
  bool AllConnected() const;
  void Start(int64_t now);
  void OnEvent(uint32_t conn, uint32_t events);
  // Sends whatever is due; returns the epoll timeout (ms) until the next send is due.
  int Pump(int64_t now);
  bool Finished() const;
  // Gives up on what is in flight (deadline): those count as not published.
  void Abort();

  const std::vector<uint32_t>& published_per_room() const { return per_room_; }
  uint64_t published() const { return published_; }
  uint64_t sent() const { return next_; }
  uint64_t errors() const { return errors_; }
  int64_t first_send_ns() const { return first_send_ns_; }
  int64_t last_ack_ns() const { return last_ack_ns_; }
  // Send to 2xx answer, per message: for chatroomd the durable-write latency.
  const Histogram& ack_latency() const { return ack_hist_; }

 private:
  struct Conn {
    int fd = -1;
    bool connected = false;
    bool busy = false;
    uint64_t pubseq = 0;
    int64_t send_ns = 0;
    int reconnects = 0;
    std::string in;
  };
  bool Open(uint32_t c);
  void Send(uint32_t c, int64_t now);
  void Lost(uint32_t c);

  const Options& opts_;
  int epfd_;
  uint64_t tag_base_;
  std::vector<Conn> conns_;
  std::vector<std::string> prefixes_;      // per room: request line + Host
  std::vector<std::string> user_headers_;  // per publisher connection (an admin)
  std::vector<uint32_t> per_room_;
  std::string req_;
  std::string scratch_;
  int64_t start_ns_ = 0;
  uint64_t next_ = 0;
  uint64_t published_ = 0;
  uint64_t errors_ = 0;
  int64_t first_send_ns_ = 0;
  int64_t last_ack_ns_ = 0;
  Histogram ack_hist_;
  char rbuf_[16384];
};

}  // namespace crload
