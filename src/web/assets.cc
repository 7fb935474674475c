#include "chatroomd/web/assets.h"

namespace chatroomd::web {

const Asset* FindAsset(std::string_view path) {
  for (const Asset& a : Assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace chatroomd::web
