#include "room/edge_subscriptions.h"

#include <algorithm>
#include <atomic>

#include "chatroomd/common/loop.h"

namespace chatroomd::room {
namespace {

// Subscriptions are numbered process-wide, so a generation is never reused.
std::atomic<uint64_t> next_gen{1};

}  // namespace

int64_t EdgeSubscriptions::held() const {
  int64_t n = 0;
  for (const auto& sub : subs_) n += sub.held;
  return n;
}

bool EdgeSubscriptions::Subscribe(const std::string& room, Edge& edge, EdgeGroup group,
                                  const EdgeState& state, size_t max_groups) {
  auto it = std::find_if(subs_.begin(), subs_.end(), [&](const Sub& s) { return s.edge == &edge; });
  const bool fresh = it == subs_.end();
  Sub* sub;
  if (fresh) {
    sub = &subs_.emplace_back();
    sub->edge = &edge;
    sub->gen = next_gen.fetch_add(1, std::memory_order_relaxed);
    sub->sent_head = state.head;
    sub->prev_head = state.head;
    sub->sent_online = state.online;
    sub->sent_full = state.full;
  } else {
    sub = &*it;
    if (std::find(sub->groups.begin(), sub->groups.end(), group) != sub->groups.end() ||
        sub->groups.size() >= max_groups) {
      return false;
    }
  }
  sub->groups.push_back(group);
  EdgeState told{sub->gen, sub->sent_head, sub->sent_online, sub->sent_full};
  Loop::Send(edge.loop(), [e = &edge, room, told, groups = sub->groups, fresh]() mutable {
    e->Subscribed(room, told, std::move(groups), fresh);
  });
  return fresh;
}

void EdgeSubscriptions::ForgetHeldBehind(Cursor head) {
  for (auto& sub : subs_) {
    if (!(sub.sent_head == head)) sub.held = 0;
  }
}

void EdgeSubscriptions::Grow(const std::string& room, Cursor head, int64_t online, bool full,
                             uint64_t evicted_priority_seq, const AnswerFn& answer) {
  for (auto& sub : subs_) {
    if (sub.sent_head == head) continue;
    EdgeResponses responses;
    responses.reserve(2 * sub.groups.size());
    const bool has_prev = !(sub.prev_head == sub.sent_head);
    for (Cursor from : {sub.sent_head, sub.prev_head}) {
      if (from.priority >= evicted_priority_seq) {
        for (const auto& g : sub.groups) responses.push_back({from, g, answer(from, g)});
      }
      if (!has_prev) break;
    }
    sub.prev_head = sub.sent_head;
    sub.sent_head = head;
    sub.sent_online = online;
    sub.sent_full = full;
    EdgeState state{sub.gen, head, online, full};
    Loop::Send(sub.edge->loop(),
               [e = sub.edge, room, state, responses = std::move(responses)]() mutable {
                 e->Grew(room, state, std::move(responses));
               });
  }
}

void EdgeSubscriptions::Refresh(const std::string& room, int64_t online, bool full) {
  for (auto& sub : subs_) {
    if (sub.sent_online == online && sub.sent_full == full) continue;
    sub.sent_online = online;
    sub.sent_full = full;
    EdgeState state{sub.gen, sub.sent_head, online, full};
    Loop::Send(sub.edge->loop(), [e = sub.edge, room, state] { e->Changed(room, state); });
  }
}

void EdgeSubscriptions::OnReport(const EdgeReport& report) {
  for (auto& sub : subs_) {
    if (sub.edge != report.edge || sub.gen != report.gen) continue;
    // A report from before the edge saw the latest growth counts waiters that growth answers.
    if (report.head == sub.sent_head) sub.held = report.held;
  }
}

void EdgeSubscriptions::Kick(const std::string& room, const std::string& user, int64_t until_ms,
                             Edge* only) {
  for (const auto& sub : subs_) {
    if (only && sub.edge != only) continue;
    Loop::Send(sub.edge->loop(), [e = sub.edge, room, gen = sub.gen, user, until_ms] {
      e->Kicked(room, gen, user, until_ms);
    });
  }
}

void EdgeSubscriptions::Unsubscribe(Edge* edge, uint64_t gen) {
  std::erase_if(subs_, [&](const Sub& s) { return s.edge == edge && s.gen == gen; });
}

}  // namespace chatroomd::room
