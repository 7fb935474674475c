// A room's side of edge holds (edge.h): subscribing the front loops' edges, telling them of
// growth and of a changed online count, and their reports.
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "room/answers.h"
#include "room/edge_subscriptions.h"
#include "room/moderation.h"
#include "room/room_online.h"

namespace chatroomd::room {

int64_t Room::edge_held() const { return edges_->held(); }

size_t Room::edge_count() const { return edges_->size(); }

int64_t Room::HeldEverywhere() const { return static_cast<int64_t>(held_count_) + edges_->held(); }

bool Room::Full() const {
  return HeldEverywhere() >= static_cast<int64_t>(host_->settings().max_held_polls_per_room);
}

void Room::RefreshEdges() {
  if (edges_->empty()) return;
  edges_->Refresh(id_, online(), Full());
}

void Room::NotifyEdges(AnswerCache& cache) {
  if (edges_->empty()) return;
  Cursor head{log_.head(), log_.head()};
  edges_->ForgetHeldBehind(head);
  // From the head each edge knew, for its waiters; from the one before, for polls that were
  // answered at that head and come back after this growth.
  edges_->Grow(
      id_, head, cache.online(), Full(), log_.evicted_priority_seq(),
      [&cache](Cursor from, const EdgeGroup& g) { return cache.Get(from, g.limit, g.format); });
}

void Room::OnEdgeReport(EdgeReport report) {
  AssertOnHomeLoop();
  if (state_ != State::kReady || !exists_) return;
  const int64_t now = NowMs();
  last_activity_ms_ = now;
  const int64_t wall = report.polled.empty() ? 0 : WallNowMs();
  for (const auto& user : report.polled) {
    // A kicked user's poll taken before the edge heard of the kick: the edge is told again,
    // and answers it `kicked`.
    if (moderation_->any_kicked()) {
      if (auto until = moderation_->KickedUntil(user, wall)) {
        edges_->Kick(id_, user, *until, report.edge);
        continue;
      }
    }
    Seen(user, now, wall);
  }
  // Keeps a user online while the edge holds their poll; a user who left stays gone.
  for (const auto& user : report.still_held) online_->Refresh(UserHash(user), now);
  edges_->OnReport(report);
  RefreshEdges();  // fullness, as the edges' held counts moved
}

void Room::OnEdgeUnsubscribe(Edge* edge, uint64_t gen) {
  AssertOnHomeLoop();
  edges_->Unsubscribe(edge, gen);
}

}  // namespace chatroomd::room
