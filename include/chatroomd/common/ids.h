// Identifier rules from docs/api.md, and the room hash that routes a room to its sect.
#pragma once

#include <cstdint>
#include <string_view>

namespace chatroomd {

// [A-Za-z0-9_.:-]{1,128}
bool IsValidRoomId(std::string_view id);
// [A-Za-z0-9_.:@-]{1,64}
bool IsValidUserId(std::string_view id);
// [a-z0-9_.-]{1,32}
bool IsValidMessageType(std::string_view type);
// The type of the notice a room appends when a message is retracted (its body: the seq).
// Reserved: no client may send a message of this type.
inline constexpr std::string_view kRetractType = "retract";
// Well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool IsValidUtf8(std::string_view text);

// The stable 64-bit hash of a room id that sect ranges are written against:
// XXH3_64bits with seed 0 over the id's bytes. Never changes across versions.
uint64_t RoomHash(std::string_view room_id);
// The 64-bit id a user is counted by (online tables, unique viewers): XXH3_64bits with its own
// seed over the id's bytes, so that it is unrelated to room hashes. Stored (unique-viewer
// counters persist it): never changes across versions.
uint64_t UserHash(std::string_view user_id);

}  // namespace chatroomd
