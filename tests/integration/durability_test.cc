// What survives a restart: clean SIGTERM shutdowns, kill -9 under load, held polls answered on
// shutdown, idempotency keys.
#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

void ExpectSameMessages(const std::vector<Msg>& got, const std::vector<Msg>& want) {
  ASSERT_EQ(Seqs(got), Seqs(want));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].priority, want[i].priority) << want[i];
    EXPECT_EQ(got[i].sender, want[i].sender) << want[i];
    EXPECT_EQ(got[i].type, want[i].type) << want[i];
    EXPECT_EQ(got[i].body, want[i].body) << want[i];
    EXPECT_EQ(got[i].ts_ms, want[i].ts_ms) << want[i];
    EXPECT_EQ(got[i].client_msg_id, want[i].client_msg_id) << want[i];
  }
}

TEST(DurabilityTest, CleanRestartKeepsHistoryWindowAndPriorityList) {
  Daemon d({.config = "rooms { window_size: 10 priority_size: 5 }"});
  ASSERT_TRUE(d.Start());
  std::string room = UniqueRoom();
  std::string old_cursor;
  std::vector<Msg> before;
  std::vector<uint64_t> normal, priority;
  {
    User u(d.port(), "alice");
    JoinResult j = u.Join(room);
    ASSERT_TRUE(j.ok);
    old_cursor = j.cursor;
    for (int i = 0; i < 22; ++i) {
      bool prio = i % 3 == 1;  // 7 priority, 15 normal
      SendArgs args{.body = "m" + std::to_string(i), .priority = prio};
      if (i == 4) args.client_msg_id = "cid-4";
      if (i == 5) args.type = "gift";
      SendResult s = u.Send(room, args);
      ASSERT_TRUE(s.ok);
      ASSERT_EQ(s.seq, static_cast<uint64_t>(i + 1));
      (prio ? priority : normal).push_back(s.seq);
    }
    before = u.HistoryAll(room);
    ASSERT_EQ(before.size(), 22u);
  }
  ASSERT_EQ(d.Stop(SIGTERM), 0) << "SIGTERM must exit 0";
  ASSERT_TRUE(d.Restart());

  User u(d.port(), "alice");
  ExpectSameMessages(u.HistoryAll(room), before);

  // The window and the priority list are rebuilt: a join's backlog...
  User viewer(d.port(), "viewer");
  JoinResult j = viewer.Join(room, 3);
  ASSERT_TRUE(j.ok);
  std::vector<uint64_t> want(priority.end() - 3, priority.end());
  want.insert(want.end(), normal.end() - 3, normal.end());
  EXPECT_EQ(Seqs(j.messages), want);

  // ...and a poll from a cursor issued before the restart: every priority message (more than
  // the in-memory list holds), then the newest window of normal ones.
  PollResult p = viewer.Poll(room, {.cursor = old_cursor, .timeout_ms = 0, .limit = 100});
  ASSERT_TRUE(p.ok);
  std::vector<uint64_t> want_poll = priority;
  want_poll.insert(want_poll.end(), normal.end() - 10, normal.end());
  EXPECT_EQ(Seqs(p.messages), want_poll);
  EXPECT_TRUE(p.gap);

  // The room continues from its head.
  EXPECT_EQ(u.Say(room, "after restart"), 23u);
  PollResult q = viewer.Poll(room, {.cursor = p.cursor, .timeout_ms = 0});
  ASSERT_TRUE(q.ok);
  EXPECT_EQ(Seqs(q.messages), std::vector<uint64_t>{23});
}

TEST(DurabilityTest, IdempotencySurvivesRestart) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  std::string room = UniqueRoom();
  uint64_t clean_seq = 0, killed_seq = 0;
  {
    User u(d.port(), "alice");
    ASSERT_TRUE(u.Join(room).ok);
    clean_seq = u.Send(room, {.body = "once", .client_msg_id = "k-clean"}).seq;
    ASSERT_EQ(clean_seq, 1u);
  }
  ASSERT_EQ(d.Stop(SIGTERM), 0);
  ASSERT_TRUE(d.Restart());
  {
    User u(d.port(), "alice");
    SendResult again = u.Send(room, {.body = "twice", .client_msg_id = "k-clean"});
    ASSERT_TRUE(again.ok);
    EXPECT_TRUE(again.duplicate);
    EXPECT_EQ(again.seq, clean_seq);
    killed_seq = u.Send(room, {.body = "once", .client_msg_id = "k-killed"}).seq;
    EXPECT_EQ(killed_seq, 2u);
  }
  d.Kill9();
  ASSERT_TRUE(d.Restart());
  User u(d.port(), "alice");
  for (auto [id, seq] : {std::pair{"k-clean", clean_seq}, std::pair{"k-killed", killed_seq}}) {
    SendResult again = u.Send(room, {.body = "again", .client_msg_id = id});
    ASSERT_TRUE(again.ok);
    EXPECT_TRUE(again.duplicate) << id;
    EXPECT_EQ(again.seq, seq) << id;
  }
  std::vector<Msg> h = u.HistoryAll(room);
  ASSERT_EQ(Seqs(h), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(h[0].body, "once");
  EXPECT_EQ(h[1].body, "once");
}

TEST(DurabilityTest, KillNineLosesNoAcknowledgedMessage) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  const std::vector<std::string> rooms = {UniqueRoom("a"), UniqueRoom("b")};
  {
    User u(d.port(), "setup");
    for (const auto& r : rooms) ASSERT_TRUE(u.Join(r).ok);
  }
  struct Ack {
    std::string room;
    uint64_t seq;
    std::string body;
    std::string sender;
  };
  std::mutex mu;
  std::vector<Ack> acks;
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  const uint16_t port = d.port();
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      User u(port, "w" + std::to_string(t), 5s);
      for (int n = 0; !stop.load(); ++n) {
        const std::string& room = rooms[(t + n) % rooms.size()];
        std::string body = "w" + std::to_string(t) + "-" + std::to_string(n);
        std::string json = R"({"body":")" + body + R"("})";
        Response r = u.SendRaw(room, json);
        if (r.status != 200) break;  // the daemon is gone
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(r.body, ec);
        const boost::json::value* seq = v.is_object() ? v.as_object().if_contains("seq") : nullptr;
        if (ec || !seq || !seq->is_string()) {
          ADD_FAILURE() << "a 200 to a send without a seq: " << r << "\nheaders:\n"
                        << DumpHeaders(r);
          break;
        }
        std::lock_guard lock(mu);
        acks.push_back({room, std::stoull(std::string(seq->as_string())), body, u.id()});
      }
    });
  }
  std::this_thread::sleep_for(1500ms);  // the load runs for a fixed time, by design
  d.Kill9();
  stop = true;
  for (auto& t : senders) t.join();
  ASSERT_GE(acks.size(), 20u) << "too few acknowledged sends to mean anything";

  ASSERT_TRUE(d.Restart());
  User u(d.port(), "checker");
  for (const auto& room : rooms) {
    std::vector<Msg> h = u.HistoryAll(room);
    std::map<uint64_t, const Msg*> by_seq;
    for (size_t i = 0; i < h.size(); ++i) {
      EXPECT_EQ(h[i].seq, i + 1) << "history of " << room << " has a hole or a repeat";
      by_seq[h[i].seq] = &h[i];
    }
    size_t acked = 0;
    std::map<uint64_t, int> acked_seqs;
    for (const Ack& a : acks) {
      if (a.room != room) continue;
      ++acked;
      EXPECT_EQ(++acked_seqs[a.seq], 1) << "seq " << a.seq << " acknowledged twice";
      auto it = by_seq.find(a.seq);
      if (it == by_seq.end()) {
        ADD_FAILURE() << "acknowledged message lost: " << room << " seq " << a.seq << " " << a.body;
        continue;
      }
      EXPECT_EQ(it->second->body, a.body) << "seq " << a.seq;
      EXPECT_EQ(it->second->sender, a.sender) << "seq " << a.seq;
    }
    EXPECT_GT(acked, 0u) << room;
    // The room continues from its head.
    EXPECT_EQ(u.Say(room, "after"), h.size() + 1) << room;
  }
}

TEST(DurabilityTest, SigtermAnswersHeldPollsAndExitsZero) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  std::string room = UniqueRoom();
  User owner(d.port(), "owner");
  JoinResult j = owner.Join(room);
  ASSERT_TRUE(j.ok);
  std::vector<std::future<PollResult>> polls;
  for (int i = 0; i < 3; ++i) {
    polls.push_back(std::async(std::launch::async, [&, i] {
      User u(d.port(), "viewer" + std::to_string(i));
      return u.Poll(room, {.cursor = j.cursor, .timeout_ms = 30000});
    }));
  }
  ASSERT_TRUE(WaitForHeldPolls(d.port(), 3)) << "the three polls were never held";
  Client probe(d.port());
  ASSERT_EQ(probe.Get("/readyz").status, 200);

  auto start = Clock::now();
  d.Signal(SIGTERM);
  for (auto& f : polls) {
    PollResult p = f.get();
    ASSERT_TRUE(p.ok) << "a held poll was not answered on SIGTERM";
    EXPECT_TRUE(p.messages.empty());
    EXPECT_EQ(p.cursor, j.cursor);
  }
  EXPECT_LT(Clock::now() - start, 5s);
  // While draining, readiness is off (if the daemon still answers at all).
  Response ready = probe.Get("/readyz");
  if (ready.status != 0) {
    EXPECT_EQ(ready.status, 503) << ready;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(5s - (Clock::now() - start));
  int status = d.Wait(std::max(left, std::chrono::milliseconds(100)));
  EXPECT_EQ(status, 0) << "the daemon must exit 0 within 5 s of SIGTERM (-1: had to be killed)";
}

}  // namespace
}  // namespace chatroomd::it
