#include "store/store_reader.h"

#include <rocksdb/snapshot.h>

#include <algorithm>
#include <limits>
#include <memory>

#include "proto/chatroomd/store.pb.h"
#include "store/codec.h"
#include "store/status.h"

namespace chatroomd::store {
namespace {

// An iterator confined to [lower, upper) of one column family. RocksDB keeps pointers to the
// bound slices, so they live here next to the iterator.
class BoundedIterator {
 public:
  BoundedIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                  const rocksdb::ReadOptions& base, std::string lower, std::string upper)
      : lower_(std::move(lower)), upper_(std::move(upper)) {
    rocksdb::ReadOptions options = base;
    lower_slice_ = lower_;
    upper_slice_ = upper_;
    options.iterate_lower_bound = &lower_slice_;
    options.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(options, cf));
  }
  rocksdb::Iterator* operator->() const { return it_.get(); }

 private:
  std::string lower_;
  std::string upper_;
  rocksdb::Slice lower_slice_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

StoreReader::StoreReader(rocksdb::DB* db, const ColumnFamilies& cfs, Clock clock,
                         int64_t retention_ms, int64_t dedup_window_ms,
                         int64_t audience_retention_days)
    : db_(db),
      cfs_(cfs),
      clock_(std::move(clock)),
      retention_ms_(retention_ms),
      dedup_window_ms_(dedup_window_ms),
      audience_retention_days_(audience_retention_days) {}

Result<std::optional<StoreReader::Meta>> StoreReader::ReadMeta(const rocksdb::ReadOptions& options,
                                                               const std::string& room) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(options, cfs_.rooms, room, &value);
  if (s.IsNotFound()) return std::optional<Meta>();
  if (!s.ok()) return StoreError("read room", s);
  RoomMeta meta;
  if (!meta.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return CorruptError("room meta");
  }
  Meta out{meta.head_seq(), meta.created_ms(), std::nullopt};
  if (meta.has_priority_count()) out.priority_count = meta.priority_count();
  return std::optional<Meta>(out);
}

Result<std::vector<MessageRecord>> StoreReader::ReadMessages(const rocksdb::ReadOptions& options,
                                                             const std::string& room,
                                                             const std::vector<uint64_t>& seqs,
                                                             int64_t now_ms) const {
  std::vector<MessageRecord> out;
  if (seqs.empty()) return out;
  std::vector<std::string> keys;
  keys.reserve(seqs.size());
  for (uint64_t seq : seqs) keys.push_back(MessageKey(room, seq));
  std::vector<rocksdb::Slice> key_slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  // Ascending seqs are ascending keys: sorted_input spares RocksDB a sort.
  db_->MultiGet(options, cfs_.messages, keys.size(), key_slices.data(), values.data(),
                statuses.data(), /*sorted_input=*/true);
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    // A priority index entry and its message share one time, so a missing message can only be
    // one that expired between the two reads: skip it like any expired entry.
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return StoreError("read messages", statuses[i]);
    const std::string_view value = values[i].ToStringView();
    auto ts = ReadTs(value);
    if (!ts) return CorruptError("message value");
    if (IsExpired(*ts, now_ms, retention_ms_)) continue;
    auto record = DecodeMessageValue(value);
    if (!record.ok()) return record.take_error();
    out.push_back(std::move(record).value());
  }
  return out;
}

Result<RoomSnapshot> StoreReader::LoadRoom(const std::string& room, uint32_t window_size,
                                           uint32_t priority_size) const {
  rocksdb::ManagedSnapshot snapshot(db_);
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();

  RoomSnapshot out;
  const int64_t now_ms = clock_();
  // Read for a room that does not exist too: moderation records may be written without the
  // room's meta (a request with an empty room), and a room created after this load must not
  // come up without them.
  auto moderation = ReadModeration(options, room, now_ms);
  if (!moderation.ok()) return moderation.take_error();
  out.moderation = std::move(moderation).value();

  auto meta = ReadMeta(options, room);
  if (!meta.ok()) return meta.take_error();
  if (!meta.value()) return out;
  out.exists = true;
  out.head_seq = meta.value()->head_seq;
  out.created_ms = meta.value()->created_ms;
  if (meta.value()->priority_count) {
    out.priority_count = *meta.value()->priority_count;
  } else {
    auto counted = CountPriority(options, room);
    if (!counted.ok()) return counted.take_error();
    out.priority_count = counted.value();
  }

  {
    // Newest normal messages: walk messages backward, stepping over priority ones.
    BoundedIterator it(db_, cfs_.messages, options, RoomKeysBegin(room), RoomKeysEnd(room));
    uint64_t budget = uint64_t{window_size} + priority_size + 1 + kScanSlack;
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      const std::string_view value = it->value().ToStringView();
      auto ts = ReadTs(value);
      if (!ts) return CorruptError("message value");
      if (IsExpired(*ts, now_ms, retention_ms_)) break;
      auto seq = MessageKeySeq(it->key().ToStringView(), room.size());
      if (!seq) return CorruptError("message key");
      if (budget == 0) {
        out.evicted_normal_seq = *seq;  // conservative, see kScanSlack
        break;
      }
      --budget;
      auto record = DecodeMessageValue(value);
      if (!record.ok()) return record.take_error();
      if (record->priority) continue;
      if (out.normal.size() == window_size) {
        out.evicted_normal_seq = *seq;
        break;
      }
      out.normal.push_back(std::move(record).value());
    }
    if (!it->status().ok()) return StoreError("scan messages", it->status());
    std::reverse(out.normal.begin(), out.normal.end());
  }

  {
    // Newest priority seqs from the index, then their messages in one MultiGet.
    BoundedIterator it(db_, cfs_.priority, options, RoomKeysBegin(room), RoomKeysEnd(room));
    std::vector<uint64_t> seqs;
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      auto ts = ReadTs(it->value().ToStringView());
      if (!ts) return CorruptError("priority value");
      if (IsExpired(*ts, now_ms, retention_ms_)) break;
      auto seq = MessageKeySeq(it->key().ToStringView(), room.size());
      if (!seq) return CorruptError("priority key");
      if (seqs.size() == priority_size) {
        out.evicted_priority_seq = *seq;
        break;
      }
      seqs.push_back(*seq);
    }
    if (!it->status().ok()) return StoreError("scan priority", it->status());
    std::reverse(seqs.begin(), seqs.end());
    auto messages = ReadMessages(options, room, seqs, now_ms);
    if (!messages.ok()) return messages.take_error();
    out.priority = std::move(messages).value();
  }
  return out;
}

Result<std::vector<ModerationRecord>> StoreReader::ReadModeration(
    const rocksdb::ReadOptions& options, const std::string& room, int64_t now_ms) const {
  // Entries past their until_ms are skipped, not stopped at: they are in key (user) order, not
  // time order. The compaction filter keeps their number down.
  BoundedIterator it(db_, cfs_.moderation, options, RoomKeysBegin(room), RoomKeysEnd(room));
  std::vector<ModerationRecord> out;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto until_ms = ReadTs(it->value().ToStringView());
    if (!until_ms) return CorruptError("moderation value");
    if (IsModerationOver(*until_ms, now_ms)) continue;
    auto parts = ParseModerationKey(it->key().ToStringView(), room.size());
    if (!parts) return CorruptError("moderation key");
    out.push_back(ModerationRecord{room, parts->kind, std::string(parts->user), *until_ms});
  }
  if (!it->status().ok()) return StoreError("scan moderation", it->status());
  return out;
}

Result<HistoryPage> StoreReader::History(const std::string& room, std::optional<uint64_t> before,
                                         uint32_t limit) const {
  rocksdb::ManagedSnapshot snapshot(db_);
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();

  HistoryPage page;
  auto meta = ReadMeta(options, room);
  if (!meta.ok()) return meta.take_error();
  if (!meta.value()) return page;
  page.room_exists = true;
  const uint64_t head_seq = meta.value()->head_seq;
  const uint64_t end_seq =
      before.value_or(head_seq == std::numeric_limits<uint64_t>::max() ? head_seq : head_seq + 1);
  if (end_seq == 0) return page;
  const int64_t now_ms = clock_();

  BoundedIterator it(db_, cfs_.messages, options, RoomKeysBegin(room), MessageKey(room, end_seq));
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    const std::string_view value = it->value().ToStringView();
    auto ts = ReadTs(value);
    if (!ts) return CorruptError("message value");
    if (IsExpired(*ts, now_ms, retention_ms_)) break;
    if (page.messages.size() == limit) {
      // A retained older message exists: the next page continues below the oldest returned.
      page.next_before = page.messages.empty() ? end_seq : page.messages.back().seq;
      break;
    }
    auto record = DecodeMessageValue(value);
    if (!record.ok()) return record.take_error();
    page.messages.push_back(std::move(record).value());
  }
  if (!it->status().ok()) return StoreError("scan history", it->status());
  std::reverse(page.messages.begin(), page.messages.end());
  return page;
}

Result<std::optional<MessageRecord>> StoreReader::ReadMessage(const std::string& room,
                                                              uint64_t seq) const {
  using R = std::optional<MessageRecord>;
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cfs_.messages, MessageKey(room, seq), &value);
  if (s.IsNotFound()) return R();
  if (!s.ok()) return StoreError("read message", s);
  auto ts = ReadTs(value.ToStringView());
  if (!ts) return CorruptError("message value");
  if (IsExpired(*ts, clock_(), retention_ms_)) return R();
  auto record = DecodeMessageValue(value.ToStringView());
  if (!record.ok()) return record.take_error();
  return R(std::move(record).value());
}

Result<std::vector<MessageRecord>> StoreReader::PriorityAfter(const std::string& room,
                                                              uint64_t after,
                                                              uint32_t limit) const {
  if (limit == 0 || after == std::numeric_limits<uint64_t>::max()) {
    return std::vector<MessageRecord>();
  }
  rocksdb::ManagedSnapshot snapshot(db_);
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();
  const int64_t now_ms = clock_();

  // Forward, so expired entries (the oldest) come first and are stepped over, not stopped at.
  BoundedIterator it(db_, cfs_.priority, options, MessageKey(room, after + 1), RoomKeysEnd(room));
  std::vector<uint64_t> seqs;
  for (it->SeekToFirst(); it->Valid() && seqs.size() < limit; it->Next()) {
    auto ts = ReadTs(it->value().ToStringView());
    if (!ts) return CorruptError("priority value");
    if (IsExpired(*ts, now_ms, retention_ms_)) continue;
    auto seq = MessageKeySeq(it->key().ToStringView(), room.size());
    if (!seq) return CorruptError("priority key");
    seqs.push_back(*seq);
  }
  if (!it->status().ok()) return StoreError("scan priority", it->status());
  return ReadMessages(options, room, seqs, now_ms);
}

Result<std::optional<uint64_t>> StoreReader::LookupDedup(const std::string& room,
                                                         const std::string& sender,
                                                         const std::string& client_msg_id) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cfs_.dedup, DedupKey(room, sender, client_msg_id), &value);
  if (s.IsNotFound()) return std::optional<uint64_t>();
  if (!s.ok()) return StoreError("read dedup", s);
  auto entry = DecodeDedupValue(value.ToStringView());
  if (!entry) return CorruptError("dedup value");
  if (IsExpired(entry->ts_ms, clock_(), dedup_window_ms_)) return std::optional<uint64_t>();
  return std::optional<uint64_t>(entry->seq);
}

Result<uint64_t> StoreReader::CountPriority(const rocksdb::ReadOptions& options,
                                            const std::string& room) const {
  BoundedIterator it(db_, cfs_.priority, options, RoomKeysBegin(room), RoomKeysEnd(room));
  const int64_t now_ms = clock_();
  uint64_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    // Expired but not yet compacted away: as good as gone, as on every read.
    auto ts = ReadTs(it->value().ToStringView());
    if (ts && !IsExpired(*ts, now_ms, retention_ms_)) ++count;
  }
  if (!it->status().ok()) return StoreError("count priority", it->status());
  return count;
}

Result<std::vector<std::optional<std::string>>> StoreReader::ReadCounters(
    const std::string& room, const std::vector<CounterKey>& keys) const {
  std::vector<std::optional<std::string>> out(keys.size());
  if (keys.empty()) return out;
  std::vector<std::string> key_bytes;
  key_bytes.reserve(keys.size());
  for (const CounterKey& key : keys) key_bytes.push_back(CounterKeyBytes(room, key));
  std::vector<rocksdb::Slice> slices(key_bytes.begin(), key_bytes.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cfs_.counters, keys.size(), slices.data(), values.data(),
                statuses.data());
  const int64_t now_ms = clock_();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return StoreError("read counters", statuses[i]);
    // Past its keep time but not yet compacted away: as good as gone.
    if (IsCounterExpired(key_bytes[i], now_ms, audience_retention_days_)) continue;
    out[i] = values[i].ToString();
  }
  return out;
}

}  // namespace chatroomd::store
