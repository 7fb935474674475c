#include "store/batch_writer.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proto/chatroomd/store.pb.h"
#include "store/codec.h"
#include "store/status.h"

namespace chatroomd::store {

BatchWriter::BatchWriter(rocksdb::DB* db, const ColumnFamilies& cfs, const StoreOptions& options,
                         Clock clock)
    : db_(db),
      cfs_(cfs),
      clock_(std::move(clock)),
      sync_wal_(options.sync_wal),
      max_batch_(std::max<uint32_t>(options.max_batch, 1)),
      thread_([this] { Run(); }) {}

BatchWriter::~BatchWriter() { Stop(); }

void BatchWriter::Push(std::unique_ptr<WriteRequest> request) {
  pending_.fetch_add(1, std::memory_order_relaxed);
  // push() is a CAS loop; it allocates a node (malloc) only when the queue's free list is
  // empty, which stops happening once the queue has grown to its peak depth.
  queue_.push(request.release());
  if (queued_.fetch_add(1, std::memory_order_acq_rel) == 0) wake_.release();
}

void BatchWriter::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  wake_.release();
  thread_.join();
}

void BatchWriter::Run() {
  Batch batch;
  batch.reserve(std::min<size_t>(max_batch_, 1024));
  for (;;) {
    wake_.acquire();
    // Read before draining: every Push happened before Stop() set the flag, so when it is set
    // the drain below sees all the work there will ever be.
    const bool stopping = stopping_.load(std::memory_order_acquire);
    for (;;) {
      const size_t n = PopBatch(&batch);
      if (n > 0) Commit(&batch);
      const auto popped = static_cast<int64_t>(n);
      if (queued_.fetch_sub(popped, std::memory_order_acq_rel) - popped <= 0) break;
    }
    if (stopping) {
      // The counter may still hold a stale wake-up; the queue itself is the truth now.
      while (PopBatch(&batch) > 0) Commit(&batch);
      return;
    }
  }
}

size_t BatchWriter::PopBatch(Batch* batch) {
  batch->clear();
  WriteRequest* request = nullptr;
  while (batch->size() < max_batch_ && queue_.pop(request)) batch->emplace_back(request);
  return batch->size();
}

rocksdb::Status BatchWriter::BuildWriteBatch(const Batch& batch, rocksdb::WriteBatch* out) {
  // One RoomMeta per room: the last request for a room wins, and a request whose created_ms is
  // 0 keeps the one given earlier in the batch or, failing that, the stored one.
  std::unordered_map<std::string_view, RoomMeta> metas;
  int64_t now_ms = 0;  // read lazily: most messages carry their own time, most requests no lift
  auto now = [&] {
    if (now_ms == 0) now_ms = clock_();
    return now_ms;
  };
  std::string until;
  for (const auto& request : batch) {
    for (const CounterRecord& c : request->counters) {
      rocksdb::Status s = out->Put(cfs_.counters, CounterKeyBytes(c.room, c.key), c.value);
      if (!s.ok()) return s;
    }
    for (const ModerationRecord& m : request->moderation) {
      // Applied in order within the batch, so a later record for the same user wins.
      const std::string key = ModerationKey(m.room, m.kind, m.user);
      rocksdb::Status s;
      if (IsModerationOver(m.until_ms, now())) {
        s = out->Delete(cfs_.moderation, key);  // a lift
      } else {
        until.clear();
        AppendTs(&until, m.until_ms);
        s = out->Put(cfs_.moderation, key, until);
      }
      if (!s.ok()) return s;
    }
    if (request->room.empty()) continue;  // counters and moderation only
    RoomMeta& meta = metas[request->room];
    meta.set_head_seq(request->head_seq);
    meta.set_priority_count(request->priority_count);
    if (request->created_ms != 0) meta.set_created_ms(request->created_ms);
    if (request->retract_seq) {
      // Before the message below (the notice of the retraction), in the same batch: a reader
      // sees the message or its notice, never both, never neither.
      const std::string key = MessageKey(request->room, *request->retract_seq);
      rocksdb::Status s = out->Delete(cfs_.messages, key);
      if (s.ok()) s = out->Delete(cfs_.priority, key);
      if (!s.ok()) return s;
    }
    if (!request->message) continue;

    const MessageRecord& message = *request->message;
    // Without a time the message would expire at once; stamp it with the store's clock.
    const int64_t ts_ms = message.ts_ms > 0 ? message.ts_ms : now();
    const std::string key = MessageKey(request->room, message.seq);
    rocksdb::Status s = out->Put(cfs_.messages, key, EncodeMessageValue(ts_ms, message));
    if (s.ok() && message.priority) {
      std::string ts;
      AppendTs(&ts, ts_ms);
      s = out->Put(cfs_.priority, key, ts);
    }
    if (s.ok() && message.client_msg_id) {
      s = out->Put(cfs_.dedup, DedupKey(request->room, message.sender, *message.client_msg_id),
                   EncodeDedupValue(ts_ms, message.seq));
    }
    if (!s.ok()) return s;
  }

  std::string value;
  for (auto& [room, meta] : metas) {
    if (meta.created_ms() == 0) {
      // Rare (callers normally pass the room's created_ms): one point read on the writer.
      rocksdb::PinnableSlice stored;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_.rooms, room, &stored);
      if (s.ok()) {
        RoomMeta old;
        if (old.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
          meta.set_created_ms(old.created_ms());
        }
      } else if (!s.IsNotFound()) {
        return s;
      }
    }
    value.clear();
    meta.SerializeToString(&value);
    rocksdb::Status s = out->Put(cfs_.rooms, room, value);
    if (!s.ok()) return s;
  }
  return rocksdb::Status::OK();
}

void BatchWriter::Commit(Batch* batch) {
  const auto start = std::chrono::steady_clock::now();
  rocksdb::WriteBatch write_batch;
  rocksdb::Status s = BuildWriteBatch(*batch, &write_batch);
  if (s.ok()) {
    rocksdb::WriteOptions options;
    options.sync = sync_wal_;
    s = db_->Write(options, &write_batch);
  }
  const auto latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();

  // Stats before completions: a caller that waits on its completion then reads Stats() sees
  // its own batch counted.
  batches_.fetch_add(1, std::memory_order_relaxed);
  batch_writes_.fetch_add(batch->size(), std::memory_order_relaxed);
  RecordLatency(static_cast<uint64_t>(std::max<int64_t>(latency_us, 0)));
  const auto* size_end = std::end(Store::kBatchSizeBuckets);
  size_counts_[std::lower_bound(std::begin(Store::kBatchSizeBuckets), size_end,
                                static_cast<uint64_t>(batch->size())) -
               std::begin(Store::kBatchSizeBuckets)]
      .fetch_add(1, std::memory_order_relaxed);
  pending_.fetch_sub(batch->size(), std::memory_order_relaxed);

  const Status status = s.ok() ? OkStatus() : Status(StoreError("write", s));
  // Each completion goes to the loop its request names: one post per loop for the whole
  // batch (a room's sends of one group commit all complete in one turn of its loop).
  std::vector<std::pair<Loop*, std::vector<std::function<void(Status)>>>> by_loop;
  for (auto& request : *batch) {
    if (!request->done) continue;
    if (!request->done_loop) {
      request->done(status);
      continue;
    }
    auto group = std::find_if(by_loop.begin(), by_loop.end(),
                              [&](const auto& g) { return g.first == request->done_loop; });
    if (group == by_loop.end()) group = by_loop.insert(by_loop.end(), {request->done_loop, {}});
    group->second.push_back(std::move(request->done));
  }
  for (auto& [loop, dones] : by_loop) {
    loop->Post([dones = std::move(dones), status]() {
      for (const auto& done : dones) done(status);
    });
  }
  batch->clear();
}

void BatchWriter::RecordLatency(uint64_t latency_us) {
  const auto* end = std::end(Store::kLatencyBucketsUs);
  const size_t bucket = std::lower_bound(std::begin(Store::kLatencyBucketsUs), end, latency_us) -
                        std::begin(Store::kLatencyBucketsUs);
  latency_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(latency_us, std::memory_order_relaxed);
}

StoreStats BatchWriter::Stats() const {
  StoreStats stats;
  stats.batches = batches_.load(std::memory_order_relaxed);
  stats.batch_writes = batch_writes_.load(std::memory_order_relaxed);
  stats.pending = pending_.load(std::memory_order_relaxed);
  stats.latency_sum_us = latency_sum_us_.load(std::memory_order_relaxed);
  stats.latency_buckets.resize(kBuckets);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    cumulative += latency_counts_[i].load(std::memory_order_relaxed);
    stats.latency_buckets[i] = cumulative;
  }
  stats.batch_size_buckets.resize(kSizeBuckets);
  cumulative = 0;
  for (size_t i = 0; i < kSizeBuckets; ++i) {
    cumulative += size_counts_[i].load(std::memory_order_relaxed);
    stats.batch_size_buckets[i] = cumulative;
  }
  return stats;
}

}  // namespace chatroomd::store
