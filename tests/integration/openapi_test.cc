// docs/openapi.json against the real daemon: /openapi.json serves the document; every documented
// operation, sent as its examples say (dev auth), answers its documented success status with a
// body of the documented schema and media type; and the same operations without an identity,
// with a bad room id or for a room that does not exist answer one of their documented statuses.
// (tests/unit/http/openapi_test.cc checks the document against the router's table.)
#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "integration/harness.h"
#include "integration/schema_check.h"

namespace chatroomd::it {
namespace {

namespace json = boost::json;

// A VIP sect, so that PUT /v1/admin/rooms/{room} {"vip": true} has somewhere to go.
constexpr const char* kSects = R"(
sects { name: "normal-1" threads: 1 ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF } }
sects { name: "vip" vip: true threads: 1 }
)";
constexpr std::string_view kMethods[] = {"get", "put", "post", "delete", "head"};
constexpr const char* kUser = "alice";

// One documented operation, as a request built from the document's examples.
struct Operation {
  std::string method;  // "GET"
  std::string path;    // the template, "/v1/rooms/{room}/join"
  const json::object* op = nullptr;
  std::vector<const json::object*> params;  // the path item's and the operation's, resolved
  bool needs_identity = true;
  bool has_room = false;
};

std::string Text(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<Operation> Operations(const json::value& doc) {
  std::vector<Operation> ops;
  for (const auto& [path, item_value] : doc.at("paths").as_object()) {
    const json::object& item = item_value.as_object();
    for (std::string_view method : kMethods) {
      const json::value* op = item.if_contains(method);
      if (!op) continue;
      Operation o{Upper(method), std::string(path), &op->as_object()};
      for (const json::value* list :
           {item.if_contains("parameters"), op->as_object().if_contains("parameters")}) {
        if (!list) continue;
        for (const json::value& p : list->as_array()) {
          const json::value* param = ResolveRef(doc, p);
          EXPECT_TRUE(param && param->is_object()) << path << ": " << p;
          if (param && param->is_object()) o.params.push_back(&param->as_object());
        }
      }
      // An operation's own `security: []` drops the document's default.
      const json::value* security = o.op->if_contains("security");
      o.needs_identity = !security || !security->as_array().empty();
      o.has_room = o.path.find("{room}") != std::string::npos;
      ops.push_back(std::move(o));
    }
  }
  return ops;
}

// The request target: path parameters from their examples (`room` overridable), query
// parameters that have an example.
std::string Target(const Operation& o, const std::string& room = {}) {
  std::string path = o.path;
  std::string query;
  for (const json::object* p : o.params) {
    const std::string name(p->at("name").as_string());
    const json::value* example = p->if_contains("example");
    if (p->at("in") == "path") {
      EXPECT_TRUE(example) << o.path << ": path parameter " << name << " has no example";
      std::string value = name == "room" && !room.empty() ? room : example ? Text(*example) : "";
      path.replace(path.find("{" + name + "}"), name.size() + 2, value);
    } else if (p->at("in") == "query" && example) {
      query += (query.empty() ? "?" : "&") + name + "=" + Text(*example);
    } else if (p->at("in") == "query") {
      EXPECT_FALSE(p->if_contains("required") && p->at("required") == true)
          << o.path << ": required query parameter " << name << " has no example";
    }
  }
  return path + query;
}

std::string Body(const Operation& o) {
  const json::value* body = o.op->if_contains("requestBody");
  if (!body) return {};
  const json::value* example = body->as_object()
                                   .at("content")
                                   .as_object()
                                   .at("application/json")
                                   .as_object()
                                   .if_contains("example");
  EXPECT_TRUE(example) << o.method << " " << o.path << ": the JSON request body has no example";
  return example ? json::serialize(*example) : std::string("{}");
}

// The status line's code of a HEAD answer (harness::Client expects a body after HEAD).
int HeadStatus(uint16_t port, const std::string& target, const Headers& headers) {
  RawConnection conn(port);
  std::string request = "HEAD " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!conn.Send(request + "\r\n")) return 0;
  auto read = conn.ReadUntilClose(5s);
  if (read.data.size() < 12 || !read.data.starts_with("HTTP/1.1 ")) return 0;
  return std::stoi(read.data.substr(9, 3));
}

// Checks an answer against the operation's documented responses: the status is one of them,
// and the media type and (JSON) body are as documented for it. Returns the documented response.
const json::object* CheckAnswer(const json::value& doc, const Operation& o, int status,
                                const Response* r) {
  const std::string where = o.method + " " + o.path + " answered " + std::to_string(status);
  const json::object& responses = o.op->at("responses").as_object();
  const json::value* documented = responses.if_contains(std::to_string(status));
  if (!documented) {
    ADD_FAILURE() << where << ", which is not documented" << (r ? "\n" + r->body : "");
    return nullptr;
  }
  const json::value* resolved = ResolveRef(doc, *documented);
  if (!resolved) {
    ADD_FAILURE() << where << ": its response does not resolve";
    return nullptr;
  }
  const json::object& response = resolved->as_object();
  if (!r) return &response;  // HEAD: no body to check
  const json::value* content = response.if_contains("content");
  if (!content) {
    EXPECT_TRUE(r->body.empty()) << where << " with a body, documented without one";
    return &response;
  }
  const std::string type = r->Header("Content-Type");
  const json::value* media = nullptr;
  for (const auto& [name, m] : content->as_object()) {
    if (type == name || type.starts_with(std::string(name) + ";")) media = &m;
  }
  if (!media) {
    ADD_FAILURE() << where << " as " << type << ", not a documented media type";
    return &response;
  }
  if (type.starts_with("application/json")) {
    boost::system::error_code ec;
    json::value body = json::parse(r->body, ec);
    if (ec) {
      ADD_FAILURE() << where << ": the body is not JSON: " << r->body;
    } else {
      EXPECT_EQ(CheckSchema(doc, media->as_object().at("schema"), body), "")
          << where << ": " << r->body;
    }
  }
  if (const json::value* headers = response.if_contains("headers")) {
    if (headers->as_object().contains("Retry-After")) {
      EXPECT_TRUE(r->HasHeader("Retry-After")) << where << " without Retry-After";
    }
  }
  return &response;
}

class OpenApiTest : public SharedDaemonTest<OpenApiTest> {
 public:
  static DaemonOptions Options() { return {.sects = kSects}; }

 protected:
  // The document as the daemon serves it.
  json::value Document() {
    Client c(port());
    Response r = c.Get("/openapi.json");
    EXPECT_EQ(r.status, 200) << r;
    boost::system::error_code ec;
    json::value doc = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << "/openapi.json is not JSON: " << ec.message();
    return doc;
  }

  // Sends `o` as its examples say (GET, POST, ... or HEAD); the status, and the answer but
  // for HEAD.
  int Send(const Operation& o, Client& c, const Headers& headers, const std::string& room,
           Response* out) {
    const std::string target = Target(o, room);
    if (o.method == "HEAD") return HeadStatus(port(), target, headers);
    *out = c.Request(o.method, target, Body(o), headers);
    return out->status;
  }
};

TEST_F(OpenApiTest, ServesTheDocument) {
  json::value doc = Document();
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  EXPECT_GE(doc.at("paths").as_object().size(), 15u);
  std::ifstream in(std::string(CHATROOMD_SOURCE_DIR) + "/docs/openapi.json", std::ios::binary);
  std::ostringstream file;
  file << in.rdbuf();
  EXPECT_EQ(json::parse(file.str()), doc) << "the binary holds another version of the file";
}

// In a room that the examples fit (room `r1` exists, the user is in it, message 1 is the
// user's), every operation succeeds as documented.
TEST_F(OpenApiTest, EveryOperationAnswersItsDocumentedSuccess) {
  const json::value doc = Document();
  ASSERT_TRUE(doc.is_object());
  std::vector<Operation> ops = Operations(doc);
  ASSERT_GE(ops.size(), 20u);
  User alice(port(), kUser);
  ASSERT_TRUE(alice.Join("r1").ok);
  ASSERT_EQ(alice.Say("r1", "the message the retract example names"), 1u);

  Client c(port());
  for (const Operation& o : ops) {
    SCOPED_TRACE(o.method + " " + o.path);
    Headers headers;
    if (o.needs_identity) headers = alice.Auth();
    Response r;
    const int status = Send(o, c, headers, {}, &r);
    ASSERT_NE(status, 0) << "no answer: " << r.error;
    // The success a client plans for: the operation's first documented 2xx.
    std::string success;
    for (const auto& [code, response] : o.op->at("responses").as_object()) {
      if (code.starts_with("2") && success.empty()) success = code;
    }
    EXPECT_EQ(std::to_string(status), success) << r;
    CheckAnswer(doc, o, status, o.method == "HEAD" ? nullptr : &r);
  }
}

// The failures a client meets first answer statuses the document lists for the operation.
TEST_F(OpenApiTest, FailuresAnswerDocumentedStatuses) {
  const json::value doc = Document();
  ASSERT_TRUE(doc.is_object());
  User alice(port(), kUser);
  ASSERT_TRUE(alice.Join("r2").ok);
  Client c(port());
  int checked = 0;
  for (const Operation& o : Operations(doc)) {
    SCOPED_TRACE(o.method + " " + o.path);
    if (o.needs_identity) {  // no X-User-Id: 401
      Response r;
      const int status = Send(o, c, {}, "r2", &r);
      EXPECT_EQ(status, 401) << r;
      CheckAnswer(doc, o, status, &r);
      ++checked;
    }
    if (o.has_room) {
      // A fresh name for each operation: join creates its room.
      const std::string missing = "nosuchroom-" + std::to_string(checked);
      for (const std::string& room : {std::string("a%20b"), std::string(129, 'x'), missing}) {
        SCOPED_TRACE(room.substr(0, 20));
        Response r;
        const int status = Send(o, c, alice.Auth(), room, &r);
        if (room != missing) {
          EXPECT_EQ(status, 400) << r;
        }
        CheckAnswer(doc, o, status, &r);
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 50);
}

// The checker itself catches what it is there to catch.
TEST(SchemaCheckTest, RejectsWhatTheSchemaDoesNotAllow) {
  const json::value doc = json::parse(R"({"components": {"schemas": {
      "M": {"type": "object", "required": ["seq"],
            "properties": {"seq": {"type": "string", "pattern": "^[0-9]+$"},
                           "kind": {"type": "string", "enum": ["a", "b"]},
                           "n": {"type": ["integer", "string"], "minimum": 0, "maximum": 9},
                           "list": {"type": "array", "items": {"$ref": "#/components/schemas/M"}}}}}}})");
  const json::value schema = json::parse(R"({"$ref": "#/components/schemas/M"})");
  auto check = [&](const char* value) { return CheckSchema(doc, schema, json::parse(value)); };
  EXPECT_EQ(check(R"({"seq": "1", "kind": "a", "n": 3, "list": [{"seq": "2"}]})"), "");
  EXPECT_EQ(check(R"({"seq": "1", "n": "3"})"), "");
  EXPECT_NE(check(R"({"seq": 1})"), "");                          // type
  EXPECT_NE(check(R"({"kind": "a"})"), "");                       // required
  EXPECT_NE(check(R"({"seq": "1x"})"), "");                       // pattern
  EXPECT_NE(check(R"({"seq": "1", "kind": "c"})"), "");           // enum
  EXPECT_NE(check(R"({"seq": "1", "n": 10})"), "");               // maximum
  EXPECT_NE(check(R"({"seq": "1", "n": 1.5})"), "");              // integer
  EXPECT_NE(check(R"({"seq": "1", "list": [{"seq": 2}]})"), "");  // items, through $ref
  EXPECT_NE(check(R"({"seq": "1", "extra": true})"), "");         // undocumented member
  EXPECT_NE(CheckSchema(doc, json::parse(R"({"$ref": "#/nowhere"})"), json::value()), "");
}

}  // namespace
}  // namespace chatroomd::it
