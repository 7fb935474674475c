#include "room/moderation.h"

namespace chatroomd::room {

std::optional<int64_t> Moderation::Find(const Entries& entries, const std::string& user,
                                        int64_t now_ms) {
  if (entries.empty()) return std::nullopt;
  auto it = entries.find(user);
  if (it == entries.end() || it->second <= now_ms) return std::nullopt;
  return it->second;
}

bool Moderation::HasRoom(char kind, const std::string& user, int64_t now_ms, size_t max_entries) {
  Entries& entries = Of(kind);
  if (entries.size() < max_entries || entries.contains(user)) return true;
  Prune(now_ms);
  return entries.size() < max_entries;
}

void Moderation::Set(char kind, const std::string& user, int64_t until_ms, int64_t now_ms) {
  Entries& entries = Of(kind);
  if (until_ms <= now_ms) {
    entries.erase(user);
  } else {
    entries[user] = until_ms;
  }
}

void Moderation::Restore(const std::vector<store::ModerationRecord>& records, int64_t now_ms) {
  for (const auto& r : records) Set(r.kind, r.user, r.until_ms, now_ms);
}

void Moderation::Prune(int64_t now_ms) {
  std::erase_if(muted_, [now_ms](const auto& e) { return e.second <= now_ms; });
  std::erase_if(kicked_, [now_ms](const auto& e) { return e.second <= now_ms; });
}

}  // namespace chatroomd::room
