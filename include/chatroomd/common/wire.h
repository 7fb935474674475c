// A complete HTTP/1.1 response as bytes, built once and written as is to one or many
// sockets (fan-out writes the same buffer to every waiter). Immutable once built, so any
// thread may write it; shared by shared_ptr.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/common/error.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace chatroomd {

enum class BodyFormat : uint8_t { kJson, kProtobuf };

struct WireResponse {
  int status = 200;
  // Status line and headers, without the blank line that ends them: a connection may add
  // its own headers (Connection: close) between `head` and `tail`.
  std::string head;
  // "\r\n" followed by the body.
  std::string tail;
  // Messages carried (for the deliveries counter) and when each was accepted (steady ns),
  // for the delivery-latency histogram.
  uint32_t messages = 0;
  std::vector<int64_t> accepted_ns;
  // The API error an error answer carries (for chatroomd_error_responses_total).
  std::optional<ErrorCode> error;
};

using WirePtr = std::shared_ptr<const WireResponse>;

// Builds a response with Content-Type, Content-Length, Cache-Control: no-store and Date.
// `extra_headers` are complete "Name: value\r\n" lines.
std::shared_ptr<WireResponse> MakeWire(int status, std::string_view content_type, std::string body,
                                       std::string_view extra_headers = {});
WirePtr MakeEmptyWire(int status, std::string_view extra_headers = {});  // 204 and the like
// The API's error body in the requested format, with Retry-After when the error has one:
// the one place an error answer is built. `extra_headers` as for MakeWire.
WirePtr MakeErrorWire(const Error& error, BodyFormat format, std::string_view extra_headers = {});
// 200 with `message` as the API's JSON (proto field names, every field written, 64-bit
// integers as strings) or as binary protobuf. For the small, rare answers (/online, /stats,
// the admin endpoints); the hot ones are built by hand (room/message.cc).
WirePtr MakeProtoWire(const google::protobuf::Message& message, BodyFormat format);

// JSON string literal (with quotes) for UTF-8 text, as the proto3 JSON mapping writes it.
void AppendJsonString(std::string& out, std::string_view text);

// Steady clock in nanoseconds (for latency measures).
int64_t SteadyNowNs();
// Wall clock in milliseconds since the Unix epoch.
int64_t WallNowMs();

}  // namespace chatroomd
