// Moderation over HTTP (API.md "DELETE /v1/rooms/{room}/messages/{seq}" and "Admin";
// docs/security.md): mute, kick (a held poll answered 403 kicked, whether the room or the
// connection's front loop holds it) and retract, each end to end and across a restart. Dev
// mode: every user is an admin (the rights checks under JWT are in auth_test.cc).
#include <future>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

Response Moderate(User& admin, const std::string& room, std::string_view action,
                  const std::string& user, int64_t seconds) {
  return admin.client().Request(
      "POST", "/v1/admin/rooms/" + room + "/" + std::string(action),
      R"({"user":")" + user + R"(","seconds":)" + std::to_string(seconds) + "}", admin.Auth());
}

Response Retract(User& u, const std::string& room, const std::string& seq) {
  return u.client().Request("DELETE", "/v1/rooms/" + room + "/messages/" + seq, {}, u.Auth());
}

bool HasSeq(const std::vector<Msg>& messages, uint64_t seq) {
  for (const auto& m : messages) {
    if (m.seq == seq) return true;
  }
  return false;
}

// Whether `user` is in the room's /online list (as published).
bool ListedOnline(User& asker, const std::string& room, const std::string& user) {
  Response r = asker.RoomGet(room, "online");
  if (r.status != 200) return false;
  const boost::json::value body = r.Json();
  for (const auto& u : body.at("users").as_array()) {
    if (u.as_string() == user) return true;
  }
  return false;
}

class ModerationTest : public SharedDaemonTest<ModerationTest> {};

TEST_F(ModerationTest, AMutedUserCannotSendUntilTheMuteEndsOrIsLifted) {
  const std::string room = UniqueRoom();
  User boss(port(), "boss"), bob(port(), "bob"), carol(port(), "carol");
  ASSERT_TRUE(bob.Join(room).ok);
  ASSERT_TRUE(carol.Join(room).ok);
  ASSERT_GT(bob.Say(room, "before"), 0u);

  Response muted = Moderate(boss, room, "mute", "bob", 600);
  EXPECT_EQ(muted.status, 204) << muted;
  const uint64_t head = bob.Head(room);
  Response refused = bob.SendRaw(room, R"({"body":"spam"})");
  EXPECT_TRUE(IsError(refused, 403, "muted"));
  EXPECT_NE(refused.Json().at("error").at("message").as_string().find("s"), std::string::npos);
  EXPECT_EQ(bob.Head(room), head) << "a refused send stores nothing";
  // Only bob, only here: he still reads; carol still sends; bob sends elsewhere.
  EXPECT_TRUE(bob.Poll(room, {.timeout_ms = 0}).ok);
  EXPECT_GT(carol.Say(room, "still here"), 0u);
  const std::string other = UniqueRoom("other");
  ASSERT_TRUE(bob.Join(other).ok);
  EXPECT_GT(bob.Say(other, "elsewhere"), 0u);

  // Lifted with 0 seconds.
  EXPECT_EQ(Moderate(boss, room, "mute", "bob", 0).status, 204);
  EXPECT_GT(bob.Say(room, "after the lift"), 0u);

  // A short mute ends by itself (3 s: still in force when checked at once on a loaded box).
  EXPECT_EQ(Moderate(boss, room, "mute", "bob", 3).status, 204);
  EXPECT_TRUE(IsError(bob.SendRaw(room, R"({"body":"too soon"})"), 403, "muted"));
  EXPECT_TRUE(
      WaitUntil([&] { return bob.SendRaw(room, R"({"body":"free"})").status == 200; }, 10s, 100ms));
}

TEST_F(ModerationTest, BadModerationRequestsAreRefusedAndChangeNothing) {
  const std::string room = UniqueRoom();
  User boss(port(), "boss"), bob(port(), "bob");
  ASSERT_TRUE(bob.Join(room).ok);
  const std::string target = "/v1/admin/rooms/" + room + "/mute";
  for (const char* body :
       {R"({"user":"bob"})", R"({"seconds":60})", R"({"user":"b o b","seconds":60})",
        R"({"user":"bob","seconds":-1})", R"({"user":"bob","seconds":"x"})",
        R"({"user":"bob","seconds":999999999999})", "not json", ""}) {
    Response r = boss.client().Request("POST", target, body, boss.Auth());
    EXPECT_TRUE(IsError(r, 400, "bad_request")) << body << ": " << r;
  }
  EXPECT_GT(bob.Say(room, "not muted"), 0u);
  EXPECT_TRUE(
      IsError(boss.client().Request("GET", target, {}, boss.Auth()), 405, "method_not_allowed"));
  EXPECT_TRUE(IsError(boss.client().Request("POST", "/v1/admin/rooms/" + room + "/ban",
                                            R"({"user":"bob","seconds":1})", boss.Auth()),
                      404, "not_found"));
  EXPECT_TRUE(
      IsError(Moderate(boss, UniqueRoom("missing"), "kick", "bob", 60), 404, "room_not_found"));
}

TEST_F(ModerationTest, AKickedUserGoesOfflineTheirHeldPollIsAnsweredKickedAndJoinsAreRefused) {
  const std::string room = UniqueRoom();
  User boss(port(), "boss"), bob(port(), "bob"), carol(port(), "carol");
  JoinResult j = bob.Join(room);
  ASSERT_TRUE(j.ok);
  ASSERT_TRUE(carol.Join(room).ok);
  ASSERT_TRUE(WaitUntil([&] { return ListedOnline(carol, room, "bob"); }, 5s, 50ms));

  // bob's first poll on his connection is held by the room itself.
  const double held = ScrapeMetric(port(), "chatroomd_held_polls").value_or(0);
  auto poll = std::async(std::launch::async, [&] {
    return bob.PollRaw(room, "cursor=" + j.cursor + "&timeout_ms=20000");
  });
  ASSERT_TRUE(WaitForHeldPolls(port(), held + 1));
  const auto kicked_at = Clock::now();
  Response kicked = Moderate(boss, room, "kick", "bob", 600);
  EXPECT_EQ(kicked.status, 204) << kicked;
  Response answer = poll.get();
  EXPECT_TRUE(IsError(answer, 403, "kicked")) << answer;
  EXPECT_LT(Clock::now() - kicked_at, 5s) << "answered at the kick, not at the timeout";

  EXPECT_TRUE(WaitUntil([&] { return !ListedOnline(carol, room, "bob"); }, 5s, 50ms))
      << "bob is still listed online";
  EXPECT_TRUE(IsError(bob.JoinRaw(room), 403, "kicked"));
  EXPECT_TRUE(IsError(bob.PollRaw(room, "timeout_ms=0"), 403, "kicked"));
  EXPECT_TRUE(IsError(bob.SendRaw(room, R"({"body":"let me in"})"), 403, "kicked"));
  EXPECT_FALSE(ListedOnline(carol, room, "bob")) << "a refused join or poll counts for nothing";
  // carol is untouched.
  EXPECT_GT(carol.Say(room, "bye bob"), 0u);

  EXPECT_EQ(Moderate(boss, room, "kick", "bob", 0).status, 204);
  EXPECT_TRUE(bob.Join(room).ok);
}

TEST_F(ModerationTest, AKickAnswersAPollTheFrontLoopHolds) {
  const std::string room = UniqueRoom();
  User boss(port(), "boss"), bob(port(), "bob"), carol(port(), "carol");
  JoinResult j = bob.Join(room);
  ASSERT_TRUE(j.ok);
  // A poll held by the room and woken subscribes bob's front loop; the next poll at the new
  // head on the same connection is held there (edge_test.cc).
  const double held = ScrapeMetric(port(), "chatroomd_held_polls").value_or(0);
  auto first = std::async(std::launch::async, [&] {
    return bob.Poll(room, {.cursor = j.cursor, .timeout_ms = 10000});
  });
  ASSERT_TRUE(WaitForHeldPolls(port(), held + 1));
  ASSERT_GT(carol.Say(room, "wake"), 0u);
  PollResult woken = first.get();
  ASSERT_TRUE(woken.ok);
  const double edge_held = ScrapeMetric(port(), "chatroomd_edge_held_polls").value_or(-1);
  ASSERT_GE(edge_held, 0);
  auto second = std::async(std::launch::async, [&] {
    return bob.PollRaw(room, "cursor=" + woken.cursor + "&timeout_ms=20000");
  });
  ASSERT_TRUE(WaitUntil(
      [&] {
        return ScrapeMetric(port(), "chatroomd_edge_held_polls").value_or(-1) == edge_held + 1;
      },
      5s, 20ms))
      << "the poll is not held by the front loop";
  EXPECT_EQ(Moderate(boss, room, "kick", "bob", 600).status, 204);
  Response answer = second.get();
  EXPECT_TRUE(IsError(answer, 403, "kicked")) << answer;
  // The next poll on the same connection is refused too (the edge sends it to the room).
  EXPECT_TRUE(
      IsError(bob.PollRaw(room, "cursor=" + woken.cursor + "&timeout_ms=2000"), 403, "kicked"));
}

TEST_F(ModerationTest, ARetractedMessageLeavesHistoryAndJoinsAndANoticeIsAppended) {
  const std::string room = UniqueRoom();
  User alice(port(), "alice"), bob(port(), "bob");
  JoinResult start = bob.Join(room);
  ASSERT_TRUE(start.ok);
  ASSERT_TRUE(alice.Join(room).ok);
  const uint64_t keep = alice.Say(room, "keep me");
  const uint64_t oops = alice.Say(room, "oops");
  const uint64_t vip = alice.Say(room, "a gift", true);
  ASSERT_GT(vip, 0u);

  // bob read everything; he will learn of the retraction from his next poll.
  PollResult read = bob.Poll(room, {.cursor = start.cursor, .timeout_ms = 0});
  ASSERT_TRUE(read.ok);
  ASSERT_EQ(read.messages.size(), 3u);

  Response gone = Retract(alice, room, std::to_string(oops));
  EXPECT_EQ(gone.status, 204) << gone;
  EXPECT_TRUE(gone.body.empty());
  PollResult next = bob.Poll(room, {.cursor = read.cursor, .timeout_ms = 5000});
  ASSERT_TRUE(next.ok);
  ASSERT_EQ(next.messages.size(), 1u) << next.response;
  const Msg& notice = next.messages[0];
  EXPECT_TRUE(notice.priority);
  EXPECT_EQ(notice.type, "retract");
  EXPECT_EQ(notice.body, std::to_string(oops));
  EXPECT_EQ(notice.sender, "alice");
  EXPECT_EQ(notice.seq, vip + 1);

  // Gone from history and from later joins; the rest stays.
  std::vector<Msg> history = bob.HistoryAll(room);
  EXPECT_FALSE(HasSeq(history, oops));
  EXPECT_TRUE(HasSeq(history, keep));
  EXPECT_TRUE(HasSeq(history, notice.seq));
  User carol(port(), "carol");
  JoinResult later = carol.Join(room);
  ASSERT_TRUE(later.ok);
  EXPECT_FALSE(HasSeq(later.messages, oops));
  EXPECT_TRUE(HasSeq(later.messages, keep));
  // A priority message can be retracted too, and leaves the priority list.
  EXPECT_EQ(Retract(alice, room, std::to_string(vip)).status, 204);
  later = carol.Join(room);
  ASSERT_TRUE(later.ok);
  EXPECT_FALSE(HasSeq(later.messages, vip));
  // From an old cursor, a poll no longer returns them.
  PollResult replay = bob.Poll(room, {.cursor = start.cursor, .timeout_ms = 0});
  ASSERT_TRUE(replay.ok);
  EXPECT_FALSE(HasSeq(replay.messages, oops));
  EXPECT_FALSE(HasSeq(replay.messages, vip));
  EXPECT_TRUE(HasSeq(replay.messages, keep));
}

TEST_F(ModerationTest, RetractionsThatCannotBeAreRefused) {
  const std::string room = UniqueRoom();
  User alice(port(), "alice");
  ASSERT_TRUE(alice.Join(room).ok);
  const uint64_t seq = alice.Say(room, "once");
  ASSERT_EQ(Retract(alice, room, std::to_string(seq)).status, 204);
  const uint64_t head = alice.Head(room);
  EXPECT_TRUE(IsError(Retract(alice, room, std::to_string(seq)), 404, "not_found"))
      << "already retracted";
  EXPECT_TRUE(IsError(Retract(alice, room, std::to_string(head + 5)), 404, "not_found"));
  EXPECT_TRUE(IsError(Retract(alice, room, "0"), 400, "bad_request"));
  EXPECT_TRUE(IsError(Retract(alice, room, "seven"), 400, "bad_request"));
  EXPECT_TRUE(IsError(Retract(alice, room, std::to_string(head)), 400, "bad_request"))
      << "the notice itself";
  EXPECT_TRUE(IsError(Retract(alice, UniqueRoom("missing"), "1"), 404, "room_not_found"));
  // Nobody sends a notice of their own.
  EXPECT_TRUE(IsError(alice.SendRaw(room, R"({"type":"retract","body":"1","priority":true})"), 400,
                      "bad_request"));
  EXPECT_EQ(alice.Head(room), head) << "nothing was stored";
  EXPECT_TRUE(IsError(
      alice.client().Request("PUT", "/v1/rooms/" + room + "/messages/1", "{}", alice.Auth()), 405,
      "method_not_allowed"));
}

TEST(ModerationRestartTest, MutesKicksAndRetractionsHoldAfterARestart) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  const std::string room = UniqueRoom();
  uint64_t retracted = 0, kept = 0;
  {
    User boss(d.port(), "boss"), bob(d.port(), "bob"), carol(d.port(), "carol");
    ASSERT_TRUE(bob.Join(room).ok);
    ASSERT_TRUE(carol.Join(room).ok);
    kept = carol.Say(room, "fine");
    retracted = carol.Say(room, "regrettable");
    ASSERT_EQ(Retract(carol, room, std::to_string(retracted)).status, 204);
    ASSERT_EQ(Moderate(boss, room, "mute", "bob", 3600).status, 204);
    ASSERT_EQ(Moderate(boss, room, "kick", "carol", 3600).status, 204);
    // One that ends before the restart is over.
    ASSERT_EQ(Moderate(boss, room, "mute", "dave", 1).status, 204);
  }
  // Killed, not stopped: each was acknowledged only once durable.
  d.Kill9();
  ASSERT_TRUE(d.Restart());
  User bob(d.port(), "bob"), carol(d.port(), "carol"), dave(d.port(), "dave");
  ASSERT_TRUE(bob.Join(room).ok);
  EXPECT_TRUE(IsError(bob.SendRaw(room, R"({"body":"hello again"})"), 403, "muted"));
  EXPECT_TRUE(IsError(carol.JoinRaw(room), 403, "kicked"));
  ASSERT_TRUE(dave.Join(room).ok);
  EXPECT_TRUE(
      WaitUntil([&] { return dave.SendRaw(room, R"({"body":"hi"})").status == 200; }, 5s, 100ms));

  std::vector<Msg> history = bob.HistoryAll(room);
  EXPECT_FALSE(HasSeq(history, retracted));
  EXPECT_TRUE(HasSeq(history, kept));
  JoinResult j = bob.Join(room);
  ASSERT_TRUE(j.ok);
  EXPECT_FALSE(HasSeq(j.messages, retracted));
  bool notice = false;
  for (const auto& m : j.messages) {
    notice |= m.type == "retract" && m.body == std::to_string(retracted) && m.priority;
  }
  EXPECT_TRUE(notice) << "the notice is in the priority backlog";
}

}  // namespace
}  // namespace chatroomd::it
