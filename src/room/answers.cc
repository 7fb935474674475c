#include "room/answers.h"

#include <string>

#include "chatroomd/room/message.h"
#include "proto/chatroomd/api.pb.h"

namespace chatroomd::room {

std::string AnswerCursor(std::string_view room, Cursor cursor, int32_t next_poll_ms) {
  return EncodeCursor(room, cursor, next_poll_ms > 0 ? WallNowMs() + next_poll_ms : 0);
}

WirePtr SendAnswer(uint64_t seq, bool duplicate, BodyFormat format) {
  if (format == BodyFormat::kProtobuf) {
    api::SendResponse r;
    r.set_seq(seq);
    r.set_duplicate(duplicate);
    return MakeWire(200, "application/x-protobuf", r.SerializeAsString());
  }
  std::string body = "{\"seq\":\"" + std::to_string(seq) + "\",\"duplicate\":";
  body += duplicate ? "true}" : "false}";
  return MakeWire(200, "application/json", std::move(body));
}

WirePtr EmptyPollAnswer(std::string_view room, Cursor cursor, int64_t online, int32_t next_poll_ms,
                        BodyFormat format) {
  std::vector<const EncodedMessage*> none;
  ResponseFields f;
  f.room = room;
  f.cursor = AnswerCursor(room, cursor, next_poll_ms);
  f.messages = &none;
  f.online = online;
  f.next_poll_ms = next_poll_ms;
  return BuildMessagesResponse(f, format);
}

WirePtr ReadAnswer(const RoomLog& log, std::string_view room, Cursor cursor, uint32_t limit,
                   BodyFormat format, int64_t online, int32_t next_poll_ms) {
  ReadResult r = log.Read(cursor, limit);
  ResponseFields f;
  f.room = room;
  f.cursor = AnswerCursor(room, r.next, next_poll_ms);
  f.messages = &r.messages;
  f.gap = r.gap;
  f.online = online;
  f.next_poll_ms = next_poll_ms;
  return BuildMessagesResponse(f, format);
}

WirePtr AnswerCache::Get(Cursor cursor, uint32_t limit, BodyFormat format) {
  for (const auto& e : entries_) {
    if (e.cursor == cursor && e.limit == limit && e.format == format) return e.response;
  }
  WirePtr response = ReadAnswer(log_, room_, cursor, limit, format, online_, next_poll_ms_);
  if (entries_.size() < kMaxEntries) entries_.push_back({cursor, limit, format, response});
  return response;
}

}  // namespace chatroomd::room
