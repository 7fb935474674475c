// The files the daemon serves itself: the web client at / and /operator, its scripts under
// /web/, and /openapi.json, each byte for byte the file in the source tree.
#include <fstream>
#include <sstream>
#include <string>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class WebTest : public SharedDaemonTest<WebTest> {};

std::string SourceFile(const std::string& relative) {
  std::ifstream in(std::string(CHATROOMD_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(WebTest, ServesEachFileAsItIsInTheTree) {
  struct Case {
    const char* path;
    const char* file;
    const char* type;
  };
  const Case cases[] = {
      {"/", "web/index.html", "text/html; charset=utf-8"},
      {"/operator", "web/operator.html", "text/html; charset=utf-8"},
      {"/web/chatroomd.js", "web/chatroomd.js", "text/javascript; charset=utf-8"},
      {"/web/app.js", "web/app.js", "text/javascript; charset=utf-8"},
      {"/web/style.css", "web/style.css", "text/css; charset=utf-8"},
      {"/openapi.json", "docs/openapi.json", "application/json"},
  };
  Client c(port());
  for (const Case& k : cases) {
    std::string want = SourceFile(k.file);
    ASSERT_FALSE(want.empty()) << k.file;
    Response r = c.Get(k.path);
    EXPECT_EQ(r.status, 200) << k.path << "\n" << r;
    EXPECT_EQ(r.body, want) << k.path;
    EXPECT_EQ(r.Header("Content-Type"), k.type) << k.path;
    EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff") << k.path;
    EXPECT_NE(r.Header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  }
}

TEST_F(WebTest, QueryDoesNotChangeTheFile) {
  Client c(port());
  Response r = c.Get("/?room=lobby&user=alice");
  EXPECT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.body, SourceFile("web/index.html"));
}

TEST_F(WebTest, HeadHasNoBodyAndOtherMethodsAre405) {
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("HEAD /web/chatroomd.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  RawConnection::ReadResult head = raw.ReadUntilClose(10s);
  EXPECT_EQ(head.data.rfind("HTTP/1.1 200", 0), 0u) << head.data;
  EXPECT_NE(
      head.data.find("Content-Length: " + std::to_string(SourceFile("web/chatroomd.js").size())),
      std::string::npos)
      << head.data;
  EXPECT_EQ(head.data.substr(head.data.size() - 4), "\r\n\r\n") << "a body after the head";
  Client c(port());
  Response post = c.Request("POST", "/", "x");
  EXPECT_EQ(post.status, 405) << post;
  EXPECT_EQ(post.ErrorCode(), "method_not_allowed");
  EXPECT_EQ(post.Header("Allow"), "GET, HEAD");
}

TEST_F(WebTest, UnknownFilesAre404) {
  Client c(port());
  for (const char* path : {"/web/", "/web/nope.js", "/index.html", "/web/../docs/openapi.json",
                           "/operator/", "/web/web/app.js"}) {
    Response r = c.Get(path);
    EXPECT_EQ(r.status, 404) << path << "\n" << r;
    EXPECT_EQ(r.ErrorCode(), "not_found") << path;
  }
}

TEST_F(WebTest, CountedUnderTheirOwnEndpoint) {
  Client c(port());
  ASSERT_EQ(c.Get("/").status, 200);
  Response m = c.Get("/metrics");
  EXPECT_NE(m.body.find("endpoint=\"web\""), std::string::npos);
}

}  // namespace
}  // namespace chatroomd::it
