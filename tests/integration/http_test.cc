// The HTTP front end: keep-alive, pipelining, size limits, malformed requests, timeouts and
// the connection limit.
#include <string>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class HttpTest : public SharedDaemonTest<HttpTest> {};

class HttpTimeoutTest : public SharedDaemonTest<HttpTimeoutTest> {
 public:
  static DaemonOptions Options() {
    return {.config = "http { read_timeout_ms: 500 idle_timeout_ms: 1000 }"};
  }
};

class HttpLimitTest : public SharedDaemonTest<HttpLimitTest> {
 public:
  static DaemonOptions Options() { return {.config = "http { max_connections: 5 }"}; }
};

std::string SendRequest(const std::string& room, const std::string& user, std::string_view json) {
  return "POST /v1/rooms/" + room + "/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User-Id: " + user +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(json.size()) +
         "\r\n\r\n" + std::string(json);
}

// Sends `bytes` on a fresh connection and expects one 400 bad_request and then the close.
::testing::AssertionResult RejectedAndClosed(uint16_t port, std::string_view bytes) {
  RawConnection c(port);
  if (!c.ok()) return ::testing::AssertionFailure() << c.error();
  c.Send(bytes);  // the daemon may close before reading it all
  auto read = c.ReadUntilClose(5s);
  std::vector<Response> responses = ParseResponses(read.data, read.closed);
  if (responses.empty()) {
    return ::testing::AssertionFailure()
           << "no response (closed: " << read.closed << ", " << read.data.size() << " bytes)";
  }
  if (auto ok = IsError(responses[0], 400, "bad_request"); !ok) return ok;
  if (!read.closed) {
    return ::testing::AssertionFailure() << "the connection stayed open after the 400";
  }
  if (responses.size() > 1) {
    return ::testing::AssertionFailure() << "more than one response: " << responses[1];
  }
  return ::testing::AssertionSuccess();
}

TEST_F(HttpTest, KeepAliveServesManyRequestsOnOneConnection) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(u.Say(room, "m" + std::to_string(i)), static_cast<uint64_t>(i + 1));
    ASSERT_EQ(u.client().Get("/healthz").status, 200);
    ASSERT_TRUE(IsError(u.client().Get("/nope", u.Auth()), 404, "not_found"));
  }
  EXPECT_EQ(u.client().connects(), 1) << "keep-alive: one connection for every request";
  // `Connection: close` is honoured.
  Response r = u.client().Get("/healthz", {{"Connection", "close"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.keep_alive);
}

TEST_F(HttpTest, PipelinedRequestsAreAnsweredInOrder) {
  Client c(port());
  ASSERT_TRUE(
      c.SendBytes("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /nope HTTP/1.1\r\nHost: x\r\nX-User-Id: alice\r\n\r\n"
                  "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"));
  Response a = c.ReadResponse();
  Response b = c.ReadResponse();
  Response d = c.ReadResponse();
  EXPECT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.body.substr(0, 2), "ok");
  EXPECT_TRUE(IsError(b, 404, "not_found"));
  EXPECT_EQ(d.status, 200) << d;
  EXPECT_EQ(d.body.substr(0, 5), "ready");

  // Three sends in one write: three answers, in order, and seqs in the same order.
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  ASSERT_TRUE(c.SendBytes(SendRequest(room, "alice", R"({"body":"p1"})") +
                          SendRequest(room, "alice", R"({"body":"p2"})") +
                          SendRequest(room, "alice", R"({"body":"p3"})")));
  for (int i = 1; i <= 3; ++i) {
    Response r = c.ReadResponse();
    ASSERT_EQ(r.status, 200) << r;
    EXPECT_EQ(r.Json().at("seq").as_string(), std::to_string(i));
  }
  std::vector<Msg> h = u.HistoryAll(room);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].body, "p1");
  EXPECT_EQ(h[1].body, "p2");
  EXPECT_EQ(h[2].body, "p3");
  EXPECT_EQ(c.connects(), 1);
}

TEST_F(HttpTest, HeaderBlockPast8KiBIs431) {
  // Just under the limit is fine.
  Client ok(port());
  Response small = ok.Get("/healthz", {{"X-Filler", Repeat('a', 7000)}});
  EXPECT_EQ(small.status, 200) << small;

  for (const std::string& headers : {"X-Filler: " + Repeat('a', 9000) + "\r\n", [] {
                                       std::string h;
                                       for (int i = 0; i < 20; ++i)
                                         h += "X-Filler-" + std::to_string(i) + ": " +
                                              Repeat('b', 500) + "\r\n";
                                       return h;
                                     }()}) {
    RawConnection c(port());
    ASSERT_TRUE(c.ok()) << c.error();
    c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
    auto read = c.ReadResponses(1, 5s);
    std::vector<Response> responses = ParseResponses(read.data, read.closed);
    ASSERT_FALSE(responses.empty()) << "no response to an oversized header block";
    EXPECT_TRUE(IsError(responses[0], 431, "headers_too_large"));
  }
}

TEST_F(HttpTest, BodyPast64KiBIs413) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  std::string json = R"({"body":")" + Repeat('a', 70000) + R"("})";
  {
    // With Content-Length: the whole body sent.
    RawConnection c(port());
    c.Send(SendRequest(room, "alice", json));
    auto read = c.ReadResponses(1, 5s);
    std::vector<Response> responses = ParseResponses(read.data, read.closed);
    ASSERT_FALSE(responses.empty()) << "no response to a 70000-byte body";
    EXPECT_TRUE(IsError(responses[0], 413, "payload_too_large"));
  }
  {
    // A Content-Length past the limit is refused from the header, without waiting for a body.
    RawConnection c(port());
    c.Send("POST /v1/rooms/" + room +
           "/messages HTTP/1.1\r\nHost: x\r\nX-User-Id: alice\r\n"
           "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"body\":\"");
    auto read = c.ReadResponses(1, 3s);
    std::vector<Response> responses = ParseResponses(read.data, read.closed);
    ASSERT_FALSE(responses.empty()) << "no 413 within 3 s for Content-Length: 1000000";
    EXPECT_TRUE(IsError(responses[0], 413, "payload_too_large"));
  }
  {
    // Chunked: the limit counts the decoded body.
    std::string chunked;
    for (size_t off = 0; off < json.size(); off += 8192) {
      std::string part = json.substr(off, 8192);
      char size[16];
      std::snprintf(size, sizeof size, "%zx", part.size());
      chunked += std::string(size) + "\r\n" + part + "\r\n";
    }
    chunked += "0\r\n\r\n";
    RawConnection c(port());
    c.Send("POST /v1/rooms/" + room +
           "/messages HTTP/1.1\r\nHost: x\r\nX-User-Id: alice\r\n"
           "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
           chunked);
    auto read = c.ReadResponses(1, 5s);
    std::vector<Response> responses = ParseResponses(read.data, read.closed);
    ASSERT_FALSE(responses.empty()) << "no response to a 70000-byte chunked body";
    EXPECT_TRUE(IsError(responses[0], 413, "payload_too_large"));
  }
  EXPECT_EQ(u.Head(room), 0u);
}

TEST_F(HttpTest, ChunkedRequestBodyIsAccepted) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  Client c(port());
  ASSERT_TRUE(c.SendBytes("POST /v1/rooms/" + room +
                          "/messages HTTP/1.1\r\nHost: x\r\n"
                          "X-User-Id: alice\r\nContent-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"
                          "6\r\n{\"body\r\n9\r\n\":\"chunk\"\r\n1\r\n}\r\n0\r\n\r\n"));
  Response r = c.ReadResponse();
  ASSERT_EQ(r.status, 200) << r;
  std::vector<Msg> h = u.HistoryAll(room);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].body, "chunk");
}

TEST_F(HttpTest, MalformedRequestsAre400AndClose) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"junk", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03junk junk\r\n\r\n"},
      {"not http", "HELLO WORLD\r\n\r\n"},
      {"Content-Length: abc",
       "POST /v1/rooms/r/messages HTTP/1.1\r\nHost: x\r\nX-User-Id: u\r\n"
       "Content-Length: abc\r\n\r\n{}"},
      {"two Content-Lengths",
       "POST /v1/rooms/r/messages HTTP/1.1\r\nHost: x\r\nX-User-Id: u\r\n"
       "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} "},
      {"Content-Length and chunked",
       "POST /v1/rooms/r/messages HTTP/1.1\r\nHost: x\r\nX-User-Id: u\r\n"
       "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
      {"HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n"},
      {"bad chunk size",
       "POST /v1/rooms/r/messages HTTP/1.1\r\nHost: x\r\nX-User-Id: u\r\n"
       "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
      {"space in the header name", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n"},
      {"bad %-escape in the target",
       "POST /v1/rooms/a%zz/join HTTP/1.1\r\nHost: x\r\nX-User-Id: u\r\n\r\n"},
      {"fragment in the target", "GET /healthz?x=1#frag HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"asterisk form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"authority form", "CONNECT x:80 HTTP/1.1\r\nHost: x\r\n\r\n"},
  };
  for (const auto& [name, bytes] : cases) {
    EXPECT_TRUE(RejectedAndClosed(port(), bytes)) << name;
  }
  // After a malformed request on one connection, the daemon serves others as usual.
  Client c(port());
  EXPECT_EQ(c.Get("/healthz").status, 200);
  // HTTP/1.0 needs no Host.
  RawConnection old(port());
  old.Send("GET /healthz HTTP/1.0\r\n\r\n");
  auto read = old.ReadUntilClose(5s);
  std::vector<Response> responses = ParseResponses(read.data, read.closed);
  ASSERT_FALSE(responses.empty());
  EXPECT_EQ(responses[0].status, 200) << responses[0];
  // The absolute form, which an HTTP/1.1 server must take.
  EXPECT_EQ(c.Get("http://127.0.0.1/healthz").status, 200);
  EXPECT_EQ(c.Get("HTTP://anything:1/healthz?x=1").status, 200);
}

TEST_F(HttpTest, HeadOnTheOperationsEndpointsAnswersHeadersOnly) {
  // Pipelined with a GET behind it: a HEAD answer must carry no body, or the next answer
  // would be read wrong.
  RawConnection c(port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c.Send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto read = c.ReadUntilEndsWith("\r\n\r\nok\n", 5s);
  const std::string head_answer = read.data.substr(0, read.data.find("\r\n\r\n") + 4);
  EXPECT_NE(head_answer.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << read.data;
  EXPECT_NE(head_answer.find("Content-Length: 3\r\n"), std::string::npos) << head_answer;
  const std::string rest = read.data.substr(head_answer.size());
  ASSERT_TRUE(rest.starts_with("HTTP/1.1 200 OK\r\n"))
      << "the HEAD answer had a body: " << read.data;
  std::vector<Response> get = ParseResponses(rest, false);
  ASSERT_EQ(get.size(), 1u);
  EXPECT_EQ(get[0].body, "ok\n");
  // The API's endpoints do not take HEAD (and the 405 comes without its body, as HEAD says).
  RawConnection api(port());
  ASSERT_TRUE(api.Send("HEAD /v1/rooms/r/poll HTTP/1.1\r\nHost: x\r\nX-User-Id: u\r\n\r\n"));
  auto refused = api.ReadUntilEndsWith("\r\n\r\n", 5s);
  EXPECT_TRUE(refused.data.starts_with("HTTP/1.1 405 ")) << refused.data;
  EXPECT_NE(refused.data.find("Allow: GET\r\n"), std::string::npos) << refused.data;
}

TEST_F(HttpTest, UserIdHeaderMustBeOneValidId) {
  Client c(port());
  // An empty X-User-Id is an id that does not match the pattern: bad_request, not missing.
  RawConnection raw(port());
  ASSERT_TRUE(
      raw.Send("POST /v1/rooms/r/join HTTP/1.1\r\nHost: x\r\nX-User-Id:\r\n"
               "Content-Length: 0\r\n\r\n"));
  auto read = raw.ReadResponses(1, 5s);
  std::vector<Response> answers = ParseResponses(read.data, read.closed);
  ASSERT_EQ(answers.size(), 1u) << read.data;
  EXPECT_TRUE(IsError(answers[0], 400, "bad_request"));
  // Two ids: which one is meant? Neither.
  Response two =
      c.Request("POST", "/v1/rooms/r/join", "{}", {{"X-User-Id", "alice"}, {"X-User-Id", "bob"}});
  EXPECT_TRUE(IsError(two, 400, "bad_request"));
  // None at all: unauthorized.
  Response none = c.Request("POST", "/v1/rooms/r/join", "{}");
  EXPECT_TRUE(IsError(none, 401, "unauthorized"));
}

TEST_F(HttpTest, ExpectContinueGetsAnInterimAnswerBeforeTheBody) {
  const std::string room = UniqueRoom();
  User alice(port(), "alice");
  ASSERT_TRUE(alice.Join(room).ok);
  const std::string body = R"({"body":"after the 100"})";
  RawConnection c(port());
  ASSERT_TRUE(c.Send("POST /v1/rooms/" + room +
                     "/messages HTTP/1.1\r\nHost: x\r\n"
                     "X-User-Id: alice\r\nContent-Type: application/json\r\n"
                     "Expect: 100-continue\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n"));
  // Without the body the daemon cannot answer; it says "go on" (curl waits a second for it).
  auto interim = c.ReadUntilEndsWith("\r\n\r\n", 3s);
  ASSERT_EQ(interim.data, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(c.Send(body));
  auto read = c.ReadResponses(1, 5s);
  const std::string& rest = read.data;
  std::vector<Response> answers = ParseResponses(rest, false);
  ASSERT_EQ(answers.size(), 1u) << rest;
  EXPECT_EQ(answers[0].status, 200) << answers[0];
}

TEST_F(HttpTest, AcceptAndContentTypeFollowTheMediaTypeRules) {
  const std::string room = UniqueRoom();
  Client c(port());
  auto join = [&](std::string_view accept) {
    return c.Request("POST", "/v1/rooms/" + room + "/join", "{}",
                     {{"X-User-Id", "alice"}, {"Accept", std::string(accept)}});
  };
  EXPECT_EQ(join("application/x-protobuf").Header("Content-Type"), "application/x-protobuf");
  EXPECT_EQ(join("APPLICATION/X-Protobuf").Header("Content-Type"), "application/x-protobuf");
  EXPECT_EQ(join("application/x-protobuf;q=0, application/json").Header("Content-Type"),
            "application/json");
  EXPECT_EQ(join("application/json;q=0.9, application/x-protobuf;q=0.5").Header("Content-Type"),
            "application/json");
  EXPECT_EQ(join("application/json;q=0.5, application/x-protobuf").Header("Content-Type"),
            "application/x-protobuf");
  // Content-Type names a binary body whatever its case: these bytes are a valid binary
  // SendRequest ({body: "x"}), where as JSON they are no JSON at all (400).
  const std::string send = "/v1/rooms/" + room + "/messages";
  const std::string body_x("\x0a\x01x", 3);
  Response as_json = c.Request("POST", send, body_x, {{"X-User-Id", "alice"}});
  EXPECT_TRUE(IsError(as_json, 400, "bad_request")) << as_json;
  Response binary = c.Request("POST", send, body_x,
                              {{"X-User-Id", "alice"}, {"Content-Type", "Application/X-Protobuf"}});
  EXPECT_EQ(binary.status, 200) << binary;
}

class HttpCorsTest : public SharedDaemonTest<HttpCorsTest> {
 public:
  static DaemonOptions Options() {
    return {
        .config =
            R"(http { cors_origins: "https://live.example.com" cors_origins: "http://localhost:3000" })"};
  }
};

TEST_F(HttpCorsTest, AllowedOriginsGetTheHeadersOnEveryAnswerAndPreflightsAreAnswered) {
  Client c(port());
  Response ok = c.Get("/healthz", {{"Origin", "https://live.example.com"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.Header("Access-Control-Allow-Origin"), "https://live.example.com");
  EXPECT_EQ(ok.Header("Vary"), "Origin");
  EXPECT_EQ(ok.Header("Access-Control-Expose-Headers"), "Retry-After");
  // Errors too, so that a browser client can read them.
  Response err = c.Request("POST", "/v1/rooms/no-such-room-" + UniqueRoom() + "/leave", {},
                           {{"X-User-Id", "u"}, {"Origin", "http://localhost:3000"}});
  EXPECT_TRUE(IsError(err, 404, "room_not_found"));
  EXPECT_EQ(err.Header("Access-Control-Allow-Origin"), "http://localhost:3000");
  // Not allowed, or no Origin at all: nothing.
  Response other = c.Get("/healthz", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(other.status, 200);
  EXPECT_FALSE(other.HasHeader("Access-Control-Allow-Origin"));
  EXPECT_FALSE(c.Get("/healthz").HasHeader("Access-Control-Allow-Origin"));

  // A preflight for a send with a bearer token.
  Response pre = c.Request("OPTIONS", "/v1/rooms/r/messages", {},
                           {{"Origin", "https://live.example.com"},
                            {"Access-Control-Request-Method", "POST"},
                            {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(pre.status, 204) << pre;
  EXPECT_EQ(pre.Header("Access-Control-Allow-Origin"), "https://live.example.com");
  EXPECT_EQ(pre.Header("Access-Control-Allow-Methods"), "GET, POST, PUT, DELETE, HEAD");
  EXPECT_NE(pre.Header("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_NE(pre.Header("Access-Control-Allow-Headers").find("Content-Type"), std::string::npos);
  EXPECT_FALSE(pre.Header("Access-Control-Max-Age").empty());
  Response denied =
      c.Request("OPTIONS", "/v1/rooms/r/messages", {},
                {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(denied.status, 204);
  EXPECT_FALSE(denied.HasHeader("Access-Control-Allow-Origin"));
  // OPTIONS that is not a preflight is still not a method the API takes.
  EXPECT_EQ(c.Request("OPTIONS", "/v1/rooms/r/messages").status, 405);
  EXPECT_EQ(c.connects(), 1);
}

TEST_F(HttpTimeoutTest, PartialRequestIsClosedAfterReadTimeout) {
  RawConnection c(port());
  ASSERT_TRUE(c.ok()) << c.error();
  c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // no blank line: never complete
  auto read = c.ReadUntilClose(5s);
  EXPECT_TRUE(read.closed) << "a request not whole within read_timeout_ms stayed open";
  EXPECT_GE(read.elapsed, 300ms);
  EXPECT_LT(read.elapsed, 3000ms);
  for (const auto& r : ParseResponses(read.data, read.closed)) {
    EXPECT_NE(r.status, 200) << "a partial request was answered as complete: " << r;
  }
}

TEST_F(HttpTimeoutTest, SlowRequestIsClosedAfterReadTimeout) {
  RawConnection c(port());
  ASSERT_TRUE(c.ok()) << c.error();
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + Repeat('s', 200);
  auto start = Clock::now();
  bool closed = false;
  for (size_t i = 0; i < request.size() && Clock::now() - start < 5s; ++i) {
    if (!c.Send(request.substr(i, 1))) {
      closed = true;
      break;
    }
    if (c.ReadUntilClose(100ms).closed) {
      closed = true;
      break;
    }
  }
  auto elapsed = Clock::now() - start;
  EXPECT_TRUE(closed) << "a request trickling in byte by byte was never cut off";
  EXPECT_LT(elapsed, 3000ms) << "read_timeout_ms counts from the request's first byte";
}

TEST_F(HttpTimeoutTest, ReadTimeoutIsPerRequest) {
  Client c(port());
  EXPECT_EQ(c.Get("/healthz").status, 200);
  std::this_thread::sleep_for(700ms);  // longer than read_timeout_ms, shorter than idle
  EXPECT_EQ(c.Get("/healthz").status, 200);
  EXPECT_EQ(c.connects(), 1);
}

TEST_F(HttpTimeoutTest, IdleKeepAliveConnectionIsClosed) {
  RawConnection c(port());
  ASSERT_TRUE(c.ok()) << c.error();
  c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto first = c.ReadResponses(1, 5s);
  ASSERT_EQ(ParseResponses(first.data, false).size(), 1u);
  ASSERT_FALSE(first.closed);
  auto read = c.ReadUntilClose(5s);
  EXPECT_TRUE(read.closed) << "idle keep-alive connection not closed";
  EXPECT_GE(read.elapsed, 500ms) << "closed well before idle_timeout_ms";
  EXPECT_LT(read.elapsed, 3500ms);
}

TEST_F(HttpTimeoutTest, HeldPollIsNotIdle) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 1500});
  ASSERT_TRUE(p.ok) << "a held poll longer than idle_timeout_ms was cut off";
  EXPECT_TRUE(p.messages.empty());
  EXPECT_GE(p.elapsed, 1400ms);
}

TEST_F(HttpLimitTest, ConnectionsPastTheLimitAreRefused) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<Client>(port()));
    ASSERT_EQ(clients.back()->Get("/healthz").status, 200) << "connection " << i;
  }
  {
    RawConnection extra(port());
    ASSERT_TRUE(extra.ok()) << extra.error();
    extra.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto read = extra.ReadUntilClose(5s);
    EXPECT_TRUE(read.closed) << "the 6th connection was kept open";
    std::vector<Response> responses = ParseResponses(read.data, read.closed);
    if (!responses.empty()) {
      EXPECT_TRUE(IsError(responses[0], 503, "overloaded"));
      EXPECT_TRUE(responses[0].HasHeader("Retry-After")) << DumpHeaders(responses[0]);
    }
  }
  for (auto& c : clients) {
    EXPECT_EQ(c->Get("/healthz").status, 200);
    EXPECT_EQ(c->connects(), 1) << "an admitted connection was dropped";
  }
  // Closing one makes room for a new one.
  clients.pop_back();
  EXPECT_TRUE(WaitUntil(
      [&] {
        Client c(port(), 2s);
        return c.Get("/healthz").status == 200;
      },
      5s, 50ms));
}

}  // namespace
}  // namespace chatroomd::it
