#include "chatroomd/sect/routing.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <set>

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

std::unordered_map<std::string, uint32_t> PinsOf(const config::Sects& sects) {
  std::unordered_map<std::string, uint32_t> pins;
  for (int i = 0; i < sects.sects_size(); ++i) {
    for (const auto& room : sects.sects(i).rooms()) pins[room] = static_cast<uint32_t>(i);
  }
  return pins;
}

}  // namespace

RoutingTable::RoutingTable(const config::Sects& sects) : pinned_(PinsOf(sects)) {
  for (int i = 0; i < sects.sects_size(); ++i) {
    const auto& s = sects.sects(i);
    threads_.push_back(std::max<uint32_t>(1, s.threads()));
    if (s.vip() && !vip_sect_) vip_sect_ = static_cast<uint32_t>(i);
    for (const auto& r : s.ranges()) {
      ranges_.push_back({r.start(), r.end(), static_cast<uint32_t>(i)});
    }
  }
  std::sort(ranges_.begin(), ranges_.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
}

uint32_t RoutingTable::RangeSect(uint64_t hash) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), hash,
                             [](uint64_t h, const Range& r) { return h < r.start; });
  // Validated config covers the space, so the range before `it` holds the hash.
  return it == ranges_.begin() ? 0 : std::prev(it)->sect;
}

Route RoutingTable::Find(std::string_view room_id, uint64_t hash) const {
  Route route;
  if (pinned_.empty() && placed_.empty()) {
    route.sect = RangeSect(hash);
  } else if (auto pin = Pinned(room_id)) {
    route.sect = *pin;
  } else if (auto place = Placed(room_id)) {
    route.sect = place->sect;
  } else {
    route.sect = RangeSect(hash);
  }
  route.loop = static_cast<uint32_t>(Remix(hash) % threads_[route.sect]);
  return route;
}

std::optional<uint32_t> RoutingTable::Pinned(std::string_view room_id) const {
  if (pinned_.empty()) return std::nullopt;
  auto it = pinned_.find(std::string(room_id));
  if (it == pinned_.end()) return std::nullopt;
  return it->second;
}

std::optional<Placement> RoutingTable::Placed(std::string_view room_id) const {
  if (placed_.empty()) return std::nullopt;
  auto it = placed_.find(std::string(room_id));
  if (it == placed_.end()) return std::nullopt;
  return it->second;
}

std::shared_ptr<const RoutingTable> RoutingTable::WithPlacement(
    const std::string& room_id, std::optional<Placement> placement) const {
  auto next = std::make_shared<RoutingTable>(*this);
  if (placement) {
    next->placed_[room_id] = *placement;
  } else {
    next->placed_.erase(room_id);
  }
  return next;
}

std::shared_ptr<const RoutingTable> RoutingTable::WithPinFrom(const std::string& room_id,
                                                              const config::Sects& sects) const {
  auto next = std::make_shared<RoutingTable>(*this);
  next->pinned_.erase(room_id);
  for (int i = 0; i < sects.sects_size(); ++i) {
    for (const auto& room : sects.sects(i).rooms()) {
      if (room == room_id) next->pinned_[room_id] = static_cast<uint32_t>(i);
    }
  }
  if (next->pinned_.contains(room_id)) next->placed_.erase(room_id);
  return next;
}

std::vector<std::string> RepinnedRooms(const config::Sects& before, const config::Sects& after) {
  const auto a = PinsOf(before);
  const auto b = PinsOf(after);
  std::set<std::string> out;  // sorted: moves go in a stable order
  for (const auto& [room, sect] : a) {
    auto it = b.find(room);
    if (it == b.end() || it->second != sect) out.insert(room);
  }
  for (const auto& [room, sect] : b) {
    if (!a.contains(room)) out.insert(room);
  }
  return {out.begin(), out.end()};
}

bool SameShape(const config::Sects& a, const config::Sects& b) {
  config::Sects x = a, y = b;
  for (auto& s : *x.mutable_sects()) s.clear_rooms();
  for (auto& s : *y.mutable_sects()) s.clear_rooms();
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

}  // namespace chatroomd::sect
