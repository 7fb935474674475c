#include "chatroomd/room/room_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "chatroomd/room/message.h"

namespace chatroomd::room {
namespace {

MessagePtr Msg(uint64_t seq, bool priority) {
  store::MessageRecord r;
  r.seq = seq;
  r.priority = priority;
  r.sender = "alice";
  r.type = priority ? "gift" : "text";
  r.body = "m" + std::to_string(seq);
  r.ts_ms = 1763900000000 + static_cast<int64_t>(seq);
  return EncodeMessage(r, 0);
}

std::vector<uint64_t> Seqs(const std::vector<const EncodedMessage*>& msgs) {
  std::vector<uint64_t> out;
  for (const auto* m : msgs) out.push_back(m->seq);
  return out;
}
std::vector<uint64_t> Seqs(const ReadResult& r) { return Seqs(r.messages); }

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// A log together with the room's seq counter, for building histories quickly.
class Builder {
 public:
  Builder(uint32_t window, uint32_t priority) : log(window, priority) {}
  uint64_t Normal() { return Add(false); }
  uint64_t Priority() { return Add(true); }
  void Normals(int n) {
    for (int i = 0; i < n; ++i) Normal();
  }
  void Priorities(int n) {
    for (int i = 0; i < n; ++i) Priority();
  }
  Cursor Head() const { return {log.head(), log.head()}; }

  RoomLog log;
  uint64_t seq = 0;
  std::map<uint64_t, bool> all;  // every message ever appended: seq -> priority

 private:
  uint64_t Add(bool priority) {
    ++seq;
    log.Append(Msg(seq, priority));
    all[seq] = priority;
    return seq;
  }
};

TEST(RoomLogTest, EmptyLog) {
  RoomLog log(10, 10);
  EXPECT_EQ(log.head(), 0u);
  ReadResult r = log.Read({0, 0}, 100);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.next, (Cursor{0, 0}));
  EXPECT_FALSE(r.gap);
  EXPECT_FALSE(r.needs_store);
  EXPECT_FALSE(log.HasUnread({0, 0}));
  EXPECT_TRUE(log.Backlog(20).empty());
  EXPECT_TRUE(log.Valid({0, 0}));
  EXPECT_FALSE(log.Valid({1, 0}));
}

TEST(RoomLogTest, OneSeqCounterPriorityFirst) {
  Builder b(10, 10);
  b.Normal();    // 1
  b.Priority();  // 2
  b.Normal();    // 3
  b.Priority();  // 4
  b.Normal();    // 5
  EXPECT_EQ(b.log.head(), 5u);
  EXPECT_EQ(b.log.window_count(), 3u);
  EXPECT_EQ(b.log.priority_count(), 2u);
  ReadResult r = b.log.Read({0, 0}, 100);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{2, 4, 1, 3, 5}));
  EXPECT_EQ(r.next, (Cursor{5, 5}));
  EXPECT_FALSE(r.gap);
  EXPECT_FALSE(r.needs_store);
  // Each message carries its own kind.
  for (const auto* m : r.messages) EXPECT_EQ(m->priority, m->seq % 2 == 0);
}

TEST(RoomLogTest, ReadingFromTheHeadReturnsNothing) {
  Builder b(10, 10);
  b.Normals(3);
  b.Priorities(2);
  ReadResult r = b.log.Read(b.Head(), 100);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.next, b.Head());
  EXPECT_FALSE(r.gap);
  EXPECT_FALSE(b.log.HasUnread(b.Head()));
}

TEST(RoomLogTest, ReadOnlyNewerThanCursor) {
  Builder b(10, 10);
  b.Normals(3);     // 1..3
  b.Priorities(2);  // 4, 5
  Cursor c = b.Head();
  b.Normal();    // 6
  b.Priority();  // 7
  ReadResult r = b.log.Read(c, 100);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{7, 6}));
  EXPECT_EQ(r.next, (Cursor{7, 7}));
  EXPECT_FALSE(r.gap);
  // The streams are tracked separately: normal read, priority not.
  r = b.log.Read({7, 3}, 100);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{4, 5, 7}));
  EXPECT_EQ(r.next, (Cursor{7, 7}));
  EXPECT_FALSE(r.gap);
}

TEST(RoomLogTest, PriorityOldestFirstUpToLimitThenTheRest) {
  Builder b(10, 100);
  b.Priorities(5);  // 1..5
  b.Normals(3);     // 6..8
  ReadResult r = b.log.Read({0, 0}, 3);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{1, 2, 3}));
  // Priority filled the limit: the normal stream stays put and nothing is skipped.
  EXPECT_EQ(r.next, (Cursor{0, 3}));
  EXPECT_FALSE(r.gap);

  r = b.log.Read(r.next, 3);
  // Two priority left, then the newest normal that fits; the two older ones are skipped.
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{4, 5, 8}));
  EXPECT_EQ(r.next, (Cursor{8, 8}));
  EXPECT_TRUE(r.gap);

  r = b.log.Read(r.next, 3);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_FALSE(r.gap);
}

TEST(RoomLogTest, PriorityExactlyFillsLimit) {
  Builder b(10, 100);
  b.Normals(2);     // 1, 2
  b.Priorities(3);  // 3..5
  ReadResult r = b.log.Read({0, 0}, 3);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{3, 4, 5}));
  // Every priority read: the priority stream moves to the head. Normal does not move.
  EXPECT_EQ(r.next, (Cursor{0, 5}));
  EXPECT_FALSE(r.gap);
  r = b.log.Read(r.next, 3);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(r.next, (Cursor{5, 5}));
  EXPECT_FALSE(r.gap);
}

TEST(RoomLogTest, PriorityFillingTheLimitNeverCausesAGapEvenWhenBehindTheWindow) {
  Builder b(3, 100);
  b.Normals(10);    // 1..10, window holds 8..10
  b.Priorities(4);  // 11..14
  ReadResult r = b.log.Read({0, 0}, 2);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{11, 12}));
  EXPECT_EQ(r.next, (Cursor{0, 12}));
  EXPECT_FALSE(r.gap);
  r = b.log.Read(r.next, 2);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{13, 14}));
  EXPECT_EQ(r.next, (Cursor{0, 14}));
  EXPECT_FALSE(r.gap);
  // Now the normal part: behind the window, so a gap.
  r = b.log.Read(r.next, 2);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{9, 10}));
  EXPECT_EQ(r.next, (Cursor{14, 14}));
  EXPECT_TRUE(r.gap);
}

TEST(RoomLogTest, MoreUnreadNormalThanLimitReturnsNewest) {
  Builder b(100, 100);
  b.Normals(8);
  ReadResult r = b.log.Read({0, 0}, 3);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{6, 7, 8}));
  EXPECT_EQ(r.next, (Cursor{8, 8}));
  EXPECT_TRUE(r.gap);
  // Exactly as many as the limit: no gap.
  r = b.log.Read({5, 0}, 3);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{6, 7, 8}));
  EXPECT_FALSE(r.gap);
  // Mixed: priority takes part of the limit, the rest goes to the newest normal.
  b.Priority();  // 9
  b.Normal();    // 10
  r = b.log.Read({5, 0}, 3);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{9, 8, 10}));
  EXPECT_EQ(r.next, (Cursor{10, 10}));
  EXPECT_TRUE(r.gap);  // 6 and 7 skipped
}

// Window W, cursor at S, then W normal messages: all of them, no gap. W+1: a gap, the newest W.
TEST(RoomLogTest, ExactWindowBoundary) {
  for (uint32_t window : {1u, 2u, 5u, 16u}) {
    SCOPED_TRACE("window " + std::to_string(window));
    for (int before : {0, 3, 40}) {
      Builder b(window, 100);
      b.Normals(before);
      b.Priority();  // priority messages do not take window places
      Cursor s = b.Head();
      b.Normals(static_cast<int>(window));
      b.Priorities(2);
      uint64_t first = s.normal + 1;
      std::vector<uint64_t> normals = Range(first, first + window - 1);
      for (uint32_t limit : {window, window + 2, 1000u}) {
        ReadResult r = b.log.Read(s, limit + 2);  // + 2 for the priority ones
        std::vector<uint64_t> expected = {b.seq - 1, b.seq};
        expected.insert(expected.end(), normals.begin(), normals.end());
        EXPECT_EQ(Seqs(r), expected) << "limit " << limit;
        EXPECT_FALSE(r.gap) << "limit " << limit;
        EXPECT_EQ(r.next, b.Head());
      }
      // Without the priority ones in the way.
      ReadResult r = b.log.Read({s.normal, b.seq}, window);
      EXPECT_EQ(Seqs(r), normals);
      EXPECT_FALSE(r.gap);

      // One more normal message: the first one after the cursor leaves the window.
      uint64_t last = b.Normal();
      std::vector<uint64_t> newest(normals.begin() + 1, normals.end());
      newest.push_back(last);  // (the two priority seqs sit between)
      r = b.log.Read({s.normal, b.seq}, window);
      EXPECT_EQ(Seqs(r), newest) << "newest W expected";
      EXPECT_TRUE(r.gap);
      r = b.log.Read({s.normal, b.seq}, 1000);
      EXPECT_EQ(Seqs(r), newest);
      EXPECT_TRUE(r.gap);
      EXPECT_EQ(r.next, b.Head());
    }
  }
}

TEST(RoomLogTest, EvictedSeqs) {
  Builder b(3, 2);
  EXPECT_EQ(b.log.evicted_normal_seq(), 0u);
  EXPECT_EQ(b.log.evicted_priority_seq(), 0u);
  b.Normals(3);  // 1..3
  EXPECT_EQ(b.log.evicted_normal_seq(), 0u);
  b.Normal();  // 4 evicts 1
  EXPECT_EQ(b.log.evicted_normal_seq(), 1u);
  b.Priorities(2);  // 5, 6
  EXPECT_EQ(b.log.evicted_priority_seq(), 0u);
  b.Priority();  // 7 evicts 5
  EXPECT_EQ(b.log.evicted_priority_seq(), 5u);
  EXPECT_EQ(b.log.evicted_normal_seq(), 1u);
  EXPECT_EQ(b.log.window_count(), 3u);
  EXPECT_EQ(b.log.priority_count(), 2u);
}

TEST(RoomLogTest, NeedsStoreWhenPriorityListWasEvictedPastTheCursor) {
  Builder b(10, 3);
  b.Normal();       // 1
  b.Priorities(5);  // 2..6; the list keeps 4..6, evicted 3
  ASSERT_EQ(b.log.evicted_priority_seq(), 3u);
  for (uint64_t p : {0u, 1u, 2u}) {
    ReadResult r = b.log.Read({0, p}, 100);
    EXPECT_TRUE(r.needs_store) << p;
    EXPECT_TRUE(r.messages.empty());
    EXPECT_EQ(r.next, (Cursor{0, p}));
    EXPECT_TRUE(b.log.HasUnread({0, p}));
  }
  // At the evicted seq itself nothing unread is missing from memory.
  ReadResult r = b.log.Read({0, 3}, 100);
  EXPECT_FALSE(r.needs_store);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{4, 5, 6, 1}));
}

TEST(RoomLogTest, ReadNormalAfterPriorityFromStore) {
  Builder b(3, 100);
  b.Normals(5);  // 1..5, window 3..5
  ReadResult r;
  r.next = {0, 0};
  b.log.ReadNormal({0, 0}, 2, r);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(r.next.normal, 5u);
  EXPECT_TRUE(r.gap);
  // Nothing left for normal: the normal position stays.
  ReadResult full;
  full.next = {0, 0};
  b.log.ReadNormal({2, 0}, 0, full);
  EXPECT_TRUE(full.messages.empty());
  EXPECT_EQ(full.next.normal, 2u);
  EXPECT_FALSE(full.gap);
}

TEST(RoomLogTest, ValidRejectsCursorsPastTheHead) {
  Builder b(10, 10);
  b.Normals(3);
  b.Priority();  // head 4
  EXPECT_TRUE(b.log.Valid({0, 0}));
  EXPECT_TRUE(b.log.Valid({4, 4}));
  EXPECT_TRUE(b.log.Valid({4, 0}));
  EXPECT_TRUE(b.log.Valid({0, 4}));
  EXPECT_FALSE(b.log.Valid({5, 4}));
  EXPECT_FALSE(b.log.Valid({4, 5}));
  EXPECT_FALSE(b.log.Valid({5, 5}));
  EXPECT_FALSE(b.log.Valid({std::numeric_limits<uint64_t>::max(), 0}));
  EXPECT_FALSE(b.log.Valid({0, std::numeric_limits<uint64_t>::max()}));
  // Every cursor a read returns is valid.
  EXPECT_TRUE(b.log.Valid(b.log.Read({0, 0}, 1).next));
  EXPECT_TRUE(b.log.Valid(b.log.Read({0, 0}, 100).next));
}

TEST(RoomLogTest, Backlog) {
  Builder b(5, 3);
  EXPECT_TRUE(b.log.Backlog(10).empty());
  b.Normal();       // 1
  b.Priority();     // 2
  b.Normals(2);     // 3, 4
  b.Priorities(2);  // 5, 6
  b.Normal();       // 7
  EXPECT_EQ(Seqs(b.log.Backlog(0)), (std::vector<uint64_t>{}));
  EXPECT_EQ(Seqs(b.log.Backlog(1)), (std::vector<uint64_t>{6, 7}));
  EXPECT_EQ(Seqs(b.log.Backlog(2)), (std::vector<uint64_t>{5, 6, 4, 7}));
  EXPECT_EQ(Seqs(b.log.Backlog(3)), (std::vector<uint64_t>{2, 5, 6, 3, 4, 7}));
  EXPECT_EQ(Seqs(b.log.Backlog(200)), (std::vector<uint64_t>{2, 5, 6, 1, 3, 4, 7}));
  // Only what is still in memory.
  b.Normals(10);     // 8..17, window 13..17
  b.Priorities(10);  // 18..27, list 25..27
  EXPECT_EQ(Seqs(b.log.Backlog(200)), (std::vector<uint64_t>{25, 26, 27, 13, 14, 15, 16, 17}));
  EXPECT_EQ(Seqs(b.log.Backlog(2)), (std::vector<uint64_t>{26, 27, 16, 17}));
}

// A reader that falls far behind (more than the window) and catches up with small limits,
// always echoing the cursor it was given, sees every priority message exactly once and in
// order, and no normal message twice.
TEST(RoomLogTest, PriorityNeverLostWhenFallingBehind) {
  Builder b(4, 1000);
  Cursor c = b.Head();
  for (int i = 0; i < 60; ++i) {
    b.Normals(3);
    if (i % 2 == 0) b.Priority();
    if (i % 5 == 0) b.Priorities(3);
  }
  std::vector<uint64_t> priority_seen, normal_seen;
  int reads = 0;
  bool any_gap = false;
  while (b.log.HasUnread(c)) {
    ReadResult r = b.log.Read(c, 2);
    ASSERT_FALSE(r.needs_store);
    ASSERT_FALSE(r.messages.empty());
    for (const auto* m : r.messages) (m->priority ? priority_seen : normal_seen).push_back(m->seq);
    any_gap |= r.gap;
    c = r.next;
    ASSERT_LT(++reads, 1000);
  }
  std::vector<uint64_t> all_priority;
  for (auto [seq, p] : b.all) {
    if (p) all_priority.push_back(seq);
  }
  EXPECT_EQ(priority_seen, all_priority);
  EXPECT_TRUE(std::is_sorted(normal_seen.begin(), normal_seen.end()));
  EXPECT_EQ(std::adjacent_find(normal_seen.begin(), normal_seen.end()), normal_seen.end());
  EXPECT_TRUE(any_gap);
  EXPECT_EQ(c, b.Head());
}

// Random histories and random readers, checked against the rules of docs/api.md:
// - priority: every one exactly once, in order (the list is large enough to never evict);
// - normal: ascending, never twice; `gap` is true exactly when a normal message between the
//   old and the new cursor position was not returned;
// - HasUnread agrees with Read returning something.
TEST(RoomLogTest, RandomReadersFollowTheRules) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 30; ++round) {
    uint32_t window = 1 + rng() % 8;
    Builder b(window, 100000);
    struct Reader {
      Cursor c;
      std::vector<uint64_t> priority_seen;
      uint64_t last_normal = 0;
    };
    std::vector<Reader> readers(4);
    for (int step = 0; step < 400; ++step) {
      int what = static_cast<int>(rng() % 10);
      if (what < 5) {
        b.Normal();
      } else if (what < 7) {
        b.Priority();
      } else {
        Reader& reader = readers[rng() % readers.size()];
        uint32_t limit = 1 + rng() % 6;
        ReadResult r = b.log.Read(reader.c, limit);
        ASSERT_FALSE(r.needs_store);
        ASSERT_LE(r.messages.size(), limit);
        EXPECT_EQ(b.log.HasUnread(reader.c), !r.messages.empty());
        EXPECT_TRUE(b.log.Valid(r.next));
        // Priority part, then normal part.
        size_t i = 0;
        std::vector<uint64_t> normals;
        for (; i < r.messages.size() && r.messages[i]->priority; ++i) {
          reader.priority_seen.push_back(r.messages[i]->seq);
        }
        for (; i < r.messages.size(); ++i) {
          ASSERT_FALSE(r.messages[i]->priority) << "priority after normal";
          normals.push_back(r.messages[i]->seq);
        }
        ASSERT_TRUE(std::is_sorted(normals.begin(), normals.end()));
        if (!normals.empty()) {
          EXPECT_GT(normals.front(), reader.last_normal) << "normal message seen twice";
          EXPECT_GT(normals.front(), reader.c.normal);
          reader.last_normal = normals.back();
        }
        // Skipped = normal messages in (old, new] that were not returned.
        bool skipped = false;
        for (auto it = b.all.upper_bound(reader.c.normal);
             it != b.all.end() && it->first <= r.next.normal; ++it) {
          if (!it->second &&
              std::find(normals.begin(), normals.end(), it->first) == normals.end()) {
            skipped = true;
          }
        }
        EXPECT_EQ(r.gap, skipped);
        EXPECT_GE(r.next.normal, reader.c.normal);
        EXPECT_GE(r.next.priority, reader.c.priority);
        reader.c = r.next;
      }
    }
    // Drain, then every reader has every priority message once, in order.
    std::vector<uint64_t> all_priority;
    for (auto [seq, p] : b.all) {
      if (p) all_priority.push_back(seq);
    }
    for (Reader& reader : readers) {
      int reads = 0;
      while (b.log.HasUnread(reader.c)) {
        ReadResult r = b.log.Read(reader.c, 1 + rng() % 3);
        ASSERT_FALSE(r.messages.empty());
        for (const auto* m : r.messages) {
          if (m->priority) reader.priority_seen.push_back(m->seq);
        }
        reader.c = r.next;
        ASSERT_LT(++reads, 100000);
      }
      EXPECT_EQ(reader.priority_seen, all_priority);
      EXPECT_EQ(reader.c, b.Head());
    }
  }
}

void ExpectSameRead(const RoomLog& a, const RoomLog& b, Cursor c, uint32_t limit) {
  SCOPED_TRACE("cursor " + std::to_string(c.normal) + "/" + std::to_string(c.priority) + " limit " +
               std::to_string(limit));
  ReadResult ra = a.Read(c, limit);
  ReadResult rb = b.Read(c, limit);
  EXPECT_EQ(Seqs(ra), Seqs(rb));
  EXPECT_EQ(ra.next, rb.next);
  EXPECT_EQ(ra.gap, rb.gap);
  EXPECT_EQ(ra.needs_store, rb.needs_store);
  EXPECT_EQ(a.HasUnread(c), b.HasUnread(c));
}

// Splits a log's in-memory content into what a store snapshot would hold.
void Snapshot(const RoomLog& log, std::vector<MessagePtr>& normal,
              std::vector<MessagePtr>& priority) {
  for (const auto* m : log.Backlog(std::numeric_limits<uint32_t>::max())) {
    (m->priority ? priority : normal).push_back(Msg(m->seq, m->priority));
  }
}

TEST(RoomLogTest, RestoreThenReadLikeTheLiveLog) {
  std::mt19937 rng(99);
  for (int round = 0; round < 10; ++round) {
    Builder live(5, 4);
    int n = 5 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      if (rng() % 3 == 0) {
        live.Priority();
      } else {
        live.Normal();
      }
    }
    std::vector<MessagePtr> normal, priority;
    Snapshot(live.log, normal, priority);
    RoomLog restored(5, 4);
    restored.Restore(std::move(normal), live.log.evicted_normal_seq(), std::move(priority),
                     live.log.evicted_priority_seq(), live.log.head());
    EXPECT_EQ(restored.head(), live.log.head());
    EXPECT_EQ(restored.window_count(), live.log.window_count());
    EXPECT_EQ(restored.priority_count(), live.log.priority_count());
    EXPECT_EQ(restored.evicted_normal_seq(), live.log.evicted_normal_seq());
    EXPECT_EQ(restored.evicted_priority_seq(), live.log.evicted_priority_seq());
    EXPECT_EQ(Seqs(restored.Backlog(100)), Seqs(live.log.Backlog(100)));
    for (uint64_t cn = 0; cn <= live.log.head(); ++cn) {
      for (uint64_t cp = 0; cp <= live.log.head(); ++cp) {
        for (uint32_t limit : {1u, 3u, 100u}) ExpectSameRead(live.log, restored, {cn, cp}, limit);
      }
    }
    // And both keep behaving alike as new messages arrive.
    for (int i = 0; i < 10; ++i) {
      bool p = rng() % 3 == 0;
      uint64_t seq = live.seq + 1;
      p ? live.Priority() : live.Normal();
      restored.Append(Msg(seq, p));
    }
    for (uint64_t cn = 0; cn <= live.log.head(); cn += 3) {
      for (uint64_t cp = 0; cp <= live.log.head(); cp += 3) {
        ExpectSameRead(live.log, restored, {cn, cp}, 4);
      }
    }
  }
}

TEST(RoomLogTest, RestoreTrimsToTheWindowAndPriorityList) {
  // The full history from seq 1, with nothing evicted yet: Restore keeps the newest ones.
  Builder live(3, 2);
  std::vector<MessagePtr> normal, priority;
  for (int i = 0; i < 20; ++i) {
    bool p = i % 4 == 0;
    uint64_t seq = p ? live.Priority() : live.Normal();
    (p ? priority : normal).push_back(Msg(seq, p));
  }
  RoomLog restored(3, 2);
  restored.Restore(std::move(normal), 0, std::move(priority), 0, live.log.head());
  EXPECT_EQ(restored.window_count(), 3u);
  EXPECT_EQ(restored.priority_count(), 2u);
  EXPECT_EQ(restored.evicted_normal_seq(), live.log.evicted_normal_seq());
  EXPECT_EQ(restored.evicted_priority_seq(), live.log.evicted_priority_seq());
  for (uint64_t cn = 0; cn <= live.log.head(); ++cn) {
    for (uint64_t cp = 0; cp <= live.log.head(); ++cp) {
      ExpectSameRead(live.log, restored, {cn, cp}, 2);
    }
  }
}

TEST(RoomLogTest, RestoreEmptyAndHeadAhead) {
  RoomLog log(5, 5);
  log.Restore({}, 0, {}, 0, 0);
  EXPECT_EQ(log.head(), 0u);
  EXPECT_FALSE(log.HasUnread({0, 0}));

  // Messages older than the window still count for gaps; the head may be past the newest
  // message in memory (e.g. a retracted one), and cursors up to it are valid.
  RoomLog log2(5, 5);
  std::vector<MessagePtr> normal = {Msg(8, false), Msg(9, false)};
  std::vector<MessagePtr> priority = {Msg(7, true)};
  log2.Restore(std::move(normal), 6, std::move(priority), 0, 12);
  EXPECT_EQ(log2.head(), 12u);
  EXPECT_TRUE(log2.Valid({12, 12}));
  EXPECT_FALSE(log2.Valid({13, 12}));
  ReadResult r = log2.Read({0, 0}, 100);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{7, 8, 9}));
  EXPECT_TRUE(r.gap);  // 6 (and older) was skipped
  EXPECT_EQ(r.next, (Cursor{12, 12}));
  r = log2.Read({6, 7}, 100);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{8, 9}));
  EXPECT_FALSE(r.gap);
  log2.Append(Msg(13, false));
  r = log2.Read({12, 12}, 100);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{13}));
  EXPECT_FALSE(r.gap);
}

TEST(RoomLogTest, HasUnreadMatchesRead) {
  Builder b(3, 3);
  for (int i = 0; i < 12; ++i) {
    i % 3 == 0 ? b.Priority() : b.Normal();
    for (uint64_t cn = 0; cn <= b.log.head(); ++cn) {
      for (uint64_t cp = 0; cp <= b.log.head(); ++cp) {
        ReadResult r = b.log.Read({cn, cp}, 1);
        EXPECT_EQ(b.log.HasUnread({cn, cp}), !r.messages.empty() || r.needs_store)
            << cn << "/" << cp << " after " << b.seq;
      }
    }
  }
}

TEST(RoomLogTest, RemoveTakesOneMessageOutOfEitherList) {
  RoomLog log(10, 10);
  for (uint64_t s = 1; s <= 6; ++s) log.Append(Msg(s, s % 3 == 0));  // 3 and 6 priority
  EXPECT_TRUE(log.Remove(2));
  EXPECT_TRUE(log.Remove(3));
  EXPECT_FALSE(log.Remove(3)) << "already gone";
  EXPECT_FALSE(log.Remove(7)) << "past the head";
  EXPECT_FALSE(log.Remove(0));
  EXPECT_EQ(log.head(), 6u);
  EXPECT_EQ(Seqs(log.Read({0, 0}, 100)), (std::vector<uint64_t>{6, 1, 4, 5}));
  EXPECT_EQ(Seqs(log.Backlog(10)), (std::vector<uint64_t>{6, 1, 4, 5}));
  // A cursor past the removed ones reads the same as before.
  EXPECT_EQ(Seqs(log.Read({2, 3}, 100)), (std::vector<uint64_t>{6, 4, 5}));
  EXPECT_FALSE(log.HasUnread({6, 6}));
  EXPECT_TRUE(log.Remove(6));
  EXPECT_FALSE(log.HasUnread({5, 3})) << "only the removed priority message was unread";
}

TEST(RoomLogTest, BytesFollowTheMessagesHeld) {
  RoomLog log(3, 2);
  EXPECT_EQ(log.bytes(), 0u);
  auto sum = [&] {
    size_t n = 0;
    for (const auto* m : log.Backlog(10)) n += RoomLog::MessageBytes(*m);
    return n;
  };
  for (uint64_t s = 1; s <= 12; ++s) {
    log.Append(Msg(s, s % 4 == 0));
    EXPECT_EQ(log.bytes(), sum()) << "after " << s;  // evictions included
  }
  EXPECT_GT(log.bytes(), 5 * (Msg(1, false)->json.size() + Msg(1, false)->proto.size()));
  log.Remove(11);
  EXPECT_EQ(log.bytes(), sum());
  std::vector<MessagePtr> normal{Msg(20, false)}, priority{Msg(21, true)};
  log.Restore(normal, 19, priority, 0, 21);
  EXPECT_EQ(log.bytes(), RoomLog::MessageBytes(*normal[0]) + RoomLog::MessageBytes(*priority[0]));
}

}  // namespace
}  // namespace chatroomd::room
