#include "chatroomd/presence/online_shards.h"

#include <cassert>
#include <utility>

namespace chatroomd::presence {

OnlineShards::OnlineShards() {
  auto shard = std::make_unique<Shard>();
  shard->slots.resize(kMinShardSlots);
  shards_.push_back(std::move(shard));
  directory_.push_back(0);
}

OnlineSlot* OnlineShards::Probe(Shard& shard, uint64_t ident) {
  const size_t mask = shard.slots.size() - 1;
  for (size_t i = Home(shard, ident);; i = (i + 1) & mask) {
    OnlineSlot& s = shard.slots[i];
    if (s.key == 0) return &s;
    if (s.ident() == ident) return &s;
  }
}

void OnlineShards::Place(Shard& shard, const OnlineSlot& slot) {
  *Probe(shard, slot.ident()) = slot;
  ++shard.size;
}

OnlineSlot* OnlineShards::Find(uint64_t ident) {
  OnlineSlot* s = Probe(ShardOf(ident), ident);
  return s->key != 0 ? s : nullptr;
}

OnlineSlot& OnlineShards::Insert(uint64_t ident, bool* inserted) {
  Shard* shard = &ShardOf(ident);
  OnlineSlot* s = Probe(*shard, ident);
  if (s->key != 0) {
    *inserted = false;
    return *s;
  }
  if ((shard->size + 1) * 4 > shard->slots.size() * 3) {
    Grow(ident);
    shard = &ShardOf(ident);
    s = Probe(*shard, ident);
  }
  *inserted = true;
  *s = OnlineSlot{};
  s->key = ident;
  ++shard->size;
  ++size_;
  return *s;
}

void OnlineShards::Erase(uint64_t ident) {
  Shard& shard = ShardOf(ident);
  OnlineSlot* hole = Probe(shard, ident);
  if (hole->key == 0) return;
  // Backward-shift deletion: later slots of the same probe run move into the hole, so
  // linear probing needs no tombstones.
  const size_t mask = shard.slots.size() - 1;
  size_t i = static_cast<size_t>(hole - shard.slots.data());
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    OnlineSlot& s = shard.slots[j];
    if (s.key == 0) break;
    const size_t home = Home(shard, s.ident());
    // s may move to i when its home is not in the cyclic range (i, j].
    const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    shard.slots[i] = s;
    i = j;
  }
  shard.slots[i] = OnlineSlot{};
  --shard.size;
  --size_;
}

void OnlineShards::Grow(uint64_t ident) {
  const uint32_t index = directory_[depth_ == 0 ? 0 : ident >> (64 - depth_)];
  Shard& shard = *shards_[index];
  // Past kMaxDepth directory bits a full shard doubles instead of splitting: keys that share
  // that many top bits (chosen ids, not chance) must not grow the directory without bound.
  if (shard.slots.size() < kMaxShardSlots || (shard.depth == depth_ && depth_ >= kMaxDepth)) {
    std::vector<OnlineSlot> old(shard.slots.size() * 2);
    old.swap(shard.slots);
    shard.size = 0;
    for (const OnlineSlot& s : old) {
      if (s.key != 0) Place(shard, s);
    }
    return;
  }
  Split(index);
}

void OnlineShards::Split(uint32_t index) {
  Shard& shard = *shards_[index];
  if (shard.depth == depth_) {
    // Every directory entry names its own shard already: double the directory.
    std::vector<uint32_t> doubled(directory_.size() * 2);
    for (size_t i = 0; i < directory_.size(); ++i)
      doubled[2 * i] = doubled[2 * i + 1] = directory_[i];
    directory_.swap(doubled);
    ++depth_;
  }
  assert(shard.depth < depth_ && depth_ < 64);
  const int bit = 63 - shard.depth;  // the next hash bit from the top decides
  auto sibling = std::make_unique<Shard>();
  const uint32_t sibling_index = static_cast<uint32_t>(shards_.size());
  ++shard.depth;
  sibling->depth = shard.depth;
  sibling->slots.resize(shard.slots.size());
  std::vector<OnlineSlot> old(shard.slots.size());
  old.swap(shard.slots);
  shard.size = 0;
  for (const OnlineSlot& s : old) {
    if (s.key == 0) continue;
    Place(((s.key >> bit) & 1) ? *sibling : shard, s);
  }
  // Directory entries of this shard whose `bit` is 1 now name the sibling.
  const int shift = depth_ - shard.depth;  // directory bits below the one that decides
  for (size_t i = 0; i < directory_.size(); ++i) {
    if (directory_[i] == index && ((i >> shift) & 1)) directory_[i] = sibling_index;
  }
  shards_.push_back(std::move(sibling));
}

size_t OnlineShards::memory_bytes() const {
  size_t bytes = directory_.capacity() * sizeof(uint32_t) + shards_.capacity() * sizeof(void*);
  for (const auto& shard : shards_)
    bytes += sizeof(Shard) + shard->slots.capacity() * sizeof(OnlineSlot);
  return bytes;
}

}  // namespace chatroomd::presence
