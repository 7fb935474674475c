// The column families of the store's one RocksDB and the clock that retention is judged by,
// shared by the writer, the readers and the compaction filters.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>

namespace chatroomd::store {

inline constexpr char kMessagesCf[] = "messages";
inline constexpr char kPriorityCf[] = "priority";
inline constexpr char kRoomsCf[] = "rooms";
inline constexpr char kDedupCf[] = "dedup";
inline constexpr char kCountersCf[] = "counters";
inline constexpr char kModerationCf[] = "moderation";

// Borrowed handles; the store owns them and destroys them before closing the DB.
struct ColumnFamilies {
  rocksdb::ColumnFamilyHandle* messages = nullptr;
  rocksdb::ColumnFamilyHandle* priority = nullptr;
  rocksdb::ColumnFamilyHandle* rooms = nullptr;
  rocksdb::ColumnFamilyHandle* dedup = nullptr;
  rocksdb::ColumnFamilyHandle* counters = nullptr;
  rocksdb::ColumnFamilyHandle* moderation = nullptr;
};

// Milliseconds since the Unix epoch. Called from writer, reader and RocksDB compaction
// threads, so it must be thread-safe.
using Clock = std::function<int64_t()>;

}  // namespace chatroomd::store
