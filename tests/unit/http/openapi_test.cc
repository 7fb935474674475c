// docs/openapi.json against the router (src/http/routes.h, ServedRoutes): every route the daemon
// serves is documented and nothing documented is not served, with the same admin rights; and the
// document holds together: every $ref resolves, every operation has a unique operationId and a
// response, every path parameter is declared, 429 and 503 carry Retry-After.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "http/routes.h"

namespace chatroomd::http {
namespace {

namespace json = boost::json;

constexpr const char* kDocPath = CHATROOMD_SOURCE_DIR "/docs/openapi.json";
constexpr std::string_view kMethods[] = {"get",     "put",  "post",  "delete",
                                         "options", "head", "patch", "trace"};

json::value LoadDocument() {
  std::ifstream in(kDocPath);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  EXPECT_FALSE(ec) << kDocPath << ": " << ec.message();
  return doc;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Follows a local $ref ("#/components/..."); null when it does not resolve.
const json::value* Resolve(const json::value& doc, const json::value& v) {
  const json::object* obj = v.if_object();
  if (!obj || !obj->contains("$ref")) return &v;
  const json::string* ref = obj->at("$ref").if_string();
  if (!ref || !ref->starts_with("#")) return nullptr;
  boost::system::error_code ec;
  const json::value* target = doc.find_pointer(std::string_view(*ref).substr(1), ec);
  return ec ? nullptr : target;
}

// Calls `fn(path, method, operation)` for every operation of the document.
void ForEachOperation(
    const json::value& doc,
    const std::function<void(const std::string&, std::string_view, const json::object&)>& fn) {
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (std::string_view method : kMethods) {
      if (const json::value* op = item.as_object().if_contains(method)) {
        fn(std::string(path), method, op->as_object());
      }
    }
  }
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    doc_ = LoadDocument();
    ASSERT_TRUE(doc_.is_object());
  }
  json::value doc_;
};

TEST_F(OpenApiTest, IsOpenApi31) {
  EXPECT_EQ(doc_.at("openapi"), "3.1.0");
  EXPECT_TRUE(doc_.at("info").as_object().contains("title"));
  EXPECT_TRUE(doc_.at("info").as_object().contains("version"));
}

TEST_F(OpenApiTest, DocumentsExactlyTheServedRoutes) {
  std::set<std::pair<std::string, std::string>> served, documented;
  for (const Route& r : ServedRoutes()) {
    EXPECT_TRUE(served.emplace(r.method, r.path).second) << "twice: " << r.method << " " << r.path;
  }
  ForEachOperation(doc_, [&](const std::string& path, std::string_view method, const auto&) {
    documented.emplace(Upper(method), path);
  });
  for (const auto& [method, path] : served) {
    EXPECT_TRUE(documented.contains({method, path}))
        << "served, not documented: " << method << " " << path;
  }
  for (const auto& [method, path] : documented) {
    EXPECT_TRUE(served.contains({method, path}))
        << "documented, not served: " << method << " " << path;
  }
  // The table is not empty by accident: the API's endpoints and the files are all there.
  EXPECT_TRUE(served.contains({"DELETE", "/v1/rooms/{room}/messages/{seq}"}));
  EXPECT_TRUE(served.contains({"GET", "/openapi.json"}));
  EXPECT_TRUE(served.contains({"HEAD", "/web/{file}"}));
  EXPECT_GE(served.size(), 20u);
}

TEST_F(OpenApiTest, AdminOperationsAreMarked) {
  std::map<std::pair<std::string, std::string>, bool> admin;
  for (const Route& r : ServedRoutes()) admin[{r.method, r.path}] = r.admin;
  int marked = 0;
  ForEachOperation(
      doc_, [&](const std::string& path, std::string_view method, const json::object& op) {
        const json::value* x = op.if_contains("x-admin");
        const bool documented = x && x->is_bool() && x->as_bool();
        marked += documented;
        auto it = admin.find({Upper(method), path});
        if (it == admin.end()) return;  // DocumentsExactlyTheServedRoutes reports it
        EXPECT_EQ(documented, it->second) << method << " " << path;
        if (documented) {
          EXPECT_NE(op.at("description").as_string().find("admin rights"), json::string::npos)
              << method << " " << path << ": the text says so too";
        }
      });
  EXPECT_EQ(marked, 5);  // mute, kick, place, sects, reload
}

TEST_F(OpenApiTest, EveryRefResolves) {
  int refs = 0;
  std::function<void(const json::value&, const std::string&)> walk = [&](const json::value& v,
                                                                         const std::string& where) {
    if (const json::object* obj = v.if_object()) {
      if (obj->contains("$ref")) {
        ++refs;
        const json::value* target = Resolve(doc_, v);
        EXPECT_TRUE(target && target->is_object()) << where << ": " << obj->at("$ref");
      }
      for (const auto& [k, child] : *obj) walk(child, where + "/" + std::string(k));
    } else if (const json::array* arr = v.if_array()) {
      for (size_t i = 0; i < arr->size(); ++i) walk((*arr)[i], where + "/" + std::to_string(i));
    }
  };
  walk(doc_, "#");
  EXPECT_GT(refs, 50);
}

TEST_F(OpenApiTest, OperationsHaveUniqueIdsAndResponses) {
  std::set<std::string> ids;
  ForEachOperation(doc_, [&](const std::string& path, std::string_view method,
                             const json::object& op) {
    SCOPED_TRACE(std::string(method) + " " + path);
    const json::value* id = op.if_contains("operationId");
    ASSERT_TRUE(id && id->is_string() && !id->as_string().empty());
    EXPECT_TRUE(ids.insert(std::string(id->as_string())).second) << "duplicate " << *id;
    const json::value* responses = op.if_contains("responses");
    ASSERT_TRUE(responses && responses->is_object());
    EXPECT_FALSE(responses->as_object().empty());
    for (const auto& [status, response] : responses->as_object()) {
      EXPECT_TRUE(std::regex_match(std::string(status), std::regex("[1-5][0-9][0-9]"))) << status;
      const json::value* r = Resolve(doc_, response);
      ASSERT_TRUE(r && r->is_object()) << status;
      EXPECT_TRUE(r->as_object().contains("description")) << status;
      if (status == "429" || status == "503") {
        const json::value* headers = r->as_object().if_contains("headers");
        EXPECT_TRUE(headers && headers->as_object().contains("Retry-After")) << status;
      }
    }
  });
  EXPECT_GE(ids.size(), 20u);
}

TEST_F(OpenApiTest, PathParametersAreDeclared) {
  static const std::regex kTemplate(R"(\{([^}]+)\})");
  for (const auto& [path, item_value] : doc_.at("paths").as_object()) {
    SCOPED_TRACE(std::string(path));
    std::set<std::string> in_template;
    const std::string p(path);
    for (std::sregex_iterator it(p.begin(), p.end(), kTemplate), end; it != end; ++it) {
      in_template.insert((*it)[1]);
    }
    const json::object& item = item_value.as_object();
    // The path item's parameters, then each operation's (which may add to them).
    auto declared_in = [&](const json::value* list, std::set<std::string>& names) {
      if (!list) return;
      for (const json::value& p : list->as_array()) {
        const json::value* param = Resolve(doc_, p);
        ASSERT_TRUE(param && param->is_object());
        const json::object& o = param->as_object();
        ASSERT_TRUE(o.contains("name") && o.contains("in") && o.contains("schema"));
        if (o.at("in") != "path") continue;
        EXPECT_EQ(o.if_contains("required") ? o.at("required") : json::value(false), true)
            << o.at("name") << ": a path parameter is required";
        names.insert(std::string(o.at("name").as_string()));
      }
    };
    std::set<std::string> at_path;
    declared_in(item.if_contains("parameters"), at_path);
    for (std::string_view method : kMethods) {
      const json::value* op = item.if_contains(method);
      if (!op) continue;
      std::set<std::string> names = at_path;
      declared_in(op->as_object().if_contains("parameters"), names);
      EXPECT_EQ(names, in_template) << method;
    }
  }
}

}  // namespace
}  // namespace chatroomd::http
