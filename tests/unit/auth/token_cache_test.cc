// TokenCache (auth/token_cache.h): hits until exp (and the leeway), bounded by its capacity,
// tokens in use kept over ones not seen since.
#include "chatroomd/auth/token_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace chatroomd::auth {
namespace {

Claims Of(const std::string& user, int64_t exp_s) { return Claims{user, false, exp_s, 0}; }

TEST(TokenCacheTest, HitsUntilExpiry) {
  TokenCache cache(1000, /*leeway_s=*/5);
  EXPECT_FALSE(cache.Find("t1", 100).has_value());
  cache.Insert("t1", Of("alice", 200));
  auto hit = cache.Find("t1", 150);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->user, "alice");
  EXPECT_TRUE(cache.Find("t1", 204).has_value()) << "within the leeway";
  EXPECT_FALSE(cache.Find("t1", 205).has_value());
  EXPECT_FALSE(cache.Find("t1", 150).has_value()) << "an expired token is dropped";
}

TEST(TokenCacheTest, BoundedAndKeepsTokensInUse) {
  TokenCache cache(320, 0);  // 16 shards x 2 generations x 10
  cache.Insert("token-keep", Of("k", 1000));
  for (int i = 0; i < 10'000; ++i) {
    cache.Insert("token-" + std::to_string(i), Of("u", 1000));
    if (i % 10 == 0) ASSERT_TRUE(cache.Find("token-keep", 0).has_value()) << i;
  }
  EXPECT_LE(cache.size(), 320u);
  EXPECT_TRUE(cache.Find("token-keep", 0).has_value()) << "found often: never evicted";
  EXPECT_FALSE(cache.Find("token-0", 0).has_value()) << "old and unused: gone";
  EXPECT_TRUE(cache.Find("token-9999", 0).has_value());
}

TEST(TokenCacheTest, AnExpAtTheEndOfTimeDoesNotOverflow) {
  TokenCache cache(1000, 30);
  cache.Insert("t", Of("a", INT64_MAX));
  EXPECT_TRUE(cache.Find("t", 1'800'000'000).has_value());
}

TEST(TokenCacheTest, CapacityZeroCachesNothing) {
  TokenCache cache(0, 0);
  cache.Insert("t", Of("a", 100));
  EXPECT_FALSE(cache.Find("t", 0).has_value());
}

}  // namespace
}  // namespace chatroomd::auth
