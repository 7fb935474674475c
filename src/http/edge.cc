#include "edge.h"

#include <algorithm>
#include <chrono>

#include "chatroomd/room/message.h"
#include "front.h"

namespace chatroomd::http {
FrontEdge::FrontEdge(Loop& loop, TimerWheel& wheel, sect::RoomService* rooms,
                     metrics::ThreadMetrics& metrics)
    : loop_(loop),
      wheel_(wheel),
      rooms_service_(rooms),
      metrics_(metrics),
      sweep_timer_(loop.context()) {
  if (rooms) {
    report_delay_ms_ = rooms->settings().edge_report_delay_ms;
    idle_ms_ = rooms->settings().edge_idle_ms;
  }
  flush_timer_.owner = this;
  flush_timer_.fire = [](TimerNode* node) { static_cast<FlushTimer*>(node)->owner->Flush(); };
}

FrontEdge::~FrontEdge() { Detach(); }

void FrontEdge::Detach() {
  // Connections may outlive the edge at shutdown: unlink them first, then let them go.
  rooms_service_ = nullptr;
  draining_ = true;
  wheel_.Cancel(flush_timer_);
  dirty_.clear();
  std::vector<std::shared_ptr<Connection>> keep;
  for (auto& [id, r] : rooms_) {
    while (!r->waiters.empty()) {
      EdgeWait& w = r->waiters.front();
      r->waiters.pop_front();
      w.room = nullptr;
      keep.push_back(std::move(w.keepalive));
    }
  }
  rooms_.clear();
}

void FrontEdge::Start() {
  if (rooms_service_) ArmSweep();
}

bool FrontEdge::TryHold(Connection& conn, const std::string& room, Cursor cursor,
                        uint32_t limit, uint32_t timeout_ms, BodyFormat format,
                        std::string_view user) {
  if (!rooms_service_ || draining_ || timeout_ms == 0) return false;
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return false;
  EdgeRoom& r = *it->second;
  room::EdgeGroup group{limit, format};
  if (!(cursor == r.head)) {
    // Behind the head: the room's answer from there, when it sent one.
    WirePtr answer = FindAnswer(r, cursor, group);
    if (!answer) return false;
    // (A client's pipelined re-polls are one user: reported once.)
    if (r.polled.empty() || r.polled.back() != user) r.polled.emplace_back(user);
    MarkDirty(r);
    metrics::Bump(metrics_.edge_answers, 1);
    // Written right away: the router does nothing more with this request, and what the
    // answer sets going (the connection's next pipelined request) runs as after any answer.
    conn.Deliver(conn.serial(), std::move(answer));
    return true;
  }
  if (r.full || std::find(r.groups.begin(), r.groups.end(), group) == r.groups.end()) {
    return false;
  }
  const room::RoomSettings& settings = rooms_service_->settings();
  room::SharedRoomState& shared = rooms_service_->shared();
  if (shared.draining.load(std::memory_order_relaxed)) {
    draining_ = true;
    return false;
  }
  // Past a limit the room answers (503): it sees every edge's count. The process-wide count
  // is taken before the check, so that loops holding polls at once cannot pass the bound.
  if (r.count >= static_cast<int64_t>(settings.max_held_polls_per_room)) return false;
  if (shared.held_polls.fetch_add(1, std::memory_order_relaxed) >=
      static_cast<int64_t>(settings.max_held_polls)) {
    shared.held_polls.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  int64_t now = TimerWheel::NowMs();
  EdgeWait& w = conn.edge_wait();
  w.room = &r;
  w.keepalive = conn.shared_from_this();
  w.user.assign(user);
  w.group = group;
  w.serial = conn.serial();
  w.deadline_ms = now + timeout_ms;
  w.told_ms = now;
  r.waiters.push_back(w);
  ++r.count;
  metrics_.held_polls.fetch_add(1, std::memory_order_relaxed);
  conn.ArmPollTimer(timeout_ms);
  r.polled.push_back(w.user);
  MarkDirty(r);
  return true;
}

std::shared_ptr<Connection> FrontEdge::Release(EdgeRoom& r, EdgeWait& w) {
  // `w` is already off the room's list.
  if (--r.count == 0) r.idle_since_ms = TimerWheel::NowMs();
  w.room = nullptr;
  if (rooms_service_) rooms_service_->shared().held_polls.fetch_sub(1, std::memory_order_relaxed);
  metrics_.held_polls.fetch_sub(1, std::memory_order_relaxed);
  std::shared_ptr<Connection> conn = std::move(w.keepalive);
  conn->CancelTimer();
  return conn;
}

WirePtr FrontEdge::FindAnswer(const EdgeRoom& r, Cursor from, const room::EdgeGroup& group) {
  for (const auto& a : r.answers) {
    if (a.from == from && a.group == group) return a.response;
  }
  return nullptr;
}

WirePtr FrontEdge::TimeoutResponse(const EdgeRoom& r, BodyFormat format) const {
  std::vector<const room::EncodedMessage*> none;
  room::ResponseFields f;
  f.room = r.id;
  f.cursor = EncodeCursor(r.id, r.head);
  f.messages = &none;
  f.online = r.online;
  return room::BuildMessagesResponse(f, format);
}

void FrontEdge::Expire(Connection& conn) {
  EdgeWait& w = conn.edge_wait();
  EdgeRoom& r = *w.room;
  WirePtr response = TimeoutResponse(r, w.group.format);
  uint64_t serial = w.serial;
  r.waiters.erase(r.waiters.iterator_to(w));
  auto keep = Release(r, w);
  MarkDirty(r);
  keep->Deliver(serial, std::move(response));
}

void FrontEdge::Cancel(Connection& conn) {
  EdgeWait& w = conn.edge_wait();
  if (!w.hook.is_linked()) return;
  EdgeRoom& r = *w.room;
  r.waiters.erase(r.waiters.iterator_to(w));
  auto keep = Release(r, w);
  MarkDirty(r);
}

void FrontEdge::Forward(EdgeRoom& r, Cursor cursor, EdgeWaitList& waiters) {
  // Each waiter becomes an ordinary poll at the room, with what is left of its timeout.
  Flush();
  int64_t now = TimerWheel::NowMs();
  while (!waiters.empty()) {
    EdgeWait& w = waiters.front();
    waiters.pop_front();
    room::Caller caller;
    caller.serial = w.serial;
    caller.user = w.user;
    caller.format = w.group.format;
    room::PollArgs args;
    args.cursor = cursor;
    args.limit = w.group.limit;
    args.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(1, w.deadline_ms - now));
    auto conn = Release(r, w);
    caller.client = std::static_pointer_cast<room::Client>(conn);
    conn->set_poll_room(r.id);
    rooms_service_->Poll(r.id, std::move(caller), args);
  }
}

void FrontEdge::Subscribed(const std::string& room, const room::EdgeState& state,
                           std::vector<room::EdgeGroup> groups, bool fresh) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) {
    if (!fresh) return;  // more groups for a generation this edge has dropped
    auto r = std::make_unique<EdgeRoom>();
    r->id = room;
    r->gen = state.gen;
    r->head = state.head;
    r->online = state.online;
    r->full = state.full;
    r->groups = std::move(groups);
    r->idle_since_ms = TimerWheel::NowMs();
    rooms_.emplace(room, std::move(r));
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

void FrontEdge::Grew(const std::string& room, const room::EdgeState& state,
                     room::EdgeResponses responses) {
  auto it = rooms_.find(room);
  if (it == rooms_.end() || it->second->gen != state.gen) return;
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
    WirePtr response = FindAnswer(r, was, w.group);
    if (!response) {
      unanswered.push_back(w);
      continue;
    }
    uint64_t serial = w.serial;
    auto conn = Release(r, w);
    conn->Deliver(serial, std::move(response));
  }
  // They go to the room at the head they were held at, as ordinary polls.
  if (!unanswered.empty()) Forward(r, was, unanswered);
}

void FrontEdge::Changed(const std::string& room, const room::EdgeState& state) {
  auto it = rooms_.find(room);
  if (it == rooms_.end() || it->second->gen != state.gen) return;
  EdgeRoom& r = *it->second;
  // The answers carry the online count of their time.
  if (r.online != state.online) r.answers.clear();
  r.online = state.online;
  r.full = state.full;
}

void FrontEdge::ReleaseAll() {
  draining_ = true;
  for (auto& [id, r] : rooms_) {
    while (!r->waiters.empty()) {
      EdgeWait& w = r->waiters.front();
      WirePtr response = TimeoutResponse(*r, w.group.format);
      uint64_t serial = w.serial;
      r->waiters.pop_front();
      auto conn = Release(*r, w);
      conn->Deliver(serial, std::move(response));
    }
    MarkDirty(*r);
  }
}

void FrontEdge::MarkDirty(EdgeRoom& r) {
  if (r.dirty) return;
  r.dirty = true;
  dirty_.push_back(&r);
  if (!flush_timer_.scheduled()) wheel_.Schedule(flush_timer_, TimerWheel::NowMs() + report_delay_ms_);
}

void FrontEdge::FlushReports() {
  wheel_.Cancel(flush_timer_);
  auto dirty = std::move(dirty_);
  dirty_.clear();
  for (EdgeRoom* r : dirty) {
    r->dirty = false;
    room::EdgeReport report;
    report.edge = this;
    report.gen = r->gen;
    report.head = r->head;
    report.held = r->count;
    report.polled = std::move(r->polled);
    report.still_held = std::move(r->still_held);
    r->polled.clear();
    r->still_held.clear();
    rooms_service_->EdgeReport(r->id, std::move(report));
  }
}

void FrontEdge::ArmSweep() {
  // Often enough to keep held users online well within the online TTL.
  int64_t ttl = rooms_service_->settings().online_ttl_ms;
  int64_t period = std::clamp<int64_t>(ttl / 4, 100, 1000);
  sweep_timer_.expires_after(std::chrono::milliseconds(period));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    Sweep();
    ArmSweep();
  });
}

void FrontEdge::Sweep() {
  int64_t now = TimerWheel::NowMs();
  int64_t retell = rooms_service_->settings().online_ttl_ms / 2;
  for (auto it = rooms_.begin(); it != rooms_.end();) {
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
    if (r.count == 0 && !r.dirty && now - r.idle_since_ms >= idle_ms_) {
      rooms_service_->EdgeUnsubscribe(r.id, this, r.gen);
      it = rooms_.erase(it);
      continue;
    }
    ++it;
  }
}

}  // namespace chatroomd::http
