// Private to the room component: the errors rooms answer with, worded once.
#pragma once

#include "chatroomd/common/error.h"

namespace chatroomd::room {

inline Error RoomNotFound() { return MakeError(ErrorCode::kRoomNotFound, "room does not exist"); }
inline Error StoreFailed() {
  return MakeError(ErrorCode::kInternal, "the store failed; try again");
}
inline Error HeldPollsFull() { return MakeError(ErrorCode::kOverloaded, "too many held polls", 1); }

}  // namespace chatroomd::room
