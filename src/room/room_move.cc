// A room moving between loops (sect/migrator.h drives it): what ties a room to its loop is its
// held polls' deadlines on the loop's timer wheel, its share of the host's figures and the
// host pointer itself. The rest (the log, the online table, the edges' subscriptions, the
// clients' HeldPoll links) is the room's own and goes with it untouched.
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "room/edge_subscriptions.h"
#include "room/room_online.h"

namespace chatroomd::room {

bool Room::Movable() const {
  AssertOnHomeLoop();
  // Loading or creating is store work under way; queued requests wait for it.
  return state_ == State::kReady && pending_io_ == 0 && !wake_scheduled_ && queued_.empty() &&
         online_->idle() && !batch_pending();
}

void Room::Detach() {
  AssertOnHomeLoop();
  assert(Movable());
  // The deadlines stay in the nodes (TimerNode::deadline_ms), an early-held poll's release time
  // included (its rest stays in the HeldPoll): Adopt schedules them again.
  for (HeldPoll& h : held_) host_->wheel().Cancel(h);
  host_->metrics().held_polls.fetch_sub(static_cast<int64_t>(held_count_),
                                        std::memory_order_relaxed);
  host_->AddOnline(-published_->count);
}

void Room::Adopt(RoomHost& host) {
  host_ = &host;
  AssertOnHomeLoop();
  online_->Rehome(host);
  for (HeldPoll& h : held_) host.wheel().Schedule(h, h.deadline_ms);
  host.metrics().held_polls.fetch_add(static_cast<int64_t>(held_count_), std::memory_order_relaxed);
  host.AddOnline(published_->count);
  vip_since_ms_ = -1;
  last_activity_ms_ = NowMs();
}

bool Room::VipSwitchDue(int64_t now_ms) {
  AssertOnHomeLoop();
  const RoomSettings& s = host_->settings();
  const int64_t n = online();
  const bool past = host_->vip() ? n < s.vip_demote_online
                                 : s.vip_promote_online > 0 && n >= s.vip_promote_online;
  if (!past) {
    vip_since_ms_ = -1;
    return false;
  }
  if (vip_since_ms_ < 0) vip_since_ms_ = now_ms;
  if (now_ms - vip_since_ms_ < s.vip_switch_after_ms) return false;
  vip_since_ms_ = -1;
  return true;
}

}  // namespace chatroomd::room
