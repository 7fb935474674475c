#include "histogram.h"

namespace crload {

int Histogram::Index(uint64_t v) {
  if (v < kSub) return static_cast<int>(v);
  int e = 63 - __builtin_clzll(v);  // >= kSubBits
  int shift = e - kSubBits;
  return (shift + 1) * kSub + static_cast<int>((v >> shift) & (kSub - 1));
}

uint64_t Histogram::Lower(int index) {
  if (index < kSub) return static_cast<uint64_t>(index);
  int shift = index / kSub - 1;
  uint64_t sub = static_cast<uint64_t>(index % kSub);
  return (static_cast<uint64_t>(kSub) + sub) << shift;
}

uint64_t Histogram::Width(int index) {
  if (index < kSub) return 1;
  return uint64_t{1} << (index / kSub - 1);
}

void Histogram::Add(int64_t ns) {
  if (ns < 0) ns = 0;  // clocks agree system-wide; a negative value would be a bug upstream
  ++buckets_[Index(static_cast<uint64_t>(ns))];
  ++count_;
  if (ns > max_) max_ = ns;
}

void Histogram::Merge(const Histogram& other) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  if (other.max_ > max_) max_ = other.max_;
}

int64_t Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  if (q >= 1.0) return max_;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_));
  if (rank >= count_) rank = count_ - 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen > rank) {
      int64_t mid = static_cast<int64_t>(Lower(i) + Width(i) / 2);
      return mid < max_ ? mid : max_;
    }
  }
  return max_;
}

}  // namespace crload
