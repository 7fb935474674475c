// Who is online in one room: a user is online from a join or a poll until a leave, or until
// none of their polls has been held or started for the online TTL. Owned by its room and
// touched only on the room's home loop. The start of the presence component: the audience
// work splits it into shards with a published snapshot; today it is one map with an LRU list,
// so expiry never scans the whole table.
#pragma once

#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>

namespace chatroomd::presence {

// One user online in the room. Lives in the table's map (stable address): a held poll points
// at it.
struct OnlineEntry {
  boost::intrusive::list_member_hook<> lru_hook;  // oldest last_seen first
  const std::string* user = nullptr;              // the map's key
  int64_t last_seen_ms = 0;                       // steady ms
  uint32_t held = 0;                              // polls of this user held in the room
  bool left = false;                              // left while a poll was still held
  // The room's send-rate bucket for this user (kept here: one map per room, not two).
  static constexpr int64_t kBucketUnused = std::numeric_limits<int64_t>::min();
  double tokens = 0;
  int64_t refill_ms = kBucketUnused;  // no send yet: the bucket is full
};

class OnlineTable {
 public:
  OnlineTable() = default;
  ~OnlineTable();
  OnlineTable(const OnlineTable&) = delete;
  OnlineTable& operator=(const OnlineTable&) = delete;

  // `user` was seen now (a join, a poll): online from now, even after a leave.
  OnlineEntry& Touch(const std::string& user, int64_t now_ms);
  // The entry of an online user (not one who left), or nullptr.
  OnlineEntry* Find(const std::string& user);
  // Keeps an online user online (their poll is still held elsewhere); a user who is not
  // online stays offline.
  void Refresh(const std::string& user, int64_t now_ms);
  // A poll of `entry`'s user is held / ended (seen now).
  void Hold(OnlineEntry& entry) { ++entry.held; }
  void Release(OnlineEntry& entry, int64_t now_ms);
  // `user` leaves: uncounted at once. False when they were not online.
  bool Leave(const std::string& user);
  // Drops users unseen for `ttl_ms`; a user with a held poll counts as seen now.
  void Expire(int64_t now_ms, int64_t ttl_ms);

  int64_t count() const { return static_cast<int64_t>(map_.size()) - left_; }
  // No entry at all (not even one kept for a held poll of a user who left).
  bool empty() const { return map_.empty(); }

 private:
  using LruList = boost::intrusive::list<
      OnlineEntry,
      boost::intrusive::member_hook<OnlineEntry, decltype(OnlineEntry::lru_hook),
                                    &OnlineEntry::lru_hook>,
      boost::intrusive::constant_time_size<false>>;
  void MoveToBack(OnlineEntry& entry, int64_t now_ms);
  void Erase(OnlineEntry& entry);

  std::unordered_map<std::string, OnlineEntry> map_;
  LruList lru_;
  int64_t left_ = 0;  // entries kept only for a held poll of a user who left
};

}  // namespace chatroomd::presence
