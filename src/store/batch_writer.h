// Group commit: the one writer thread of the store.
//
// Owns a lock-free MPSC queue of WriteRequests and the thread that drains it. Any thread may
// Push(); the push is a lock-free enqueue plus, only when the writer may be asleep, one
// semaphore release: no mutex on the submit path. The writer folds up to max_batch queued
// requests into one rocksdb::WriteBatch, writes it (synced when sync_wal), then completes every
// request: one post per loop named by the requests (their completions in submission order in
// it), the others right on the writer thread. Completions must not throw (no exceptions on the
// data plane): one that did would cut short the others of its loop's post. While one batch is
// being synced, the next one accumulates in the queue, so batches grow with load.
#pragma once

#include <array>
#include <atomic>
#include <boost/lockfree/queue.hpp>
#include <cstdint>
#include <memory>
#include <semaphore>
#include <thread>
#include <vector>

#include "chatroomd/store/store.h"
#include "store/column_families.h"

namespace chatroomd::store {

class BatchWriter {
 public:
  // Starts the writer thread. `db` and the handles must outlive Stop().
  BatchWriter(rocksdb::DB* db, const ColumnFamilies& cfs, const StoreOptions& options, Clock clock);
  ~BatchWriter();
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Any thread; never blocks. Must not be called once Stop() has begun (the store's gate
  // guarantees it).
  void Push(std::unique_ptr<WriteRequest> request);

  // Writes and completes everything pushed so far, then joins the writer thread. Idempotent.
  void Stop();

  // Any thread. The counters are read one by one, so a snapshot taken while batches are being
  // written may be off by the batch in flight.
  StoreStats Stats() const;

 private:
  using Batch = std::vector<std::unique_ptr<WriteRequest>>;
  static constexpr size_t kBuckets = std::size(Store::kLatencyBucketsUs);

  void Run();
  // Moves up to max_batch queued requests into `batch` (cleared first); returns how many.
  size_t PopBatch(Batch* batch);
  void Commit(Batch* batch);
  // Builds the WriteBatch for `batch`; an error fails the whole batch.
  rocksdb::Status BuildWriteBatch(const Batch& batch, rocksdb::WriteBatch* out);
  void RecordLatency(uint64_t latency_us);

  rocksdb::DB* const db_;
  const ColumnFamilies cfs_;
  const Clock clock_;
  const bool sync_wal_;
  const size_t max_batch_;

  boost::lockfree::queue<WriteRequest*> queue_{1024};
  // Requests pushed and counted but not yet popped. The writer subtracts what it pops, and a
  // request may be popped before its pusher counts it, so this dips below zero briefly. A push
  // that moves it from 0 wakes the writer; the writer sleeps only when it drops to <= 0, so
  // exactly one wake-up is pending whenever work is.
  std::atomic<int64_t> queued_{0};
  std::counting_semaphore<> wake_{0};
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;  // Stop() is called by the store's Close(), under its mutex

  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> batch_writes_{0};
  std::atomic<uint64_t> pending_{0};
  std::atomic<uint64_t> latency_sum_us_{0};
  // Per bucket, not cumulative; the last slot counts batches slower than every bucket.
  std::array<std::atomic<uint64_t>, kBuckets + 1> latency_counts_{};
  static constexpr size_t kSizeBuckets = std::size(Store::kBatchSizeBuckets);
  std::array<std::atomic<uint64_t>, kSizeBuckets + 1> size_counts_{};

  std::thread thread_;  // last: starts after everything above is initialized
};

}  // namespace chatroomd::store
