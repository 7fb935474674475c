// A loop: one io_context run by one thread. Everything a loop owns is touched only on that
// thread; other threads reach it by posting. Owner-only methods assert with InLoop().
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cassert>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace chatroomd {

class Loop {
 public:
  Loop(std::string name, uint32_t index);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  boost::asio::io_context& context() { return context_; }
  const std::string& name() const { return name_; }
  uint32_t index() const { return index_; }

  // Starts the thread that runs the io_context.
  void Start();
  // Lets the io_context run out of work and joins the thread. Pending handlers still run.
  void Stop();
  // Stops at once (handlers left in the queue are destroyed, not run) and joins.
  void Abort();

  bool InLoop() const { return Current() == this; }
  // The loop whose thread is calling, or nullptr.
  static Loop* Current();

  template <typename F>
  void Post(F&& f) {
    boost::asio::post(context_, std::forward<F>(f));
  }

  // Runs `fn` on `target`. Called on a loop thread, everything sent to one target during one
  // turn of the calling loop (the handlers that one epoll wake-up made ready) is handed over in
  // a single post: under load one wake-up of the target carries many requests, instead of a
  // wake-up, a futex and an epoll_ctl per request. Order is kept per (sender, target).
  // From any other thread it is a plain Post.
  static void Send(Loop& target, std::function<void()> fn);

  // Milliseconds the last lag probe waited in the queue (for /v1/admin/sects and metrics).
  int64_t lag_us() const { return lag_us_.load(std::memory_order_relaxed); }
  void set_lag_us(int64_t v) { lag_us_.store(v, std::memory_order_relaxed); }

 private:
  std::string name_;
  uint32_t index_;
  boost::asio::io_context context_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::atomic<int64_t> lag_us_{0};

  // Owned by this loop's thread: work for other loops waiting for the end of this turn.
  struct Outbox {
    Loop* target = nullptr;
    std::vector<std::function<void()>> items;
  };
  void FlushOutboxes();
  std::vector<Outbox> outboxes_;
  bool flush_posted_ = false;
};

}  // namespace chatroomd
