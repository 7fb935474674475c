// Private to the sects: the routing table in force, and rooms moving between sects at run
// time (issue: traffic control). A move never loses, repeats or reorders a message and drops
// no held poll, edge subscription or online user, because the room itself (with all of that)
// is handed from one loop to the other, and nothing touches it in between:
//   1. the new home loop expects the room: what arrives there for it waits;
//   2. the table is swapped: the shared one, then each front loop's own copy, on its loop; each
//      front loop then sends the old home a marker, after every request it routed the old way
//      (Loop::Send keeps order per sender), and so does the mover itself;
//   3. once every marker is in, the old home has seen its last request for the room: it waits
//      for the room's store work to come back (Room::Movable), detaches it and posts it on;
//   4. the new home adopts it and runs what waited, in order. Whatever still reaches the old home
//      (a thread that read the old table and posted late) is forwarded.
// One move at a time: later ones queue. A room that is not loaded moves the same way (its old
// home forwards and the new one loads it on first touch).
//
// Front loops read their own copy of the table through a thread-local pointer (no lock, no
// shared counter on the request path); any other thread reads the shared one under a mutex.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/sect/routing.h"

namespace chatroomd::room {
class RoomHost;
}  // namespace chatroomd::room

namespace chatroomd::sect {

// What asked for a move (the metric's label).
enum class MoveTrigger : uint8_t { kAdmin, kReload, kPromote, kDemote, kCount };
const char* MoveTriggerName(MoveTrigger t);

class Migrator {
 public:
  using HostAt = std::function<room::RoomHost&(Route)>;
  // The table after the change a move makes, or nullptr when the move no longer applies (the
  // room got pinned meanwhile, ...). Runs under the migrator's lock: no calls back into it.
  using Change = std::function<std::shared_ptr<const RoutingTable>(const RoutingTable&)>;
  // Runs when the move is over: `moved` false when the table did not change where the room
  // lives. On the room's new loop after a move, else on the thread that asked.
  using Done = std::function<void(bool moved)>;

  Migrator(std::shared_ptr<const RoutingTable> table, HostAt host_at);
  ~Migrator();

  // Before Start, from the main thread: a front loop that routes requests.
  void AddFrontLoop(Loop& loop);
  // Hands each front loop its copy of the table (on its loop).
  void Start();

  // The home of `room_id` by the table the calling thread goes by.
  Route Find(std::string_view room_id, uint64_t hash) const;
  // The shared table (any thread).
  std::shared_ptr<const RoutingTable> table() const;

  // Queues a move (any thread).
  void Move(std::string room_id, MoveTrigger trigger, Change change, Done done);

  // Moves done, by trigger, and the time they took in all (for /metrics).
  uint64_t moves(MoveTrigger t) const {
    return moves_[static_cast<size_t>(t)].load(std::memory_order_relaxed);
  }
  uint64_t move_ns() const { return move_ns_.load(std::memory_order_relaxed); }

 private:
  struct Pending;
  // Under mu_: starts the next queued move that changes where its room lives; the others are
  // done without moving (their Done runs after the lock is released, from `finished`).
  void StartNext(std::vector<std::shared_ptr<Pending>>& finished);
  // On the new home's loop, once it expects the room: swaps the tables and sends the markers.
  void Swap(std::shared_ptr<Pending> move);
  // On the old home's loop, per marker.
  void Marker(std::shared_ptr<Pending> move);
  void Finish(std::shared_ptr<Pending> move);

  HostAt host_at_;
  mutable std::mutex mu_;
  std::shared_ptr<const RoutingTable> table_;   // guarded by mu_
  std::deque<std::shared_ptr<Pending>> queue_;  // guarded by mu_
  bool busy_ = false;                           // guarded by mu_
  std::vector<Loop*> front_loops_;              // fixed after Start
  // Each front loop's table, written only on that loop.
  std::vector<std::shared_ptr<const RoutingTable>> front_tables_;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(MoveTrigger::kCount)> moves_{};
  std::atomic<uint64_t> move_ns_{0};
};

}  // namespace chatroomd::sect
