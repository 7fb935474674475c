// A live room: its log (window + priority list), the polls it holds, who is online in it,
// its idempotency keys and the front-loop edges subscribed to it. Owned by one RoomHost and
// touched only on that host's loop; a room never blocks: store work is submitted and its
// completion comes back on the room's loop.
//
// Where each concern lives: room.cc (load, admission, join, leave, upkeep), room_send.cc
// (send with idempotency keys), room_poll.cc (poll, hold, wake), room_edges.cc (edges),
// room_presence.cc (the published online count, /online, /stats, /visitors, the audience
// counters), room_moderation.cc (mute, kick, retract), answers.cc (the responses), presence/ (the
// online table, unique viewers).
#pragma once

#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chatroomd/presence/online_table.h"
#include "chatroomd/presence/room_audience.h"
#include "chatroomd/room/client.h"
#include "chatroomd/room/edge.h"
#include "chatroomd/room/room_log.h"
#include "chatroomd/store/store.h"

namespace chatroomd::room {

class RoomHost;
class DedupKeys;          // room/dedup_keys.h
class EdgeSubscriptions;  // room/edge_subscriptions.h
class AnswerCache;        // room/answers.h
class RoomOnline;         // room/room_online.h
class Moderation;         // room/moderation.h

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

  // The aggregation tick and upkeep: expires silent users, publishes the online count. Returns
  // true when the room can be unloaded (its counters taken first: TakeCounters).
  bool Sweep(int64_t now_ms, int64_t idle_unload_ms);
  // The audience counters changed since the last call, in their stored form.
  void TakeCounters(std::vector<store::CounterRecord>& out);
  // The current periods are written again at the next TakeCounters (a write failed).
  void MarkCountersChanged() { audience_.MarkChanged(); }

  // The published online count (what answers carry).
  int64_t online() const { return published_->count; }
  // What answers tell clients to wait before their next poll: the tier of the published count.
  int32_t next_poll_ms() const;
  // The room's index in traffic.tiers by its published count; -1 below the first or with none.
  int tier_index() const;
  // Adaptive tiers: normal messages are waiting out the tier's hold_ms before the held polls
  // (here and at the edges) are woken, so that one answer carries them all.
  bool batch_pending() const { return batch_timer_.scheduled(); }
  // Ends a pending batch now: the held polls are woken (before the room moves between loops).
  void FlushBatch();
  // Counted right now (tests; a spread room: as of its last tick).
  int64_t online_now() const;
  // The online table is spread over the sect's loops (room_online.h).
  bool online_spread() const;
  bool unique_estimated() const { return audience_.day_estimated(); }
  size_t held_count() const { return held_count_; }
  // Polls held for this room by edges, as last reported.
  int64_t edge_held() const;
  // Polls held for the room here and at its edges.
  int64_t HeldEverywhere() const;
  size_t edge_count() const;
  uint64_t head() const { return log_.head(); }
  // What the room holds in memory, estimated in O(1) (rooms.max_memory_mb; docs/operations.md).
  size_t memory_bytes() const;
  bool exists() const { return state_ == State::kReady && exists_; }

  // Moving to another loop (sect/migrator.h), room_move.cc. On the old loop: Movable says
  // whether nothing is under way that would come back to this loop (store work, a posted wake,
  // queued requests, a batch of online changes, a batch of answers: FlushBatch); Detach then takes
  // the room's held polls off this loop's timer wheel and its figures off this host. On the new
  // loop, Adopt puts them on `host`. Between the two nothing touches the room.
  bool Movable() const;
  void Detach();
  void Adopt(RoomHost& host);
  // At the host's tick: true once the room's published online count has been past its sect's
  // VIP threshold (traffic.vip_promote_online outside the VIP sect, vip_demote_online below it
  // inside) for traffic.vip_switch_after_s; the window starts again after that.
  bool VipSwitchDue(int64_t now_ms);

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
  // One of the load's reads is done; the room is ready when both are.
  void LoadStepDone(bool ok);
  void Create();
  void OnCreated(Status status);
  void RunQueued();
  void DoJoin(const Caller& caller, const JoinArgs& args);
  void DoLeave(const Caller& caller);
  // A join, a poll or an edge's report of one: online now, counted as a viewer.
  uint64_t Seen(const std::string& user, int64_t now_ms, int64_t wall_ms);

  // room_send.cc
  void DoSend(Caller caller, SendArgs args);
  // The rest of a send, once it is known whether the sender is online.
  void SendFrom(Caller caller, SendArgs args, bool online);
  void OnDedupLookup(const std::string& key, Result<std::optional<uint64_t>> found);
  // Stores the message; `retract`: the seq it is the retraction notice of (removed with it).
  void Accept(Caller caller, SendArgs args, std::optional<std::string> dedup_key,
              uint64_t retract = 0);
  void OnDurable(Caller caller, MessagePtr message, std::optional<std::string> dedup_key,
                 uint64_t retract, Status status);

  // room_moderation.cc
  // Why `user` may not join, poll or (with `sending`) send here now, if they may not.
  std::optional<Error> Refusal(const std::string& user, bool sending) const;
  void DoModerate(Caller caller, const ModerateArgs& args);
  void OnModerated(const Caller& caller, const store::ModerationRecord& record, Status status);
  // The user is offline at once and their held polls, here and at the edges, answer `kicked`.
  void Kick(const std::string& user, int64_t until_ms);
  void DoRetract(Caller caller, const RetractArgs& args);
  void OnRetractRead(Caller caller, uint64_t seq, Result<std::optional<store::MessageRecord>> r);
  void EndRetract(uint64_t seq);

  // room_poll.cc
  void DoPoll(Caller caller, const PollArgs& args);
  void PollFromStore(Caller caller, Cursor cursor, uint32_t limit);
  void OnPriorityRead(const Caller& caller, Cursor cursor, uint32_t limit, uint64_t covered,
                      Result<std::vector<store::MessageRecord>> records);
  void Hold(Caller caller, Cursor cursor, uint32_t limit, uint32_t timeout_ms, uint64_t user_hash);
  void Unhold(HeldPoll& held);
  // Answers every held poll as timed out (ReleaseAllHeld without the loop check).
  void ReleaseHeld();
  static void OnHeldTimeout(TimerNode* node);
  // Lets held poll `held` go with what it has unread: into `batch`, or read from the store.
  void Answer(HeldPoll& held, AnswerCache& cache, DeliveryBatch& batch);
  WirePtr TimeoutResponse(const HeldPoll& held) const;
  void ScheduleWake(bool priority);
  void WakeHeld();
  // Adaptive tiers (room_poll.cc): a poll held past what DoPoll would do without them, early
  // (before its cursor's "not before") or into a pending batch; true when it was taken.
  bool HoldForTiers(Caller& caller, Cursor cursor, const PollArgs& args, uint64_t user_hash);
  // An early poll's time has come: false when it is to be answered now.
  bool ReleaseEarly(HeldPoll& held);
  // A growth under tiers: true when its wake waits for the batch (hold_ms).
  bool JoinBatch(bool priority);
  static void OnBatchDue(TimerNode* node);

  // room_edges.cc
  bool Full() const;
  // Tells edges a changed online count or fullness.
  void RefreshEdges();
  void NotifyEdges(AnswerCache& cache);

  // room_presence.cc
  void OnCountersLoaded(Result<std::vector<std::optional<std::string>>> values);
  // After a change to who is online: publishes at once when the last publish is a period
  // old (a quiet room shows a join in its answer), else the next tick does.
  void OnlineChanged();
  void Publish(int64_t now_ms);
  void DoOnline(const Caller& caller, const OnlineArgs& args);
  void DoStats(const Caller& caller);
  void DoVisitors(Caller caller, const VisitorsArgs& args);
  // Send-rate buckets of recent senders: the wait in seconds when `user_hash`'s is empty.
  std::optional<int> TakeSendToken(uint64_t user_hash, int64_t now_ms);
  void PruneSendBuckets(int64_t now_ms);

  RoomHost* host_;  // changes when the room moves to another loop (Detach, Adopt)
  const std::string id_;
  State state_ = State::kLoading;
  bool exists_ = false;
  // Set while queued requests run after a failed load/create: they answer `internal`.
  bool load_failed_ = false;
  int loads_pending_ = 0;
  int64_t created_ms_ = 0;
  RoomLog log_;
  uint64_t assigned_ = 0;  // highest seq handed out (>= log_.head(): some not yet durable)
  std::vector<std::pair<Caller, Request>> queued_;
  int pending_io_ = 0;  // store operations whose completion will touch this room
  bool wake_scheduled_ = false;
  // The pending batch's end, on the host's wheel (adaptive tiers, hold_ms).
  struct BatchTimer : TimerNode {
    Room* room = nullptr;
  } batch_timer_;
  int64_t last_activity_ms_ = 0;

  HeldList held_;
  size_t held_count_ = 0;
  std::unique_ptr<RoomOnline> online_;
  presence::RoomAudience audience_;
  bool audience_restored_ = true;  // false: the stored counters could not be read
  std::shared_ptr<const presence::OnlineSnapshot> published_;
  uint64_t published_version_ = 0;
  int64_t published_ms_ = std::numeric_limits<int64_t>::min() / 2;  // steady
  uint64_t priority_assigned_ = 0;  // priority messages handed a seq
  struct SendBucket {
    double tokens = 0;
    int64_t refill_ms = 0;
  };
  std::unordered_map<uint64_t, SendBucket> send_buckets_;
  std::unique_ptr<DedupKeys> dedup_;
  std::unique_ptr<EdgeSubscriptions> edges_;
  std::unique_ptr<Moderation> moderation_;
  std::vector<uint64_t> retracting_;  // seqs whose retraction is under way
  int64_t vip_since_ms_ = -1;         // past the VIP threshold since (steady), or -1
};

}  // namespace chatroomd::room
