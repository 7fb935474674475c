// The store's read queries, run synchronously on whichever reader thread calls them.
//
// Stateless apart from borrowed handles: any number of threads may call it at once. Each
// query that touches more than one column family reads from one snapshot, so a room's meta and
// its messages always agree (a batch writes both atomically).
//
// Expiry: an entry is skipped when IsExpired(its ts) by the store's clock. Within a room, seqs
// and times are assigned together on the room's one loop, so time grows with seq: walking
// backward, the first expired entry marks the retention horizon and the walk stops there.
// That bounds a walk over an expired tail that compaction has not removed yet.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chatroomd/common/error.h"
#include "chatroomd/store/store.h"
#include "store/column_families.h"

namespace chatroomd::store {

class StoreReader {
 public:
  // LoadRoom scans at most window + priority + 1 + kScanSlack messages entries backward.
  // Priority messages sit in the messages column family among the normal ones and are skipped
  // there; the slack absorbs a burst of them. A room with more interleaved priority messages
  // than that gets a shorter window and a conservative evicted_normal_seq: the seq of the next
  // unread (retained) entry, which is >= the true value, so the room still knows older
  // messages exist and sends readers to History.
  static constexpr uint32_t kScanSlack = 256;

  StoreReader(rocksdb::DB* db, const ColumnFamilies& cfs, Clock clock, int64_t retention_ms,
              int64_t dedup_window_ms, int64_t audience_retention_days = 0);

  Result<RoomSnapshot> LoadRoom(const std::string& room, uint32_t window_size,
                                uint32_t priority_size) const;
  Result<HistoryPage> History(const std::string& room, std::optional<uint64_t> before,
                              uint32_t limit) const;
  Result<std::optional<MessageRecord>> ReadMessage(const std::string& room, uint64_t seq) const;
  Result<std::vector<MessageRecord>> PriorityAfter(const std::string& room, uint64_t after,
                                                   uint32_t limit) const;
  Result<std::optional<uint64_t>> LookupDedup(const std::string& room, const std::string& sender,
                                              const std::string& client_msg_id) const;

  Result<std::vector<std::optional<std::string>>> ReadCounters(
      const std::string& room, const std::vector<CounterKey>& keys) const;

 private:
  struct Meta {
    uint64_t head_seq = 0;
    int64_t created_ms = 0;
    std::optional<uint64_t> priority_count;
  };
  // Retained priority messages of a room (for a room stored before the count was kept).
  Result<uint64_t> CountPriority(const rocksdb::ReadOptions& options,
                                 const std::string& room) const;
  Result<std::optional<Meta>> ReadMeta(const rocksdb::ReadOptions& options,
                                       const std::string& room) const;
  // The room's moderation entries still in force, scanned from the snapshot of `options`.
  Result<std::vector<ModerationRecord>> ReadModeration(const rocksdb::ReadOptions& options,
                                                       const std::string& room,
                                                       int64_t now_ms) const;
  // The messages with these seqs (ascending), skipping any missing or expired.
  Result<std::vector<MessageRecord>> ReadMessages(const rocksdb::ReadOptions& options,
                                                  const std::string& room,
                                                  const std::vector<uint64_t>& seqs,
                                                  int64_t now_ms) const;

  rocksdb::DB* const db_;
  const ColumnFamilies cfs_;
  const Clock clock_;
  const int64_t retention_ms_;
  const int64_t dedup_window_ms_;
  const int64_t audience_retention_days_;
};

}  // namespace chatroomd::store
