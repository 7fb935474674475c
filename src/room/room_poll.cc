// A room's polls: answered at once when something is unread, held otherwise, woken together
// when the room grows (one response per cursor, limit and format), timed out on the loop's
// timer wheel. Adaptive tiers (docs/traffic.md) add two holds: a poll that comes before the time
// its cursor gave is held until then, and normal messages wait out the tier's hold_ms so that
// one answer carries several; a priority message ends both at once.
#include <algorithm>
#include <cassert>

#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "room/answers.h"
#include "room/edge_subscriptions.h"
#include "room/moderation.h"
#include "room/room_errors.h"
#include "room/room_online.h"

namespace chatroomd::room {

namespace {

// The longest an early poll is held: the longest interval a tier may set (config validation).
// A cursor from before a reload that shortened the interval is still held until its time; a
// forged one (the check keeps out accidents, not people) no longer than a long poll could.
constexpr int64_t kMaxEarlyHoldMs = 60000;

}  // namespace

void Room::DoPoll(Caller caller, const PollArgs& args) {
  if (auto refused = Refusal(caller.user, false)) return ReplyError(caller, *refused);
  const uint64_t user_hash = Seen(caller.user, NowMs(), WallNowMs());
  RefreshEdges();  // fullness (the online count they carry changes only when published)
  Cursor cursor = args.cursor.value_or(Cursor{log_.head(), log_.head()});
  if (!log_.Valid(cursor)) {
    return ReplyError(caller, MakeError(ErrorCode::kBadCursor, "cursor is ahead of the room"));
  }
  if (cursor.priority < log_.evicted_priority_seq()) {
    return PollFromStore(std::move(caller), cursor, args.limit);
  }
  const bool draining = host_->shared().draining.load(std::memory_order_relaxed);
  // Adaptive tiers: one branch when the cursor carries no time and no batch is pending.
  if ((args.not_before_ms > 0 || batch_timer_.scheduled()) && !draining) [[unlikely]] {
    if (HoldForTiers(caller, cursor, args, user_hash)) return;
  }
  if (log_.HasUnread(cursor) || args.timeout_ms == 0 || draining) {
    return Reply(
        caller, ReadAnswer(log_, id_, cursor, args.limit, caller.format, online(), next_poll_ms()));
  }
  if (!TakeHeldSlot(host_->shared(), host_->settings(), HeldEverywhere())) {
    return ReplyError(caller, HeldPollsFull());
  }
  Hold(std::move(caller), cursor, args.limit, args.timeout_ms, user_hash);
}

void Room::PollFromStore(Caller caller, Cursor cursor, uint32_t limit) {
  ++pending_io_;
  // Every message visible now is durable, so the read covers the priority stream up to here
  // at least; one that becomes visible while it runs may be missing from it.
  const uint64_t covered = log_.head();
  host_->store().PriorityAfter(id_, cursor.priority, limit, &host_->loop(),
                               [this, caller = std::move(caller), cursor, limit, covered](
                                   Result<std::vector<store::MessageRecord>> records) mutable {
                                 OnPriorityRead(caller, cursor, limit, covered, std::move(records));
                               });
}

void Room::OnPriorityRead(const Caller& caller, Cursor cursor, uint32_t limit, uint64_t covered,
                          Result<std::vector<store::MessageRecord>> records) {
  AssertOnHomeLoop();
  --pending_io_;
  if (!records.ok()) return ReplyError(caller, StoreFailed());
  // Priority from the store (it holds every unread one, in order), then the normal part from
  // the window, as a live read would.
  std::vector<MessagePtr> owned;
  ReadResult r;
  r.next = cursor;
  for (const auto& rec : records.value()) {
    if (rec.seq > log_.head()) break;  // durable but not yet visible here
    owned.push_back(EncodeMessage(rec, 0));
    r.messages.push_back(owned.back().get());
  }
  size_t taken = r.messages.size();
  // All unread priority up to `covered` was read, and what was taken is contiguous from the
  // cursor; past both, a message may have landed during the read.
  uint64_t last = taken ? r.messages.back()->seq : cursor.priority;
  r.next.priority = taken < limit ? std::max(covered, last) : last;
  log_.ReadNormal(cursor, limit - taken, r);
  ResponseFields f;
  f.room = id_;
  f.next_poll_ms = next_poll_ms();
  f.cursor = AnswerCursor(id_, r.next, f.next_poll_ms);
  f.messages = &r.messages;
  f.gap = r.gap;
  f.online = online();
  Reply(caller, BuildMessagesResponse(f, caller.format));
}

bool Room::HoldForTiers(Caller& caller, Cursor cursor, const PollArgs& args, uint64_t user_hash) {
  // Priority messages are never held back.
  if (log_.HasUnreadPriority(cursor)) return false;
  int64_t early_ms = 0;
  if (args.not_before_ms > 0) {
    // The wall-clock time the client was told, as a wait on the wheel's steady clock.
    early_ms = std::min(args.not_before_ms - WallNowMs(), kMaxEarlyHoldMs);
  }
  int64_t hold_ms;
  if (early_ms > 0) {
    hold_ms = early_ms;
  } else if (batch_timer_.scheduled() && log_.HasUnread(cursor)) {
    // It would be answered with messages that wait for the pending batch: it joins the batch,
    // and goes with it (WakeHeld); its own timeout does not cut the batch short.
    hold_ms = std::max<int64_t>(args.timeout_ms, batch_timer_.deadline_ms - NowMs());
  } else {
    return false;
  }
  // No slot: the usual path answers it, or refuses it as it would any poll.
  if (!TakeHeldSlot(host_->shared(), host_->settings(), HeldEverywhere())) return false;
  Client& client = *caller.client;
  Hold(std::move(caller), cursor, args.limit, static_cast<uint32_t>(std::max<int64_t>(hold_ms, 0)),
       user_hash);
  if (early_ms > 0) {
    // Its own timeout counts from its arrival: after its time, what is left of it.
    client.held.early = true;
    client.held.rest_ms = static_cast<uint32_t>(std::max<int64_t>(args.timeout_ms - early_ms, 0));
    metrics::Bump(host_->metrics().polls_held_early, 1);
  }
  return true;
}

bool Room::ReleaseEarly(HeldPoll& h) {
  // From here on an ordinary held poll: answered now when it has something to read or no time
  // left, else held for the rest of its timeout and woken by a growth like any other.
  h.early = false;
  if (h.rest_ms == 0 || log_.HasUnread(h.cursor)) return false;
  host_->wheel().Schedule(h, NowMs() + h.rest_ms);
  return true;
}

void Room::Hold(Caller caller, Cursor cursor, uint32_t limit, uint32_t timeout_ms,
                uint64_t user_hash) {
  if (Edge* edge = caller.client->edge()) {
    Cursor head{log_.head(), log_.head()};
    const bool fresh =
        edges_->Subscribe(id_, *edge, {limit, caller.format}, {0, head, online(), Full()},
                          host_->settings().edge_max_groups);
    // A new subscription starts knowing who is kicked (an edge forgets a room it left).
    if (fresh && moderation_->any_kicked()) {
      moderation_->ForEachKicked(WallNowMs(), [&](const std::string& user, int64_t until) {
        edges_->Kick(id_, user, until, edge);
      });
    }
  }
  HeldPoll& h = caller.client->held;
  assert(!h.room_hook.is_linked());
  h.room = this;
  h.user_hash = user_hash;
  h.serial = caller.serial;
  h.cursor = cursor;
  h.limit = limit;
  h.rest_ms = 0;
  h.format = caller.format;
  h.early = false;
  h.fire = &Room::OnHeldTimeout;
  h.keepalive = std::move(caller.client);
  online_->Hold(user_hash);
  held_.push_back(h);
  ++held_count_;  // the process-wide slot was taken by DoPoll
  host_->metrics().held_polls.fetch_add(1, std::memory_order_relaxed);
  host_->wheel().Schedule(h, NowMs() + timeout_ms);
}

void Room::Unhold(HeldPoll& h) {
  held_.erase(held_.iterator_to(h));
  host_->wheel().Cancel(h);
  --held_count_;
  ReleaseHeldSlot(host_->shared());
  host_->metrics().held_polls.fetch_sub(1, std::memory_order_relaxed);
  h.room = nullptr;
  online_->Release(h.user_hash, NowMs());
}

WirePtr Room::TimeoutResponse(const HeldPoll& h) const {
  return EmptyPollAnswer(id_, h.cursor, online(), next_poll_ms(), h.format);
}

void Room::OnHeldTimeout(TimerNode* node) {
  // The wheel has already unlinked the node; Unhold's cancel is then a no-op.
  auto& h = static_cast<HeldPoll&>(*node);
  Room* room = h.room;
  if (h.early && room->ReleaseEarly(h)) return;
  if (room->log_.HasUnread(h.cursor)) {
    // An early poll at its time, a poll in a batch that has not gone out, or one whose wake is
    // still posted: what a wake would answer, not an empty timeout.
    AnswerCache cache(room->log_, room->id_, room->online(), room->next_poll_ms());
    DeliveryBatch batch;
    room->Answer(h, cache, batch);
    batch.Flush();
    return;
  }
  WirePtr response = room->TimeoutResponse(h);
  ClientPtr client = std::move(h.keepalive);
  uint64_t serial = h.serial;
  room->Unhold(h);
  PostDeliver(std::move(client), serial, std::move(response));
}

void Room::CancelPoll(Client& client, uint64_t serial) {
  AssertOnHomeLoop();
  HeldPoll& h = client.held;
  if (!h.room_hook.is_linked() || h.serial != serial || h.room != this) return;
  ClientPtr keep = std::move(h.keepalive);
  Unhold(h);
}

void Room::ReleaseAllHeld() {
  AssertOnHomeLoop();
  ReleaseHeld();
}

void Room::ReleaseHeld() {
  DeliveryBatch batch;
  while (!held_.empty()) {
    HeldPoll& h = held_.front();
    WirePtr response = TimeoutResponse(h);
    ClientPtr client = std::move(h.keepalive);
    uint64_t serial = h.serial;
    Unhold(h);
    batch.Add(std::move(client), serial, std::move(response));
  }
  batch.Flush();
}

void Room::ScheduleWake(bool priority) {
  if (wake_scheduled_) return;
  // Adaptive tiers: one branch when there are none.
  if (!host_->settings().tiers.empty() && JoinBatch(priority)) return;
  wake_scheduled_ = true;
  // Deferred so that completions of one store batch, posted back to back, wake once.
  host_->loop().Post([this] {
    wake_scheduled_ = false;
    WakeHeld();
  });
}

bool Room::JoinBatch(bool priority) {
  if (priority) {
    // A priority message ends the batch at once: the wake the caller posts takes it all.
    host_->wheel().Cancel(batch_timer_);
    return false;
  }
  if (batch_timer_.scheduled()) return true;  // a later growth joins the pending batch
  const uint32_t hold_ms = host_->settings().TierFor(online()).hold_ms;
  if (hold_ms == 0) return false;
  host_->wheel().Schedule(batch_timer_, NowMs() + hold_ms);
  return true;
}

void Room::OnBatchDue(TimerNode* node) { static_cast<BatchTimer*>(node)->room->WakeHeld(); }

void Room::FlushBatch() {
  AssertOnHomeLoop();
  if (batch_timer_.scheduled()) WakeHeld();
}

void Room::WakeHeld() {
  AssertOnHomeLoop();
  host_->wheel().Cancel(batch_timer_);  // whatever wakes, the pending batch goes with it
  // Waiters with the same cursor, limit and format get the very same bytes: encode once.
  AnswerCache cache(log_, id_, online(), next_poll_ms());
  DeliveryBatch batch;
  for (auto it = held_.begin(); it != held_.end();) {
    HeldPoll& h = *it++;
    if (!log_.HasUnread(h.cursor)) continue;
    // An early poll waits for its time, unless a priority message came for it.
    if (h.early && !log_.HasUnreadPriority(h.cursor)) [[unlikely]]
      continue;
    Answer(h, cache, batch);
  }
  batch.Flush();
  NotifyEdges(cache);
}

void Room::Answer(HeldPoll& h, AnswerCache& cache, DeliveryBatch& batch) {
  if (h.cursor.priority < log_.evicted_priority_seq()) {
    // More priority messages arrived than the list holds since this poll began: the
    // oldest unread ones are only in the store now.
    // (The answer needs no user id: the poll was admitted when it was held.)
    Caller caller{std::move(h.keepalive), h.serial, std::string(), false, h.format};
    Cursor cursor = h.cursor;
    uint32_t limit = h.limit;
    Unhold(h);
    PollFromStore(std::move(caller), cursor, limit);
    return;
  }
  WirePtr response = cache.Get(h.cursor, h.limit, h.format);
  ClientPtr client = std::move(h.keepalive);
  uint64_t serial = h.serial;
  Unhold(h);
  batch.Add(std::move(client), serial, std::move(response));
}

}  // namespace chatroomd::room
