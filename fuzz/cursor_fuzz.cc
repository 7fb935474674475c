// Cursor decoding (common/cursor.h): any text a client may send back as a cursor. A decoded
// cursor must encode back to the same text (one encoding per cursor).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chatroomd/common/cursor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::string_view room : {std::string_view("r1"), std::string_view("room-7f3a9c")}) {
    auto cursor = chatroomd::DecodeCursor(room, text);
    if (cursor.ok() && chatroomd::EncodeCursor(room, cursor.value()) != text) std::abort();
  }
  return 0;
}
