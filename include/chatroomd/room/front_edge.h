// A front loop's edge (edge.h): it holds polls at the head of rooms that subscribed it, on
// the front loop itself, answers them when the room grows, times them out on the front
// loop's timer wheel, and tells the rooms who polled. One per front loop, created and owned
// by the sects (sect::RoomService::AddFrontLoop), touched only on its loop. It borrows the
// front loop's Loop and TimerWheel: the front loop removes it (RemoveFrontLoop) before they go.
//
// Cost on the hot path: holding a poll links the client's EdgeWait into two intrusive lists
// and notes the user's id for the next report (one string copy); a growth writes the room's
// prebuilt bytes to every waiter; reports go to the room once per
// rooms.edge_report_delay_ms, however many polls came.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/room/client.h"
#include "chatroomd/room/edge.h"
#include "chatroomd/room/room_host.h"

namespace chatroomd::room {

struct EdgeWaitList;  // edge_room.h

class FrontEdge final : public Edge {
 public:
  FrontEdge(Loop& loop, TimerWheel& wheel, RoomDirectory& rooms,
            std::shared_ptr<const RoomSettings> settings, SharedRoomState& shared,
            metrics::ThreadMetrics& metrics);
  ~FrontEdge() override;

  // Edge (from rooms, on the loop)
  Loop& loop() override { return loop_; }
  void Subscribed(const std::string& room, const EdgeState& state, std::vector<EdgeGroup> groups,
                  bool fresh) override;
  void Grew(const std::string& room, const EdgeState& state, EdgeResponses responses) override;
  void Changed(const std::string& room, const EdgeState& state) override;
  void Kicked(const std::string& room, uint64_t gen, const std::string& user,
              int64_t until_ms) override;

  // Starts the periodic upkeep (on the loop).
  void Start();
  // Live setting changes (reload), on the loop.
  void set_settings(std::shared_ptr<const RoomSettings> s) { settings_ = std::move(s); }
  // Holds the caller's poll here when the room's head is known to be the poll's cursor, or
  // answers it at once when the room's answer from that cursor is known. False: the poll must
  // go to the room (the caller is left as it was).
  bool TryHold(const std::string& room, Caller& caller, const PollArgs& args);
  // The client went away: forget its poll.
  void Cancel(Client& client);
  // Shutdown: answer every held poll as timed out and hold nothing more.
  void ReleaseAll();
  // After the loop has stopped: let go of every held poll without telling anyone (the rooms
  // may be gone already).
  void Detach();
  // Sends this turn's reports now. Called before any other request from this loop goes to a
  // room, so a room hears of polls taken here before it hears of later requests (Loop::Send
  // keeps order from here on).
  void Flush();

 private:
  void AssertOnLoop() const { assert(loop_.InLoop()); }
  // Undoes the counts of `w` (already off r's list); returns its client.
  ClientPtr Release(EdgeRoom& r, EdgeWait& w);
  // Sends every waiter in `waiters` to the room as an ordinary poll at `cursor`.
  void Forward(EdgeRoom& r, Cursor cursor, EdgeWaitList& waiters);
  static void OnWaitTimeout(TimerNode* node);
  void Expire(EdgeWait& w);
  WirePtr TimeoutResponse(const EdgeRoom& r, BodyFormat format) const;
  void MarkDirty(EdgeRoom& r);
  // `user` is kicked from `r` now (an entry that has ended is dropped).
  static bool IsKicked(EdgeRoom& r, const std::string& user);
  void ArmSweep();
  void Sweep();

  Loop& loop_;
  TimerWheel& wheel_;
  RoomDirectory* rooms_;  // null once detached
  std::shared_ptr<const RoomSettings> settings_;
  SharedRoomState& shared_;
  metrics::ThreadMetrics& metrics_;
  bool draining_ = false;
  std::unordered_map<std::string, std::unique_ptr<EdgeRoom>> rooms_by_id_;
  std::vector<EdgeRoom*> dirty_;
  // Reports wait rooms.edge_report_delay_ms, so that one wakes the room's loop for a burst
  // of polls (after a growth, an audience re-polls within a few tens of milliseconds).
  struct FlushTimer : TimerNode {
    FrontEdge* owner = nullptr;
  } flush_timer_;
  boost::asio::steady_timer sweep_timer_;
};

}  // namespace chatroomd::room
