#include "room/room_online.h"

#include <mutex>

#include "chatroomd/common/ids.h"
#include "chatroomd/common/loop.h"
#include "chatroomd/room/room_host.h"

namespace chatroomd::room {

using presence::OnlineTable;

RoomOnline::RoomOnline(RoomHost& host)
    : host_(&host),
      table_(host.NowMs(), {.ttl_ms = host.settings().online_ttl_ms,
                            .sample_size = host.settings().online_sample_size,
                            .bucket_ms = OnlineTable::BucketMsFor(host.settings().online_ttl_ms)}),
      outbox_(std::make_shared<Outbox>()) {}

RoomOnline::~RoomOnline() {
  if (!spread()) return;
  // What is left goes out, then each part leaves its loop's sweep.
  outbox_->FlushAll();
  for (size_t i = 0; i < outbox_->parts.size(); ++i) {
    RoomHost* home = outbox_->homes[i];
    Loop::Send(home->loop(), [home, part = outbox_->parts[i]] { home->DropPart(part.get()); });
  }
}

void RoomOnline::Outbox::Flush(size_t i) {
  if (pending[i].empty()) return;
  pending[i].serial = ++sent[i];
  Loop::Send(homes[i]->loop(),
             [part = parts[i], batch = std::move(pending[i])] { part->Apply(batch); });
  pending[i] = {};
}

void RoomOnline::Outbox::FlushAll() {
  flush_posted = false;
  for (size_t i = 0; i < parts.size(); ++i) Flush(i);
}

void RoomOnline::Send(OnlineOp op, const std::string* id) {
  Outbox& box = *outbox_;
  OnlineBatch& batch = box.pending[PartOf(op.user_hash)];
  batch.ops.push_back(op);
  if (id) batch.ids.push_back(*id);
  if (box.flush_posted) return;
  box.flush_posted = true;
  // At the end of this loop turn: one batch per part for everything the turn saw.
  host_->loop().Post([box = outbox_] { box->FlushAll(); });
}

uint64_t RoomOnline::Touch(const std::string& user, int64_t now_ms) {
  const uint64_t hash = UserHash(user);
  if (!spread()) {
    table_.Touch(hash, user, now_ms);
  } else if (outbox_->sample_full[PartOf(hash)]) {
    Send({hash, now_ms, OnlineOp::Kind::kTouch});
  } else {
    Send({hash, now_ms, OnlineOp::Kind::kTouchWithId}, &user);
  }
  return hash;
}

void RoomOnline::Refresh(uint64_t user_hash, int64_t now_ms) {
  if (!spread()) return table_.Refresh(user_hash, now_ms);
  Send({user_hash, now_ms, OnlineOp::Kind::kRefresh});
}

void RoomOnline::Hold(uint64_t user_hash) {
  if (!spread()) return table_.Hold(user_hash);
  Send({user_hash, 0, OnlineOp::Kind::kHold});
}

void RoomOnline::Release(uint64_t user_hash, int64_t now_ms) {
  if (!spread()) return table_.Release(user_hash, now_ms);
  Send({user_hash, now_ms, OnlineOp::Kind::kRelease});
}

bool RoomOnline::Leave(uint64_t user_hash) {
  if (!spread()) return table_.Leave(user_hash);
  Send({user_hash, 0, OnlineOp::Kind::kLeave});
  return false;
}

std::optional<bool> RoomOnline::IsOnline(uint64_t user_hash) {
  if (!spread()) return table_.IsOnline(user_hash);
  OnlinePart& part = *outbox_->parts[PartOf(user_hash)];
  std::lock_guard lock(part.mu);
  if (part.table.IsOnline(user_hash)) return true;
  return std::nullopt;
}

void RoomOnline::AskOnline(uint64_t user_hash, std::function<void(bool)> done) {
  if (!spread()) return done(table_.IsOnline(user_hash));
  const size_t i = PartOf(user_hash);
  outbox_->Flush(i);  // the changes before the question reach the part before it
  Loop::Send(outbox_->homes[i]->loop(), [part = outbox_->parts[i], user_hash,
                                         room_loop = &host_->loop(), done = std::move(done)] {
    bool online = false;
    {
      std::lock_guard lock(part->mu);
      online = part->table.IsOnline(user_hash);
    }
    Loop::Send(*room_loop, [done, online] { done(online); });
  });
}

size_t RoomOnline::Upkeep(int64_t now_ms) {
  if (spread()) {
    Collect();
    return 0;
  }
  table_.set_ttl_ms(host_->settings().online_ttl_ms);
  const size_t expired = table_.Expire(now_ms);
  const uint32_t threshold = host_->settings().spread_threshold;
  if (threshold > 0 && host_->peers().size() > 1 && table_.count() >= threshold) Spread();
  return expired;
}

void RoomOnline::Spread() {
  Outbox& box = *outbox_;
  spread_ = true;
  std::vector<OnlineTable*> tables;
  for (RoomHost* home : host_->peers()) {
    if (home == host_) continue;  // the room's loop keeps the room's own work
    box.parts.push_back(std::make_shared<OnlinePart>(table_.epoch_ms(), table_.options()));
    box.homes.push_back(home);
    tables.push_back(&box.parts.back()->table);
  }
  box.pending.resize(box.parts.size());
  box.sent.assign(box.parts.size(), 0);
  box.sample_full.assign(box.parts.size(), false);
  version_ = table_.version() + 1;
  table_.MoveInto(tables);
  // Not shared yet: read without the locks.
  count_ = 0;
  parts_version_ = 0;
  for (const OnlineTable* t : tables) {
    count_ += t->count();
    parts_version_ += t->version();
  }
  empty_ = false;
  for (size_t i = 0; i < box.parts.size(); ++i) {
    RoomHost* home = box.homes[i];
    Loop::Send(home->loop(), [home, part = box.parts[i]] { home->AdoptPart(part); });
  }
}

void RoomOnline::Collect() {
  int64_t count = 0;
  uint64_t versions = 0;
  bool empty = true;
  for (size_t i = 0; i < outbox_->parts.size(); ++i) {
    OnlinePart& part = *outbox_->parts[i];
    std::lock_guard lock(part.mu);
    count += part.table.count();
    versions += part.table.version();
    // Empty, and nothing sent to it still on its way.
    empty = empty && part.table.empty() && part.applied == outbox_->sent[i];
    outbox_->sample_full[i] = part.table.sample().size() >= table_.options().sample_size;
  }
  for (const auto& ops : outbox_->pending) empty = empty && ops.empty();
  if (versions != parts_version_) ++version_;
  parts_version_ = versions;
  count_ = count;
  empty_ = empty;
}

uint64_t RoomOnline::version() const { return spread() ? version_ : table_.version(); }

int64_t RoomOnline::count() const { return spread() ? count_ : table_.count(); }

bool RoomOnline::empty() const { return spread() ? empty_ : table_.empty(); }

std::shared_ptr<const presence::OnlineSnapshot> RoomOnline::Snapshot(int64_t wall_ms) {
  if (!spread()) return table_.Snapshot(wall_ms);
  auto users = std::make_shared<std::vector<std::string>>();
  const size_t limit = table_.options().sample_size;
  int64_t count = 0;
  for (const auto& part : outbox_->parts) {
    std::lock_guard lock(part->mu);
    count += part->table.count();
    for (const std::string& user : part->table.sample()) {
      if (users->size() >= limit) break;
      users->push_back(user);
    }
  }
  count_ = count;
  auto snapshot = std::make_shared<presence::OnlineSnapshot>();
  snapshot->count = count;
  snapshot->users = std::move(users);
  snapshot->as_of_ms = wall_ms;
  return snapshot;
}

}  // namespace chatroomd::room
