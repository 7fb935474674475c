// The durable store: one RocksDB per process.
//
// Column families:
//   messages  key = room '\0' seq(8, big-endian)   value = ts_ms(8, LE) + store.StoredMessage
//   priority  key = room '\0' seq(8, big-endian)   value = ts_ms(8, LE)   (index of priority seqs)
//   rooms     key = room                           value = store.RoomMeta
//   dedup     key = room '\0' sender '\0' client_msg_id   value = ts_ms(8, LE) + varint seq
//   counters  key = room '\0' kind(1) period(4, big-endian)  value = store.AudienceCounter
//             (kind 'd': a UTC day, 'h': an hour; presence/room_audience.h)
//   moderation key = room '\0' kind(1) user          value = until_ms(8, LE)
//             (kind 'm': muted, 'k': kicked; an entry is in force while until_ms > now)
// Retention: a compaction filter drops messages/priority entries older than the retention and
// dedup entries older than the dedup window, moderation entries past their until_ms; reads filter
// by the same clock, so an expired message is never returned even before compaction has removed it.
//
// Threads: writes go through Submit() into a lock-free queue drained by one writer thread that
// folds everything waiting into one WriteBatch (group commit) and calls the completion of each
// request after the batch is durable. Reads run on a small pool of reader threads. No method
// blocks its caller on I/O. Every call names the loop its completion runs on (posted there):
// a room passes its home loop and continues right there; a null loop runs the completion on
// the store's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chatroomd/common/error.h"
#include "chatroomd/common/loop.h"

namespace chatroomd::config {
class StoreConfig;
}  // namespace chatroomd::config

namespace chatroomd::store {

struct StoreOptions {
  std::string data_dir;
  bool sync_wal = true;
  uint32_t max_batch = 4096;
  // An entry expires when it is strictly older than now - ttl; a ttl <= 0 keeps it forever.
  int64_t retention_ms = 72LL * 3600 * 1000;
  int64_t dedup_window_ms = 24LL * 3600 * 1000;
  uint32_t reader_threads = 2;
  uint32_t block_cache_mb = 64;
  uint32_t write_buffer_mb = 64;  // all memtables together
  uint32_t max_wal_mb = 128;      // all WAL files together
  // Daily audience counters are kept this many days (hourly ones two days); <= 0: forever.
  int64_t audience_retention_days = 400;
  // The clock used for retention (ms since the Unix epoch). Tests replace it.
  std::function<int64_t()> now_ms;
};

// The options the config's `store { ... }` section asks for.
StoreOptions OptionsFromConfig(const config::StoreConfig& config);

// One message as stored and as read back.
struct MessageRecord {
  uint64_t seq = 0;
  bool priority = false;
  std::string sender;
  std::string type;
  std::string body;
  int64_t ts_ms = 0;
  std::optional<std::string> client_msg_id;
};

// One period of a room's audience counters (presence::RoomAudience::Record) in the counters
// column family.
struct CounterKey {
  char kind = 'd';
  uint32_t period = 0;
};
struct CounterRecord {
  std::string room;
  CounterKey key;
  std::string value;
};

// A room's moderation entry (room/moderation.h): `user` is muted or kicked until `until_ms`
// (wall clock, ms since the Unix epoch). Written with until_ms <= the store's clock, it lifts
// the entry (deletes it).
struct ModerationRecord {
  static constexpr char kMuted = 'm';
  static constexpr char kKicked = 'k';
  std::string room;
  char kind = kMuted;
  std::string user;
  int64_t until_ms = 0;
};

// One durable change to a room, applied atomically with everything else in its batch.
struct WriteRequest {
  std::string room;
  // RoomMeta.head_seq after this write. A request with no message (room creation) writes
  // only the room's meta.
  uint64_t head_seq = 0;
  // 0 keeps the room's stored created_ms (or an earlier one in the same batch).
  int64_t created_ms = 0;
  // RoomMeta.priority_count after this write.
  uint64_t priority_count = 0;
  // Stored with its ts_ms as the retention time (the store's clock when ts_ms <= 0).
  std::optional<MessageRecord> message;
  // Audience counters and moderation entries written in the same batch (of any rooms). A
  // request whose `room` is empty writes only these.
  std::vector<CounterRecord> counters;
  std::vector<ModerationRecord> moderation;
  // A message of `room` removed (from messages and the priority index) in the same batch as
  // `message`, the notice of its retraction. Removing a seq that is not stored is no error.
  std::optional<uint64_t> retract_seq;
  // Called once the batch holding this request is durable, or failed: posted to `done_loop`,
  // or on the writer thread when it is null.
  std::function<void(Status)> done;
  Loop* done_loop = nullptr;
};

// What a room needs to come back into memory after a restart.
struct RoomSnapshot {
  bool exists = false;
  uint64_t head_seq = 0;
  int64_t created_ms = 0;
  // Priority messages the room ever accepted (for a room stored before the count was kept:
  // those still retained).
  uint64_t priority_count = 0;
  // The newest normal messages (at most the window size), ascending seq.
  std::vector<MessageRecord> normal;
  // The largest seq of a normal message older than `normal` (still retained), 0 if none.
  uint64_t evicted_normal_seq = 0;
  // The newest priority messages (at most the priority list size), ascending seq.
  std::vector<MessageRecord> priority;
  // The largest seq of a priority message older than `priority` (still retained), 0 if none.
  uint64_t evicted_priority_seq = 0;
  // The room's moderation entries still in force (until_ms > the store's clock), any order.
  std::vector<ModerationRecord> moderation;
};

struct HistoryPage {
  bool room_exists = false;
  // Ascending seq, all < before.
  std::vector<MessageRecord> messages;
  // Seq of the oldest message returned when older ones remain; absent at the start.
  std::optional<uint64_t> next_before;
};

// Store statistics for /metrics (read from any thread).
struct StoreStats {
  uint64_t batches = 0;
  uint64_t batch_writes = 0;  // requests written, summed over batches
  uint64_t pending = 0;       // requests submitted and not yet completed
  // Batch commit latency (building the WriteBatch through the durable write), cumulative like
  // a Prometheus histogram: latency_buckets[i] = batches with latency <= kLatencyBucketsUs[i];
  // the +Inf bucket is `batches`. One entry per element of kLatencyBucketsUs.
  std::vector<uint64_t> latency_buckets;
  uint64_t latency_sum_us = 0;
  // Requests per batch, cumulative the same way over kBatchSizeBuckets; the sum is
  // batch_writes and the count is batches.
  std::vector<uint64_t> batch_size_buckets;
};

// Runs `done(result)` on `loop` (posted there), or right here when `loop` is null.
template <typename T>
void Complete(Loop* loop, std::function<void(T)> done, T result) {
  if (!loop) return done(std::move(result));
  loop->Post(
      [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

class Store {
 public:
  // Commit time: tens of microseconds without sync_wal, a disk's fsync (ms) with it, up to
  // seconds on a disk that stalls.
  static constexpr uint64_t kLatencyBucketsUs[] = {25,     50,     100,     250,    500,   1000,
                                                   2500,   5000,   10000,   25000,  50000, 100000,
                                                   250000, 500000, 1000000, 2500000};

  // Writes per commit: 1 when idle, up to store.max_batch (default 4096) under load.
  static constexpr uint64_t kBatchSizeBuckets[] = {1,   2,   4,   8,    16,   32,    64,
                                                   128, 256, 512, 1024, 4096, 16384, 65536};

  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  // Thread-safe, never blocks on I/O. Every call below made after Close() has begun
  // completes at once with kInternal "store: closed" (on `done_loop`, or on the caller's
  // thread when it is null).
  virtual void Submit(std::unique_ptr<WriteRequest> request) = 0;

  // Reads run on a reader thread; `done` is posted to `done_loop`, or runs on the reader
  // thread when it is null.
  virtual void LoadRoom(std::string room, uint32_t window_size, uint32_t priority_size,
                        Loop* done_loop, std::function<void(Result<RoomSnapshot>)> done) = 0;
  // Messages (normal and priority) with seq < before (nullopt: the head), newest `limit`,
  // returned ascending.
  virtual void History(std::string room, std::optional<uint64_t> before, uint32_t limit,
                       Loop* done_loop, std::function<void(Result<HistoryPage>)> done) = 0;
  // The message `seq` of `room`; nullopt when it is not stored (never was, retracted, or past
  // the retention).
  virtual void ReadMessage(std::string room, uint64_t seq, Loop* done_loop,
                           std::function<void(Result<std::optional<MessageRecord>>)> done) = 0;
  // Priority messages with seq > after, oldest first, at most `limit`.
  virtual void PriorityAfter(std::string room, uint64_t after, uint32_t limit, Loop* done_loop,
                             std::function<void(Result<std::vector<MessageRecord>>)> done) = 0;
  // The seq stored for (room, sender, client_msg_id) within the dedup window, if any.
  virtual void LookupDedup(std::string room, std::string sender, std::string client_msg_id,
                           Loop* done_loop,
                           std::function<void(Result<std::optional<uint64_t>>)> done) = 0;

  // The stored counters of `room` for these periods, in the same order (nullopt: none).
  virtual void ReadCounters(
      std::string room, std::vector<CounterKey> keys, Loop* done_loop,
      std::function<void(Result<std::vector<std::optional<std::string>>>)> done) = 0;
  virtual StoreStats Stats() const = 0;
  // The store's metric families in Prometheus text format (for /metrics).
  std::string RenderMetrics() const;

  // Finishes every submitted write, stops the threads, flushes and closes the DB.
  // Blocks; call once, from outside the store's threads.
  virtual void Close() = 0;
};

}  // namespace chatroomd::store
