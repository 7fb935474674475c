// Request bodies: the proto3 JSON mapping (strictly typed) or binary protobuf.
#pragma once

#include <string_view>

#include "chatroomd/common/error.h"
#include "proto/chatroomd/api.pb.h"

namespace chatroomd::http {

// JSON: an object; known fields must have their mapped type (strings are strings, bools are
// true/false, integers are numbers or decimal strings), null means absent, unknown fields
// are ignored. Anything else is bad_request. An empty body is an empty object when
// `empty_ok`.
Status ParseJoinJson(std::string_view body, bool empty_ok, api::JoinRequest& out);
Status ParseSendJson(std::string_view body, api::SendRequest& out);
// `seconds` is range-checked by the caller (the bound is in the config).
Status ParseModerateJson(std::string_view body, api::ModerateRequest& out);
// PUT /v1/admin/rooms/{room}: {"vip": true|false}.
Status ParsePlaceJson(std::string_view body, api::PlaceRequest& out);

}  // namespace chatroomd::http
