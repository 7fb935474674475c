// GET /v1/rooms/{room}/poll: parameters, cursors, holding, ordering, limits, gaps and the
// window boundary.
#include <future>
#include <set>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class PollTest : public SharedDaemonTest<PollTest> {};

// Small windows so that falling behind is cheap to arrange.
class PollWindowTest : public SharedDaemonTest<PollWindowTest> {
 public:
  static DaemonOptions Options() {
    return {.config = "rooms { window_size: 10 priority_size: 5 }"};
  }
};

double HeldPolls(uint16_t port) { return ScrapeMetric(port, "chatroomd_held_polls").value_or(-1); }

TEST_F(PollTest, UnknownRoomIs404) {
  User u(port(), "alice");
  EXPECT_TRUE(IsError(u.PollRaw(UniqueRoom(), "timeout_ms=0"), 404, "room_not_found"));
}

TEST_F(PollTest, BadParametersAre400) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  const std::vector<std::string> bad = {
      "timeout_ms=-1",  "timeout_ms=60001", "timeout_ms=abc",
      "timeout_ms=1.5", "timeout_ms=1e3",   "timeout_ms=99999999999999999999",
      "limit=0",        "limit=1001",       "limit=x",
      "limit=-5",       "limit=2.0",        "timeout_ms=0&limit=0",
  };
  for (const auto& q : bad) {
    EXPECT_TRUE(IsError(u.PollRaw(room, q + "&cursor=" + j.cursor), 400, "bad_request")) << q;
  }
  for (const auto& q : {"timeout_ms=0&limit=1", "timeout_ms=0&limit=1000", "timeout_ms=0"}) {
    Response r = u.PollRaw(room, std::string(q) + "&cursor=" + j.cursor);
    EXPECT_EQ(r.status, 200) << q << ": " << r;
  }
  // The largest timeout is accepted; a waiting message answers it at once.
  uint64_t seq = u.Say(room, "waiting");
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 60000});
  ASSERT_TRUE(p.ok);
  EXPECT_LT(p.elapsed, 2000ms);
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_EQ(p.messages[0].seq, seq);
}

TEST_F(PollTest, BadCursorIs400) {
  User u(port(), "alice");
  std::string room = UniqueRoom("a");
  std::string other = UniqueRoom("b");
  JoinResult j = u.Join(room);
  JoinResult k = u.Join(other);
  ASSERT_TRUE(j.ok && k.ok);
  ASSERT_NE(j.cursor, k.cursor) << "cursors of different rooms should differ";
  std::vector<std::string> bad = {
      "garbage",        "AAAA",         "AAAAAAAAAAAA",
      Repeat('A', 200), "%21%21%21",    "a.b",
      k.cursor,         j.cursor + "A", j.cursor.substr(0, j.cursor.size() - 1)};
  // One character edited, at the start, in the middle and at the end.
  for (size_t pos : {size_t{0}, j.cursor.size() / 2, j.cursor.size() - 1}) {
    std::string edited = j.cursor;
    edited[pos] = edited[pos] == 'A' ? 'B' : 'A';
    bad.push_back(edited);
  }
  for (const auto& c : bad) {
    EXPECT_TRUE(IsError(u.PollRaw(room, "timeout_ms=0&cursor=" + c), 400, "bad_cursor"))
        << "cursor `" << c << "`";
  }
  // The original still works.
  EXPECT_TRUE(u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0}).ok);
}

TEST_F(PollTest, TimeoutAnswersEmptyWithTheSameCursor) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 300});
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.messages.empty()) << p.response;
  EXPECT_EQ(p.cursor, j.cursor);
  EXPECT_FALSE(p.gap);
  EXPECT_GE(p.elapsed, 250ms);
  EXPECT_LT(p.elapsed, 3000ms);
  EXPECT_EQ(p.response.Json().at("next_poll_ms").as_int64(), 0);

  PollResult zero = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0});
  ASSERT_TRUE(zero.ok);
  EXPECT_TRUE(zero.messages.empty());
  EXPECT_EQ(zero.cursor, j.cursor);
  EXPECT_LT(zero.elapsed, 1000ms) << "timeout_ms=0 must answer at once";
}

TEST_F(PollTest, NoCursorStartsAtTheHead) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  u.Say(room, "before-1");
  u.Say(room, "before-2", true);
  PollResult p = u.Poll(room, {.timeout_ms = 0});
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.messages.empty()) << p.response;
  uint64_t seq = u.Say(room, "after");
  PollResult q = u.Poll(room, {.cursor = p.cursor, .timeout_ms = 0});
  ASSERT_TRUE(q.ok);
  ASSERT_EQ(Seqs(q.messages), std::vector<uint64_t>{seq}) << q.response;
}

TEST_F(PollTest, HeldPollWakesOnSend) {
  User alice(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = alice.Join(room);
  ASSERT_TRUE(j.ok);
  double base = HeldPolls(port());
  ASSERT_GE(base, 0) << "chatroomd_held_polls missing from /metrics";
  auto poll = std::async(std::launch::async, [&] {
    User bob(port(), "bob");
    PollResult p = bob.Poll(room, {.cursor = j.cursor, .timeout_ms = 10000});
    return std::make_pair(p, Clock::now());
  });
  EXPECT_TRUE(WaitForHeldPolls(port(), base + 1)) << "the poll was never held";
  SendResult s = alice.Send(room, {.body = "wake up"});
  auto sent_at = Clock::now();
  ASSERT_TRUE(s.ok);
  auto [p, answered_at] = poll.get();
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.messages.size(), 1u) << p.response;
  EXPECT_EQ(p.messages[0].seq, s.seq);
  EXPECT_EQ(p.messages[0].body, "wake up");
  EXPECT_FALSE(p.gap);
  EXPECT_LT(answered_at - sent_at, 1000ms) << "the held poll woke too late";
  EXPECT_LT(p.elapsed, 9000ms);
}

TEST_F(PollTest, SameUserTwoConnectionsOwnCursors) {
  User a(port(), "carol");
  User b(port(), "carol");
  User c(port(), "carol");
  std::string room = UniqueRoom();
  JoinResult j = a.Join(room);
  ASSERT_TRUE(j.ok);
  uint64_t m1 = a.Say(room, "m1");
  PollResult first = a.Poll(room, {.cursor = j.cursor, .timeout_ms = 0});
  ASSERT_TRUE(first.ok);
  ASSERT_EQ(Seqs(first.messages), std::vector<uint64_t>{m1});
  const std::string c1 = j.cursor;      // one message behind
  const std::string c2 = first.cursor;  // at the head

  double base = HeldPolls(port());
  auto held_b = std::async(std::launch::async,
                           [&] { return b.Poll(room, {.cursor = c2, .timeout_ms = 10000}); });
  auto held_c = std::async(std::launch::async,
                           [&] { return c.Poll(room, {.cursor = c2, .timeout_ms = 10000}); });
  EXPECT_TRUE(WaitForHeldPolls(port(), base + 2)) << "the two polls were never held";
  // Meanwhile the same user polls with the older cursor and is answered at once.
  PollResult behind = a.Poll(room, {.cursor = c1, .timeout_ms = 10000});
  ASSERT_TRUE(behind.ok);
  EXPECT_EQ(Seqs(behind.messages), std::vector<uint64_t>{m1});
  EXPECT_LT(behind.elapsed, 2000ms);
  uint64_t m2 = a.Say(room, "m2");
  for (auto* f : {&held_b, &held_c}) {
    PollResult p = f->get();
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(Seqs(p.messages), std::vector<uint64_t>{m2}) << p.response;
  }
}

TEST_F(PollTest, PriorityFirstThenNormalWithAllFields) {
  User alice(port(), "alice");
  User bob(port(), "bob");
  std::string room = UniqueRoom();
  JoinResult j = bob.Join(room);
  ASSERT_TRUE(j.ok);
  int64_t t0 = NowUnixMs();
  uint64_t n1 = alice.Say(room, "n1");
  uint64_t p1 = alice.Say(room, "p1", true);
  SendResult n2 = alice.Send(room, {.body = "n2", .client_msg_id = "cid-n2", .type = "gift.big"});
  uint64_t p2 = alice.Say(room, "p2", true);
  uint64_t n3 = alice.Say(room, "n3");
  int64_t t1 = NowUnixMs();
  ASSERT_TRUE(n2.ok);
  PollResult p = bob.Poll(room, {.cursor = j.cursor, .timeout_ms = 0, .limit = 100});
  ASSERT_TRUE(p.ok);
  EXPECT_FALSE(p.gap);
  ASSERT_EQ(Seqs(p.messages), (std::vector<uint64_t>{p1, p2, n1, n2.seq, n3})) << p.response;
  const std::vector<std::string> bodies = {"p1", "p2", "n1", "n2", "n3"};
  for (size_t i = 0; i < p.messages.size(); ++i) {
    const Msg& m = p.messages[i];
    EXPECT_EQ(m.body, bodies[i]);
    EXPECT_EQ(m.priority, i < 2) << m;
    EXPECT_EQ(m.sender, "alice");
    EXPECT_EQ(m.type, m.body == "n2" ? "gift.big" : "text");
    EXPECT_GE(m.ts_ms, t0 - 2000) << m;
    EXPECT_LE(m.ts_ms, t1 + 2000) << m;
    if (m.body == "n2") {
      EXPECT_EQ(m.client_msg_id, std::optional<std::string>("cid-n2"));
    } else {
      EXPECT_FALSE(m.client_msg_id.has_value()) << m;
      EXPECT_FALSE(
          p.response.Json().at("messages").as_array()[i].as_object().contains("client_msg_id"));
    }
  }
  // Read up to date: nothing more.
  PollResult again = bob.Poll(room, {.cursor = p.cursor, .timeout_ms = 0});
  ASSERT_TRUE(again.ok);
  EXPECT_TRUE(again.messages.empty());
}

TEST_F(PollTest, SeqIncreasesByOneAcrossPriorityAndNormal) {
  User alice(port(), "alice");
  User bob(port(), "bob");
  std::string room = UniqueRoom();
  ASSERT_TRUE(alice.Join(room).ok);
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 12; ++i) {
    User& u = i % 2 ? alice : bob;
    seqs.push_back(u.Say(room, "m" + std::to_string(i), i % 3 == 0));
  }
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1) << "message " << i;
}

TEST_F(PollTest, LimitKeepsTheNewestNormalAndSetsGap) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  std::vector<uint64_t> sent;
  for (int i = 0; i < 10; ++i) sent.push_back(u.Say(room, "m" + std::to_string(i)));
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0, .limit = 4});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Seqs(p.messages), std::vector<uint64_t>(sent.end() - 4, sent.end()));
  EXPECT_TRUE(p.gap);
  PollResult next = u.Poll(room, {.cursor = p.cursor, .timeout_ms = 0, .limit = 4});
  ASSERT_TRUE(next.ok);
  EXPECT_TRUE(next.messages.empty()) << next.response;
  EXPECT_FALSE(next.gap);
  // Exactly `limit` unread: no gap.
  PollResult exact = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0, .limit = 10});
  ASSERT_TRUE(exact.ok);
  EXPECT_EQ(Seqs(exact.messages), sent);
  EXPECT_FALSE(exact.gap);
}

TEST_F(PollTest, PriorityFillingTheLimitSkipsNoNormal) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  uint64_t n1 = u.Say(room, "n1");
  uint64_t p1 = u.Say(room, "p1", true);
  uint64_t n2 = u.Say(room, "n2");
  uint64_t p2 = u.Say(room, "p2", true);
  uint64_t p3 = u.Say(room, "p3", true);

  PollResult a = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0, .limit = 3});
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(Seqs(a.messages), (std::vector<uint64_t>{p1, p2, p3}));
  EXPECT_FALSE(a.gap);
  PollResult b = u.Poll(room, {.cursor = a.cursor, .timeout_ms = 0, .limit = 3});
  ASSERT_TRUE(b.ok);
  EXPECT_EQ(Seqs(b.messages), (std::vector<uint64_t>{n1, n2}));
  EXPECT_FALSE(b.gap);

  // limit 2: the oldest unread priority first; when one slot is left for two unread normal
  // messages, the newest normal one is taken and that is a gap.
  PollResult c = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0, .limit = 2});
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(Seqs(c.messages), (std::vector<uint64_t>{p1, p2}));
  EXPECT_FALSE(c.gap);
  PollResult d = u.Poll(room, {.cursor = c.cursor, .timeout_ms = 0, .limit = 2});
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(Seqs(d.messages), (std::vector<uint64_t>{p3, n2}));
  EXPECT_TRUE(d.gap);
  PollResult e = u.Poll(room, {.cursor = d.cursor, .timeout_ms = 0, .limit = 2});
  ASSERT_TRUE(e.ok);
  EXPECT_TRUE(e.messages.empty()) << e.response;
}

TEST_F(PollWindowTest, WindowBoundaryExactFit) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  std::vector<uint64_t> normal;
  for (int i = 0; i < 10; ++i) normal.push_back(u.Say(room, "n" + std::to_string(i)));
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0, .limit = 100});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Seqs(p.messages), normal);
  EXPECT_FALSE(p.gap) << "W normal messages after the cursor fit a window of W";
}

TEST_F(PollWindowTest, WindowCountsNormalMessagesOnly) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  std::vector<uint64_t> normal, priority;
  for (int i = 0; i < 13; ++i) {
    bool prio = i % 4 == 1;  // 3 priority among 13
    (prio ? priority : normal).push_back(u.Say(room, "m" + std::to_string(i), prio));
  }
  ASSERT_EQ(normal.size(), 10u);
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0, .limit = 100});
  ASSERT_TRUE(p.ok);
  std::vector<uint64_t> want = priority;
  want.insert(want.end(), normal.begin(), normal.end());
  EXPECT_EQ(Seqs(p.messages), want);
  EXPECT_FALSE(p.gap);
}

TEST_F(PollWindowTest, WindowBoundaryOneOver) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  std::vector<uint64_t> normal;
  for (int i = 0; i < 11; ++i) normal.push_back(u.Say(room, "n" + std::to_string(i)));
  PollResult p = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0, .limit = 100});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Seqs(p.messages), std::vector<uint64_t>(normal.begin() + 1, normal.end()));
  EXPECT_TRUE(p.gap);
  // The same cursor again with a smaller limit: the newest `limit`.
  PollResult q = u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0, .limit = 4});
  ASSERT_TRUE(q.ok);
  EXPECT_EQ(Seqs(q.messages), std::vector<uint64_t>(normal.end() - 4, normal.end()));
  EXPECT_TRUE(q.gap);
  // Caught up.
  PollResult r = u.Poll(room, {.cursor = p.cursor, .timeout_ms = 0});
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_FALSE(r.gap);
}

// 30 normal and 12 priority messages behind a window of 10 and a priority list of 5.
struct Behind {
  JoinResult join;
  std::vector<uint64_t> normal;
  std::vector<uint64_t> priority;
};

Behind FallBehind(User& u, const std::string& room) {
  Behind b;
  b.join = u.Join(room);
  for (int i = 0; i < 42; ++i) {
    bool prio = i % 7 == 2 || i % 7 == 5;
    (prio ? b.priority : b.normal).push_back(u.Say(room, "m" + std::to_string(i), prio));
  }
  return b;
}

TEST_F(PollWindowTest, PriorityIsNeverSkipped) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  Behind b = FallBehind(u, room);
  ASSERT_TRUE(b.join.ok);
  ASSERT_EQ(b.priority.size(), 12u);
  ASSERT_EQ(b.normal.size(), 30u);

  std::string cursor = b.join.cursor;
  std::vector<uint64_t> got_priority, got_normal;
  std::set<uint64_t> seen;
  bool any_gap = false;
  int polls = 0;
  for (; polls < 30; ++polls) {
    PollResult p = u.Poll(room, {.cursor = cursor, .timeout_ms = 0, .limit = 5});
    ASSERT_TRUE(p.ok);
    cursor = p.cursor;
    if (p.messages.empty()) break;
    any_gap |= p.gap;
    EXPECT_LE(p.messages.size(), 5u);
    bool normal_seen = false;
    for (const Msg& m : p.messages) {
      EXPECT_TRUE(seen.insert(m.seq).second) << "delivered twice: " << m;
      if (m.priority) {
        EXPECT_FALSE(normal_seen) << "priority after normal in one response: " << p.response;
        got_priority.push_back(m.seq);
      } else {
        normal_seen = true;
        got_normal.push_back(m.seq);
      }
    }
    if (normal_seen) {
      EXPECT_EQ(got_priority.size(), b.priority.size())
          << "normal messages came while priority messages were still unread";
    }
  }
  EXPECT_LT(polls, 30) << "never caught up";
  EXPECT_EQ(got_priority, b.priority) << "every priority message exactly once, oldest first";
  // 12 priority over limit 5: 5, 5, then 2 + the newest 3 normal (the rest skipped: a gap).
  EXPECT_EQ(got_normal, std::vector<uint64_t>(b.normal.end() - 3, b.normal.end()));
  EXPECT_TRUE(any_gap);

  // One big poll from the same old cursor: all priority, then the window's newest 10.
  PollResult all = u.Poll(room, {.cursor = b.join.cursor, .timeout_ms = 0, .limit = 100});
  ASSERT_TRUE(all.ok);
  std::vector<uint64_t> want = b.priority;
  want.insert(want.end(), b.normal.end() - 10, b.normal.end());
  EXPECT_EQ(Seqs(all.messages), want);
  EXPECT_TRUE(all.gap);
}

}  // namespace
}  // namespace chatroomd::it
