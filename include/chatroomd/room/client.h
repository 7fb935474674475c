// The seam between rooms and whoever waits for their answers (the HTTP connection): who asks,
// what they ask, and where the answer goes. A room never touches a client's insides except
// `held`, and only on the room's own loop while the poll is held; the client loop's edge
// (front_edge.h) touches `edge_wait` only on the client's loop. Answers go back by posting
// Deliver to the client's loop.
#pragma once

#include <boost/intrusive/list_hook.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/common/loop.h"
#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/common/wire.h"

namespace chatroomd::room {

class Room;
class Client;
class Edge;
struct EdgeRoom;

using WaitHook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>;

// A poll held by a room: linked into the room's waiter list and its loop's timer wheel.
struct HeldPoll : TimerNode {
  WaitHook room_hook;
  Room* room = nullptr;
  uint64_t user_hash = 0;  // the poller, in the room's online table
  // The client keeps itself alive while a room holds its poll; reset when released.
  std::shared_ptr<Client> keepalive;
  uint64_t serial = 0;
  Cursor cursor;
  uint32_t limit = 0;
  // An early poll (adaptive tiers): held until the time its cursor gave (the wheel's deadline),
  // then for `rest_ms` more at most, what was left of its own timeout.
  uint32_t rest_ms = 0;
  BodyFormat format = BodyFormat::kJson;
  bool early = false;
};

// A poll held by the edge of the client's own loop at a room's head: linked into the edge
// room's waiter list and the front loop's timer wheel (the poll's timeout).
struct EdgeWait : TimerNode {
  WaitHook hook;
  EdgeRoom* room = nullptr;
  // The client keeps itself alive while its poll is held.
  std::shared_ptr<Client> keepalive;
  std::string user;
  uint64_t serial = 0;
  uint32_t limit = 0;
  BodyFormat format = BodyFormat::kJson;
  int64_t told_ms = 0;  // when the room last heard that this user polls
};

// Whoever waits for a room's answers. Lives on one loop (loop()); the room holding its poll
// and its loop's edge each own one part of it, as said above.
class Client {
 public:
  virtual ~Client() = default;
  // The loop that Deliver must run on.
  virtual Loop& loop() = 0;
  // Runs on loop(): the answer to request `serial`. A client drops answers to requests it
  // no longer waits for (a cancelled poll, a closed connection).
  virtual void Deliver(uint64_t serial, WirePtr response) = 0;
  // The edge of the client's loop, if it has one (edge.h).
  virtual Edge* edge() { return nullptr; }
  // On loop(): the poll in progress goes to room `room_id`'s loop (it is not, or no longer,
  // held by the edge): a client that goes away cancels it there (RoomService::CancelPoll).
  virtual void PollAtRoom(const std::string& room_id) {}

  // On loop(): true while the loop's edge holds a poll of this client.
  bool edge_waiting() const { return edge_wait.hook.is_linked(); }

  // Owned by the home loop of the room holding the poll, and only while it is held.
  HeldPoll held;
  // Owned by loop(), while its edge holds the poll.
  EdgeWait edge_wait;
};

using ClientPtr = std::shared_ptr<Client>;

// On the client's loop: the poll its loop's edge holds, if any, is forgotten (the client
// went away). Defined with the edge (front_edge.cc).
void CancelEdgeWait(Client& client);

// Who asks, and where the answer goes.
struct Caller {
  ClientPtr client;
  uint64_t serial = 0;
  std::string user;
  bool admin = false;
  BodyFormat format = BodyFormat::kJson;
};

// What a caller asks a room (the API's request bodies and queries, validated).
struct JoinArgs {
  uint32_t backlog = 20;
};

struct PollArgs {
  std::optional<Cursor> cursor;
  uint32_t limit = 100;
  uint32_t timeout_ms = 25000;
  // The cursor's "not before" (wall ms, cursor.h; 0: none): the answer that issued it told the
  // client to wait until then, and a poll that comes sooner is held until then (Room::DoPoll).
  int64_t not_before_ms = 0;
};

struct SendArgs {
  std::string body;
  std::string type = "text";
  bool priority = false;
  std::optional<std::string> client_msg_id;
};

struct LeaveArgs {};

// GET /online: up to `limit` ids of the room's online users.
struct OnlineArgs {
  uint32_t limit = 100;
};

struct StatsArgs {};

// GET /visitors: UTC days [from_day, to_day], in days since the Unix epoch.
struct VisitorsArgs {
  uint32_t from_day = 0;
  uint32_t to_day = 0;
};

// POST /v1/admin/rooms/{room}/mute and /kick (admin): `user` is muted or kicked for
// `seconds`; 0 lifts a mute or kick in force.
struct ModerateArgs {
  enum class Kind : uint8_t { kMute, kKick };
  Kind kind = Kind::kMute;
  std::string user;
  uint32_t seconds = 0;
};

// DELETE /v1/rooms/{room}/messages/{seq}: by the message's sender or an admin.
struct RetractArgs {
  uint64_t seq = 0;
};

// A request for a room, as queued while the room loads.
using Request = std::variant<JoinArgs, PollArgs, SendArgs, LeaveArgs, OnlineArgs, StatsArgs,
                             VisitorsArgs, ModerateArgs, RetractArgs>;

struct HistoryArgs {
  std::optional<uint64_t> before;  // nullopt: from the head
  uint32_t limit = 50;
};

// Posts one answer to the client's loop.
void PostDeliver(ClientPtr client, uint64_t serial, WirePtr response);
// Posts one answer to the caller's loop.
void Reply(const Caller& caller, WirePtr response);
void ReplyError(const Caller& caller, const Error& error);

// Answers for many clients, grouped so that each client loop gets one post per batch.
class DeliveryBatch {
 public:
  void Add(ClientPtr client, uint64_t serial, WirePtr response);
  // Posts every group to its loop.
  void Flush();

 private:
  struct Item {
    ClientPtr client;
    uint64_t serial;
    WirePtr response;
  };
  std::vector<std::pair<Loop*, std::vector<Item>>> groups_;
};

}  // namespace chatroomd::room
