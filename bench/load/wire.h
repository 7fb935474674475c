// Parent <-> worker control messages over a socketpair (framed by SendFrame/ReadFrame). Both
// ends are the same binary, so the payloads are plain structs.
#pragma once

#include <cstdint>

namespace crload {

enum MsgType : uint32_t {
  // worker -> parent
  kMsgReady = 1,       // ReadyMsg: every poller has its first poll sent (or has failed setup)
  kMsgDone = 2,        // every poller has every published message of its room
  kMsgFinal = 3,       // FinalStats followed by the histogram
  kMsgPublishAck = 4,  // kMsgPublishStart seen
  kMsgStaying = 5,     // uint32_t staying[rooms]: after kMsgLeave, this worker's set-up pollers
                       // of each room that did not leave (what the room's online count must be)
  // parent -> worker
  kMsgPublishStart = 10,  // no payload: answers from now on are deliveries, not early answers;
                          // the parent publishes only once every worker has acknowledged
  kMsgPublished = 11,     // uint32_t published[rooms]: what each room got; drain starts
  kMsgStop = 12,          // no payload: send kMsgFinal and exit
  kMsgLeave = 13,         // no payload: the pollers chosen by --leave-fraction leave (after the
                          // drain); then kMsgStaying
};

struct ReadyMsg {
  int64_t all_sent_ns = 0;  // when the last first poll was written
  uint32_t ok = 0;          // pollers holding a poll
  uint32_t failed = 0;      // pollers that could not be set up
  uint64_t errors = 0;
};

struct FinalStats {
  uint64_t pollers_ok = 0;
  uint64_t failed = 0;
  uint64_t deliveries = 0;  // unique (poller, pubseq) received
  uint64_t expected = 0;    // sum over set-up pollers of published[room]
  uint64_t duplicated = 0;
  uint64_t skipped_gap = 0;
  uint64_t lost = 0;
  uint64_t responses = 0;      // poll answers that carried >= 1 message
  uint64_t requests = 0;       // polls sent after the publish phase started
  uint64_t empty_answers = 0;  // poll answers without messages (timeouts, 304/408)
  uint64_t early_answers = 0;  // any poll answer before the publish phase started
  uint64_t errors = 0;         // HTTP errors, connect failures, unparsable answers
  uint64_t reconnects = 0;
  uint64_t stray = 0;         // bodies not ours or of another room
  uint64_t incomplete = 0;    // pollers that did not get everything by the end
  uint64_t left = 0;          // pollers whose leave was answered 204 (and that stopped polling)
  uint64_t leave_failed = 0;  // chosen pollers whose leave never got a 204: they stayed
  int64_t first_delivery_ns = 0;
  int64_t last_delivery_ns = 0;
};

}  // namespace crload
