// A room's audience over time: unique viewers of the current hour and UTC day
// (UniqueCounter: exact, then a HyperLogLog), and its peak online count since it was loaded
// and in the current UTC day. Periods roll over by the wall clock; a finished period's final
// state is kept for the next flush, so nothing counted is lost at midnight. Persisted by its
// room through the store's counters column family (written in batches by the room's host,
// never one write per poll), restored when the room loads.
//
// Plain data owned by its room, on the room's loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/presence/unique_counter.h"

namespace chatroomd::presence {

class RoomAudience {
 public:
  static constexpr int64_t kHourMs = 3600LL * 1000;
  static constexpr int64_t kDayMs = 24 * kHourMs;
  static uint32_t DayOf(int64_t wall_ms) { return static_cast<uint32_t>(wall_ms / kDayMs); }
  static uint32_t HourOf(int64_t wall_ms) { return static_cast<uint32_t>(wall_ms / kHourMs); }

  // A period's stored form, for the store's counters column family.
  struct Record {
    char kind = 'd';  // 'd': a UTC day, 'h': an hour
    uint32_t period = 0;
    std::string value;  // store.AudienceCounter
  };

  RoomAudience(uint32_t exact_threshold, int64_t wall_ms);

  // Restores the stored counters of the current day and hour (either may be absent). A value
  // that does not parse is dropped (the period counts from now).
  Status Restore(const std::optional<std::string>& day, const std::optional<std::string>& hour);

  // A user was seen (a join, a poll).
  void Seen(uint64_t user_hash, int64_t wall_ms);
  // The room's published online count.
  void Online(int64_t count, int64_t wall_ms);

  uint64_t uv_hour(int64_t wall_ms) const;
  uint64_t uv_day(int64_t wall_ms) const;
  int64_t peak_since_load() const { return peak_since_load_; }
  int64_t peak_day(int64_t wall_ms) const;
  // The day counter (for /visitors: merged with the stored days), or nullptr when the day has
  // passed without a user.
  const UniqueCounter* day_counter(int64_t wall_ms) const;
  // The day's counter has switched to its HyperLogLog.
  bool day_estimated() const { return !day_.unique.exact(); }

  // The periods changed since the last call (finished ones included), in their stored form.
  std::vector<Record> TakeChanged();
  // Heap bytes of the counters (for memory accounting).
  size_t memory_bytes() const {
    return day_.unique.memory_bytes() + hour_.unique.memory_bytes() + finished_.size() * 64;
  }
  bool changed() const { return day_.changed || hour_.changed || !finished_.empty(); }
  // The current periods count as changed (their stored form was lost: write them again).
  void MarkChanged() { day_.changed = hour_.changed = true; }

  // Parses a stored day into `into` (merging), for ranges.
  static Status MergeStored(std::string_view value, uint32_t threshold, UniqueCounter& into);

 private:
  struct Period {
    char kind;
    uint32_t number;
    UniqueCounter unique;
    int64_t peak = 0;
    bool changed = false;
  };
  // Moves `p` to `number`, keeping its old state for the next flush when it had any.
  void Roll(Period& p, uint32_t number);
  static Record Encode(const Period& p);

  uint32_t threshold_;
  Period day_;
  Period hour_;
  int64_t peak_since_load_ = 0;
  std::vector<Record> finished_;
};

}  // namespace chatroomd::presence
