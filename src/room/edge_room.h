// Private to the room component: what a front loop's edge (front_edge.h) knows of one room.
#pragma once

#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/room/client.h"
#include "chatroomd/room/edge.h"

namespace chatroomd::room {

class FrontEdge;

// Polls an edge holds for one room, oldest `told_ms` first.
struct EdgeWaitList
    : boost::intrusive::list<EdgeWait,
                             boost::intrusive::member_hook<EdgeWait, WaitHook, &EdgeWait::hook>,
                             boost::intrusive::constant_time_size<false>> {};

// What one FrontEdge knows of one room: owned by that edge, touched only on its loop.
struct EdgeRoom {
  FrontEdge* owner = nullptr;
  std::string id;
  uint64_t gen = 0;
  Cursor head;
  int64_t online = 0;
  bool full = false;
  std::vector<EdgeGroup> groups;
  // The room's answers from cursors behind `head` up to it, as of the last growth: a poll at
  // one of those cursors is answered with one at once. Dropped when the online count moves.
  EdgeResponses answers;
  EdgeWaitList waiters;
  // Users kicked from the room, until when (wall clock): their polls are not held here.
  std::unordered_map<std::string, int64_t> kicked;
  int64_t count = 0;
  int64_t idle_since_ms = 0;
  // For the next report.
  bool dirty = false;
  std::vector<std::string> polled;
  std::vector<std::string> still_held;

  // The room's answer from `from` for `group`, if it sent one.
  WirePtr FindAnswer(Cursor from, const EdgeGroup& group) const {
    for (const auto& a : answers) {
      if (a.from == from && a.group == group) return a.response;
    }
    return nullptr;
  }
};

}  // namespace chatroomd::room
