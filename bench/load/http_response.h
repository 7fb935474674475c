// Incremental HTTP/1.1 response framing and the tiny body scanners crload needs: the chatroomd
// poll/join JSON (cursor, gap, message bodies), the online count and Nchan's multipart/mixed
// bodies.
// Nothing here allocates except chunked decoding, which goes to a caller-owned scratch string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace crload {

struct HttpResponse {
  int status = 0;
  size_t total_len = 0;   // bytes of the buffer this response used (headers + body)
  std::string_view body;  // into the buffer, or into the scratch for chunked bodies
  std::string_view content_type;
  std::string_view last_modified;
  std::string_view etag;
  bool close = false;  // server said Connection: close (or HTTP/1.0)
};

enum class Parse { kIncomplete, kComplete, kBad };

// Frames one response at the start of buf. Header values point into buf.
Parse ParseHttpResponse(std::string_view buf, HttpResponse& out, std::string& scratch);

// One published body "<pubseq>:<send_ns>". False if it is not one of ours.
bool ParsePubBody(std::string_view body, uint64_t& pubseq, int64_t& send_ns);

// Scans a chatroomd JSON response (poll or join). Calls on_body for each message body string,
// in order. cursor/gap are left untouched when absent.
template <typename F>
void ScanChatroomdJson(std::string_view json, std::string_view& cursor, bool& gap, F&& on_body);

// The "count" of a chatroomd online answer: a decimal string (the proto3 JSON of a uint64) or a
// number; absent is 0 (proto3 JSON leaves default values out). False if it is not a count.
bool ParseOnlineCount(std::string_view json, uint64_t& count);

// The "next_poll_ms" of a chatroomd poll answer (a number, or a decimal string); 0 when absent
// (proto3 JSON may leave a zero out) or not a number.
uint64_t ParseNextPollMs(std::string_view json);

// Calls on_body for each part body of a multipart/mixed body, or once for a plain body.
template <typename F>
bool ForEachNchanMessage(const HttpResponse& r, F&& on_body);

// --- implementation of the templates ---------------------------------------------------------

namespace detail {
// Position just after `"key"` followed by optional spaces, ':' and optional spaces; npos if the
// key is absent at or after from.
size_t FindJsonValue(std::string_view json, std::string_view quoted_key, size_t from);
std::string_view Boundary(std::string_view content_type);
}  // namespace detail

template <typename F>
void ScanChatroomdJson(std::string_view json, std::string_view& cursor, bool& gap, F&& on_body) {
  size_t p = detail::FindJsonValue(json, "\"cursor\"", 0);
  if (p != std::string_view::npos && p < json.size() && json[p] == '"') {
    size_t end = json.find('"', p + 1);
    if (end != std::string_view::npos) cursor = json.substr(p + 1, end - p - 1);
  }
  p = detail::FindJsonValue(json, "\"gap\"", 0);
  if (p != std::string_view::npos) gap = json.compare(p, 4, "true") == 0;
  // Bodies are ours ("<digits>:<digits>"), so the first quote after the opening one ends them.
  size_t from = 0;
  while ((p = detail::FindJsonValue(json, "\"body\"", from)) != std::string_view::npos) {
    if (p >= json.size() || json[p] != '"') break;
    size_t end = json.find('"', p + 1);
    if (end == std::string_view::npos) break;
    on_body(json.substr(p + 1, end - p - 1));
    from = end + 1;
  }
}

template <typename F>
bool ForEachNchanMessage(const HttpResponse& r, F&& on_body) {
  std::string_view boundary = detail::Boundary(r.content_type);
  if (boundary.empty()) {
    on_body(r.body);
    return true;
  }
  // Parts: "--B\r\n<part headers>\r\n\r\n<body>\r\n--B" ... "--B--".
  std::string_view b = r.body;
  size_t pos = b.find("--");
  while (pos != std::string_view::npos) {
    pos += 2;
    if (b.compare(pos, boundary.size(), boundary) != 0) return false;
    pos += boundary.size();
    if (b.compare(pos, 2, "--") == 0) return true;  // closing delimiter
    size_t hdr_end = b.find("\r\n\r\n", pos);
    size_t body_start;
    if (b.compare(pos, 4, "\r\n\r\n") == 0) {
      body_start = pos + 4;
    } else if (hdr_end == std::string_view::npos) {
      return false;
    } else {
      body_start = hdr_end + 4;
    }
    size_t next = b.find("\r\n--", body_start);
    while (next != std::string_view::npos && b.compare(next + 4, boundary.size(), boundary) != 0) {
      next = b.find("\r\n--", next + 1);
    }
    if (next == std::string_view::npos) return false;
    on_body(b.substr(body_start, next - body_start));
    pos = next + 2;
  }
  return false;
}

}  // namespace crload
