// A host's audience counters in the store: written by FlushCounters only when they changed,
// and written again after a failed write.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chatroomd/presence/room_audience.h"
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "room_fakes.h"

namespace chatroomd::room {
namespace {

using fakes::FakeClient;

// A real store whose counters-only writes fail while `fail` is set; it counts the records of
// the counters-only writes that reached it.
class FlakyCountersStore : public store::Store {
 public:
  explicit FlakyCountersStore(store::Store& real) : real_(real) {}
  std::atomic<bool> fail{false};
  std::atomic<int> written{0};

  void Submit(std::unique_ptr<store::WriteRequest> request) override {
    if (request->room.empty() && fail.load()) {
      return store::Complete<Status>(request->done_loop, std::move(request->done),
                                     MakeError(ErrorCode::kInternal, "injected"));
    }
    if (request->room.empty()) written += static_cast<int>(request->counters.size());
    real_.Submit(std::move(request));
  }
  void LoadRoom(std::string room, uint32_t w, uint32_t p, Loop* loop,
                std::function<void(Result<store::RoomSnapshot>)> done) override {
    real_.LoadRoom(std::move(room), w, p, loop, std::move(done));
  }
  void History(std::string room, std::optional<uint64_t> before, uint32_t limit, Loop* loop,
               std::function<void(Result<store::HistoryPage>)> done) override {
    real_.History(std::move(room), before, limit, loop, std::move(done));
  }
  void PriorityAfter(std::string room, uint64_t after, uint32_t limit, Loop* loop,
                     std::function<void(Result<std::vector<store::MessageRecord>>)> done) override {
    real_.PriorityAfter(std::move(room), after, limit, loop, std::move(done));
  }
  void LookupDedup(std::string room, std::string sender, std::string id, Loop* loop,
                   std::function<void(Result<std::optional<uint64_t>>)> done) override {
    real_.LookupDedup(std::move(room), std::move(sender), std::move(id), loop, std::move(done));
  }
  void ReadCounters(
      std::string room, std::vector<store::CounterKey> keys, Loop* loop,
      std::function<void(Result<std::vector<std::optional<std::string>>>)> done) override {
    real_.ReadCounters(std::move(room), std::move(keys), loop, std::move(done));
  }
  store::StoreStats Stats() const override { return real_.Stats(); }
  void Close() override {}

 private:
  store::Store& real_;
};

class RoomCountersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_.emplace("chatroomd-room-counters-test");
    flaky_ = std::make_unique<FlakyCountersStore>(*store_->store);
    loop_ = std::make_unique<Loop>("room-counters", 0);
    client_loop_ = std::make_unique<Loop>("client", 1);
    host_ = std::make_unique<RoomHost>(*loop_, *flaky_, std::make_shared<RoomSettings>(), shared_,
                                       registry_.NewSlot(), clock_.AsClock());
    loop_->Start();
    client_loop_->Start();
  }
  void TearDown() override {
    loop_->Abort();
    client_loop_->Abort();
    host_.reset();
    flaky_.reset();
    store_.reset();
  }
  // Runs `op` on the host's loop and waits for it.
  void OnLoop(std::function<void()> op) {
    std::promise<void> done;
    loop_->Post([&] {
      op();
      done.set_value();
    });
    done.get_future().get();
  }
  void Join(const std::string& user) {
    auto c = std::make_shared<FakeClient>(*client_loop_);
    Caller caller{c, ++serial_, user, false, BodyFormat::kJson};
    loop_->Post([this, caller] { host_->Get("r")->Join(caller, JoinArgs{}); });
    ASSERT_EQ(c->Next()->status, 200);
  }
  // The stored unique count of today for room r (0 when there is none).
  uint64_t StoredToday() {
    std::promise<Result<std::vector<std::optional<std::string>>>> read;
    const uint32_t today = presence::RoomAudience::DayOf(WallNowMs());
    store_->store->ReadCounters("r", {{'d', today}}, nullptr,
                                [&](auto r) { read.set_value(std::move(r)); });
    auto values = read.get_future().get();
    if (!values.ok() || !values.value()[0]) return 0;
    presence::UniqueCounter counter;
    EXPECT_TRUE(presence::RoomAudience::MergeStored(*values.value()[0], 10000, counter).ok());
    return counter.Count();
  }
  // Waits until the counters-only writes that reached the store have been made durable.
  void Settle() {
    std::promise<void> done;
    auto req = std::make_unique<store::WriteRequest>();
    req->done = [&](Status) { done.set_value(); };
    store_->store->Submit(std::move(req));
    done.get_future().get();
  }

  std::optional<fakes::TestStore> store_;
  std::unique_ptr<FlakyCountersStore> flaky_;
  fakes::ManualClock clock_;
  SharedRoomState shared_;
  metrics::Registry registry_;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<Loop> client_loop_;
  std::unique_ptr<RoomHost> host_;
  uint64_t serial_ = 0;
};

TEST_F(RoomCountersTest, WrittenWhenChangedAndAgainAfterAFailedWrite) {
  Join("alice");
  Join("bob");
  OnLoop([&] { host_->FlushCounters(); });
  Settle();
  EXPECT_EQ(StoredToday(), 2u);
  const int after_first = flaky_->written.load();
  EXPECT_EQ(after_first, 2) << "the day and the hour";

  // Regulars coming back change nothing: nothing to write.
  Join("alice");
  OnLoop([&] { host_->FlushCounters(); });
  EXPECT_EQ(flaky_->written.load(), after_first);

  // A newcomer, and the write fails: the next flush writes the periods again.
  Join("carol");
  flaky_->fail = true;
  OnLoop([&] { host_->FlushCounters(); });
  OnLoop([] {});  // the failure's completion has run on the loop
  flaky_->fail = false;
  EXPECT_EQ(StoredToday(), 2u) << "the failed write stored nothing";
  OnLoop([&] { host_->FlushCounters(); });
  Settle();
  EXPECT_EQ(StoredToday(), 3u);
}

}  // namespace
}  // namespace chatroomd::room
