#include "http/router.h"

#include <boost/beast/http/field.hpp>
#include <charconv>

#include "chatroomd/common/ids.h"
#include "chatroomd/common/utc_day.h"
#include "chatroomd/web/assets.h"
#include "http/body.h"
#include "http/routes.h"
#include "proto/chatroomd/api.pb.h"

namespace chatroomd::http {
namespace {

namespace beast_http = boost::beast::http;
using metrics::Endpoint;

Error BadRequest(std::string message) {
  return MakeError(ErrorCode::kBadRequest, std::move(message));
}

// /visitors merges at most this many daily counters.
constexpr uint32_t kMaxVisitorDays = 366;

Error NoSuchEndpoint() { return MakeError(ErrorCode::kNotFound, "no such endpoint"); }

// A decimal integer in [lo, hi], nothing else (no sign, no spaces).
Result<uint64_t> ParseUint(std::string_view name, std::string_view text, uint64_t lo, uint64_t hi) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    return BadRequest(std::string(name) + " must be an integer from " + std::to_string(lo) +
                      " to " + std::to_string(hi));
  }
  return v;
}

Status ParseProtobuf(const Request& req, google::protobuf::Message& msg) {
  if (!msg.ParseFromString(req.body)) return BadRequest("body is not a valid protobuf message");
  return OkStatus();
}

bool IsValidClientMsgId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

WirePtr MethodNotAllowed(std::string_view allow, BodyFormat format) {
  std::string allow_line = "Allow: " + std::string(allow) + "\r\n";
  return MakeErrorWire(
      MakeError(ErrorCode::kMethodNotAllowed, "method not allowed; use " + std::string(allow)),
      format, allow_line);
}

// What every CORS answer carries besides the origin: clients may read Retry-After.
constexpr std::string_view kCorsExpose = "Access-Control-Expose-Headers: Retry-After\r\n";

// A CORS preflight (OPTIONS with Access-Control-Request-Method): which methods and headers a
// browser may use. The allow-origin lines are the connection's, as on every answer.
WirePtr PreflightAnswer(bool allowed) {
  if (!allowed) return MakeEmptyWire(204);
  return MakeEmptyWire(204,
                       "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, HEAD\r\n"
                       "Access-Control-Allow-Headers: Authorization, Content-Type, Accept, "
                       "X-User-Id\r\n"
                       "Access-Control-Max-Age: 600\r\n");
}

}  // namespace

Router::Router(ServerDeps deps)
    : deps_(std::move(deps)),
      max_message_bytes_(deps_.config->main.rooms().max_message_bytes()),
      max_moderation_s_(deps_.config->main.rooms().max_moderation_seconds()),
      request_rate_(static_cast<float>(deps_.config->main.http().request_rate_per_s())),
      request_burst_(static_cast<float>(deps_.config->main.http().request_burst())) {
  for (const std::string& origin : deps_.config->main.http().cors_origins()) {
    if (origin == "*") {
      cors_any_ = "Access-Control-Allow-Origin: *\r\n" + std::string(kCorsExpose);
    } else {
      cors_.emplace_back(origin, "Access-Control-Allow-Origin: " + origin + "\r\nVary: Origin\r\n" +
                                     std::string(kCorsExpose));
    }
  }
}

void Router::Reconfigure(const config::Config& config) {
  max_message_bytes_.store(config.rooms().max_message_bytes(), std::memory_order_relaxed);
}

const std::string* Router::CorsHeaders(const Request& request) const {
  if (request.origin.empty()) return nullptr;  // not a cross-origin (browser) request
  for (const auto& [origin, lines] : cors_) {
    if (IEquals(origin, request.origin)) return &lines;
  }
  return cors_any_.empty() ? nullptr : &cors_any_;
}

void Router::CancelPoll(const std::string& room, room::ClientPtr client, uint64_t serial) {
  deps_.rooms->CancelPoll(room, std::move(client), serial);
}

std::optional<int> Router::TakeRequest(RequestBudget& b) const {
  const auto now = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now().time_since_epoch())
                                             .count());
  if (b.tokens < 0) {
    b.tokens = request_burst_;
  } else {
    b.tokens = std::min(request_burst_,
                        b.tokens + static_cast<float>(now - b.refill_ms) * request_rate_ / 1000);
  }
  b.refill_ms = now;
  if (b.tokens < 1) return static_cast<int>((1 - b.tokens) / request_rate_) + 1;
  b.tokens -= 1;
  return std::nullopt;
}

void Router::Fail(RoomRequest& r, const Error& e) { r.ex.ReplyLater(MakeErrorWire(e, r.format)); }

void Router::Handle(Exchange& ex, Request& req) {
  const auto verb = req.method;
  if (verb == beast_http::verb::options && req.cors_preflight && !req.origin.empty()) {
    // A browser asking before the real request; whether the origin may is all it learns.
    return ex.ReplyLater(PreflightAnswer(CorsHeaders(req) != nullptr));
  }
  auto target = ParseTarget(req.target);
  if (!target) {
    // A target we cannot read is malformed HTTP: answer and close.
    ex.CloseAfterAnswer();
    return ex.ReplyLater(MakeErrorWire(target.error(), BodyFormat::kJson));
  }
  const auto& segs = target->segments;
  const BodyFormat format = req.protobuf_response ? BodyFormat::kProtobuf : BodyFormat::kJson;
  if (segs.size() == 1 && IsOpsName(segs[0])) return HandleOps(ex, req, segs[0], format);
  const std::optional<RoomPath> path = ParseRoomPath(segs);
  if (!path) return HandleAsset(ex, req, *target, format);
  const RoomEndpoint* match = nullptr;
  std::string_view allow;
  for (const auto& e : kRoomEndpoints) {
    if (e.shape != path->shape || e.action != path->action) continue;
    allow = e.allow;
    if (e.method == verb) match = &e;
  }
  if (allow.empty()) return ex.ReplyLater(MakeErrorWire(NoSuchEndpoint(), format));
  if (!match) return ex.ReplyLater(MethodNotAllowed(allow, format));
  ex.set_endpoint(match->endpoint);

  RoomRequest r{ex, req, *target, std::string(path->room), format};
  // Before authentication: a flood of bad tokens spends the connection's allowance too.
  if (match->endpoint != Endpoint::kPoll && request_rate_ > 0) {
    if (std::optional<int> wait_s = TakeRequest(ex.budget())) {
      return Fail(
          r, MakeError(ErrorCode::kRateLimited, "too many requests on this connection", *wait_s));
    }
  }
  Credentials cred;
  cred.authorization = req.authorization;
  cred.x_user_id = req.x_user_id;
  cred.x_user_id_count = req.x_user_id_count;
  auto who = deps_.auth->Authenticate(cred);
  if (!who) return Fail(r, who.error());
  if (match->admin && !who->admin) {
    return Fail(r, MakeError(ErrorCode::kForbidden, "this endpoint needs admin rights"));
  }
  if (path->shape != Shape::kAdmin && !IsValidRoomId(r.room)) {
    return Fail(r, BadRequest("room id must match [A-Za-z0-9_.:-]{1,128}"));
  }
  room::Caller caller{ex.self(), ex.serial(), std::move(who->user), who->admin, format};
  switch (match->endpoint) {
    case Endpoint::kJoin:
      return HandleJoin(r, std::move(caller));
    case Endpoint::kPoll:
      return HandlePoll(r, std::move(caller));
    case Endpoint::kSend:
      return HandleSend(r, std::move(caller));
    case Endpoint::kLeave:
      return HandleLeave(r, std::move(caller));
    case Endpoint::kHistory:
      return HandleHistory(r, std::move(caller));
    case Endpoint::kOnline:
      return HandleOnline(r, std::move(caller));
    case Endpoint::kStats:
      return deps_.rooms->Stats(r.room, std::move(caller));
    case Endpoint::kVisitors:
      return HandleVisitors(r, std::move(caller));
    case Endpoint::kRetract:
      return HandleRetract(r, std::move(caller), path->seq);
    case Endpoint::kSects:
      return deps_.rooms->Sects(std::move(caller));
    case Endpoint::kReload: {
      // Two small files read and checked here, on the front loop: rare, and an admin's.
      const Status done =
          deps_.reload ? deps_.reload() : Status(MakeError(ErrorCode::kInternal, "no reload"));
      return r.ex.ReplyLater(done.ok() ? MakeEmptyWire(204) : MakeErrorWire(done.error(), format));
    }
    case Endpoint::kMute:
    case Endpoint::kKick:
      return HandleModerate(r, std::move(caller), match->endpoint == Endpoint::kKick);
    case Endpoint::kPlace:
      return HandlePlace(r, std::move(caller));
    default:
      return Fail(r, NoSuchEndpoint());
  }
}

void Router::HandleOps(Exchange& ex, const Request& req, std::string_view name, BodyFormat format) {
  // HEAD as GET, without the body (health checks).
  Endpoint e = name == "healthz"  ? Endpoint::kHealthz
               : name == "readyz" ? Endpoint::kReadyz
                                  : Endpoint::kMetrics;
  ex.set_endpoint(e);
  if (req.method != beast_http::verb::get && req.method != beast_http::verb::head) {
    return ex.ReplyLater(MethodNotAllowed(kOpsAllow, format));
  }
  if (e == Endpoint::kHealthz) return ex.ReplyLater(MakeWire(200, "text/plain", "ok\n"));
  if (e == Endpoint::kReadyz) {
    bool ready = deps_.ready && deps_.ready->load(std::memory_order_relaxed);
    return ex.ReplyLater(ready ? MakeWire(200, "text/plain", "ready\n")
                               : MakeWire(503, "text/plain", "draining\n", "Retry-After: 1\r\n"));
  }
  std::string extra = deps_.extra_metrics ? deps_.extra_metrics() : std::string();
  ex.ReplyLater(MakeWire(200, "text/plain; version=0.0.4", deps_.registry->Render(extra)));
}

void Router::HandleAsset(Exchange& ex, const Request& req, const Target& target,
                         BodyFormat format) {
  std::string path;
  for (std::string_view s : target.segments) {
    path += '/';
    path += s;
  }
  const web::Asset* asset = web::FindAsset(path);
  if (!asset) return ex.ReplyLater(MakeErrorWire(NoSuchEndpoint(), format));
  ex.set_endpoint(Endpoint::kWeb);
  if (req.method != beast_http::verb::get && req.method != beast_http::verb::head) {
    return ex.ReplyLater(MethodNotAllowed(kOpsAllow, format));
  }
  // Pages run only the daemon's own scripts and talk only to the daemon; nothing frames them.
  constexpr std::string_view kHeaders =
      "X-Content-Type-Options: nosniff\r\n"
      "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
      "frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n"
      "Referrer-Policy: no-referrer\r\n";
  ex.ReplyLater(MakeWire(200, asset->content_type, std::string(asset->body), kHeaders));
}

void Router::HandleJoin(RoomRequest& r, room::Caller caller) {
  api::JoinRequest body;
  auto parsed =
      r.req.protobuf_body ? ParseProtobuf(r.req, body) : ParseJoinJson(r.req.body, true, body);
  if (!parsed) return Fail(r, parsed.error());
  room::JoinArgs args;
  if (body.has_backlog()) {
    if (body.backlog() < 0 || body.backlog() > 200) {
      return Fail(r, BadRequest("backlog must be from 0 to 200"));
    }
    args.backlog = static_cast<uint32_t>(body.backlog());
  }
  deps_.rooms->Join(r.room, std::move(caller), args);
}

void Router::HandlePoll(RoomRequest& r, room::Caller caller) {
  room::PollArgs args;
  for (const auto& [key, value] : r.target.params) {
    if (key == "cursor") {
      if (value.size() > kMaxCursorChars) {
        return Fail(r, MakeError(ErrorCode::kBadCursor, "cursor is too long"));
      }
      auto c = DecodeCursor(r.room, value, &args.not_before_ms);
      if (!c) return Fail(r, c.error());
      args.cursor = *c;
    } else if (key == "timeout_ms") {
      auto v = ParseUint("timeout_ms", value, 0, 60000);
      if (!v) return Fail(r, v.error());
      args.timeout_ms = static_cast<uint32_t>(*v);
    } else if (key == "limit") {
      auto v = ParseUint("limit", value, 1, 1000);
      if (!v) return Fail(r, v.error());
      args.limit = static_cast<uint32_t>(*v);
    }
  }
  deps_.rooms->Poll(r.room, std::move(caller), args);
}

void Router::HandleSend(RoomRequest& r, room::Caller caller) {
  api::SendRequest body;
  auto parsed = r.req.protobuf_body ? ParseProtobuf(r.req, body) : ParseSendJson(r.req.body, body);
  if (!parsed) return Fail(r, parsed.error());
  if (!IsValidUtf8(body.body())) return Fail(r, BadRequest("body must be UTF-8"));
  const uint32_t max_bytes = max_message_bytes_.load(std::memory_order_relaxed);
  if (body.body().size() > max_bytes) {
    return Fail(r, MakeError(ErrorCode::kPayloadTooLarge,
                             "message body exceeds " + std::to_string(max_bytes) + " bytes"));
  }
  if (body.has_type() && !IsValidMessageType(body.type())) {
    return Fail(r, BadRequest("type must match [a-z0-9_.-]{1,32}"));
  }
  if (body.type() == kRetractType) {
    return Fail(r, BadRequest("type retract is the server's own (DELETE the message instead)"));
  }
  if (body.body().empty() && (!body.has_type() || body.type() == "text")) {
    return Fail(r, BadRequest("a text message needs a non-empty body"));
  }
  if (body.has_client_msg_id() && !IsValidClientMsgId(body.client_msg_id())) {
    return Fail(r, BadRequest("client_msg_id must be 1 to 128 visible ASCII characters"));
  }
  room::SendArgs args;
  args.body = std::move(*body.mutable_body());
  if (body.has_type()) args.type = body.type();
  args.priority = body.priority();
  if (body.has_client_msg_id()) args.client_msg_id = body.client_msg_id();
  deps_.rooms->Send(r.room, std::move(caller), std::move(args));
}

void Router::HandleLeave(RoomRequest& r, room::Caller caller) {
  deps_.rooms->Leave(r.room, std::move(caller));
}

void Router::HandleHistory(RoomRequest& r, room::Caller caller) {
  room::HistoryArgs args;
  for (const auto& [key, value] : r.target.params) {
    if (key == "before") {
      auto v = ParseUint("before", value, 0, UINT64_MAX);
      if (!v) return Fail(r, v.error());
      args.before = *v;
    } else if (key == "limit") {
      auto v = ParseUint("limit", value, 1, 200);
      if (!v) return Fail(r, v.error());
      args.limit = static_cast<uint32_t>(*v);
    }
  }
  deps_.rooms->History(r.room, std::move(caller), args);
}

void Router::HandleOnline(RoomRequest& r, room::Caller caller) {
  room::OnlineArgs args;
  for (const auto& [key, value] : r.target.params) {
    if (key == "limit") {
      auto v = ParseUint("limit", value, 0, 1000);
      if (!v) return Fail(r, v.error());
      args.limit = static_cast<uint32_t>(*v);
    }
  }
  deps_.rooms->Online(r.room, std::move(caller), args);
}

void Router::HandleVisitors(RoomRequest& r, room::Caller caller) {
  std::optional<uint32_t> from, to;
  for (const auto& [key, value] : r.target.params) {
    if (key != "from" && key != "to") continue;
    auto day = ParseUtcDay(value);
    if (!day) return Fail(r, BadRequest(std::string(key) + " must be a UTC date YYYY-MM-DD"));
    (key == "from" ? from : to) = day;
  }
  if (!from || !to) return Fail(r, BadRequest("from and to (YYYY-MM-DD) are required"));
  if (*from > *to) return Fail(r, BadRequest("from must not be after to"));
  if (*to - *from + 1 > kMaxVisitorDays) {
    return Fail(r,
                BadRequest("a range covers at most " + std::to_string(kMaxVisitorDays) + " days"));
  }
  deps_.rooms->Visitors(r.room, std::move(caller), room::VisitorsArgs{*from, *to});
}

void Router::HandleRetract(RoomRequest& r, room::Caller caller, std::string_view seq) {
  auto v = ParseUint("seq", seq, 1, UINT64_MAX);
  if (!v) return Fail(r, v.error());
  deps_.rooms->Retract(r.room, std::move(caller), room::RetractArgs{*v});
}

void Router::HandleModerate(RoomRequest& r, room::Caller caller, bool kick) {
  api::ModerateRequest body;
  auto parsed =
      r.req.protobuf_body ? ParseProtobuf(r.req, body) : ParseModerateJson(r.req.body, body);
  if (!parsed) return Fail(r, parsed.error());
  if (!IsValidUserId(body.user())) {
    return Fail(r, BadRequest("user must match [A-Za-z0-9_.:@-]{1,64}"));
  }
  if (!body.has_seconds() || body.seconds() < 0 || body.seconds() > max_moderation_s_) {
    return Fail(
        r, BadRequest("seconds must be from 0 (lift) to " + std::to_string(max_moderation_s_)));
  }
  room::ModerateArgs args;
  args.kind = kick ? room::ModerateArgs::Kind::kKick : room::ModerateArgs::Kind::kMute;
  args.user = std::move(*body.mutable_user());
  args.seconds = static_cast<uint32_t>(body.seconds());
  deps_.rooms->Moderate(r.room, std::move(caller), std::move(args));
}

void Router::HandlePlace(RoomRequest& r, room::Caller caller) {
  api::PlaceRequest body;
  auto parsed = r.req.protobuf_body ? ParseProtobuf(r.req, body) : ParsePlaceJson(r.req.body, body);
  if (!parsed) return Fail(r, parsed.error());
  if (!body.has_vip()) return Fail(r, BadRequest("vip (true or false) is required"));
  deps_.rooms->Place(r.room, std::move(caller), body.vip());
}

}  // namespace chatroomd::http
