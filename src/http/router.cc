#include <boost/beast/http/field.hpp>

#include <charconv>

#include "chatroomd/common/ids.h"
#include "body.h"
#include "chatroomd/room/message.h"
#include "front.h"
#include "proto/chatroomd/api.pb.h"

namespace chatroomd::http {
namespace {

using metrics::Endpoint;

Error BadRequest(std::string message) {
  return MakeError(ErrorCode::kBadRequest, std::move(message));
}

// A decimal integer in [lo, hi], nothing else (no sign, no spaces).
Result<uint64_t> ParseUint(std::string_view name, std::string_view text, uint64_t lo,
                           uint64_t hi) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < lo ||
      v > hi) {
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

std::string MethodsOf(std::initializer_list<beast_http::verb> verbs) {
  std::string out;
  for (auto v : verbs) {
    if (!out.empty()) out += ", ";
    out += std::string(beast_http::to_string(v));
  }
  return out;
}

WirePtr MethodNotAllowed(std::string allow) {
  Error e = MakeError(ErrorCode::kMethodNotAllowed, "method not allowed; use " + allow);
  auto body = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"" + e.message + "\"}}";
  return MakeWire(405, "application/json", std::move(body), "Allow: " + allow + "\r\n");
}

// What every CORS answer carries besides the origin: clients may read Retry-After.
constexpr std::string_view kCorsExpose = "Access-Control-Expose-Headers: Retry-After\r\n";

}  // namespace

Router::Router(ServerDeps deps, FrontLimits limits)
    : deps_(std::move(deps)),
      limits_(limits),
      max_message_bytes_(deps_.config->main.rooms().max_message_bytes()) {
  for (const std::string& origin : deps_.config->main.http().cors_origins()) {
    if (origin == "*") {
      cors_any_ = "Access-Control-Allow-Origin: *\r\n" + std::string(kCorsExpose);
    } else {
      cors_.emplace_back(origin, "Access-Control-Allow-Origin: " + origin +
                                     "\r\nVary: Origin\r\n" + std::string(kCorsExpose));
    }
  }
}

const std::string* Router::CorsHeaders(const Request& request) const {
  if (request.origin.empty()) return nullptr;  // not a cross-origin (browser) request
  for (const auto& [origin, lines] : cors_) {
    if (IEquals(origin, request.origin)) return &lines;
  }
  return cors_any_.empty() ? nullptr : &cors_any_;
}

namespace {

// A CORS preflight (OPTIONS with Access-Control-Request-Method): which methods and headers a
// browser may use. The allow-origin lines are the connection's, as on every answer.
WirePtr PreflightAnswer(bool allowed) {
  if (!allowed) return MakeEmptyWire(204);
  return MakeEmptyWire(204,
                  "Access-Control-Allow-Methods: GET, POST, HEAD\r\n"
                  "Access-Control-Allow-Headers: Authorization, Content-Type, Accept, X-User-Id\r\n"
                  "Access-Control-Max-Age: 600\r\n");
}

}  // namespace

void Router::CancelPoll(const std::string& room, room::ClientPtr client, uint64_t serial) {
  deps_.rooms->CancelPoll(room, std::move(client), serial);
}

void Router::Handle(Connection& conn, Request& req) {
  auto fail = [&](const Error& e, BodyFormat f = BodyFormat::kJson) {
    conn.ReplyLater(MakeErrorWire(e, f));
  };
  const auto verb = req.method;
  if (verb == beast_http::verb::options && req.cors_preflight && !req.origin.empty()) {
    // A browser asking before the real request; whether the origin may is all it learns.
    return conn.ReplyLater(PreflightAnswer(CorsHeaders(req) != nullptr));
  }
  auto target = ParseTarget(req.target);
  if (!target) {
    // A target we cannot read is malformed HTTP: answer and close.
    conn.CloseAfterAnswer();
    return fail(target.error());
  }
  const auto& segs = target->segments;
  BodyFormat format = req.protobuf_response ? BodyFormat::kProtobuf : BodyFormat::kJson;

  // Operations endpoints: no identity needed. HEAD as GET, without the body (health checks).
  if (segs.size() == 1 && (segs[0] == "healthz" || segs[0] == "readyz" || segs[0] == "metrics")) {
    Endpoint e = segs[0] == "healthz"   ? Endpoint::kHealthz
                 : segs[0] == "readyz" ? Endpoint::kReadyz
                                       : Endpoint::kMetrics;
    conn.set_endpoint(e);
    if (verb != beast_http::verb::get && verb != beast_http::verb::head) {
      return conn.ReplyLater(MethodNotAllowed("GET, HEAD"));
    }
    if (e == Endpoint::kHealthz) return conn.ReplyLater(MakeWire(200, "text/plain", "ok\n"));
    if (e == Endpoint::kReadyz) {
      bool ready = deps_.ready && deps_.ready->load(std::memory_order_relaxed);
      return conn.ReplyLater(ready ? MakeWire(200, "text/plain", "ready\n")
                                   : MakeWire(503, "text/plain", "draining\n", "Retry-After: 1\r\n"));
    }
    std::string extra = deps_.extra_metrics ? deps_.extra_metrics() : std::string();
    return conn.ReplyLater(MakeWire(200, "text/plain; version=0.0.4",
                                    deps_.registry->Render(extra)));
  }

  if (segs.size() != 4 || segs[0] != "v1" || segs[1] != "rooms") {
    return fail(MakeError(ErrorCode::kNotFound, "no such endpoint"), format);
  }
  const std::string room_id(segs[2]);
  const std::string_view action = segs[3];
  Endpoint endpoint;
  if (action == "join") {
    endpoint = Endpoint::kJoin;
    if (verb != beast_http::verb::post) return conn.ReplyLater(MethodNotAllowed("POST"));
  } else if (action == "poll") {
    endpoint = Endpoint::kPoll;
    if (verb != beast_http::verb::get) return conn.ReplyLater(MethodNotAllowed("GET"));
  } else if (action == "leave") {
    endpoint = Endpoint::kLeave;
    if (verb != beast_http::verb::post) return conn.ReplyLater(MethodNotAllowed("POST"));
  } else if (action == "messages") {
    endpoint = verb == beast_http::verb::get ? Endpoint::kHistory : Endpoint::kSend;
    if (verb != beast_http::verb::get && verb != beast_http::verb::post) {
      return conn.ReplyLater(
          MethodNotAllowed(MethodsOf({beast_http::verb::get, beast_http::verb::post})));
    }
  } else {
    return fail(MakeError(ErrorCode::kNotFound, "no such endpoint"), format);
  }
  conn.set_endpoint(endpoint);

  Credentials cred;
  cred.authorization = req.authorization;
  cred.x_user_id = req.x_user_id;
  cred.x_user_id_count = req.x_user_id_count;
  auto who = deps_.auth->Authenticate(cred);
  if (!who) return fail(who.error(), format);
  if (!IsValidRoomId(room_id)) {
    return fail(BadRequest("room id must match [A-Za-z0-9_.:-]{1,128}"), format);
  }

  // Built only where the request goes to a room (a poll the edge holds needs none).
  auto make_caller = [&] {
    conn.front().edge.Flush();  // the room hears of polls held here first
    room::Caller caller;
    caller.client = std::static_pointer_cast<room::Client>(conn.shared_from_this());
    caller.serial = conn.serial();
    caller.user = std::move(who->user);  // called at most once
    caller.admin = who->admin;
    caller.format = format;
    return caller;
  };
  const auto& params = target->params;

  switch (endpoint) {
    case Endpoint::kJoin: {
      api::JoinRequest body;
      auto parsed =
          req.protobuf_body ? ParseProtobuf(req, body) : ParseJoinJson(req.body, true, body);
      if (!parsed) return fail(parsed.error(), format);
      room::JoinArgs args;
      if (body.has_backlog()) {
        if (body.backlog() < 0 || body.backlog() > 200) {
          return fail(BadRequest("backlog must be from 0 to 200"), format);
        }
        args.backlog = static_cast<uint32_t>(body.backlog());
      }
      return deps_.rooms->Join(room_id, make_caller(), args);
    }
    case Endpoint::kPoll: {
      room::PollArgs args;
      for (const auto& [key, value] : params) {
        if (key == "cursor") {
          if (value.size() > kMaxCursorChars) {
            return fail(MakeError(ErrorCode::kBadCursor, "cursor is too long"), format);
          }
          auto c = DecodeCursor(room_id, value);
          if (!c) return fail(c.error(), format);
          args.cursor = *c;
        } else if (key == "timeout_ms") {
          auto v = ParseUint("timeout_ms", value, 0, 60000);
          if (!v) return fail(v.error(), format);
          args.timeout_ms = static_cast<uint32_t>(*v);
        } else if (key == "limit") {
          auto v = ParseUint("limit", value, 1, 1000);
          if (!v) return fail(v.error(), format);
          args.limit = static_cast<uint32_t>(*v);
        }
      }
      // At the room's head, the front loop's edge can hold the poll without the room.
      if (args.cursor && conn.front().edge.TryHold(conn, room_id, *args.cursor, args.limit,
                                                   args.timeout_ms, format, who->user)) {
        return;
      }
      conn.set_poll_room(room_id);
      return deps_.rooms->Poll(room_id, make_caller(), args);
    }
    case Endpoint::kSend: {
      api::SendRequest body;
      auto parsed =
          req.protobuf_body ? ParseProtobuf(req, body) : ParseSendJson(req.body, body);
      if (!parsed) return fail(parsed.error(), format);
      room::SendArgs args;
      if (!IsValidUtf8(body.body())) return fail(BadRequest("body must be UTF-8"), format);
      if (body.body().size() > max_message_bytes_) {
        return fail(MakeError(ErrorCode::kPayloadTooLarge,
                              "message body exceeds " + std::to_string(max_message_bytes_) +
                                  " bytes"),
                    format);
      }
      if (body.has_type() && !IsValidMessageType(body.type())) {
        return fail(BadRequest("type must match [a-z0-9_.-]{1,32}"), format);
      }
      if (body.has_client_msg_id() && !IsValidClientMsgId(body.client_msg_id())) {
        return fail(BadRequest("client_msg_id must be 1 to 128 visible ASCII characters"),
                    format);
      }
      args.body = std::move(*body.mutable_body());
      if (body.has_type()) args.type = body.type();
      args.priority = body.priority();
      if (body.has_client_msg_id()) args.client_msg_id = body.client_msg_id();
      return deps_.rooms->Send(room_id, make_caller(), std::move(args));
    }
    case Endpoint::kLeave:
      return deps_.rooms->Leave(room_id, make_caller());
    case Endpoint::kHistory: {
      std::optional<uint64_t> before;
      uint32_t limit = 50;
      for (const auto& [key, value] : params) {
        if (key == "before") {
          auto v = ParseUint("before", value, 0, UINT64_MAX);
          if (!v) return fail(v.error(), format);
          before = *v;
        } else if (key == "limit") {
          auto v = ParseUint("limit", value, 1, 200);
          if (!v) return fail(v.error(), format);
          limit = static_cast<uint32_t>(*v);
        }
      }
      deps_.store->History(
          room_id, before, limit,
          [caller = make_caller()](Result<store::HistoryPage> page) {
            if (!page) {
              return room::ReplyError(caller, MakeError(ErrorCode::kInternal,
                                                        "the store failed; try again"));
            }
            if (!page->room_exists) {
              return room::ReplyError(caller,
                                      MakeError(ErrorCode::kRoomNotFound, "room does not exist"));
            }
            std::vector<room::MessagePtr> owned;
            owned.reserve(page->messages.size());
            for (const auto& r : page->messages) owned.push_back(room::EncodeMessage(r, 0));
            std::string body;
            if (caller.format == BodyFormat::kProtobuf) {
              api::HistoryResponse h;
              for (const auto& m : owned) h.add_messages()->ParseFromString(m->proto);
              if (page->next_before) h.set_next_before(*page->next_before);
              return room::Reply(caller, MakeWire(200, "application/x-protobuf",
                                                  h.SerializeAsString()));
            }
            body = "{\"messages\":[";
            for (size_t i = 0; i < owned.size(); ++i) {
              if (i) body += ',';
              body += owned[i]->json;
            }
            body += ']';
            if (page->next_before) {
              body += ",\"next_before\":\"" + std::to_string(*page->next_before) + "\"";
            }
            body += '}';
            room::Reply(caller, MakeWire(200, "application/json", std::move(body)));
          });
      return;
    }
    default:
      return fail(MakeError(ErrorCode::kNotFound, "no such endpoint"), format);
  }
}

}  // namespace chatroomd::http
