// Who is online in one room. While the room is small: its own OnlineTable, on its own loop.
// Past presence.spread_threshold online users, in a sect of several loops, the table is spread
// over the sect's other loops: one OnlinePart per loop, each user in the part its hash chooses
// (OnlineTable::PartOf). Spread, the room's loop only hashes a heartbeat and adds it to its
// part's batch (sent once per loop turn, in order); the parts' loops probe their tables and
// expire them; the room reads their counts and samples at its tick and publishes their sum.
// The room's own loop holds no part: it already does the room's share (the requests, the
// reports, the unique-viewer counters), and measured that way the loops are evenly loaded.
// A room stays spread until it is unloaded (which needs every part empty).
//
// Owned by its room; every method runs on the room's loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chatroomd/presence/online_table.h"
#include "room/online_part.h"

namespace chatroomd::room {

class RoomHost;

class RoomOnline {
 public:
  explicit RoomOnline(RoomHost& host);
  ~RoomOnline();
  RoomOnline(const RoomOnline&) = delete;
  RoomOnline& operator=(const RoomOnline&) = delete;

  // A join or a poll: online from now. Returns the user's hash.
  uint64_t Touch(const std::string& user, int64_t now_ms);
  // An edge still holds the user's poll: an online user stays online.
  void Refresh(uint64_t user_hash, int64_t now_ms);
  // A poll of the user is held / ended (a user with a held poll does not expire).
  void Hold(uint64_t user_hash);
  void Release(uint64_t user_hash, int64_t now_ms);
  // The user leaves. True when the count changed at once (spread, the part's next count shows
  // it: the room's next tick).
  bool Leave(uint64_t user_hash);
  // Whether the user is online, when that is known here. Spread, a user their part does not
  // have may have a heartbeat still on its way to it: nullopt, and AskOnline tells for sure.
  std::optional<bool> IsOnline(uint64_t user_hash);
  // Runs done(online) on the room's loop once every change sent before has reached the part.
  void AskOnline(uint64_t user_hash, std::function<void(bool)> done);

  // The room's tick. Alone: expires what is due (returns how many) and spreads the table when
  // it has grown past the threshold. Spread: reads the parts' counts (their loops expire them
  // and count what they expire).
  size_t Upkeep(int64_t now_ms);
  // Changes whenever who is online changes (spread: as of the last Upkeep).
  uint64_t version() const;
  int64_t count() const;
  // No entry at all (spread: no part has one, as of the last Upkeep).
  bool empty() const;
  bool spread() const { return spread_; }
  // No batch of changes waits for the end of the loop turn (a room moves only then).
  bool idle() const { return !outbox_->flush_posted; }
  // The room moved to `host`'s loop (a spread room's parts stay where they are).
  void Rehome(RoomHost& host) { host_ = &host; }
  // The count and sample now, for publishing.
  std::shared_ptr<const presence::OnlineSnapshot> Snapshot(int64_t wall_ms);

 private:
  // The parts and the changes not yet sent to them. Shared with the flush posted to the room's
  // loop, which may run after the room has gone.
  struct Outbox {
    std::vector<std::shared_ptr<OnlinePart>> parts;
    std::vector<RoomHost*> homes;  // parts[i] lives on homes[i]'s loop
    std::vector<OnlineBatch> pending;
    std::vector<uint64_t> sent;  // batches sent to each part
    // Whether each part's sample was full at the last Upkeep: heartbeats for a full one go
    // without the id (no copy of it to carry to the other loop).
    std::vector<bool> sample_full;
    bool flush_posted = false;
    void Flush(size_t part);
    void FlushAll();
  };

  // `id`: kTouchWithId's.
  void Send(OnlineOp op, const std::string* id = nullptr);
  size_t PartOf(uint64_t user_hash) const {
    return presence::OnlineTable::PartOf(user_hash, outbox_->parts.size());
  }
  void Spread();
  void Collect();

  RoomHost* host_;
  bool spread_ = false;
  presence::OnlineTable table_;  // alone; empty once spread
  std::shared_ptr<Outbox> outbox_;
  // Spread: the figures the last Upkeep read from the parts.
  uint64_t version_ = 0;
  uint64_t parts_version_ = 0;  // the parts' versions, summed
  int64_t count_ = 0;
  bool empty_ = true;
};

}  // namespace chatroomd::room
