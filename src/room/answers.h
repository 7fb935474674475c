// Private to the room component: the answers a room (and an edge, for the room) sends, built
// from the room's log. Every function builds a complete HTTP response once; callers share it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/common/wire.h"
#include "chatroomd/room/room_log.h"

namespace chatroomd::room {

// The cursor an answer carries: with a "not before" of now + next_poll_ms when the answer tells
// the client to wait (adaptive tiers: a poll that comes sooner is held until then), else the
// plain cursor of before tiers.
std::string AnswerCursor(std::string_view room, Cursor cursor, int32_t next_poll_ms);

// 200 {seq, duplicate} for a send.
WirePtr SendAnswer(uint64_t seq, bool duplicate, BodyFormat format);
// A poll that timed out (or was let go): no messages, the cursor it was held at.
WirePtr EmptyPollAnswer(std::string_view room, Cursor cursor, int64_t online, int32_t next_poll_ms,
                        BodyFormat format);
// A poll's answer from `cursor`, read from `log` now, carrying `online` and `next_poll_ms`.
WirePtr ReadAnswer(const RoomLog& log, std::string_view room, Cursor cursor, uint32_t limit,
                   BodyFormat format, int64_t online, int32_t next_poll_ms);

// Poll answers for (cursor, limit, format), each read once per wake of the room: waiters with
// the same cursor, limit and format get the very same bytes. Lives for one wake on the room's
// loop; borrows the room's log and id.
class AnswerCache {
 public:
  AnswerCache(const RoomLog& log, std::string_view room, int64_t online, int32_t next_poll_ms)
      : log_(log), room_(room), online_(online), next_poll_ms_(next_poll_ms) {}
  WirePtr Get(Cursor cursor, uint32_t limit, BodyFormat format);
  int64_t online() const { return online_; }

 private:
  struct Entry {
    Cursor cursor;
    uint32_t limit;
    BodyFormat format;
    WirePtr response;
  };
  static constexpr size_t kMaxEntries = 64;
  const RoomLog& log_;
  std::string_view room_;
  int64_t online_;
  int32_t next_poll_ms_;
  std::vector<Entry> entries_;
};

}  // namespace chatroomd::room
