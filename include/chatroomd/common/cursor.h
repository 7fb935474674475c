// The opaque poll cursor: how far a client has read in a room's normal stream and in its
// priority stream, and, when the answer that issued it told the client to wait (next_poll_ms of
// an adaptive tier), the wall-clock time before which the next poll is held ("not before").
// Encoded as URL-safe base64 (no padding) of
//   [version 0x01][varint normal][varint priority][2-byte check]                  no time
//   [version 0x02][varint normal][varint priority][varint not_before_ms][2-byte check]
// where the check is keyed by the room, so a cursor from another room, a truncated or an
// edited cursor fails to decode (bad_cursor). The encoding is canonical: one string per value
// (a version 2 cursor never carries a time of 0; that is version 1). The time is not part of
// `Cursor` (whose equality groups waiters): it travels beside it.
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

// `not_before_ms` (ms since the Unix epoch): > 0 gives a version 2 cursor carrying it; 0 (or
// less) a version 1 cursor, byte for byte what it was before times existed.
std::string EncodeCursor(std::string_view room_id, Cursor cursor, int64_t not_before_ms = 0);
// bad_cursor for anything EncodeCursor did not produce for this room. `not_before_ms`, when
// given, receives the cursor's time (0 for a version 1 cursor).
Result<Cursor> DecodeCursor(std::string_view room_id, std::string_view text,
                            int64_t* not_before_ms = nullptr);

}  // namespace chatroomd
