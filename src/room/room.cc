// A room's life: loading from the store, admission of every request, join, leave, upkeep.
#include "chatroomd/room/room.h"

#include <spdlog/spdlog.h>

#include <cassert>

#include "chatroomd/room/room_host.h"
#include "room/answers.h"
#include "room/dedup_keys.h"
#include "room/edge_subscriptions.h"
#include "room/room_errors.h"

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
    : host_(host),
      id_(std::move(id)),
      log_(host.settings().window_size, host.settings().priority_size),
      last_activity_ms_(host.NowMs()),
      dedup_(std::make_unique<DedupKeys>()),
      edges_(std::make_unique<EdgeSubscriptions>()) {}

Room::~Room() {
  // Unloaded only when idle, or destroyed after its loop stopped: nothing is held; release
  // defensively all the same (off the loop, so not through the asserting ReleaseAllHeld).
  ReleaseHeld();
}

void Room::AssertOnHomeLoop() const { assert(host_.loop().InLoop()); }

int64_t Room::NowMs() const { return host_.NowMs(); }

void Room::Load() {
  ++pending_io_;
  host_.store().LoadRoom(
      id_, host_.settings().window_size, host_.settings().priority_size, &host_.loop(),
      [this](Result<store::RoomSnapshot> snapshot) { OnLoaded(std::move(snapshot)); });
}

void Room::OnLoaded(Result<store::RoomSnapshot> result) {
  AssertOnHomeLoop();
  --pending_io_;
  state_ = State::kReady;
  if (!result.ok()) {
    // Queued requests answer `internal`; the sweep unloads the room and a later request
    // tries the load again.
    spdlog::error("room {}: load failed: {}", id_, result.error().message);
    load_failed_ = true;
    RunQueued();
    load_failed_ = false;
    return;
  }
  store::RoomSnapshot& snap = result.value();
  exists_ = snap.exists;
  if (exists_) {
    created_ms_ = snap.created_ms;
    dedup_->set_maybe_in_store();
    std::vector<MessagePtr> normal, priority;
    normal.reserve(snap.normal.size());
    priority.reserve(snap.priority.size());
    for (const auto& r : snap.normal) normal.push_back(EncodeMessage(r, 0));
    for (const auto& r : snap.priority) priority.push_back(EncodeMessage(r, 0));
    log_.Restore(std::move(normal), snap.evicted_normal_seq, std::move(priority),
                 snap.evicted_priority_seq, snap.head_seq);
    assigned_ = snap.head_seq;
  }
  RunQueued();
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
  req->done_loop = &host_.loop();
  req->done = [this](Status s) { OnCreated(std::move(s)); };
  host_.store().Submit(std::move(req));
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
    if (!std::holds_alternative<JoinArgs>(request) || !host_.settings().auto_create) {
      return ReplyError(caller, RoomNotFound());
    }
    queued_.emplace_back(std::move(caller), std::move(request));
    return Create();
  }
  std::visit(Overloaded{[&](JoinArgs& a) { DoJoin(caller, a); },
                        [&](PollArgs& a) { DoPoll(std::move(caller), a); },
                        [&](SendArgs& a) { DoSend(std::move(caller), std::move(a)); },
                        [&](LeaveArgs&) { DoLeave(caller); }},
             request);
}

void Room::DoJoin(const Caller& caller, const JoinArgs& args) {
  online_.Touch(caller.user, NowMs());
  RefreshEdges();  // their answers carry the online count
  auto messages = log_.Backlog(args.backlog);
  ResponseFields f;
  f.room = id_;
  f.cursor = EncodeCursor(id_, {log_.head(), log_.head()});
  f.messages = &messages;
  f.is_poll = false;
  f.online = online();
  Reply(caller, BuildMessagesResponse(f, caller.format));
}

void Room::DoLeave(const Caller& caller) {
  if (online_.Leave(caller.user)) RefreshEdges();
  Reply(caller, MakeEmptyWire(204));
}

bool Room::Sweep(int64_t now_ms, int64_t idle_unload_ms) {
  AssertOnHomeLoop();
  online_.Expire(now_ms, host_.settings().online_ttl_ms);
  RefreshEdges();
  if (state_ != State::kReady || pending_io_ > 0 || held_count_ > 0 || !edges_->empty() ||
      !queued_.empty() || wake_scheduled_) {
    return false;
  }
  if (!exists_) return true;  // a room that was asked for and does not exist
  return online_.empty() && now_ms - last_activity_ms_ >= idle_unload_ms;
}

}  // namespace chatroomd::room
