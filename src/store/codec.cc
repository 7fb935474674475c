#include "store/codec.h"

#include "proto/chatroomd/store.pb.h"

namespace chatroomd::store {
namespace {

constexpr size_t kSeqSize = 8;

void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t ReadBigEndian64(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

std::string MessageKey(std::string_view room, uint64_t seq) {
  std::string key;
  key.reserve(room.size() + 1 + kSeqSize);
  key.append(room);
  key.push_back('\0');
  AppendBigEndian64(&key, seq);
  return key;
}

std::string RoomKeysBegin(std::string_view room) {
  std::string key(room);
  key.push_back('\0');
  return key;
}

std::string RoomKeysEnd(std::string_view room) {
  std::string key(room);
  key.push_back('\1');
  return key;
}

std::optional<uint64_t> MessageKeySeq(std::string_view key, size_t room_size) {
  if (key.size() != room_size + 1 + kSeqSize || key[room_size] != '\0') return std::nullopt;
  return ReadBigEndian64(key.data() + room_size + 1);
}

std::string DedupKey(std::string_view room, std::string_view sender,
                     std::string_view client_msg_id) {
  std::string key;
  key.reserve(room.size() + sender.size() + client_msg_id.size() + 2);
  key.append(room);
  key.push_back('\0');
  key.append(sender);
  key.push_back('\0');
  key.append(client_msg_id);
  return key;
}

std::string ModerationKey(std::string_view room, char kind, std::string_view user) {
  std::string key;
  key.reserve(room.size() + 2 + user.size());
  key.append(room);
  key.push_back('\0');
  key.push_back(kind);
  key.append(user);
  return key;
}

std::optional<ModerationKeyParts> ParseModerationKey(std::string_view key, size_t room_size) {
  if (key.size() < room_size + 2 || key[room_size] != '\0') return std::nullopt;
  return ModerationKeyParts{key[room_size + 1], key.substr(room_size + 2)};
}

void AppendTs(std::string* out, int64_t ts_ms) {
  auto v = static_cast<uint64_t>(ts_ms);
  for (size_t i = 0; i < kTsSize; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

std::optional<int64_t> ReadTs(std::string_view value) {
  if (value.size() < kTsSize) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < kTsSize; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(value[i])) << (8 * i);
  }
  return static_cast<int64_t>(v);
}

std::string EncodeMessageValue(int64_t ts_ms, const MessageRecord& message) {
  StoredMessage stored;
  stored.set_seq(message.seq);
  stored.set_priority(message.priority);
  stored.set_sender(message.sender);
  stored.set_type(message.type);
  stored.set_body(message.body);
  stored.set_ts_ms(ts_ms);
  if (message.client_msg_id) stored.set_client_msg_id(*message.client_msg_id);
  std::string value;
  value.reserve(kTsSize + stored.ByteSizeLong());
  AppendTs(&value, ts_ms);
  // Proto3 with no required fields: serialization cannot fail below 2 GiB.
  stored.AppendToString(&value);
  return value;
}

Result<MessageRecord> DecodeMessageValue(std::string_view value) {
  StoredMessage stored;
  if (value.size() < kTsSize ||
      !stored.ParseFromArray(value.data() + kTsSize, static_cast<int>(value.size() - kTsSize))) {
    return MakeError(ErrorCode::kInternal, "store: corrupt message value");
  }
  MessageRecord record;
  record.seq = stored.seq();
  record.priority = stored.priority();
  record.sender = std::move(*stored.mutable_sender());
  record.type = std::move(*stored.mutable_type());
  record.body = std::move(*stored.mutable_body());
  record.ts_ms = stored.ts_ms();
  if (stored.has_client_msg_id()) record.client_msg_id = std::move(*stored.mutable_client_msg_id());
  return record;
}

std::string EncodeDedupValue(int64_t ts_ms, uint64_t seq) {
  std::string value;
  value.reserve(kTsSize + 10);
  AppendTs(&value, ts_ms);
  while (seq >= 0x80) {
    value.push_back(static_cast<char>((seq & 0x7f) | 0x80));
    seq >>= 7;
  }
  value.push_back(static_cast<char>(seq));
  return value;
}

std::optional<DedupEntry> DecodeDedupValue(std::string_view value) {
  auto ts = ReadTs(value);
  if (!ts) return std::nullopt;
  uint64_t seq = 0;
  for (size_t i = kTsSize, shift = 0; i < value.size() && shift < 64; ++i, shift += 7) {
    auto byte = static_cast<unsigned char>(value[i]);
    seq |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (i + 1 != value.size()) return std::nullopt;  // trailing bytes: not our encoding
      return DedupEntry{*ts, seq};
    }
  }
  return std::nullopt;  // truncated varint
}

std::string CounterKeyBytes(std::string_view room, CounterKey key) {
  std::string out;
  out.reserve(room.size() + 6);
  out.append(room);
  out.push_back('\0');
  out.push_back(key.kind);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(key.period >> shift));
  return out;
}

bool IsCounterExpired(std::string_view key, int64_t now_ms, int64_t day_keep_days) {
  if (key.size() < 6 || key[key.size() - 6] != '\0') return false;
  const char kind = key[key.size() - 5];
  uint32_t period = 0;
  for (size_t i = key.size() - 4; i < key.size(); ++i) {
    period = (period << 8) | static_cast<uint8_t>(key[i]);
  }
  constexpr int64_t kHourMs = 3600LL * 1000;
  if (kind == 'h') return (int64_t{period} + 1) * kHourMs + kHourCounterKeepMs < now_ms;
  if (kind == 'd' && day_keep_days > 0) {
    return (int64_t{period} + 1 + day_keep_days) * 24 * kHourMs < now_ms;
  }
  return false;
}

}  // namespace chatroomd::store
