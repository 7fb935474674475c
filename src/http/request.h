// A request as the router needs it, and the parser that fills it. Beast's basic_parser does the
// HTTP/1.1 framing (limits, chunked bodies, smuggling-relevant checks); this parser keeps only
// the few header values chatroomd reads instead of a field container, so a request costs a
// couple of allocations rather than one per header.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chatroomd/common/error.h"

namespace chatroomd::http {

struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string target;
  unsigned version = 11;
  bool keep_alive = true;
  std::string authorization;
  std::string x_user_id;  // the first X-User-Id
  int x_user_id_count = 0;
  bool protobuf_body = false;      // Content-Type: application/x-protobuf
  bool protobuf_response = false;  // Accept prefers application/x-protobuf (see request.cc)
  bool expect_continue = false;    // Expect: 100-continue
  std::string origin;              // Origin (browsers), for CORS
  bool cors_preflight = false;     // Access-Control-Request-Method present
  int host_count = 0;
  int content_length_count = 0;
  int transfer_encoding_count = 0;
  std::string body;
};

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  Request& request() { return request_; }

 private:
  using error_code = boost::beast::error_code;
  void on_request_impl(boost::beast::http::verb method, boost::beast::string_view method_str,
                       boost::beast::string_view target, int version, error_code& ec) override;
  void on_response_impl(int, boost::beast::string_view, int, error_code&) override {}
  void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                            error_code& ec) override {}
  std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                 error_code& ec) override;
  void on_finish_impl(error_code& ec) override {}

  Request request_;
  // Accept: the best quality given to protobuf and to JSON (or a wildcard) so far.
  float q_protobuf_ = 0;
  float q_json_ = 0;
};

// A request target split into decoded path segments and query parameters. Origin form
// ("/v1/...") or absolute form ("http://host/v1/...", whose authority is ignored). Strict: a
// bad percent escape, a fragment, or any other form is an error. The views point
// into the target string the parse was given (or, for %-escaped parts, into `decoded`): that
// string must outlive the Target.
struct Target {
  boost::container::small_vector<std::string_view, 6> segments;
  boost::container::small_vector<std::pair<std::string_view, std::string_view>, 4> params;
  std::unique_ptr<char[]> decoded;  // only when something was escaped
};
Result<Target> ParseTarget(std::string_view target);

// ASCII case-insensitive equality (header values, media types, origins).
bool IEquals(std::string_view a, std::string_view b);

}  // namespace chatroomd::http
