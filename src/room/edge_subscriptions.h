// Private to the room component: the room's side of edge holds (edge.h), the front-loop
// edges subscribed to one room and what each was last told. Owned by the room, touched on
// its home loop; every message to an edge goes by Loop::Send, so each edge sees them in order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/room/edge.h"

namespace chatroomd::room {

class EdgeSubscriptions {
 public:
  // The room's answer from `from` for polls of `group`, read up to the head.
  using AnswerFn = std::function<WirePtr(Cursor from, const EdgeGroup& group)>;

  bool empty() const { return subs_.empty(); }
  size_t size() const { return subs_.size(); }
  // Polls held at the edges, as last reported.
  int64_t held() const;

  // `edge` holds polls of `group` from now on: a new subscription (head, online and full as
  // in `state`), or one more group for the current one (at most `max_groups`). True for a new
  // subscription.
  bool Subscribe(const std::string& room, Edge& edge, EdgeGroup group, const EdgeState& state,
                 size_t max_groups);
  // Before telling edges of a growth to `head`: every waiter of an edge that is told of it is
  // answered by it, so count none for those edges.
  void ForgetHeldBehind(Cursor head);
  // Tells each edge that knew an older head: the new head and, per group, the answer from
  // the head it knew (for its waiters) and from the one before (for re-polls that missed the
  // last growth). No answers from a head whose unread priority messages are only in the store
  // (priority position below `evicted_priority_seq`).
  void Grow(const std::string& room, Cursor head, int64_t online, bool full,
            uint64_t evicted_priority_seq, const AnswerFn& answer);
  // Tells edges a changed online count or fullness.
  void Refresh(const std::string& room, int64_t online, bool full);
  void OnReport(const EdgeReport& report);
  // Tells the edges (or only `only`) that `user` is kicked until `until_ms` (wall clock).
  void Kick(const std::string& room, const std::string& user, int64_t until_ms,
            Edge* only = nullptr);
  void Unsubscribe(Edge* edge, uint64_t gen);

 private:
  struct Sub {
    Edge* edge = nullptr;
    uint64_t gen = 0;
    Cursor sent_head;  // the head it was last told
    Cursor prev_head;  // the head it was told before that (== sent_head: none)
    std::vector<EdgeGroup> groups;
    int64_t held = 0;  // as last reported at sent_head
    int64_t sent_online = 0;
    bool sent_full = false;
  };
  std::vector<Sub> subs_;
};

}  // namespace chatroomd::room
