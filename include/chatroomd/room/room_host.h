// The rooms of one loop. A RoomHost is created for every sect loop; it owns its rooms (by
// id), the timer wheel for their held polls and a periodic sweep, and runs only on its loop.
// Other threads reach its rooms with the Post* calls, which hand the work to its loop.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <cassert>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chatroomd/common/loop.h"
#include "chatroomd/common/timer_wheel.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/room/client.h"
#include "chatroomd/room/edge.h"
#include "chatroomd/store/store.h"

namespace chatroomd::room {

class Room;
struct OnlinePart;  // room/online_part.h

// A traffic tier (config traffic.tiers): rooms with at least `min_online` users online.
struct TrafficTier {
  int64_t min_online = 0;
  uint32_t poll_interval_ms = 0;
  uint32_t hold_ms = 0;
};

// Room bounds and behaviour (from config; rooms read them on their loop).
struct RoomSettings {
  uint32_t window_size = 2000;
  uint32_t priority_size = 1000;
  uint32_t max_message_bytes = 4096;
  bool auto_create = true;
  uint32_t max_held_polls_per_room = 1000000;
  uint32_t max_held_polls = 1000000;
  uint32_t online_ttl_ms = 40000;
  uint32_t dedup_memory_entries = 10000;
  int64_t dedup_window_ms = 24LL * 3600 * 1000;
  uint32_t idle_unload_ms = 600000;
  uint32_t max_rooms = 1000000;
  // Memory the loaded rooms may take (Room::memory_bytes, summed); past it no room loads.
  uint64_t max_room_bytes = uint64_t{4096} << 20;
  uint32_t send_rate_per_s = 10;
  uint32_t send_burst = 20;
  uint32_t max_pending_writes = 100000;
  // Mutes (and as many kicks) a room keeps in force at once.
  uint32_t max_moderated_users = 10000;
  uint32_t edge_max_groups = 16;
  uint32_t edge_report_delay_ms = 10;
  uint32_t edge_idle_ms = 5000;
  // presence { ... }. An aggregation period of 0 (tests only; the config's floor is 100)
  // publishes every change at once, with the host's tick every 100 ms.
  uint32_t aggregation_period_ms = 1000;
  uint32_t unique_exact_threshold = 10000;
  uint32_t counters_flush_ms = 10000;
  uint32_t online_sample_size = 1000;
  // Online users past which a room's table is spread over its sect's loops (0: never).
  uint32_t spread_threshold = 100000;
  // traffic.tiers, ascending by min_online (validated).
  std::vector<TrafficTier> tiers;
  // traffic.vip_*: a room moves to the VIP sect once it has had at least vip_promote_online
  // users (0: never) for vip_switch_after_ms, and back below vip_demote_online.
  int64_t vip_promote_online = 0;
  int64_t vip_demote_online = 0;
  int64_t vip_switch_after_ms = 60000;

  // The tier of a room with `online` users: the last whose min_online <= online; below the
  // first (or with none), no interval and no hold.
  TrafficTier TierFor(int64_t online) const {
    TrafficTier t;
    for (const auto& tier : tiers) {
      if (tier.min_online > online) break;
      t = tier;
    }
    return t;
  }
};

// State shared by every host and edge of the process (atomics only).
struct SharedRoomState {
  std::atomic<int64_t> held_polls{0};
  std::atomic<int64_t> pending_writes{0};
  // The loaded rooms' memory, as of each host's last upkeep tick (Room::memory_bytes).
  std::atomic<int64_t> room_bytes{0};
  std::atomic<bool> draining{false};
};

// The one check for every place that holds a poll (a room, an edge): false when the room
// already holds `room_held` polls (max_held_polls_per_room) or the process holds
// max_held_polls. On true one process-wide slot is taken; ReleaseHeldSlot gives it back. The
// slot is taken before the check, so that loops holding polls at once cannot pass the bound.
bool TakeHeldSlot(SharedRoomState& shared, const RoomSettings& settings, int64_t room_held);

// How often a host runs its rooms' upkeep: every aggregation period, or every quarter of the
// online TTL when that is shorter (so that a short TTL expires users on time), 100 ms at least.
// A room still publishes its count at most once per aggregation period.
int64_t UpkeepPeriodMs(const RoomSettings& settings);
void ReleaseHeldSlot(SharedRoomState& shared);

// What a host's presence work did, for /metrics (written on the host's loop, read anywhere).
struct PresenceStats {
  std::atomic<int64_t> online{0};  // the published counts of the host's rooms, summed
  std::atomic<uint64_t> expired{0};
  std::atomic<uint64_t> aggregations{0};    // aggregation ticks
  std::atomic<uint64_t> aggregation_ns{0};  // time spent in them
  std::atomic<int64_t> rooms_estimated{0};  // rooms whose unique-viewer day counter is past
                                            // the exact threshold
  std::atomic<uint64_t> counter_writes{0};  // audience counter records written
  std::atomic<int64_t> rooms_spread{0};     // rooms whose online table is spread over the
                                            // sect's loops
  std::atomic<int64_t> rooms{0};            // loaded rooms, as of the last tick
  std::atomic<int64_t> held_polls{0};       // polls its rooms hold, and their edges (as they
                                            // last reported), as of the last tick
  // Loaded rooms by their index in traffic.tiers (Room::tier_index), as of the last tick, for
  // the first `tiers` (the tiers configured then); rooms below the first tier are not counted.
  // 16: the most tiers the config allows.
  static constexpr size_t kMaxTiers = 16;
  std::array<std::atomic<int64_t>, kMaxTiers> rooms_by_tier{};
  std::atomic<int> tiers{0};
};

class RoomHost;

// Where each room lives: implemented by the sects (sect::RoomService). Any thread may ask.
class RoomDirectory {
 public:
  virtual RoomHost& HostOf(const std::string& room_id) = 0;

 protected:
  ~RoomDirectory() = default;
};

class RoomHost {
 public:
  // `clock`: the time the host's rooms and timers go by (tests move one by hand).
  RoomHost(Loop& loop, store::Store& store, std::shared_ptr<const RoomSettings> settings,
           SharedRoomState& shared, metrics::ThreadMetrics& metrics,
           TimerWheel::Clock clock = &TimerWheel::SteadyNowMs);
  ~RoomHost();

  // From any thread: `request` runs at room `room_id` on this host's loop (the room is
  // loaded on first touch; past rooms.max_rooms the caller gets `overloaded`).
  void Post(std::string room_id, Caller caller, Request request);
  // From any thread: the client no longer waits for its poll `serial` of room `room_id`.
  void PostCancelPoll(std::string room_id, ClientPtr client, uint64_t serial);
  // From any thread (an edge): a report, or the end of a subscription (edge.h).
  void PostEdgeReport(std::string room_id, EdgeReport report);
  void PostEdgeUnsubscribe(std::string room_id, Edge* edge, uint64_t gen);

  Loop& loop() { return loop_; }
  store::Store& store() { return store_; }
  const RoomSettings& settings() const { return *settings_; }
  SharedRoomState& shared() { return shared_; }
  metrics::ThreadMetrics& metrics() { return metrics_; }
  TimerWheel& wheel() { return wheel_; }
  // The host's clock (steady ms).
  int64_t NowMs() const { return wheel_.NowMs(); }
  void AssertOnLoop() const { assert(loop_.InLoop()); }

  // The rest runs on the loop.
  // Starts the sweep timer.
  void Start();
  // Cancels timers (before the loop stops).
  void Stop();
  // The room, loading it from the store on first touch; nullptr past max_rooms.
  Room* Get(const std::string& room_id);
  // Why no more rooms may load here now (rooms.max_rooms, rooms.max_memory_mb), if they may not.
  std::optional<Error> Full() const;
  // The room if it is loaded, else nullptr.
  Room* Find(const std::string& room_id);
  void CancelPoll(const std::string& room_id, const ClientPtr& client, uint64_t serial);
  // Answers every held poll (shutdown); new polls are answered at once from then on.
  void ReleaseAllHeld();
  // The upkeep tick (UpkeepPeriodMs: the aggregation period, or shorter with a short TTL):
  // every room expires silent users and publishes its online count when it changed (at most
  // once per aggregation period); idle rooms are unloaded; the audience counters are flushed
  // every presence.counters_flush_ms.
  void Sweep(int64_t now_ms);

  size_t room_count() const { return rooms_.size(); }

  // Moving rooms between loops (sect/migrator.h), on this loop. The new home first expects
  // the room: what arrives for it waits until the room does. The old home then lets it go
  // once nothing is under way for it (Room::Movable; retried every millisecond until then),
  // and `arrived` runs on the new home's loop once the room is there and what waited for it
  // has run. From then on what still reaches the old home for the room goes on to the new one.
  void ExpectRoom(const std::string& room_id);
  void Depart(const std::string& room_id, RoomHost& target, std::function<void()> arrived);
  // At the upkeep tick, for each room past its VIP threshold for long enough (Room::
  // VipSwitchDue): `hook(room_id, to_vip)`. Before Start.
  void set_vip_hook(std::function<void(const std::string&, bool)> hook) {
    vip_hook_ = std::move(hook);
  }
  // Live setting changes (reload): takes effect for later requests.
  void set_settings(std::shared_ptr<const RoomSettings> s) { settings_ = std::move(s); }
  // The sect this host belongs to (for /stats); before Start.
  void set_sect(std::string name, bool vip) {
    sect_name_ = std::move(name);
    vip_ = vip;
  }
  const std::string& sect_name() const { return sect_name_; }
  bool vip() const { return vip_; }
  // Every host of the sect, this one included, in loop order; before Start. A big room
  // spreads its online table over them (room_online.h).
  void set_peers(std::vector<RoomHost*> peers) { peers_ = std::move(peers); }
  const std::vector<RoomHost*>& peers() const { return peers_; }
  // A spread room's part on this loop: expired at this host's tick until it is dropped.
  void AdoptPart(std::shared_ptr<OnlinePart> part);
  void DropPart(const OnlinePart* part);
  size_t part_count() const { return parts_.size(); }

  // Presence bookkeeping from the host's rooms.
  void AddOnline(int64_t delta) { presence_.online.fetch_add(delta, std::memory_order_relaxed); }
  void CountExpired(size_t n) { presence_.expired.fetch_add(n, std::memory_order_relaxed); }
  const PresenceStats& presence_stats() const { return presence_; }
  // Writes every room's changed audience counters to the store in one request (the periodic
  // flush; also at shutdown, after Drain).
  void FlushCounters();

 private:
  void ArmSweep();
  // The request, unless the room is on its way here (it waits) or has gone (it follows).
  void Run(const std::string& room_id, Caller caller, Request request);
  // Rooms are on their way here or left: requests look where their room is (below).
  bool moving() const { return !incoming_.empty() || !departed_.empty(); }
  // What waits for `room_id` (on its way here), else nullptr.
  std::vector<std::function<void()>>* Awaited(const std::string& room_id);
  // Where `room_id` went (it left this loop), else nullptr.
  RoomHost* Gone(const std::string& room_id);
  void Arrive(const std::string& room_id, std::unique_ptr<Room> room);
  void EdgeReportHere(const std::string& room_id, EdgeReport report);
  void EdgeUnsubscribeHere(const std::string& room_id, Edge* edge, uint64_t gen);
  // Expires the spread rooms' parts that live here.
  void SweepParts(int64_t now_ms);
  // One write request for these counter records.
  void SubmitCounters(std::vector<store::CounterRecord> records);

  Loop& loop_;
  store::Store& store_;
  std::shared_ptr<const RoomSettings> settings_;
  SharedRoomState& shared_;
  metrics::ThreadMetrics& metrics_;
  TimerWheel wheel_;
  boost::asio::steady_timer sweep_timer_;
  std::unordered_map<std::string, std::unique_ptr<Room>> rooms_;
  std::string sect_name_;
  bool vip_ = false;
  std::vector<RoomHost*> peers_;
  std::vector<std::shared_ptr<OnlinePart>> parts_;  // other rooms' (and our own rooms') parts
  PresenceStats presence_;
  int64_t last_flush_ms_ = 0;
  // Counters of rooms unloaded since the last flush.
  std::vector<store::CounterRecord> unloaded_counters_;
  int64_t room_bytes_ = 0;         // this host's share of shared_.room_bytes
  bool rewrite_counters_ = false;  // a counters write failed: the next flush writes all again
  // Rooms on their way here, with what arrived for them meanwhile, in order.
  std::unordered_map<std::string, std::vector<std::function<void()>>> incoming_;
  // Rooms that left in the last minute, where to and when (steady ms).
  struct Departed {
    RoomHost* target;
    int64_t at_ms;
  };
  std::unordered_map<std::string, Departed> departed_;
  boost::asio::steady_timer depart_timer_;  // Depart's retry (one move at a time)
  std::function<void(const std::string&, bool)> vip_hook_;
};

}  // namespace chatroomd::room
