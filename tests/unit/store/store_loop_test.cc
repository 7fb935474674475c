// Where the store's completions run (store/store.h): every call names a loop and its completion
// runs on that loop (posted there); with no loop it runs on a store thread, never on the
// caller's loop. After Close() a call still completes, with kInternal, on the loop it named (or
// at once on the caller's thread when it named none). Each of Submit (WriteRequest::done_loop),
// LoadRoom, History, ReadMessage, PriorityAfter and LookupDedup, against a real RocksDB.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/store/store.h"

namespace chatroomd::store {
namespace {

using namespace std::chrono_literals;

// What a completion saw of where it ran, and what it was given.
struct Seen {
  Loop* current = nullptr;  // Loop::Current() inside the completion
  std::thread::id thread;
  bool in_named_loop = false;  // the named loop's InLoop() inside the completion
  bool ok = false;
  ErrorCode code = ErrorCode::kInternal;
  uint64_t value = 0;  // a summary of the result (see Summary)
};

uint64_t Summary(const Ok&) { return 1; }
uint64_t Summary(const RoomSnapshot& s) { return s.exists ? s.head_seq : 0; }
uint64_t Summary(const HistoryPage& p) { return p.messages.size(); }
uint64_t Summary(const std::vector<MessageRecord>& v) { return v.size(); }
uint64_t Summary(const std::optional<uint64_t>& seq) { return seq.value_or(0); }
uint64_t Summary(const std::optional<MessageRecord>& m) { return m ? m->seq : 0; }

template <typename R>
std::function<void(R)> Recorder(Loop* named, std::function<void(Seen)> report) {
  return [named, report = std::move(report)](R r) {
    Seen s;
    s.current = Loop::Current();
    s.thread = std::this_thread::get_id();
    s.in_named_loop = named && named->InLoop();
    s.ok = r.ok();
    if (r.ok()) {
      s.value = Summary(r.value());
    } else {
      s.code = r.error().code;
    }
    report(s);
  };
}

// One store call, made with `done_loop`; its completion reports what it saw.
struct Op {
  std::string name;
  uint64_t expected;  // Summary of the result on the test's data
  std::function<void(Store&, Loop*, std::function<void(Seen)>)> call;
};

// Room "r" holds one priority message, seq 1, from alice with client_msg_id "c-1".
std::vector<Op> Ops() {
  return {
      {"Submit", 1,
       [](Store& s, Loop* loop, std::function<void(Seen)> report) {
         auto req = std::make_unique<WriteRequest>();
         req->room = "created";
         req->created_ms = 1;
         req->done_loop = loop;
         req->done = Recorder<Status>(loop, std::move(report));
         s.Submit(std::move(req));
       }},
      {"LoadRoom", 1,
       [](Store& s, Loop* loop, std::function<void(Seen)> report) {
         s.LoadRoom("r", 10, 10, loop, Recorder<Result<RoomSnapshot>>(loop, std::move(report)));
       }},
      {"History", 1,
       [](Store& s, Loop* loop, std::function<void(Seen)> report) {
         s.History("r", std::nullopt, 10, loop,
                   Recorder<Result<HistoryPage>>(loop, std::move(report)));
       }},
      {"ReadMessage", 1,
       [](Store& s, Loop* loop, std::function<void(Seen)> report) {
         s.ReadMessage("r", 1, loop,
                       Recorder<Result<std::optional<MessageRecord>>>(loop, std::move(report)));
       }},
      {"PriorityAfter", 1,
       [](Store& s, Loop* loop, std::function<void(Seen)> report) {
         s.PriorityAfter("r", 0, 10, loop,
                         Recorder<Result<std::vector<MessageRecord>>>(loop, std::move(report)));
       }},
      {"LookupDedup", 1,
       [](Store& s, Loop* loop, std::function<void(Seen)> report) {
         s.LookupDedup("r", "alice", "c-1", loop,
                       Recorder<Result<std::optional<uint64_t>>>(loop, std::move(report)));
       }},
  };
}

class StoreLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "chatroomd_store_loop_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    StoreOptions o;
    o.data_dir = dir_ + "/db";
    o.sync_wal = false;
    auto opened = Store::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    done_loop_.Start();
    caller_loop_.Start();
    caller_thread_ = OnCaller([] { return std::this_thread::get_id(); });

    auto req = std::make_unique<WriteRequest>();
    req->room = "r";
    req->head_seq = 1;
    req->created_ms = 1;
    MessageRecord m;
    m.seq = 1;
    m.priority = true;
    m.sender = "alice";
    m.type = "notice";
    m.body = "hello";
    m.client_msg_id = "c-1";
    req->message = m;
    std::promise<bool> written;
    req->done = [&](Status s) { written.set_value(s.ok()); };
    store_->Submit(std::move(req));
    ASSERT_TRUE(written.get_future().get());
  }

  void TearDown() override {
    done_loop_.Abort();
    caller_loop_.Abort();
    if (store_) store_->Close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs `fn` on the caller loop and returns its result.
  template <typename F>
  auto OnCaller(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    caller_loop_.Post([&task] { task(); });
    return result.get();
  }

  // Makes `op`'s call from the caller loop (or this thread) with `done_loop`; what its
  // completion saw. `at_once`: the completion had run when the call returned.
  Seen Run(const Op& op, Loop* done_loop, bool from_caller_loop, bool* at_once = nullptr) {
    auto seen = std::make_shared<std::promise<Seen>>();
    auto future = seen->get_future();
    auto call = [&] { op.call(*store_, done_loop, [seen](Seen s) { seen->set_value(s); }); };
    if (from_caller_loop) {
      OnCaller([&] {
        call();
        return 0;
      });
    } else {
      call();
    }
    if (at_once) *at_once = future.wait_for(0s) == std::future_status::ready;
    if (future.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << op.name << ": never completed";
      return Seen{};
    }
    return future.get();
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  Loop done_loop_{"done", 0};
  Loop caller_loop_{"caller", 1};
  std::thread::id caller_thread_;
};

TEST_F(StoreLoopTest, CompletionsRunOnTheLoopTheCallNames) {
  for (bool from_loop : {false, true}) {
    for (const Op& op : Ops()) {
      SCOPED_TRACE(op.name + (from_loop ? " from a loop" : " from a plain thread"));
      Seen s = Run(op, &done_loop_, from_loop);
      EXPECT_TRUE(s.in_named_loop);
      EXPECT_EQ(s.current, &done_loop_);
      EXPECT_TRUE(s.ok);
      EXPECT_EQ(s.value, op.expected);
    }
  }
}

TEST_F(StoreLoopTest, WithNoLoopCompletionsRunOnAStoreThread) {
  for (const Op& op : Ops()) {
    SCOPED_TRACE(op.name);
    Seen s = Run(op, nullptr, /*from_caller_loop=*/true);
    EXPECT_EQ(s.current, nullptr) << "ran on a loop";
    EXPECT_NE(s.thread, caller_thread_) << "ran on the caller's loop";
    EXPECT_NE(s.thread, std::this_thread::get_id());
    EXPECT_TRUE(s.ok);
    EXPECT_EQ(s.value, op.expected);
  }
}

TEST_F(StoreLoopTest, AfterCloseCallsCompleteOnTheirLoopWithInternal) {
  store_->Close();
  for (bool from_loop : {false, true}) {
    for (const Op& op : Ops()) {
      SCOPED_TRACE(op.name + (from_loop ? " from a loop" : " from a plain thread"));
      Seen s = Run(op, &done_loop_, from_loop);
      EXPECT_TRUE(s.in_named_loop);
      EXPECT_EQ(s.current, &done_loop_);
      EXPECT_FALSE(s.ok);
      EXPECT_EQ(s.code, ErrorCode::kInternal);
    }
  }
}

TEST_F(StoreLoopTest, AfterCloseCallsWithNoLoopCompleteAtOnceOnTheCallersThread) {
  store_->Close();
  for (const Op& op : Ops()) {
    SCOPED_TRACE(op.name);
    bool at_once = false;
    Seen s = Run(op, nullptr, /*from_caller_loop=*/false, &at_once);
    EXPECT_TRUE(at_once);
    EXPECT_EQ(s.thread, std::this_thread::get_id());
    EXPECT_FALSE(s.ok);
    EXPECT_EQ(s.code, ErrorCode::kInternal);
  }
}

}  // namespace
}  // namespace chatroomd::store
