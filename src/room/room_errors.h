// Private to the room component: the errors rooms answer with, worded once.
#pragma once

#include <cstdint>
#include <string>

#include "chatroomd/common/error.h"

namespace chatroomd::room {

inline Error RoomNotFound() { return MakeError(ErrorCode::kRoomNotFound, "room does not exist"); }
inline Error StoreFailed() {
  return MakeError(ErrorCode::kInternal, "the store failed; try again");
}
// A kick or mute in force until `until_ms` (wall clock); the message says for how long.
inline Error KickedError(int64_t until_ms, int64_t now_ms) {
  return MakeError(ErrorCode::kKicked, "kicked from this room for another " +
                                           std::to_string((until_ms - now_ms + 999) / 1000) + " s");
}
inline Error MutedError(int64_t until_ms, int64_t now_ms) {
  return MakeError(ErrorCode::kMuted, "muted in this room for another " +
                                          std::to_string((until_ms - now_ms + 999) / 1000) + " s");
}
inline Error HeldPollsFull() { return MakeError(ErrorCode::kOverloaded, "too many held polls", 1); }

}  // namespace chatroomd::room
