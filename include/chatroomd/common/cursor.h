// The opaque poll cursor: how far a client has read in a room's normal stream and in its
// priority stream. Encoded as URL-safe base64 (no padding) of
//   [version 0x01][varint normal][varint priority][2-byte check]
// where the check is keyed by the room, so a cursor from another room, a truncated or an
// edited cursor fails to decode (bad_cursor). The encoding is canonical: one string per value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chatroomd/common/error.h"

namespace chatroomd {

struct Cursor {
  // Every normal message with seq <= normal has been read (or skipped under a gap).
  uint64_t normal = 0;
  // Every priority message with seq <= priority has been read.
  uint64_t priority = 0;

  friend bool operator==(const Cursor&, const Cursor&) = default;
};

// Longest encoded cursor; the API promises at most 128 characters.
inline constexpr size_t kMaxCursorChars = 128;

std::string EncodeCursor(std::string_view room_id, Cursor cursor);
// bad_cursor for anything EncodeCursor did not produce for this room.
Result<Cursor> DecodeCursor(std::string_view room_id, std::string_view text);

}  // namespace chatroomd
