// A room's life: loading from the store, admission of every request, join, leave, upkeep.
#include "chatroomd/room/room.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>

#include "chatroomd/room/room_host.h"
#include "room/answers.h"
#include "room/dedup_keys.h"
#include "room/edge_subscriptions.h"
#include "room/moderation.h"
#include "room/room_errors.h"
#include "room/room_online.h"

namespace chatroomd::room {

namespace {

template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

Room::Room(RoomHost& host, std::string id)
    : host_(&host),
      id_(std::move(id)),
      log_(host.settings().window_size, host.settings().priority_size),
      last_activity_ms_(host.NowMs()),
      online_(std::make_unique<RoomOnline>(host)),
      audience_(host.settings().unique_exact_threshold, WallNowMs()),
      published_(online_->Snapshot(WallNowMs())),
      dedup_(std::make_unique<DedupKeys>()),
      edges_(std::make_unique<EdgeSubscriptions>()),
      moderation_(std::make_unique<Moderation>()) {
  batch_timer_.room = this;
  batch_timer_.fire = &Room::OnBatchDue;
}

Room::~Room() {
  // Unloaded only when idle, or destroyed after its loop stopped: nothing is held; release
  // defensively all the same (off the loop, so not through the asserting ReleaseAllHeld).
  host_->wheel().Cancel(batch_timer_);
  ReleaseHeld();
  host_->AddOnline(-published_->count);
}

void Room::AssertOnHomeLoop() const { assert(host_->loop().InLoop()); }

int64_t Room::NowMs() const { return host_->NowMs(); }

void Room::Load() {
  // The messages and today's audience counters, read side by side.
  loads_pending_ = 2;
  pending_io_ += 2;
  host_->store().LoadRoom(
      id_, host_->settings().window_size, host_->settings().priority_size, &host_->loop(),
      [this](Result<store::RoomSnapshot> snapshot) { OnLoaded(std::move(snapshot)); });
  const int64_t wall = WallNowMs();
  host_->store().ReadCounters(
      id_,
      {{'d', presence::RoomAudience::DayOf(wall)}, {'h', presence::RoomAudience::HourOf(wall)}},
      &host_->loop(), [this](Result<std::vector<std::optional<std::string>>> values) {
        OnCountersLoaded(std::move(values));
      });
}

void Room::LoadStepDone(bool ok) {
  --pending_io_;
  if (!ok) load_failed_ = true;
  if (--loads_pending_ > 0) return;
  state_ = State::kReady;
  if (!load_failed_) return RunQueued();
  // Every request answers `internal` (load_failed_ stays set) until the sweep unloads the room
  // and a later request tries the load again: a join must not create the room anew over a
  // head seq it could not read.
  RunQueued();
}

void Room::OnLoaded(Result<store::RoomSnapshot> result) {
  AssertOnHomeLoop();
  if (!result.ok()) {
    spdlog::error("room {}: load failed: {}", id_, result.error().message);
    return LoadStepDone(false);
  }
  store::RoomSnapshot& snap = result.value();
  exists_ = snap.exists;
  if (exists_) {
    created_ms_ = snap.created_ms;
    priority_assigned_ = snap.priority_count;
    dedup_->set_maybe_in_store();
    std::vector<MessagePtr> normal, priority;
    normal.reserve(snap.normal.size());
    priority.reserve(snap.priority.size());
    for (const auto& r : snap.normal) normal.push_back(EncodeMessage(r, 0));
    for (const auto& r : snap.priority) priority.push_back(EncodeMessage(r, 0));
    log_.Restore(std::move(normal), snap.evicted_normal_seq, std::move(priority),
                 snap.evicted_priority_seq, snap.head_seq);
    assigned_ = snap.head_seq;
    moderation_->Restore(snap.moderation, WallNowMs());
  }
  LoadStepDone(true);
}

void Room::Create() {
  // Durably, before the join that creates it is answered, so the room exists after a restart.
  state_ = State::kCreating;
  created_ms_ = WallNowMs();
  ++pending_io_;
  auto req = std::make_unique<store::WriteRequest>();
  req->room = id_;
  req->head_seq = 0;
  req->created_ms = created_ms_;
  req->done_loop = &host_->loop();
  req->done = [this](Status s) { OnCreated(std::move(s)); };
  host_->store().Submit(std::move(req));
}

void Room::OnCreated(Status status) {
  AssertOnHomeLoop();
  --pending_io_;
  state_ = State::kReady;
  if (!status.ok()) {
    spdlog::error("room {}: create failed: {}", id_, status.error().message);
    load_failed_ = true;
    RunQueued();
    load_failed_ = false;
    return;
  }
  exists_ = true;
  RunQueued();
}

void Room::RunQueued() {
  auto queued = std::move(queued_);
  queued_.clear();
  for (auto& [caller, request] : queued) Handle(std::move(caller), std::move(request));
}

void Room::Handle(Caller caller, Request request) {
  AssertOnHomeLoop();
  last_activity_ms_ = NowMs();
  if (state_ != State::kReady) {
    queued_.emplace_back(std::move(caller), std::move(request));
    return;
  }
  if (load_failed_) return ReplyError(caller, StoreFailed());
  if (!exists_) {
    if (!std::holds_alternative<JoinArgs>(request) || !host_->settings().auto_create) {
      return ReplyError(caller, RoomNotFound());
    }
    queued_.emplace_back(std::move(caller), std::move(request));
    return Create();
  }
  std::visit(
      Overloaded{[&](JoinArgs& a) { DoJoin(caller, a); },
                 [&](PollArgs& a) { DoPoll(std::move(caller), a); },
                 [&](SendArgs& a) { DoSend(std::move(caller), std::move(a)); },
                 [&](LeaveArgs&) { DoLeave(caller); }, [&](OnlineArgs& a) { DoOnline(caller, a); },
                 [&](StatsArgs&) { DoStats(caller); },
                 [&](VisitorsArgs& a) { DoVisitors(std::move(caller), a); },
                 [&](ModerateArgs& a) { DoModerate(std::move(caller), a); },
                 [&](RetractArgs& a) { DoRetract(std::move(caller), a); }},
      request);
}

uint64_t Room::Seen(const std::string& user, int64_t now_ms, int64_t wall_ms) {
  const uint64_t version = online_->version();
  const uint64_t hash = online_->Touch(user, now_ms);
  audience_.Seen(hash, wall_ms);
  if (online_->version() != version) OnlineChanged();
  return hash;
}

void Room::DoJoin(const Caller& caller, const JoinArgs& args) {
  if (auto refused = Refusal(caller.user, false)) return ReplyError(caller, *refused);
  Seen(caller.user, NowMs(), WallNowMs());
  auto messages = log_.Backlog(args.backlog);
  ResponseFields f;
  f.room = id_;
  f.next_poll_ms = next_poll_ms();
  f.cursor = AnswerCursor(id_, {log_.head(), log_.head()}, f.next_poll_ms);
  f.messages = &messages;
  f.is_poll = false;
  f.online = online();
  Reply(caller, BuildMessagesResponse(f, caller.format));
}

void Room::DoLeave(const Caller& caller) {
  if (online_->Leave(UserHash(caller.user))) OnlineChanged();
  Reply(caller, MakeEmptyWire(204));
}

size_t Room::memory_bytes() const {
  // Fixed: the room itself, its empty tables and maps. Per online user: the measured figure of
  // docs/presence.md (RSS, 100,000 users). Per idempotency key: the key, its entry, its place
  // in the order, the map's node. Per moderation entry: the user id and the map's node.
  constexpr size_t kRoomBytes = 4096, kOnlineUserBytes = 64, kDedupKeyBytes = 192,
                   kModerationBytes = 96;
  return kRoomBytes + log_.bytes() + static_cast<size_t>(online_->count()) * kOnlineUserBytes +
         audience_.memory_bytes() + dedup_->size() * kDedupKeyBytes +
         moderation_->size() * kModerationBytes;
}

bool Room::Sweep(int64_t now_ms, int64_t idle_unload_ms) {
  AssertOnHomeLoop();
  const size_t expired = online_->Upkeep(now_ms);
  if (expired > 0) host_->CountExpired(expired);
  // Published at most once per aggregation period (half an upkeep tick of slack: the timer
  // runs a little late or early).
  const RoomSettings& s = host_->settings();
  const bool due = now_ms - published_ms_ + UpkeepPeriodMs(s) / 2 >= s.aggregation_period_ms;
  if (online_->version() != published_version_ && due) {
    Publish(now_ms);
  } else {
    audience_.Online(published_->count, WallNowMs());  // a new day's peak starts at once
  }
  PruneSendBuckets(now_ms);
  moderation_->Prune(WallNowMs());
  if (state_ != State::kReady || pending_io_ > 0 || held_count_ > 0 || !edges_->empty() ||
      !queued_.empty() || wake_scheduled_ || batch_timer_.scheduled()) {
    return false;
  }
  if (!exists_) return true;  // a room that was asked for and does not exist
  return online_->empty() && now_ms - last_activity_ms_ >= idle_unload_ms;
}

}  // namespace chatroomd::room
