// Routing, identity, ids, and the response conventions every endpoint shares.
#include <algorithm>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class BasicsTest : public SharedDaemonTest<BasicsTest> {};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The methods named in an Allow header, e.g. "GET, POST".
std::vector<std::string> AllowList(const Response& r) {
  std::vector<std::string> out;
  std::string allow = r.Header("Allow");
  std::string cur;
  for (char c : allow + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ' && c != '\t') {
      cur += c;
    }
  }
  return out;
}

TEST_F(BasicsTest, HealthzAndReadyzNeedNoIdentity) {
  Client c(port());
  Response h = c.Get("/healthz");
  EXPECT_EQ(h.status, 200) << h;
  EXPECT_EQ(Trim(h.body), "ok");
  EXPECT_TRUE(HasNoStore(h));
  Response r = c.Get("/readyz");
  EXPECT_EQ(r.status, 200) << r;
  EXPECT_EQ(Trim(r.body), "ready");
  EXPECT_TRUE(HasNoStore(r));
}

TEST_F(BasicsTest, MetricsNeedNoIdentity) {
  Client c(port());
  Response m = c.Get("/metrics");
  ASSERT_EQ(m.status, 200) << m;
  EXPECT_EQ(m.Header("Content-Type").rfind("text/plain", 0), 0u) << m;
  EXPECT_TRUE(HasNoStore(m));
  EXPECT_NE(m.body.find("chatroomd_"), std::string::npos);
}

TEST_F(BasicsTest, UnknownPathsAre404) {
  User u(port(), "alice");
  ASSERT_TRUE(u.Join(UniqueRoom()).ok);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GET", "/nope"},
      {"GET", "/v1"},
      {"GET", "/v1/rooms"},
      {"GET", "/v1/rooms/r1"},
      {"POST", "/v1/rooms/r1/nope"},
      {"POST", "/v1/rooms/r1/join/extra"},
      {"GET", "/v1/rooms/r1/poll/x"},
      {"POST", "/v2/rooms/r1/join"},
      {"GET", "/healthz/x"},
  };
  for (const auto& [method, target] : cases) {
    Response r = u.client().Request(method, target, {}, u.Auth());
    EXPECT_TRUE(IsError(r, 404, "not_found")) << method << " " << target;
  }
}

TEST_F(BasicsTest, WrongMethodIs405WithAllow) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  struct Case {
    std::string method;
    std::string target;
    std::vector<std::string> allowed;
  };
  const std::vector<Case> cases = {
      {"GET", "/v1/rooms/" + room + "/join", {"POST"}},
      {"DELETE", "/v1/rooms/" + room + "/join", {"POST"}},
      {"POST", "/v1/rooms/" + room + "/poll", {"GET"}},
      {"GET", "/v1/rooms/" + room + "/leave", {"POST"}},
      {"PUT", "/v1/rooms/" + room + "/messages", {"GET", "POST"}},
      {"POST", "/healthz", {"GET"}},
      {"DELETE", "/readyz", {"GET"}},
      {"POST", "/metrics", {"GET"}},
  };
  for (const auto& c : cases) {
    Response r = u.client().Request(c.method, c.target, {}, u.Auth());
    EXPECT_TRUE(IsError(r, 405, "method_not_allowed")) << c.method << " " << c.target;
    std::vector<std::string> allow = AllowList(r);
    for (const auto& m : c.allowed) {
      EXPECT_NE(std::find(allow.begin(), allow.end(), m), allow.end())
          << c.method << " " << c.target << ": Allow `" << r.Header("Allow") << "` lacks " << m;
    }
  }
}

TEST_F(BasicsTest, MissingIdentityIs401) {
  User owner(port(), "owner");
  std::string room = UniqueRoom();
  ASSERT_TRUE(owner.Join(room).ok);
  Client c(port());
  const std::string base = "/v1/rooms/" + room;
  EXPECT_TRUE(IsError(c.Request("POST", base + "/join"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(c.Get(base + "/poll?timeout_ms=0"), 401, "unauthorized"));
  EXPECT_TRUE(
      IsError(c.Request("POST", base + "/messages", R"({"body":"x"})"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(c.Get(base + "/messages"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(c.Request("POST", base + "/leave"), 401, "unauthorized"));
  // Nothing was sent.
  EXPECT_EQ(owner.Head(room), 0u);
}

TEST_F(BasicsTest, MalformedUserIdIs400) {
  std::string room = UniqueRoom();
  const std::vector<std::string> bad = {"bad user", "a/b",  "a,b", Repeat('u', 65),
                                        "\xc3\xa9", "a\"b", "a#b"};
  for (const auto& id : bad) {
    User u(port(), id);
    EXPECT_TRUE(IsError(u.JoinRaw(room), 400, "bad_request")) << "user id `" << id << "`";
  }
  for (const auto& id : {Repeat('u', 64), std::string("a@b.c:d-e_F9")}) {
    User u(port(), id);
    EXPECT_EQ(u.JoinRaw(room).status, 200) << "user id `" << id << "`";
  }
}

TEST_F(BasicsTest, InvalidRoomIdIs400) {
  User u(port(), "alice");
  const std::vector<std::string> bad = {Repeat('r', 129), "a%20b", "a%2Fb", "a%2fb",
                                        "%C3%A9",         "a%00b", "a+b",   "a!b"};
  for (const auto& room : bad) {
    EXPECT_TRUE(IsError(u.JoinRaw(room), 400, "bad_request")) << "room `" << room << "`";
    EXPECT_TRUE(IsError(u.PollRaw(room, "timeout_ms=0"), 400, "bad_request")) << room;
    EXPECT_TRUE(IsError(u.SendRaw(room, R"({"body":"x"})"), 400, "bad_request")) << room;
    EXPECT_TRUE(IsError(u.HistoryRaw(room), 400, "bad_request")) << room;
    EXPECT_TRUE(IsError(u.Leave(room), 400, "bad_request")) << room;
  }
  std::string longest = Repeat('r', 120) + UniqueRoom().substr(0, 8);
  longest = longest.substr(0, 128);
  const std::vector<std::string> good = {longest, "A-z_0.9:x"};
  for (const auto& room : good) {
    JoinResult j = u.Join(room);
    EXPECT_TRUE(j.ok) << "room `" << room << "`";
  }
}

TEST_F(BasicsTest, SuccessfulResponsesCarryConventions) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  EXPECT_TRUE(IsJson(j.response));
  EXPECT_TRUE(HasNoStore(j.response));
  SendResult s = u.Send(room, {.body = "hi"});
  ASSERT_TRUE(s.ok);
  EXPECT_TRUE(IsJson(s.response));
  EXPECT_TRUE(HasNoStore(s.response));
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0});
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(IsJson(p.response));
  EXPECT_TRUE(HasNoStore(p.response));
  HistoryPage h = u.History(room);
  ASSERT_TRUE(h.ok);
  EXPECT_TRUE(IsJson(h.response));
  EXPECT_TRUE(HasNoStore(h.response));
  Response l = u.Leave(room);
  EXPECT_EQ(l.status, 204) << l;
  EXPECT_TRUE(l.body.empty()) << l;
  EXPECT_TRUE(HasNoStore(l));
}

}  // namespace
}  // namespace chatroomd::it
