// A room's audience: the online count it publishes once per aggregation tick (what every
// answer and its edges carry), /online, /stats, /visitors, and its audience counters (unique
// viewers and peaks) restored at load and handed to its host for batched writes.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "chatroomd/common/utc_day.h"
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "proto/chatroomd/api.pb.h"
#include "room/answers.h"
#include "room/room_errors.h"
#include "room/room_online.h"

namespace chatroomd::room {

int32_t Room::next_poll_ms() const {
  return static_cast<int32_t>(host_->settings().TierFor(online()).poll_interval_ms);
}

int Room::tier_index() const {
  const std::vector<TrafficTier>& tiers = host_->settings().tiers;
  int index = -1;
  for (size_t i = 0; i < tiers.size() && tiers[i].min_online <= online(); ++i) {
    index = static_cast<int>(i);
  }
  return index;
}

void Room::OnCountersLoaded(Result<std::vector<std::optional<std::string>>> values) {
  AssertOnHomeLoop();
  if (!values.ok()) {
    // Statistics only: the room loads without them, and never writes its counters (they would
    // replace the stored ones it could not read) until it is loaded again.
    spdlog::error(
        "room {}: audience counters not read ({}); they are not written until the "
        "room reloads",
        id_, values.error().message);
    audience_restored_ = false;
    return LoadStepDone(true);
  }
  const auto& v = values.value();
  Status restored =
      audience_.Restore(v.size() > 0 ? v[0] : std::nullopt, v.size() > 1 ? v[1] : std::nullopt);
  if (!restored.ok()) {
    spdlog::warn("room {}: {}; the period counts from now", id_, restored.error().message);
  }
  LoadStepDone(true);
}

int64_t Room::online_now() const { return online_->count(); }

bool Room::online_spread() const { return online_->spread(); }

void Room::OnlineChanged() {
  const int64_t now = NowMs();
  if (now - published_ms_ >= host_->settings().aggregation_period_ms) Publish(now);
}

void Room::Publish(int64_t now_ms) {
  const int64_t before = published_->count;
  const int64_t wall = WallNowMs();
  published_ = online_->Snapshot(wall);
  published_version_ = online_->version();
  published_ms_ = now_ms;
  audience_.Online(published_->count, wall);
  host_->AddOnline(published_->count - before);
  RefreshEdges();  // their prebuilt answers carry the count
}

void Room::TakeCounters(std::vector<store::CounterRecord>& out) {
  AssertOnHomeLoop();
  if (!exists() || !audience_restored_ || !audience_.changed()) return;
  for (auto& r : audience_.TakeChanged()) {
    out.push_back(store::CounterRecord{id_, {r.kind, r.period}, std::move(r.value)});
  }
}

void Room::DoOnline(const Caller& caller, const OnlineArgs& args) {
  const presence::OnlineSnapshot& snap = *published_;
  api::OnlineResponse r;
  r.set_count(snap.count);
  const size_t n = std::min<size_t>(args.limit, snap.users->size());
  for (size_t i = 0; i < n; ++i) r.add_users((*snap.users)[i]);
  r.set_as_of_ms(snap.as_of_ms);
  Reply(caller, MakeProtoWire(r, caller.format));
}

void Room::DoStats(const Caller& caller) {
  const int64_t wall = WallNowMs();
  api::StatsResponse r;
  r.set_room(id_);
  r.set_online(online());
  r.set_peak_online(audience_.peak_since_load());
  r.set_uv_hour(static_cast<int64_t>(audience_.uv_hour(wall)));
  r.set_uv_day(static_cast<int64_t>(audience_.uv_day(wall)));
  r.set_messages(static_cast<int64_t>(log_.head()));
  r.set_priority_messages(static_cast<int64_t>(priority_assigned_));
  r.set_vip(host_->vip());
  r.set_sect(host_->sect_name());
  r.set_peak_online_day(audience_.peak_day(wall));
  Reply(caller, MakeProtoWire(r, caller.format));
}

void Room::DoVisitors(Caller caller, const VisitorsArgs& args) {
  // Today's counter is the live one (the store's may be a flush behind); every other day is
  // read from the store and merged on the reader thread.
  const uint32_t threshold = host_->settings().unique_exact_threshold;
  const int64_t wall = WallNowMs();
  const uint32_t today = presence::RoomAudience::DayOf(wall);
  auto merged = std::make_shared<presence::UniqueCounter>(threshold);
  if (args.from_day <= today && today <= args.to_day) {
    if (const presence::UniqueCounter* live = audience_.day_counter(wall)) merged->Merge(*live);
  }
  std::vector<store::CounterKey> keys;
  for (uint32_t day = args.from_day; day <= args.to_day && day < today; ++day) {
    keys.push_back({'d', day});
  }
  // Days after today have no counters yet.
  ++pending_io_;
  host_->store().ReadCounters(
      id_, std::move(keys), nullptr,
      [caller = std::move(caller), merged, threshold, room = id_, args, loop = &host_->loop(),
       this](Result<std::vector<std::optional<std::string>>> values) {
        // On a reader thread: the room is not touched here, only told it is done.
        loop->Post([this] { --pending_io_; });
        if (!values.ok()) return ReplyError(caller, StoreFailed());
        for (const auto& value : values.value()) {
          if (!value) continue;
          Status s = presence::RoomAudience::MergeStored(*value, threshold, *merged);
          if (!s.ok())
            spdlog::warn("room {}: a stored day is skipped: {}", room, s.error().message);
        }
        api::VisitorsResponse r;
        r.set_room(room);
        r.set_from(FormatUtcDay(args.from_day));
        r.set_to(FormatUtcDay(args.to_day));
        r.set_unique_visitors(static_cast<int64_t>(merged->Count()));
        Reply(caller, MakeProtoWire(r, caller.format));
      });
}

}  // namespace chatroomd::room
