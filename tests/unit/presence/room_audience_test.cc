// RoomAudience (presence/room_audience.h): unique viewers per hour and UTC day, peaks since
// load and per day, periods rolling over at the boundaries with the finished one kept for the
// next flush, TakeChanged reporting each changed period once, the stored form round-tripping
// through Restore and MergeStored, garbage refused, and the switch to the HyperLogLog. Wall
// times are passed explicitly.
#include "chatroomd/presence/room_audience.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chatroomd/common/ids.h"
#include "proto/chatroomd/store.pb.h"

namespace chatroomd::presence {
namespace {

constexpr int64_t kHour = RoomAudience::kHourMs;
constexpr int64_t kDay = RoomAudience::kDayMs;
constexpr uint32_t kDay0 = 20'000;                  // 2024-10-04, UTC
constexpr int64_t kT0 = kDay0 * kDay + 10 * kHour;  // 10:00:00.000 that day
constexpr uint32_t kHour0 = kDay0 * 24 + 10;        // the hour of kT0
constexpr uint32_t kThreshold = 100;

uint64_t User(int i) { return UserHash("user-" + std::to_string(i)); }

// A stored period, decoded.
struct Stored {
  uint64_t unique = 0;
  int64_t peak = 0;
  bool exact = true;
};

Stored Decode(const std::string& value) {
  store::AudienceCounter c;
  EXPECT_TRUE(c.ParseFromString(value));
  auto unique = UniqueCounter::Parse(c.unique(), kThreshold);
  EXPECT_TRUE(unique.ok());
  if (!unique.ok()) return {};
  return {unique.value().Count(), c.peak_online(), unique.value().exact()};
}

std::pair<char, uint32_t> Key(char kind, uint32_t period) { return {kind, period}; }

// TakeChanged's records by (kind, period); a period reported twice fails the test.
std::map<std::pair<char, uint32_t>, Stored> Take(RoomAudience& a) {
  std::map<std::pair<char, uint32_t>, Stored> out;
  for (const RoomAudience::Record& r : a.TakeChanged()) {
    EXPECT_TRUE(r.kind == 'd' || r.kind == 'h') << r.kind;
    const bool fresh = out.emplace(std::pair{r.kind, r.period}, Decode(r.value)).second;
    EXPECT_TRUE(fresh) << "period reported twice: " << r.kind << r.period;
  }
  return out;
}

// The stored value of one period from TakeChanged, or nullopt.
std::optional<std::string> ValueOf(const std::vector<RoomAudience::Record>& records, char kind,
                                   uint32_t period) {
  for (const auto& r : records) {
    if (r.kind == kind && r.period == period) return r.value;
  }
  return std::nullopt;
}

TEST(RoomAudienceTest, CountsDistinctUsersPerHourAndDay) {
  RoomAudience a(kThreshold, kT0);
  EXPECT_EQ(a.uv_hour(kT0), 0u);
  EXPECT_EQ(a.uv_day(kT0), 0u);
  a.Seen(User(1), kT0);
  a.Seen(User(1), kT0 + 1000);  // the same user twice counts once
  a.Seen(User(2), kT0 + 2000);
  EXPECT_EQ(a.uv_hour(kT0 + 2000), 2u);
  EXPECT_EQ(a.uv_day(kT0 + 2000), 2u);

  // The next hour: a new hour counter, the same day.
  const int64_t t1 = kT0 + kHour;
  a.Seen(User(2), t1);
  a.Seen(User(3), t1);
  EXPECT_EQ(a.uv_hour(t1), 2u);
  EXPECT_EQ(a.uv_day(t1), 3u);
  EXPECT_EQ(a.uv_hour(kT0), 2u) << "an earlier time (a clock stepped back) reads the current hour";
  EXPECT_FALSE(a.day_estimated());
}

TEST(RoomAudienceTest, HourRollsOverAtTheBoundaryAndTheFinishedHourIsFlushed) {
  RoomAudience a(kThreshold, kT0);
  const int64_t last_ms = kT0 + kHour - 1;  // 10:59:59.999
  a.Seen(User(1), kT0);
  a.Seen(User(2), last_ms);
  EXPECT_EQ(a.uv_hour(last_ms), 2u) << "still the same hour";

  a.Seen(User(3), kT0 + kHour);  // 11:00:00.000
  EXPECT_EQ(a.uv_hour(kT0 + kHour), 1u) << "the new hour starts empty";
  EXPECT_EQ(a.uv_day(kT0 + kHour), 3u);

  auto changed = Take(a);
  ASSERT_EQ(changed.size(), 3u);
  ASSERT_TRUE(changed.count(Key('h', kHour0)));
  EXPECT_EQ(changed[Key('h', kHour0)].unique, 2u) << "the finished hour's final state";
  ASSERT_TRUE(changed.count(Key('h', kHour0 + 1)));
  EXPECT_EQ(changed[Key('h', kHour0 + 1)].unique, 1u);
  ASSERT_TRUE(changed.count(Key('d', kDay0)));
  EXPECT_EQ(changed[Key('d', kDay0)].unique, 3u);
  EXPECT_TRUE(Take(a).empty());
}

TEST(RoomAudienceTest, DayRollsOverAtUtcMidnight) {
  const int64_t evening = kDay0 * kDay + 23 * kHour;
  RoomAudience a(kThreshold, evening);
  a.Seen(User(1), evening);
  a.Seen(User(2), evening + kHour - 1);  // 23:59:59.999
  a.Online(5, evening + kHour - 1);
  EXPECT_EQ(a.uv_day(evening + kHour - 1), 2u);

  const int64_t midnight = (kDay0 + 1) * kDay;
  a.Seen(User(1), midnight);
  EXPECT_EQ(a.uv_day(midnight), 1u) << "the new day starts empty";
  EXPECT_EQ(a.uv_hour(midnight), 1u);
  EXPECT_EQ(a.uv_day(evening), 1u) << "an earlier time reads the current day";
  EXPECT_EQ(a.peak_day(midnight), 0) << "nobody counted online yet today";

  auto changed = Take(a);
  ASSERT_EQ(changed.size(), 4u);  // both finished periods and both new ones
  ASSERT_TRUE(changed.count(Key('d', kDay0)));
  EXPECT_EQ(changed[Key('d', kDay0)].unique, 2u);
  EXPECT_EQ(changed[Key('d', kDay0)].peak, 5);
  ASSERT_TRUE(changed.count(Key('h', kDay0 * 24 + 23)));
  EXPECT_EQ(changed[Key('h', kDay0 * 24 + 23)].unique, 2u);
  ASSERT_TRUE(changed.count(Key('d', kDay0 + 1)));
  EXPECT_EQ(changed[Key('d', kDay0 + 1)].unique, 1u);
  EXPECT_EQ(changed[Key('d', kDay0 + 1)].peak, 0);
  ASSERT_TRUE(changed.count(Key('h', (kDay0 + 1) * 24)));
}

TEST(RoomAudienceTest, PeaksSinceLoadAndOfTheDay) {
  RoomAudience a(kThreshold, kT0);
  EXPECT_EQ(a.peak_since_load(), 0);
  EXPECT_EQ(a.peak_day(kT0), 0);
  a.Online(5, kT0);
  a.Online(3, kT0 + 1000);
  EXPECT_EQ(a.peak_since_load(), 5);
  EXPECT_EQ(a.peak_day(kT0), 5);
  a.Online(7, kT0 + 2 * kHour);
  EXPECT_EQ(a.peak_since_load(), 7);
  EXPECT_EQ(a.peak_day(kT0 + 2 * kHour), 7);

  // A new day: the day's peak starts again, the peak since load does not.
  const int64_t tomorrow = kT0 + kDay;
  a.Online(2, tomorrow);
  EXPECT_EQ(a.peak_day(tomorrow), 2);
  EXPECT_EQ(a.peak_since_load(), 7);
  EXPECT_EQ(a.peak_day(kT0), 2) << "an earlier time reads today's peak";
  a.Online(4, tomorrow + 1000);
  EXPECT_EQ(a.peak_day(tomorrow), 4);

  // Yesterday's peak was flushed with yesterday.
  auto changed = Take(a);
  ASSERT_TRUE(changed.count(Key('d', kDay0)));
  EXPECT_EQ(changed[Key('d', kDay0)].peak, 7);
  ASSERT_TRUE(changed.count(Key('d', kDay0 + 1)));
  EXPECT_EQ(changed[Key('d', kDay0 + 1)].peak, 4);
}

TEST(RoomAudienceTest, TakeChangedReportsEachChangedPeriodOnce) {
  RoomAudience a(kThreshold, kT0);
  EXPECT_FALSE(a.changed());
  EXPECT_TRUE(a.TakeChanged().empty()) << "nothing happened";

  a.Seen(User(1), kT0);
  EXPECT_TRUE(a.changed());
  auto changed = Take(a);
  EXPECT_EQ(changed.size(), 2u);  // the day and the hour
  EXPECT_TRUE(changed.count(Key('d', kDay0)));
  EXPECT_TRUE(changed.count(Key('h', kHour0)));
  EXPECT_FALSE(a.changed());
  EXPECT_TRUE(a.TakeChanged().empty()) << "already taken";

  // A higher online count changes the day only; an equal or lower one changes nothing.
  a.Online(3, kT0);
  changed = Take(a);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[Key('d', kDay0)].peak, 3);
  a.Online(3, kT0 + 1);
  a.Online(1, kT0 + 2);
  EXPECT_FALSE(a.changed());
  EXPECT_TRUE(a.TakeChanged().empty());

  // A flushed hour that ends untouched is not reported again when the next one begins.
  a.Seen(User(2), kT0 + kHour);
  changed = Take(a);
  EXPECT_EQ(changed.size(), 2u);
  EXPECT_FALSE(changed.count(Key('h', kHour0)));
  EXPECT_TRUE(changed.count(Key('h', kHour0 + 1)));
  EXPECT_TRUE(changed.count(Key('d', kDay0)));

  // Several hours pass between flushes: each changed hour once, with its own count.
  a.Seen(User(3), kT0 + 2 * kHour);
  a.Seen(User(4), kT0 + 3 * kHour);
  a.Seen(User(5), kT0 + 3 * kHour);
  changed = Take(a);
  EXPECT_EQ(changed.size(), 3u);  // 11:00 was flushed above and not touched since
  EXPECT_EQ(changed[Key('h', kHour0 + 2)].unique, 1u);
  EXPECT_EQ(changed[Key('h', kHour0 + 3)].unique, 2u);
  EXPECT_EQ(changed[Key('d', kDay0)].unique, 5u);
  EXPECT_TRUE(a.TakeChanged().empty());
}

TEST(RoomAudienceTest, ARegularComingBackChangesNothingToWrite) {
  RoomAudience a(kThreshold, kT0);
  a.Seen(User(1), kT0);
  a.Seen(User(2), kT0);
  Take(a);
  // The same users poll on: nothing new to store, so a flush writes nothing for the room.
  for (int i = 0; i < 50; ++i) a.Seen(User(1 + i % 2), kT0 + i);
  EXPECT_FALSE(a.changed());
  EXPECT_TRUE(a.TakeChanged().empty());
  a.Seen(User(3), kT0 + 100);
  EXPECT_EQ(Take(a).size(), 2u);
}

TEST(RoomAudienceTest, AClockSteppedBackNeverStartsAnEarlierPeriodAfresh) {
  // Just past midnight, then the wall clock steps back half a second (NTP, a resumed VM).
  const int64_t midnight = (kDay0 + 1) * kDay;
  RoomAudience a(kThreshold, midnight - 2 * kHour);
  for (int i = 0; i < 5; ++i) a.Seen(User(i), midnight - kHour);
  a.Seen(User(10), midnight + 100);
  auto changed = Take(a);
  ASSERT_TRUE(changed.count(Key('d', kDay0)));
  EXPECT_EQ(changed[Key('d', kDay0)].unique, 5u);
  a.Seen(User(11), midnight - 400);
  changed = Take(a);
  EXPECT_FALSE(changed.count(Key('d', kDay0))) << "yesterday's stored five would be replaced";
  EXPECT_EQ(changed[Key('d', kDay0 + 1)].unique, 2u) << "counted into the current day";
  EXPECT_EQ(a.uv_day(midnight - 400), 2u);
  EXPECT_EQ(a.uv_day(midnight + 1000), 2u);
}

TEST(RoomAudienceTest, StoredFormRoundTripsThroughRestoreAndMergeStored) {
  RoomAudience a(kThreshold, kT0 - kHour);
  for (int i = 0; i < 50; ++i) a.Seen(User(i), kT0 - kHour + i);  // 09:00, earlier today
  for (int i = 40; i < 60; ++i) a.Seen(User(i), kT0 + i);         // 10:00
  a.Online(33, kT0 + 100);
  const auto records = a.TakeChanged();
  const auto day = ValueOf(records, 'd', kDay0);
  const auto hour = ValueOf(records, 'h', kHour0);
  ASSERT_TRUE(day && hour);
  ASSERT_EQ(a.uv_day(kT0), 60u);
  ASSERT_EQ(a.uv_hour(kT0), 20u);

  // A restart at 10:30: the day and hour come back.
  const int64_t t = kT0 + kHour / 2;
  RoomAudience b(kThreshold, t);
  ASSERT_TRUE(b.Restore(day, hour).ok());
  EXPECT_EQ(b.uv_day(t), 60u);
  EXPECT_EQ(b.uv_hour(t), 20u);
  EXPECT_EQ(b.peak_day(t), 33);
  EXPECT_EQ(b.peak_since_load(), 0) << "a peak since load starts at the load";
  EXPECT_FALSE(b.changed()) << "restored, not changed";
  b.Seen(User(0), t);  // known today, new this hour
  EXPECT_EQ(b.uv_day(t), 60u);
  EXPECT_EQ(b.uv_hour(t), 21u);

  // Users seen while the load was in flight join what was stored.
  RoomAudience c(kThreshold, t);
  c.Seen(User(1), t);     // stored already
  c.Seen(User(1000), t);  // new
  c.Online(50, t);
  ASSERT_TRUE(c.Restore(day, std::nullopt).ok());
  EXPECT_EQ(c.uv_day(t), 61u);
  EXPECT_EQ(c.uv_hour(t), 2u) << "no stored hour: only what was seen";
  EXPECT_EQ(c.peak_day(t), 50);

  // A stored day merges into a range's counter.
  UniqueCounter range(kThreshold);
  ASSERT_TRUE(RoomAudience::MergeStored(*day, kThreshold, range).ok());
  EXPECT_EQ(range.Count(), 60u);
  RoomAudience other(kThreshold, kT0 + kDay);
  for (int i = 55; i < 70; ++i) other.Seen(User(i), kT0 + kDay);
  const auto next_day = ValueOf(other.TakeChanged(), 'd', kDay0 + 1);
  ASSERT_TRUE(next_day);
  ASSERT_TRUE(RoomAudience::MergeStored(*next_day, kThreshold, range).ok());
  EXPECT_EQ(range.Count(), 70u) << "a union: users of both days count once";
}

TEST(RoomAudienceTest, GarbageIsAnErrorAndTheCountersStayUsable) {
  RoomAudience a(kThreshold, kT0);
  a.Seen(User(1), kT0);
  const std::optional<std::string> garbage = std::string("\xff\xff\xff\x01garbage", 11);
  EXPECT_FALSE(a.Restore(garbage, std::nullopt).ok());
  EXPECT_FALSE(a.Restore(std::nullopt, garbage).ok());
  // A well-formed AudienceCounter whose counter bytes are not a UniqueCounter.
  store::AudienceCounter bad;
  bad.set_unique("\x07nonsense");
  bad.set_peak_online(99);
  EXPECT_FALSE(a.Restore(bad.SerializeAsString(), std::nullopt).ok());

  EXPECT_EQ(a.uv_day(kT0), 1u) << "what was counted stays";
  EXPECT_EQ(a.peak_day(kT0), 0) << "nothing of a bad value is taken";
  a.Seen(User(2), kT0);
  a.Online(4, kT0);
  EXPECT_EQ(a.uv_day(kT0), 2u);
  EXPECT_EQ(a.uv_hour(kT0), 2u);
  EXPECT_EQ(a.peak_day(kT0), 4);
  EXPECT_EQ(Take(a).size(), 2u);

  // One bad period does not stop the other from being restored.
  RoomAudience good(kThreshold, kT0);
  good.Seen(User(7), kT0);
  const auto hour = ValueOf(good.TakeChanged(), 'h', kHour0);
  ASSERT_TRUE(hour);
  RoomAudience b(kThreshold, kT0);
  EXPECT_FALSE(b.Restore(garbage, hour).ok());
  EXPECT_EQ(b.uv_hour(kT0), 1u);
  EXPECT_EQ(b.uv_day(kT0), 0u);

  UniqueCounter range(kThreshold);
  range.Add(User(1));
  EXPECT_FALSE(RoomAudience::MergeStored(*garbage, kThreshold, range).ok());
  EXPECT_EQ(range.Count(), 1u) << "the range is left as it was";
}

TEST(RoomAudienceTest, SwitchesToTheHyperLogLogPastTheThreshold) {
  RoomAudience a(kThreshold, kT0);
  for (uint32_t i = 0; i < kThreshold; ++i) a.Seen(User(i), kT0);
  EXPECT_FALSE(a.day_estimated());
  EXPECT_EQ(a.uv_day(kT0), kThreshold) << "exact up to the threshold";
  a.Seen(User(0), kT0);  // a repeat changes nothing
  EXPECT_FALSE(a.day_estimated());

  a.Seen(User(kThreshold), kT0);
  EXPECT_TRUE(a.day_estimated());
  EXPECT_NEAR(static_cast<double>(a.uv_day(kT0)), kThreshold + 1, 0.03 * (kThreshold + 1));
  for (int i = 0; i < 5000; ++i) a.Seen(User(i), kT0 + 1);
  EXPECT_NEAR(static_cast<double>(a.uv_day(kT0)), 5000, 0.05 * 5000);
  EXPECT_NEAR(static_cast<double>(a.uv_hour(kT0)), 5000, 0.05 * 5000);
  ASSERT_NE(a.day_counter(kT0), nullptr);
  EXPECT_FALSE(a.day_counter(kT0)->exact());
  EXPECT_EQ(a.day_counter(kT0 + kDay), nullptr) << "another day";

  // The dense form is stored and restored as it is.
  const auto records = a.TakeChanged();
  const auto day = ValueOf(records, 'd', kDay0);
  ASSERT_TRUE(day);
  EXPECT_FALSE(Decode(*day).exact);
  RoomAudience b(kThreshold, kT0);
  ASSERT_TRUE(b.Restore(day, std::nullopt).ok());
  EXPECT_TRUE(b.day_estimated());
  EXPECT_EQ(b.uv_day(kT0), a.uv_day(kT0));

  // A new day starts exact again.
  a.Seen(User(1), kT0 + kDay);
  EXPECT_FALSE(a.day_estimated());
  EXPECT_EQ(a.uv_day(kT0 + kDay), 1u);
}

}  // namespace
}  // namespace chatroomd::presence
