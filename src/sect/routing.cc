#include "chatroomd/sect/routing.h"

#include <algorithm>

namespace chatroomd::sect {
namespace {

// MurmurHash3's finalizer: spreads the bits so that a sect's sub-range maps evenly.
uint64_t Remix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

RoutingTable::RoutingTable(const config::Sects& sects) {
  for (int i = 0; i < sects.sects_size(); ++i) {
    const auto& s = sects.sects(i);
    threads_.push_back(std::max<uint32_t>(1, s.threads()));
    for (const auto& r : s.ranges()) {
      ranges_.push_back({r.start(), r.end(), static_cast<uint32_t>(i)});
    }
    for (const auto& room : s.rooms()) pinned_[room] = static_cast<uint32_t>(i);
  }
  std::sort(ranges_.begin(), ranges_.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
}

Route RoutingTable::Find(std::string_view room_id, uint64_t hash) const {
  Route route;
  auto pin = pinned_.empty() ? pinned_.end() : pinned_.find(std::string(room_id));
  if (pin != pinned_.end()) {
    route.sect = pin->second;
  } else {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), hash,
                               [](uint64_t h, const Range& r) { return h < r.start; });
    // Validated config covers the space, so the range before `it` holds the hash.
    route.sect = it == ranges_.begin() ? 0 : std::prev(it)->sect;
  }
  route.loop = static_cast<uint32_t>(Remix(hash) % threads_[route.sect]);
  return route;
}

}  // namespace chatroomd::sect
