// Private to the front end: a front loop's edge (see room/edge.h). It holds polls at the head
// of rooms that subscribed it, on the front loop itself, and answers them when the room
// grows, times them out, and tells the rooms who polled. Touched only on its loop.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/room/edge.h"
#include "chatroomd/sect/room_service.h"

namespace chatroomd::http {

class Connection;
struct EdgeRoom;

// A poll held by an edge. Embedded in its connection; the timeout is the connection's timer.
struct EdgeWait {
  boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>
      hook;
  EdgeRoom* room = nullptr;
  // The connection keeps itself alive while its poll is held.
  std::shared_ptr<Connection> keepalive;
  std::string user;
  room::EdgeGroup group;
  uint64_t serial = 0;
  int64_t deadline_ms = 0;
  int64_t told_ms = 0;  // when the room last heard that this user polls
};

using EdgeWaitList = boost::intrusive::list<
    EdgeWait,
    boost::intrusive::member_hook<EdgeWait, decltype(EdgeWait::hook), &EdgeWait::hook>,
    boost::intrusive::constant_time_size<false>>;

// What an edge knows of one room.
struct EdgeRoom {
  std::string id;
  uint64_t gen = 0;
  Cursor head;
  int64_t online = 0;
  bool full = false;
  std::vector<room::EdgeGroup> groups;
  // The room's answers from cursors behind `head` up to it, as of the last growth: a poll at
  // one of those cursors is answered with one at once. Dropped when the online count moves.
  room::EdgeResponses answers;
  EdgeWaitList waiters;  // oldest `told_ms` first
  int64_t count = 0;
  int64_t idle_since_ms = 0;
  // For the next report.
  bool dirty = false;
  std::vector<std::string> polled;
  std::vector<std::string> still_held;
};

class FrontEdge final : public room::Edge {
 public:
  FrontEdge(Loop& loop, TimerWheel& wheel, sect::RoomService* rooms,
            metrics::ThreadMetrics& metrics);
  ~FrontEdge() override;

  // room::Edge
  Loop& loop() override { return loop_; }
  void Subscribed(const std::string& room, const room::EdgeState& state,
                  std::vector<room::EdgeGroup> groups, bool fresh) override;
  void Grew(const std::string& room, const room::EdgeState& state,
            room::EdgeResponses responses) override;
  void Changed(const std::string& room, const room::EdgeState& state) override;

  // Starts the periodic upkeep (on the loop).
  void Start();
  // Holds `conn`'s poll here when the room's head is known to be `cursor`, or answers it at
  // once when the room's answer from `cursor` is known. False: the poll must go to the room.
  bool TryHold(Connection& conn, const std::string& room, Cursor cursor, uint32_t limit,
               uint32_t timeout_ms, BodyFormat format, std::string_view user);
  // The held poll's timeout passed: answer it with no messages.
  void Expire(Connection& conn);
  // The client went away: forget its poll.
  void Cancel(Connection& conn);
  // Shutdown: answer every held poll as timed out and hold nothing more.
  void ReleaseAll();
  // After the loop has stopped: let go of every held poll without telling anyone (the rooms
  // may be gone already).
  void Detach();
  // Sends the reports of this turn now: called before any other request goes to a room, so
  // a room hears of polls taken here before it hears of later requests (Loop::Send keeps
  // order from here on).
  void Flush() {
    if (!dirty_.empty()) FlushReports();
  }

 private:
  // Undoes the counts of `w` (already off r's list); returns its connection.
  std::shared_ptr<Connection> Release(EdgeRoom& r, EdgeWait& w);
  // Answers every waiter of `r` as timed out (or sends them back to the room).
  void Forward(EdgeRoom& r, Cursor cursor, EdgeWaitList& waiters);
  WirePtr TimeoutResponse(const EdgeRoom& r, BodyFormat format) const;
  static WirePtr FindAnswer(const EdgeRoom& r, Cursor from, const room::EdgeGroup& group);
  void MarkDirty(EdgeRoom& r);
  void FlushReports();
  void ArmSweep();
  void Sweep();

  Loop& loop_;
  TimerWheel& wheel_;
  sect::RoomService* rooms_service_;
  metrics::ThreadMetrics& metrics_;
  bool draining_ = false;
  // Reports wait this long (rooms.edge_report_delay_ms), so that one wakes the room's loop
  // for a burst of polls (after a growth, an audience re-polls within a few tens of
  // milliseconds). A request forwarded to a room sends them at once, so the room never sees
  // it before them.
  int64_t report_delay_ms_ = 10;
  // An edge room with no waiter for this long is dropped, and the room told
  // (rooms.edge_idle_ms).
  int64_t idle_ms_ = 5000;
  std::unordered_map<std::string, std::unique_ptr<EdgeRoom>> rooms_;
  std::vector<EdgeRoom*> dirty_;
  struct FlushTimer : TimerNode {
    FrontEdge* owner = nullptr;
  } flush_timer_;
  boost::asio::steady_timer sweep_timer_;
};

}  // namespace chatroomd::http
