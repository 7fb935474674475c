#include "chatroomd/common/cursor.h"

#include <xxhash.h>

#include <array>
#include <limits>

#include "chatroomd/common/ids.h"

namespace chatroomd {
namespace {

constexpr uint8_t kVersion = 1;      // [normal][priority]
constexpr uint8_t kVersionTime = 2;  // [normal][priority][not_before_ms]
// The version byte, three 10-byte varints and the check; in base64 without padding.
constexpr size_t kMaxRaw = 1 + 3 * 10 + 2;
constexpr size_t kMaxText = (kMaxRaw * 4 + 2) / 3;
static_assert(kMaxText <= kMaxCursorChars);
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

uint16_t Check(std::string_view room_id, const uint8_t* data, size_t len) {
  return static_cast<uint16_t>(XXH3_64bits_withSeed(data, len, RoomHash(room_id)));
}

void PutVarint(uint64_t v, uint8_t* out, size_t& len) {
  while (v >= 0x80) {
    out[len++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  out[len++] = static_cast<uint8_t>(v);
}

// Strict: rejects overlong encodings so that each value has exactly one form.
bool GetVarint(const uint8_t* data, size_t len, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= len) return false;
    uint8_t b = data[pos++];
    if (shift == 63 && b > 1) return false;
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return b != 0 || shift == 0;
  }
  return false;
}

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

Error Bad() { return MakeError(ErrorCode::kBadCursor, "cursor is not one this room issued"); }

}  // namespace

std::string EncodeCursor(std::string_view room_id, Cursor cursor, int64_t not_before_ms) {
  std::array<uint8_t, kMaxRaw> raw;
  size_t len = 0;
  raw[len++] = not_before_ms > 0 ? kVersionTime : kVersion;
  PutVarint(cursor.normal, raw.data(), len);
  PutVarint(cursor.priority, raw.data(), len);
  if (not_before_ms > 0) PutVarint(static_cast<uint64_t>(not_before_ms), raw.data(), len);
  uint16_t check = Check(room_id, raw.data(), len);
  raw[len++] = static_cast<uint8_t>(check);
  raw[len++] = static_cast<uint8_t>(check >> 8);

  std::string out;
  out.reserve((len * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (raw[i] << 16) | (raw[i + 1] << 8) | raw[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = raw[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (len - i == 2) {
    uint32_t v = (raw[i] << 16) | (raw[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<Cursor> DecodeCursor(std::string_view room_id, std::string_view text,
                            int64_t* not_before_ms) {
  if (text.empty() || text.size() > kMaxText || text.size() % 4 == 1) return Bad();
  std::array<uint8_t, kMaxRaw> raw;
  size_t len = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int d = DecodeChar(c);
    if (d < 0) return Bad();
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw[len++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  // Leftover bits must be zero, or two strings would decode to the same bytes.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return Bad();
  if (len < 5 || (raw[0] != kVersion && raw[0] != kVersionTime)) return Bad();
  size_t body = len - 2;
  uint16_t check = static_cast<uint16_t>(raw[body] | (raw[body + 1] << 8));
  if (check != Check(room_id, raw.data(), body)) return Bad();
  size_t pos = 1;
  Cursor cursor;
  if (!GetVarint(raw.data(), body, pos, cursor.normal)) return Bad();
  if (!GetVarint(raw.data(), body, pos, cursor.priority)) return Bad();
  uint64_t time = 0;
  if (raw[0] == kVersionTime) {
    // 0 is written as version 1; a time past int64 was never written.
    if (!GetVarint(raw.data(), body, pos, time)) return Bad();
    if (time == 0 || time > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Bad();
    }
  }
  if (pos != body) return Bad();
  if (not_before_ms) *not_before_ms = static_cast<int64_t>(time);
  return cursor;
}

}  // namespace chatroomd
