#include "http/body.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>
#include <limits>

namespace chatroomd::http {
namespace {

namespace json = boost::json;

Error Bad(std::string message) { return MakeError(ErrorCode::kBadRequest, std::move(message)); }

Result<json::object*> ParseObject(std::string_view body, bool empty_ok, json::value& holder) {
  if (empty_ok && body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    holder = json::object();
    return &holder.as_object();
  }
  boost::system::error_code ec;
  holder = json::parse(body, ec);
  if (ec) return Bad("body is not valid JSON: " + ec.message());
  if (!holder.is_object()) return Bad("body must be a JSON object");
  return &holder.as_object();
}

// proto3 JSON: an integer field takes a JSON number with an integral value, or a decimal
// string.
Result<int64_t> Integer(std::string_view field, const json::value& v, int64_t lo, int64_t hi) {
  int64_t out = 0;
  bool ok = false;
  if (v.is_int64()) {
    out = v.as_int64();
    ok = true;
  } else if (v.is_uint64()) {
    ok = v.as_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    out = static_cast<int64_t>(v.as_uint64());
  } else if (v.is_double()) {
    // In range before the conversion: converting a double past int64 is undefined (found by
    // fuzz/json_body_fuzz.cc: {"backlog":999999999999999999999}).
    const double d = v.as_double();
    ok = d >= -9e18 && d <= 9e18 && d == std::trunc(d);
    if (ok) out = static_cast<int64_t>(d);
  } else if (v.is_string()) {
    std::string_view s = v.as_string();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    ok = !s.empty() && ec == std::errc() && end == s.data() + s.size();
  }
  if (!ok) return Bad(std::string(field) + " must be an integer");
  if (out < lo || out > hi) {
    return Bad(std::string(field) + " must be from " + std::to_string(lo) + " to " +
               std::to_string(hi));
  }
  return out;
}

Result<std::string_view> String(std::string_view field, const json::value& v) {
  if (!v.is_string()) return Bad(std::string(field) + " must be a string");
  return std::string_view(v.as_string());
}

}  // namespace

Status ParseJoinJson(std::string_view body, bool empty_ok, api::JoinRequest& out) {
  json::value holder;
  auto obj = ParseObject(body, empty_ok, holder);
  if (!obj) return obj.take_error();
  for (const auto& [key, value] : **obj) {
    if (value.is_null()) continue;
    if (key == "backlog") {
      // The API's range (the router checks it again for binary bodies).
      auto n = Integer("backlog", value, 0, 200);
      if (!n) return n.take_error();
      out.set_backlog(static_cast<int32_t>(*n));
    }
  }
  return OkStatus();
}

Status ParseSendJson(std::string_view body, api::SendRequest& out) {
  json::value holder;
  auto obj = ParseObject(body, false, holder);
  if (!obj) return obj.take_error();
  for (const auto& [key, value] : **obj) {
    if (value.is_null()) continue;
    if (key == "body") {
      auto s = String("body", value);
      if (!s) return s.take_error();
      out.set_body(std::string(*s));
    } else if (key == "type") {
      auto s = String("type", value);
      if (!s) return s.take_error();
      out.set_type(std::string(*s));
    } else if (key == "client_msg_id") {
      auto s = String("client_msg_id", value);
      if (!s) return s.take_error();
      out.set_client_msg_id(std::string(*s));
    } else if (key == "priority") {
      if (!value.is_bool()) return Bad("priority must be true or false");
      out.set_priority(value.as_bool());
    }
  }
  return OkStatus();
}

Status ParseModerateJson(std::string_view body, api::ModerateRequest& out) {
  json::value holder;
  auto obj = ParseObject(body, false, holder);
  if (!obj) return obj.take_error();
  for (const auto& [key, value] : **obj) {
    if (value.is_null()) continue;
    if (key == "user") {
      auto s = String("user", value);
      if (!s) return s.take_error();
      out.set_user(std::string(*s));
    } else if (key == "seconds") {
      auto n = Integer("seconds", value, std::numeric_limits<int64_t>::min(),
                       std::numeric_limits<int64_t>::max());
      if (!n) return n.take_error();
      out.set_seconds(*n);
    }
  }
  return OkStatus();
}

Status ParsePlaceJson(std::string_view body, api::PlaceRequest& out) {
  json::value holder;
  auto obj = ParseObject(body, false, holder);
  if (!obj) return obj.take_error();
  for (const auto& [key, value] : **obj) {
    if (value.is_null()) continue;
    if (key == "vip") {
      if (!value.is_bool()) return Bad("vip must be true or false");
      out.set_vip(value.as_bool());
    }
  }
  return OkStatus();
}

}  // namespace chatroomd::http
