#include "chatroomd/presence/online_table.h"

namespace chatroomd::presence {

OnlineTable::~OnlineTable() { lru_.clear(); }

void OnlineTable::MoveToBack(OnlineEntry& e, int64_t now_ms) {
  e.last_seen_ms = now_ms;
  if (e.lru_hook.is_linked()) lru_.erase(lru_.iterator_to(e));
  lru_.push_back(e);
}

OnlineEntry& OnlineTable::Touch(const std::string& user, int64_t now_ms) {
  auto [it, inserted] = map_.try_emplace(user);
  OnlineEntry& e = it->second;
  if (inserted) e.user = &it->first;
  if (e.left) {
    e.left = false;
    --left_;
  }
  MoveToBack(e, now_ms);
  return e;
}

OnlineEntry* OnlineTable::Find(const std::string& user) {
  auto it = map_.find(user);
  if (it == map_.end() || it->second.left) return nullptr;
  return &it->second;
}

void OnlineTable::Refresh(const std::string& user, int64_t now_ms) {
  if (OnlineEntry* e = Find(user)) MoveToBack(*e, now_ms);
}

void OnlineTable::Erase(OnlineEntry& e) {
  if (e.lru_hook.is_linked()) lru_.erase(lru_.iterator_to(e));
  if (e.left) --left_;
  map_.erase(*e.user);
}

void OnlineTable::Release(OnlineEntry& e, int64_t now_ms) {
  --e.held;
  if (!e.left) return MoveToBack(e, now_ms);
  if (e.held == 0) Erase(e);
}

bool OnlineTable::Leave(const std::string& user) {
  OnlineEntry* e = Find(user);
  if (!e) return false;
  if (e->held == 0) {
    Erase(*e);
    return true;
  }
  // A poll of theirs is still held: it keeps the entry until it ends, uncounted.
  e->left = true;
  ++left_;
  lru_.erase(lru_.iterator_to(*e));
  return true;
}

void OnlineTable::Expire(int64_t now_ms, int64_t ttl_ms) {
  while (!lru_.empty()) {
    OnlineEntry& e = lru_.front();
    if (e.last_seen_ms + ttl_ms > now_ms) break;
    if (e.held > 0) {
      // Still polling: online for as long as the poll is held.
      MoveToBack(e, now_ms);
      continue;
    }
    Erase(e);
  }
}

}  // namespace chatroomd::presence
