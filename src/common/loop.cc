#include "chatroomd/common/loop.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

namespace chatroomd {
namespace {
thread_local Loop* current_loop = nullptr;
}  // namespace

Loop::Loop(std::string name, uint32_t index)
    : name_(std::move(name)), index_(index), work_(context_.get_executor()) {}

Loop::~Loop() { Abort(); }

Loop* Loop::Current() { return current_loop; }

void Loop::Start() {
  thread_ = std::thread([this] {
    current_loop = this;
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
    for (;;) {
      try {
        context_.run();
        break;
      } catch (const std::exception& e) {
        // A handler threw: log and keep serving; the data plane does not use exceptions,
        // so this is a bug, but one request must not take the process down.
        spdlog::error("loop {}: handler threw: {}", name_, e.what());
      }
    }
    current_loop = nullptr;
  });
}

void Loop::Send(Loop& target, std::function<void()> fn) {
  Loop* self = current_loop;
  if (!self || self == &target) {
    target.Post(std::move(fn));
    return;
  }
  Outbox* box = nullptr;
  for (auto& b : self->outboxes_) {
    if (b.target == &target) box = &b;
  }
  if (!box) box = &self->outboxes_.emplace_back(Outbox{&target, {}});
  box->items.push_back(std::move(fn));
  if (!self->flush_posted_) {
    self->flush_posted_ = true;
    // Runs after the handlers already queued on this loop, i.e. at the end of this turn.
    self->Post([self] { self->FlushOutboxes(); });
  }
}

void Loop::FlushOutboxes() {
  flush_posted_ = false;
  for (auto& box : outboxes_) {
    if (box.items.empty()) continue;
    box.target->Post([items = std::move(box.items)]() mutable {
      for (auto& fn : items) fn();
    });
    box.items.clear();
  }
}

void Loop::Stop() {
  work_.reset();
  if (thread_.joinable()) thread_.join();
}

void Loop::Abort() {
  work_.reset();
  context_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace chatroomd
