#include "chatroomd/room/room.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cassert>

#include "chatroomd/room/room_host.h"
#include "proto/chatroomd/api.pb.h"

namespace chatroomd::room {
namespace {

Error RoomNotFound() { return MakeError(ErrorCode::kRoomNotFound, "room does not exist"); }

Error StoreFailed() { return MakeError(ErrorCode::kInternal, "the store failed; try again"); }

// Edge subscriptions are numbered process-wide, so a generation is never reused.
std::atomic<uint64_t> next_edge_gen{1};

}  // namespace

Room::Room(RoomHost& host, std::string id)
    : host_(host),
      id_(std::move(id)),
      log_(host.settings().window_size, host.settings().priority_size),
      last_activity_ms_(TimerWheel::NowMs()) {}

Room::~Room() {
  // Only unloaded when idle, so nothing is held; release defensively all the same.
  ReleaseAllHeld();
  lru_.clear();
}

void Room::Load() {
  ++pending_io_;
  Loop& loop = host_.loop();
  host_.store().LoadRoom(id_, host_.settings().window_size, host_.settings().priority_size,
                         [this, &loop](Result<store::RoomSnapshot> snapshot) {
                           loop.Post([this, snapshot = std::move(snapshot)]() mutable {
                             OnLoaded(std::move(snapshot));
                           });
                         });
}

void Room::OnLoaded(Result<store::RoomSnapshot> result) {
  --pending_io_;
  if (!result.ok()) {
    // Queued requests answer `internal`; the sweep unloads the room and a later request
    // tries the load again.
    spdlog::error("room {}: load failed: {}", id_, result.error().message);
    state_ = State::kReady;
    load_failed_ = true;
    RunQueued();
    load_failed_ = false;
    return;
  }
  store::RoomSnapshot& snap = result.value();
  state_ = State::kReady;
  exists_ = snap.exists;
  if (exists_) {
    created_ms_ = snap.created_ms;
    keys_in_store_ = true;
    std::vector<MessagePtr> normal, priority;
    normal.reserve(snap.normal.size());
    priority.reserve(snap.priority.size());
    for (const auto& r : snap.normal) normal.push_back(EncodeMessage(r, 0));
    for (const auto& r : snap.priority) priority.push_back(EncodeMessage(r, 0));
    log_.Restore(std::move(normal), snap.evicted_normal_seq, std::move(priority),
                 snap.evicted_priority_seq, snap.head_seq);
    assigned_ = snap.head_seq;
  }
  RunQueued();
}

void Room::RunQueued() {
  auto queued = std::move(queued_);
  queued_.clear();
  for (auto& op : queued) op();
}

bool Room::Ready() {
  last_activity_ms_ = TimerWheel::NowMs();
  return state_ == State::kReady;
}

// --- online --------------------------------------------------------------------------------

OnlineEntry& Room::TouchOnline(const std::string& user, int64_t now_ms) {
  auto [it, inserted] = online_.try_emplace(user);
  OnlineEntry& e = it->second;
  if (inserted) {
    e.user = &it->first;
    e.tokens = host_.settings().send_burst;
    e.refill_ms = now_ms;
  } else {
    lru_.erase(lru_.iterator_to(e));
    if (e.left) {
      e.left = false;
      --left_count_;
    }
  }
  e.last_seen_ms = now_ms;
  lru_.push_back(e);
  return e;
}

OnlineEntry* Room::FindOnline(const std::string& user) {
  auto it = online_.find(user);
  if (it == online_.end() || it->second.left) return nullptr;
  return &it->second;
}

void Room::EraseOnline(OnlineEntry& entry) {
  if (entry.lru_hook.is_linked()) lru_.erase(lru_.iterator_to(entry));
  if (entry.left) --left_count_;
  online_.erase(*entry.user);
}

// A poll of `entry`'s user ended: they were seen now.
void Room::ReleaseUser(OnlineEntry* entry, int64_t now_ms) {
  if (!entry) return;
  --entry->held;
  if (entry->left) {
    if (entry->held == 0) EraseOnline(*entry);
    return;
  }
  entry->last_seen_ms = now_ms;
  lru_.erase(lru_.iterator_to(*entry));
  lru_.push_back(*entry);
}

bool Room::Sweep(int64_t now_ms, int64_t idle_unload_ms) {
  assert(host_.loop().InLoop());  // a room is touched only on its home loop
  int64_t ttl = host_.settings().online_ttl_ms;
  while (!lru_.empty()) {
    OnlineEntry& e = lru_.front();
    if (e.last_seen_ms + ttl > now_ms) break;
    if (e.held > 0) {
      // Still polling: online for as long as the poll is held.
      e.last_seen_ms = now_ms;
      lru_.pop_front();
      lru_.push_back(e);
      continue;
    }
    EraseOnline(e);
  }
  RefreshEdges();
  if (state_ != State::kReady || pending_io_ > 0 || held_count_ > 0 || !edges_.empty() ||
      !queued_.empty() || wake_scheduled_) {
    return false;
  }
  if (!exists_) return true;  // a room that was asked for and does not exist
  return online_.empty() && now_ms - last_activity_ms_ >= idle_unload_ms;
}

// --- join / leave --------------------------------------------------------------------------

void Room::Join(Caller caller, JoinArgs args) {
  assert(host_.loop().InLoop());  // a room is touched only on its home loop
  if (!Ready()) {
    return queued_.push_back([this, caller, args]() mutable { Join(std::move(caller), args); });
  }
  if (load_failed_) return ReplyError(caller, StoreFailed());
  if (!exists_) {
    if (!host_.settings().auto_create) return ReplyError(caller, RoomNotFound());
    // Create it durably before answering, so the room exists after a restart.
    state_ = State::kCreating;
    created_ms_ = WallNowMs();
    queued_.push_back([this, caller, args]() mutable { Join(std::move(caller), args); });
    ++pending_io_;
    auto req = std::make_unique<store::WriteRequest>();
    req->room = id_;
    req->head_seq = 0;
    req->created_ms = created_ms_;
    Loop& loop = host_.loop();
    req->done = [this, &loop](Status s) {
      loop.Post([this, s = std::move(s)]() mutable { OnCreated(std::move(s)); });
    };
    host_.store().Submit(std::move(req));
    return;
  }
  TouchOnline(caller.user, TimerWheel::NowMs());
  RefreshEdges();  // their answers carry the online count
  auto messages = log_.Backlog(args.backlog);
  ResponseFields f;
  f.room = id_;
  f.cursor = EncodeCursorFor({log_.head(), log_.head()});
  f.messages = &messages;
  f.is_poll = false;
  f.online = online();
  Reply(caller, BuildMessagesResponse(f, caller.format));
}

void Room::OnCreated(Status status) {
  --pending_io_;
  state_ = State::kReady;
  if (!status.ok()) {
    spdlog::error("room {}: create failed: {}", id_, status.error().message);
    load_failed_ = true;
    RunQueued();
    load_failed_ = false;
    return;
  }
  exists_ = true;
  RunQueued();
}

void Room::Leave(Caller caller) {
  assert(host_.loop().InLoop());  // a room is touched only on its home loop
  if (!Ready()) {
    return queued_.push_back([this, caller]() mutable { Leave(std::move(caller)); });
  }
  if (load_failed_) return ReplyError(caller, StoreFailed());
  if (!exists_) return ReplyError(caller, RoomNotFound());
  auto it = online_.find(caller.user);
  if (it != online_.end() && !it->second.left) {
    OnlineEntry& e = it->second;
    if (e.held > 0) {
      // A poll of theirs is still held: it keeps the entry until it ends, uncounted.
      e.left = true;
      ++left_count_;
      lru_.erase(lru_.iterator_to(e));
    } else {
      EraseOnline(e);
    }
    RefreshEdges();
  }
  Reply(caller, MakeEmptyWire(204));
}

// --- send ----------------------------------------------------------------------------------

WirePtr Room::SendResponse(uint64_t seq, bool duplicate, BodyFormat format) {
  if (format == BodyFormat::kProtobuf) {
    api::SendResponse r;
    r.set_seq(seq);
    r.set_duplicate(duplicate);
    return MakeWire(200, "application/x-protobuf", r.SerializeAsString());
  }
  std::string body = "{\"seq\":\"" + std::to_string(seq) + "\",\"duplicate\":";
  body += duplicate ? "true}" : "false}";
  return MakeWire(200, "application/json", std::move(body));
}

void Room::Send(Caller caller, SendArgs args) {
  assert(host_.loop().InLoop());  // a room is touched only on its home loop
  if (!Ready()) {
    return queued_.push_back(
        [this, caller, args]() mutable { Send(std::move(caller), std::move(args)); });
  }
  if (load_failed_) return ReplyError(caller, StoreFailed());
  if (!exists_) return ReplyError(caller, RoomNotFound());
  const RoomSettings& settings = host_.settings();
  if (!caller.admin) {
    OnlineEntry* entry = FindOnline(caller.user);
    if (!entry) return ReplyError(caller, MakeError(ErrorCode::kNotJoined, "join the room first"));
    if (args.priority) {
      return ReplyError(caller,
                        MakeError(ErrorCode::kForbidden, "priority messages need admin rights"));
    }
    if (settings.send_rate_per_s > 0) {
      int64_t now = TimerWheel::NowMs();
      entry->tokens = std::min<double>(
          settings.send_burst,
          entry->tokens + (now - entry->refill_ms) * settings.send_rate_per_s / 1000.0);
      entry->refill_ms = now;
      if (entry->tokens < 1) {
        int wait_s = static_cast<int>((1 - entry->tokens) / settings.send_rate_per_s) + 1;
        return ReplyError(caller,
                          MakeError(ErrorCode::kRateLimited, "sending too fast", wait_s));
      }
      entry->tokens -= 1;
    }
  }
  if (!args.client_msg_id) return Accept(std::move(caller), std::move(args), std::nullopt);

  std::string key = caller.user;
  key += '\0';
  key += *args.client_msg_id;
  auto it = dedup_.find(key);
  if (it != dedup_.end() && (it->second.stage != DedupEntry::Stage::kDone ||
                             WallNowMs() - it->second.at_ms < settings.dedup_window_ms)) {
    DedupEntry& e = it->second;
    if (e.stage == DedupEntry::Stage::kDone) {
      return Reply(caller, SendResponse(e.seq, true, caller.format));
    }
    e.repeats.push_back(std::move(caller));
    return;
  }
  DedupEntry& e = dedup_[key];
  e = DedupEntry{};
  e.at_ms = WallNowMs();
  if (keys_in_store_) {
    e.stage = DedupEntry::Stage::kLookup;
    std::string cmid = *args.client_msg_id;
    e.first.emplace(std::move(caller), std::move(args));
    ++pending_io_;
    Loop& loop = host_.loop();
    host_.store().LookupDedup(
        id_, e.first->first.user, std::move(cmid),
        [this, &loop, key](Result<std::optional<uint64_t>> found) {
          loop.Post([this, key, found = std::move(found)]() mutable {
            OnDedupLookup(key, std::move(found));
          });
        });
    return;
  }
  e.stage = DedupEntry::Stage::kPending;
  RememberKey(key);
  Accept(std::move(caller), std::move(args), std::move(key));
}

void Room::OnDedupLookup(const std::string& key, Result<std::optional<uint64_t>> found) {
  --pending_io_;
  auto it = dedup_.find(key);
  if (it == dedup_.end() || !it->second.first) return;
  DedupEntry& e = it->second;
  auto [caller, args] = std::move(*e.first);
  e.first.reset();
  if (!found.ok()) {
    auto repeats = std::move(e.repeats);
    dedup_.erase(it);
    ReplyError(caller, StoreFailed());
    for (auto& r : repeats) ReplyError(r, StoreFailed());
    return;
  }
  RememberKey(key);
  if (found.value()) {
    e.stage = DedupEntry::Stage::kDone;
    e.seq = *found.value();
    auto repeats = std::move(e.repeats);
    e.repeats.clear();
    Reply(caller, SendResponse(e.seq, true, caller.format));
    for (auto& r : repeats) Reply(r, SendResponse(e.seq, true, r.format));
    return;
  }
  e.stage = DedupEntry::Stage::kPending;
  Accept(std::move(caller), std::move(args), key);
}

void Room::RememberKey(const std::string& key) {
  dedup_order_.push_back(key);
  // Bound memory: forget the oldest settled keys; the store still knows them.
  int64_t now = WallNowMs();
  int64_t window = host_.settings().dedup_window_ms;
  while (!dedup_order_.empty()) {
    auto it = dedup_.find(dedup_order_.front());
    bool over = dedup_order_.size() > host_.settings().dedup_memory_entries;
    if (it != dedup_.end()) {
      bool settled = it->second.stage == DedupEntry::Stage::kDone;
      bool expired = now - it->second.at_ms >= window;
      if (!settled || (!over && !expired)) break;
      dedup_.erase(it);
      keys_in_store_ = true;
    }
    dedup_order_.pop_front();
  }
}

void Room::Accept(Caller caller, SendArgs args, std::optional<std::string> dedup_key) {
  SharedRoomState& shared = host_.shared();
  if (shared.pending_writes.load(std::memory_order_relaxed) >=
      host_.settings().max_pending_writes) {
    Error busy = MakeError(ErrorCode::kOverloaded, "the store is behind; retry", 1);
    if (dedup_key) {
      auto it = dedup_.find(*dedup_key);
      if (it != dedup_.end()) {
        for (auto& r : it->second.repeats) ReplyError(r, busy);
        dedup_.erase(it);
      }
    }
    return ReplyError(caller, busy);
  }
  store::MessageRecord record;
  record.seq = ++assigned_;
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
  req->created_ms = created_ms_;
  req->message = std::move(record);
  ++pending_io_;
  shared.pending_writes.fetch_add(1, std::memory_order_relaxed);
  Loop& loop = host_.loop();
  req->done = [this, &loop, caller = std::move(caller), message = std::move(message),
               dedup_key = std::move(dedup_key)](Status s) mutable {
    loop.Post([this, caller = std::move(caller), message = std::move(message),
               dedup_key = std::move(dedup_key), s = std::move(s)]() mutable {
      OnDurable(std::move(caller), std::move(message), std::move(dedup_key), std::move(s));
    });
  };
  host_.store().Submit(std::move(req));
}

void Room::OnDurable(Caller caller, MessagePtr message, std::optional<std::string> dedup_key,
                     Status status) {
  --pending_io_;
  host_.shared().pending_writes.fetch_sub(1, std::memory_order_relaxed);
  DedupEntry* entry = nullptr;
  if (dedup_key) {
    auto it = dedup_.find(*dedup_key);
    if (it != dedup_.end()) entry = &it->second;
  }
  if (!status.ok()) {
    // The seq was handed out but not stored. Later seqs may already be in flight, so the
    // room cannot hand it out again: it reloads from the store's durable head instead.
    spdlog::error("room {}: write of seq {} failed: {}", id_, message->seq,
                  status.error().message);
    ReplyError(caller, StoreFailed());
    if (entry) {
      for (auto& r : entry->repeats) ReplyError(r, StoreFailed());
      dedup_.erase(*dedup_key);
    }
    return;
  }
  uint64_t seq = message->seq;
  log_.Append(std::move(message));
  host_.metrics().messages_accepted.fetch_add(1, std::memory_order_relaxed);
  Reply(caller, SendResponse(seq, false, caller.format));
  if (entry) {
    entry->stage = DedupEntry::Stage::kDone;
    entry->seq = seq;
    for (auto& r : entry->repeats) Reply(r, SendResponse(seq, true, r.format));
    entry->repeats.clear();
  }
  ScheduleWake();
}

// --- poll ----------------------------------------------------------------------------------

void Room::Poll(Caller caller, PollArgs args) {
  assert(host_.loop().InLoop());  // a room is touched only on its home loop
  if (!Ready()) {
    return queued_.push_back([this, caller, args]() mutable { Poll(std::move(caller), args); });
  }
  if (load_failed_) return ReplyError(caller, StoreFailed());
  if (!exists_) return ReplyError(caller, RoomNotFound());
  int64_t now = TimerWheel::NowMs();
  OnlineEntry& user = TouchOnline(caller.user, now);
  RefreshEdges();
  Cursor cursor = args.cursor.value_or(Cursor{log_.head(), log_.head()});
  if (!log_.Valid(cursor)) {
    return ReplyError(caller, MakeError(ErrorCode::kBadCursor, "cursor is ahead of the room"));
  }
  if (cursor.priority < log_.evicted_priority_seq()) {
    return PollFromStore(std::move(caller), cursor, args.limit);
  }
  if (log_.HasUnread(cursor) || args.timeout_ms == 0 ||
      host_.shared().draining.load(std::memory_order_relaxed)) {
    return AnswerNow(caller, cursor, args.limit);
  }
  const RoomSettings& settings = host_.settings();
  Error busy = MakeError(ErrorCode::kOverloaded, "too many held polls", 1);
  if (Full()) return ReplyError(caller, busy);
  // Taken before the check, so that loops holding polls at once cannot pass the bound.
  auto& held_polls = host_.shared().held_polls;
  if (held_polls.fetch_add(1, std::memory_order_relaxed) >=
      static_cast<int64_t>(settings.max_held_polls)) {
    held_polls.fetch_sub(1, std::memory_order_relaxed);
    return ReplyError(caller, busy);
  }
  Hold(std::move(caller), cursor, args.limit, args.timeout_ms, user);
}

void Room::AnswerNow(const Caller& caller, Cursor cursor, uint32_t limit) {
  Reply(caller, ReadAnswer(cursor, limit, caller.format, online()));
}

WirePtr Room::ReadAnswer(Cursor cursor, uint32_t limit, BodyFormat format, int64_t online) {
  ReadResult r = log_.Read(cursor, limit);
  ResponseFields f;
  f.room = id_;
  f.cursor = EncodeCursorFor(r.next);
  f.messages = &r.messages;
  f.gap = r.gap;
  f.online = online;
  return BuildMessagesResponse(f, format);
}

void Room::PollFromStore(Caller caller, Cursor cursor, uint32_t limit) {
  ++pending_io_;
  Loop& loop = host_.loop();
  // Every message visible now is durable, so the read covers the priority stream up to here
  // at least; one that becomes visible while it runs may be missing from it.
  const uint64_t covered = log_.head();
  host_.store().PriorityAfter(
      id_, cursor.priority, limit,
      [this, &loop, caller = std::move(caller), cursor, limit,
       covered](Result<std::vector<store::MessageRecord>> records) mutable {
        loop.Post([this, caller = std::move(caller), cursor, limit, covered,
                   records = std::move(records)]() mutable {
          --pending_io_;
          if (!records.ok()) return ReplyError(caller, StoreFailed());
          // Priority from the store (it holds every unread one, in order), then the normal
          // part from the window, as a live read would.
          std::vector<MessagePtr> owned;
          ReadResult r;
          r.next = cursor;
          for (const auto& rec : records.value()) {
            if (rec.seq > log_.head()) break;  // durable but not yet visible here
            owned.push_back(EncodeMessage(rec, 0));
            r.messages.push_back(owned.back().get());
          }
          size_t taken = r.messages.size();
          // All unread priority up to `covered` was read, and what was taken is contiguous
          // from the cursor; past both, a message may have landed during the read.
          uint64_t last = taken ? r.messages.back()->seq : cursor.priority;
          r.next.priority = taken < limit ? std::max(covered, last) : last;
          log_.ReadNormal(cursor, limit - taken, r);
          ResponseFields f;
          f.room = id_;
          f.cursor = EncodeCursorFor(r.next);
          f.messages = &r.messages;
          f.gap = r.gap;
          f.online = online();
          Reply(caller, BuildMessagesResponse(f, caller.format));
        });
      });
}

void Room::Hold(Caller caller, Cursor cursor, uint32_t limit, uint32_t timeout_ms,
                OnlineEntry& user) {
  if (Edge* edge = caller.client->edge()) SubscribeEdge(*edge, {limit, caller.format});
  HeldPoll& h = caller.client->held;
  assert(!h.room_hook.is_linked());
  h.room = this;
  h.user = &user;
  h.serial = caller.serial;
  h.cursor = cursor;
  h.limit = limit;
  h.format = caller.format;
  h.fire = &Room::OnHeldTimeout;
  h.keepalive = std::move(caller.client);
  ++user.held;
  held_.push_back(h);
  ++held_count_;  // the process-wide count was taken by Poll
  host_.metrics().held_polls.fetch_add(1, std::memory_order_relaxed);
  host_.wheel().Schedule(h, TimerWheel::NowMs() + timeout_ms);
}

void Room::Unhold(HeldPoll& h) {
  held_.erase(held_.iterator_to(h));
  host_.wheel().Cancel(h);
  --held_count_;
  host_.shared().held_polls.fetch_sub(1, std::memory_order_relaxed);
  host_.metrics().held_polls.fetch_sub(1, std::memory_order_relaxed);
  OnlineEntry* user = h.user;
  h.user = nullptr;
  h.room = nullptr;
  ReleaseUser(user, TimerWheel::NowMs());
}

WirePtr Room::TimeoutResponse(const HeldPoll& h) {
  std::vector<const EncodedMessage*> none;
  ResponseFields f;
  f.room = id_;
  f.cursor = EncodeCursorFor(h.cursor);
  f.messages = &none;
  f.online = online();
  return BuildMessagesResponse(f, h.format);
}

void Room::OnHeldTimeout(TimerNode* node) {
  // The wheel has already unlinked the node; Unhold's cancel is then a no-op.
  auto& h = static_cast<HeldPoll&>(*node);
  Room* room = h.room;
  WirePtr response = room->TimeoutResponse(h);
  ClientPtr client = std::move(h.keepalive);
  uint64_t serial = h.serial;
  room->Unhold(h);
  PostDeliver(std::move(client), serial, std::move(response));
}

void Room::CancelPoll(Client& client, uint64_t serial) {
  assert(host_.loop().InLoop());  // a room is touched only on its home loop
  HeldPoll& h = client.held;
  if (!h.room_hook.is_linked() || h.serial != serial || h.room != this) return;
  ClientPtr keep = std::move(h.keepalive);
  Unhold(h);
}

void Room::ReleaseAllHeld() {
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

void Room::ScheduleWake() {
  if (wake_scheduled_) return;
  wake_scheduled_ = true;
  // Deferred so that completions of one store batch, posted back to back, wake once.
  host_.loop().Post([this] {
    wake_scheduled_ = false;
    WakeHeld();
  });
}

WirePtr Room::CachedRead(ResponseCache& cache, Cursor cursor, uint32_t limit,
                        BodyFormat format) {
  for (const auto& c : cache.entries) {
    if (c.cursor == cursor && c.limit == limit && c.format == format) return c.response;
  }
  WirePtr response = ReadAnswer(cursor, limit, format, cache.online);
  if (cache.entries.size() < 64) cache.entries.push_back({cursor, limit, format, response});
  return response;
}

void Room::WakeHeld() {
  assert(host_.loop().InLoop());  // a room is touched only on its home loop
  // Waiters with the same cursor, limit and format get the very same bytes: encode once.
  ResponseCache cache;
  cache.online = online();
  DeliveryBatch batch;
  for (auto it = held_.begin(); it != held_.end();) {
    HeldPoll& h = *it++;
    if (!log_.HasUnread(h.cursor)) continue;
    if (h.cursor.priority < log_.evicted_priority_seq()) {
      // More priority messages arrived than the list holds since this poll began: the
      // oldest unread ones are only in the store now.
      Caller caller{std::move(h.keepalive), h.serial, *h.user->user, false, h.format};
      Cursor cursor = h.cursor;
      uint32_t limit = h.limit;
      Unhold(h);
      PollFromStore(std::move(caller), cursor, limit);
      continue;
    }
    WirePtr response = CachedRead(cache, h.cursor, h.limit, h.format);
    ClientPtr client = std::move(h.keepalive);
    uint64_t serial = h.serial;
    Unhold(h);
    batch.Add(std::move(client), serial, std::move(response));
  }
  batch.Flush();
  NotifyEdges(cache);
}

// --- edges ---------------------------------------------------------------------------------

int64_t Room::edge_held() const {
  int64_t n = 0;
  for (const auto& sub : edges_) n += sub.held;
  return n;
}

bool Room::Full() const {
  return static_cast<int64_t>(held_count_) + edge_held() >=
         static_cast<int64_t>(host_.settings().max_held_polls_per_room);
}

void Room::SubscribeEdge(Edge& edge, EdgeGroup group) {
  EdgeSub* sub = nullptr;
  for (auto& s : edges_) {
    if (s.edge == &edge) sub = &s;
  }
  bool fresh = !sub;
  if (fresh) {
    sub = &edges_.emplace_back();
    sub->edge = &edge;
    sub->gen = next_edge_gen.fetch_add(1, std::memory_order_relaxed);
    sub->sent_head = {log_.head(), log_.head()};
    sub->prev_head = sub->sent_head;
    sub->sent_online = online();
    sub->sent_full = Full();
  } else if (std::find(sub->groups.begin(), sub->groups.end(), group) != sub->groups.end() ||
             sub->groups.size() >= host_.settings().edge_max_groups) {
    return;
  }
  sub->groups.push_back(group);
  EdgeState state{sub->gen, sub->sent_head, sub->sent_online, sub->sent_full};
  Loop::Send(edge.loop(), [e = &edge, room = id_, state, groups = sub->groups, fresh]() mutable {
    e->Subscribed(room, state, std::move(groups), fresh);
  });
}

void Room::NotifyEdges(ResponseCache& cache) {
  Cursor head{log_.head(), log_.head()};
  // Every waiter of an edge that is told of this growth is answered by it: count none for it
  // before telling anyone whether the room is full.
  for (auto& sub : edges_) {
    if (!(sub.sent_head == head)) sub.held = 0;
  }
  bool full = Full();
  for (auto& sub : edges_) {
    if (sub.sent_head == head) continue;
    EdgeResponses responses;
    responses.reserve(2 * sub.groups.size());
    // From the head the edge knew, for its waiters; from the one before, for polls that
    // were answered at that head and come back after this growth. Past the priority list, a
    // reader's unread priority messages are only in the store: no response from there (the
    // edge sends such waiters back here as ordinary polls).
    const bool has_prev = !(sub.prev_head == sub.sent_head);
    for (Cursor from : {sub.sent_head, sub.prev_head}) {
      if (from.priority >= log_.evicted_priority_seq()) {
        for (const auto& g : sub.groups) {
          responses.push_back({from, g, CachedRead(cache, from, g.limit, g.format)});
        }
      }
      if (!has_prev) break;
    }
    sub.prev_head = sub.sent_head;
    sub.sent_head = head;
    sub.sent_online = cache.online;
    sub.sent_full = full;
    EdgeState state{sub.gen, head, cache.online, full};
    Loop::Send(sub.edge->loop(), [e = sub.edge, room = id_, state,
                                  responses = std::move(responses)]() mutable {
      e->Grew(room, state, std::move(responses));
    });
  }
}

void Room::RefreshEdges() {
  if (edges_.empty()) return;
  int64_t now_online = online();
  bool full = Full();
  for (auto& sub : edges_) {
    if (sub.sent_online == now_online && sub.sent_full == full) continue;
    sub.sent_online = now_online;
    sub.sent_full = full;
    EdgeState state{sub.gen, sub.sent_head, now_online, full};
    Loop::Send(sub.edge->loop(), [e = sub.edge, room = id_, state] { e->Changed(room, state); });
  }
}

void Room::OnEdgeReport(EdgeReport report) {
  assert(host_.loop().InLoop());  // a room is touched only on its home loop
  if (state_ != State::kReady || !exists_) return;
  last_activity_ms_ = TimerWheel::NowMs();
  int64_t now = TimerWheel::NowMs();
  for (const auto& user : report.polled) TouchOnline(user, now);
  for (const auto& user : report.still_held) {
    // Keeps a user online while the edge holds their poll; a user who left stays gone.
    auto it = online_.find(user);
    if (it == online_.end() || it->second.left) continue;
    OnlineEntry& e = it->second;
    e.last_seen_ms = now;
    lru_.erase(lru_.iterator_to(e));
    lru_.push_back(e);
  }
  for (auto& sub : edges_) {
    if (sub.edge != report.edge || sub.gen != report.gen) continue;
    // A report from before the edge saw the latest growth counts waiters that growth answers.
    if (report.head == sub.sent_head) sub.held = report.held;
  }
  if (!report.polled.empty() || !report.still_held.empty()) RefreshEdges();
}

void Room::OnEdgeUnsubscribe(Edge* edge, uint64_t gen) {
  assert(host_.loop().InLoop());  // a room is touched only on its home loop
  std::erase_if(edges_, [&](const EdgeSub& s) { return s.edge == edge && s.gen == gen; });
}

}  // namespace chatroomd::room
