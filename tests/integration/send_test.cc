// POST /v1/rooms/{room}/messages: validation, limits, idempotency, dev-mode rights.
#include <string>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class SendTest : public SharedDaemonTest<SendTest> {};

TEST_F(SendTest, AnswersSeqAndDuplicate) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  SendResult s = u.Send(room, {.body = "hello"});
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.seq, 1u);
  EXPECT_FALSE(s.duplicate);
  EXPECT_TRUE(IsJson(s.response));
  EXPECT_TRUE(HasNoStore(s.response));
  std::vector<Msg> h = u.HistoryAll(room);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].seq, 1u);
  EXPECT_EQ(h[0].body, "hello");
  EXPECT_EQ(h[0].sender, "alice");
  EXPECT_EQ(h[0].type, "text");
  EXPECT_FALSE(h[0].priority);
}

TEST_F(SendTest, UnknownRoomIs404) {
  User u(port(), "alice");
  EXPECT_TRUE(IsError(u.SendRaw(UniqueRoom(), R"({"body":"x"})"), 404, "room_not_found"));
}

TEST_F(SendTest, DevModeSendsWithoutJoinAndWithPriority) {
  User owner(port(), "owner");
  User stranger(port(), "stranger");
  std::string room = UniqueRoom();
  ASSERT_TRUE(owner.Join(room).ok);
  SendResult s = stranger.Send(room, {.body = "gift", .priority = true, .type = "gift"});
  ASSERT_TRUE(s.ok);
  std::vector<Msg> h = owner.HistoryAll(room);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_TRUE(h[0].priority);
  EXPECT_EQ(h[0].sender, "stranger");
  EXPECT_EQ(h[0].type, "gift");
}

TEST_F(SendTest, AcceptedBodies) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  std::string euro3 = "\xe2\x82\xac";  // 3 bytes
  std::string max_utf8;
  for (int i = 0; i < 1365; ++i) max_utf8 += euro3;
  max_utf8 += "a";  // 4096 bytes
  struct Case {
    std::string json;
    std::string body;
    std::string type;
  };
  const std::vector<Case> cases = {
      {R"({"type":"like"})", "", "like"},  // body absent: "", fine for a type other than text
      {R"({"body":"","type":"gift"})", "", "gift"},
      {R"({"body":"x","type":"a.b-c_9"})", "x", "a.b-c_9"},
      {R"({"body":"x","type":")" + Repeat('t', 32) + R"("})", "x", Repeat('t', 32)},
      {R"({"body":"x","unknown":{"a":[1,2]},"other":null})", "x", "text"},
      {R"({"body":"h\u00e9llo \ud83c\udf0d \"q\" \\ \n\t"})",
       "h\xc3\xa9llo \xf0\x9f\x8c\x8d \"q\" \\ \n\t", "text"},
      {R"({"body":")" + Repeat('a', 4096) + R"("})", Repeat('a', 4096), "text"},
      {R"({"body":")" + max_utf8 + R"("})", max_utf8, "text"},
      {R"({"body":"x","priority":false})", "x", "text"},
  };
  for (const auto& c : cases) {
    Response r = u.SendRaw(room, c.json);
    ASSERT_EQ(r.status, 200) << c.json.substr(0, 80) << ": " << r;
    std::string seq(r.Json().at("seq").as_string());
    HistoryPage h = u.History(room, std::stoull(seq) + 1, 1);
    ASSERT_EQ(h.messages.size(), 1u);
    EXPECT_EQ(h.messages[0].body, c.body) << c.json.substr(0, 80);
    EXPECT_EQ(h.messages[0].type, c.type);
  }
}

TEST_F(SendTest, BadInputIsRejectedAndChangesNothing) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  u.Say(room, "before");
  std::vector<Msg> before = u.HistoryAll(room);
  ASSERT_EQ(before.size(), 1u);

  struct Case {
    std::string json;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {R"({})", 400, "bad_request"},  // a text message needs a body
      {R"({"body":""})", 400, "bad_request"},
      {R"({"body":"","type":"text"})", 400, "bad_request"},
      {R"({"body":"x","type":"Text"})", 400, "bad_request"},
      {R"({"body":"x","type":""})", 400, "bad_request"},
      {R"({"body":"x","type":")" + Repeat('t', 33) + R"("})", 400, "bad_request"},
      {R"({"body":"x","type":"a b"})", 400, "bad_request"},
      {R"({"body":"x","type":"a/b"})", 400, "bad_request"},
      {R"({"body":"x","type":5})", 400, "bad_request"},
      {R"({"body":"x","client_msg_id":""})", 400, "bad_request"},
      {R"({"body":"x","client_msg_id":")" + Repeat('c', 129) + R"("})", 400, "bad_request"},
      {R"({"body":"x","client_msg_id":"a b"})", 400, "bad_request"},
      {R"({"body":"x","client_msg_id":"\u00e9"})", 400, "bad_request"},
      {R"({"body":"x","client_msg_id":"a\u0001"})", 400, "bad_request"},
      {R"({"body":"x","client_msg_id":"a\u007f"})", 400, "bad_request"},
      {R"({"body":"x","client_msg_id":5})", 400, "bad_request"},
      {R"({"body":5})", 400, "bad_request"},
      {R"({"body":["x"]})", 400, "bad_request"},
      {R"({"body":{"x":1}})", 400, "bad_request"},
      {R"({"body":"x","priority":"yes"})", 400, "bad_request"},
      {R"({"body":"x","priority":1})", 400, "bad_request"},
      {"{", 400, "bad_request"},
      {"body", 400, "bad_request"},
      {"[]", 400, "bad_request"},
      {R"("x")", 400, "bad_request"},
      {R"({"body":"x"} trailing)", 400, "bad_request"},
      {"{\"body\":\"\xff\xfe\"}", 400, "bad_request"},  // not UTF-8
      {"{\"body\":\"\xc0\xaf\"}", 400, "bad_request"},  // overlong
      {R"({"body":"\ud800"})", 400, "bad_request"},     // lone surrogate
      {R"({"body":")" + Repeat('a', 4097) + R"("})", 413, "payload_too_large"},
      {R"({"body":")" + Repeat('\x61', 4000) + "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac" +
           Repeat('b', 85) + R"("})",
       413, "payload_too_large"},  // 4097 bytes, 4089 characters
  };
  for (const auto& c : cases) {
    Response r = u.SendRaw(room, c.json);
    EXPECT_TRUE(IsError(r, c.status, c.code)) << "body `" << c.json.substr(0, 100) << "`";
  }
  // An HTTP body past http.max_body_bytes (64 KiB), on a connection of its own: the daemon
  // may close it after answering.
  {
    User big(port(), "alice");
    Response r = big.SendRaw(room, R"({"body":")" + Repeat('a', 70000) + R"("})");
    EXPECT_TRUE(IsError(r, 413, "payload_too_large"));
  }
  std::vector<Msg> after = u.HistoryAll(room);
  ASSERT_EQ(Seqs(after), Seqs(before)) << "a rejected send changed the room";
  // Nothing became visible to a poller either, and the next send takes the next seq.
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Seqs(p.messages), Seqs(before));
  EXPECT_EQ(u.Say(room, "after"), before.back().seq + 1);
}

TEST_F(SendTest, ClientMsgIdMakesSendsIdempotent) {
  User alice(port(), "alice");
  User bob(port(), "bob");
  std::string room = UniqueRoom("a");
  std::string other = UniqueRoom("b");
  ASSERT_TRUE(alice.Join(room).ok);
  ASSERT_TRUE(alice.Join(other).ok);
  std::string long_id = Repeat('k', 120) + "~!{}[]<>";  // 128 visible ASCII characters
  ASSERT_EQ(long_id.size(), 128u);
  for (const std::string& id : {std::string("c-17"), long_id}) {
    SendResult first = alice.Send(room, {.body = "first", .client_msg_id = id});
    ASSERT_TRUE(first.ok);
    EXPECT_FALSE(first.duplicate);
    // A repeat, even with other content, is the same message.
    SendResult again = alice.Send(room, {.body = "second", .priority = true, .client_msg_id = id});
    ASSERT_TRUE(again.ok);
    EXPECT_TRUE(again.duplicate);
    EXPECT_EQ(again.seq, first.seq);
    // Another sender, or another room: a new message.
    SendResult by_bob = bob.Send(room, {.body = "bob's", .client_msg_id = id});
    ASSERT_TRUE(by_bob.ok);
    EXPECT_FALSE(by_bob.duplicate);
    EXPECT_EQ(by_bob.seq, first.seq + 1);
    SendResult elsewhere = alice.Send(other, {.body = "elsewhere", .client_msg_id = id});
    ASSERT_TRUE(elsewhere.ok);
    EXPECT_FALSE(elsewhere.duplicate);
  }
  std::vector<Msg> h = alice.HistoryAll(room);
  ASSERT_EQ(h.size(), 4u);
  for (const Msg& m : h) {
    EXPECT_NE(m.body, "second") << m;
    EXPECT_FALSE(m.priority) << m;
    ASSERT_TRUE(m.client_msg_id.has_value()) << m;
  }
  EXPECT_EQ(*h[0].client_msg_id, "c-17");
  EXPECT_EQ(h[0].body, "first");
  EXPECT_EQ(*h[3].client_msg_id, long_id);
  EXPECT_EQ(alice.HistoryAll(other).size(), 2u);
}

}  // namespace
}  // namespace chatroomd::it
