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
