#include "chatroomd/common/error.h"

namespace chatroomd {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kBadCursor:
      return "bad_cursor";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kMuted:
      return "muted";
    case ErrorCode::kNotJoined:
      return "not_joined";
    case ErrorCode::kKicked:
      return "kicked";
    case ErrorCode::kRoomNotFound:
      return "room_not_found";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kMethodNotAllowed:
      return "method_not_allowed";
    case ErrorCode::kPayloadTooLarge:
      return "payload_too_large";
    case ErrorCode::kHeadersTooLarge:
      return "headers_too_large";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kOverloaded:
      return "overloaded";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

int ErrorHttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
    case ErrorCode::kBadCursor:
      return 400;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kForbidden:
    case ErrorCode::kMuted:
    case ErrorCode::kNotJoined:
    case ErrorCode::kKicked:
      return 403;
    case ErrorCode::kRoomNotFound:
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kHeadersTooLarge:
      return 431;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kOverloaded:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

}  // namespace chatroomd
