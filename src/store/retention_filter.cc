#include "store/retention_filter.h"

#include "store/codec.h"

namespace chatroomd::store {
namespace {

class RetentionFilter : public rocksdb::CompactionFilter {
 public:
  RetentionFilter(int64_t now_ms, int64_t ttl_ms) : now_ms_(now_ms), ttl_ms_(ttl_ms) {}

  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    auto ts = ReadTs(value.ToStringView());
    // A value too short to hold a time is not ours to judge: keep it.
    return ts && IsExpired(*ts, now_ms_, ttl_ms_);
  }

  const char* Name() const override { return "chatroomd.RetentionFilter"; }

 private:
  int64_t now_ms_;
  int64_t ttl_ms_;
};

class CounterRetentionFilter : public rocksdb::CompactionFilter {
 public:
  CounterRetentionFilter(int64_t now_ms, int64_t day_keep_days)
      : now_ms_(now_ms), day_keep_days_(day_keep_days) {}
  bool Filter(int /*level*/, const rocksdb::Slice& key, const rocksdb::Slice& /*value*/,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    return IsCounterExpired(key.ToStringView(), now_ms_, day_keep_days_);
  }
  const char* Name() const override { return "chatroomd.CounterRetentionFilter"; }

 private:
  int64_t now_ms_;
  int64_t day_keep_days_;
};

class ModerationFilter : public rocksdb::CompactionFilter {
 public:
  explicit ModerationFilter(int64_t now_ms) : now_ms_(now_ms) {}
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    auto until_ms = ReadTs(value.ToStringView());
    // A value too short to hold a time is not ours to judge: keep it.
    return until_ms && IsModerationOver(*until_ms, now_ms_);
  }
  const char* Name() const override { return "chatroomd.ModerationFilter"; }

 private:
  int64_t now_ms_;
};

}  // namespace

std::unique_ptr<rocksdb::CompactionFilter> CounterRetentionFilterFactory::CreateCompactionFilter(
    const rocksdb::CompactionFilter::Context& /*context*/) {
  return std::make_unique<CounterRetentionFilter>(clock_(), day_keep_days_);
}

std::unique_ptr<rocksdb::CompactionFilter> RetentionFilterFactory::CreateCompactionFilter(
    const rocksdb::CompactionFilter::Context& /*context*/) {
  return std::make_unique<RetentionFilter>(clock_(), ttl_ms_);
}

std::unique_ptr<rocksdb::CompactionFilter> ModerationFilterFactory::CreateCompactionFilter(
    const rocksdb::CompactionFilter::Context& /*context*/) {
  return std::make_unique<ModerationFilter>(clock_());
}

}  // namespace chatroomd::store
