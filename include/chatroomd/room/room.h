// A live room: its log (window + priority list), the polls it holds, who is online in it,
// and its idempotency keys. Owned by one RoomHost and touched only on that host's loop; a
// room never blocks: store work is submitted and its completion posted back here.
#pragma once

#include <boost/intrusive/list.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chatroomd/room/client.h"
#include "chatroomd/room/room_log.h"
#include "chatroomd/store/store.h"

namespace chatroomd::room {

class RoomHost;

struct JoinArgs {
  uint32_t backlog = 20;
};

struct PollArgs {
  std::optional<Cursor> cursor;
  uint32_t limit = 100;
  uint32_t timeout_ms = 25000;
};

struct SendArgs {
  std::string body;
  std::string type = "text";
  bool priority = false;
  std::optional<std::string> client_msg_id;
};

// A user online in the room. Lives in the room's online map (stable address).
struct OnlineEntry {
  boost::intrusive::list_member_hook<> lru_hook;  // oldest last_seen first
  const std::string* user = nullptr;              // the map's key
  int64_t last_seen_ms = 0;                       // steady ms
  uint32_t held = 0;                              // polls of this user held in the room
  bool left = false;                              // left while a poll was still held
  double tokens = 0;                              // send rate bucket
  int64_t refill_ms = 0;
};

class Room {
 public:
  Room(RoomHost& host, std::string id);
  ~Room();
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  const std::string& id() const { return id_; }

  // Starts loading from the store; requests queue until it is done.
  void Load();

  void Join(Caller caller, JoinArgs args);
  void Poll(Caller caller, PollArgs args);
  void Send(Caller caller, SendArgs args);
  void Leave(Caller caller);
  // Releases `client`'s held poll `serial` if it is still held here (client went away).
  void CancelPoll(Client& client, uint64_t serial);
  // Answers every held poll as if it timed out (shutdown).
  void ReleaseAllHeld();

  // From edges (see edge.h), on the room's loop.
  void OnEdgeReport(EdgeReport report);
  void OnEdgeUnsubscribe(Edge* edge, uint64_t gen);

  // Periodic upkeep: expires online users. Returns true when the room can be unloaded.
  bool Sweep(int64_t now_ms, int64_t idle_unload_ms);

  // For stats and tests.
  int64_t online() const { return static_cast<int64_t>(online_.size()) - left_count_; }
  size_t held_count() const { return held_count_; }
  // Polls held for this room by edges, as last reported.
  int64_t edge_held() const;
  size_t edge_count() const { return edges_.size(); }
  uint64_t head() const { return log_.head(); }
  bool exists() const { return state_ == State::kReady && exists_; }

 private:
  enum class State { kLoading, kCreating, kReady };

  struct DedupEntry {
    enum class Stage { kLookup, kPending, kDone } stage = Stage::kPending;
    uint64_t seq = 0;
    int64_t at_ms = 0;  // wall clock, for the dedup window
    // The request that owns the key while it is looked up, and the repeats waiting on it.
    std::optional<std::pair<Caller, SendArgs>> first;
    std::vector<Caller> repeats;
  };

  using HeldList = boost::intrusive::list<
      HeldPoll, boost::intrusive::member_hook<HeldPoll, decltype(HeldPoll::room_hook),
                                              &HeldPoll::room_hook>,
      boost::intrusive::constant_time_size<false>>;
  using LruList = boost::intrusive::list<
      OnlineEntry, boost::intrusive::member_hook<OnlineEntry, decltype(OnlineEntry::lru_hook),
                                                 &OnlineEntry::lru_hook>,
      boost::intrusive::constant_time_size<false>>;

  // True when the room is loaded; otherwise the caller queues its request in `queued_`
  // (built only then: the ready path, every request, allocates no closure).
  bool Ready();
  void OnLoaded(Result<store::RoomSnapshot> snapshot);
  void OnCreated(Status status);
  void RunQueued();

  OnlineEntry& TouchOnline(const std::string& user, int64_t now_ms);
  OnlineEntry* FindOnline(const std::string& user);
  void ReleaseUser(OnlineEntry* entry, int64_t now_ms);
  void EraseOnline(OnlineEntry& entry);

  void Accept(Caller caller, SendArgs args, std::optional<std::string> dedup_key);
  void OnDurable(Caller caller, MessagePtr message, std::optional<std::string> dedup_key,
                 Status status);
  void OnDedupLookup(const std::string& key, Result<std::optional<uint64_t>> found);
  void RememberKey(const std::string& key);
  static WirePtr SendResponse(uint64_t seq, bool duplicate, BodyFormat format);

  void AnswerNow(const Caller& caller, Cursor cursor, uint32_t limit);
  // A poll's answer from `cursor`, read from the log now, carrying `online`.
  WirePtr ReadAnswer(Cursor cursor, uint32_t limit, BodyFormat format, int64_t online);
  void PollFromStore(Caller caller, Cursor cursor, uint32_t limit);
  void Hold(Caller caller, Cursor cursor, uint32_t limit, uint32_t timeout_ms,
            OnlineEntry& user);
  void Unhold(HeldPoll& held);
  static void OnHeldTimeout(TimerNode* node);
  WirePtr TimeoutResponse(const HeldPoll& held);
  void ScheduleWake();
  void WakeHeld();

  // Responses for (cursor, limit, format), built once per wake.
  struct ResponseCache {
    struct Entry {
      Cursor cursor;
      uint32_t limit;
      BodyFormat format;
      WirePtr response;
    };
    std::vector<Entry> entries;
    int64_t online = 0;
  };
  WirePtr CachedRead(ResponseCache& cache, Cursor cursor, uint32_t limit, BodyFormat format);

  // A front loop's edge that holds polls at this room's head.
  struct EdgeSub {
    Edge* edge = nullptr;
    uint64_t gen = 0;
    Cursor sent_head;  // the head it was last told
    Cursor prev_head;  // the head it was told before that (== sent_head: none)
    std::vector<EdgeGroup> groups;
    int64_t held = 0;  // as last reported at sent_head
    int64_t sent_online = 0;
    bool sent_full = false;
  };
  void SubscribeEdge(Edge& edge, EdgeGroup group);
  void NotifyEdges(ResponseCache& cache);
  // Tells edges a changed online count or fullness.
  void RefreshEdges();
  bool Full() const;

  std::string EncodeCursorFor(Cursor c) const { return EncodeCursor(id_, c); }

  RoomHost& host_;
  const std::string id_;
  State state_ = State::kLoading;
  bool exists_ = false;
  // Set while queued requests run after a failed load/create: they answer `internal`.
  bool load_failed_ = false;
  int64_t created_ms_ = 0;
  RoomLog log_;
  uint64_t assigned_ = 0;  // highest seq handed out (>= log_.head(): some not yet durable)
  std::vector<std::function<void()>> queued_;
  int pending_io_ = 0;  // store operations whose completion will touch this room
  bool wake_scheduled_ = false;
  int64_t last_activity_ms_ = 0;

  HeldList held_;
  size_t held_count_ = 0;
  std::vector<EdgeSub> edges_;

  std::unordered_map<std::string, OnlineEntry> online_;
  LruList lru_;
  int64_t left_count_ = 0;

  std::unordered_map<std::string, DedupEntry> dedup_;
  std::deque<std::string> dedup_order_;
  // Keys from before this process loaded the room (or evicted from memory) may be in the
  // store: unknown keys are looked up there first.
  bool keys_in_store_ = false;
};

}  // namespace chatroomd::room
