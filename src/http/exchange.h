// Private to the front end: a request in progress on a connection, as the router sees it.
// Connection implements it; router tests use a fake. Every method runs on the connection's
// loop, while the router handles the request.
#pragma once

#include <cstdint>
#include <string>

#include "chatroomd/common/wire.h"
#include "chatroomd/metrics/metrics.h"
#include "chatroomd/room/client.h"

namespace chatroomd::http {

class Exchange : public room::Client {
 public:
  // The request's number on its connection: answers carry it (room::Caller::serial).
  virtual uint64_t serial() const = 0;
  // Which endpoint the request was for (metrics).
  virtual void set_endpoint(metrics::Endpoint e) = 0;
  // Answers the current request from the front loop itself (posted, never re-entrant).
  virtual void ReplyLater(WirePtr response) = 0;
  // The current request's answer ends the connection (the stream cannot be trusted).
  virtual void CloseAfterAnswer() = 0;
  // This client, shared (for a room::Caller).
  virtual room::ClientPtr self() = 0;
};

}  // namespace chatroomd::http
