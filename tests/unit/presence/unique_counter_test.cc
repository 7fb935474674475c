// UniqueCounter (presence/unique_counter.h): exact to the threshold, a HyperLogLog past it with
// the exact set folded in (no jump), accurate within 3 % at a million, mergeable, and stored
// and read back; bad stored bytes are an error.
#include "chatroomd/presence/unique_counter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "chatroomd/common/ids.h"

namespace chatroomd::presence {
namespace {

double RelativeError(uint64_t estimate, uint64_t truth) {
  return std::abs(static_cast<double>(estimate) - static_cast<double>(truth)) /
         static_cast<double>(truth);
}

// The hash of user `i` of a run seeded with `seed` (real ids through the real hash).
uint64_t User(uint64_t seed, uint64_t i) {
  return UserHash("u" + std::to_string(seed) + "-" + std::to_string(i));
}

TEST(UniqueCounterTest, ExactAtAndBelowTheThreshold) {
  for (uint32_t n : {0u, 1u, 2u, 100u, 9999u, 10000u}) {
    UniqueCounter c;
    for (uint32_t i = 0; i < n; ++i) {
      c.Add(User(1, i));
      c.Add(User(1, i / 2));  // repeats change nothing
    }
    EXPECT_TRUE(c.exact()) << n;
    EXPECT_EQ(c.Count(), n);
  }
}

TEST(UniqueCounterTest, SwitchesPastTheThresholdWithoutAJump) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    UniqueCounter c(1000);
    for (uint64_t i = 0; i < 1000; ++i) c.Add(User(seed, i));
    ASSERT_TRUE(c.exact());
    ASSERT_EQ(c.Count(), 1000u);
    c.Add(User(seed, 1000));
    EXPECT_FALSE(c.exact());
    // Everyone counted before is folded in: just past the switch the estimate is close.
    EXPECT_LT(RelativeError(c.Count(), 1001), 0.02) << "seed " << seed << ": " << c.Count();
  }
}

TEST(UniqueCounterTest, SmallCountsAreCheapAndDenseIsSixteenKiB) {
  UniqueCounter c;
  EXPECT_EQ(c.memory_bytes(), 0u);
  for (uint64_t i = 0; i < 5; ++i) c.Add(User(2, i));
  EXPECT_LE(c.memory_bytes(), 64u);
  for (uint64_t i = 0; i <= UniqueCounter::kDefaultThreshold; ++i) c.Add(User(2, i));
  ASSERT_FALSE(c.exact());
  EXPECT_EQ(c.memory_bytes(), UniqueCounter::kRegisters);
}

TEST(UniqueCounterTest, AMillionDistinctWithinThreePercent) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    UniqueCounter c;
    std::mt19937_64 rng(seed);
    const uint64_t n = 1'000'000;
    for (uint64_t i = 0; i < n; ++i) {
      c.Add(User(seed, i));
      if (rng() % 4 == 0) c.Add(User(seed, rng() % (i + 1)));  // a quarter repeat someone
    }
    EXPECT_LT(RelativeError(c.Count(), n), 0.03) << "seed " << seed << ": " << c.Count();
  }
}

TEST(UniqueCounterTest, AccurateAcrossTheRange) {
  // Ertl's estimator has no bias region to hand over between: check a spread of sizes.
  UniqueCounter c(0);  // dense from the first user
  uint64_t added = 0;
  for (uint64_t target : {10u, 100u, 1000u, 20000u, 40000u, 80000u, 200000u}) {
    while (added < target) c.Add(User(9, added++));
    double bound = target <= 1000 ? 0.02 : 0.03;
    EXPECT_LT(RelativeError(c.Count(), target), bound) << target << ": " << c.Count();
  }
}

TEST(UniqueCounterTest, MergeIsAUnion) {
  // Exact with exact, under the threshold: exact.
  UniqueCounter a, b;
  for (uint64_t i = 0; i < 300; ++i) a.Add(User(3, i));
  for (uint64_t i = 200; i < 500; ++i) b.Add(User(3, i));
  a.Merge(b);
  EXPECT_TRUE(a.exact());
  EXPECT_EQ(a.Count(), 500u);

  // Exact with exact past the threshold: dense, still close.
  UniqueCounter c(400), d(400);
  for (uint64_t i = 0; i < 300; ++i) c.Add(User(4, i));
  for (uint64_t i = 250; i < 550; ++i) d.Add(User(4, i));
  c.Merge(d);
  EXPECT_FALSE(c.exact());
  EXPECT_LT(RelativeError(c.Count(), 550), 0.02) << c.Count();

  // Dense with dense, overlapping by half, and dense with exact both ways.
  UniqueCounter e, f;
  for (uint64_t i = 0; i < 200000; ++i) e.Add(User(5, i));
  for (uint64_t i = 100000; i < 300000; ++i) f.Add(User(5, i));
  UniqueCounter small;
  for (uint64_t i = 300000; i < 300100; ++i) small.Add(User(5, i));
  UniqueCounter ef = e;
  ef.Merge(f);
  EXPECT_LT(RelativeError(ef.Count(), 300000), 0.03) << ef.Count();
  UniqueCounter small_then_dense = small;
  small_then_dense.Merge(ef);
  ef.Merge(small);
  EXPECT_EQ(small_then_dense.Count(), ef.Count()) << "a union does not depend on the order";
  EXPECT_LT(RelativeError(ef.Count(), 300100), 0.03) << ef.Count();
}

TEST(UniqueCounterTest, StoredAndReadBack) {
  UniqueCounter exact;
  for (uint64_t i = 0; i < 777; ++i) exact.Add(User(6, i));
  exact.Add(0);  // the one hash the table cannot hold as is
  auto back = UniqueCounter::Parse(exact.Serialize(), UniqueCounter::kDefaultThreshold);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(back->exact());
  EXPECT_EQ(back->Count(), 778u);

  UniqueCounter dense;
  for (uint64_t i = 0; i < 50000; ++i) dense.Add(User(6, i));
  auto dense_back = UniqueCounter::Parse(dense.Serialize(), UniqueCounter::kDefaultThreshold);
  ASSERT_TRUE(dense_back.ok());
  EXPECT_FALSE(dense_back->exact());
  EXPECT_EQ(dense_back->Count(), dense.Count());

  // Stored exact under a threshold that has since been lowered: read back dense, counted.
  auto lowered = UniqueCounter::Parse(exact.Serialize(), 100);
  ASSERT_TRUE(lowered.ok());
  EXPECT_FALSE(lowered->exact());
  EXPECT_LT(RelativeError(lowered->Count(), 778), 0.02);
}

TEST(UniqueCounterTest, BadStoredBytesAreAnError) {
  UniqueCounter dense(0);
  dense.Add(User(7, 1));
  std::string good_dense = dense.Serialize();
  UniqueCounter exact;
  exact.Add(User(7, 1));
  std::string good_exact = exact.Serialize();
  std::string bad_register = good_dense;
  bad_register[5] = static_cast<char>(60);
  for (const std::string& bytes :
       {std::string(), std::string("\x01"), std::string("\x02\x00", 2), std::string("\x01\x07", 2),
        good_dense.substr(0, good_dense.size() - 1), good_dense + "x",
        good_exact.substr(0, good_exact.size() - 1), good_exact + "x", bad_register}) {
    EXPECT_FALSE(UniqueCounter::Parse(bytes, UniqueCounter::kDefaultThreshold).ok())
        << bytes.size();
  }
}

}  // namespace
}  // namespace chatroomd::presence
