// A message as the room keeps it in memory: encoded once, when it becomes visible, in both
// wire formats, so that every poll response is a concatenation of ready bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chatroomd/common/wire.h"
#include "chatroomd/store/store.h"

namespace chatroomd::room {

struct EncodedMessage {
  uint64_t seq = 0;
  bool priority = false;
  int64_t accepted_ns = 0;  // steady clock when the room accepted it (0: loaded from store)
  std::string json;         // the api.Message JSON object
  std::string proto;        // the api.Message binary encoding
};

using MessagePtr = std::shared_ptr<const EncodedMessage>;

MessagePtr EncodeMessage(const store::MessageRecord& record, int64_t accepted_ns);

// What a join or poll answers with; the body is built from pre-encoded messages.
struct ResponseFields {
  std::string_view room;
  std::string cursor;
  const std::vector<const EncodedMessage*>* messages = nullptr;
  bool is_poll = true;  // polls carry `gap`, joins do not
  bool gap = false;
  int64_t online = 0;
  int32_t next_poll_ms = 0;
};

// The complete HTTP response (200) for a join or poll.
WirePtr BuildMessagesResponse(const ResponseFields& fields, BodyFormat format);
// The complete HTTP response (200) for a page of history.
WirePtr BuildHistoryResponse(const store::HistoryPage& page, BodyFormat format);

}  // namespace chatroomd::room
