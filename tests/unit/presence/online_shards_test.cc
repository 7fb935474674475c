// OnlineShards (presence/online_shards.h): the online table's storage. Insert/Find/Erase, growth
// by doubling and by splitting into shards, backward-shift deletion against a reference set
// (random keys and keys crafted to share a home slot, wrapping around the end of a shard),
// keys crafted to share their top bits (the directory stops at kMaxDepth), the identity of a
// user hash, and the memory accounting.
#include "chatroomd/presence/online_shards.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatroomd::presence {
namespace {

// `n` distinct identities drawn from a seeded generator.
std::vector<uint64_t> RandomIdents(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::unordered_set<uint64_t> seen;
  std::vector<uint64_t> out;
  out.reserve(n);
  while (out.size() < n) {
    const uint64_t id = OnlineShards::Ident(rng());
    if (seen.insert(id).second) out.push_back(id);
  }
  return out;
}

// Every occupied slot, by identity, as ForEach reports them (a duplicate fails the test).
std::unordered_set<uint64_t> Contents(const OnlineShards& shards) {
  std::unordered_set<uint64_t> out;
  shards.ForEach([&](const OnlineSlot& s) {
    EXPECT_TRUE(out.insert(s.ident()).second) << "slot listed twice: " << s.ident();
    return true;
  });
  return out;
}

TEST(OnlineShardsTest, InsertFindErase) {
  OnlineShards t;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.shard_count(), 1u);
  EXPECT_EQ(t.Find(OnlineShards::Ident(42)), nullptr);

  const uint64_t a = OnlineShards::Ident(0x1234'5678'9abc'def0);
  const uint64_t b = OnlineShards::Ident(0x0fed'cba9'8765'4320);
  bool inserted = false;
  OnlineSlot& sa = t.Insert(a, &inserted);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(sa.key, a);
  EXPECT_EQ(sa.last_seen, 0u);
  EXPECT_EQ(sa.held, 0u);
  EXPECT_EQ(sa.queued, 0u);
  sa.last_seen = 77;
  sa.held = 3;

  OnlineSlot& again = t.Insert(a, &inserted);
  EXPECT_FALSE(inserted);
  EXPECT_EQ(again.last_seen, 77u) << "a second insert returns the same slot";
  EXPECT_EQ(t.size(), 1u);

  t.Insert(b, &inserted).last_seen = 88;
  EXPECT_TRUE(inserted);
  EXPECT_EQ(t.size(), 2u);
  ASSERT_NE(t.Find(a), nullptr);
  EXPECT_EQ(t.Find(a)->held, 3u);
  ASSERT_NE(t.Find(b), nullptr);
  EXPECT_EQ(t.Find(b)->last_seen, 88u);

  t.Erase(a);
  EXPECT_EQ(t.Find(a), nullptr);
  EXPECT_EQ(t.size(), 1u);
  t.Erase(a);  // absent: nothing happens
  EXPECT_EQ(t.size(), 1u);
  ASSERT_NE(t.Find(b), nullptr);
  EXPECT_EQ(t.Find(b)->last_seen, 88u);

  // Back after an erase: a fresh, empty slot.
  OnlineSlot& fresh = t.Insert(a, &inserted);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(fresh.last_seen, 0u);
  EXPECT_EQ(fresh.held, 0u);
}

TEST(OnlineShardsTest, FlagsDoNotChangeTheIdentityAndSurviveGrowth) {
  OnlineShards t;
  const auto ids = RandomIdents(100'000, 11);
  bool inserted = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    OnlineSlot& s = t.Insert(ids[i], &inserted);
    ASSERT_TRUE(inserted);
    s.set(OnlineSlot::kLeft, i % 2 == 0);
    s.set(OnlineSlot::kSampled, i % 3 == 0);
    EXPECT_EQ(s.ident(), ids[i]);
  }
  ASSERT_GT(t.shard_count(), 1u) << "the flags must have been carried through splits";
  for (size_t i = 0; i < ids.size(); ++i) {
    const OnlineSlot* s = t.Find(ids[i]);
    ASSERT_NE(s, nullptr) << i;
    EXPECT_EQ(s->ident(), ids[i]);
    EXPECT_EQ(s->has(OnlineSlot::kLeft), i % 2 == 0) << i;
    EXPECT_EQ(s->has(OnlineSlot::kSampled), i % 3 == 0) << i;
  }
  // A flagged slot is still erased by its identity.
  t.Erase(ids[0]);
  EXPECT_EQ(t.Find(ids[0]), nullptr);
  EXPECT_EQ(t.size(), ids.size() - 1);
}

TEST(OnlineShardsTest, GrowsThroughDoublingAndSplitsIntoManyShards) {
  OnlineShards t;
  const auto ids = RandomIdents(300'000, 1);
  bool inserted = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    t.Insert(ids[i], &inserted).last_seen = static_cast<uint32_t>(i);
    ASSERT_TRUE(inserted) << i;
    ASSERT_EQ(t.size(), i + 1);
    // Spot checks while growing: every earlier key is still where Find looks.
    if ((i & (i + 1)) == 0 || i % 49'999 == 0) {
      for (size_t j = 0; j <= i; j += 1 + i / 1000) {
        ASSERT_NE(t.Find(ids[j]), nullptr) << j << " lost after " << i + 1 << " inserts";
      }
    }
  }
  EXPECT_EQ(t.size(), ids.size());
  EXPECT_GT(t.shard_count(), 1u);
  // 300,000 keys at most 3/4 of 64 Ki slots a shard: at least 7 shards.
  EXPECT_GE(t.shard_count(), 7u);
  for (size_t i = 0; i < ids.size(); ++i) {
    const OnlineSlot* s = t.Find(ids[i]);
    ASSERT_NE(s, nullptr) << i;
    ASSERT_EQ(s->last_seen, static_cast<uint32_t>(i)) << "the slot's data moved with it";
  }
  // Keys never inserted are not found.
  for (uint64_t id : RandomIdents(10'000, 2)) {
    if (t.Find(id) != nullptr) {
      EXPECT_TRUE(std::find(ids.begin(), ids.end(), id) != ids.end()) << id;
    }
  }
  const auto contents = Contents(t);
  EXPECT_EQ(contents.size(), ids.size());
  for (uint64_t id : ids) ASSERT_EQ(contents.count(id), 1u);
}

// Random inserts and erases against std::unordered_set. The pool mixes random keys with
// groups crafted to share their home slot in every shard size up to 2^18 slots (equal bits
// 2..19), including a group whose home is the last slot, so that probe runs wrap around the
// end of a shard and backward shifts cross it.
TEST(OnlineShardsTest, EraseKeepsEveryOtherKeyFindableAgainstAReferenceSet) {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> pool;
  // Enough keys that the table splits (about 70 % of the pool is present in a growing phase).
  for (uint64_t id : RandomIdents(100'000, 4)) pool.push_back(id);
  constexpr uint64_t kLow18 = (uint64_t{1} << 18) - 1;
  for (uint64_t home : {uint64_t{0}, uint64_t{1}, uint64_t{5}, kLow18 - 1, kLow18}) {
    for (int i = 0; i < 1'000; ++i) {
      const uint64_t high = rng() & ~((uint64_t{1} << 20) - 1);
      pool.push_back(OnlineShards::Ident(high | (home << 2)));
    }
  }
  // A few neighbours of the wrapping group: their runs meet it at the end of the shard.
  for (int i = 0; i < 1'000; ++i) {
    const uint64_t high = rng() & ~((uint64_t{1} << 20) - 1);
    pool.push_back(OnlineShards::Ident(high | ((kLow18 - 2 - (rng() % 4)) << 2)));
  }

  OnlineShards t;
  std::unordered_set<uint64_t> want;
  std::unordered_map<uint64_t, uint32_t> data;  // what each present key's slot should hold
  auto check_all = [&](int step) {
    ASSERT_EQ(t.size(), want.size()) << "step " << step;
    for (uint64_t id : pool) {
      const OnlineSlot* s = t.Find(id);
      if (want.count(id)) {
        ASSERT_NE(s, nullptr) << "step " << step << ": lost " << id;
        ASSERT_EQ(s->last_seen, data[id]) << "step " << step;
      } else {
        ASSERT_EQ(s, nullptr) << "step " << step << ": found erased " << id;
      }
    }
  };

  for (int step = 0; step < 400'000; ++step) {
    const uint64_t id = pool[rng() % pool.size()];
    // Drift between growing (60 % inserts) and shrinking (40 %) phases, so the table fills
    // whole shards and empties them again.
    const bool grow_phase = (step / 50'000) % 2 == 0;
    const bool insert = rng() % 10 < (grow_phase ? 7u : 3u);
    if (insert) {
      bool inserted = false;
      OnlineSlot& s = t.Insert(id, &inserted);
      ASSERT_EQ(inserted, want.insert(id).second) << "step " << step;
      s.last_seen = static_cast<uint32_t>(step);
      data[id] = static_cast<uint32_t>(step);
    } else {
      t.Erase(id);
      want.erase(id);
      data.erase(id);
    }
    if (step % 20'000 == 0) check_all(step);
  }
  check_all(-1);
  EXPECT_GT(t.shard_count(), 1u);
  EXPECT_EQ(Contents(t), want);

  // Erase everything, checking the rest after each group of erases.
  std::vector<uint64_t> rest(want.begin(), want.end());
  std::shuffle(rest.begin(), rest.end(), rng);
  for (size_t i = 0; i < rest.size(); ++i) {
    t.Erase(rest[i]);
    want.erase(rest[i]);
    if (i % 5'000 == 0) check_all(static_cast<int>(i));
  }
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(Contents(t).empty());
}

// Small shards: a cluster of keys with one home in an 8-slot shard, erased in every order.
TEST(OnlineShardsTest, BackwardShiftInASmallShardInEveryOrder) {
  // Homes 6, 7, 7, 7, 0 in an 8-slot shard: the run wraps from slot 7 to slot 0 and beyond.
  const std::vector<uint64_t> keys = {OnlineShards::Ident(6 << 2 | uint64_t{1} << 40),
                                      OnlineShards::Ident(7 << 2),
                                      OnlineShards::Ident(7 << 2 | uint64_t{1} << 41),
                                      OnlineShards::Ident(7 << 2 | uint64_t{1} << 42),
                                      OnlineShards::Ident(0 << 2 | uint64_t{1} << 43)};
  std::vector<size_t> order = {0, 1, 2, 3, 4};
  do {
    OnlineShards t;
    bool inserted = false;
    for (uint64_t k : keys) t.Insert(k, &inserted);
    ASSERT_EQ(t.shard_count(), 1u);
    std::unordered_set<uint64_t> left(keys.begin(), keys.end());
    for (size_t i : order) {
      t.Erase(keys[i]);
      left.erase(keys[i]);
      for (uint64_t k : keys) {
        ASSERT_EQ(t.Find(k) != nullptr, left.count(k) == 1)
            << "after erasing key " << i << ", key " << k;
      }
    }
  } while (std::next_permutation(order.begin(), order.end()));
}

// Key `i` of a set chosen to share its top 40 bits: the low 22 bits of the hash (the ones
// below them, above the flags) go through a bijection that spreads them like a hash would, so
// that only the top bits are crafted (sequential low bits would make one probe run of them all).
uint64_t SharedTop(uint64_t i) {
  constexpr uint64_t kTop = uint64_t{0xabcdef1234} << 24;
  return OnlineShards::Ident(kTop | (((i * 0x9e3779b1) & ((uint64_t{1} << 22) - 1)) << 2));
}

// Keys sharing their top 40 bits all land in one shard however deep the directory goes: past
// kMaxDepth the shard must double instead of splitting again.
TEST(OnlineShardsTest, KeysSharingTheirTopBitsStopTheDirectoryAtMaxDepth) {
  constexpr size_t kKeys = 200'000;  // four times what a 64 Ki-slot shard holds
  OnlineShards t;
  bool inserted = false;
  for (size_t i = 0; i < kKeys; ++i) {
    t.Insert(SharedTop(i), &inserted).last_seen = static_cast<uint32_t>(i);
    ASSERT_TRUE(inserted) << i;
  }
  EXPECT_EQ(t.size(), kKeys);
  // Each split on a shared bit leaves one sibling empty: at most one split per directory bit.
  EXPECT_LE(t.shard_count(), static_cast<size_t>(OnlineShards::kMaxDepth) + 1);
  // The directory (2^depth words) stays within 2^kMaxDepth words: the memory is the slots of
  // the one full shard and at most kMaxDepth 64 Ki-slot siblings.
  const size_t directory_max = (size_t{1} << OnlineShards::kMaxDepth) * sizeof(uint32_t);
  const size_t slots_max =
      (OnlineShards::kMaxDepth * OnlineShards::kMaxShardSlots + 3 * kKeys) * sizeof(OnlineSlot);
  EXPECT_LE(t.memory_bytes(), directory_max + slots_max + 64 * 1024);
  for (size_t i = 0; i < kKeys; ++i) {
    const OnlineSlot* s = t.Find(SharedTop(i));
    ASSERT_NE(s, nullptr) << i;
    ASSERT_EQ(s->last_seen, static_cast<uint32_t>(i));
  }
  EXPECT_EQ(t.Find(SharedTop(kKeys)), nullptr);

  // Ordinary keys still work beside them, and erasing the crafted ones keeps the rest.
  const auto others = RandomIdents(50'000, 9);
  for (uint64_t id : others) t.Insert(id, &inserted);
  for (size_t i = 0; i < kKeys; i += 2) t.Erase(SharedTop(i));
  EXPECT_EQ(t.size(), kKeys / 2 + others.size());
  for (size_t i = 0; i < kKeys; ++i) {
    ASSERT_EQ(t.Find(SharedTop(i)) != nullptr, i % 2 == 1) << i;
  }
  for (uint64_t id : others) ASSERT_NE(t.Find(id), nullptr);
}

TEST(OnlineShardsTest, IdentIsNeverZeroAndClearsTheFlagBits) {
  for (uint64_t h : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}}) {
    EXPECT_NE(OnlineShards::Ident(h), 0u) << h;
    EXPECT_EQ(OnlineShards::Ident(h) & OnlineSlot::kFlags, 0u) << h;
  }
  EXPECT_EQ(OnlineShards::Ident(4), 4u);
  EXPECT_EQ(OnlineShards::Ident(7), 4u);
  EXPECT_EQ(OnlineShards::Ident(~uint64_t{0}), ~uint64_t{3});
  std::mt19937_64 rng(5);
  for (int i = 0; i < 10'000; ++i) {
    const uint64_t h = rng();
    const uint64_t id = OnlineShards::Ident(h);
    EXPECT_NE(id, 0u);
    EXPECT_EQ(id & OnlineSlot::kFlags, 0u);
    if ((h & ~OnlineSlot::kFlags) != 0) {
      EXPECT_EQ(id, h & ~OnlineSlot::kFlags);
    }
  }
  // The hash 0 is stored and found like any other.
  OnlineShards t;
  bool inserted = false;
  t.Insert(OnlineShards::Ident(0), &inserted);
  EXPECT_TRUE(inserted);
  EXPECT_NE(t.Find(OnlineShards::Ident(0)), nullptr);
  EXPECT_NE(t.Find(OnlineShards::Ident(0))->key, 0u) << "an occupied slot is never empty";
}

TEST(OnlineShardsTest, MemoryGrowsWithTheKeysAndStaysWithinTheLoadFactor) {
  OnlineShards t;
  const size_t empty = t.memory_bytes();
  EXPECT_GE(empty, OnlineShards::kMinShardSlots * sizeof(OnlineSlot));
  EXPECT_LT(empty, 1024u) << "a small room is one shard of 8 slots";

  const auto ids = RandomIdents(300'000, 6);
  bool inserted = false;
  size_t last = empty;
  for (size_t i = 0; i < ids.size(); ++i) {
    t.Insert(ids[i], &inserted);
    const size_t n = i + 1;
    if (n == 1'000 || n == 10'000 || n == 100'000 || n == 300'000) {
      const size_t bytes = t.memory_bytes();
      EXPECT_GE(bytes, last) << n;
      // Never less than the slots themselves, at most 3/4 full...
      EXPECT_GE(bytes, n * sizeof(OnlineSlot) * 4 / 3) << n;
      // ...and about 3/8 full at worst (a doubled shard, or both halves of a split; uneven
      // splits can go a little below): at most 48 bytes a key, plus the directory.
      EXPECT_LE(bytes, n * sizeof(OnlineSlot) * 3 + 4096) << n;
      last = bytes;
    }
  }
}

}  // namespace
}  // namespace chatroomd::presence
