// A live room: its log (window + priority list), the polls it holds, who is online in it,
// its idempotency keys and the front-loop edges subscribed to it. Owned by one RoomHost and
// touched only on that host's loop; a room never blocks: store work is submitted and its
// completion comes back on the room's loop.
//
// Where each concern lives: room.cc (load, admission, join, leave, upkeep), room_send.cc
// (send with idempotency keys), room_poll.cc (poll, hold, wake), room_edges.cc (edges),
// answers.cc (the responses), presence/online_table.cc (who is online).
#pragma once

#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chatroomd/presence/online_table.h"
#include "chatroomd/room/client.h"
#include "chatroomd/room/edge.h"
#include "chatroomd/room/room_log.h"
#include "chatroomd/store/store.h"

namespace chatroomd::room {

class RoomHost;
class DedupKeys;          // room/dedup_keys.h
class EdgeSubscriptions;  // room/edge_subscriptions.h
class AnswerCache;        // room/answers.h

class Room {
 public:
  Room(RoomHost& host, std::string id);
  ~Room();
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  const std::string& id() const { return id_; }

  // Starts loading from the store; requests queue until it is done.
  void Load();

  // Every request comes in here: one admission (queued while the room loads, `internal` after
  // a failed load, `room_not_found` for a room that does not exist unless a join creates it),
  // then the request's own handler.
  void Handle(Caller caller, Request request);
  void Join(Caller caller, JoinArgs args) { Handle(std::move(caller), args); }
  void Poll(Caller caller, PollArgs args) { Handle(std::move(caller), std::move(args)); }
  void Send(Caller caller, SendArgs args) { Handle(std::move(caller), std::move(args)); }
  void Leave(Caller caller) { Handle(std::move(caller), LeaveArgs{}); }
  // Releases `client`'s held poll `serial` if it is still held here (client went away).
  void CancelPoll(Client& client, uint64_t serial);
  // Answers every held poll as if it timed out (shutdown).
  void ReleaseAllHeld();

  // From edges (see edge.h).
  void OnEdgeReport(EdgeReport report);
  void OnEdgeUnsubscribe(Edge* edge, uint64_t gen);

  // Periodic upkeep: expires online users. Returns true when the room can be unloaded.
  bool Sweep(int64_t now_ms, int64_t idle_unload_ms);

  // For stats and tests.
  int64_t online() const { return online_.count(); }
  size_t held_count() const { return held_count_; }
  // Polls held for this room by edges, as last reported.
  int64_t edge_held() const;
  size_t edge_count() const;
  uint64_t head() const { return log_.head(); }
  bool exists() const { return state_ == State::kReady && exists_; }

 private:
  enum class State { kLoading, kCreating, kReady };

  using HeldList = boost::intrusive::list<
      HeldPoll,
      boost::intrusive::member_hook<HeldPoll, decltype(HeldPoll::room_hook), &HeldPoll::room_hook>,
      boost::intrusive::constant_time_size<false>>;

  void AssertOnHomeLoop() const;
  int64_t NowMs() const;

  // room.cc
  void OnLoaded(Result<store::RoomSnapshot> snapshot);
  void Create();
  void OnCreated(Status status);
  void RunQueued();
  void DoJoin(const Caller& caller, const JoinArgs& args);
  void DoLeave(const Caller& caller);

  // room_send.cc
  void DoSend(Caller caller, SendArgs args);
  void OnDedupLookup(const std::string& key, Result<std::optional<uint64_t>> found);
  void Accept(Caller caller, SendArgs args, std::optional<std::string> dedup_key);
  void OnDurable(Caller caller, MessagePtr message, std::optional<std::string> dedup_key,
                 Status status);

  // room_poll.cc
  void DoPoll(Caller caller, const PollArgs& args);
  void PollFromStore(Caller caller, Cursor cursor, uint32_t limit);
  void OnPriorityRead(const Caller& caller, Cursor cursor, uint32_t limit, uint64_t covered,
                      Result<std::vector<store::MessageRecord>> records);
  void Hold(Caller caller, Cursor cursor, uint32_t limit, uint32_t timeout_ms,
            presence::OnlineEntry& user);
  void Unhold(HeldPoll& held);
  // Answers every held poll as timed out (ReleaseAllHeld without the loop check).
  void ReleaseHeld();
  static void OnHeldTimeout(TimerNode* node);
  WirePtr TimeoutResponse(const HeldPoll& held) const;
  void ScheduleWake();
  void WakeHeld();

  // room_edges.cc
  // Polls held for the room here and at its edges.
  int64_t HeldEverywhere() const;
  bool Full() const;
  // Tells edges a changed online count or fullness.
  void RefreshEdges();
  void NotifyEdges(AnswerCache& cache);

  RoomHost& host_;
  const std::string id_;
  State state_ = State::kLoading;
  bool exists_ = false;
  // Set while queued requests run after a failed load/create: they answer `internal`.
  bool load_failed_ = false;
  int64_t created_ms_ = 0;
  RoomLog log_;
  uint64_t assigned_ = 0;  // highest seq handed out (>= log_.head(): some not yet durable)
  std::vector<std::pair<Caller, Request>> queued_;
  int pending_io_ = 0;  // store operations whose completion will touch this room
  bool wake_scheduled_ = false;
  int64_t last_activity_ms_ = 0;

  HeldList held_;
  size_t held_count_ = 0;
  presence::OnlineTable online_;
  std::unique_ptr<DedupKeys> dedup_;
  std::unique_ptr<EdgeSubscriptions> edges_;
};

}  // namespace chatroomd::room
