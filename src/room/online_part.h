// One share of a spread room's online table (room_online.h): the users whose hash
// OnlineTable::PartOf puts in it. It lives on one loop of the room's sect, whose RoomHost
// expires it at its upkeep tick; the room's loop sends it the room's heartbeats in batches
// (OnlineOps, applied in the order sent) and reads its count and sample at the room's tick.
// `mu` guards the table: the part's loop takes it once per batch and per tick, the room's loop
// once per part per tick and for a membership check.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "chatroomd/presence/online_table.h"

namespace chatroomd::room {

// One change to a part, as the room's loop saw it happen: 24 bytes, so that a batch crosses to
// the part's core in few cache lines.
struct OnlineOp {
  enum class Kind : uint8_t {
    kTouch,
    kTouchWithId,  // the user's id is the batch's next in `ids` (the part's sample has room)
    kRefresh,
    kHold,
    kRelease,
    kLeave
  };
  uint64_t user_hash = 0;
  int64_t now_ms = 0;
  Kind kind = Kind::kTouch;
};

// What the room's loop sends a part in one loop turn.
struct OnlineBatch {
  std::vector<OnlineOp> ops;
  std::vector<std::string> ids;  // for the kTouchWithId ops, in order
  uint64_t serial = 0;           // the room's count of batches sent to the part
  bool empty() const { return ops.empty(); }
};

struct OnlinePart {
  OnlinePart(int64_t epoch_ms, const presence::OnlineTable::Options& options)
      : table(epoch_ms, options) {}

  // On the part's loop: the batch, in order, under one lock.
  void Apply(const OnlineBatch& batch) {
    size_t id = 0;
    std::lock_guard lock(mu);
    applied = batch.serial;
    for (const OnlineOp& op : batch.ops) {
      switch (op.kind) {
        case OnlineOp::Kind::kTouch:
          table.Touch(op.user_hash, {}, op.now_ms);
          break;
        case OnlineOp::Kind::kTouchWithId:
          table.Touch(op.user_hash, batch.ids[id++], op.now_ms);
          break;
        case OnlineOp::Kind::kRefresh:
          table.Refresh(op.user_hash, op.now_ms);
          break;
        case OnlineOp::Kind::kHold:
          table.Hold(op.user_hash);
          break;
        case OnlineOp::Kind::kRelease:
          table.Release(op.user_hash, op.now_ms);
          break;
        case OnlineOp::Kind::kLeave:
          table.Leave(op.user_hash);
          break;
      }
    }
  }

  std::mutex mu;
  presence::OnlineTable table;
  uint64_t applied = 0;  // the serial of the last batch applied
};

}  // namespace chatroomd::room
