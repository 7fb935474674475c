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

// A connection's allowance of requests (http.request_rate_per_s): a token bucket, 8 bytes, since
// every connection carries one.
struct RequestBudget {
  float tokens = -1;       // < 0: never used (a full bucket)
  uint32_t refill_ms = 0;  // steady ms, modulo 2^32 (an idle gap of 49 days refills it anyway)
};

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
  // The connection's request allowance.
  virtual RequestBudget& budget() = 0;
};

}  // namespace chatroomd::http
