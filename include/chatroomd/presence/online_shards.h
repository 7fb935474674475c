// The storage of a room's online table: 16-byte slots keyed by user hash, split into shards by
// the hash's top bits (extendible hashing). A lookup reads one directory word and probes one
// shard; a shard that fills up doubles, and past kMaxShardSlots it splits in two on the next
// hash bit, so growing never copies more than one shard at a time: a room of a million users
// pauses its loop for one shard's worth of work (a 64 Ki-slot rehash), never for the whole
// table. A small room is one shard of 8 slots.
//
// Plain data owned by OnlineTable, on its room's loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace chatroomd::presence {

// One user. `key` is the user's hash with its low two bits replaced by flags; 0 marks an
// empty slot.
struct OnlineSlot {
  static constexpr uint64_t kLeft = 1;     // left while a poll of theirs was held: not counted
  static constexpr uint64_t kSampled = 2;  // their id is in the table's sample
  static constexpr uint64_t kFlags = kLeft | kSampled;

  uint64_t key = 0;
  uint32_t last_seen = 0;  // in OnlineTable ticks since the table's epoch
  uint16_t held = 0;       // polls held (saturates; the rest are counted aside)
  uint16_t queued = 0;     // low 16 bits of the expiry bucket the user is queued in

  uint64_t ident() const { return key & ~kFlags; }
  bool has(uint64_t flag) const { return (key & flag) != 0; }
  void set(uint64_t flag, bool on) { key = on ? (key | flag) : (key & ~flag); }
};
static_assert(sizeof(OnlineSlot) == 16);

class OnlineShards {
 public:
  static constexpr size_t kMinShardSlots = 8;
  static constexpr size_t kMaxShardSlots = size_t{1} << 16;
  static constexpr int kMaxDepth = 16;  // at most 2^16 shards

  OnlineShards();

  // The identity a user hash is stored under (low flag bits cleared, never 0).
  static uint64_t Ident(uint64_t user_hash) {
    const uint64_t id = user_hash & ~OnlineSlot::kFlags;
    return id != 0 ? id : OnlineSlot::kFlags + 1;
  }

  // The slot of `ident`, or nullptr. Valid until the next Insert or Erase.
  OnlineSlot* Find(uint64_t ident);
  // The slot of `ident`, inserted empty (key = ident, the rest 0) when absent; `inserted` says
  // which. Valid until the next Insert or Erase.
  OnlineSlot& Insert(uint64_t ident, bool* inserted);
  // Removes `ident` if present.
  void Erase(uint64_t ident);

  size_t size() const { return size_; }
  size_t shard_count() const { return shards_.size(); }
  // Heap bytes held by the slots and the directory.
  size_t memory_bytes() const;

  // Calls f(slot) for occupied slots until f returns false.
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& shard : shards_) {
      for (const OnlineSlot& s : shard->slots) {
        if (s.key != 0 && !f(s)) return;
      }
    }
  }

  // The same, with the slots writable (their keys must not change).
  template <typename F>
  void ForEachMutable(F&& f) {
    for (auto& shard : shards_) {
      for (OnlineSlot& s : shard->slots) {
        if (s.key != 0) f(s);
      }
    }
  }

 private:
  struct Shard {
    std::vector<OnlineSlot> slots;  // a power of two, at most 3/4 full
    size_t size = 0;
    int depth = 0;  // hash bits (from the top) that every key of this shard shares
  };

  Shard& ShardOf(uint64_t ident) {
    return *shards_[directory_[depth_ == 0 ? 0 : ident >> (64 - depth_)]];
  }
  static size_t Home(const Shard& shard, uint64_t ident) {
    return (ident >> 2) & (shard.slots.size() - 1);
  }
  static OnlineSlot* Probe(Shard& shard, uint64_t ident);
  static void Place(Shard& shard, const OnlineSlot& slot);
  // Makes room for one more entry in the shard of `ident`: doubles it, or splits it.
  void Grow(uint64_t ident);
  void Split(uint32_t shard_index);

  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<uint32_t> directory_;  // 2^depth_ entries: top hash bits -> shard
  int depth_ = 0;
  size_t size_ = 0;
};

}  // namespace chatroomd::presence
