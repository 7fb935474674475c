// Private to the front end: the routing table, the one list of what the router serves. The
// router matches requests against it; ServedRoutes() lists it for the OpenAPI document's test.
// Immutable; any thread may read it.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <optional>
#include <ostream>  // boost/beast/http/verb.hpp needs it and does not include it
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/metrics/metrics.h"

namespace chatroomd::http {

using HttpVerb = boost::beast::http::verb;

// Where a room endpoint's path puts the room and the action.
enum class Shape : uint8_t {
  kRoom,       // /v1/rooms/{room}/{action}
  kMessage,    // /v1/rooms/{room}/messages/{seq}
  kAdminRoom,  // /v1/admin/rooms/{room}/{action}
  kPlace,      // /v1/admin/rooms/{room}: where the room lives
  kAdmin,      // /v1/admin/{action}: about the process, no room
};

// The API's endpoints under /v1: the path's shape and action, the method, the handler.
struct RoomEndpoint {
  Shape shape;
  std::string_view action;
  HttpVerb method;
  metrics::Endpoint endpoint;
  std::string_view allow;  // every method the path takes, for 405
  bool admin = false;      // needs admin rights (403 forbidden otherwise)
};
inline constexpr RoomEndpoint kRoomEndpoints[] = {
    {Shape::kRoom, "join", HttpVerb::post, metrics::Endpoint::kJoin, "POST"},
    {Shape::kRoom, "poll", HttpVerb::get, metrics::Endpoint::kPoll, "GET"},
    {Shape::kRoom, "leave", HttpVerb::post, metrics::Endpoint::kLeave, "POST"},
    {Shape::kRoom, "messages", HttpVerb::get, metrics::Endpoint::kHistory, "GET, POST"},
    {Shape::kRoom, "messages", HttpVerb::post, metrics::Endpoint::kSend, "GET, POST"},
    {Shape::kRoom, "online", HttpVerb::get, metrics::Endpoint::kOnline, "GET"},
    {Shape::kRoom, "stats", HttpVerb::get, metrics::Endpoint::kStats, "GET"},
    {Shape::kRoom, "visitors", HttpVerb::get, metrics::Endpoint::kVisitors, "GET"},
    {Shape::kMessage, "messages", HttpVerb::delete_, metrics::Endpoint::kRetract, "DELETE"},
    {Shape::kAdminRoom, "mute", HttpVerb::post, metrics::Endpoint::kMute, "POST", true},
    {Shape::kAdminRoom, "kick", HttpVerb::post, metrics::Endpoint::kKick, "POST", true},
    {Shape::kPlace, "", HttpVerb::put, metrics::Endpoint::kPlace, "PUT", true},
    {Shape::kAdmin, "sects", HttpVerb::get, metrics::Endpoint::kSects, "GET", true},
    {Shape::kAdmin, "reload", HttpVerb::post, metrics::Endpoint::kReload, "POST", true},
};

// The operations endpoints, at /<name>; they and the assets take GET and HEAD.
inline constexpr std::string_view kOpsNames[] = {"healthz", "readyz", "metrics"};
inline constexpr std::string_view kOpsAllow = "GET, HEAD";

inline bool IsOpsName(std::string_view name) {
  for (std::string_view n : kOpsNames) {
    if (n == name) return true;
  }
  return false;
}

// A path under /v1 taken apart: its shape, room (none for kAdmin), action and (kMessage) the
// seq.
struct RoomPath {
  Shape shape;
  std::string_view room;
  std::string_view action;
  std::string_view seq;
};

template <typename Segments>
std::optional<RoomPath> ParseRoomPath(const Segments& segs) {
  if (segs.size() == 3 && segs[0] == "v1" && segs[1] == "admin") {
    return RoomPath{Shape::kAdmin, {}, segs[2], {}};
  }
  if (segs.size() < 4 || segs[0] != "v1") return std::nullopt;
  if (segs[1] == "rooms") {
    if (segs.size() == 4) return RoomPath{Shape::kRoom, segs[2], segs[3], {}};
    if (segs.size() == 5 && segs[3] == "messages") {
      return RoomPath{Shape::kMessage, segs[2], segs[3], segs[4]};
    }
  } else if (segs[1] == "admin" && segs.size() == 5 && segs[2] == "rooms") {
    return RoomPath{Shape::kAdminRoom, segs[3], segs[4], {}};
  } else if (segs[1] == "admin" && segs.size() == 4 && segs[2] == "rooms") {
    return RoomPath{Shape::kPlace, segs[3], {}, {}};
  }
  return std::nullopt;
}

// One route the router serves: a method and a path template in the OpenAPI document's terms
// ("/v1/rooms/{room}/messages/{seq}", "/web/{file}"). For tests and docs, not the hot path.
struct Route {
  std::string method;  // "GET", "HEAD", "POST", "PUT", "DELETE"
  std::string path;
  bool admin = false;  // needs admin rights
};
// Every route, built from the routing table itself (the room endpoints, the operations
// endpoints, the compiled-in files), so the document can be checked against it.
std::vector<Route> ServedRoutes();

}  // namespace chatroomd::http
