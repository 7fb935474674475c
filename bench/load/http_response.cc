#include "http_response.h"

#include <cctype>

namespace crload {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool ParseUint(std::string_view v, int base, uint64_t& out) {
  if (v.empty()) return false;
  uint64_t x = 0;
  for (char c : v) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    x = x * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  out = x;
  return true;
}

// Decodes a chunked body starting at buf[pos]; sets end to the byte after the last trailer.
Parse DecodeChunked(std::string_view buf, size_t pos, std::string& scratch, size_t& end) {
  scratch.clear();
  for (;;) {
    size_t eol = buf.find("\r\n", pos);
    if (eol == std::string_view::npos) return Parse::kIncomplete;
    std::string_view line = buf.substr(pos, eol - pos);
    size_t semi = line.find(';');
    if (semi != std::string_view::npos) line = line.substr(0, semi);
    uint64_t size;
    if (!ParseUint(Trim(line), 16, size)) return Parse::kBad;
    pos = eol + 2;
    if (size == 0) {
      // Trailers, then an empty line.
      for (;;) {
        eol = buf.find("\r\n", pos);
        if (eol == std::string_view::npos) return Parse::kIncomplete;
        bool empty = eol == pos;
        pos = eol + 2;
        if (empty) {
          end = pos;
          return Parse::kComplete;
        }
      }
    }
    if (buf.size() < pos + size + 2) return Parse::kIncomplete;
    scratch.append(buf.data() + pos, size);
    pos += size + 2;
  }
}

}  // namespace

Parse ParseHttpResponse(std::string_view buf, HttpResponse& out, std::string& scratch) {
  size_t hdr_end = buf.find("\r\n\r\n");
  if (hdr_end == std::string_view::npos) {
    return buf.size() > 65536 ? Parse::kBad : Parse::kIncomplete;
  }
  // Status line: HTTP/1.x NNN reason
  if (buf.size() < 12 || buf.compare(0, 5, "HTTP/") != 0) return Parse::kBad;
  size_t sp = buf.find(' ');
  if (sp == std::string_view::npos || sp + 4 > hdr_end) return Parse::kBad;
  uint64_t status;
  if (!ParseUint(buf.substr(sp + 1, 3), 10, status)) return Parse::kBad;
  out = HttpResponse{};
  out.status = static_cast<int>(status);
  out.close = buf.compare(0, 8, "HTTP/1.0") == 0;

  bool has_length = false, chunked = false;
  uint64_t length = 0;
  size_t pos = buf.find("\r\n") + 2;
  while (pos < hdr_end) {
    size_t eol = buf.find("\r\n", pos);
    std::string_view line = buf.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    switch (name.size()) {
      case 4:
        if (IEquals(name, "etag")) out.etag = value;
        break;
      case 10:
        if (IEquals(name, "connection")) {
          out.close = IEquals(value, "close");
        }
        break;
      case 12:
        if (IEquals(name, "content-type")) out.content_type = value;
        break;
      case 13:
        if (IEquals(name, "last-modified")) out.last_modified = value;
        break;
      case 14:
        if (IEquals(name, "content-length")) {
          if (!ParseUint(value, 10, length)) return Parse::kBad;
          has_length = true;
        }
        break;
      case 17:
        if (IEquals(name, "transfer-encoding")) chunked = value.find("chunked") != value.npos;
        break;
      default:
        break;
    }
  }
  size_t body_start = hdr_end + 4;
  bool no_body = out.status == 204 || out.status == 304 || (out.status >= 100 && out.status < 200);
  if (no_body) {
    out.total_len = body_start;
    return Parse::kComplete;
  }
  if (chunked) {
    size_t end;
    Parse p = DecodeChunked(buf, body_start, scratch, end);
    if (p != Parse::kComplete) return p;
    out.body = scratch;
    out.total_len = end;
    return Parse::kComplete;
  }
  if (!has_length) return Parse::kBad;  // read-until-close bodies: not spoken by our targets
  if (buf.size() < body_start + length) return Parse::kIncomplete;
  out.body = buf.substr(body_start, length);
  out.total_len = body_start + length;
  return Parse::kComplete;
}

bool ParsePubBody(std::string_view body, uint64_t& pubseq, int64_t& send_ns) {
  size_t colon = body.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t a, b;
  if (!ParseUint(body.substr(0, colon), 10, a) || !ParseUint(body.substr(colon + 1), 10, b)) {
    return false;
  }
  pubseq = a;
  send_ns = static_cast<int64_t>(b);
  return true;
}

bool ParseOnlineCount(std::string_view json, uint64_t& count) {
  size_t p = detail::FindJsonValue(json, "\"count\"", 0);
  if (p == std::string_view::npos) {
    count = 0;
    return true;
  }
  bool quoted = p < json.size() && json[p] == '"';
  if (quoted) ++p;
  size_t end = p;
  while (end < json.size() && json[end] >= '0' && json[end] <= '9') ++end;
  if (quoted && (end >= json.size() || json[end] != '"')) return false;
  return ParseUint(json.substr(p, end - p), 10, count);
}

uint64_t ParseNextPollMs(std::string_view json) {
  size_t p = detail::FindJsonValue(json, "\"next_poll_ms\"", 0);
  if (p == std::string_view::npos) return 0;
  if (p < json.size() && json[p] == '"') ++p;
  size_t end = p;
  while (end < json.size() && json[end] >= '0' && json[end] <= '9') ++end;
  uint64_t ms;
  return ParseUint(json.substr(p, end - p), 10, ms) ? ms : 0;
}

namespace detail {

size_t FindJsonValue(std::string_view json, std::string_view quoted_key, size_t from) {
  for (;;) {
    size_t p = json.find(quoted_key, from);
    if (p == std::string_view::npos) return p;
    p += quoted_key.size();
    while (p < json.size() && (json[p] == ' ' || json[p] == '\n' || json[p] == '\t')) ++p;
    if (p < json.size() && json[p] == ':') {
      ++p;
      while (p < json.size() && (json[p] == ' ' || json[p] == '\n' || json[p] == '\t')) ++p;
      return p;
    }
    from = p;  // the key text appeared as a value; keep looking
  }
}

std::string_view Boundary(std::string_view content_type) {
  if (content_type.size() < 10) return {};
  for (size_t i = 0; i < 10; ++i) {
    if (std::tolower(static_cast<unsigned char>(content_type[i])) != "multipart/"[i]) return {};
  }
  size_t p = content_type.find("boundary=");
  if (p == std::string_view::npos) return {};
  std::string_view b = content_type.substr(p + 9);
  size_t semi = b.find(';');
  if (semi != std::string_view::npos) b = b.substr(0, semi);
  b = Trim(b);
  if (b.size() >= 2 && b.front() == '"' && b.back() == '"') b = b.substr(1, b.size() - 2);
  return b;
}

}  // namespace detail
}  // namespace crload
