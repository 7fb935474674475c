// Sample data shared by the micro-benchmarks: realistic message records and pre-encoded
// messages, built outside the timed loops.
#pragma once

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/room/client.h"
#include "chatroomd/room/message.h"
#include "chatroomd/store/store.h"

namespace chatroomd::bench {

inline constexpr std::string_view kRoom = "room-7f3a9c";

// Printable ASCII with spaces: nothing to escape, like most chat text.
inline std::string SampleBody(size_t bytes) {
  static constexpr std::string_view kText =
      "the quick brown fox jumps over the lazy dog while the room keeps talking ";
  std::string body;
  body.reserve(bytes);
  while (body.size() < bytes) body += kText.substr(0, std::min(kText.size(), bytes - body.size()));
  return body;
}

inline store::MessageRecord SampleRecord(uint64_t seq, size_t body_bytes, bool priority = false) {
  store::MessageRecord r;
  r.seq = seq;
  r.priority = priority;
  r.sender = "user-" + std::to_string(100000 + seq % 5000);
  r.type = "text";
  r.body = SampleBody(body_bytes);
  r.ts_ms = 1732380000000 + static_cast<int64_t>(seq) * 37;
  return r;
}

// `n` messages with seqs first_seq.., each encoded once as a room does.
inline std::vector<room::MessagePtr> SampleMessages(size_t n, size_t body_bytes,
                                                    uint64_t first_seq = 1000) {
  std::vector<room::MessagePtr> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(room::EncodeMessage(SampleRecord(first_seq + i, body_bytes), 0));
  }
  return out;
}

inline std::vector<const room::EncodedMessage*> Raw(const std::vector<room::MessagePtr>& v) {
  std::vector<const room::EncodedMessage*> out;
  out.reserve(v.size());
  for (const auto& m : v) out.push_back(m.get());
  return out;
}

// CPU time of the calling thread (run it on a loop to read that loop's).
inline int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// A real store in a fresh temp directory (no fsync, one reader thread), closed and removed on
// destruction. `store` is null when it could not be opened.
class TempStore {
 public:
  explicit TempStore(const std::string& name)
      : dir_(std::filesystem::temp_directory_path() /
             ("chatroomd-micro-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    store::StoreOptions so;
    so.data_dir = dir_.string();
    so.sync_wal = false;
    so.reader_threads = 1;
    auto opened = store::Store::Open(so);
    if (opened.ok()) store = std::move(opened.value());
  }
  ~TempStore() {
    if (store) store->Close();
    std::filesystem::remove_all(dir_);
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  std::unique_ptr<store::Store> store;

 private:
  std::filesystem::path dir_;
};

// Runs `op` on `loop` and waits for its result.
template <typename F>
auto RunOn(Loop& loop, F op) -> decltype(op()) {
  std::promise<decltype(op())> p;
  loop.Post([&] { p.set_value(op()); });
  return p.get_future().get();
}

// A client whose answers go to a callback (a sender, a room's creator).
class CallbackClient : public room::Client {
 public:
  CallbackClient(Loop& loop, std::function<void(WirePtr)> on) : loop_(loop), on_(std::move(on)) {}
  Loop& loop() override { return loop_; }
  void Deliver(uint64_t, WirePtr response) override { on_(std::move(response)); }

 private:
  Loop& loop_;
  std::function<void(WirePtr)> on_;
};

}  // namespace chatroomd::bench
