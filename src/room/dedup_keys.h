// Private to the room component: a room's idempotency keys. A key is (sender, client_msg_id);
// while the first request with it is being looked up in the store or written, repeats wait on
// it; once settled it answers repeats with the same seq for the dedup window. Memory is
// bounded: the oldest settled keys are forgotten (the store still knows them). Owned by the
// room, touched on its home loop.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chatroomd/room/client.h"

namespace chatroomd::room {

struct DedupEntry {
  enum class Stage { kLookup, kPending, kDone } stage = Stage::kPending;
  uint64_t seq = 0;
  int64_t at_ms = 0;  // wall clock, for the dedup window
  // The request that owns the key while it is looked up, and the repeats waiting on it.
  std::optional<std::pair<Caller, SendArgs>> first;
  std::vector<Caller> repeats;
};

class DedupKeys {
 public:
  static std::string Key(const std::string& sender, const std::string& client_msg_id) {
    std::string key = sender;
    key += '\0';
    key += client_msg_id;
    return key;
  }

  // The entry for `key` while it is in force (in progress, or settled within the window).
  DedupEntry* FindLive(const std::string& key, int64_t now_ms, int64_t window_ms) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    const DedupEntry& e = it->second;
    if (e.stage == DedupEntry::Stage::kDone && now_ms - e.at_ms >= window_ms) return nullptr;
    return &it->second;
  }
  DedupEntry* Find(const std::string& key) {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }
  // A fresh entry for `key`, replacing an expired one.
  DedupEntry& Start(const std::string& key, int64_t now_ms) {
    DedupEntry& e = map_[key];
    e = DedupEntry{};
    e.at_ms = now_ms;
    return e;
  }
  void Erase(const std::string& key) { map_.erase(key); }
  size_t size() const { return map_.size(); }

  // `key` is being written or is settled: remember it in order, and forget the oldest settled
  // keys past `max_entries` or the window.
  void Remember(const std::string& key, int64_t now_ms, int64_t window_ms, size_t max_entries) {
    order_.push_back(key);
    while (!order_.empty()) {
      auto it = map_.find(order_.front());
      bool over = order_.size() > max_entries;
      if (it != map_.end()) {
        bool settled = it->second.stage == DedupEntry::Stage::kDone;
        bool expired = now_ms - it->second.at_ms >= window_ms;
        if (!settled || (!over && !expired)) break;
        map_.erase(it);
        maybe_in_store_ = true;
      }
      order_.pop_front();
    }
  }

  // Keys from before this process loaded the room (or forgotten since) may be in the store:
  // an unknown key is looked up there first.
  bool maybe_in_store() const { return maybe_in_store_; }
  void set_maybe_in_store() { maybe_in_store_ = true; }

 private:
  std::unordered_map<std::string, DedupEntry> map_;
  std::deque<std::string> order_;
  bool maybe_in_store_ = false;
};

}  // namespace chatroomd::room
