#include "request.h"

#include <boost/beast/http/field.hpp>

namespace chatroomd::http {
namespace {

namespace bhttp = boost::beast::http;

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
    case bhttp::field::host: ++request_.host_count; break;
    case bhttp::field::content_length: ++request_.content_length_count; break;
    case bhttp::field::transfer_encoding: ++request_.transfer_encoding_count; break;
    case bhttp::field::authorization: request_.authorization.assign(value); break;
    case bhttp::field::content_type:
      request_.protobuf_body = value.find("application/x-protobuf") != std::string_view::npos;
      break;
    case bhttp::field::accept:
      request_.protobuf_response |=
          value.find("application/x-protobuf") != std::string_view::npos;
      break;
    case bhttp::field::unknown:
      if (IEquals(name_string, "X-User-Id")) {
        request_.x_user_id.assign(value);
        request_.has_x_user_id = true;
      }
      break;
    default: break;
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

Result<Target> ParseTarget(std::string_view target) {
  auto bad = [] {
    return MakeError(ErrorCode::kBadRequest, "request target is not a valid origin-form URL");
  };
  if (target.empty() || target[0] != '/') return bad();
  Target t;
  // Decoded text is never longer than the target.
  char* out = nullptr;
  if (target.find('%') != std::string_view::npos) {
    t.decoded = std::make_unique<char[]>(target.size());
    out = t.decoded.get();
  }
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (query.find('#') != std::string_view::npos) return bad();
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
