#include "chatroomd/common/ids.h"

#include <xxhash.h>

namespace chatroomd {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

template <typename Pred>
bool AllOf(std::string_view s, size_t max_len, Pred pred) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

}  // namespace

bool IsValidRoomId(std::string_view id) {
  return AllOf(id, 128,
               [](char c) { return IsAlnum(c) || c == '_' || c == '.' || c == ':' || c == '-'; });
}

bool IsValidUserId(std::string_view id) {
  return AllOf(id, 64, [](char c) {
    return IsAlnum(c) || c == '_' || c == '.' || c == ':' || c == '@' || c == '-';
  });
}

bool IsValidMessageType(std::string_view type) {
  return AllOf(type, 32, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

bool IsValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

uint64_t RoomHash(std::string_view room_id) { return XXH3_64bits(room_id.data(), room_id.size()); }

uint64_t UserHash(std::string_view user_id) {
  constexpr uint64_t kUserSeed = 0x7573657273ULL;  // "users"
  return XXH3_64bits_withSeed(user_id.data(), user_id.size(), kUserSeed);
}

}  // namespace chatroomd
