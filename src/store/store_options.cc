// The store's side of the config and of /metrics.
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/store/store.h"
#include "proto/chatroomd/config.pb.h"

namespace chatroomd::store {

StoreOptions OptionsFromConfig(const config::StoreConfig& sc) {
  StoreOptions so;
  so.data_dir = sc.data_dir();
  so.sync_wal = sc.sync_wal();
  so.max_batch = sc.max_batch();
  so.retention_ms = static_cast<int64_t>(sc.retention_hours()) * 3600 * 1000;
  so.dedup_window_ms = static_cast<int64_t>(sc.dedup_window_hours()) * 3600 * 1000;
  so.reader_threads = sc.reader_threads();
  so.block_cache_mb = sc.block_cache_mb();
  so.write_buffer_mb = sc.write_buffer_mb();
  so.max_wal_mb = sc.max_wal_mb();
  so.audience_retention_days = sc.audience_retention_days();
  return so;
}

std::string Store::RenderMetrics() const {
  const StoreStats s = Stats();
  std::string out;
  metrics::AppendCounter(out, "chatroomd_store_pending_writes",
                         "Writes submitted to the store and not yet durable.",
                         static_cast<double>(s.pending), "gauge");
  metrics::AppendCumulativeHistogram(
      out, "chatroomd_store_batch_writes", "Writes folded into one group commit.",
      kBatchSizeBuckets, 1, s.batch_size_buckets, static_cast<double>(s.batch_writes), s.batches);
  metrics::AppendCumulativeHistogram(out, "chatroomd_store_batch_latency_seconds",
                                     "Time to make one group commit durable.", kLatencyBucketsUs,
                                     1e-6, s.latency_buckets,
                                     static_cast<double>(s.latency_sum_us) / 1e6, s.batches);
  return out;
}

}  // namespace chatroomd::store
