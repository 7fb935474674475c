// The HTTP request path as a connection runs it (src/http/connection.cc): bytes into the
// request parser with the default limits, in two pieces at a split the input chooses, then the
// target (path, query, %-escapes) and the body as the endpoint would read it (JSON join, send
// and mute/kick bodies). Anything may be refused; nothing may crash, leak or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/body.h"
#include "http/request.h"

namespace {

using namespace chatroomd;

// Feeds `piece` after the bytes the parser left unconsumed (`pending`), as the connection does
// (src/http/connection.cc keeps them and presents them again): Beast's parser requires it, and
// trusts what it has already scanned of them.
bool Feed(http::RequestParser& p, std::string& pending, std::string_view piece) {
  pending.append(piece);
  boost::beast::error_code ec;
  while (!pending.empty() && !p.is_done()) {
    const size_t used = p.put(boost::asio::const_buffer(pending.data(), pending.size()), ec);
    pending.erase(0, used);
    if (ec == boost::beast::http::error::need_more) return true;
    if (ec) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t split = data[0] % (size);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  http::RequestParser parser;
  parser.header_limit(8192);
  parser.body_limit(65536);
  parser.eager(true);
  const size_t cut = split < input.size() ? split : input.size();
  std::string pending;
  if (!Feed(parser, pending, input.substr(0, cut)) || !Feed(parser, pending, input.substr(cut))) {
    return 0;
  }
  if (!parser.is_done()) return 0;
  http::Request& request = parser.request();
  auto target = http::ParseTarget(request.target);
  if (target.ok()) {
    for (const auto& segment : target.value().segments) (void)segment.size();
  }
  api::JoinRequest join;
  (void)http::ParseJoinJson(request.body, true, join);
  api::SendRequest send;
  (void)http::ParseSendJson(request.body, send);
  api::ModerateRequest moderate;
  (void)http::ParseModerateJson(request.body, moderate);
  return 0;
}
