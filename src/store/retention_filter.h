// Retention: drops entries whose leading 8-byte write time is past a time-to-live when
// RocksDB compacts them. Reads apply the same rule (IsExpired in codec.h) so that an expired
// entry is never returned, whether or not compaction has reached it yet.
#pragma once

#include <rocksdb/compaction_filter.h>

#include <cstdint>
#include <memory>

#include "store/column_families.h"

namespace chatroomd::store {

// One per column family that expires (messages and priority with the retention, dedup with
// the dedup window); rooms never expires, so head_seq outlives its messages and a seq is never
// reused. RocksDB asks the factory for a filter per compaction; the filter reads the clock once
// there, not once per key, so a long compaction judges every key by the same cut-off.
class RetentionFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  RetentionFilterFactory(Clock clock, int64_t ttl_ms) : clock_(std::move(clock)), ttl_ms_(ttl_ms) {}

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override;
  const char* Name() const override { return "chatroomd.RetentionFilterFactory"; }

 private:
  Clock clock_;
  int64_t ttl_ms_;
};

// The counters column family: drops hour counters after two days and day counters after
// store.audience_retention_days (IsCounterExpired in codec.h).
class CounterRetentionFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  CounterRetentionFilterFactory(Clock clock, int64_t day_keep_days)
      : clock_(std::move(clock)), day_keep_days_(day_keep_days) {}
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override;
  const char* Name() const override { return "chatroomd.CounterRetentionFilterFactory"; }

 private:
  Clock clock_;
  int64_t day_keep_days_;
};

// The moderation column family: drops an entry once it is no longer in force (its until_ms,
// the whole value, is past: IsModerationOver in codec.h), so a mute or kick that simply runs
// out needs no write to go away.
class ModerationFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  explicit ModerationFilterFactory(Clock clock) : clock_(std::move(clock)) {}
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override;
  const char* Name() const override { return "chatroomd.ModerationFilterFactory"; }

 private:
  Clock clock_;
};

}  // namespace chatroomd::store
