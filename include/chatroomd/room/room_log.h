// A room's in-memory log: the window of recent normal messages and the priority list, both
// ascending by seq, sharing the room's one seq counter. Pure data, no I/O, no threads: the
// room owns it on its home loop. Reads are O(log n + returned).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/room/message.h"

namespace chatroomd::room {

struct ReadResult {
  // Priority messages first (oldest unread first), then normal messages (ascending).
  std::vector<const EncodedMessage*> messages;
  Cursor next;
  bool gap = false;
  // The cursor's priority position is older than the in-memory priority list: the unread
  // priority messages must be read from the store (nothing else is filled in).
  bool needs_store = false;
};

class RoomLog {
 public:
  RoomLog(uint32_t window_size, uint32_t priority_size);

  // Messages must arrive in increasing seq order.
  void Append(MessagePtr message);
  // Takes message `seq` out (a retraction); the head and the evicted seqs stay as they are.
  // False when it is not held here.
  bool Remove(uint64_t seq);
  // Rebuild after a restart: messages ascending; the evicted seqs say what came before.
  void Restore(std::vector<MessagePtr> normal, uint64_t evicted_normal_seq,
               std::vector<MessagePtr> priority, uint64_t evicted_priority_seq, uint64_t head);

  // Highest seq visible to readers.
  uint64_t head() const { return head_; }
  uint64_t evicted_normal_seq() const { return evicted_normal_; }
  uint64_t evicted_priority_seq() const { return evicted_priority_; }
  size_t window_count() const { return normal_.size(); }
  // Bytes the messages held here take (their encodings and bookkeeping), kept as they come and
  // go.
  size_t bytes() const { return bytes_; }
  static size_t MessageBytes(const EncodedMessage& m);
  size_t priority_count() const { return priority_.size(); }

  // True when a cursor is one this log could have issued (not past the head).
  bool Valid(Cursor c) const { return c.normal <= head_ && c.priority <= head_; }
  // What a poll with this cursor gets (see docs/api.md for the rules).
  ReadResult Read(Cursor cursor, uint32_t limit) const;
  // The normal part of a read: appends the newest unread normal messages that fit in `left`
  // to r.messages and sets r.next.normal and r.gap. Used by Read, and after priority messages
  // that came from the store.
  void ReadNormal(Cursor cursor, size_t left, ReadResult& r) const;
  // True when Read would return at least one message.
  bool HasUnread(Cursor cursor) const;
  // True when Read would return a priority message (or must read them from the store).
  bool HasUnreadPriority(Cursor cursor) const {
    return (!priority_.empty() && priority_.back()->seq > cursor.priority) ||
           cursor.priority < evicted_priority_;
  }
  // The latest `n` priority messages then the latest `n` normal messages, each ascending.
  std::vector<const EncodedMessage*> Backlog(uint32_t n) const;

 private:
  using List = std::deque<MessagePtr>;
  // Index of the first message in `list` with seq > after.
  static size_t FirstAfter(const List& list, uint64_t after);

  uint32_t window_size_;
  uint32_t priority_size_;
  List normal_;
  List priority_;
  uint64_t head_ = 0;
  uint64_t evicted_normal_ = 0;
  uint64_t evicted_priority_ = 0;
  size_t bytes_ = 0;
};

}  // namespace chatroomd::room
