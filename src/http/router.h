// Private to the front end: routes a request to the handler of its endpoint. Shared by the
// front loops; holds only immutable state, so any front loop may call it. Room work goes to
// the sects (sect::RoomService); the router never reaches a room or the store itself.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chatroomd/common/cursor.h"
#include "chatroomd/http/server.h"
#include "chatroomd/room/client.h"
#include "http/exchange.h"
#include "http/request.h"

namespace chatroomd::http {

class Router {
 public:
  explicit Router(ServerDeps deps);
  // Handles the request in progress on `ex`: answers it, or hands it to the rooms, which
  // answer it later through `ex` (a room::Client).
  void Handle(Exchange& ex, Request& request);
  void CancelPoll(const std::string& room, room::ClientPtr client, uint64_t serial);
  // The CORS header lines for a request's Origin, or null (none sent, or not allowed).
  const std::string* CorsHeaders(const Request& request) const;
  // A reload (any thread): the router's live settings from `config`.
  void Reconfigure(const config::Config& config);

 private:
  // What every room endpoint's handler gets: the request, its query, who asks, for which room.
  struct RoomRequest {
    Exchange& ex;
    Request& req;
    const Target& target;
    std::string room;
    BodyFormat format;
  };

  // Operations endpoints (/healthz, /readyz, /metrics): no identity needed.
  void HandleOps(Exchange& ex, const Request& req, std::string_view name, BodyFormat format);
  // The files compiled into the binary (web::Assets): the web client and /openapi.json.
  void HandleAsset(Exchange& ex, const Request& req, const Target& target, BodyFormat format);
  void HandleJoin(RoomRequest& r, room::Caller caller);
  void HandlePoll(RoomRequest& r, room::Caller caller);
  void HandleSend(RoomRequest& r, room::Caller caller);
  void HandleLeave(RoomRequest& r, room::Caller caller);
  void HandleHistory(RoomRequest& r, room::Caller caller);
  void HandleOnline(RoomRequest& r, room::Caller caller);
  void HandleVisitors(RoomRequest& r, room::Caller caller);
  void HandleRetract(RoomRequest& r, room::Caller caller, std::string_view seq);
  void HandleModerate(RoomRequest& r, room::Caller caller, bool kick);
  void HandlePlace(RoomRequest& r, room::Caller caller);
  static void Fail(RoomRequest& r, const Error& e);
  // Takes one request from the connection's allowance; the wait in seconds when it is spent.
  std::optional<int> TakeRequest(RequestBudget& budget) const;

  ServerDeps deps_;
  std::atomic<uint32_t> max_message_bytes_;  // live (Reconfigure)
  uint32_t max_moderation_s_;
  float request_rate_ = 0;  // per second; 0: no limit
  float request_burst_ = 0;
  // http.cors_origins: each allowed origin with its header lines; "*" allows any origin.
  std::vector<std::pair<std::string, std::string>> cors_;
  std::string cors_any_;
};

}  // namespace chatroomd::http
