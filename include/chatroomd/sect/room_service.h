// The sects: pools of loops that own rooms, and the front door to the rooms. The HTTP front
// end asks the service; the service posts the request to the room's home loop (RoomHost), and
// the answer comes back to the caller's loop. A poll at a room's head may instead be held by
// the caller's own front loop (its edge, room/front_edge.h), which the service creates for
// every front loop that registers. No lock on this path: the routing table is an immutable
// snapshot and every room is touched on one loop only.
//
// Calls come from front loops (the caller's client lives there); Start, Drain, Stop,
// AddFrontLoop and RemoveFrontLoop from the main thread. The service outlives the front loops
// that registered (the HTTP server): each removes its edge when it goes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/room/client.h"

namespace chatroomd::config {
struct LoadedConfig;
class Sects;
}  // namespace chatroomd::config
namespace chatroomd::store {
class Store;
}  // namespace chatroomd::store

namespace chatroomd::room {
class FrontEdge;
}  // namespace chatroomd::room

namespace chatroomd::sect {

class RoomService {
 public:
  RoomService(const config::LoadedConfig& config, store::Store& store, metrics::Registry& registry);
  ~RoomService();
  RoomService(const RoomService&) = delete;
  RoomService& operator=(const RoomService&) = delete;

  // Before Start: a front loop whose clients' polls may be held on it. Returns its edge, for
  // its clients' Client::edge().
  room::Edge* AddFrontLoop(Loop& loop, TimerWheel& wheel, metrics::ThreadMetrics& metrics);
  // After that front loop has stopped, before its loop and wheel go: its edge lets go of what
  // it still holds, without the rooms, and is destroyed.
  void RemoveFrontLoop(room::Edge* edge);
  // Starts every sect loop (and the front loops' edges, on their loops).
  void Start();
  // Answers every held poll, the rooms' and the edges'; from then on polls are answered at
  // once.
  void Drain();
  // Stops the loops (after Drain and once the store has no pending writes). The front loops
  // must have stopped already: edges still registered let go of what they hold.
  void Stop();

  // On the caller's loop. The answer is delivered to the caller's client.
  void Join(const std::string& room_id, room::Caller caller, room::JoinArgs args);
  void Poll(const std::string& room_id, room::Caller caller, room::PollArgs args);
  void Send(const std::string& room_id, room::Caller caller, room::SendArgs args);
  void Leave(const std::string& room_id, room::Caller caller);
  void History(const std::string& room_id, room::Caller caller, room::HistoryArgs args);
  void Online(const std::string& room_id, room::Caller caller, room::OnlineArgs args);
  void Stats(const std::string& room_id, room::Caller caller);
  void Visitors(const std::string& room_id, room::Caller caller, room::VisitorsArgs args);
  // GET /v1/admin/sects (the caller is an admin): answered right here, from figures the sects'
  // loops publish.
  void Sects(room::Caller caller);
  // Mute or kick (the caller is an admin), and retract.
  void Moderate(const std::string& room_id, room::Caller caller, room::ModerateArgs args);
  void Retract(const std::string& room_id, room::Caller caller, room::RetractArgs args);
  // PUT /v1/admin/rooms/{room} (the caller is an admin): the room moves to the VIP sect (or
  // back to the sect of its hash range) at run time; the answer is its stats once it is there.
  // An admin's VIP placement stays until an admin takes it back (the VIP thresholds leave it
  // alone); a room the sects file pins cannot be placed.
  void Place(const std::string& room_id, room::Caller caller, bool vip);
  // The client no longer waits for poll `serial` of room `room_id`.
  void CancelPoll(const std::string& room_id, room::ClientPtr client, uint64_t serial);

  // A reload (any thread): the rooms' settings from `config` go to every sect loop and edge,
  // each taking them on its own loop. `config` is the running config with the reload's live
  // fields taken over (server::Reloader, the one list of what is live), so the settings read
  // once when a room or a loop starts arrive unchanged.
  void Reconfigure(const config::LoadedConfig& config);
  // A reload's sects file (any thread): rooms whose pinned sect changed move there, one after
  // the other. False when the file differs in more than its pinned rooms (sects, threads,
  // ranges need a restart): nothing moves then.
  bool Repin(const config::Sects& sects);

  // Sends waiting in the store (any thread).
  int64_t pending_writes() const;
  // Every sect loop (for a shutdown barrier).
  std::vector<Loop*> loops() const;
  // The sects' metric families (online users, presence upkeep), Prometheus text; any thread.
  std::string RenderMetrics() const;
  // Name of the sect that owns the room (for stats and logs).
  std::string SectOf(const std::string& room_id) const;

 private:
  struct Impl;
  // Hands `request` to the room's home loop, after the caller's edge (if any) has reported the
  // polls it took (a room hears of those before any later request from that loop).
  void Dispatch(const std::string& room_id, room::Caller caller, room::Request request,
                room::FrontEdge* edge);

  std::unique_ptr<Impl> impl_;
};

}  // namespace chatroomd::sect
