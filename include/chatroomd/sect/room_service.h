// The sects: pools of loops that own rooms, and the front door to the rooms. The HTTP
// front end asks the service; the service posts the request to the room's home loop
// (RoomHost), and the answer comes back to the caller's loop. No lock on this path: the
// routing table is an immutable snapshot and every room is touched on one loop only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/config/config.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "chatroomd/sect/routing.h"
#include "chatroomd/store/store.h"

namespace chatroomd::sect {

room::RoomSettings SettingsFromConfig(const config::Config& config);

class RoomService {
 public:
  RoomService(const config::LoadedConfig& config, store::Store& store,
              metrics::Registry& registry);
  ~RoomService();

  // Starts every sect loop.
  void Start();
  // Answers every held poll; from then on polls are answered at once.
  void Drain();
  // Stops the loops (after Drain and once the store has no pending writes).
  void Stop();

  void Join(const std::string& room_id, room::Caller caller, room::JoinArgs args);
  void Poll(const std::string& room_id, room::Caller caller, room::PollArgs args);
  void Send(const std::string& room_id, room::Caller caller, room::SendArgs args);
  void Leave(const std::string& room_id, room::Caller caller);
  // The client no longer waits for poll `serial` of room `room_id`.
  void CancelPoll(const std::string& room_id, room::ClientPtr client, uint64_t serial);
  // From a front loop's edge (room/edge.h).
  void EdgeReport(const std::string& room_id, room::EdgeReport report);
  void EdgeUnsubscribe(const std::string& room_id, room::Edge* edge, uint64_t gen);

  room::SharedRoomState& shared() { return shared_; }
  // Every sect loop (for a shutdown barrier).
  std::vector<Loop*> loops() const;
  const room::RoomSettings& settings() const { return *settings_; }
  // Name of the sect that owns the room (for stats and logs).
  std::string SectOf(const std::string& room_id) const;

 private:
  struct Sect {
    std::string name;
    bool vip = false;
    std::vector<std::unique_ptr<Loop>> loops;
    std::vector<std::unique_ptr<room::RoomHost>> hosts;
  };

  room::RoomHost& HostFor(const std::string& room_id) const;
  // Runs `op` on the room's home loop with the room (loaded or being loaded; nullptr past
  // rooms.max_rooms).
  void Dispatch(const std::string& room_id, std::function<void(room::Room*)> op);

  room::SharedRoomState shared_;
  std::vector<Sect> sects_;
  std::shared_ptr<const RoutingTable> routing_;
  std::shared_ptr<const room::RoomSettings> settings_;
};

}  // namespace chatroomd::sect
