// Edge holds (include/chatroomd/room/edge.h): once a room has held a poll that came through a
// front loop, that loop holds polls at the room's head itself. These tests drive the real
// daemon so that polls are edge-held and check what a client sees: wake-ups with the right
// bodies per (limit, format), timeouts, clients that go away, online presence, the held-poll
// bounds, two front loops, SIGTERM, pipelining and priority messages that outrun the list.
//
// How a poll gets edge-held: a first poll on a keep-alive connection is held by the room (which
// subscribes that connection's front loop) and woken by a send; the next poll on the same
// connection, with the cursor it returned, is at the head the edge knows and the edge holds it.
// Other connections of the same front loop (there is one unless http.io_threads says more)
// polling with that cursor are edge-held too.
#include <atomic>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

constexpr std::string_view kProto = "application/x-protobuf";

double HeldPolls(uint16_t port) { return ScrapeMetric(port, "chatroomd_held_polls").value_or(-1); }

// Waits until the held-polls gauge is exactly `count`.
bool WaitHeldExactly(uint16_t port, double count, std::chrono::milliseconds timeout = 5s) {
  return WaitUntil([&] { return HeldPolls(port) == count; }, timeout, 20ms);
}

// A poll response read off the wire (pipelined answers), checked like User::Poll.
PollResult ParsePoll(const Response& r) {
  PollResult out;
  out.response = r;
  if (r.status != 200) {
    ADD_FAILURE() << "poll answered " << r;
    return out;
  }
  boost::json::value v = r.Json();
  const auto* o = v.if_object();
  if (!o || !o->if_contains("cursor") || !o->at("cursor").is_string() || !o->if_contains("gap") ||
      !o->at("gap").is_bool() || !o->if_contains("messages") || !o->at("messages").is_array()) {
    ADD_FAILURE() << "not a poll response: " << r;
    return out;
  }
  out.cursor = std::string(o->at("cursor").as_string());
  out.gap = o->at("gap").as_bool();
  for (const auto& m : o->at("messages").as_array()) {
    Msg msg;
    std::string why;
    if (!ParseMsg(m, &msg, &why)) {
      ADD_FAILURE() << "message: " << why << ": " << r;
      return out;
    }
    out.messages.push_back(std::move(msg));
  }
  out.ok = true;
  return out;
}

std::string PollRequest(const std::string& room, const std::string& user, const std::string& cursor,
                        int timeout_ms) {
  return "GET /v1/rooms/" + room + "/poll?cursor=" + cursor +
         "&timeout_ms=" + std::to_string(timeout_ms) +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User-Id: " + user + "\r\n\r\n";
}

std::string SendRequest(const std::string& room, const std::string& user, const std::string& json) {
  return "POST /v1/rooms/" + room + "/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User-Id: " + user +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(json.size()) +
         "\r\n\r\n" + json;
}

// One full poll cycle on `poller`'s connection: held by the room (which subscribes the
// connection's front loop), woken by `sender`. Returns the cursor at the new head ("" on
// failure). The next poll on this connection with that cursor is edge-held.
std::string Prime(uint16_t port, User& poller, User& sender, const std::string& room,
                  const std::string& cursor) {
  double base = HeldPolls(port);
  auto held = std::async(std::launch::async, [&] {
    return poller.Poll(room, {.cursor = cursor, .timeout_ms = 10000});
  });
  EXPECT_TRUE(WaitForHeldPolls(port, base + 1)) << "the priming poll was never held";
  uint64_t seq = sender.Say(room, "prime");
  PollResult p = held.get();
  if (!p.ok || Seqs(p.messages) != std::vector<uint64_t>{seq}) {
    ADD_FAILURE() << "priming poll: " << p.response;
    return "";
  }
  return p.cursor;
}

// `poller` joins `room`, then Prime from the join's cursor ("" on failure).
std::string JoinAndPrime(uint16_t port, User& poller, User& sender, const std::string& room) {
  JoinResult j = poller.Join(room);
  if (!j.ok) {
    ADD_FAILURE() << "join: " << j.response;
    return "";
  }
  return Prime(port, poller, sender, room, j.cursor);
}

// Polls on `u`'s connection from `cursor` (where the messages up to `seen` were read) until a
// message with seq >= `until` came (or a deadline); every response is appended to `out`.
void PollOnward(User& u, const std::string& room, std::string cursor, uint64_t seen, uint64_t until,
                std::vector<PollResult>* out, int limit = 0) {
  auto deadline = Clock::now() + 10s;
  while (seen < until && Clock::now() < deadline) {
    PollResult p = u.Poll(room, {.cursor = cursor, .timeout_ms = 3000, .limit = limit});
    if (!p.ok) return;
    cursor = p.cursor;
    for (const auto& m : p.messages) seen = std::max(seen, m.seq);
    out->push_back(std::move(p));
  }
}

uint64_t MaxSeq(const std::vector<Msg>& messages, uint64_t floor = 0) {
  for (const auto& m : messages) floor = std::max(floor, m.seq);
  return floor;
}

// ---------------------------------------------------------------------------------------------

class EdgeTest : public SharedDaemonTest<EdgeTest> {};

TEST_F(EdgeTest, EdgeHeldPollsWakeWithTheMessageAndTheCursor) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");  // never joins: an admin (dev mode) posting to the room
  std::vector<std::unique_ptr<User>> viewers;
  for (const char* id : {"alice", "bob", "carol"}) {
    viewers.push_back(std::make_unique<User>(port(), id));
  }
  JoinResult j = viewers[0]->Join(room);
  ASSERT_TRUE(j.ok);
  std::string cursor = Prime(port(), *viewers[0], sender, room, j.cursor);
  ASSERT_FALSE(cursor.empty());
  const double base = HeldPolls(port());

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::future<PollResult>> polls;
    for (auto& v : viewers) {
      polls.push_back(std::async(std::launch::async, [&, u = v.get()] {
        return u->Poll(room, {.cursor = cursor, .timeout_ms = 10000});
      }));
    }
    ASSERT_TRUE(WaitForHeldPolls(port(), base + 3)) << "the polls were never held";
    for (auto& f : polls) {
      EXPECT_EQ(f.wait_for(0ms), std::future_status::timeout) << "answered before any send";
    }
    std::string body = "hello " + std::to_string(round);
    SendResult s = sender.Send(room, {.body = body, .client_msg_id = "c" + std::to_string(round)});
    ASSERT_TRUE(s.ok);
    std::string next;
    for (size_t i = 0; i < polls.size(); ++i) {
      PollResult p = polls[i].get();
      ASSERT_TRUE(p.ok);
      ASSERT_EQ(Seqs(p.messages), std::vector<uint64_t>{s.seq}) << p.response;
      const Msg& m = p.messages[0];
      EXPECT_EQ(m.body, body);
      EXPECT_EQ(m.sender, "backend");
      EXPECT_EQ(m.type, "text");
      EXPECT_FALSE(m.priority);
      EXPECT_EQ(m.client_msg_id, std::optional<std::string>("c" + std::to_string(round)));
      EXPECT_FALSE(p.gap);
      EXPECT_TRUE(IsJson(p.response));
      EXPECT_TRUE(HasNoStore(p.response));
      EXPECT_NE(p.cursor, cursor);
      if (i == 0) next = p.cursor;
      EXPECT_EQ(p.cursor, next) << "waiters at one cursor get one cursor";
    }
    // The returned cursor is at the head: polling it with no wait finds nothing.
    PollResult at_head = viewers[0]->Poll(room, {.cursor = next, .timeout_ms = 0});
    ASSERT_TRUE(at_head.ok);
    EXPECT_TRUE(at_head.messages.empty()) << at_head.response;
    EXPECT_EQ(at_head.cursor, next);
    cursor = next;
  }
  for (auto& v : viewers) EXPECT_EQ(v->client().connects(), 1) << v->id();
  EXPECT_TRUE(WaitHeldExactly(port(), base)) << "held polls did not go back";
}

double EdgeAnswered(uint16_t port) {
  return ScrapeMetric(port, "chatroomd_edge_answered_polls_total").value_or(-1);
}

TEST_F(EdgeTest, PollsOneOrTwoGrowthsBehindAreAnsweredAtOnceWithWhatTheRoomWouldSay) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");
  User alice(port(), "alice");
  User bob(port(), "bob");
  JoinResult jb = bob.Join(room);
  ASSERT_TRUE(jb.ok);
  const std::string c0 = jb.cursor;
  std::string c1 = JoinAndPrime(port(), alice, sender, room);  // message 1
  ASSERT_FALSE(c1.empty());
  // The online count the answers carry is published once per aggregation tick.
  ASSERT_TRUE(WaitUntil([&] { return sender.OnlineCount(room) == 2; }, 3s));
  const double base = HeldPolls(port());
  const double answered = EdgeAnswered(port());
  ASSERT_GE(answered, 0);

  // alice waits at the head on the edge; message 2 answers her.
  auto held = std::async(std::launch::async,
                         [&] { return alice.Poll(room, {.cursor = c1, .timeout_ms = 10000}); });
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 1));
  uint64_t s2 = sender.Say(room, "m2");
  PollResult pa = held.get();
  ASSERT_TRUE(pa.ok);
  ASSERT_EQ(Seqs(pa.messages), std::vector<uint64_t>{s2});
  const std::string c2 = pa.cursor;
  EXPECT_EQ(EdgeAnswered(port()), answered) << "a held poll is not an answer from behind";

  // bob, one growth behind (at alice's old cursor) and two behind (his join cursor): answered
  // at once by the edge, with what the room would have said.
  PollResult one = bob.Poll(room, {.cursor = c1, .timeout_ms = 10000});
  ASSERT_TRUE(one.ok);
  EXPECT_EQ(Seqs(one.messages), std::vector<uint64_t>{s2});
  EXPECT_EQ(one.messages[0].body, "m2");
  EXPECT_EQ(one.cursor, c2);
  EXPECT_FALSE(one.gap);
  EXPECT_EQ(one.online, "2");
  EXPECT_LT(one.elapsed, 5000ms);
  PollResult two = bob.Poll(room, {.cursor = c0, .timeout_ms = 10000});
  ASSERT_TRUE(two.ok);
  EXPECT_EQ(Seqs(two.messages), (std::vector<uint64_t>{s2 - 1, s2}));
  EXPECT_EQ(two.cursor, c2);
  EXPECT_EQ(two.online, "2");
  EXPECT_EQ(EdgeAnswered(port()), answered + 2);
  // The same from the room itself (limit 1 is not a group the edge knows): same cursor.
  PollResult from_room = bob.Poll(room, {.cursor = c1, .timeout_ms = 0, .limit = 1});
  ASSERT_TRUE(from_room.ok);
  EXPECT_EQ(Seqs(from_room.messages), std::vector<uint64_t>{s2});
  EXPECT_EQ(from_room.cursor, c2);
  EXPECT_EQ(EdgeAnswered(port()), answered + 2);

  // Pipelined in one write, answered one after the other, in order.
  ASSERT_TRUE(bob.client().SendBytes(PollRequest(room, "bob", c1, 10000) +
                                     PollRequest(room, "bob", c0, 10000) +
                                     PollRequest(room, "bob", c1, 10000)));
  for (auto want :
       {std::vector<uint64_t>{s2}, std::vector<uint64_t>{s2 - 1, s2}, std::vector<uint64_t>{s2}}) {
    PollResult p = ParsePoll(bob.client().ReadResponse());
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(Seqs(p.messages), want) << p.response;
    EXPECT_EQ(p.cursor, c2);
  }
  EXPECT_EQ(EdgeAnswered(port()), answered + 5);

  // Someone joins: once the count is published, the answers carry an old online count, so the
  // edge drops them and the room answers (with the count of now).
  User carol(port(), "carol");
  ASSERT_TRUE(carol.Join(room).ok);
  ASSERT_TRUE(WaitUntil([&] { return sender.OnlineCount(room) == 3; }, 3s));
  PollResult after = bob.Poll(room, {.cursor = c1, .timeout_ms = 10000});
  ASSERT_TRUE(after.ok);
  EXPECT_EQ(Seqs(after.messages), std::vector<uint64_t>{s2});
  EXPECT_EQ(after.cursor, c2);
  EXPECT_EQ(after.online, "3");
  EXPECT_EQ(EdgeAnswered(port()), answered + 5);

  // After one more growth, c0 is three growths behind: the room answers it.
  uint64_t s3 = sender.Say(room, "m3");
  ASSERT_TRUE(WaitUntil(
      [&] {
        PollResult p = bob.Poll(room, {.cursor = c2, .timeout_ms = 0});
        return p.ok && Seqs(p.messages) == std::vector<uint64_t>{s3};
      },
      5s, 20ms));
  const double before_three = EdgeAnswered(port());
  PollResult three = bob.Poll(room, {.cursor = c0, .timeout_ms = 10000});
  ASSERT_TRUE(three.ok);
  EXPECT_EQ(Seqs(three.messages), (std::vector<uint64_t>{s2 - 1, s2, s3}));
  EXPECT_EQ(EdgeAnswered(port()), before_three);
  EXPECT_TRUE(WaitHeldExactly(port(), base));
}

TEST_F(EdgeTest, JsonAndProtobufWaitersGetTheirOwnBodies) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");
  User alice(port(), "alice");
  User pat(port(), "pat");  // binary protobuf answers
  std::string cursor = JoinAndPrime(port(), alice, sender, room);
  ASSERT_FALSE(cursor.empty());
  const double base = HeldPolls(port());
  // Round 0: pat's group is new (the room holds it and adds the group); round 1: both held
  // at the edge.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto a = std::async(std::launch::async,
                        [&] { return alice.Poll(room, {.cursor = cursor, .timeout_ms = 10000}); });
    auto b = std::async(std::launch::async, [&] {
      return pat.client().Request("GET",
                                  "/v1/rooms/" + room + "/poll?timeout_ms=10000&cursor=" + cursor,
                                  {}, pat.Auth({{"Accept", std::string(kProto)}}));
    });
    ASSERT_TRUE(WaitForHeldPolls(port(), base + 2));
    std::string body = "both " + std::to_string(round);
    uint64_t seq = sender.Say(room, body);
    PollResult pa = a.get();
    ASSERT_TRUE(pa.ok);
    ASSERT_EQ(Seqs(pa.messages), std::vector<uint64_t>{seq}) << pa.response;
    EXPECT_EQ(pa.messages[0].body, body);
    EXPECT_TRUE(IsJson(pa.response));

    Response rb = b.get();
    ASSERT_EQ(rb.status, 200) << rb;
    ASSERT_EQ(rb.Header("Content-Type").rfind(kProto, 0), 0u) << rb;
    std::vector<ProtoField> fields;
    ASSERT_TRUE(DecodeProto(rb.body, &fields)) << rb;
    std::string room_field, cursor_field;
    std::vector<std::string> messages;
    uint64_t gap = 0;
    for (const auto& f : fields) {
      if (f.number == 1) room_field = f.bytes;
      if (f.number == 2) cursor_field = f.bytes;
      if (f.number == 3) messages.push_back(f.bytes);
      if (f.number == 4) gap = f.varint;
    }
    EXPECT_EQ(room_field, room);
    EXPECT_EQ(cursor_field, pa.cursor) << "both at the same head";
    EXPECT_EQ(gap, 0u);
    ASSERT_EQ(messages.size(), 1u);
    std::vector<ProtoField> mf;
    ASSERT_TRUE(DecodeProto(messages[0], &mf));
    uint64_t mseq = 0;
    std::string mbody;
    for (const auto& f : mf) {
      if (f.number == 1) mseq = f.varint;
      if (f.number == 5) mbody = f.bytes;
    }
    EXPECT_EQ(mseq, seq);
    EXPECT_EQ(mbody, body);
    cursor = pa.cursor;
  }
  EXPECT_EQ(alice.client().connects(), 1);
  EXPECT_EQ(pat.client().connects(), 1);
  EXPECT_TRUE(WaitHeldExactly(port(), base));
}

TEST_F(EdgeTest, EachLimitGetsItsOwnBodyAndGapsFavourTheNewest) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");
  User many(port(), "many");  // limit 100
  User one(port(), "one");    // limit 1
  std::string cursor = JoinAndPrime(port(), many, sender, room);
  ASSERT_FALSE(cursor.empty());
  const double base = HeldPolls(port());
  uint64_t head = 1;

  // Round 0 subscribes the limit-1 group (held by the room); later rounds have both at the
  // edge and three messages sent at once (from connections opened in advance, written back to
  // back, so that the three usually become visible in one wake).
  std::vector<std::unique_ptr<Client>> admins;
  for (int i = 0; i < 3; ++i) {
    admins.push_back(std::make_unique<Client>(port()));
    ASSERT_TRUE(admins.back()->Connect());
  }
  std::string many_cursor = cursor, one_cursor = cursor;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto a = std::async(std::launch::async, [&] {
      return many.Poll(room, {.cursor = many_cursor, .timeout_ms = 10000, .limit = 100});
    });
    auto b = std::async(std::launch::async, [&] {
      return one.Poll(room, {.cursor = one_cursor, .timeout_ms = 10000, .limit = 1});
    });
    ASSERT_TRUE(WaitForHeldPolls(port(), base + 2));
    const uint64_t from = head;
    if (round == 0) {
      head = sender.Say(room, "single");
    } else {
      for (int i = 0; i < 3; ++i) {
        std::string body = "{\"body\":\"burst " + std::to_string(i) + "\"}";
        ASSERT_TRUE(admins[i]->SendBytes(SendRequest(room, "admin" + std::to_string(i), body)));
      }
      for (auto& c : admins) {
        Response r = c->ReadResponse();
        ASSERT_EQ(r.status, 200) << r;
        head = std::max<uint64_t>(head, std::stoull(std::string(r.Json().at("seq").as_string())));
      }
      ASSERT_EQ(head, from + 3);
    }
    PollResult pa = a.get();
    PollResult pb = b.get();
    ASSERT_TRUE(pa.ok && pb.ok);
    // limit 100: a run of consecutive new messages from the head, no gap.
    ASSERT_FALSE(pa.messages.empty()) << pa.response;
    EXPECT_FALSE(pa.gap) << pa.response;
    for (size_t i = 0; i < pa.messages.size(); ++i) {
      EXPECT_EQ(pa.messages[i].seq, from + 1 + i) << pa.response;
    }
    // limit 1: one message, the newest there was; gap exactly when older ones were skipped.
    ASSERT_EQ(pb.messages.size(), 1u) << pb.response;
    uint64_t got = pb.messages[0].seq;
    EXPECT_GT(got, from);
    EXPECT_LE(got, head);
    EXPECT_EQ(pb.gap, got != from + 1) << pb.response;
    if (pa.messages.size() == 3) {
      // All three were visible at the wake: the limit-1 answer (same wake) has the newest.
      EXPECT_EQ(got, head) << pb.response;
      EXPECT_TRUE(pb.gap) << pb.response;
    }
    // Onward: limit 100 sees every message once, limit 1 reaches the head.
    std::vector<PollResult> rest_a, rest_b;
    PollOnward(many, room, pa.cursor, MaxSeq(pa.messages), head, &rest_a, 100);
    PollOnward(one, room, pb.cursor, got, head, &rest_b, 1);
    std::vector<uint64_t> all_a = Seqs(pa.messages);
    for (const auto& p : rest_a) {
      EXPECT_FALSE(p.gap) << p.response;
      for (const auto& m : p.messages) all_a.push_back(m.seq);
    }
    std::vector<uint64_t> want;
    for (uint64_t s = from + 1; s <= head; ++s) want.push_back(s);
    EXPECT_EQ(all_a, want);
    uint64_t last_b = got;
    for (const auto& p : rest_b) {
      ASSERT_EQ(p.messages.size(), 1u) << p.response;
      EXPECT_GT(p.messages[0].seq, last_b);
      EXPECT_EQ(p.gap, p.messages[0].seq != last_b + 1) << p.response;
      last_b = p.messages[0].seq;
    }
    EXPECT_EQ(last_b, head);
    many_cursor = rest_a.empty() ? pa.cursor : rest_a.back().cursor;
    one_cursor = rest_b.empty() ? pb.cursor : rest_b.back().cursor;
    EXPECT_EQ(many_cursor, one_cursor) << "both at the head";
  }
  EXPECT_TRUE(WaitHeldExactly(port(), base));
}

TEST_F(EdgeTest, EdgeHeldPollTimesOutEmptyWithTheCursorItSent) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");
  User alice(port(), "alice");
  std::string cursor = JoinAndPrime(port(), alice, sender, room);
  ASSERT_FALSE(cursor.empty());
  const double base = HeldPolls(port());

  PollResult p = alice.Poll(room, {.cursor = cursor, .timeout_ms = 300});
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.messages.empty()) << p.response;
  EXPECT_EQ(p.cursor, cursor);
  EXPECT_FALSE(p.gap);
  EXPECT_GE(p.elapsed, 250ms) << "answered before its timeout";
  EXPECT_EQ(p.response.Json().at("next_poll_ms").as_int64(), 0);
  EXPECT_TRUE(WaitHeldExactly(port(), base));

  // The edge still holds and wakes after a timeout.
  auto held = std::async(std::launch::async,
                         [&] { return alice.Poll(room, {.cursor = cursor, .timeout_ms = 10000}); });
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 1));
  uint64_t seq = sender.Say(room, "after the timeout");
  PollResult q = held.get();
  ASSERT_TRUE(q.ok);
  EXPECT_EQ(Seqs(q.messages), std::vector<uint64_t>{seq}) << q.response;
  EXPECT_EQ(alice.client().connects(), 1);
}

TEST_F(EdgeTest, ClientGoneWhileEdgeHeldReleasesItsPoll) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");
  User alice(port(), "alice");
  User bob(port(), "bob");
  std::string cursor = JoinAndPrime(port(), alice, sender, room);
  ASSERT_FALSE(cursor.empty());
  const double base = HeldPolls(port());

  ASSERT_TRUE(bob.client().SendBytes(PollRequest(room, "bob", cursor, 30000)));
  auto a = std::async(std::launch::async,
                      [&] { return alice.Poll(room, {.cursor = cursor, .timeout_ms = 10000}); });
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 2));
  bob.client().Close();
  EXPECT_TRUE(WaitHeldExactly(port(), base + 1)) << "the closed connection's poll stayed held";

  uint64_t seq = sender.Say(room, "still here");
  PollResult p = a.get();
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Seqs(p.messages), std::vector<uint64_t>{seq}) << p.response;
  EXPECT_TRUE(WaitHeldExactly(port(), base));

  // Edge-held polls after that still work, for a new connection too.
  User bob2(port(), "bob");
  auto b = std::async(std::launch::async,
                      [&] { return bob2.Poll(room, {.cursor = p.cursor, .timeout_ms = 10000}); });
  auto a2 = std::async(std::launch::async,
                       [&] { return alice.Poll(room, {.cursor = p.cursor, .timeout_ms = 10000}); });
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 2));
  uint64_t seq2 = sender.Say(room, "again");
  for (auto* f : {&b, &a2}) {
    PollResult r = f->get();
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(Seqs(r.messages), std::vector<uint64_t>{seq2}) << r.response;
  }
  EXPECT_TRUE(WaitHeldExactly(port(), base));
}

TEST_F(EdgeTest, PipelinedPollsAreAnsweredInOrder) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");
  User alice(port(), "alice");
  std::string cursor = JoinAndPrime(port(), alice, sender, room);
  ASSERT_FALSE(cursor.empty());
  const double base = HeldPolls(port());

  // Two polls with the same cursor in one write: the first is edge-held, the second waits
  // behind it on the connection.
  ASSERT_TRUE(alice.client().SendBytes(PollRequest(room, "alice", cursor, 10000) +
                                       PollRequest(room, "alice", cursor, 10000)));
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 1));
  SendResult s = sender.Send(room, {.body = "once"});
  ASSERT_TRUE(s.ok);
  PollResult first = ParsePoll(alice.client().ReadResponse());
  PollResult second = ParsePoll(alice.client().ReadResponse());
  ASSERT_TRUE(first.ok && second.ok);
  EXPECT_EQ(Seqs(first.messages), std::vector<uint64_t>{s.seq}) << first.response;
  EXPECT_NE(first.cursor, cursor);
  // The second asked from the same (older) cursor: the messages after it, i.e. the same one,
  // and the same new cursor.
  EXPECT_EQ(Seqs(second.messages), std::vector<uint64_t>{s.seq}) << second.response;
  EXPECT_FALSE(second.gap);
  EXPECT_EQ(second.cursor, first.cursor);

  // Two polls at the head the edge knows now, pipelined: the first times out at the edge,
  // which runs the second at once; it is held at the edge in turn and woken by a send.
  const std::string head = first.cursor;
  ASSERT_TRUE(alice.client().SendBytes(PollRequest(room, "alice", head, 300) +
                                       PollRequest(room, "alice", head, 10000)));
  PollResult third = ParsePoll(alice.client().ReadResponse());
  ASSERT_TRUE(third.ok);
  EXPECT_TRUE(third.messages.empty()) << third.response;
  EXPECT_EQ(third.cursor, head);
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 1)) << "the second poll was not held";
  uint64_t m1 = sender.Say(room, "m1");
  PollResult fourth = ParsePoll(alice.client().ReadResponse());
  ASSERT_TRUE(fourth.ok);
  EXPECT_EQ(Seqs(fourth.messages), std::vector<uint64_t>{m1}) << fourth.response;
  EXPECT_FALSE(fourth.gap);
  EXPECT_EQ(alice.client().connects(), 1);
  EXPECT_TRUE(WaitHeldExactly(port(), base));
}

// ---------------------------------------------------------------------------------------------

// A body limit of 4 MiB lets a client have ~20,000 polls buffered behind one that is held.
class EdgeDeepPipelineTest : public SharedDaemonTest<EdgeDeepPipelineTest> {
 public:
  static DaemonOptions Options() { return {.config = "http { max_body_bytes: 4194304 }"}; }
};

TEST_F(EdgeDeepPipelineTest, ThousandsOfPipelinedPollsAnsweredAtOnceDoNotNest) {
  // The edge answers a poll behind the head at once, from inside the parse of the requests
  // buffered behind it; each answer must not start the next request one call deeper (20,000
  // levels would overflow the front loop's stack and kill the daemon).
  std::string room = UniqueRoom();
  User sender(port(), "backend");
  User alice(port(), "alice");
  std::string c1 = JoinAndPrime(port(), alice, sender, room);
  ASSERT_FALSE(c1.empty());
  const double base = HeldPolls(port());
  ASSERT_TRUE(alice.client().SendBytes(PollRequest(room, "alice", c1, 10000)));
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 1));
  constexpr int kBehind = 20000;
  std::string burst;
  const std::string one = PollRequest(room, "alice", c1, 1);
  for (int i = 0; i < kBehind; ++i) burst += one;
  ASSERT_LT(burst.size(), 4000000u);
  ASSERT_TRUE(alice.client().SendBytes(burst));
  std::this_thread::sleep_for(300ms);  // let the daemon buffer them behind the held poll

  auto answers = std::async(std::launch::async, [&] {
    std::vector<PollResult> out;
    for (int i = 0; i <= kBehind; ++i) {
      PollResult p = ParsePoll(alice.client().ReadResponse());
      if (!p.ok) break;
      out.push_back(std::move(p));
    }
    return out;
  });
  uint64_t seq = sender.Say(room, "wake");
  std::vector<PollResult> got = answers.get();
  ASSERT_EQ(got.size(), static_cast<size_t>(kBehind + 1));
  const std::string c2 = got[0].cursor;
  EXPECT_NE(c2, c1);
  for (const auto& p : got) {
    ASSERT_EQ(Seqs(p.messages), std::vector<uint64_t>{seq}) << p.response;
    ASSERT_EQ(p.cursor, c2);
  }
  EXPECT_EQ(alice.client().connects(), 1);
  // Still serving.
  PollResult after = alice.Poll(room, {.cursor = c2, .timeout_ms = 0});
  ASSERT_TRUE(after.ok);
  EXPECT_TRUE(after.messages.empty());
  EXPECT_TRUE(WaitHeldExactly(port(), base));
}

class EdgeOnlineTest : public SharedDaemonTest<EdgeOnlineTest> {
 public:
  static DaemonOptions Options() {
    return {.config = "rooms { online_ttl_ms: 1000 } presence { aggregation_period_ms: 100 }"};
  }
};

TEST_F(EdgeOnlineTest, EdgeHeldUsersStayOnlineAndUsersWhoLeftStayGone) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");  // an admin who never joins: never online
  User alice(port(), "alice");
  User bob(port(), "bob");
  User carl(port(), "carl");    // never joins: his poll alone makes him online
  User probe(port(), "probe");  // reads /online
  JoinResult j = alice.Join(room);
  ASSERT_TRUE(j.ok);
  ASSERT_TRUE(bob.Join(room).ok);
  std::string cursor = Prime(port(), alice, sender, room, j.cursor);
  ASSERT_FALSE(cursor.empty());
  const double base = HeldPolls(port());
  auto online = [&] { return probe.OnlineCount(room); };

  std::vector<std::future<PollResult>> polls;
  for (User* u : {&alice, &bob, &carl}) {
    polls.push_back(std::async(std::launch::async, [&, u] {
      return u->Poll(room, {.cursor = cursor, .timeout_ms = 4000});
    }));
  }
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 3));
  auto start = Clock::now();
  EXPECT_TRUE(WaitUntil([&] { return online() == 3; }, 2s)) << "alice, bob and carl: " << online();

  // bob leaves (from another connection) while his poll is still held at the edge: uncounted
  // by the next aggregation tick (the config's period is 100 ms).
  User bob_phone(port(), "bob");
  EXPECT_EQ(bob_phone.Leave(room).status, 204);
  EXPECT_TRUE(WaitUntil([&] { return online() == 2; }, 1s)) << "bob still counted after leaving";

  // Past the TTL counted from the polls: the edge re-tells alice and carl (they stay), and
  // bob, though re-told too, stays gone.
  std::this_thread::sleep_until(start + 1500ms);
  EXPECT_EQ(online(), 2) << "1.5 s on: want alice and carl";
  std::this_thread::sleep_until(start + 2300ms);
  EXPECT_EQ(online(), 2) << "2.3 s on (TTL 1 s): want alice and carl";
  for (auto& f : polls) {
    EXPECT_EQ(f.wait_for(0ms), std::future_status::timeout) << "a poll ended early";
  }
  // End the polls.
  uint64_t seq = sender.Say(room, "bye");
  for (auto& f : polls) {
    PollResult p = f.get();
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(Seqs(p.messages), std::vector<uint64_t>{seq}) << p.response;
  }
}

// ---------------------------------------------------------------------------------------------

class EdgeRoomLimitTest : public SharedDaemonTest<EdgeRoomLimitTest> {
 public:
  static DaemonOptions Options() { return {.config = "rooms { max_held_polls_per_room: 2 }"}; }
};

TEST_F(EdgeRoomLimitTest, EdgeHeldPollsCountTowardsTheRoomLimit) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");
  User alice(port(), "alice");
  User bob(port(), "bob");
  User carol(port(), "carol");
  std::string cursor = JoinAndPrime(port(), alice, sender, room);
  ASSERT_FALSE(cursor.empty());
  const double base = HeldPolls(port());

  std::vector<std::future<PollResult>> polls;
  for (User* u : {&alice, &bob}) {
    polls.push_back(std::async(std::launch::async, [&, u] {
      return u->Poll(room, {.cursor = cursor, .timeout_ms = 10000});
    }));
  }
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 2));
  // A third poll: 503 overloaded (allowed to take effect a moment late: a poll held meanwhile
  // times out quickly and is tried again).
  Response third;
  EXPECT_TRUE(WaitUntil(
      [&] {
        third = carol.PollRaw(room, "timeout_ms=300&cursor=" + cursor);
        return third.status == 503;
      },
      3s, 0ms))
      << third;
  EXPECT_TRUE(IsError(third, 503, "overloaded"));
  EXPECT_TRUE(third.HasHeader("Retry-After")) << third;
  // A poll of another (limit, format) goes to the room itself, which counts the edge's.
  Response other;
  EXPECT_TRUE(WaitUntil(
      [&] {
        other = carol.PollRaw(room, "limit=7&timeout_ms=300&cursor=" + cursor);
        return other.status == 503;
      },
      3s, 0ms))
      << other;
  EXPECT_TRUE(IsError(other, 503, "overloaded"));

  uint64_t seq = sender.Say(room, "wake");
  std::string next;
  for (auto& f : polls) {
    PollResult p = f.get();
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(Seqs(p.messages), std::vector<uint64_t>{seq}) << p.response;
    next = p.cursor;
  }
  EXPECT_TRUE(WaitHeldExactly(port(), base));
  // Room again once they are answered.
  auto again = std::async(std::launch::async,
                          [&] { return carol.Poll(room, {.cursor = next, .timeout_ms = 10000}); });
  ASSERT_TRUE(WaitForHeldPolls(port(), base + 1));
  uint64_t seq2 = sender.Say(room, "again");
  PollResult p = again.get();
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Seqs(p.messages), std::vector<uint64_t>{seq2});
}

class EdgeProcessLimitTest : public SharedDaemonTest<EdgeProcessLimitTest> {
 public:
  static DaemonOptions Options() { return {.config = "rooms { max_held_polls: 2 }"}; }
};

TEST_F(EdgeProcessLimitTest, EdgeHeldPollsCountTowardsTheProcessLimit) {
  std::string room = UniqueRoom("a");
  std::string other_room = UniqueRoom("b");
  User sender(port(), "backend");
  User alice(port(), "alice");
  User bob(port(), "bob");
  User carol(port(), "carol");
  JoinResult j = alice.Join(room);
  ASSERT_TRUE(j.ok);
  JoinResult k = carol.Join(other_room);
  ASSERT_TRUE(k.ok);
  std::string cursor = Prime(port(), alice, sender, room, j.cursor);
  ASSERT_FALSE(cursor.empty());
  ASSERT_TRUE(WaitHeldExactly(port(), 0));

  std::vector<std::future<PollResult>> polls;
  for (User* u : {&alice, &bob}) {
    polls.push_back(std::async(std::launch::async, [&, u] {
      return u->Poll(room, {.cursor = cursor, .timeout_ms = 10000});
    }));
  }
  ASSERT_TRUE(WaitForHeldPolls(port(), 2));
  // The limit is exact: no third poll is held, in this room or any other.
  EXPECT_TRUE(IsError(carol.PollRaw(room, "timeout_ms=3000&cursor=" + cursor), 503, "overloaded"));
  EXPECT_TRUE(
      IsError(carol.PollRaw(other_room, "timeout_ms=3000&cursor=" + k.cursor), 503, "overloaded"));
  EXPECT_EQ(HeldPolls(port()), 2);

  uint64_t seq = sender.Say(room, "wake");
  for (auto& f : polls) {
    PollResult p = f.get();
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(Seqs(p.messages), std::vector<uint64_t>{seq}) << p.response;
  }
  EXPECT_TRUE(WaitHeldExactly(port(), 0));
  PollResult fine = carol.Poll(other_room, {.cursor = k.cursor, .timeout_ms = 200});
  EXPECT_TRUE(fine.ok);
}

// ---------------------------------------------------------------------------------------------

class EdgeTwoFrontsTest : public SharedDaemonTest<EdgeTwoFrontsTest> {
 public:
  static DaemonOptions Options() { return {.config = "http { io_threads: 2 }"}; }
};

TEST_F(EdgeTwoFrontsTest, EveryoneGetsEveryMessageOnceInOrder) {
  std::string room = UniqueRoom();
  User sender(port(), "backend");
  JoinResult j = sender.Join(room);
  ASSERT_TRUE(j.ok);
  ASSERT_TRUE(sender.Leave(room).status == 204);
  constexpr int kViewers = 6;
  constexpr uint64_t kMessages = 20;
  // Connections are dealt to the front loops in turn: consecutive connects use both.
  std::vector<std::unique_ptr<User>> viewers;
  for (int i = 0; i < kViewers; ++i) {
    viewers.push_back(std::make_unique<User>(port(), "viewer" + std::to_string(i)));
    ASSERT_TRUE(viewers.back()->client().Connect());
  }
  const double base = HeldPolls(port());
  std::vector<std::atomic<uint64_t>> last(kViewers);
  std::vector<std::future<std::vector<Msg>>> got;
  for (int i = 0; i < kViewers; ++i) {
    got.push_back(std::async(std::launch::async, [&, i] {
      std::vector<Msg> seen;
      std::string cursor = j.cursor;
      auto deadline = Clock::now() + 15s;
      while (last[i] < kMessages && Clock::now() < deadline) {
        PollResult p = viewers[i]->Poll(room, {.cursor = cursor, .timeout_ms = 5000});
        if (!p.ok) break;
        cursor = p.cursor;
        for (auto& m : p.messages) {
          last[i] = m.seq;
          seen.push_back(std::move(m));
        }
      }
      return seen;
    }));
  }
  for (uint64_t n = 1; n <= kMessages; ++n) {
    // Everyone has what was sent and waits at the head (held at an edge after the first).
    EXPECT_TRUE(WaitUntil(
        [&] {
          for (auto& l : last) {
            if (l != n - 1) return false;
          }
          return true;
        },
        5s));
    EXPECT_TRUE(WaitForHeldPolls(port(), base + kViewers)) << "before message " << n;
    ASSERT_EQ(sender.Say(room, "m" + std::to_string(n)), n);
  }
  for (int i = 0; i < kViewers; ++i) {
    std::vector<Msg> seen = got[i].get();
    std::vector<uint64_t> want;
    for (uint64_t s = 1; s <= kMessages; ++s) want.push_back(s);
    EXPECT_EQ(Seqs(seen), want) << viewers[i]->id();
    for (const auto& m : seen) EXPECT_EQ(m.body, "m" + std::to_string(m.seq));
    EXPECT_EQ(viewers[i]->client().connects(), 1);
  }
  EXPECT_TRUE(WaitHeldExactly(port(), base));
}

// ---------------------------------------------------------------------------------------------

class EdgePriorityTest : public SharedDaemonTest<EdgePriorityTest> {
 public:
  static DaemonOptions Options() { return {.config = "rooms { priority_size: 2 }"}; }
};

// Rounds of: a poll held at the edge, then a burst of priority messages from concurrent admins
// (more than the priority list holds, so some usually land in one wake and the edge sends its
// waiter back to the room), then polling on with the cursors returned. `complete`: also
// require every priority message of the burst (the contract); otherwise only what the
// known bug below cannot break.
void PriorityBursts(uint16_t port, bool complete) {
  std::string room = UniqueRoom();
  User sender(port, "backend");
  User alice(port, "alice");
  std::string cursor = JoinAndPrime(port, alice, sender, room);
  ASSERT_FALSE(cursor.empty());
  const double base = HeldPolls(port);
  constexpr int kBurst = 8;
  // Connected in advance, so that the burst's requests leave together.
  std::vector<std::unique_ptr<Client>> admins;
  for (int i = 0; i < kBurst; ++i) {
    admins.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(admins.back()->Connect());
  }

  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto held = std::async(std::launch::async, [&] {
      return alice.Poll(room, {.cursor = cursor, .timeout_ms = 10000});
    });
    ASSERT_TRUE(WaitForHeldPolls(port, base + 1));
    for (int i = 0; i < kBurst; ++i) {
      std::string body = "{\"body\":\"p" + std::to_string(round) + "-" + std::to_string(i) +
                         "\",\"priority\":true}";
      ASSERT_TRUE(admins[i]->SendBytes(SendRequest(room, "admin" + std::to_string(i), body)));
    }
    std::set<uint64_t> sent;
    for (auto& a : admins) {
      Response r = a->ReadResponse();
      ASSERT_EQ(r.status, 200) << r;
      sent.insert(std::stoull(std::string(r.Json().at("seq").as_string())));
    }
    ASSERT_EQ(sent.size(), size_t{kBurst});

    // The held poll is answered with (some of) the burst at once.
    PollResult first = held.get();
    ASSERT_TRUE(first.ok);
    ASSERT_FALSE(first.messages.empty()) << "the held poll was not woken: " << first.response;
    // Every message is acknowledged, so visible: poll on without waiting until nothing is left.
    std::vector<PollResult> responses{first};
    for (int i = 0; i < 20 && !responses.back().messages.empty(); ++i) {
      PollResult p = alice.Poll(room, {.cursor = responses.back().cursor, .timeout_ms = 0});
      ASSERT_TRUE(p.ok);
      responses.push_back(std::move(p));
    }
    std::vector<uint64_t> seen;
    for (const auto& p : responses) {
      for (const auto& m : p.messages) {
        EXPECT_TRUE(m.priority) << m;
        EXPECT_TRUE(sent.count(m.seq)) << "not of this burst: " << m;
        EXPECT_TRUE(seen.empty() || m.seq > seen.back()) << "out of order or twice: " << m;
        seen.push_back(m.seq);
      }
    }
    if (complete) {
      EXPECT_EQ(seen, std::vector<uint64_t>(sent.begin(), sent.end()))
          << "every priority message exactly once, in order";
    }
    cursor = responses.back().cursor;
  }
  EXPECT_TRUE(WaitHeldExactly(port, base));
}

TEST_F(EdgePriorityTest, PriorityBurstsAreDeliveredInOrderWithoutRepeats) {
  PriorityBursts(port(), /*complete=*/false);
}

// Every priority message of a burst that outruns the priority list arrives exactly once, in
// order. Without the fix in Room::PollFromStore (the cursor's priority position must not move
// past what the store read covered) a message that landed during the read was skipped, about
// one run in ten to twenty; the deterministic check is unit_room
// EdgeRoomTest.ForwardedPollFromTheStoreSkipsNoPriorityMessageThatLandsMeanwhile.
TEST_F(EdgePriorityTest, PriorityMessagesThatOutrunTheListAreSeenOnceInOrder) {
  PriorityBursts(port(), /*complete=*/true);
}

// ---------------------------------------------------------------------------------------------

TEST(EdgeShutdownTest, SigtermAnswersEdgeHeldPollsAndExitsZero) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  std::string room = UniqueRoom();
  User sender(d.port(), "backend");
  User alice(d.port(), "alice");
  std::string cursor = JoinAndPrime(d.port(), alice, sender, room);
  ASSERT_FALSE(cursor.empty());
  User bob(d.port(), "bob");
  User carol(d.port(), "carol");
  std::vector<std::future<PollResult>> polls;
  for (User* u : {&alice, &bob, &carol}) {
    polls.push_back(std::async(std::launch::async, [&, u] {
      return u->Poll(room, {.cursor = cursor, .timeout_ms = 30000});
    }));
  }
  ASSERT_TRUE(WaitForHeldPolls(d.port(), 3)) << "the three polls were never held";

  auto start = Clock::now();
  d.Signal(SIGTERM);
  for (auto& f : polls) {
    PollResult p = f.get();
    ASSERT_TRUE(p.ok) << "an edge-held poll was not answered on SIGTERM";
    EXPECT_TRUE(p.messages.empty()) << p.response;
    EXPECT_EQ(p.cursor, cursor);
  }
  EXPECT_LT(Clock::now() - start, 5s);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(5s - (Clock::now() - start));
  int status = d.Wait(std::max(left, std::chrono::milliseconds(100)));
  EXPECT_EQ(status, 0) << "the daemon must exit 0 within 5 s of SIGTERM (-1: had to be killed)";
}

}  // namespace
}  // namespace chatroomd::it
