// Which sect, and which loop of it, is a room's home. Immutable: a change (a room moved, a
// reload's pinned rooms) builds a new table and swaps it in (sect/migrator.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/chatroomd/config.pb.h"

namespace chatroomd::sect {

struct Route {
  uint32_t sect = 0;  // index into the sects file's list
  uint32_t loop = 0;  // index among that sect's loops
  friend bool operator==(const Route&, const Route&) = default;
};

// A room placed at run time, outside its hash range: by an admin (PUT /v1/admin/rooms/{room})
// or by the VIP thresholds.
struct Placement {
  uint32_t sect = 0;
  bool by_admin = false;
};

class RoutingTable {
 public:
  // `sects` must be validated (config::LoadConfig does): the non-VIP ranges cover the
  // whole 64-bit space exactly once.
  explicit RoutingTable(const config::Sects& sects);

  // Pinned rooms go to their sect, placed rooms to theirs; every other room to the sect
  // whose range holds its hash. Within a sect the loop is picked from a remix of the hash,
  // so a sect's loops share its range evenly (and a room always has the same loop in a sect).
  Route Find(std::string_view room_id, uint64_t hash) const;
  // The sect whose hash range holds `hash`.
  uint32_t RangeSect(uint64_t hash) const;
  // The sect the sects file pins the room to, if it does.
  std::optional<uint32_t> Pinned(std::string_view room_id) const;
  // Where the room was placed at run time, if it was.
  std::optional<Placement> Placed(std::string_view room_id) const;
  // The VIP sect, if the file has one.
  std::optional<uint32_t> vip_sect() const { return vip_sect_; }

  // This table with the room placed (or with its placement dropped, for nullopt).
  std::shared_ptr<const RoutingTable> WithPlacement(const std::string& room_id,
                                                    std::optional<Placement> placement) const;
  // This table with the room pinned as `sects` (a reloaded file) pins it; a pinned room loses
  // its placement.
  std::shared_ptr<const RoutingTable> WithPinFrom(const std::string& room_id,
                                                  const config::Sects& sects) const;

  size_t sect_count() const { return threads_.size(); }

 private:
  struct Range {
    uint64_t start;
    uint64_t end;  // inclusive
    uint32_t sect;
  };
  std::vector<Range> ranges_;  // sorted by start
  std::unordered_map<std::string, uint32_t> pinned_;
  std::unordered_map<std::string, Placement> placed_;
  std::vector<uint32_t> threads_;
  std::optional<uint32_t> vip_sect_;
};

// The rooms whose pinned sect differs between two sects files of the same shape.
std::vector<std::string> RepinnedRooms(const config::Sects& before, const config::Sects& after);
// The files differ only in their pinned rooms (else the change needs a restart).
bool SameShape(const config::Sects& a, const config::Sects& b);

}  // namespace chatroomd::sect
