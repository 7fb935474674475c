#include "chatroomd/presence/online_table.h"

#include <algorithm>

#include "chatroomd/common/ids.h"

namespace chatroomd::presence {

OnlineTable::OnlineTable(int64_t now_ms, Options options)
    : options_(options),
      epoch_ms_(now_ms),
      sample_users_(std::make_shared<std::vector<std::string>>()) {
  options_.bucket_ms = std::max<int64_t>(options_.bucket_ms, 1);
}

int64_t OnlineTable::BucketMsFor(int64_t ttl_ms) {
  // An eighth of the TTL, 100 ms to 1 s; past a TTL of 64 s a 64th of it, so that a ring never
  // has more than 64 buckets.
  return std::max<int64_t>(std::clamp<int64_t>(ttl_ms / 8, 100, 1000), ttl_ms / 64);
}

void OnlineTable::set_ttl_ms(int64_t ttl_ms) {
  if (ttl_ms == options_.ttl_ms) return;
  options_.ttl_ms = ttl_ms;
  const int64_t bucket_ms = BucketMsFor(ttl_ms);
  if (bucket_ms == options_.bucket_ms) return;
  // New bucket numbers: queue everyone again (once per such change).
  options_.bucket_ms = bucket_ms;
  ring_.clear();
  shards_.ForEachMutable([this](OnlineSlot& slot) {
    if (!slot.has(OnlineSlot::kLeft)) Queue(slot, DeadlineOf(slot));
  });
}

void OnlineTable::Queue(OnlineSlot& slot, int64_t deadline_ms) {
  const uint64_t bucket = static_cast<uint64_t>(deadline_ms / options_.bucket_ms);
  if (ring_.empty()) base_ = bucket;
  if (bucket < base_) {
    // Earlier than any bucket queued now (the ring emptied while its last bucket was being
    // checked, or the TTL shrank): the ring grows at the front, so the user keeps its deadline.
    ring_.insert(ring_.begin(), base_ - bucket, std::vector<uint64_t>());
    base_ = bucket;
  }
  const size_t at = bucket - base_;
  if (at >= ring_.size()) ring_.resize(at + 1);
  ring_[at].push_back(slot.ident());
  // 16 bits tell the live queueing from stale ones (a user who left and came back). When a
  // stale entry's bucket matches by wrap-around (a TTL of 2^16 buckets or more), it is simply
  // checked like the live one and requeued: the decision is always made from last_seen, and
  // the user stays queued exactly once.
  slot.queued = static_cast<uint16_t>(bucket);
}

std::vector<std::string>& OnlineTable::WritableSample() {
  // Every holder is on the owner's loop (snapshots are read there or copied out by value), so
  // the use count is exact here.
  if (sample_users_.use_count() > 1) {
    sample_users_ = std::make_shared<std::vector<std::string>>(*sample_users_);
  }
  return *sample_users_;
}

void OnlineTable::Sample(OnlineSlot& slot, std::string_view user) {
  if (slot.has(OnlineSlot::kSampled) || sample_users_->size() >= options_.sample_size ||
      user.empty()) {
    return;
  }
  slot.set(OnlineSlot::kSampled, true);
  WritableSample().emplace_back(user);
}

void OnlineTable::Unsample(OnlineSlot& slot) {
  if (!slot.has(OnlineSlot::kSampled)) return;
  slot.set(OnlineSlot::kSampled, false);
  // Found by hashing the sampled ids again (a few µs at the most, and only when a sampled user
  // goes), rather than keeping a second array of hashes beside them.
  const uint64_t ident = slot.ident();
  const std::vector<std::string>& sample = *sample_users_;
  size_t at = 0;
  while (at < sample.size() && OnlineShards::Ident(UserHash(sample[at])) != ident) ++at;
  if (at == sample.size()) return;
  std::vector<std::string>& users = WritableSample();
  users[at] = std::move(users.back());
  users.pop_back();
}

void OnlineTable::Arrive(OnlineSlot& slot, std::string_view user, int64_t elapsed_ms) {
  slot.set(OnlineSlot::kLeft, false);
  slot.last_seen = TickOf(elapsed_ms);
  ++count_;
  ++version_;
  Queue(slot, DeadlineOf(slot));
  Sample(slot, user);
}

void OnlineTable::Touch(uint64_t hash, std::string_view user, int64_t now_ms) {
  const int64_t elapsed = Elapsed(now_ms);
  bool inserted = false;
  OnlineSlot& slot = shards_.Insert(OnlineShards::Ident(hash), &inserted);
  if (inserted || slot.has(OnlineSlot::kLeft)) {
    Arrive(slot, user, elapsed);
  } else {
    slot.last_seen = TickOf(elapsed);
    Sample(slot, user);  // tops the sample up as sampled users go
  }
}

bool OnlineTable::IsOnline(uint64_t user_hash) {
  const OnlineSlot* slot = shards_.Find(OnlineShards::Ident(user_hash));
  return slot && !slot->has(OnlineSlot::kLeft);
}

void OnlineTable::Refresh(uint64_t user_hash, int64_t now_ms) {
  OnlineSlot* slot = shards_.Find(OnlineShards::Ident(user_hash));
  if (slot && !slot->has(OnlineSlot::kLeft)) slot->last_seen = TickOf(Elapsed(now_ms));
}

void OnlineTable::Hold(uint64_t user_hash) {
  OnlineSlot* slot = shards_.Find(OnlineShards::Ident(user_hash));
  if (!slot) return;
  if (slot->held == UINT16_MAX) {
    ++held_extra_[slot->ident()];
  } else {
    ++slot->held;
  }
}

void OnlineTable::Release(uint64_t user_hash, int64_t now_ms) {
  const uint64_t ident = OnlineShards::Ident(user_hash);
  OnlineSlot* slot = shards_.Find(ident);
  if (!slot) return;
  if (slot->held == UINT16_MAX && !held_extra_.empty()) {
    auto it = held_extra_.find(ident);
    if (it != held_extra_.end()) {
      if (--it->second == 0) held_extra_.erase(it);
      return;
    }
  }
  if (slot->held > 0) --slot->held;
  if (!slot->has(OnlineSlot::kLeft)) {
    slot->last_seen = TickOf(Elapsed(now_ms));
  } else if (slot->held == 0) {
    shards_.Erase(ident);  // kept only for this poll
  }
}

void OnlineTable::EraseSlot(OnlineSlot& slot) {
  Unsample(slot);
  if (!slot.has(OnlineSlot::kLeft)) {
    --count_;
    ++version_;
  }
  held_extra_.erase(slot.ident());
  shards_.Erase(slot.ident());
}

bool OnlineTable::Leave(uint64_t user_hash) {
  OnlineSlot* slot = shards_.Find(OnlineShards::Ident(user_hash));
  if (!slot || slot->has(OnlineSlot::kLeft)) return false;
  if (slot->held == 0) {
    EraseSlot(*slot);
    return true;
  }
  // A poll of theirs is still held: it keeps the slot until it ends, uncounted.
  Unsample(*slot);
  slot->set(OnlineSlot::kLeft, true);
  --count_;
  ++version_;
  return true;
}

size_t OnlineTable::CheckDue(std::vector<uint64_t>& bucket, uint16_t queued, int64_t elapsed) {
  size_t expired = 0;
  for (uint64_t ident : bucket) {
    OnlineSlot* slot = shards_.Find(ident);
    // Gone, queued elsewhere since (left and came back), or kept only for a held poll.
    if (!slot || slot->queued != queued || slot->has(OnlineSlot::kLeft)) continue;
    if (slot->held > 0) {
      Queue(*slot, elapsed + options_.ttl_ms);  // online for as long as the poll is held
    } else if (DeadlineOf(*slot) <= elapsed) {
      EraseSlot(*slot);
      ++expired;
    } else {
      Queue(*slot, DeadlineOf(*slot));
    }
  }
  return expired;
}

size_t OnlineTable::Expire(int64_t now_ms) {
  const int64_t elapsed = Elapsed(now_ms);
  size_t expired = 0;
  // A bucket is due once its whole span of deadlines has passed.
  while (!ring_.empty() && static_cast<int64_t>(base_ + 1) * options_.bucket_ms <= elapsed) {
    std::vector<uint64_t> bucket = std::move(ring_.front());
    ring_.pop_front();
    const auto queued = static_cast<uint16_t>(base_);
    ++base_;
    expired += CheckDue(bucket, queued, elapsed);
  }
  return expired;
}

void OnlineTable::MoveInto(const std::vector<OnlineTable*>& parts) {
  shards_.ForEach([&](const OnlineSlot& slot) {
    OnlineTable& to = *parts[PartOf(slot.ident(), parts.size())];
    bool inserted = false;
    OnlineSlot& moved = to.shards_.Insert(slot.ident(), &inserted);
    moved = slot;
    if (!slot.has(OnlineSlot::kLeft)) {
      ++to.count_;
      ++to.version_;
      to.Queue(moved, to.DeadlineOf(moved));  // a held user's deadline is renewed when due
    }
    if (auto it = held_extra_.find(slot.ident()); it != held_extra_.end()) {
      to.held_extra_.emplace(it->first, it->second);
    }
    return true;
  });
  // Copied: a published snapshot may still share these ids.
  for (const std::string& user : *sample_users_) {
    parts[PartOf(UserHash(user), parts.size())]->WritableSample().push_back(user);
  }
  shards_ = OnlineShards();
  held_extra_.clear();
  ring_.clear();
  sample_users_ = std::make_shared<std::vector<std::string>>();
  count_ = 0;
  ++version_;
}

std::shared_ptr<const OnlineSnapshot> OnlineTable::Snapshot(int64_t wall_ms) {
  auto snapshot = std::make_shared<OnlineSnapshot>();
  snapshot->count = count_;
  snapshot->users = sample_users_;  // shared until the sample next changes
  snapshot->as_of_ms = wall_ms;
  return snapshot;
}

size_t OnlineTable::memory_bytes() const {
  size_t bytes = shards_.memory_bytes();
  for (const auto& bucket : ring_) bytes += sizeof(bucket) + bucket.capacity() * sizeof(uint64_t);
  bytes += sample_users_->capacity() * sizeof(std::string);
  for (const auto& user : *sample_users_) {
    if (user.capacity() > 15) bytes += user.capacity() + 1;  // past the inline (SSO) bytes
  }
  return bytes;
}

}  // namespace chatroomd::presence
