// The audience over HTTP (API.md: /online, /stats, /visitors, `online` in answers): counts
// after joins, polls and leaves, one user on two devices, expiry after the TTL, the limits of
// /online, every /stats field, /visitors ranges and errors, and the counters across a restart.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

// A short TTL and a fast aggregation tick, so that the tests wait little.
class AudienceTest : public SharedDaemonTest<AudienceTest> {
 public:
  static DaemonOptions Options() {
    return {.config = "rooms { online_ttl_ms: 1500 } presence { aggregation_period_ms: 100 }"};
  }
};

std::string Field(const boost::json::value& v, std::string_view name) {
  const boost::json::value* f = v.is_object() ? v.as_object().if_contains(name) : nullptr;
  if (!f) return "<missing>";
  if (f->is_string()) return std::string(f->as_string());
  return boost::json::serialize(*f);
}

std::vector<std::string> Users(const boost::json::value& v) {
  std::vector<std::string> out;
  const boost::json::value* users = v.is_object() ? v.as_object().if_contains("users") : nullptr;
  if (!users || !users->is_array()) return {"<not an array>"};
  for (const auto& u : users->as_array()) out.push_back(std::string(u.as_string()));
  std::sort(out.begin(), out.end());
  return out;
}

// UTC date `days_from_today` days from now, YYYY-MM-DD.
std::string UtcDate(int days_from_today = 0) {
  using namespace std::chrono;
  const year_month_day d{floor<days>(system_clock::now()) + days(days_from_today)};
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return out;
}

bool CountBecomes(User& reader, const std::string& room, int64_t want,
                  std::chrono::milliseconds within = 3s) {
  return WaitUntil([&] { return reader.OnlineCount(room) == want; }, within);
}

TEST_F(AudienceTest, JoinsPollsAndLeavesMoveTheCount) {
  const std::string room = UniqueRoom();
  User alice(port(), "alice");
  User bob(port(), "bob");
  User reader(port(), "reader");  // reads only: never counted

  JoinResult j = alice.Join(room);
  ASSERT_TRUE(j.ok);
  EXPECT_EQ(j.online, "1") << "a quiet room shows a join in its own answer";
  EXPECT_TRUE(CountBecomes(reader, room, 1));

  // A poll alone makes a user online.
  PollResult p = bob.Poll(room, {.timeout_ms = 0});
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(CountBecomes(reader, room, 2));
  Response online = reader.RoomGet(room, "online");
  ASSERT_EQ(online.status, 200) << online.body;
  EXPECT_EQ(Users(online.Json()), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_TRUE(HasNoStore(online));

  // Leave is immediate: uncounted within about a second.
  EXPECT_EQ(alice.Leave(room).status, 204);
  EXPECT_TRUE(CountBecomes(reader, room, 1, 1500ms));
  online = reader.RoomGet(room, "online");
  EXPECT_EQ(Users(online.Json()), std::vector<std::string>{"bob"});
  EXPECT_EQ(bob.Leave(room).status, 204);
  EXPECT_TRUE(CountBecomes(reader, room, 0, 1500ms));
  online = reader.RoomGet(room, "online");
  EXPECT_EQ(Field(online.Json(), "count"), "0");
  EXPECT_EQ(Users(online.Json()), std::vector<std::string>{});
  // The poll answers carry the published count as well.
  PollResult again = bob.Poll(room, {.timeout_ms = 0});
  ASSERT_TRUE(again.ok);
  EXPECT_TRUE(CountBecomes(reader, room, 1));
}

TEST_F(AudienceTest, OneUserOnTwoDevicesCountsOnce) {
  const std::string room = UniqueRoom();
  User phone(port(), "carol");
  User laptop(port(), "carol");
  User dave(port(), "dave");
  User reader(port(), "reader");
  ASSERT_TRUE(phone.Join(room).ok);
  ASSERT_TRUE(laptop.Join(room).ok);
  ASSERT_TRUE(dave.Join(room).ok);
  ASSERT_TRUE(phone.Poll(room, {.timeout_ms = 0}).ok);
  ASSERT_TRUE(laptop.Poll(room, {.timeout_ms = 0}).ok);
  EXPECT_TRUE(CountBecomes(reader, room, 2)) << reader.OnlineCount(room);
  Response online = reader.RoomGet(room, "online");
  EXPECT_EQ(Users(online.Json()), (std::vector<std::string>{"carol", "dave"}));
  Response stats = reader.RoomGet(room, "stats");
  EXPECT_EQ(Field(stats.Json(), "uv_day"), "2");
  // A leave from one device is the user's leave.
  EXPECT_EQ(laptop.Leave(room).status, 204);
  EXPECT_TRUE(CountBecomes(reader, room, 1));
}

TEST_F(AudienceTest, SilentUsersExpireAfterTheTtl) {
  const std::string room = UniqueRoom();
  User erin(port(), "erin");
  User frank(port(), "frank");
  User reader(port(), "reader");
  ASSERT_TRUE(erin.Join(room).ok);
  ASSERT_TRUE(frank.Join(room).ok);
  const auto joined = Clock::now();
  EXPECT_TRUE(CountBecomes(reader, room, 2));
  // frank keeps polling; erin goes silent. Nobody expires before the TTL (1.5 s).
  std::this_thread::sleep_until(joined + 700ms);
  ASSERT_TRUE(frank.Poll(room, {.timeout_ms = 0}).ok);
  std::this_thread::sleep_until(joined + 1300ms);
  EXPECT_EQ(reader.OnlineCount(room), 2) << "before the TTL";
  ASSERT_TRUE(frank.Poll(room, {.timeout_ms = 0}).ok);
  // erin goes within the TTL plus an expiry bucket, a tick and the aggregation period.
  EXPECT_TRUE(CountBecomes(reader, room, 1, 2s)) << reader.OnlineCount(room);
  Response online = reader.RoomGet(room, "online");
  EXPECT_EQ(Users(online.Json()), std::vector<std::string>{"frank"});
  // A held poll keeps its user online past the TTL.
  auto held =
      std::async(std::launch::async, [&] { return frank.Poll(room, {.timeout_ms = 4000}); });
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(reader.OnlineCount(room), 1) << "frank's poll is held";
  PollResult p = held.get();
  EXPECT_TRUE(p.ok);
}

TEST_F(AudienceTest, OnlineListsUpToItsLimit) {
  const std::string room = UniqueRoom();
  User reader(port(), "reader");
  std::set<std::string> want;
  for (int i = 0; i < 120; ++i) {
    User u(port(), "viewer" + std::to_string(i));
    ASSERT_TRUE(u.Join(room).ok);
    want.insert(u.id());
  }
  ASSERT_TRUE(CountBecomes(reader, room, 120));

  Response r = reader.RoomGet(room, "online");  // default limit 100
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Field(r.Json(), "count"), "120");
  std::vector<std::string> listed = Users(r.Json());
  EXPECT_EQ(listed.size(), 100u);
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()).size(), 100u) << "no repeats";
  for (const auto& u : listed) EXPECT_TRUE(want.count(u)) << u;
  const int64_t as_of = std::stoll(Field(r.Json(), "as_of_ms"));
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LE(as_of, now);
  EXPECT_GT(as_of, now - 60'000);

  r = reader.RoomGet(room, "online", "limit=0");
  EXPECT_EQ(Field(r.Json(), "count"), "120");
  EXPECT_EQ(Users(r.Json()).size(), 0u);
  r = reader.RoomGet(room, "online", "limit=1000");
  listed = Users(r.Json());
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), want);
  r = reader.RoomGet(room, "online", "limit=7");
  EXPECT_EQ(Users(r.Json()).size(), 7u);

  for (const char* bad : {"limit=1001", "limit=-1", "limit=abc", "limit=", "limit=1e3"}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(IsError(reader.RoomGet(room, "online", bad), 400, "bad_request"));
  }
  EXPECT_TRUE(IsError(reader.RoomGet(UniqueRoom(), "online"), 404, "room_not_found"));
  EXPECT_TRUE(
      IsError(reader.client().Request("POST", "/v1/rooms/" + room + "/online", "{}", reader.Auth()),
              405, "method_not_allowed"));
}

TEST_F(AudienceTest, StatsHasEveryField) {
  const std::string room = UniqueRoom();
  User reader(port(), "reader");
  User a(port(), "a1"), b(port(), "b1"), c(port(), "c1");
  for (User* u : {&a, &b, &c}) ASSERT_TRUE(u->Join(room).ok);
  // Dev mode: everybody is an admin, so priority sends are allowed.
  ASSERT_GT(a.Say(room, "one"), 0u);
  ASSERT_GT(a.Say(room, "two", /*priority=*/true), 0u);
  ASSERT_GT(b.Say(room, "three"), 0u);
  ASSERT_GT(c.Say(room, "four", /*priority=*/true), 0u);
  ASSERT_TRUE(CountBecomes(reader, room, 3));

  Response r = reader.RoomGet(room, "stats");
  ASSERT_EQ(r.status, 200) << r.body;
  boost::json::value s = r.Json();
  EXPECT_EQ(Field(s, "room"), room);
  EXPECT_EQ(Field(s, "online"), "3");
  EXPECT_EQ(Field(s, "peak_online"), "3");
  EXPECT_EQ(Field(s, "peak_online_day"), "3");
  EXPECT_EQ(Field(s, "uv_hour"), "3");
  EXPECT_EQ(Field(s, "uv_day"), "3");
  EXPECT_EQ(Field(s, "messages"), "4");
  EXPECT_EQ(Field(s, "priority_messages"), "2");
  EXPECT_EQ(Field(s, "vip"), "false");
  EXPECT_EQ(Field(s, "sect"), "main");

  // Two leave, a new user polls: online falls, the peak stays, the viewers grow.
  EXPECT_EQ(a.Leave(room).status, 204);
  EXPECT_EQ(b.Leave(room).status, 204);
  User d(port(), "d1");
  ASSERT_TRUE(d.Poll(room, {.timeout_ms = 0}).ok);
  ASSERT_TRUE(CountBecomes(reader, room, 2));
  s = reader.RoomGet(room, "stats").Json();
  EXPECT_EQ(Field(s, "online"), "2");
  EXPECT_EQ(Field(s, "peak_online"), "3");
  EXPECT_EQ(Field(s, "uv_hour"), "4");
  EXPECT_EQ(Field(s, "uv_day"), "4");

  EXPECT_TRUE(IsError(reader.RoomGet(UniqueRoom(), "stats"), 404, "room_not_found"));
}

TEST_F(AudienceTest, VisitorsMergeDaysAndRefuseBadRanges) {
  const std::string room = UniqueRoom();
  User reader(port(), "reader");
  for (const char* id : {"v1", "v2", "v3"}) {
    User u(port(), id);
    ASSERT_TRUE(u.Join(room).ok);
  }
  const std::string today = UtcDate();
  Response r = reader.RoomGet(room, "visitors", "from=" + today + "&to=" + today);
  ASSERT_EQ(r.status, 200) << r.body;
  boost::json::value v = r.Json();
  EXPECT_EQ(Field(v, "room"), room);
  EXPECT_EQ(Field(v, "from"), today);
  EXPECT_EQ(Field(v, "to"), today);
  EXPECT_EQ(Field(v, "unique_visitors"), "3");

  // 366 days ending today: the same three. A range in the past: nobody.
  const std::string year_ago = UtcDate(-365);
  r = reader.RoomGet(room, "visitors", "from=" + year_ago + "&to=" + today);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Field(r.Json(), "unique_visitors"), "3");
  r = reader.RoomGet(room, "visitors", "from=2020-01-01&to=2020-01-31");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Field(r.Json(), "unique_visitors"), "0");
  EXPECT_EQ(Field(r.Json(), "from"), "2020-01-01");

  for (std::string bad :
       {"from=" + UtcDate(-366) + "&to=" + today,  // 367 days
        "from=" + today + "&to=" + UtcDate(-1),    // from after to
        std::string("from=2026-13-01&to=2026-13-02"), std::string("from=2026-02-30&to=2026-03-01"),
        std::string("from=20261101&to=20261102"), std::string("from=2026-1-01&to=2026-01-02"),
        std::string("from=&to=2026-01-02"), std::string("to=2026-01-02"),
        std::string("from=2026-01-02"), std::string(""),
        std::string("from=1969-12-31&to=1970-01-01")}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(IsError(reader.RoomGet(room, "visitors", bad), 400, "bad_request"));
  }
  EXPECT_TRUE(IsError(reader.RoomGet(UniqueRoom(), "visitors", "from=" + today + "&to=" + today),
                      404, "room_not_found"));
}

// The shipped aggregation period (1 s) with a short TTL: the upkeep runs every quarter of the
// TTL, so users still expire about on time.
class ShortTtlTest : public SharedDaemonTest<ShortTtlTest> {
 public:
  static DaemonOptions Options() { return {.config = "rooms { online_ttl_ms: 1000 }"}; }
};

TEST_F(ShortTtlTest, SilentUsersGoSoonAfterAShortTtl) {
  const std::string room = UniqueRoom();
  User gina(port(), "gina");
  User reader(port(), "reader");
  ASSERT_TRUE(gina.Join(room).ok);
  const auto joined = Clock::now();
  EXPECT_EQ(reader.OnlineCount(room), 1) << "a quiet room publishes a join at once";
  std::this_thread::sleep_until(joined + 700ms);
  EXPECT_EQ(reader.OnlineCount(room), 1) << "before the TTL";
  // Gone within the TTL, a bucket (125 ms), an upkeep tick (250 ms) and slack for a busy box.
  EXPECT_TRUE(WaitUntil([&] { return reader.OnlineCount(room) == 0; }, 2500ms));
  EXPECT_LT(Clock::now() - joined, 3200ms);
}

// A sect of three threads and a spread threshold of five users: a room that passes it spreads
// its online table over the sect's other threads, and answers as before.
class SpreadRoomTest : public SharedDaemonTest<SpreadRoomTest> {
 public:
  static DaemonOptions Options() {
    return {.config =
                "rooms { online_ttl_ms: 1500 } "
                "presence { aggregation_period_ms: 100 spread_threshold: 5 }",
            .sects =
                "sects { name: \"main\" threads: 3 ranges { start: 0 end: "
                "0xFFFFFFFFFFFFFFFF } }"};
  }
};

TEST_F(SpreadRoomTest, ABigRoomSpreadsAndCountsJoinsLeavesHeldPollsAndExpiry) {
  const std::string room = UniqueRoom();
  const std::string small = UniqueRoom();
  User reader(port(), "reader");
  ASSERT_TRUE(User(port(), "lone").Join(small).ok);
  std::vector<std::unique_ptr<User>> users;
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back("s" + std::to_string(100 + i));
    users.push_back(std::make_unique<User>(port(), ids.back()));
    ASSERT_TRUE(users.back()->Join(room).ok);
  }
  std::sort(ids.begin(), ids.end());
  ASSERT_TRUE(CountBecomes(reader, room, 20));
  EXPECT_TRUE(
      WaitUntil([&] { return ScrapeMetric(port(), "chatroomd_presence_rooms_spread") == 1.0; }, 3s))
      << "the big room is spread, the small one is not";
  EXPECT_EQ(Users(reader.RoomGet(room, "online", "limit=1000").Json()), ids);
  EXPECT_EQ(reader.OnlineCount(small), 1);

  for (int i = 0; i < 5; ++i) ASSERT_EQ(users[i]->Leave(room).status, 204);
  EXPECT_TRUE(CountBecomes(reader, room, 15)) << "a leave reaches the user's part";
  ASSERT_TRUE(users[5]->Join(room).ok);  // a second device: still once
  EXPECT_EQ(reader.OnlineCount(room), 15);
  const auto stats = reader.RoomGet(room, "stats").Json();
  EXPECT_EQ(Field(stats, "uv_day"), "20");
  EXPECT_EQ(Field(stats, "peak_online"), "20");

  // One user waits in a held poll past the TTL; everyone else goes silent and expires.
  const std::string cursor = users[19]->Join(room).cursor;
  auto held = std::async(std::launch::async, [&] {
    return users[19]->Poll(room, {.cursor = cursor, .timeout_ms = 4000});
  });
  EXPECT_TRUE(CountBecomes(reader, room, 1, 5s)) << "silent users expire on their parts' loops";
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(reader.OnlineCount(room), 1) << "the held poll keeps its user online";
  EXPECT_TRUE(held.get().ok);
  EXPECT_TRUE(CountBecomes(reader, room, 0, 5s));
}

TEST(AudienceRestartTest, CountsSurviveARestart) {
  Daemon d({.config = "presence { aggregation_period_ms: 100 }"});
  ASSERT_TRUE(d.Start());
  const std::string room = UniqueRoom();
  const std::string today = UtcDate();
  {
    User reader(d.port(), "reader");
    std::vector<std::unique_ptr<User>> users;
    for (int i = 0; i < 5; ++i) {
      users.push_back(std::make_unique<User>(d.port(), "w" + std::to_string(i)));
      ASSERT_TRUE(users.back()->Join(room).ok);
    }
    ASSERT_GT(users[0]->Say(room, "hi", /*priority=*/true), 0u);
    ASSERT_GT(users[1]->Say(room, "hello"), 0u);
    ASSERT_TRUE(CountBecomes(reader, room, 5));
    Response s = reader.RoomGet(room, "stats");
    ASSERT_EQ(Field(s.Json(), "uv_day"), "5");
  }
  ASSERT_EQ(d.Stop(SIGTERM), 0);
  ASSERT_TRUE(d.Restart());

  User reader(d.port(), "reader");
  Response r = reader.RoomGet(room, "stats");
  ASSERT_EQ(r.status, 200) << r.body;
  boost::json::value s = r.Json();
  EXPECT_EQ(Field(s, "online"), "0") << "nobody has polled since the restart";
  EXPECT_EQ(Field(s, "uv_day"), "5");
  EXPECT_EQ(Field(s, "uv_hour"), "5");
  EXPECT_EQ(Field(s, "peak_online_day"), "5");
  EXPECT_EQ(Field(s, "peak_online"), "0") << "since this load";
  EXPECT_EQ(Field(s, "messages"), "2");
  EXPECT_EQ(Field(s, "priority_messages"), "1");
  r = reader.RoomGet(room, "visitors", "from=" + today + "&to=" + today);
  EXPECT_EQ(Field(r.Json(), "unique_visitors"), "5");

  // Someone counted before the restart is not counted twice; a newcomer is.
  User w0(d.port(), "w0");
  User fresh(d.port(), "newcomer");
  ASSERT_TRUE(w0.Join(room).ok);
  ASSERT_TRUE(fresh.Join(room).ok);
  ASSERT_TRUE(CountBecomes(reader, room, 2));
  s = reader.RoomGet(room, "stats").Json();
  EXPECT_EQ(Field(s, "uv_day"), "6");
  EXPECT_EQ(Field(s, "peak_online_day"), "5");
}

}  // namespace
}  // namespace chatroomd::it
