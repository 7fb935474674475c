// Byte layouts of the store's keys and values (the table is in include/chatroomd/store/store.h),
// and the conversions between MessageRecord and the stored protobuf.
//
// Room ids never contain '\0' (common/ids.h), so every key of a room lies in
// [room '\0', room '\1'): no other room's keys fall inside that range, and bounded iterators
// over it never read a neighbour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chatroomd/common/error.h"
#include "chatroomd/store/store.h"

namespace chatroomd::store {

// Key in the messages and priority column families: room '\0' seq(8, big-endian), so that
// byte order is seq order within a room.
std::string MessageKey(std::string_view room, uint64_t seq);
// Bounds of every messages/priority key of `room`: [RoomKeysBegin, RoomKeysEnd).
std::string RoomKeysBegin(std::string_view room);
std::string RoomKeysEnd(std::string_view room);
// The seq of a messages/priority key of a room whose id is `room_size` bytes long.
std::optional<uint64_t> MessageKeySeq(std::string_view key, size_t room_size);

// Key in the dedup column family: room '\0' sender '\0' client_msg_id.
std::string DedupKey(std::string_view room, std::string_view sender,
                     std::string_view client_msg_id);

// Key in the counters column family: room '\0' kind period(4, big-endian).
std::string CounterKeyBytes(std::string_view room, CounterKey key);
// Hour counters are kept this long (only the current hour is ever read).
constexpr int64_t kHourCounterKeepMs = 48LL * 3600 * 1000;
// True when a counters key is past its keep time at `now_ms`: an hour older than
// kHourCounterKeepMs, a day older than `day_keep_days` (<= 0 keeps days forever). A key that
// does not parse is kept. The compaction filter and ReadCounters use this one rule.
bool IsCounterExpired(std::string_view key, int64_t now_ms, int64_t day_keep_days);

// Key in the moderation column family: room '\0' kind user.
std::string ModerationKey(std::string_view room, char kind, std::string_view user);
// The kind and user of a moderation key of a room whose id is `room_size` bytes long (the
// user views `key`).
struct ModerationKeyParts {
  char kind = 0;
  std::string_view user;
};
std::optional<ModerationKeyParts> ParseModerationKey(std::string_view key, size_t room_size);
// True when a moderation entry that runs until `until_ms` is no longer in force at `now_ms`.
// The writer (a lift), the compaction filter and LoadRoom use this one rule.
inline bool IsModerationOver(int64_t until_ms, int64_t now_ms) { return until_ms <= now_ms; }

// The 8-byte little-endian time (ms) that starts every messages, priority and dedup value, and
// is the whole of a moderation value (its until_ms).
constexpr size_t kTsSize = 8;
void AppendTs(std::string* out, int64_t ts_ms);
std::optional<int64_t> ReadTs(std::string_view value);

// True when an entry written at `ts_ms` is past a time-to-live of `ttl_ms` at `now_ms`, that
// is when it is strictly older than now - ttl. A ttl <= 0 keeps entries forever. The
// compaction filter and every read use this one rule, so they never disagree.
inline bool IsExpired(int64_t ts_ms, int64_t now_ms, int64_t ttl_ms) {
  return ttl_ms > 0 && ts_ms < now_ms - ttl_ms;
}

// messages value: ts(8, LE) + StoredMessage.
std::string EncodeMessageValue(int64_t ts_ms, const MessageRecord& message);
Result<MessageRecord> DecodeMessageValue(std::string_view value);

// dedup value: ts(8, LE) + varint seq.
std::string EncodeDedupValue(int64_t ts_ms, uint64_t seq);
struct DedupEntry {
  int64_t ts_ms = 0;
  uint64_t seq = 0;
};
std::optional<DedupEntry> DecodeDedupValue(std::string_view value);

}  // namespace chatroomd::store
