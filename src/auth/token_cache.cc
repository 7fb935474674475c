#include "chatroomd/auth/token_cache.h"

#include <xxhash.h>

namespace chatroomd::auth {

TokenCache::TokenCache(size_t capacity, int64_t leeway_s)
    : per_generation_(capacity / kShards / 2), leeway_s_(leeway_s) {}

size_t TokenCache::Hash::operator()(std::string_view s) const {
  return XXH3_64bits(s.data(), s.size());
}

TokenCache::Shard& TokenCache::ShardOf(std::string_view token) {
  // The top bits: the maps use the low ones.
  return shards_[Hash{}(token) >> 60];
}

std::optional<Claims> TokenCache::Find(std::string_view token, int64_t now_s) {
  if (per_generation_ == 0) return std::nullopt;
  Shard& shard = ShardOf(token);
  std::lock_guard lock(shard.mu);
  auto it = shard.current.find(token);
  if (it == shard.current.end()) {
    auto old = shard.previous.find(token);
    if (old == shard.previous.end()) return std::nullopt;
    auto moved = shard.previous.extract(old);
    if (now_s - leeway_s_ >= moved.mapped().exp_s) return std::nullopt;
    Claims claims = moved.mapped();
    if (shard.current.size() >= per_generation_) {
      shard.previous = std::move(shard.current);
      shard.current.clear();
    }
    shard.current.insert(std::move(moved));  // still in use: kept in the current generation
    return claims;
  }
  if (now_s - leeway_s_ >= it->second.exp_s) {
    shard.current.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void TokenCache::Insert(std::string_view token, const Claims& claims) {
  if (per_generation_ == 0) return;
  Shard& shard = ShardOf(token);
  std::lock_guard lock(shard.mu);
  if (shard.current.size() >= per_generation_) {
    shard.previous = std::move(shard.current);
    shard.current.clear();
  }
  shard.current.insert_or_assign(std::string(token), claims);
}

size_t TokenCache::size() {
  size_t n = 0;
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.current.size() + s.previous.size();
  }
  return n;
}

}  // namespace chatroomd::auth
