#include "chatroomd/room/front_edge.h"

#include <algorithm>
#include <chrono>

#include "room/answers.h"
#include "room/edge_room.h"
#include "room/room_errors.h"

namespace chatroomd::room {

FrontEdge::FrontEdge(Loop& loop, TimerWheel& wheel, RoomDirectory& rooms,
                     std::shared_ptr<const RoomSettings> settings, SharedRoomState& shared,
                     metrics::ThreadMetrics& metrics)
    : loop_(loop),
      wheel_(wheel),
      rooms_(&rooms),
      settings_(std::move(settings)),
      shared_(shared),
      metrics_(metrics),
      sweep_timer_(loop.context()) {
  flush_timer_.owner = this;
  flush_timer_.fire = [](TimerNode* node) { static_cast<FlushTimer*>(node)->owner->Flush(); };
}

FrontEdge::~FrontEdge() { Detach(); }

void FrontEdge::Detach() {
  // Clients may outlive the edge at shutdown: unlink them first, then let them go.
  rooms_ = nullptr;
  draining_ = true;
  wheel_.Cancel(flush_timer_);
  dirty_.clear();
  std::vector<ClientPtr> keep;
  for (auto& [id, r] : rooms_by_id_) {
    while (!r->waiters.empty()) {
      EdgeWait& w = r->waiters.front();
      r->waiters.pop_front();
      keep.push_back(Release(*r, w));
    }
  }
  rooms_by_id_.clear();
}

void FrontEdge::Start() {
  AssertOnLoop();
  if (rooms_) ArmSweep();
}

void CancelEdgeWait(Client& client) {
  if (client.edge_waiting()) client.edge_wait.room->owner->Cancel(client);
}

bool FrontEdge::TryHold(const std::string& room, Caller& caller, const PollArgs& args) {
  AssertOnLoop();
  if (!rooms_ || draining_ || args.timeout_ms == 0 || !args.cursor) return false;
  // Early (adaptive tiers): the room holds it until its time, whatever this edge knows.
  if (args.not_before_ms > 0 && args.not_before_ms > WallNowMs()) return false;
  auto it = rooms_by_id_.find(room);
  if (it == rooms_by_id_.end()) return false;
  EdgeRoom& r = *it->second;
  if (!r.kicked.empty() && IsKicked(r, caller.user)) return false;  // the room refuses it
  const EdgeGroup group{args.limit, caller.format};
  if (!(*args.cursor == r.head)) {
    // Behind the head: the room's answer from there, when it sent one.
    WirePtr answer = r.FindAnswer(*args.cursor, group);
    if (!answer) return false;
    // (A client's pipelined re-polls are one user: reported once.)
    if (r.polled.empty() || r.polled.back() != caller.user) r.polled.push_back(caller.user);
    MarkDirty(r);
    metrics::Bump(metrics_.edge_answers, 1);
    // Written right away: the caller does nothing more with this request, and what the
    // answer sets going (the connection's next pipelined request) runs as after any answer.
    caller.client->Deliver(caller.serial, std::move(answer));
    return true;
  }
  if (r.full || std::find(r.groups.begin(), r.groups.end(), group) == r.groups.end()) {
    return false;
  }
  if (shared_.draining.load(std::memory_order_relaxed)) {
    draining_ = true;
    return false;
  }
  // Past a limit the room answers (503): it sees every edge's count.
  if (!TakeHeldSlot(shared_, *settings_, r.count)) return false;
  const int64_t now = wheel_.NowMs();
  Client& client = *caller.client;
  EdgeWait& w = client.edge_wait;
  w.room = &r;
  w.user = std::move(caller.user);
  w.serial = caller.serial;
  w.limit = group.limit;
  w.format = group.format;
  w.told_ms = now;
  w.fire = &FrontEdge::OnWaitTimeout;
  w.keepalive = std::move(caller.client);
  r.waiters.push_back(w);
  ++r.count;
  metrics_.edge_held_polls.fetch_add(1, std::memory_order_relaxed);
  wheel_.Schedule(w, now + args.timeout_ms);
  r.polled.push_back(w.user);
  MarkDirty(r);
  return true;
}

ClientPtr FrontEdge::Release(EdgeRoom& r, EdgeWait& w) {
  // `w` is already off the room's list.
  if (--r.count == 0) r.idle_since_ms = wheel_.NowMs();
  w.room = nullptr;
  wheel_.Cancel(w);
  ReleaseHeldSlot(shared_);
  metrics_.edge_held_polls.fetch_sub(1, std::memory_order_relaxed);
  return std::move(w.keepalive);
}

WirePtr FrontEdge::TimeoutResponse(const EdgeRoom& r, BodyFormat format) const {
  return EmptyPollAnswer(r.id, r.head, r.online,
                         static_cast<int32_t>(settings_->TierFor(r.online).poll_interval_ms),
                         format);
}

void FrontEdge::OnWaitTimeout(TimerNode* node) {
  // The wheel has already unlinked the node; Release's cancel is then a no-op.
  auto& w = static_cast<EdgeWait&>(*node);
  w.room->owner->Expire(w);
}

void FrontEdge::Expire(EdgeWait& w) {
  AssertOnLoop();
  EdgeRoom& r = *w.room;
  WirePtr response = TimeoutResponse(r, w.format);
  uint64_t serial = w.serial;
  r.waiters.erase(r.waiters.iterator_to(w));
  ClientPtr client = Release(r, w);
  MarkDirty(r);
  client->Deliver(serial, std::move(response));
}

void FrontEdge::Cancel(Client& client) {
  AssertOnLoop();
  EdgeWait& w = client.edge_wait;
  if (!w.hook.is_linked()) return;
  EdgeRoom& r = *w.room;
  r.waiters.erase(r.waiters.iterator_to(w));
  ClientPtr keep = Release(r, w);
  MarkDirty(r);
}

void FrontEdge::Forward(EdgeRoom& r, Cursor cursor, EdgeWaitList& waiters) {
  // Each waiter becomes an ordinary poll at the room, with what is left of its timeout. They
  // are let go here first, so that the report sent before them (the room hears of polls taken
  // here before any later request from this loop) no longer counts them as held here.
  const int64_t now = wheel_.NowMs();
  std::vector<std::pair<Caller, PollArgs>> polls;
  while (!waiters.empty()) {
    EdgeWait& w = waiters.front();
    waiters.pop_front();
    Caller caller;
    caller.serial = w.serial;
    caller.user = std::move(w.user);
    caller.format = w.format;
    PollArgs args;
    args.cursor = cursor;
    args.limit = w.limit;
    args.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(1, w.deadline_ms - now));
    caller.client = Release(r, w);
    caller.client->PollAtRoom(r.id);  // a client that goes away cancels it there now
    polls.emplace_back(std::move(caller), std::move(args));
  }
  MarkDirty(r);
  Flush();
  RoomHost& host = rooms_->HostOf(r.id);
  for (auto& [caller, args] : polls) host.Post(r.id, std::move(caller), std::move(args));
}

void FrontEdge::Subscribed(const std::string& room, const EdgeState& state,
                           std::vector<EdgeGroup> groups, bool fresh) {
  AssertOnLoop();
  if (!rooms_) return;
  auto it = rooms_by_id_.find(room);
  if (it == rooms_by_id_.end()) {
    if (!fresh) return;  // more groups for a generation this edge has dropped
    auto r = std::make_unique<EdgeRoom>();
    r->owner = this;
    r->id = room;
    r->gen = state.gen;
    r->head = state.head;
    r->online = state.online;
    r->full = state.full;
    r->groups = std::move(groups);
    r->idle_since_ms = wheel_.NowMs();
    rooms_by_id_.emplace(room, std::move(r));
    return;
  }
  EdgeRoom& r = *it->second;
  if (fresh && state.gen != r.gen) {
    // Not expected (an edge drops its generation before the room makes a new one); stay
    // correct all the same: the old waiters go to the room, the new generation takes over.
    EdgeWaitList old;
    old.swap(r.waiters);
    Cursor was = r.head;
    r.gen = state.gen;
    r.head = state.head;
    r.online = state.online;
    r.full = state.full;
    r.groups = std::move(groups);
    r.answers.clear();
    Forward(r, was, old);
    return;
  }
  if (state.gen == r.gen) r.groups = std::move(groups);
}

void FrontEdge::Grew(const std::string& room, const EdgeState& state, EdgeResponses responses) {
  AssertOnLoop();
  auto it = rooms_by_id_.find(room);
  if (!rooms_ || it == rooms_by_id_.end() || it->second->gen != state.gen) return;
  EdgeRoom& r = *it->second;
  Cursor was = r.head;
  r.head = state.head;
  r.online = state.online;
  r.full = state.full;
  r.answers = std::move(responses);
  if (r.waiters.empty()) return;
  // Answers can run a connection's next (pipelined) request, which may be held here again
  // or answered from r.answers: work on a list of our own.
  EdgeWaitList waiters;
  waiters.swap(r.waiters);
  EdgeWaitList unanswered;  // no response from `was` for their group
  while (!waiters.empty()) {
    EdgeWait& w = waiters.front();
    waiters.pop_front();
    WirePtr response = r.FindAnswer(was, {w.limit, w.format});
    if (!response) {
      unanswered.push_back(w);
      continue;
    }
    uint64_t serial = w.serial;
    ClientPtr client = Release(r, w);
    client->Deliver(serial, std::move(response));
  }
  // They go to the room at the head they were held at, as ordinary polls.
  if (!unanswered.empty()) Forward(r, was, unanswered);
}

void FrontEdge::Changed(const std::string& room, const EdgeState& state) {
  AssertOnLoop();
  auto it = rooms_by_id_.find(room);
  if (it == rooms_by_id_.end() || it->second->gen != state.gen) return;
  EdgeRoom& r = *it->second;
  // The answers carry the online count of their time.
  if (r.online != state.online) r.answers.clear();
  r.online = state.online;
  r.full = state.full;
}

void FrontEdge::Kicked(const std::string& room, uint64_t gen, const std::string& user,
                       int64_t until_ms) {
  AssertOnLoop();
  auto it = rooms_by_id_.find(room);
  if (!rooms_ || it == rooms_by_id_.end() || it->second->gen != gen) return;
  EdgeRoom& r = *it->second;
  const int64_t now = WallNowMs();
  if (until_ms <= now) {
    r.kicked.erase(user);
    return;
  }
  r.kicked[user] = until_ms;
  // Answering runs the connection's next (pipelined) request, which may poll here again: let
  // every waiter of theirs go first, then answer.
  std::vector<std::pair<ClientPtr, EdgeWait*>> theirs;
  for (auto w = r.waiters.begin(); w != r.waiters.end();) {
    EdgeWait& wait = *w++;
    if (wait.user != user) continue;
    r.waiters.erase(r.waiters.iterator_to(wait));
    theirs.emplace_back(Release(r, wait), &wait);
  }
  if (theirs.empty()) return;
  MarkDirty(r);
  const Error kicked = KickedError(until_ms, now);
  for (auto& [client, wait] : theirs) {
    // (The EdgeWait is the client's own, alive while `client` is.)
    client->Deliver(wait->serial, MakeErrorWire(kicked, wait->format));
  }
}

bool FrontEdge::IsKicked(EdgeRoom& r, const std::string& user) {
  auto it = r.kicked.find(user);
  if (it == r.kicked.end()) return false;
  if (it->second > WallNowMs()) return true;
  r.kicked.erase(it);
  return false;
}

void FrontEdge::ReleaseAll() {
  AssertOnLoop();
  draining_ = true;
  for (auto& [id, r] : rooms_by_id_) {
    while (!r->waiters.empty()) {
      EdgeWait& w = r->waiters.front();
      WirePtr response = TimeoutResponse(*r, w.format);
      uint64_t serial = w.serial;
      r->waiters.pop_front();
      ClientPtr client = Release(*r, w);
      client->Deliver(serial, std::move(response));
    }
    MarkDirty(*r);
  }
}

void FrontEdge::MarkDirty(EdgeRoom& r) {
  if (r.dirty || !rooms_) return;
  r.dirty = true;
  dirty_.push_back(&r);
  if (!flush_timer_.scheduled()) {
    wheel_.Schedule(flush_timer_, wheel_.NowMs() + settings_->edge_report_delay_ms);
  }
}

void FrontEdge::Flush() {
  if (dirty_.empty()) return;
  AssertOnLoop();
  wheel_.Cancel(flush_timer_);
  auto dirty = std::move(dirty_);
  dirty_.clear();
  for (EdgeRoom* r : dirty) {
    r->dirty = false;
    EdgeReport report;
    report.edge = this;
    report.gen = r->gen;
    report.head = r->head;
    report.held = r->count;
    report.polled = std::move(r->polled);
    report.still_held = std::move(r->still_held);
    r->polled.clear();
    r->still_held.clear();
    rooms_->HostOf(r->id).PostEdgeReport(r->id, std::move(report));
  }
}

void FrontEdge::ArmSweep() {
  // Often enough to keep held users online well within the online TTL.
  int64_t period = std::clamp<int64_t>(settings_->online_ttl_ms / 4, 100, 1000);
  sweep_timer_.expires_after(std::chrono::milliseconds(period));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !rooms_) return;
    Sweep();
    ArmSweep();
  });
}

void FrontEdge::Sweep() {
  AssertOnLoop();
  const int64_t now = wheel_.NowMs();
  const int64_t retell = settings_->online_ttl_ms / 2;
  for (auto it = rooms_by_id_.begin(); it != rooms_by_id_.end();) {
    EdgeRoom& r = *it->second;
    // Users held for a while are told again, so they stay online while they wait.
    while (!r.waiters.empty() && now - r.waiters.front().told_ms >= retell) {
      EdgeWait& w = r.waiters.front();
      r.waiters.pop_front();
      w.told_ms = now;
      r.still_held.push_back(w.user);
      r.waiters.push_back(w);
    }
    if (!r.still_held.empty()) MarkDirty(r);
    if (r.count == 0 && !r.dirty && now - r.idle_since_ms >= settings_->edge_idle_ms) {
      rooms_->HostOf(r.id).PostEdgeUnsubscribe(r.id, this, r.gen);
      it = rooms_by_id_.erase(it);
      continue;
    }
    ++it;
  }
}

}  // namespace chatroomd::room
