// Cursor decoding (common/cursor.h): any text a client may send back as a cursor. A decoded
// cursor, with its "not before" time, must encode back to the same text (one encoding per
// cursor and time).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chatroomd/common/cursor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::string_view room : {std::string_view("r1"), std::string_view("room-7f3a9c")}) {
    int64_t not_before_ms = -1;
    auto cursor = chatroomd::DecodeCursor(room, text, &not_before_ms);
    if (!cursor.ok()) continue;
    if (not_before_ms < 0) std::abort();
    if (chatroomd::EncodeCursor(room, cursor.value(), not_before_ms) != text) std::abort();
  }
  return 0;
}
