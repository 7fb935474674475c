// Which sect, and which loop of it, is a room's home. Immutable: a reload builds a new
// table and swaps it in.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/chatroomd/config.pb.h"

namespace chatroomd::sect {

struct Route {
  uint32_t sect = 0;  // index into the sects file's list
  uint32_t loop = 0;  // index among that sect's loops
};

class RoutingTable {
 public:
  // `sects` must be validated (config::LoadConfig does): the non-VIP ranges cover the
  // whole 64-bit space exactly once.
  explicit RoutingTable(const config::Sects& sects);

  // Pinned rooms go to their sect; every other room to the sect whose range holds its
  // hash. Within a sect the loop is picked from a remix of the hash, so a sect's loops
  // share its range evenly.
  Route Find(std::string_view room_id, uint64_t hash) const;

  size_t sect_count() const { return threads_.size(); }

 private:
  struct Range {
    uint64_t start;
    uint64_t end;  // inclusive
    uint32_t sect;
  };
  std::vector<Range> ranges_;  // sorted by start
  std::unordered_map<std::string, uint32_t> pinned_;
  std::vector<uint32_t> threads_;
};

}  // namespace chatroomd::sect
