#include "http/routes.h"

#include <algorithm>

#include "chatroomd/web/assets.h"

namespace chatroomd::http {
namespace {

// The path template of a room endpoint, with the OpenAPI document's parameter names.
std::string PathTemplate(Shape shape, std::string_view action) {
  switch (shape) {
    case Shape::kRoom:
      return "/v1/rooms/{room}/" + std::string(action);
    case Shape::kMessage:
      return "/v1/rooms/{room}/" + std::string(action) + "/{seq}";
    case Shape::kAdminRoom:
      return "/v1/admin/rooms/{room}/" + std::string(action);
    case Shape::kPlace:
      return "/v1/admin/rooms/{room}";
    case Shape::kAdmin:
      return "/v1/admin/" + std::string(action);
  }
  return {};
}

}  // namespace

std::vector<Route> ServedRoutes() {
  std::vector<Route> routes;
  for (const auto& e : kRoomEndpoints) {
    routes.push_back({std::string(boost::beast::http::to_string(e.method)),
                      PathTemplate(e.shape, e.action), e.admin});
  }
  std::vector<std::string> paths;
  for (std::string_view name : kOpsNames) paths.push_back("/" + std::string(name));
  // Every file under /web/ is one route of the document, /web/{file}.
  constexpr std::string_view kWebDir = "/web/";
  for (const web::Asset& a : web::Assets()) {
    std::string path =
        a.path.starts_with(kWebDir) ? std::string(kWebDir) + "{file}" : std::string(a.path);
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
  }
  for (const std::string& path : paths) {
    routes.push_back({"GET", path, false});
    routes.push_back({"HEAD", path, false});
  }
  return routes;
}

}  // namespace chatroomd::http
