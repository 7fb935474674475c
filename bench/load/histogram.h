// Log-linear latency histogram: 128 linear sub-buckets per power of two of nanoseconds, so a
// bucket is at most 1/128 (0.8 %) wide relative to its value. Fixed size, so workers ship it to
// the parent as a flat array. Not thread-safe; one per process.
#pragma once

#include <array>
#include <cstdint>

namespace crload {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  void Add(int64_t ns);
  void Merge(const Histogram& other);
  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }
  // The value (ns) at quantile q in [0, 1]: the midpoint of the bucket holding it; the exact
  // maximum for q == 1.
  int64_t Quantile(double q) const;

 private:
  static int Index(uint64_t v);
  static uint64_t Lower(int index);
  static uint64_t Width(int index);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace crload
