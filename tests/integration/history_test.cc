// GET /v1/rooms/{room}/messages: history pages from the durable store.
#include <string>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class HistoryTest : public SharedDaemonTest<HistoryTest> {};

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

TEST_F(HistoryTest, UnknownRoomIs404) {
  User u(port(), "alice");
  EXPECT_TRUE(IsError(u.HistoryRaw(UniqueRoom()), 404, "room_not_found"));
}

TEST_F(HistoryTest, EmptyRoom) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  HistoryPage h = u.History(room);
  ASSERT_TRUE(h.ok);
  EXPECT_TRUE(h.messages.empty());
  EXPECT_FALSE(h.next_before.has_value());
  EXPECT_FALSE(h.response.Json().as_object().contains("next_before"));
}

TEST_F(HistoryTest, PagesBackwardsWithNextBefore) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  for (int i = 1; i <= 12; ++i) {
    ASSERT_EQ(u.Say(room, "m" + std::to_string(i), i == 3 || i == 8), static_cast<uint64_t>(i));
  }
  HistoryPage a = u.History(room, std::nullopt, 5);
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(Seqs(a.messages), Range(8, 12));
  EXPECT_EQ(a.next_before, std::optional<uint64_t>(8));
  EXPECT_TRUE(a.messages[0].priority) << "priority messages are part of history";
  EXPECT_EQ(a.messages[0].body, "m8");
  HistoryPage b = u.History(room, 8, 5);
  ASSERT_TRUE(b.ok);
  EXPECT_EQ(Seqs(b.messages), Range(3, 7));
  EXPECT_EQ(b.next_before, std::optional<uint64_t>(3));
  HistoryPage c = u.History(room, 3, 5);
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(Seqs(c.messages), Range(1, 2));
  EXPECT_FALSE(c.next_before.has_value()) << "no next_before at the start";
  // A page that ends exactly at seq 1 has no next_before either.
  HistoryPage d = u.History(room, 6, 5);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(Seqs(d.messages), Range(1, 5));
  EXPECT_FALSE(d.next_before.has_value());
  // before past the head, and before=1.
  HistoryPage e = u.History(room, 1000, 3);
  ASSERT_TRUE(e.ok);
  EXPECT_EQ(Seqs(e.messages), Range(10, 12));
  HistoryPage f = u.History(room, 1, 3);
  ASSERT_TRUE(f.ok);
  EXPECT_TRUE(f.messages.empty());
  EXPECT_FALSE(f.next_before.has_value());
}

TEST_F(HistoryTest, DefaultLimitIs50) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  for (int i = 1; i <= 55; ++i) u.Say(room, "m" + std::to_string(i));
  HistoryPage h = u.History(room);
  ASSERT_TRUE(h.ok);
  EXPECT_EQ(Seqs(h.messages), Range(6, 55));
  EXPECT_EQ(h.next_before, std::optional<uint64_t>(6));
  HistoryPage all = u.History(room, std::nullopt, 200);
  ASSERT_TRUE(all.ok);
  EXPECT_EQ(Seqs(all.messages), Range(1, 55));
  EXPECT_FALSE(all.next_before.has_value());
}

TEST_F(HistoryTest, BadParametersAre400) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  for (const std::string q : {"limit=0", "limit=201", "limit=x", "limit=-1", "limit=1.5",
                              "before=abc", "before=-1", "before=1.5"}) {
    EXPECT_TRUE(IsError(u.HistoryRaw(room, q), 400, "bad_request")) << q;
  }
  for (const std::string q : {"limit=1", "limit=200", "before=5&limit=10"}) {
    EXPECT_EQ(u.HistoryRaw(room, q).status, 200) << q;
  }
}

}  // namespace
}  // namespace chatroomd::it
