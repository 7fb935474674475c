// A room's sends: membership and rate checks, idempotency keys, the durable write, and the
// message becoming visible once the store has it.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "chatroomd/common/ids.h"
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "room/answers.h"
#include "room/dedup_keys.h"
#include "room/room_errors.h"
#include "room/room_online.h"

namespace chatroomd::room {

std::optional<int> Room::TakeSendToken(uint64_t user_hash, int64_t now_ms) {
  const RoomSettings& s = host_->settings();
  auto [it, first] = send_buckets_.try_emplace(user_hash);
  SendBucket& b = it->second;
  if (first) {  // no send lately: a full bucket
    b.tokens = s.send_burst;
    b.refill_ms = now_ms;
  }
  b.tokens = std::min<double>(s.send_burst,
                              b.tokens + (now_ms - b.refill_ms) * s.send_rate_per_s / 1000.0);
  b.refill_ms = now_ms;
  if (b.tokens < 1) return static_cast<int>((1 - b.tokens) / s.send_rate_per_s) + 1;
  b.tokens -= 1;
  return std::nullopt;
}

void Room::PruneSendBuckets(int64_t now_ms) {
  // A bucket that has refilled is the same as none: only recent senders keep one.
  const RoomSettings& s = host_->settings();
  std::erase_if(send_buckets_, [&](const auto& entry) {
    const SendBucket& b = entry.second;
    return s.send_rate_per_s == 0 ||
           b.tokens + (now_ms - b.refill_ms) * s.send_rate_per_s / 1000.0 >= s.send_burst;
  });
}

void Room::DoSend(Caller caller, SendArgs args) {
  if (auto refused = Refusal(caller.user, true)) return ReplyError(caller, *refused);
  if (caller.admin) return SendFrom(std::move(caller), std::move(args), true);
  const uint64_t hash = UserHash(caller.user);
  if (std::optional<bool> online = online_->IsOnline(hash)) {
    return SendFrom(std::move(caller), std::move(args), *online);
  }
  // A spread room whose part has not seen the sender: their join may still be on its way
  // there. The part answers after every change sent before the question.
  ++pending_io_;
  online_->AskOnline(hash, [this, caller = std::move(caller), args = std::move(args)](bool online) {
    --pending_io_;
    SendFrom(caller, args, online);
  });
}

void Room::SendFrom(Caller caller, SendArgs args, bool online) {
  const RoomSettings& settings = host_->settings();
  if (!caller.admin) {
    if (!online) {
      return ReplyError(caller, MakeError(ErrorCode::kNotJoined, "join the room first"));
    }
    if (args.priority) {
      return ReplyError(caller,
                        MakeError(ErrorCode::kForbidden, "priority messages need admin rights"));
    }
    if (settings.send_rate_per_s > 0) {
      if (auto wait_s = TakeSendToken(UserHash(caller.user), NowMs())) {
        return ReplyError(caller, MakeError(ErrorCode::kRateLimited, "sending too fast", *wait_s));
      }
    }
  }
  if (!args.client_msg_id) return Accept(std::move(caller), std::move(args), std::nullopt);

  std::string key = DedupKeys::Key(caller.user, *args.client_msg_id);
  const int64_t now = WallNowMs();
  if (DedupEntry* e = dedup_->FindLive(key, now, settings.dedup_window_ms)) {
    if (e->stage == DedupEntry::Stage::kDone) {
      return Reply(caller, SendAnswer(e->seq, true, caller.format));
    }
    e->repeats.push_back(std::move(caller));
    return;
  }
  DedupEntry& e = dedup_->Start(key, now);
  if (dedup_->maybe_in_store()) {
    e.stage = DedupEntry::Stage::kLookup;
    std::string cmid = *args.client_msg_id;
    e.first.emplace(std::move(caller), std::move(args));
    ++pending_io_;
    host_->store().LookupDedup(id_, e.first->first.user, std::move(cmid), &host_->loop(),
                               [this, key](Result<std::optional<uint64_t>> found) {
                                 OnDedupLookup(key, std::move(found));
                               });
    return;
  }
  e.stage = DedupEntry::Stage::kPending;
  dedup_->Remember(key, now, settings.dedup_window_ms, settings.dedup_memory_entries);
  Accept(std::move(caller), std::move(args), std::move(key));
}

void Room::OnDedupLookup(const std::string& key, Result<std::optional<uint64_t>> found) {
  AssertOnHomeLoop();
  --pending_io_;
  DedupEntry* e = dedup_->Find(key);
  if (!e || !e->first) return;
  auto [caller, args] = std::move(*e->first);
  e->first.reset();
  if (!found.ok()) {
    auto repeats = std::move(e->repeats);
    dedup_->Erase(key);
    ReplyError(caller, StoreFailed());
    for (auto& r : repeats) ReplyError(r, StoreFailed());
    return;
  }
  const RoomSettings& settings = host_->settings();
  dedup_->Remember(key, WallNowMs(), settings.dedup_window_ms, settings.dedup_memory_entries);
  if (found.value()) {
    e->stage = DedupEntry::Stage::kDone;
    e->seq = *found.value();
    auto repeats = std::move(e->repeats);
    e->repeats.clear();
    Reply(caller, SendAnswer(e->seq, true, caller.format));
    for (auto& r : repeats) Reply(r, SendAnswer(e->seq, true, r.format));
    return;
  }
  e->stage = DedupEntry::Stage::kPending;
  Accept(std::move(caller), std::move(args), key);
}

void Room::Accept(Caller caller, SendArgs args, std::optional<std::string> dedup_key,
                  uint64_t retract) {
  SharedRoomState& shared = host_->shared();
  if (shared.pending_writes.load(std::memory_order_relaxed) >=
      host_->settings().max_pending_writes) {
    Error busy = MakeError(ErrorCode::kOverloaded, "the store is behind; retry", 1);
    if (retract) EndRetract(retract);
    if (dedup_key) {
      if (DedupEntry* e = dedup_->Find(*dedup_key)) {
        for (auto& r : e->repeats) ReplyError(r, busy);
        dedup_->Erase(*dedup_key);
      }
    }
    return ReplyError(caller, busy);
  }
  store::MessageRecord record;
  record.seq = ++assigned_;
  if (args.priority) ++priority_assigned_;
  record.priority = args.priority;
  record.sender = caller.user;
  record.type = std::move(args.type);
  record.body = std::move(args.body);
  record.ts_ms = WallNowMs();
  record.client_msg_id = std::move(args.client_msg_id);
  MessagePtr message = EncodeMessage(record, SteadyNowNs());

  auto req = std::make_unique<store::WriteRequest>();
  req->room = id_;
  req->head_seq = record.seq;
  req->priority_count = priority_assigned_;
  req->created_ms = created_ms_;
  req->message = std::move(record);
  if (retract) req->retract_seq = retract;
  ++pending_io_;
  shared.pending_writes.fetch_add(1, std::memory_order_relaxed);
  req->done_loop = &host_->loop();
  req->done = [this, caller = std::move(caller), message = std::move(message),
               dedup_key = std::move(dedup_key), retract](Status s) mutable {
    OnDurable(std::move(caller), std::move(message), std::move(dedup_key), retract, std::move(s));
  };
  host_->store().Submit(std::move(req));
}

void Room::OnDurable(Caller caller, MessagePtr message, std::optional<std::string> dedup_key,
                     uint64_t retract, Status status) {
  AssertOnHomeLoop();
  --pending_io_;
  host_->shared().pending_writes.fetch_sub(1, std::memory_order_relaxed);
  if (retract) EndRetract(retract);
  DedupEntry* entry = dedup_key ? dedup_->Find(*dedup_key) : nullptr;
  if (!status.ok()) {
    // The seq was handed out but not stored. Later seqs may already be in flight, so the
    // room cannot hand it out again: it reloads from the store's durable head instead.
    spdlog::error("room {}: write of seq {} failed: {}", id_, message->seq, status.error().message);
    ReplyError(caller, StoreFailed());
    if (entry) {
      for (auto& r : entry->repeats) ReplyError(r, StoreFailed());
      dedup_->Erase(*dedup_key);
    }
    return;
  }
  const uint64_t seq = message->seq;
  const bool priority = message->priority;
  // The retracted message leaves the log as its notice arrives, in one step: waiters and
  // edges are answered from the log without it.
  if (retract) log_.Remove(retract);
  log_.Append(std::move(message));
  host_->metrics().messages_accepted.fetch_add(1, std::memory_order_relaxed);
  Reply(caller, retract ? MakeEmptyWire(204) : SendAnswer(seq, false, caller.format));
  if (entry) {
    entry->stage = DedupEntry::Stage::kDone;
    entry->seq = seq;
    for (auto& r : entry->repeats) Reply(r, SendAnswer(seq, true, r.format));
    entry->repeats.clear();
  }
  ScheduleWake(priority);
}

}  // namespace chatroomd::room
