// Router (src/http/router.h), what it answers itself: 404 for unknown paths and actions, 405
// with Allow for a wrong method (before identity), 401/400 for identity, 400 for a bad room id,
// 400 (bad_request, bad_cursor) for bad query values and bodies, the operations endpoints
// (/healthz, /readyz, /metrics), CORS preflights and headers. Those answers come through
// ReplyLater; the endpoints' own flows are in router_rooms_test.cc. Contract: docs/api.md.
#include "http/router.h"

#include <gtest/gtest.h>

#include "proto/chatroomd/api.pb.h"
#include "router_fixture.h"

namespace chatroomd::http {
namespace {

using fakes::Body;
using fakes::Code;
using fakes::FakeExchange;
using fakes::HasHeader;
using fakes::Json;
using fakes::verb;
using metrics::Endpoint;

class RouterTest : public fakes::RouterTest {};

// An error answered by the router itself.
void ExpectRouterError(const FakeExchange::Answer& a, int status, const std::string& code) {
  ASSERT_TRUE(a.response);
  EXPECT_EQ(a.via, FakeExchange::Via::kReplyLater);
  EXPECT_EQ(a.response->status, status) << Body(a.response);
  EXPECT_EQ(Code(a.response), code) << Body(a.response);
  EXPECT_TRUE(HasHeader(a.response, "Content-Type: application/json")) << a.response->head;
}

TEST_F(RouterTest, UnknownPathsAndActionsAre404) {
  for (std::string target :
       {"/index.html", "/v1", "/v1/rooms", "/v1/rooms/r1", "/v1/rooms/r1/bogus",
        "/v1/rooms/r1/join/x", "/v1/rooms/r1/join/", "/v2/rooms/r1/join", "/V1/rooms/r1/join",
        "/v1/room/r1/join", "/healthz/x", "/HEALTHZ", "/v1/rooms/r1/ONLINE"}) {
    SCOPED_TRACE(target);
    for (verb m : {verb::get, verb::post}) {
      auto ex = Handle(Req(m, target));
      auto a = ex->Next();
      ASSERT_TRUE(a);
      ExpectRouterError(*a, 404, "not_found");
      EXPECT_TRUE(a->on_loop);
      EXPECT_FALSE(ex->poll_room);
    }
  }
}

TEST_F(RouterTest, WrongMethodIs405WithAllowBeforeIdentity) {
  struct Case {
    verb method;
    std::string target;
    std::string allow;
  };
  for (const Case& c : std::vector<Case>{
           {verb::get, "/v1/rooms/r1/join", "POST"},
           {verb::put, "/v1/rooms/r1/join", "POST"},
           {verb::post, "/v1/rooms/r1/poll", "GET"},
           {verb::head, "/v1/rooms/r1/poll", "GET"},
           {verb::get, "/v1/rooms/r1/leave", "POST"},
           {verb::put, "/v1/rooms/r1/messages", "GET, POST"},
           {verb::delete_, "/v1/rooms/r1/messages", "GET, POST"},
           {verb::options, "/v1/rooms/r1/messages", "GET, POST"},  // not a preflight
           {verb::post, "/healthz", "GET, HEAD"},
           {verb::put, "/readyz", "GET, HEAD"},
           {verb::delete_, "/metrics", "GET, HEAD"},
       }) {
    SCOPED_TRACE(std::string(boost::beast::http::to_string(c.method)) + " " + c.target);
    // No identity, and a room id that is no room id: the method is checked first.
    for (std::optional<std::string> user :
         {std::optional<std::string>("alice"), std::optional<std::string>()}) {
      auto a = Ask(Req(c.method, c.target, user));
      ExpectRouterError(a, 405, "method_not_allowed");
      EXPECT_TRUE(HasHeader(a.response, "Allow: " + c.allow)) << a.response->head;
    }
  }
  auto a = Ask(Req(verb::get, "/v1/rooms/a%20b/join", std::nullopt));
  ExpectRouterError(a, 405, "method_not_allowed");
}

TEST_F(RouterTest, IdentityIsCheckedBeforeTheRoomAndItsParameters) {
  for (auto [m, action] : std::vector<std::pair<verb, std::string>>{{verb::post, "join"},
                                                                    {verb::get, "poll"},
                                                                    {verb::post, "messages"},
                                                                    {verb::get, "messages"},
                                                                    {verb::post, "leave"}}) {
    SCOPED_TRACE(action);
    // Missing X-User-Id: 401, even with a bad room id and bad parameters.
    ExpectRouterError(Ask(Req(m, "/v1/rooms/r1/" + action, std::nullopt)), 401, "unauthorized");
    ExpectRouterError(Ask(Req(m, "/v1/rooms/a%20b/" + action + "?limit=0", std::nullopt)), 401,
                      "unauthorized");
    // A user id out of the grammar, the empty one too.
    ExpectRouterError(Ask(Req(m, "/v1/rooms/r1/" + action, "bad id")), 400, "bad_request");
    ExpectRouterError(Ask(Req(m, "/v1/rooms/r1/" + action, "")), 400, "bad_request");
    // Two X-User-Id headers.
    Request twice = Req(m, "/v1/rooms/r1/" + action);
    twice.x_user_id_count = 2;
    ExpectRouterError(Ask(std::move(twice)), 400, "bad_request");
  }
}

TEST_F(RouterTest, BadRoomIdIs400OnEveryRoomEndpoint) {
  const std::string long_id(129, 'a');
  for (const std::string& room : {std::string("a%20b"), std::string("a%2Fb"), std::string("%C3%A9"),
                                  long_id, std::string("a*b")}) {
    for (auto [m, action] : std::vector<std::pair<verb, std::string>>{{verb::post, "join"},
                                                                      {verb::get, "poll"},
                                                                      {verb::post, "messages"},
                                                                      {verb::get, "messages"},
                                                                      {verb::post, "leave"}}) {
      SCOPED_TRACE(room + " " + action);
      auto ex = Handle(Req(m, "/v1/rooms/" + room + "/" + action, "alice", "{}"));
      auto a = ex->Next();
      ASSERT_TRUE(a);
      ExpectRouterError(*a, 400, "bad_request");
      EXPECT_FALSE(ex->poll_room);
    }
  }
  // 128 characters is a room id.
  EXPECT_EQ(Answer(Req(verb::post, "/v1/rooms/" + std::string(128, 'a') + "/join"))->status, 200);
}

TEST_F(RouterTest, BadQueryValuesAre400) {
  const std::string cursor = Join("r1");
  const std::string other_cursor = Join("r2");
  struct Case {
    std::string target;
    std::string code;
  };
  for (const Case& c : std::vector<Case>{
           {"/v1/rooms/r1/poll?timeout_ms=60001", "bad_request"},
           {"/v1/rooms/r1/poll?timeout_ms=-1", "bad_request"},
           {"/v1/rooms/r1/poll?timeout_ms=1.5", "bad_request"},
           {"/v1/rooms/r1/poll?timeout_ms=", "bad_request"},
           {"/v1/rooms/r1/poll?timeout_ms=abc", "bad_request"},
           {"/v1/rooms/r1/poll?limit=0", "bad_request"},
           {"/v1/rooms/r1/poll?limit=1001", "bad_request"},
           {"/v1/rooms/r1/poll?limit=%2B5", "bad_request"},
           {"/v1/rooms/r1/poll?cursor=garbage", "bad_cursor"},
           {"/v1/rooms/r1/poll?cursor=", "bad_cursor"},
           {"/v1/rooms/r1/poll?cursor=" + other_cursor, "bad_cursor"},
           {"/v1/rooms/r1/poll?cursor=" + std::string(129, 'A'), "bad_cursor"},
           {"/v1/rooms/r1/poll?cursor=" + cursor + "&limit=0", "bad_request"},
           {"/v1/rooms/r1/messages?limit=0", "bad_request"},
           {"/v1/rooms/r1/messages?limit=201", "bad_request"},
           {"/v1/rooms/r1/messages?before=x", "bad_request"},
           {"/v1/rooms/r1/messages?before=18446744073709551616", "bad_request"},
       }) {
    SCOPED_TRACE(c.target);
    auto ex = Handle(Req(verb::get, c.target));
    auto a = ex->Next();
    ASSERT_TRUE(a);
    ExpectRouterError(*a, 400, c.code);
    EXPECT_FALSE(ex->poll_room) << "a refused poll waits nowhere";
  }
  // In range at both ends; unknown parameters are ignored.
  for (std::string target :
       {"/v1/rooms/r1/poll?timeout_ms=0&limit=1", "/v1/rooms/r1/poll?timeout_ms=0&limit=1000",
        "/v1/rooms/r1/poll?timeout_ms=0&x=y", "/v1/rooms/r1/messages?limit=200&before=0",
        "/v1/rooms/r1/messages?limit=1&before=18446744073709551615"}) {
    SCOPED_TRACE(target);
    auto a = Ask(Req(verb::get, target));
    EXPECT_EQ(a.response->status, 200) << Body(a.response);
    EXPECT_EQ(a.via, FakeExchange::Via::kDeliver);
  }
}

TEST_F(RouterTest, BadBodiesAre400Or413) {
  Join("r1");
  const auto send = [&](std::string body) {
    return Ask(Req(verb::post, "/v1/rooms/r1/messages", "alice", std::move(body)));
  };
  ExpectRouterError(send(""), 400, "bad_request");
  ExpectRouterError(send("not json"), 400, "bad_request");
  ExpectRouterError(send("{\"type\":\"BAD\"}"), 400, "bad_request");
  ExpectRouterError(send("{\"client_msg_id\":\"\"}"), 400, "bad_request");
  ExpectRouterError(send("{\"body\":\"" + std::string(4097, 'x') + "\"}"), 413,
                    "payload_too_large");
  ExpectRouterError(Ask(Req(verb::post, "/v1/rooms/r1/join", "alice", "{\"backlog\":201}")), 400,
                    "bad_request");
  // Numbers past int64 (found by the JSON body fuzzer: undefined behaviour once).
  for (const char* big : {"999999999999999999999", "-1e300", "1.5e19", "2.5"}) {
    ExpectRouterError(Ask(Req(verb::post, "/v1/rooms/r1/join", "alice",
                              std::string("{\"backlog\":") + big + "}")),
                      400, "bad_request");
  }
  Request garbage = Req(verb::post, "/v1/rooms/r1/messages", "alice", "\xff\xff");
  garbage.protobuf_body = true;
  ExpectRouterError(Ask(std::move(garbage)), 400, "bad_request");
  // A text message needs a body; other types may go without.
  ExpectRouterError(send("{}"), 400, "bad_request");
  ExpectRouterError(send("{\"body\":\"\",\"type\":\"text\"}"), 400, "bad_request");
  EXPECT_EQ(send("{\"type\":\"like\"}").response->status, 200);
  // At the bound: accepted.
  EXPECT_EQ(send("{\"body\":\"" + std::string(4096, 'x') + "\"}").response->status, 200);
}

TEST_F(RouterTest, OperationsEndpointsNeedNoIdentity) {
  auto ex = Handle(Req(verb::get, "/healthz", std::nullopt));
  auto a = ex->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->via, FakeExchange::Via::kReplyLater);
  EXPECT_EQ(a->response->status, 200);
  EXPECT_EQ(Body(a->response), "ok\n");
  EXPECT_TRUE(HasHeader(a->response, "Content-Type: text/plain"));
  EXPECT_EQ(ex->endpoint, Endpoint::kHealthz);
  // HEAD as GET (the connection leaves the body out).
  EXPECT_EQ(Answer(Req(verb::head, "/healthz", std::nullopt))->status, 200);

  ex = Handle(Req(verb::get, "/readyz", std::nullopt));
  a = ex->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response->status, 200);
  EXPECT_EQ(Body(a->response), "ready\n");
  EXPECT_EQ(ex->endpoint, Endpoint::kReadyz);
  ready_ = false;
  WirePtr draining = Answer(Req(verb::get, "/readyz", std::nullopt));
  EXPECT_EQ(draining->status, 503);
  EXPECT_TRUE(HasHeader(draining, "Retry-After: 1"));
  ready_ = true;
  EXPECT_EQ(Answer(Req(verb::head, "/readyz", std::nullopt))->status, 200);

  ex = Handle(Req(verb::get, "/metrics", std::nullopt));
  a = ex->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response->status, 200);
  EXPECT_TRUE(HasHeader(a->response, "Content-Type: text/plain; version=0.0.4"));
  const std::string text = Body(a->response);
  EXPECT_NE(text.find("chatroomd_held_polls"), std::string::npos) << text;
  EXPECT_NE(text.find("chatroomd_requests_total"), std::string::npos);
  EXPECT_NE(text.find("# extra metrics text\n"), std::string::npos) << "extra text left out";
  EXPECT_EQ(ex->endpoint, Endpoint::kMetrics);
}

TEST_F(RouterTest, AnUnreadableTargetIs400AndClosesTheConnection) {
  for (std::string target :
       {"*", "/v1/rooms/r1/join%zz", "/healthz?x=1#frag", "host:80", "ftp://example.com/healthz"}) {
    SCOPED_TRACE(target);
    auto ex = Handle(Req(verb::get, target));
    auto a = ex->Next();
    ASSERT_TRUE(a);
    ExpectRouterError(*a, 400, "bad_request");
    EXPECT_TRUE(ex->close_after_answer);
  }
  // The absolute form is read, its authority ignored.
  EXPECT_EQ(Answer(Req(verb::get, "http://example.com/healthz"))->status, 200);
}

// docs/api.md ("HTTP behaviour and limits"): a target with a fragment, in the path or the
// query, is malformed: 400 bad_request, then close.
TEST_F(RouterTest, AFragmentAnywhereIs400AndClosesTheConnection) {
  for (std::string target : {"/healthz#frag", "/v1/rooms/r1/poll#x", "/v1/rooms/r1#x/join"}) {
    SCOPED_TRACE(target);
    auto ex = Handle(Req(verb::get, target));
    auto a = ex->Next();
    ASSERT_TRUE(a);
    ExpectRouterError(*a, 400, "bad_request");
    EXPECT_TRUE(ex->close_after_answer);
  }
}

// docs/api.md ("Protobuf content negotiation"): with `Accept: application/x-protobuf` errors
// are the binary ErrorResponse, 405 included.
TEST_F(RouterTest, MethodNotAllowedFollowsAcceptLikeEveryOtherError) {
  for (Request r : {Req(verb::get, "/v1/rooms/r1/join"), Req(verb::put, "/v1/rooms/r1/messages"),
                    Req(verb::post, "/healthz")}) {
    SCOPED_TRACE(r.target);
    r.protobuf_response = true;
    WirePtr w = Answer(std::move(r));
    ASSERT_EQ(w->status, 405);
    EXPECT_TRUE(HasHeader(w, "Content-Type: application/x-protobuf")) << w->head;
    api::ErrorResponse er;
    ASSERT_TRUE(er.ParseFromString(Body(w)));
    EXPECT_EQ(er.error().code(), "method_not_allowed");
  }
}

class CorsRouterTest : public fakes::RouterTest {
 protected:
  void Configure(config::LoadedConfig& c) override {
    c.main.mutable_http()->add_cors_origins("https://live.example.com");
  }
  static Request Preflight(std::string origin) {
    Request r = Req(verb::options, "/v1/rooms/r1/messages", std::nullopt);
    r.origin = std::move(origin);
    r.cors_preflight = true;
    return r;
  }
};

TEST_F(CorsRouterTest, PreflightOfAnAllowedOriginListsMethodsAndHeaders) {
  auto a = Ask(Preflight("https://live.example.com"));
  EXPECT_EQ(a.via, FakeExchange::Via::kReplyLater);
  EXPECT_EQ(a.response->status, 204);
  EXPECT_TRUE(HasHeader(a.response, "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, HEAD"))
      << a.response->head;
  EXPECT_TRUE(HasHeader(a.response,
                        "Access-Control-Allow-Headers: Authorization, Content-Type, Accept, "
                        "X-User-Id"));
  EXPECT_TRUE(HasHeader(a.response, "Access-Control-Max-Age: 600"));
  // Any path, no identity.
  Request anywhere = Preflight("https://live.example.com");
  anywhere.target = "/nowhere";
  EXPECT_EQ(Answer(std::move(anywhere))->status, 204);

  // Another origin: 204 with no CORS headers (a browser refuses it).
  WirePtr refused = Answer(Preflight("https://evil.example.com"));
  EXPECT_EQ(refused->status, 204);
  EXPECT_EQ(refused->head.find("Access-Control-"), std::string::npos) << refused->head;
}

TEST_F(CorsRouterTest, CorsHeadersForAnAllowedOriginOnly) {
  Request r = Req(verb::get, "/healthz");
  EXPECT_EQ(router_->CorsHeaders(r), nullptr) << "no Origin: not a browser's cross-origin request";
  r.origin = "https://live.example.com";
  const std::string* lines = router_->CorsHeaders(r);
  ASSERT_NE(lines, nullptr);
  EXPECT_NE(lines->find("Access-Control-Allow-Origin: https://live.example.com\r\n"),
            std::string::npos);
  EXPECT_NE(lines->find("Vary: Origin\r\n"), std::string::npos);
  EXPECT_NE(lines->find("Access-Control-Expose-Headers: Retry-After\r\n"), std::string::npos);
  r.origin = "HTTPS://LIVE.EXAMPLE.COM";
  EXPECT_EQ(router_->CorsHeaders(r), lines) << "origins match without regard to case";
  r.origin = "https://other.example.com";
  EXPECT_EQ(router_->CorsHeaders(r), nullptr);
}

class AnyOriginRouterTest : public CorsRouterTest {
 protected:
  void Configure(config::LoadedConfig& c) override { c.main.mutable_http()->add_cors_origins("*"); }
};

TEST_F(AnyOriginRouterTest, AnyOriginIsAllowed) {
  Request r = Req(verb::get, "/healthz");
  r.origin = "https://anyone.example.org";
  const std::string* lines = router_->CorsHeaders(r);
  ASSERT_NE(lines, nullptr);
  EXPECT_NE(lines->find("Access-Control-Allow-Origin: *\r\n"), std::string::npos);
  EXPECT_TRUE(
      HasHeader(Answer(Preflight("https://anyone.example.org")), "Access-Control-Max-Age: 600"));
}

TEST_F(RouterTest, WithoutCorsOriginsAPreflightGetsNoCorsHeaders) {
  Request r = Req(verb::options, "/v1/rooms/r1/poll", std::nullopt);
  r.origin = "https://live.example.com";
  r.cors_preflight = true;
  WirePtr w = Answer(std::move(r));
  EXPECT_EQ(w->status, 204);
  EXPECT_EQ(w->head.find("Access-Control-"), std::string::npos);
}

}  // namespace
}  // namespace chatroomd::http
