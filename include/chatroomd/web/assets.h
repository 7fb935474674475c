// The files the daemon serves itself: the web client's pages and scripts (web/) and the API's
// OpenAPI document (docs/openapi.json), compiled into the binary at build time
// (cmake/embed_assets.cmake). Immutable; any thread may read them.
#pragma once

#include <span>
#include <string_view>

namespace chatroomd::web {

struct Asset {
  std::string_view path;          // the URL path it is served at, "/" or "/web/chatroomd.js"
  std::string_view content_type;  // with charset for text
  std::string_view body;
};

// Every asset, in the order cmake lists them.
std::span<const Asset> Assets();
// The asset served at `path` (no query), or null.
const Asset* FindAsset(std::string_view path);

}  // namespace chatroomd::web
