#include "chatroomd/room/room_host.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "chatroomd/room/room.h"
#include "room/online_part.h"

namespace chatroomd::room {

bool TakeHeldSlot(SharedRoomState& shared, const RoomSettings& settings, int64_t room_held) {
  if (room_held >= static_cast<int64_t>(settings.max_held_polls_per_room)) return false;
  if (shared.held_polls.fetch_add(1, std::memory_order_relaxed) >=
      static_cast<int64_t>(settings.max_held_polls)) {
    shared.held_polls.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

int64_t UpkeepPeriodMs(const RoomSettings& s) {
  const int64_t period = s.aggregation_period_ms;
  return std::max<int64_t>(std::min<int64_t>(period, s.online_ttl_ms / 4), 100);
}

void ReleaseHeldSlot(SharedRoomState& shared) {
  shared.held_polls.fetch_sub(1, std::memory_order_relaxed);
}

RoomHost::RoomHost(Loop& loop, store::Store& store, std::shared_ptr<const RoomSettings> settings,
                   SharedRoomState& shared, metrics::ThreadMetrics& metrics,
                   TimerWheel::Clock clock)
    : loop_(loop),
      store_(store),
      settings_(std::move(settings)),
      shared_(shared),
      metrics_(metrics),
      wheel_(loop.context(), 10, 8192, std::move(clock)),
      sweep_timer_(loop.context()),
      last_flush_ms_(wheel_.NowMs()),
      depart_timer_(loop.context()) {}

RoomHost::~RoomHost() {
  // Rooms first, while what they report to (the presence figures) still stands.
  rooms_.clear();
  shared_.room_bytes.fetch_sub(room_bytes_, std::memory_order_relaxed);
}

void RoomHost::Post(std::string room_id, Caller caller, Request request) {
  Loop::Send(loop_, [this, room_id = std::move(room_id), caller = std::move(caller),
                     request = std::move(request)]() mutable {
    Run(room_id, std::move(caller), std::move(request));
  });
}

void RoomHost::Run(const std::string& room_id, Caller caller, Request request) {
  if (moving()) [[unlikely]] {
    if (auto* waiting = Awaited(room_id)) {
      waiting->push_back(
          [this, room_id, caller = std::move(caller), request = std::move(request)]() mutable {
            Run(room_id, std::move(caller), std::move(request));
          });
      return;
    }
    if (RoomHost* next = Gone(room_id)) {
      return next->Post(room_id, std::move(caller), std::move(request));
    }
  }
  Room* room = Get(room_id);
  if (!room) return ReplyError(caller, *Full());  // Get loads unless the host is full
  room->Handle(std::move(caller), std::move(request));
}

std::vector<std::function<void()>>* RoomHost::Awaited(const std::string& room_id) {
  auto it = incoming_.find(room_id);
  return it == incoming_.end() ? nullptr : &it->second;
}

RoomHost* RoomHost::Gone(const std::string& room_id) {
  auto it = departed_.find(room_id);
  return it == departed_.end() ? nullptr : it->second.target;
}

void RoomHost::PostCancelPoll(std::string room_id, ClientPtr client, uint64_t serial) {
  Loop::Send(loop_, [this, room_id = std::move(room_id), client = std::move(client), serial] {
    CancelPoll(room_id, client, serial);
  });
}

void RoomHost::PostEdgeReport(std::string room_id, EdgeReport report) {
  Loop::Send(loop_, [this, room_id = std::move(room_id), report = std::move(report)]() mutable {
    EdgeReportHere(room_id, std::move(report));
  });
}

void RoomHost::EdgeReportHere(const std::string& room_id, EdgeReport report) {
  if (moving()) [[unlikely]] {
    if (auto* waiting = Awaited(room_id)) {
      return waiting->push_back([this, room_id, report = std::move(report)]() mutable {
        EdgeReportHere(room_id, std::move(report));
      });
    }
    if (RoomHost* next = Gone(room_id)) return next->PostEdgeReport(room_id, std::move(report));
  }
  // A room with edges is never unloaded, so it is there; look, never load.
  if (Room* r = Find(room_id)) r->OnEdgeReport(std::move(report));
}

void RoomHost::PostEdgeUnsubscribe(std::string room_id, Edge* edge, uint64_t gen) {
  Loop::Send(loop_, [this, room_id = std::move(room_id), edge, gen] {
    EdgeUnsubscribeHere(room_id, edge, gen);
  });
}

void RoomHost::EdgeUnsubscribeHere(const std::string& room_id, Edge* edge, uint64_t gen) {
  if (moving()) [[unlikely]] {
    if (auto* waiting = Awaited(room_id)) {
      return waiting->push_back(
          [this, room_id, edge, gen] { EdgeUnsubscribeHere(room_id, edge, gen); });
    }
    if (RoomHost* next = Gone(room_id)) return next->PostEdgeUnsubscribe(room_id, edge, gen);
  }
  if (Room* r = Find(room_id)) r->OnEdgeUnsubscribe(edge, gen);
}

void RoomHost::ExpectRoom(const std::string& room_id) {
  AssertOnLoop();
  departed_.erase(room_id);
  incoming_.try_emplace(room_id);
}

void RoomHost::Depart(const std::string& room_id, RoomHost& target, std::function<void()> arrived) {
  AssertOnLoop();
  auto it = rooms_.find(room_id);
  // A batch being gathered (traffic.tiers' hold) is answered now rather than moved.
  if (it != rooms_.end()) it->second->FlushBatch();
  if (it != rooms_.end() && !it->second->Movable()) {
    // Store work under way comes back to this loop: wait for it (no new work comes here).
    depart_timer_.expires_after(std::chrono::milliseconds(1));
    depart_timer_.async_wait([this, room_id, &target, arrived = std::move(arrived)](
                                 const boost::system::error_code& ec) mutable {
      if (!ec) Depart(room_id, target, std::move(arrived));
    });
    return;
  }
  std::unique_ptr<Room> room;
  if (it != rooms_.end()) {
    it->second->Detach();
    room = std::move(it->second);
    rooms_.erase(it);
  }
  departed_[room_id] = Departed{&target, NowMs()};
  // What the room sent this turn (to edges, to its online parts) leaves at the end of the turn,
  // before the room does: the new loop's messages to the same places come after them.
  loop_.Post([&target, room_id, room = std::move(room), arrived = std::move(arrived)]() mutable {
    target.loop().Post(
        [&target, room_id, room = std::move(room), arrived = std::move(arrived)]() mutable {
          target.Arrive(room_id, std::move(room));
          arrived();
        });
  });
}

void RoomHost::Arrive(const std::string& room_id, std::unique_ptr<Room> room) {
  AssertOnLoop();
  std::vector<std::function<void()>> waiting;
  if (auto it = incoming_.find(room_id); it != incoming_.end()) {
    waiting = std::move(it->second);
    incoming_.erase(it);
  }
  if (room) {
    room->Adopt(*this);
    // A room on its way while the daemon began to drain missed Drain's release: now.
    if (shared_.draining.load(std::memory_order_relaxed)) room->ReleaseAllHeld();
    auto [slot, added] = rooms_.try_emplace(room_id, std::move(room));
    if (!added) spdlog::error("room {} arrived at a loop that has it already", room_id);
  }
  for (auto& work : waiting) work();
}

void RoomHost::Start() {
  AssertOnLoop();
  ArmSweep();
}

void RoomHost::Stop() {
  sweep_timer_.cancel();
  depart_timer_.cancel();
}

Room* RoomHost::Get(const std::string& room_id) {
  AssertOnLoop();
  auto it = rooms_.find(room_id);
  if (it != rooms_.end()) return it->second.get();
  if (Full()) return nullptr;
  auto room = std::make_unique<Room>(*this, room_id);
  Room* raw = room.get();
  rooms_.emplace(room_id, std::move(room));
  raw->Load();
  return raw;
}

std::optional<Error> RoomHost::Full() const {
  if (rooms_.size() >= settings_->max_rooms) {
    return MakeError(ErrorCode::kOverloaded, "too many rooms loaded", 1);
  }
  if (shared_.room_bytes.load(std::memory_order_relaxed) >=
      static_cast<int64_t>(settings_->max_room_bytes)) {
    return MakeError(ErrorCode::kOverloaded, "the rooms' memory is full (rooms.max_memory_mb)", 5);
  }
  return std::nullopt;
}

Room* RoomHost::Find(const std::string& room_id) {
  AssertOnLoop();
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? nullptr : it->second.get();
}

void RoomHost::CancelPoll(const std::string& room_id, const ClientPtr& client, uint64_t serial) {
  AssertOnLoop();
  if (moving()) [[unlikely]] {
    if (auto* waiting = Awaited(room_id)) {
      return waiting->push_back(
          [this, room_id, client, serial] { CancelPoll(room_id, client, serial); });
    }
    if (RoomHost* next = Gone(room_id)) return next->PostCancelPoll(room_id, client, serial);
  }
  // Only a room of this loop's may be looked at here (a poll held elsewhere is not ours).
  Room* room = Find(room_id);
  if (room) room->CancelPoll(*client, serial);
}

void RoomHost::ReleaseAllHeld() {
  AssertOnLoop();
  for (auto& [id, room] : rooms_) room->ReleaseAllHeld();
}

void RoomHost::ArmSweep() {
  sweep_timer_.expires_after(std::chrono::milliseconds(UpkeepPeriodMs(*settings_)));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    Sweep(NowMs());
    ArmSweep();
  });
}

void RoomHost::Sweep(int64_t now_ms) {
  AssertOnLoop();
  const auto start = std::chrono::steady_clock::now();
  int64_t idle = settings_->idle_unload_ms;
  // The parts first: the rooms' ticks below read what they expired.
  SweepParts(now_ms);
  // Every front loop routes a moved room to its new home before the move ends; what still
  // came here after that was a straggler from another thread, long done after a minute.
  std::erase_if(departed_, [now_ms](const auto& d) { return now_ms - d.second.at_ms > 60000; });
  int64_t estimated = 0;
  int64_t spread = 0;
  int64_t bytes = 0;
  int64_t held = 0;
  std::array<int64_t, PresenceStats::kMaxTiers> by_tier{};
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    Room& room = *it->second;
    if (room.Sweep(now_ms, idle)) {
      room.TakeCounters(unloaded_counters_);
      it = rooms_.erase(it);
    } else {
      estimated += room.unique_estimated() ? 1 : 0;
      spread += room.online_spread() ? 1 : 0;
      bytes += static_cast<int64_t>(room.memory_bytes());
      held += room.HeldEverywhere();
      const int tier = room.tier_index();
      if (tier >= 0 && tier < static_cast<int>(by_tier.size())) ++by_tier[tier];
      if (vip_hook_ && room.VipSwitchDue(now_ms)) vip_hook_(room.id(), !vip_);
      ++it;
    }
  }
  shared_.room_bytes.fetch_add(bytes - room_bytes_, std::memory_order_relaxed);
  room_bytes_ = bytes;
  presence_.rooms_estimated.store(estimated, std::memory_order_relaxed);
  presence_.rooms_spread.store(spread, std::memory_order_relaxed);
  presence_.rooms.store(static_cast<int64_t>(rooms_.size()), std::memory_order_relaxed);
  presence_.held_polls.store(held, std::memory_order_relaxed);
  for (size_t t = 0; t < by_tier.size(); ++t) {
    presence_.rooms_by_tier[t].store(by_tier[t], std::memory_order_relaxed);
  }
  presence_.tiers.store(static_cast<int>(std::min(settings_->tiers.size(), by_tier.size())),
                        std::memory_order_relaxed);
  if (now_ms - last_flush_ms_ >= settings_->counters_flush_ms) {
    FlushCounters();
  } else if (!unloaded_counters_.empty()) {
    // An unloaded room's counters go now, not at the next flush: a room loaded again reads
    // them from the store.
    SubmitCounters(std::move(unloaded_counters_));
    unloaded_counters_.clear();
  }
  const auto spent = std::chrono::steady_clock::now() - start;
  presence_.aggregations.fetch_add(1, std::memory_order_relaxed);
  presence_.aggregation_ns.fetch_add(
      std::chrono::duration_cast<std::chrono::nanoseconds>(spent).count(),
      std::memory_order_relaxed);
}

void RoomHost::AdoptPart(std::shared_ptr<OnlinePart> part) {
  AssertOnLoop();
  parts_.push_back(std::move(part));
}

void RoomHost::DropPart(const OnlinePart* part) {
  AssertOnLoop();
  std::erase_if(parts_, [part](const auto& p) { return p.get() == part; });
}

void RoomHost::SweepParts(int64_t now_ms) {
  size_t expired = 0;
  for (const auto& part : parts_) {
    std::lock_guard lock(part->mu);
    part->table.set_ttl_ms(settings_->online_ttl_ms);
    expired += part->table.Expire(now_ms);
  }
  if (expired > 0) CountExpired(expired);
}

void RoomHost::FlushCounters() {
  AssertOnLoop();
  last_flush_ms_ = NowMs();
  std::vector<store::CounterRecord> records = std::move(unloaded_counters_);
  unloaded_counters_.clear();
  const bool again = rewrite_counters_;
  rewrite_counters_ = false;
  for (auto& [id, room] : rooms_) {
    if (again) room->MarkCountersChanged();
    room->TakeCounters(records);
  }
  SubmitCounters(std::move(records));
}

void RoomHost::SubmitCounters(std::vector<store::CounterRecord> records) {
  if (records.empty()) return;
  presence_.counter_writes.fetch_add(records.size(), std::memory_order_relaxed);
  auto req = std::make_unique<store::WriteRequest>();
  req->counters = std::move(records);
  req->done_loop = &loop_;
  req->done = [this](Status s) {
    if (s.ok()) return;
    // The next flush writes every loaded room's current periods again. (A period that ended
    // inside the failed batch, or a room unloaded since, keeps what was stored before.)
    spdlog::warn("audience counters not written: {}; writing them again at the next flush",
                 s.error().message);
    rewrite_counters_ = true;
  };
  store_.Submit(std::move(req));
}

}  // namespace chatroomd::room
