// Private to the room component: a room's mutes and kicks, each a user and the wall-clock time
// it ends. Owned by the room and touched only on its loop; the durable copy is the store's
// moderation column family, which the room writes before an entry takes effect here and reads
// back when it loads. An entry past its end is as good as gone: lookups ignore it and Prune
// drops it.
//
// Cost when nobody is muted or kicked: the checks on the send and poll paths test an empty map.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chatroomd/store/store.h"

namespace chatroomd::room {

class Moderation {
 public:
  // When the user's mute or kick in force at `now_ms` ends.
  std::optional<int64_t> MutedUntil(const std::string& user, int64_t now_ms) const {
    return Find(muted_, user, now_ms);
  }
  std::optional<int64_t> KickedUntil(const std::string& user, int64_t now_ms) const {
    return Find(kicked_, user, now_ms);
  }
  bool any_kicked() const { return !kicked_.empty(); }
  bool any_muted() const { return !muted_.empty(); }
  size_t size() const { return muted_.size() + kicked_.size(); }

  // Whether one more entry of `kind` (store::ModerationRecord) for a user without one fits
  // under `max_entries`, once the entries that have ended are dropped.
  bool HasRoom(char kind, const std::string& user, int64_t now_ms, size_t max_entries);
  // Sets the user's entry of `kind` to end at `until_ms`; one at or before `now_ms` lifts it.
  void Set(char kind, const std::string& user, int64_t until_ms, int64_t now_ms);
  // The entries the room had when it was stored.
  void Restore(const std::vector<store::ModerationRecord>& records, int64_t now_ms);
  // Calls fn(user, until_ms) for every kick in force.
  template <typename Fn>
  void ForEachKicked(int64_t now_ms, Fn fn) const {
    for (const auto& [user, until] : kicked_) {
      if (until > now_ms) fn(user, until);
    }
  }
  // Drops the entries that have ended.
  void Prune(int64_t now_ms);

 private:
  using Entries = std::unordered_map<std::string, int64_t>;
  static std::optional<int64_t> Find(const Entries& entries, const std::string& user,
                                     int64_t now_ms);
  Entries& Of(char kind) { return kind == store::ModerationRecord::kKicked ? kicked_ : muted_; }

  Entries muted_;
  Entries kicked_;
};

}  // namespace chatroomd::room
