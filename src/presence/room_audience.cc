#include "chatroomd/presence/room_audience.h"

#include <algorithm>
#include <utility>

#include "proto/chatroomd/store.pb.h"

namespace chatroomd::presence {
namespace {

Status Corrupt(std::string_view what) {
  return MakeError(ErrorCode::kInternal, "stored audience counter: " + std::string(what));
}

// Parses a stored period: its counter and peak.
Status Decode(std::string_view value, uint32_t threshold, UniqueCounter* unique, int64_t* peak) {
  store::AudienceCounter stored;
  if (!stored.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return Corrupt("not an AudienceCounter");
  }
  auto parsed = UniqueCounter::Parse(stored.unique(), threshold);
  if (!parsed.ok()) return parsed.error();
  *unique = std::move(parsed.value());
  *peak = stored.peak_online();
  return OkStatus();
}

}  // namespace

RoomAudience::RoomAudience(uint32_t exact_threshold, int64_t wall_ms)
    : threshold_(exact_threshold),
      day_{'d', DayOf(wall_ms), UniqueCounter(exact_threshold)},
      hour_{'h', HourOf(wall_ms), UniqueCounter(exact_threshold)} {}

Status RoomAudience::Restore(const std::optional<std::string>& day,
                             const std::optional<std::string>& hour) {
  Status status = OkStatus();
  for (auto [stored, period] : {std::pair{&day, &day_}, std::pair{&hour, &hour_}}) {
    if (!*stored) continue;
    UniqueCounter unique(threshold_);
    int64_t peak = 0;
    Status s = Decode(**stored, threshold_, &unique, &peak);
    if (!s.ok()) {
      status = s;
      continue;
    }
    // What was counted in this process before the load finished joins what was stored.
    unique.Merge(period->unique);
    period->unique = std::move(unique);
    period->peak = std::max(period->peak, peak);
  }
  return status;
}

void RoomAudience::Roll(Period& p, uint32_t number) {
  // Never backwards: a wall clock stepped back (NTP, a resumed VM) counts into the current
  // period instead of starting an earlier one afresh over what is stored for it.
  if (number <= p.number) return;
  if (p.changed) finished_.push_back(Encode(p));
  p.number = number;
  p.unique = UniqueCounter(threshold_);
  p.peak = 0;
  p.changed = false;
}

void RoomAudience::Seen(uint64_t user_hash, int64_t wall_ms) {
  Roll(day_, DayOf(wall_ms));
  Roll(hour_, HourOf(wall_ms));
  // Only a counter that changed is written again: a room of regulars costs no writes.
  if (day_.unique.Add(user_hash)) day_.changed = true;
  if (hour_.unique.Add(user_hash)) hour_.changed = true;
}

void RoomAudience::Online(int64_t count, int64_t wall_ms) {
  peak_since_load_ = std::max(peak_since_load_, count);
  Roll(day_, DayOf(wall_ms));
  if (count > day_.peak) {
    day_.peak = count;
    day_.changed = true;
  }
}

// A period is current until the clock passes it (an earlier time, after a step back, still
// reads the current one: Roll never goes back either).
uint64_t RoomAudience::uv_hour(int64_t wall_ms) const {
  return hour_.number >= HourOf(wall_ms) ? hour_.unique.Count() : 0;
}

uint64_t RoomAudience::uv_day(int64_t wall_ms) const {
  return day_.number >= DayOf(wall_ms) ? day_.unique.Count() : 0;
}

int64_t RoomAudience::peak_day(int64_t wall_ms) const {
  return day_.number >= DayOf(wall_ms) ? day_.peak : 0;
}

const UniqueCounter* RoomAudience::day_counter(int64_t wall_ms) const {
  return day_.number >= DayOf(wall_ms) ? &day_.unique : nullptr;
}

RoomAudience::Record RoomAudience::Encode(const Period& p) {
  store::AudienceCounter stored;
  stored.set_unique(p.unique.Serialize());
  stored.set_peak_online(p.peak);
  return Record{p.kind, p.number, stored.SerializeAsString()};
}

std::vector<RoomAudience::Record> RoomAudience::TakeChanged() {
  std::vector<Record> out = std::move(finished_);
  finished_.clear();
  for (Period* p : {&day_, &hour_}) {
    if (!p->changed) continue;
    out.push_back(Encode(*p));
    p->changed = false;
  }
  return out;
}

Status RoomAudience::MergeStored(std::string_view value, uint32_t threshold, UniqueCounter& into) {
  UniqueCounter unique(threshold);
  int64_t peak = 0;
  Status s = Decode(value, threshold, &unique, &peak);
  if (s.ok()) into.Merge(unique);
  return s;
}

}  // namespace chatroomd::presence
