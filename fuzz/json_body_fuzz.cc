// Request bodies (http/body.h): any bytes as a join, send or mute/kick body, as JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  chatroomd::api::JoinRequest join;
  (void)chatroomd::http::ParseJoinJson(body, true, join);
  chatroomd::api::SendRequest send;
  (void)chatroomd::http::ParseSendJson(body, send);
  chatroomd::api::ModerateRequest moderate;
  (void)chatroomd::http::ParseModerateJson(body, moderate);
  return 0;
}
