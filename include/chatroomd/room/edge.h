// The seam between a room and the front loops that hold its polls ("edges"): the messages
// each side sends the other. The edge itself, the front loop's side, is FrontEdge
// (front_edge.h); the room's side is in the room (edge_subscriptions.h).
//
// A poll whose cursor is at the room's head has nothing to read: all it does is wait. Once a
// room has held a poll that came through a front loop, it subscribes that loop's edge: from
// then on the edge knows the room's head and holds such polls itself, on the connection's
// own loop, without handing them to the room's loop. When the room grows it sends each
// subscribed edge one message carrying the new head and one prebuilt response per
// (limit, format) group the edge holds; the edge writes those same bytes to all its waiters.
// The room does no work per waiter: a million-strong audience costs the room one message
// per front loop per growth. Edges report the users they took polls for (so they count as
// online) in one batch per loop turn.
//
// Ordering: messages between one room loop and one front loop arrive in the order sent
// (Loop::Send keeps order per sender and target), so an edge never sees a growth older than
// its head. Subscriptions carry a generation; an edge ignores messages for a generation it
// has dropped, and a room ignores the drop of a generation it has replaced.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/common/loop.h"
#include "chatroomd/common/wire.h"

namespace chatroomd::room {

// Waiters that get the very same bytes: same limit, same body format.
struct EdgeGroup {
  uint32_t limit = 0;
  BodyFormat format = BodyFormat::kJson;
  friend bool operator==(const EdgeGroup&, const EdgeGroup&) = default;
};

// What a room tells an edge about itself.
struct EdgeState {
  uint64_t gen = 0;  // the subscription
  Cursor head;       // polls at exactly this cursor may be held by the edge
  int64_t online = 0;
  bool full = false;  // the room is at max_held_polls_per_room: hold no more locally
};

// A prebuilt answer for polls of one group at cursor `from`, read up to the new head.
struct EdgeAnswer {
  Cursor from;
  EdgeGroup group;
  WirePtr response;
};
using EdgeResponses = std::vector<EdgeAnswer>;

// What a room calls on an edge, each posted to the edge's loop (Loop::Send).
class Edge {
 public:
  virtual ~Edge() = default;
  virtual Loop& loop() = 0;
  // All run on loop().
  // A subscription: `fresh` for a new generation, else more groups for the current one.
  virtual void Subscribed(const std::string& room, const EdgeState& state,
                          std::vector<EdgeGroup> groups, bool fresh) = 0;
  // The room grew past the head the edge knew: answer each waiter with the response for its
  // group from that head. The room also sends answers from the head before that one (polls
  // that missed the last growth re-poll there); until the next growth the edge answers a
  // poll at any of those cursors with its response right away. Waiters with no response
  // (their unread priority messages are only in the store now) go back to the room as
  // ordinary polls.
  virtual void Grew(const std::string& room, const EdgeState& state, EdgeResponses responses) = 0;
  // The online count or `full` changed.
  virtual void Changed(const std::string& room, const EdgeState& state) = 0;
  // `user` is kicked from the room until `until_ms` (wall clock): their polls held here are
  // answered 403 `kicked`, and until then their polls go to the room (which refuses them).
  virtual void Kicked(const std::string& room, uint64_t gen, const std::string& user,
                      int64_t until_ms) = 0;
};

// What an edge tells a room, once per loop turn in which something happened.
struct EdgeReport {
  Edge* edge = nullptr;
  uint64_t gen = 0;
  Cursor head;       // the head the edge knew when it reported
  int64_t held = 0;  // polls it holds for the room now
  // Users whose poll it took: they are online now, as if the room had taken the poll.
  std::vector<std::string> polled;
  // Users whose poll it has held for a while: they stay online (if they still are).
  std::vector<std::string> still_held;
};

}  // namespace chatroomd::room
