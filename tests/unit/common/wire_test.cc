#include "chatroomd/common/wire.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/chatroomd/api.pb.h"

namespace chatroomd {
namespace {

namespace json = boost::json;

std::string Quote(std::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

// Parses the literal with Boost.JSON and returns the string it holds.
std::optional<std::string> ParseJsonString(const std::string& literal) {
  boost::system::error_code ec;
  json::value v = json::parse(literal, ec);
  if (ec || !v.is_string()) return std::nullopt;
  return std::string(v.as_string());
}

void ExpectRoundTrip(std::string_view text) {
  std::string literal = Quote(text);
  std::optional<std::string> back = ParseJsonString(literal);
  ASSERT_TRUE(back.has_value()) << literal;
  EXPECT_EQ(*back, text) << literal;
}

TEST(AppendJsonStringTest, PlainText) {
  EXPECT_EQ(Quote(""), "\"\"");
  EXPECT_EQ(Quote("hi"), "\"hi\"");
  ExpectRoundTrip("");
  ExpectRoundTrip("hello, world");
}

TEST(AppendJsonStringTest, Appends) {
  std::string out = "x=";
  AppendJsonString(out, "a");
  AppendJsonString(out, "b");
  EXPECT_EQ(out, "x=\"a\"\"b\"");
}

TEST(AppendJsonStringTest, QuotesAndBackslashes) {
  EXPECT_EQ(Quote("\""), "\"\\\"\"");
  EXPECT_EQ(Quote("\\"), "\"\\\\\"");
  ExpectRoundTrip("\"");
  ExpectRoundTrip("\\");
  ExpectRoundTrip("say \"hi\" \\o/");
  ExpectRoundTrip("\\\"\\\"\"\"\\\\");
  ExpectRoundTrip("\\u0041");  // stays literal text, not an escape
  ExpectRoundTrip("/slash/");
}

TEST(AppendJsonStringTest, EveryControlCharacter) {
  for (int c = 0; c < 0x20; ++c) {
    std::string text(1, static_cast<char>(c));
    std::string literal = Quote(text);
    // Never raw in the output.
    EXPECT_EQ(literal.find(static_cast<char>(c)), std::string::npos) << c;
    ExpectRoundTrip(text);
    ExpectRoundTrip("a" + text + "b");
  }
  EXPECT_EQ(Quote("\n"), "\"\\n\"");
  EXPECT_EQ(Quote("\r"), "\"\\r\"");
  EXPECT_EQ(Quote("\t"), "\"\\t\"");
  EXPECT_EQ(Quote("\b"), "\"\\b\"");
  EXPECT_EQ(Quote("\f"), "\"\\f\"");
  EXPECT_EQ(Quote(std::string_view("\0", 1)), "\"\\u0000\"");
  EXPECT_EQ(Quote("\x01"), "\"\\u0001\"");
  EXPECT_EQ(Quote("\x1f"), "\"\\u001f\"");
  ExpectRoundTrip("\x7f");  // DEL needs no escape in JSON
}

TEST(AppendJsonStringTest, AllAsciiAtOnce) {
  std::string text;
  for (int c = 0; c < 0x80; ++c) text += static_cast<char>(c);
  ExpectRoundTrip(text);
  ExpectRoundTrip(text + text);
}

TEST(AppendJsonStringTest, Utf8PassesThrough) {
  const std::vector<std::string> samples = {
      "caf\xc3\xa9",                       // é
      "\xe2\x82\xac 5",                    // €
      "\xe4\xbd\xa0\xe5\xa5\xbd",          // 你好
      "\xf0\x9f\x98\x80\xf0\x9f\x8e\x81",  // 😀🎁
      "\xe2\x80\xa8\xe2\x80\xa9",          // U+2028 U+2029
      "\xef\xbb\xbf",                      // BOM
      "\xf4\x8f\xbf\xbf",                  // U+10FFFF
      "mixed \"\xc3\xa9\"\n\t\xf0\x9f\x98\x80\\",
  };
  for (const std::string& s : samples) {
    ExpectRoundTrip(s);
  }
  // Multi-byte text is copied as is, not escaped.
  EXPECT_EQ(Quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

// --- MakeErrorWire ------------------------------------------------------------------------

struct ParsedResponse {
  std::string status_line;
  std::multimap<std::string, std::string> headers;
  std::string body;
};

ParsedResponse Parse(const WireResponse& wire) {
  ParsedResponse out;
  std::string_view head = wire.head;
  size_t eol = head.find("\r\n");
  out.status_line = std::string(head.substr(0, eol));
  head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    EXPECT_NE(eol, std::string_view::npos) << "header line without CRLF: " << head;
    if (eol == std::string_view::npos) break;
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    size_t colon = line.find(": ");
    EXPECT_NE(colon, std::string_view::npos) << line;
    if (colon == std::string_view::npos) continue;
    out.headers.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
  }
  EXPECT_EQ(std::string_view(wire.tail).substr(0, 2), "\r\n");
  out.body = wire.tail.size() >= 2 ? wire.tail.substr(2) : "";
  return out;
}

std::string Header(const ParsedResponse& r, const std::string& name) {
  auto [first, last] = r.headers.equal_range(name);
  if (first == last) return "";
  EXPECT_EQ(std::distance(first, last), 1) << "repeated header " << name;
  return first->second;
}

struct ErrorCase {
  ErrorCode code;
  std::string_view name;
  std::string_view status_line;
};

const std::vector<ErrorCase>& AllErrors() {
  static const std::vector<ErrorCase> cases = {
      {ErrorCode::kBadRequest, "bad_request", "HTTP/1.1 400 Bad Request"},
      {ErrorCode::kBadCursor, "bad_cursor", "HTTP/1.1 400 Bad Request"},
      {ErrorCode::kUnauthorized, "unauthorized", "HTTP/1.1 401 Unauthorized"},
      {ErrorCode::kForbidden, "forbidden", "HTTP/1.1 403 Forbidden"},
      {ErrorCode::kMuted, "muted", "HTTP/1.1 403 Forbidden"},
      {ErrorCode::kNotJoined, "not_joined", "HTTP/1.1 403 Forbidden"},
      {ErrorCode::kKicked, "kicked", "HTTP/1.1 403 Forbidden"},
      {ErrorCode::kRoomNotFound, "room_not_found", "HTTP/1.1 404 Not Found"},
      {ErrorCode::kNotFound, "not_found", "HTTP/1.1 404 Not Found"},
      {ErrorCode::kMethodNotAllowed, "method_not_allowed", "HTTP/1.1 405 Method Not Allowed"},
      {ErrorCode::kPayloadTooLarge, "payload_too_large", "HTTP/1.1 413 Payload Too Large"},
      {ErrorCode::kHeadersTooLarge, "headers_too_large",
       "HTTP/1.1 431 Request Header Fields Too Large"},
      {ErrorCode::kRateLimited, "rate_limited", "HTTP/1.1 429 Too Many Requests"},
      {ErrorCode::kOverloaded, "overloaded", "HTTP/1.1 503 Service Unavailable"},
      {ErrorCode::kInternal, "internal", "HTTP/1.1 500 Internal Server Error"},
  };
  return cases;
}

TEST(MakeErrorWireTest, JsonForEveryCode) {
  for (const ErrorCase& c : AllErrors()) {
    SCOPED_TRACE(std::string(c.name));
    std::string message = "what went wrong with " + std::string(c.name);
    WirePtr wire = MakeErrorWire(MakeError(c.code, message), BodyFormat::kJson);
    ASSERT_NE(wire, nullptr);
    ParsedResponse r = Parse(*wire);
    EXPECT_EQ(r.status_line, c.status_line);
    EXPECT_EQ(wire->status, ErrorHttpStatus(c.code));
    EXPECT_EQ(ErrorCodeName(c.code), c.name);
    EXPECT_EQ(Header(r, "Content-Type"), "application/json");
    EXPECT_EQ(Header(r, "Content-Length"), std::to_string(r.body.size()));
    EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
    EXPECT_FALSE(Header(r, "Date").empty());
    EXPECT_EQ(r.headers.count("Retry-After"), 0u);
    json::value expected = {{"error", {{"code", c.name}, {"message", message}}}};
    EXPECT_EQ(json::parse(r.body), expected) << r.body;
    EXPECT_EQ(wire->messages, 0u);
  }
}

TEST(MakeErrorWireTest, RetryAfter) {
  WirePtr wire =
      MakeErrorWire(MakeError(ErrorCode::kRateLimited, "slow down", 7), BodyFormat::kJson);
  ParsedResponse r = Parse(*wire);
  EXPECT_EQ(r.status_line, "HTTP/1.1 429 Too Many Requests");
  EXPECT_EQ(Header(r, "Retry-After"), "7");
  EXPECT_EQ(Header(r, "Content-Length"), std::to_string(r.body.size()));

  wire = MakeErrorWire(MakeError(ErrorCode::kOverloaded, "busy", 1), BodyFormat::kJson);
  r = Parse(*wire);
  EXPECT_EQ(r.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(Header(r, "Retry-After"), "1");

  // No header when there is nothing to wait for.
  for (int s : {0, -1}) {
    wire = MakeErrorWire(MakeError(ErrorCode::kRateLimited, "x", s), BodyFormat::kJson);
    EXPECT_EQ(Parse(*wire).headers.count("Retry-After"), 0u) << s;
  }
}

TEST(MakeErrorWireTest, MessageIsEscaped) {
  std::string message = "bad \"cursor\"\nline2\t\\ caf\xc3\xa9 \x01 \xf0\x9f\x98\x80";
  WirePtr wire = MakeErrorWire(MakeError(ErrorCode::kBadCursor, message), BodyFormat::kJson);
  ParsedResponse r = Parse(*wire);
  EXPECT_EQ(Header(r, "Content-Length"), std::to_string(r.body.size()));
  json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("error").at("code").as_string(), "bad_cursor");
  EXPECT_EQ(v.at("error").at("message").as_string(), message);
  EXPECT_EQ(v.as_object().size(), 1u);
  EXPECT_EQ(v.at("error").as_object().size(), 2u);
}

TEST(MakeErrorWireTest, EmptyMessage) {
  WirePtr wire = MakeErrorWire(MakeError(ErrorCode::kInternal, ""), BodyFormat::kJson);
  ParsedResponse r = Parse(*wire);
  json::value expected = {{"error", {{"code", "internal"}, {"message", ""}}}};
  EXPECT_EQ(json::parse(r.body), expected);
}

TEST(MakeErrorWireTest, Protobuf) {
  WirePtr wire = MakeErrorWire(MakeError(ErrorCode::kRateLimited, "slow \"down\"\n", 3),
                               BodyFormat::kProtobuf);
  ParsedResponse r = Parse(*wire);
  EXPECT_EQ(r.status_line, "HTTP/1.1 429 Too Many Requests");
  EXPECT_EQ(Header(r, "Content-Type"), "application/x-protobuf");
  EXPECT_EQ(Header(r, "Content-Length"), std::to_string(r.body.size()));
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
  EXPECT_EQ(Header(r, "Retry-After"), "3");
  api::ErrorResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(r.body));
  EXPECT_EQ(parsed.error().code(), "rate_limited");
  EXPECT_EQ(parsed.error().message(), "slow \"down\"\n");
}

TEST(MakeWireTest, ExtraHeadersAndBody) {
  auto wire = MakeWire(200, "text/plain", "ok", "X-Test: 1\r\n");
  ParsedResponse r = Parse(*wire);
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(Header(r, "Content-Type"), "text/plain");
  EXPECT_EQ(Header(r, "Content-Length"), "2");
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
  EXPECT_EQ(Header(r, "X-Test"), "1");
  EXPECT_EQ(r.body, "ok");
}

TEST(MakeWireTest, EmptyResponse) {
  WirePtr wire = MakeEmptyWire(204);
  ParsedResponse r = Parse(*wire);
  EXPECT_EQ(r.status_line, "HTTP/1.1 204 No Content");
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
  EXPECT_EQ(r.headers.count("Content-Length"), 0u);
  EXPECT_EQ(wire->tail, "\r\n");
}

}  // namespace
}  // namespace chatroomd
