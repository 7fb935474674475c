// A host's audience counters in the store: written by FlushCounters only when they changed,
// and written again after a failed write.
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chatroomd/presence/room_audience.h"
#include "gated_store.h"
#include "host_test.h"

namespace chatroomd::room {
namespace {

class RoomCountersTest : public fakes::HostTest {
 protected:
  void SetUp() override {
    store_.emplace("chatroomd-room-counters-test");
    gated_ = std::make_unique<fakes::GatedStore>(*store_->store);
    StartHost(*gated_);
  }
  void TearDown() override {
    HostTest::TearDown();
    gated_.reset();
    store_.reset();
  }
  void JoinOk(const std::string& user) { ASSERT_EQ(Join(NewClient(), user)->status, 200); }
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
  void Flush() {
    OnHost([](RoomHost& h) { h.FlushCounters(); });
  }

  std::optional<fakes::TestStore> store_;
  std::unique_ptr<fakes::GatedStore> gated_;
};

TEST_F(RoomCountersTest, WrittenWhenChangedAndAgainAfterAFailedWrite) {
  JoinOk("alice");
  JoinOk("bob");
  Flush();
  Settle();
  EXPECT_EQ(StoredToday(), 2u);
  const int after_first = gated_->counter_records.load();
  EXPECT_EQ(after_first, 2) << "the day and the hour";

  // Regulars coming back change nothing: nothing to write.
  JoinOk("alice");
  Flush();
  EXPECT_EQ(gated_->counter_records.load(), after_first);

  // A newcomer, and the write fails: the next flush writes the periods again.
  JoinOk("carol");
  gated_->fail_counters = true;
  Flush();
  OnHost([](RoomHost&) {});  // the failure's completion has run on the loop
  gated_->fail_counters = false;
  EXPECT_EQ(StoredToday(), 2u) << "the failed write stored nothing";
  Flush();
  Settle();
  EXPECT_EQ(StoredToday(), 3u);
}

}  // namespace
}  // namespace chatroomd::room
