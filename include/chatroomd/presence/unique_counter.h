// Unique viewers of a room over a period (an hour, a UTC day): exact while small, then a
// HyperLogLog, as the seed does. Users are counted by their 64-bit UserHash.
//
// Two forms:
// - exact: the set of user hashes itself (an open-addressing table of 64-bit words), exact up
//   to `threshold` distinct users (10,000 by default; the owner takes it from the config). A
//   small room's counter is a few words.
// - dense: a HyperLogLog of 2^14 one-byte registers (16 KiB; standard error 1.04/sqrt(2^14),
//   about 0.81 %). The exact set is folded in when the counter switches, so nobody counted
//   before is lost, and the estimate just past the switch is within a fraction of a per cent
//   of the exact count before it (no jump).
// The estimate is Ertl's improved raw estimator ("New cardinality estimation algorithms for
// HyperLogLog sketches", 2017), which needs no empirical bias tables and is accurate from a
// handful of users to billions.
//
// Plain data: no threads, no I/O. The owner (a room's presence, on its loop) serializes it for
// the store and merges daily counters for a range.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/common/error.h"

namespace chatroomd::presence {

class UniqueCounter {
 public:
  static constexpr int kPrecision = 14;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;
  static constexpr uint32_t kDefaultThreshold = 10000;

  explicit UniqueCounter(uint32_t threshold = kDefaultThreshold);

  // Counts the user with this hash (UserHash). True when the counter changed (a new user in
  // the exact form, a register raised in the dense one): what needs storing again.
  bool Add(uint64_t user_hash);
  // Distinct users added: exact while exact(), else the HyperLogLog estimate (rounded).
  uint64_t Count() const;
  // Adds everything `other` counted (a union: a user in both counts once while exact).
  void Merge(const UniqueCounter& other);

  bool exact() const { return registers_.empty(); }
  uint32_t threshold() const { return threshold_; }
  // Heap bytes held (for memory accounting).
  size_t memory_bytes() const;

  // A compact, versioned encoding for the store, and its checked inverse: bad bytes are an
  // error, never a crash.
  std::string Serialize() const;
  static Result<UniqueCounter> Parse(std::string_view bytes, uint32_t threshold);

 private:
  // The exact set: open addressing, linear probing, 0 marks an empty slot (a hash of 0 is
  // stored as 1: one in 2^64 users is merged with another).
  bool InsertExact(uint64_t h);
  void GrowExact();
  // Switches to the dense form, folding the exact set in.
  void ToDense();
  bool AddDense(uint64_t h);
  double Estimate() const;

  uint32_t threshold_;
  std::vector<uint64_t> slots_;  // exact form: capacity a power of two, at most 3/4 full
  uint32_t exact_count_ = 0;
  std::vector<uint8_t> registers_;  // dense form: kRegisters entries
};

}  // namespace chatroomd::presence
