// Who is online in one room. A user is online from a join or a poll until a leave, or until
// none of their polls has been held or started for the TTL; one user on several devices counts
// once. Owned by its room and touched only on the room's loop.
//
// - Users are kept by their 64-bit UserHash in OnlineShards (16 bytes a slot, split into
//   shards by hash): a heartbeat is one hash and one probe in one shard.
// - Expiry without scans: every user sits in exactly one bucket of an expiry ring (one bucket
//   per `bucket_ms` of deadline). A heartbeat only moves the user's last-seen time; when a
//   bucket comes due its users are checked lazily: gone, expired, or queued again at their new
//   deadline. A second of upkeep costs the users whose deadline falls in it, not the table.
// - Ids are not kept per user: the table keeps a bounded sample of them (the first users seen
//   while there was room, topped up by later heartbeats as sampled users go), which is what
//   `/online` lists. A room no bigger than the sample lists everyone.
// - Readers never look inside: the owner publishes an immutable OnlineSnapshot (count, sample)
//   once per aggregation tick and every answer reads that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chatroomd/common/ids.h"
#include "chatroomd/presence/online_shards.h"

namespace chatroomd::presence {

// The published state of a room's table: immutable once built, shared by every reader.
struct OnlineSnapshot {
  int64_t count = 0;
  // A bounded sample of the online users' ids (all of them in a room no bigger than it).
  std::shared_ptr<const std::vector<std::string>> users;
  int64_t as_of_ms = 0;  // wall clock, ms since the Unix epoch
};

class OnlineTable {
 public:
  struct Options {
    int64_t ttl_ms = 40000;
    uint32_t sample_size = 1000;  // ids kept for /online
    int64_t bucket_ms = 1000;     // expiry ring resolution (the owner uses BucketMsFor)
  };
  // The expiry ring's resolution for a TTL: users expire at most this (and a tick) late.
  static int64_t BucketMsFor(int64_t ttl_ms);
  static constexpr int64_t kTickMs = 100;  // last-seen resolution (users expire late, not early)

  // `now_ms`: the owner's clock at creation (every later time is on the same clock).
  OnlineTable(int64_t now_ms, Options options);
  OnlineTable(const OnlineTable&) = delete;
  OnlineTable& operator=(const OnlineTable&) = delete;

  // A join or a poll: `user` is online from now (again, after a leave). Returns its hash.
  uint64_t Touch(std::string_view user, int64_t now_ms) {
    const uint64_t hash = UserHash(user);
    Touch(hash, user, now_ms);
    return hash;
  }
  // The same with the user's hash already known (`user` is kept only if it joins the sample;
  // an empty `user` never does).
  void Touch(uint64_t user_hash, std::string_view user, int64_t now_ms);
  bool IsOnline(std::string_view user) { return IsOnline(UserHash(user)); }
  bool IsOnline(uint64_t user_hash);
  // Keeps an online user online (an edge still holds their poll); a user who is not online
  // stays offline.
  void Refresh(std::string_view user, int64_t now_ms) { Refresh(UserHash(user), now_ms); }
  void Refresh(uint64_t user_hash, int64_t now_ms);
  // A poll of the user with this hash (Touch's result) is held / ended. A user with a held
  // poll does not expire.
  void Hold(uint64_t user_hash);
  void Release(uint64_t user_hash, int64_t now_ms);
  // `user` leaves: uncounted at once. False when they were not online.
  bool Leave(std::string_view user) { return Leave(UserHash(user)); }
  bool Leave(uint64_t user_hash);
  // Drops the users whose TTL has run out by `now_ms`; returns how many.
  size_t Expire(int64_t now_ms);
  // Live change (reload): every user's deadline is their last sighting plus the new TTL.
  void set_ttl_ms(int64_t ttl_ms);

  int64_t count() const { return count_; }
  // No entry at all (not even one kept for a held poll of a user who left).
  bool empty() const { return shards_.size() == 0; }
  // Changes whenever the set of online users changes.
  uint64_t version() const { return version_; }
  // The table as it is now, for publishing.
  std::shared_ptr<const OnlineSnapshot> Snapshot(int64_t wall_ms);
  // Heap bytes held: slots, expiry ring, sample.
  size_t memory_bytes() const;
  size_t shard_count() const { return shards_.shard_count(); }
  // The ids kept for /online (at most the sample size).
  const std::vector<std::string>& sample() const { return *sample_users_; }
  const Options& options() const { return options_; }
  // The clock reading the table counts its times from (tables that exchange users share it).
  int64_t epoch_ms() const { return epoch_ms_; }

  // Which of `parts` shares of a split table a user belongs to: by hash bits that neither the
  // shards' directory (the top 16) nor a slot's home (bits 2 to 17) uses, so that every part
  // still spreads its users evenly over its own shards.
  static size_t PartOf(uint64_t user_hash, size_t parts) {
    return static_cast<size_t>((((user_hash >> 24) & 0xFFFFFFFFu) * parts) >> 32);
  }
  // Moves every user (online, left with a poll held, sampled) into the part PartOf chooses;
  // this table is left empty. The parts share this table's epoch and options.
  void MoveInto(const std::vector<OnlineTable*>& parts);

 private:
  int64_t Elapsed(int64_t now_ms) const { return now_ms > epoch_ms_ ? now_ms - epoch_ms_ : 0; }
  static uint32_t TickOf(int64_t elapsed_ms) {
    return static_cast<uint32_t>((elapsed_ms + kTickMs - 1) / kTickMs);
  }
  int64_t DeadlineOf(const OnlineSlot& s) const { return s.last_seen * kTickMs + options_.ttl_ms; }
  void Queue(OnlineSlot& slot, int64_t deadline_ms);
  // Marks the slot online (new, or back after a leave).
  void Arrive(OnlineSlot& slot, std::string_view user, int64_t elapsed_ms);
  void Sample(OnlineSlot& slot, std::string_view user);
  void Unsample(OnlineSlot& slot);
  void EraseSlot(OnlineSlot& slot);
  // The bucket's users: gone, expired, or queued again. Returns how many expired.
  size_t CheckDue(std::vector<uint64_t>& bucket, uint16_t queued, int64_t elapsed_ms);

  Options options_;
  const int64_t epoch_ms_;
  OnlineShards shards_;
  int64_t count_ = 0;
  uint64_t version_ = 0;
  // Held polls beyond what a slot's 16-bit counter holds (one user holding 65,535+ polls).
  std::unordered_map<uint64_t, uint64_t> held_extra_;
  // Expiry ring: ring_[i] holds the users queued in bucket base_ + i.
  std::deque<std::vector<uint64_t>> ring_;
  uint64_t base_ = 0;
  // The sample's ids: shared with the snapshots that published them and copied before a change
  // while one still holds them (copy on write), so each id is kept once.
  std::shared_ptr<std::vector<std::string>> sample_users_;
  std::vector<std::string>& WritableSample();
};

}  // namespace chatroomd::presence
