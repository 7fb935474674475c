// The seam between rooms and whoever waits for their answers (the HTTP connection).
// A room never touches a client's insides except `held`, and only on the room's own loop
// while the poll is held; answers go back by posting Deliver to the client's loop.
#pragma once

#include <boost/intrusive/list_hook.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/common/loop.h"
#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/common/wire.h"
#include "chatroomd/room/edge.h"

namespace chatroomd::room {

class Room;
class Client;
struct OnlineEntry;

// A poll held by a room: linked into the room's waiter list and its loop's timer wheel.
struct HeldPoll : TimerNode {
  boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>
      room_hook;
  Room* room = nullptr;
  OnlineEntry* user = nullptr;
  // The client keeps itself alive while a room holds its poll; reset when released.
  std::shared_ptr<Client> keepalive;
  uint64_t serial = 0;
  Cursor cursor;
  uint32_t limit = 0;
  BodyFormat format = BodyFormat::kJson;
};

class Client {
 public:
  virtual ~Client() = default;
  // The loop that Deliver must run on.
  virtual Loop& loop() = 0;
  // Runs on loop(): the answer to request `serial`. A client drops answers to requests it
  // no longer waits for (a cancelled poll, a closed connection).
  virtual void Deliver(uint64_t serial, WirePtr response) = 0;
  // The edge of the client's loop, if it has one (see edge.h).
  virtual Edge* edge() { return nullptr; }

  // Owned by the home loop of the room holding the poll, and only while it is held.
  HeldPoll held;
};

using ClientPtr = std::shared_ptr<Client>;

// Who asks, and where the answer goes.
struct Caller {
  ClientPtr client;
  uint64_t serial = 0;
  std::string user;
  bool admin = false;
  BodyFormat format = BodyFormat::kJson;
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
