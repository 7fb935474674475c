// POST /v1/rooms/{room}/join and POST /v1/rooms/{room}/leave.
#include <string>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class JoinTest : public SharedDaemonTest<JoinTest> {};

struct Sent {
  std::vector<uint64_t> normal;
  std::vector<uint64_t> priority;
};

// `count` messages; the ones at the indexes in `priority_at` are priority messages.
Sent SendMix(User& u, const std::string& room, int count, const std::vector<int>& priority_at) {
  Sent sent;
  for (int i = 0; i < count; ++i) {
    bool priority = std::find(priority_at.begin(), priority_at.end(), i) != priority_at.end();
    uint64_t seq = u.Say(room, "m" + std::to_string(i), priority);
    (priority ? sent.priority : sent.normal).push_back(seq);
  }
  return sent;
}

std::vector<uint64_t> Last(const std::vector<uint64_t>& v, size_t n) {
  return std::vector<uint64_t>(v.end() - std::min(n, v.size()), v.end());
}

TEST_F(JoinTest, CreatesTheRoom) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  EXPECT_TRUE(IsError(u.HistoryRaw(room), 404, "room_not_found"));
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  EXPECT_TRUE(j.messages.empty());
  EXPECT_LE(j.cursor.size(), 128u);
  boost::json::value v = j.response.Json();
  EXPECT_EQ(v.at("next_poll_ms").as_int64(), 0);
  HistoryPage h = u.History(room);
  ASSERT_TRUE(h.ok);
  EXPECT_TRUE(h.messages.empty());
  EXPECT_FALSE(h.next_before.has_value());
  // Joining again is fine and changes nothing.
  JoinResult again = u.Join(room);
  ASSERT_TRUE(again.ok);
  EXPECT_TRUE(again.messages.empty());
}

TEST_F(JoinTest, BacklogIsLatestPriorityThenLatestNormal) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  Sent sent = SendMix(u, room, 28, {5, 12, 20});
  ASSERT_EQ(sent.normal.size(), 25u);
  ASSERT_EQ(sent.priority.size(), 3u);

  auto expect_backlog = [&](std::optional<int> backlog, size_t n) {
    User viewer(port(), "viewer");
    JoinResult j = viewer.Join(room, backlog);
    ASSERT_TRUE(j.ok);
    std::vector<uint64_t> want = Last(sent.priority, n);
    std::vector<uint64_t> normal = Last(sent.normal, n);
    size_t priority_count = want.size();
    want.insert(want.end(), normal.begin(), normal.end());
    ASSERT_EQ(Seqs(j.messages), want) << "backlog " << (backlog ? *backlog : -1);
    for (size_t i = 0; i < j.messages.size(); ++i) {
      const Msg& m = j.messages[i];
      EXPECT_EQ(m.priority, i < priority_count) << m;
      EXPECT_EQ(m.sender, "alice");
      EXPECT_EQ(m.type, "text");
      EXPECT_FALSE(m.client_msg_id.has_value()) << m;
    }
  };
  expect_backlog(std::nullopt, 20);  // the default
  expect_backlog(0, 0);
  expect_backlog(1, 1);
  expect_backlog(2, 2);
  expect_backlog(5, 5);
  expect_backlog(200, 200);
}

TEST_F(JoinTest, BacklogBodyForms) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  Sent sent = SendMix(u, room, 25, {});
  struct Case {
    std::string body;
    size_t count;
  };
  const std::vector<Case> cases = {
      {"", 20},                           // no body: default 20
      {"{}", 20},                         // no field: default 20
      {R"({"backlog":"5"})", 5},          // proto3 JSON: integers may be strings
      {R"({"backlog":3,"other":1})", 3},  // unknown fields are ignored
      {R"({"backlog":0})", 0},
  };
  for (const auto& c : cases) {
    Response r = u.JoinRaw(room, c.body);
    ASSERT_EQ(r.status, 200) << "body `" << c.body << "`: " << r;
    EXPECT_EQ(r.Json().at("messages").as_array().size(), c.count) << "body `" << c.body << "`";
  }
}

TEST_F(JoinTest, BadBacklogIs400) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  const std::vector<std::string> bad = {
      R"({"backlog":-1})",
      R"({"backlog":201})",
      R"({"backlog":"abc"})",
      R"({"backlog":1.5})",
      R"({"backlog":true})",
      R"({"backlog":[1]})",
      R"({"backlog":{}})",
      R"({"backlog":"-1"})",
      R"({"backlog":"201"})",
      R"({"backlog":99999999999})",
      "{",
      "not json",
      "[1]",
      R"("backlog")",
      R"({"backlog":1)",
  };
  for (const auto& body : bad) {
    EXPECT_TRUE(IsError(u.JoinRaw(room, body), 400, "bad_request")) << "body `" << body << "`";
  }
  // Out of range, however far: the message names the API's range.
  for (const char* body : {R"({"backlog":201})", R"({"backlog":2147483648})"}) {
    Response r = u.JoinRaw(room, body);
    EXPECT_NE(r.body.find("backlog must be from 0 to 200"), std::string::npos) << r;
  }
}

TEST_F(JoinTest, CursorPointsAtTheHead) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  u.Say(room, "old-1");
  u.Say(room, "old-2", true);
  JoinResult j = u.Join(room, 0);
  ASSERT_TRUE(j.ok);
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0});
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.messages.empty()) << p.response;
  uint64_t seq = u.Say(room, "new");
  p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0});
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.messages.size(), 1u) << p.response;
  EXPECT_EQ(p.messages[0].seq, seq);
  EXPECT_EQ(p.messages[0].body, "new");
}

TEST_F(JoinTest, LeaveIs204AndIdempotent) {
  User alice(port(), "alice");
  User bob(port(), "bob");
  std::string room = UniqueRoom();
  ASSERT_TRUE(alice.Join(room).ok);
  for (int i = 0; i < 2; ++i) {
    Response r = alice.Leave(room);
    EXPECT_EQ(r.status, 204) << r;
    EXPECT_TRUE(r.body.empty()) << r;
    EXPECT_TRUE(HasNoStore(r));
  }
  // Never joined: still 204.
  Response r = bob.Leave(room);
  EXPECT_EQ(r.status, 204) << r;
  // A room that does not exist.
  EXPECT_TRUE(IsError(bob.Leave(UniqueRoom("missing")), 404, "room_not_found"));
  // The connection stays usable after a 204.
  EXPECT_TRUE(alice.Join(room).ok);
  EXPECT_EQ(alice.client().connects(), 1);
}

}  // namespace
}  // namespace chatroomd::it
