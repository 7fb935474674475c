// Tokens already verified, so that a client polling with the same token does not pay for a
// signature check on every request (an HMAC is about a microsecond, an RSA or ECDSA check tens
// of microseconds). Bounded: at most `capacity` tokens, in 16 shards by token hash, each kept
// as two generations (a full current generation becomes the previous one, and the previous
// one is dropped), so that the tokens in use stay and the cost of a miss is one verification.
// A cached token is valid until its `exp` (plus the leeway): an expired one is a miss.
//
// Any thread: each shard has its own lock, held for one hash-map step.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "chatroomd/auth/jwt.h"

namespace chatroomd::auth {

class TokenCache {
 public:
  // `capacity` 0: nothing is cached.
  TokenCache(size_t capacity, int64_t leeway_s);

  // The claims of `token` if it was verified before and is still valid at `now_s`.
  std::optional<Claims> Find(std::string_view token, int64_t now_s);
  void Insert(std::string_view token, const Claims& claims);
  size_t size();

 private:
  static constexpr size_t kShards = 16;
  // Looked up by string_view: no copy of the token per request.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };
  using Map = std::unordered_map<std::string, Claims, Hash, std::equal_to<>>;
  struct Shard {
    std::mutex mu;
    Map current, previous;
  };
  Shard& ShardOf(std::string_view token);

  const size_t per_generation_;  // entries a shard's generation holds
  const int64_t leeway_s_;
  std::array<Shard, kShards> shards_;
};

}  // namespace chatroomd::auth
