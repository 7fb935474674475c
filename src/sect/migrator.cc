#include "sect/migrator.h"

#include <spdlog/spdlog.h>

#include "chatroomd/common/ids.h"
#include "chatroomd/common/wire.h"
#include "chatroomd/room/room_host.h"

namespace chatroomd::sect {
namespace {

// The calling front loop's table, and whose it is (a process may run more than one service in
// tests; a front loop serves one).
struct LocalTable {
  const Migrator* owner = nullptr;
  const RoutingTable* table = nullptr;
};
thread_local LocalTable local_table;

}  // namespace

const char* MoveTriggerName(MoveTrigger t) {
  switch (t) {
    case MoveTrigger::kAdmin:
      return "admin";
    case MoveTrigger::kReload:
      return "reload";
    case MoveTrigger::kPromote:
      return "promote";
    case MoveTrigger::kDemote:
      return "demote";
    case MoveTrigger::kCount:
      break;
  }
  return "unknown";
}

struct Migrator::Pending {
  std::string room;
  MoveTrigger trigger;
  Change change;
  Done done;
  std::shared_ptr<const RoutingTable> next;
  room::RoomHost* from = nullptr;
  room::RoomHost* to = nullptr;
  size_t markers_left = 0;  // touched on the old home's loop only
  int64_t started_ns = 0;
};

Migrator::Migrator(std::shared_ptr<const RoutingTable> table, HostAt host_at)
    : host_at_(std::move(host_at)), table_(std::move(table)) {}

Migrator::~Migrator() {
  if (local_table.owner == this) local_table = {};
}

void Migrator::AddFrontLoop(Loop& loop) {
  front_loops_.push_back(&loop);
  front_tables_.emplace_back();
}

void Migrator::Start() {
  auto shared = table();
  for (size_t i = 0; i < front_loops_.size(); ++i) {
    front_loops_[i]->Post([this, i, shared] {
      // A move that started before this ran has set a newer table already.
      if (front_tables_[i]) return;
      front_tables_[i] = shared;
      local_table = {this, shared.get()};
    });
  }
}

Route Migrator::Find(std::string_view room_id, uint64_t hash) const {
  if (local_table.owner == this) [[likely]] {
    return local_table.table->Find(room_id, hash);
  }
  return table()->Find(room_id, hash);
}

std::shared_ptr<const RoutingTable> Migrator::table() const {
  std::lock_guard lock(mu_);
  return table_;
}

void Migrator::Move(std::string room_id, MoveTrigger trigger, Change change, Done done) {
  auto move = std::make_shared<Pending>();
  move->room = std::move(room_id);
  move->trigger = trigger;
  move->change = std::move(change);
  move->done = std::move(done);
  std::vector<std::shared_ptr<Pending>> finished;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(move));
    if (!busy_) StartNext(finished);
  }
  for (auto& f : finished) f->done(false);
}

void Migrator::StartNext(std::vector<std::shared_ptr<Pending>>& finished) {
  while (!queue_.empty()) {
    std::shared_ptr<Pending> move = std::move(queue_.front());
    queue_.pop_front();
    move->next = move->change(*table_);
    if (!move->next) {
      finished.push_back(std::move(move));
      continue;
    }
    const uint64_t hash = RoomHash(move->room);
    const Route from = table_->Find(move->room, hash);
    const Route to = move->next->Find(move->room, hash);
    if (from == to) {
      // Where the room lives stays (a placement recorded for a room already there).
      table_ = move->next;
      finished.push_back(std::move(move));
      continue;
    }
    busy_ = true;
    move->from = &host_at_(from);
    move->to = &host_at_(to);
    move->started_ns = SteadyNowNs();
    room::RoomHost* to_host = move->to;
    to_host->loop().Post([this, move] {
      move->to->ExpectRoom(move->room);
      Swap(move);
    });
    return;
  }
  busy_ = false;
}

void Migrator::Swap(std::shared_ptr<Pending> move) {
  {
    std::lock_guard lock(mu_);
    table_ = move->next;
  }
  // One marker per front loop, and ours for every other thread (they read the shared table,
  // swapped above; one that read it before and posts late is forwarded by the old home).
  move->markers_left = front_loops_.size() + 1;
  room::RoomHost* from = move->from;
  for (size_t i = 0; i < front_loops_.size(); ++i) {
    front_loops_[i]->Post([this, i, move, from] {
      front_tables_[i] = move->next;
      local_table = {this, move->next.get()};
      Loop::Send(from->loop(), [this, move] { Marker(move); });
    });
  }
  Loop::Send(from->loop(), [this, move] { Marker(move); });
}

void Migrator::Marker(std::shared_ptr<Pending> move) {
  if (--move->markers_left > 0) return;
  move->from->Depart(move->room, *move->to, [this, move] { Finish(move); });
}

void Migrator::Finish(std::shared_ptr<Pending> move) {
  const int64_t took = SteadyNowNs() - move->started_ns;
  moves_[static_cast<size_t>(move->trigger)].fetch_add(1, std::memory_order_relaxed);
  move_ns_.fetch_add(static_cast<uint64_t>(took), std::memory_order_relaxed);
  spdlog::info("room {} moved to sect {} ({}) in {:.1f} ms", move->room, move->to->sect_name(),
               MoveTriggerName(move->trigger), static_cast<double>(took) / 1e6);
  move->done(true);
  std::vector<std::shared_ptr<Pending>> finished;
  {
    std::lock_guard lock(mu_);
    StartNext(finished);
  }
  for (auto& f : finished) f->done(false);
}

}  // namespace chatroomd::sect
