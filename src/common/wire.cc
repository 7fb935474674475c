#include "chatroomd/common/wire.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <ctime>

#include "proto/chatroomd/api.pb.h"

namespace chatroomd {
namespace {

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

// The Date header value, formatted once per second per thread.
std::string_view HttpDate() {
  thread_local time_t cached_second = 0;
  thread_local char buffer[64];
  time_t now = time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return buffer;
}

std::shared_ptr<WireResponse> Build(int status, std::string_view content_type, std::string body,
                                    bool has_body, std::string_view extra_headers) {
  auto wire = std::make_shared<WireResponse>();
  wire->status = status;
  std::string& h = wire->head;
  h.reserve(160 + extra_headers.size());
  h += "HTTP/1.1 ";
  h += std::to_string(status);
  h += ' ';
  h += Reason(status);
  h += "\r\nDate: ";
  h += HttpDate();
  h += "\r\nCache-Control: no-store\r\n";
  if (has_body) {
    h += "Content-Type: ";
    h += content_type;
    h += "\r\nContent-Length: ";
    h += std::to_string(body.size());
    h += "\r\n";
  }
  h += extra_headers;
  wire->tail.reserve(body.size() + 2);
  wire->tail += "\r\n";
  wire->tail += body;
  return wire;
}

}  // namespace

std::shared_ptr<WireResponse> MakeWire(int status, std::string_view content_type, std::string body,
                                       std::string_view extra_headers) {
  return Build(status, content_type, std::move(body), true, extra_headers);
}

WirePtr MakeEmptyWire(int status, std::string_view extra_headers) {
  return Build(status, {}, {}, false, extra_headers);
}

WirePtr MakeProtoWire(const google::protobuf::Message& message, BodyFormat format) {
  if (format == BodyFormat::kProtobuf) {
    return MakeWire(200, "application/x-protobuf", message.SerializeAsString());
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string body;
  if (!google::protobuf::util::MessageToJsonString(message, &body, options).ok()) {
    return MakeErrorWire(MakeError(ErrorCode::kInternal, "cannot encode the answer"), format);
  }
  return MakeWire(200, "application/json", std::move(body));
}

WirePtr MakeErrorWire(const Error& error, BodyFormat format, std::string_view extra_headers) {
  std::string extra(extra_headers);
  if (error.retry_after_s > 0) {
    extra += "Retry-After: " + std::to_string(error.retry_after_s) + "\r\n";
  }
  // A 401 names the scheme it wants (RFC 9110 section 11.6.1; Bearer, RFC 6750).
  if (error.code == ErrorCode::kUnauthorized)
    extra += "WWW-Authenticate: Bearer realm=\"chatroomd\"\r\n";
  int status = ErrorHttpStatus(error.code);
  if (format == BodyFormat::kProtobuf) {
    api::ErrorResponse response;
    response.mutable_error()->set_code(std::string(ErrorCodeName(error.code)));
    response.mutable_error()->set_message(error.message);
    auto wire = MakeWire(status, "application/x-protobuf", response.SerializeAsString(), extra);
    wire->error = error.code;
    return wire;
  }
  std::string body = "{\"error\":{\"code\":\"";
  body += ErrorCodeName(error.code);
  body += "\",\"message\":";
  AppendJsonString(body, error.message);
  body += "}}";
  auto wire = MakeWire(status, "application/json", std::move(body), extra);
  wire->error = error.code;
  return wire;
}

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
}

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace chatroomd
