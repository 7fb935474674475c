#include "chatroomd/presence/unique_counter.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace chatroomd::presence {
namespace {

constexpr int kQ = 64 - UniqueCounter::kPrecision;  // bits left for the rank
constexpr uint8_t kMaxRank = kQ + 1;
constexpr uint8_t kVersion = 1;
constexpr uint8_t kFormExact = 0;
constexpr uint8_t kFormDense = 1;

// Ertl's sigma and tau (2017, algorithm 6): the corrections for registers still at 0 and for
// registers at the largest rank. Both converge in a few dozen steps.
double Sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0, z = x, before;
  do {
    x *= x;
    before = z;
    z += x * y;
    y += y;
  } while (z != before);
  return z;
}

double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0, z = 1.0 - x, before;
  do {
    x = std::sqrt(x);
    before = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
  } while (z != before);
  return z / 3.0;
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

Error BadCounter(std::string what) {
  return MakeError(ErrorCode::kInternal, "unique-viewer counter: " + std::move(what));
}

}  // namespace

UniqueCounter::UniqueCounter(uint32_t threshold) : threshold_(threshold) {}

bool UniqueCounter::Add(uint64_t user_hash) {
  if (!exact()) return AddDense(user_hash);
  if (!InsertExact(user_hash)) return false;
  if (exact_count_ > threshold_) ToDense();
  return true;
}

bool UniqueCounter::InsertExact(uint64_t h) {
  if (h == 0) h = 1;  // 0 marks an empty slot
  if (slots_.empty()) slots_.assign(8, 0);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    if (slots_[i] == h) return false;
    if (slots_[i] == 0) {
      slots_[i] = h;
      break;
    }
  }
  // At most three quarters full, so that a probe stays short.
  if (++exact_count_ * 4 > slots_.size() * 3) GrowExact();
  return true;
}

void UniqueCounter::GrowExact() {
  std::vector<uint64_t> old(slots_.size() * 2, 0);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (uint64_t h : old) {
    if (h == 0) continue;
    size_t i = h & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = h;
  }
}

void UniqueCounter::ToDense() {
  registers_.assign(kRegisters, 0);
  for (uint64_t h : slots_) {
    if (h != 0) AddDense(h);
  }
  std::vector<uint64_t>().swap(slots_);
  exact_count_ = 0;
}

bool UniqueCounter::AddDense(uint64_t h) {
  // The top bits choose the register; the rank is the position of the first 1 in the rest.
  const size_t index = h >> kQ;
  const uint64_t rest = h << kPrecision;
  const uint8_t rank = rest == 0 ? kMaxRank : static_cast<uint8_t>(std::countl_zero(rest) + 1);
  uint8_t& r = registers_[index];
  if (rank <= r) return false;
  r = rank;
  return true;
}

double UniqueCounter::Estimate() const {
  std::array<uint32_t, kMaxRank + 1> hist{};
  for (uint8_t r : registers_) ++hist[r];
  const double m = static_cast<double>(kRegisters);
  double z = m * Tau((m - hist[kMaxRank]) / m);
  for (int k = kQ; k >= 1; --k) {
    z += hist[k];
    z *= 0.5;
  }
  z += m * Sigma(hist[0] / m);
  constexpr double kAlphaInf = 0.7213475204444817;  // 1 / (2 ln 2)
  return kAlphaInf * m * m / z;
}

uint64_t UniqueCounter::Count() const {
  if (exact()) return exact_count_;
  return static_cast<uint64_t>(std::llround(Estimate()));
}

void UniqueCounter::Merge(const UniqueCounter& other) {
  if (other.exact()) {
    for (uint64_t h : other.slots_) {
      if (h != 0) Add(h);
    }
    return;
  }
  if (exact()) ToDense();
  for (size_t i = 0; i < kRegisters; ++i) {
    registers_[i] = std::max(registers_[i], other.registers_[i]);
  }
}

size_t UniqueCounter::memory_bytes() const {
  return slots_.capacity() * sizeof(uint64_t) + registers_.capacity();
}

std::string UniqueCounter::Serialize() const {
  std::string out;
  out.push_back(static_cast<char>(kVersion));
  if (exact()) {
    out.push_back(static_cast<char>(kFormExact));
    out.reserve(2 + 4 + 8 * size_t{exact_count_});
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(exact_count_ >> (8 * i)));
    for (uint64_t h : slots_) {
      if (h != 0) PutU64(out, h);
    }
    return out;
  }
  out.push_back(static_cast<char>(kFormDense));
  out.append(reinterpret_cast<const char*>(registers_.data()), registers_.size());
  return out;
}

Result<UniqueCounter> UniqueCounter::Parse(std::string_view bytes, uint32_t threshold) {
  if (bytes.size() < 2) return BadCounter("too short");
  if (static_cast<uint8_t>(bytes[0]) != kVersion) return BadCounter("unknown version");
  const uint8_t form = static_cast<uint8_t>(bytes[1]);
  bytes.remove_prefix(2);
  UniqueCounter c(threshold);
  if (form == kFormExact) {
    if (bytes.size() < 4) return BadCounter("truncated count");
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= uint32_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
    bytes.remove_prefix(4);
    if (bytes.size() != 8 * size_t{n}) return BadCounter("length does not match the count");
    // Added one by one: a threshold lowered since it was stored switches it to dense.
    for (size_t i = 0; i < n; ++i) c.Add(GetU64(bytes.data() + 8 * i));
    return c;
  }
  if (form != kFormDense) return BadCounter("unknown form");
  if (bytes.size() != kRegisters) return BadCounter("wrong number of registers");
  c.registers_.assign(bytes.begin(), bytes.end());
  for (uint8_t r : c.registers_) {
    if (r > kMaxRank) return BadCounter("register out of range");
  }
  return c;
}

}  // namespace chatroomd::presence
