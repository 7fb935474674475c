#include "chatroomd/room/room_log.h"

#include <algorithm>
#include <cassert>

namespace chatroomd::room {

RoomLog::RoomLog(uint32_t window_size, uint32_t priority_size)
    : window_size_(window_size), priority_size_(priority_size) {}

size_t RoomLog::MessageBytes(const EncodedMessage& m) {
  // The message, its two encodings, the shared_ptr's control block and the deque's slot.
  return sizeof(EncodedMessage) + m.json.capacity() + m.proto.capacity() + 32;
}

void RoomLog::Append(MessagePtr message) {
  assert(message->seq > head_);
  head_ = message->seq;
  bytes_ += MessageBytes(*message);
  if (message->priority) {
    priority_.push_back(std::move(message));
    if (priority_.size() > priority_size_) {
      evicted_priority_ = priority_.front()->seq;
      bytes_ -= MessageBytes(*priority_.front());
      priority_.pop_front();
    }
  } else {
    normal_.push_back(std::move(message));
    if (normal_.size() > window_size_) {
      evicted_normal_ = normal_.front()->seq;
      bytes_ -= MessageBytes(*normal_.front());
      normal_.pop_front();
    }
  }
}

void RoomLog::Restore(std::vector<MessagePtr> normal, uint64_t evicted_normal_seq,
                      std::vector<MessagePtr> priority, uint64_t evicted_priority_seq,
                      uint64_t head) {
  normal_.assign(std::make_move_iterator(normal.begin()), std::make_move_iterator(normal.end()));
  priority_.assign(std::make_move_iterator(priority.begin()),
                   std::make_move_iterator(priority.end()));
  evicted_normal_ = evicted_normal_seq;
  evicted_priority_ = evicted_priority_seq;
  while (normal_.size() > window_size_) {
    evicted_normal_ = normal_.front()->seq;
    normal_.pop_front();
  }
  while (priority_.size() > priority_size_) {
    evicted_priority_ = priority_.front()->seq;
    priority_.pop_front();
  }
  head_ = head;
  bytes_ = 0;
  for (const auto& m : normal_) bytes_ += MessageBytes(*m);
  for (const auto& m : priority_) bytes_ += MessageBytes(*m);
}

bool RoomLog::Remove(uint64_t seq) {
  for (List* list : {&normal_, &priority_}) {
    size_t i = FirstAfter(*list, seq - 1);
    if (i < list->size() && (*list)[i]->seq == seq) {
      bytes_ -= MessageBytes(*(*list)[i]);
      list->erase(list->begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
  }
  return false;
}

size_t RoomLog::FirstAfter(const List& list, uint64_t after) {
  auto it = std::upper_bound(list.begin(), list.end(), after,
                             [](uint64_t seq, const MessagePtr& m) { return seq < m->seq; });
  return static_cast<size_t>(it - list.begin());
}

bool RoomLog::HasUnread(Cursor c) const {
  return (!priority_.empty() && priority_.back()->seq > c.priority) ||
         c.priority < evicted_priority_ || (!normal_.empty() && normal_.back()->seq > c.normal);
}

ReadResult RoomLog::Read(Cursor c, uint32_t limit) const {
  ReadResult r;
  r.next = c;
  if (c.priority < evicted_priority_) {
    r.needs_store = true;
    return r;
  }
  // Priority: the oldest unread first; never skipped.
  size_t p = FirstAfter(priority_, c.priority);
  size_t p_unread = priority_.size() - p;
  size_t p_take = std::min<size_t>(p_unread, limit);
  r.messages.reserve(p_take);
  for (size_t i = p; i < p + p_take; ++i) r.messages.push_back(priority_[i].get());
  r.next.priority = p_take < p_unread ? priority_[p + p_take - 1]->seq : head_;

  ReadNormal(c, limit - p_take, r);
  return r;
}

void RoomLog::ReadNormal(Cursor c, size_t left, ReadResult& r) const {
  // The newest that fit; older unread ones are skipped under a gap. When priority filled the
  // whole limit the normal stream stays where it is (nothing skipped).
  size_t n = FirstAfter(normal_, c.normal);
  size_t n_unread = normal_.size() - n;
  r.next.normal = c.normal;
  if (left == 0 && n_unread > 0) return;
  size_t n_take = std::min(n_unread, left);
  for (size_t i = normal_.size() - n_take; i < normal_.size(); ++i) {
    r.messages.push_back(normal_[i].get());
  }
  r.gap = n_take < n_unread || c.normal < evicted_normal_;
  r.next.normal = head_;
}

std::vector<const EncodedMessage*> RoomLog::Backlog(uint32_t n) const {
  std::vector<const EncodedMessage*> out;
  size_t p = priority_.size() - std::min<size_t>(priority_.size(), n);
  size_t q = normal_.size() - std::min<size_t>(normal_.size(), n);
  out.reserve(priority_.size() - p + normal_.size() - q);
  for (size_t i = p; i < priority_.size(); ++i) out.push_back(priority_[i].get());
  for (size_t i = q; i < normal_.size(); ++i) out.push_back(normal_[i].get());
  return out;
}

}  // namespace chatroomd::room
