// Rooms moving between sects at run time (API.md "PUT /v1/admin/rooms/{room}", "Adaptive
// traffic control"): by the admin call, by a reload's pinned rooms and by the VIP thresholds,
// without losing, repeating or reordering a message and without dropping a held poll.
#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

constexpr const char* kSects = R"(
sects { name: "normal" threads: 2 ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF } }
sects { name: "vip" vip: true threads: 1 }
)";

Response Place(User& admin, std::string_view room, std::string_view body) {
  return admin.client().Request("PUT", "/v1/admin/rooms/" + std::string(room), body,
                                admin.Auth({{"Content-Type", "application/json"}}));
}

// The room's stats: {vip, sect}; vip false and an empty sect when the call fails.
std::pair<bool, std::string> WhereIs(User& u, std::string_view room) {
  Response r = u.RoomGet(room, "stats");
  if (r.status != 200) return {false, ""};
  const boost::json::value v = r.Json();
  return {v.at("vip").as_bool(), std::string(v.at("sect").as_string())};
}

// A counter's value in /metrics (the line that starts with `series`), -1 when missing.
double Metric(User& u, std::string_view series) {
  Response r = u.client().Get("/metrics");
  const std::string text = r.body;
  const size_t at = text.find("\n" + std::string(series) + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

void WriteSects(Daemon& d, const std::string& text) {
  std::ofstream(d.dir() / "sects.textproto", std::ios::trunc) << text;
}

TEST(MigrationTest, TheAdminCallMovesARoomWithItsMessagesAndHeldPolls) {
  Daemon d({.sects = kSects});
  ASSERT_TRUE(d.Start());
  User boss(d.port(), "boss"), alice(d.port(), "alice");
  ASSERT_TRUE(boss.Join("show").ok);
  ASSERT_NE(boss.Say("show", "before"), 0u);
  auto joined = alice.Join("show", 0);
  ASSERT_TRUE(joined.ok);
  EXPECT_EQ(WhereIs(boss, "show"), std::make_pair(false, std::string("normal")));

  // A poll held at the head across the move is answered by a send after it.
  auto held = std::async(std::launch::async, [&] {
    return alice.Poll("show", {.cursor = joined.cursor, .timeout_ms = 8000});
  });
  ASSERT_TRUE(WaitUntil([&] { return Metric(boss, "chatroomd_held_polls") >= 1; }, 5s));
  Response r = Place(boss, "show", R"({"vip": true})");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_TRUE(IsJson(r));
  const boost::json::value stats = r.Json();
  EXPECT_EQ(stats.at("room").as_string(), "show");
  EXPECT_TRUE(stats.at("vip").as_bool());
  EXPECT_EQ(stats.at("sect").as_string(), "vip");
  EXPECT_EQ(stats.at("messages").as_string(), "1");
  ASSERT_NE(boss.Say("show", "after"), 0u);
  PollResult p = held.get();
  ASSERT_TRUE(p.ok) << p.response;
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_EQ(p.messages[0].body, "after");
  EXPECT_EQ(Metric(boss, "chatroomd_room_migrations_total{trigger=\"admin\"}"), 1);

  // Back, and the history is whole.
  r = Place(boss, "show", R"({"vip": false})");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_FALSE(r.Json().at("vip").as_bool());
  EXPECT_EQ(WhereIs(boss, "show"), std::make_pair(false, std::string("normal")));
  std::vector<Msg> all = boss.HistoryAll("show");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].body, "before");
  EXPECT_EQ(all[1].body, "after");
  // The same placement again changes nothing and answers the same way.
  EXPECT_EQ(Place(boss, "show", R"({"vip": false})").status, 200);
  EXPECT_EQ(Metric(boss, "chatroomd_room_migrations_total{trigger=\"admin\"}"), 2);
}

TEST(MigrationTest, EarlyHeldPollsAndABatchMoveWithTheirTimes) {
  Daemon d({.config = "traffic { tiers { min_online: 0 poll_interval_ms: 1500 hold_ms: 600 } }",
            .sects = kSects});
  ASSERT_TRUE(d.Start());
  User boss(d.port(), "boss"), alice(d.port(), "alice");
  ASSERT_TRUE(boss.Join("show").ok);
  const auto joined_at = Clock::now();
  auto joined = alice.Join("show", 0);
  ASSERT_TRUE(joined.ok);
  // An early re-poll is held until its time, across the move.
  auto early = std::async(std::launch::async, [&] {
    return alice.Poll("show", {.cursor = joined.cursor, .timeout_ms = 8000});
  });
  ASSERT_TRUE(WaitUntil([&] { return Metric(boss, "chatroomd_polls_held_early_total") >= 1; }, 5s));
  ASSERT_EQ(Place(boss, "show", R"({"vip": true})").status, 200);
  ASSERT_NE(boss.Say("show", "batched"), 0u);
  // The move may flush a batch (it answers it rather than carry it), never an early poll.
  ASSERT_EQ(Place(boss, "show", R"({"vip": false})").status, 200);
  PollResult p = early.get();
  ASSERT_TRUE(p.ok) << p.response;
  EXPECT_GE(Clock::now() - joined_at, 1300ms) << "not answered before its time";
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_EQ(p.messages[0].body, "batched");
  EXPECT_EQ(Metric(boss, "chatroomd_room_migrations_total{trigger=\"admin\"}"), 2);
}

TEST(MigrationTest, BadPlacementsAre400AndChangeNothing) {
  Daemon d({.sects = R"(
sects { name: "normal" threads: 1 ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF } }
sects { name: "vip" vip: true threads: 1 rooms: "stage" }
)"});
  ASSERT_TRUE(d.Start());
  User boss(d.port(), "boss");
  ASSERT_TRUE(boss.Join("r").ok);
  ASSERT_TRUE(boss.Join("stage").ok);
  EXPECT_TRUE(IsError(Place(boss, "r", "{"), 400, "bad_request"));
  EXPECT_TRUE(IsError(Place(boss, "r", "{}"), 400, "bad_request"));
  EXPECT_TRUE(IsError(Place(boss, "r", R"({"vip": "yes"})"), 400, "bad_request"));
  Response pinned = Place(boss, "stage", R"({"vip": false})");
  EXPECT_TRUE(IsError(pinned, 400, "bad_request"));
  EXPECT_NE(pinned.body.find("pins"), std::string::npos) << pinned;
  EXPECT_EQ(WhereIs(boss, "stage"), std::make_pair(true, std::string("vip")));
  EXPECT_EQ(WhereIs(boss, "r"), std::make_pair(false, std::string("normal")));
  EXPECT_EQ(boss.client().Request("GET", "/v1/admin/rooms/r", {}, boss.Auth()).status, 405);

  Daemon plain;  // one sect, no VIP sect
  ASSERT_TRUE(plain.Start());
  User admin(plain.port(), "boss");
  ASSERT_TRUE(admin.Join("r").ok);
  EXPECT_TRUE(IsError(Place(admin, "r", R"({"vip": true})"), 400, "bad_request"));
}

// The issue's test: many pollers and continuous sends while the room moves back and forth.
TEST(MigrationTest, ManyMovesUnderSendsAndHeldPollsLoseRepeatAndReorderNothing) {
  Daemon d({.sects = kSects});
  ASSERT_TRUE(d.Start());
  const std::string room = "arena";
  User boss(d.port(), "boss");
  ASSERT_TRUE(boss.Join(room).ok);

  constexpr int kPollers = 24, kSenders = 2, kMoves = 40;
  std::atomic<bool> sending{true};
  std::atomic<bool> sent_all{false};  // the senders have stopped: last_seq is the last message
  std::atomic<uint64_t> last_seq{0};
  std::atomic<int> joined{0};  // pollers that joined (before the first send)
  std::vector<std::vector<Msg>> got(kPollers);
  std::vector<std::string> errors(kPollers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPollers; ++i) {
    threads.emplace_back([&, i] {
      User u(d.port(), "p" + std::to_string(i), 15s);
      JoinResult j = u.Join(room, 0);
      ++joined;
      if (!j.ok) return void(errors[i] = "join failed");
      std::string cursor = j.cursor;
      const auto deadline = Clock::now() + 60s;
      while (Clock::now() < deadline) {
        PollResult p = u.Poll(room, {.cursor = cursor, .timeout_ms = 2000});
        if (!p.ok) return void(errors[i] = "poll failed: " + p.response.body);
        if (p.gap) return void(errors[i] = "gap");
        for (auto& m : p.messages) got[i].push_back(std::move(m));
        cursor = p.cursor;
        if (sent_all && !got[i].empty() && got[i].back().seq == last_seq.load()) return;
      }
      errors[i] = "did not reach the last message";
    });
  }
  std::vector<int> sent(kSenders, 0);
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      User u(d.port(), "s" + std::to_string(s));
      if (!u.Join(room, 0).ok) return;
      while (joined < kPollers) std::this_thread::sleep_for(1ms);
      while (sending) {
        uint64_t seq = u.Say(room, "s" + std::to_string(s) + "-" + std::to_string(sent[s]));
        if (seq == 0) return;
        ++sent[s];
        uint64_t seen = last_seq.load();
        while (seq > seen && !last_seq.compare_exchange_weak(seen, seq)) {
        }
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  int moves = 0;
  while (joined < kPollers) std::this_thread::sleep_for(1ms);
  for (int m = 0; m < kMoves; ++m) {
    Response r = Place(boss, room, m % 2 == 0 ? R"({"vip": true})" : R"({"vip": false})");
    EXPECT_EQ(r.status, 200) << r;
    moves += r.status == 200;
    std::this_thread::sleep_for(30ms);
  }
  sending = false;
  for (auto& t : senders) t.join();
  sent_all = true;
  for (auto& t : threads) t.join();

  const std::vector<Msg> history = boss.HistoryAll(room);
  int total = 0;
  for (int n : sent) total += n;
  ASSERT_EQ(static_cast<int>(history.size()), total) << "every acknowledged message is stored";
  ASSERT_GT(total, 50) << "the senders sent during the moves";
  for (size_t k = 0; k < history.size(); ++k) ASSERT_EQ(history[k].seq, k + 1);
  for (int i = 0; i < kPollers; ++i) {
    ASSERT_TRUE(errors[i].empty()) << "poller " << i << ": " << errors[i];
    std::string seqs;
    for (const Msg& m : got[i]) seqs += std::to_string(m.seq) + " ";
    ASSERT_EQ(got[i].size(), history.size()) << "poller " << i << " got " << seqs;
    for (size_t k = 0; k < history.size(); ++k) {
      ASSERT_EQ(got[i][k].seq, history[k].seq) << "poller " << i << " at " << k;
      ASSERT_EQ(got[i][k].body, history[k].body) << "poller " << i << " at " << k;
    }
  }
  // Each sender's messages in the order it sent them.
  std::map<std::string, int> next;
  for (const Msg& m : history) {
    const std::string who = m.body.substr(0, m.body.find('-'));
    EXPECT_EQ(m.body, who + "-" + std::to_string(next[who]++));
  }
  EXPECT_EQ(moves, kMoves);
  EXPECT_EQ(Metric(boss, "chatroomd_room_migrations_total{trigger=\"admin\"}"), kMoves);
}

TEST(MigrationTest, TheThresholdsPromoteAndDemoteARoom) {
  Daemon d({.config = R"(
presence { aggregation_period_ms: 100 }
traffic { vip_promote_online: 3 vip_demote_online: 2 vip_switch_after_s: 1 }
)",
            .sects = kSects});
  ASSERT_TRUE(d.Start());
  User a(d.port(), "a"), b(d.port(), "b"), c(d.port(), "c");
  ASSERT_TRUE(a.Join("big").ok);
  ASSERT_TRUE(b.Join("big").ok);
  ASSERT_TRUE(a.Join("small").ok);
  ASSERT_TRUE(c.Join("big").ok);
  const auto start = Clock::now();
  EXPECT_TRUE(WaitUntil([&] { return WhereIs(a, "big").first; }, 15s));
  EXPECT_GE(Clock::now() - start, 900ms) << "not before vip_switch_after_s";
  EXPECT_EQ(WhereIs(a, "big").second, "vip");
  EXPECT_FALSE(WhereIs(a, "small").first) << "a small room stays";
  EXPECT_EQ(Metric(a, "chatroomd_room_migrations_total{trigger=\"promote\"}"), 1);

  // Hysteresis: at 2 (the demote threshold is "below 2") it stays; at 1 it goes back.
  ASSERT_EQ(c.Leave("big").status, 204);
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(WhereIs(a, "big").first) << "between the thresholds a promoted room stays";
  ASSERT_EQ(b.Leave("big").status, 204);
  EXPECT_TRUE(WaitUntil([&] { return !WhereIs(a, "big").first; }, 15s));
  EXPECT_EQ(WhereIs(a, "big").second, "normal");
  EXPECT_EQ(Metric(a, "chatroomd_room_migrations_total{trigger=\"demote\"}"), 1);
  std::vector<Msg> none = a.HistoryAll("big");
  EXPECT_TRUE(none.empty());
}

TEST(MigrationTest, AReloadChangesThePinnedRoomsAndABadFileChangesNothing) {
  Daemon d({.sects = kSects});
  ASSERT_TRUE(d.Start());
  User boss(d.port(), "boss");
  ASSERT_TRUE(boss.Join("stage").ok);
  ASSERT_NE(boss.Say("stage", "hello"), 0u);
  EXPECT_FALSE(WhereIs(boss, "stage").first);

  // The admin call.
  WriteSects(d, std::string(kSects) + "\nsects { name: \"x\" }\n");  // does not load
  Response bad = boss.client().Request("POST", "/v1/admin/reload", {}, boss.Auth());
  EXPECT_TRUE(IsError(bad, 400, "bad_request")) << bad;
  EXPECT_NE(bad.body.find("sects.textproto:"), std::string::npos) << bad;
  EXPECT_FALSE(WhereIs(boss, "stage").first);

  const std::string pinned = R"(
sects { name: "normal" threads: 2 ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF } }
sects { name: "vip" vip: true threads: 1 rooms: "stage" }
)";
  WriteSects(d, pinned);
  ASSERT_EQ(boss.client().Request("POST", "/v1/admin/reload", {}, boss.Auth()).status, 204);
  EXPECT_TRUE(WaitUntil([&] { return WhereIs(boss, "stage").first; }, 10s));
  EXPECT_TRUE(IsError(Place(boss, "stage", R"({"vip": false})"), 400, "bad_request"));
  EXPECT_EQ(Metric(boss, "chatroomd_room_migrations_total{trigger=\"reload\"}"), 1);

  // SIGHUP, with the pin gone: back where its hash range puts it, messages and all.
  WriteSects(d, kSects);
  d.Signal(SIGHUP);
  EXPECT_TRUE(WaitUntil([&] { return WhereIs(boss, "stage").second == "normal"; }, 10s));
  std::vector<Msg> all = boss.HistoryAll("stage");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].body, "hello");
  EXPECT_EQ(Metric(boss, "chatroomd_room_migrations_total{trigger=\"reload\"}"), 2);

  // A change of threads or ranges waits for a restart: nothing moves.
  WriteSects(d, R"(
sects { name: "normal" threads: 1 ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF } }
sects { name: "vip" vip: true threads: 1 rooms: "stage" }
)");
  ASSERT_EQ(boss.client().Request("POST", "/v1/admin/reload", {}, boss.Auth()).status, 204);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(WhereIs(boss, "stage").second, "normal");
  EXPECT_NE(d.StderrText().find("applied at the next start"), std::string::npos);
}

}  // namespace
}  // namespace chatroomd::it
