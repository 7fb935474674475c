#include "http/request.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>

namespace chatroomd::http {
namespace {

namespace bhttp = boost::beast::http;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The media type of a Content-Type or Accept item, without parameters.
std::string_view MediaType(std::string_view item) { return Trim(item.substr(0, item.find(';'))); }

// The q parameter of an Accept item (1 when absent or unreadable).
float Quality(std::string_view item) {
  size_t semi = item.find(';');
  while (semi != std::string_view::npos) {
    item.remove_prefix(semi + 1);
    semi = item.find(';');
    std::string_view param = Trim(item.substr(0, semi));
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      std::string_view v = param.substr(2);
      // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
      if (v.empty() || v.size() > 5 || (v[0] != '0' && v[0] != '1') ||
          (v.size() > 1 && v[1] != '.')) {
        return 1;
      }
      float q = static_cast<float>(v[0] - '0');
      float scale = 0.1f;
      for (size_t i = 2; i < v.size(); ++i, scale /= 10) {
        if (v[i] < '0' || v[i] > '9') return 1;
        q += static_cast<float>(v[i] - '0') * scale;
      }
      return q > 1 ? 1 : q;
    }
  }
  return 1;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes of `in`. Unescaped text is returned as is; escaped text is written at
// `*out` (which advances). False for a malformed escape.
bool Decode(std::string_view in, char** out, std::string_view& result) {
  size_t first = in.find('%');
  if (first == std::string_view::npos) {  // the usual case: nothing escaped
    result = in;
    return true;
  }
  char* begin = *out;
  char* w = begin;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '%') {
      *w++ = c;
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *w++ = static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  *out = w;
  result = std::string_view(begin, static_cast<size_t>(w - begin));
  return true;
}

}  // namespace

void RequestParser::on_request_impl(bhttp::verb method, boost::beast::string_view,
                                    boost::beast::string_view target, int version, error_code&) {
  request_.method = method;
  request_.target.assign(target.data(), target.size());
  request_.version = static_cast<unsigned>(version);
}

void RequestParser::on_field_impl(bhttp::field name, boost::beast::string_view name_string_b,
                                  boost::beast::string_view value_b, error_code&) {
  std::string_view name_string(name_string_b.data(), name_string_b.size());
  std::string_view value(value_b.data(), value_b.size());
  switch (name) {
    case bhttp::field::host:
      ++request_.host_count;
      break;
    case bhttp::field::content_length:
      ++request_.content_length_count;
      break;
    case bhttp::field::transfer_encoding:
      ++request_.transfer_encoding_count;
      break;
    case bhttp::field::authorization:
      request_.authorization.assign(value);
      break;
    case bhttp::field::content_type:
      request_.protobuf_body = IEquals(MediaType(value), "application/x-protobuf");
      break;
    case bhttp::field::accept: {
      // Protobuf when it is acceptable (q > 0) and liked at least as much as JSON.
      std::string_view rest = value;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        std::string_view type = MediaType(item);
        if (IEquals(type, "application/x-protobuf")) {
          q_protobuf_ = std::max(q_protobuf_, Quality(item));
        } else if (IEquals(type, "application/json") || type == "*/*" ||
                   IEquals(type, "application/*")) {
          q_json_ = std::max(q_json_, Quality(item));
        }
      }
      request_.protobuf_response = q_protobuf_ > 0 && q_protobuf_ >= q_json_;
      break;
    }
    case bhttp::field::expect:
      request_.expect_continue = IEquals(Trim(value), "100-continue");
      break;
    case bhttp::field::origin:
      request_.origin.assign(value);
      break;
    case bhttp::field::access_control_request_method:
      request_.cors_preflight = true;
      break;
    case bhttp::field::unknown:
      if (IEquals(name_string, "X-User-Id") && request_.x_user_id_count++ == 0) {
        request_.x_user_id.assign(value);
      }
      break;
    default:
      break;
  }
}

void RequestParser::on_header_impl(error_code&) { request_.keep_alive = keep_alive(); }

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code&) {
  if (content_length) request_.body.reserve(static_cast<size_t>(*content_length));
}

std::size_t RequestParser::on_body_impl(boost::beast::string_view body, error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                              error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

Result<Target> ParseTarget(std::string_view target) {
  auto bad = [] {
    return MakeError(ErrorCode::kBadRequest, "request target is not a valid origin-form URL");
  };
  if (target.empty()) return bad();
  if (target[0] != '/') {
    // Absolute form: a server must take it (RFC 9112 3.2.2). The authority is not used.
    size_t scheme = target.find("://");
    std::string_view name = target.substr(0, scheme);
    if (scheme == std::string_view::npos || !(IEquals(name, "http") || IEquals(name, "https"))) {
      return bad();
    }
    size_t path = target.find_first_of("/?#", scheme + 3);
    if (path == std::string_view::npos || target[path] != '/') return bad();
    target.remove_prefix(path);
  }
  Target t;
  // Decoded text is never longer than the target.
  char* out = nullptr;
  if (target.find('%') != std::string_view::npos) {
    t.decoded = std::make_unique<char[]>(target.size());
    out = t.decoded.get();
  }
  // A fragment never belongs in a request target (RFC 9112), in the path or the query.
  if (target.find('#') != std::string_view::npos) return bad();
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  size_t pos = 1;
  while (true) {
    size_t slash = path.find('/', pos);
    std::string_view seg = path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    if (!Decode(seg, &out, t.segments.emplace_back())) return bad();
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto& [key, value] = t.params.emplace_back();
    if (!Decode(pair.substr(0, eq), &out, key)) return bad();
    if (eq != std::string_view::npos && !Decode(pair.substr(eq + 1), &out, value)) return bad();
  }
  return t;
}

}  // namespace chatroomd::http
