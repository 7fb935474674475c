// A room's moderation: mutes and kicks (durable before they take effect, restored when the room
// loads) and retractions (the message leaves the store and the log in the same write that
// appends its notice, a priority message of type `retract`).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "chatroomd/common/ids.h"
#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "room/edge_subscriptions.h"
#include "room/moderation.h"
#include "room/room_errors.h"
#include "room/room_online.h"

namespace chatroomd::room {

std::optional<Error> Room::Refusal(const std::string& user, bool sending) const {
  if (!moderation_->any_kicked() && (!sending || !moderation_->any_muted())) return std::nullopt;
  const int64_t now = WallNowMs();
  if (auto until = moderation_->KickedUntil(user, now)) return KickedError(*until, now);
  if (!sending) return std::nullopt;
  if (auto until = moderation_->MutedUntil(user, now)) return MutedError(*until, now);
  return std::nullopt;
}

void Room::DoModerate(Caller caller, const ModerateArgs& args) {
  const RoomSettings& s = host_->settings();
  const int64_t now = WallNowMs();
  store::ModerationRecord record;
  record.room = id_;
  record.kind = args.kind == ModerateArgs::Kind::kKick ? store::ModerationRecord::kKicked
                                                       : store::ModerationRecord::kMuted;
  record.user = args.user;
  record.until_ms = args.seconds == 0 ? 0 : now + int64_t{args.seconds} * 1000;
  if (record.until_ms > 0 &&
      !moderation_->HasRoom(record.kind, record.user, now, s.max_moderated_users)) {
    return ReplyError(
        caller,
        MakeError(ErrorCode::kOverloaded,
                  "the room already has " + std::to_string(s.max_moderated_users) + " users " +
                      (args.kind == ModerateArgs::Kind::kKick ? "kicked" : "muted"),
                  60));
  }
  // Durable first: once answered, it holds after a restart.
  auto req = std::make_unique<store::WriteRequest>();
  req->moderation.push_back(record);
  req->done_loop = &host_->loop();
  ++pending_io_;
  req->done = [this, caller = std::move(caller), record](Status status) {
    OnModerated(caller, record, std::move(status));
  };
  host_->store().Submit(std::move(req));
}

void Room::OnModerated(const Caller& caller, const store::ModerationRecord& record, Status status) {
  AssertOnHomeLoop();
  --pending_io_;
  if (!status.ok()) {
    spdlog::error("room {}: moderation write failed: {}", id_, status.error().message);
    return ReplyError(caller, StoreFailed());
  }
  const int64_t now = WallNowMs();
  moderation_->Set(record.kind, record.user, record.until_ms, now);
  if (record.kind == store::ModerationRecord::kKicked) {
    if (record.until_ms > now) {
      Kick(record.user, record.until_ms);
    } else {
      edges_->Kick(id_, record.user, 0);  // lifted: the edges hold their polls again
    }
  }
  spdlog::info("room {}: {} {} {}", id_, record.user,
               record.kind == store::ModerationRecord::kKicked ? "kicked" : "muted",
               record.until_ms > now ? "until " + std::to_string(record.until_ms) : "lifted");
  Reply(caller, MakeEmptyWire(204));
}

void Room::Kick(const std::string& user, int64_t until_ms) {
  const uint64_t hash = UserHash(user);
  const int64_t now = WallNowMs();
  // Their polls held here, then their place in the table (a held poll keeps it until it ends).
  DeliveryBatch batch;
  for (auto it = held_.begin(); it != held_.end();) {
    HeldPoll& h = *it++;
    if (h.user_hash != hash) continue;
    ClientPtr client = std::move(h.keepalive);
    const uint64_t serial = h.serial;
    const BodyFormat format = h.format;
    Unhold(h);
    batch.Add(std::move(client), serial, MakeErrorWire(KickedError(until_ms, now), format));
  }
  batch.Flush();
  if (online_->Leave(hash)) OnlineChanged();
  // Polls held at the edges; a poll an edge takes before it hears of this is reported to the
  // room, which tells that edge again (OnEdgeReport).
  edges_->Kick(id_, user, until_ms);
}

void Room::DoRetract(Caller caller, const RetractArgs& args) {
  const uint64_t seq = args.seq;
  if (seq == 0 || seq > log_.head() ||
      std::find(retracting_.begin(), retracting_.end(), seq) != retracting_.end()) {
    return ReplyError(caller, MakeError(ErrorCode::kNotFound,
                                        "message " + std::to_string(seq) + " is not in the room"));
  }
  // The sender is checked against the stored message: it holds every visible one.
  retracting_.push_back(seq);
  ++pending_io_;
  host_->store().ReadMessage(id_, seq, &host_->loop(),
                             [this, caller = std::move(caller),
                              seq](Result<std::optional<store::MessageRecord>> found) mutable {
                               OnRetractRead(std::move(caller), seq, std::move(found));
                             });
}

void Room::OnRetractRead(Caller caller, uint64_t seq,
                         Result<std::optional<store::MessageRecord>> found) {
  AssertOnHomeLoop();
  --pending_io_;
  std::optional<Error> refused;
  if (!found.ok()) {
    refused = StoreFailed();
  } else if (!found.value()) {
    refused = MakeError(ErrorCode::kNotFound, "message " + std::to_string(seq) +
                                                  " is not in the room (retracted or "
                                                  "past the retention)");
  } else if (!caller.admin && found.value()->sender != caller.user) {
    refused = MakeError(ErrorCode::kForbidden, "only the sender or an admin may retract a message");
  } else if (found.value()->type == kRetractType) {
    refused = MakeError(ErrorCode::kBadRequest, "a retraction notice cannot be retracted");
  }
  if (refused) {
    EndRetract(seq);
    return ReplyError(caller, *refused);
  }
  SendArgs notice;
  notice.body = std::to_string(seq);
  notice.type = std::string(kRetractType);
  notice.priority = true;
  Accept(std::move(caller), std::move(notice), std::nullopt, seq);
}

void Room::EndRetract(uint64_t seq) { std::erase(retracting_, seq); }

}  // namespace chatroomd::room
