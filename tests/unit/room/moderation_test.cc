#include "room/moderation.h"

#include <gtest/gtest.h>

namespace chatroomd::room {
namespace {

constexpr char kMute = store::ModerationRecord::kMuted;
constexpr char kKick = store::ModerationRecord::kKicked;

TEST(ModerationTest, EntriesHoldUntilTheirEnd) {
  Moderation m;
  EXPECT_FALSE(m.any_muted());
  m.Set(kMute, "bob", 2000, 1000);
  m.Set(kKick, "carol", 5000, 1000);
  EXPECT_TRUE(m.any_muted());
  EXPECT_TRUE(m.any_kicked());
  EXPECT_EQ(m.MutedUntil("bob", 1999), 2000);
  EXPECT_FALSE(m.MutedUntil("bob", 2000)) << "over at its end";
  EXPECT_FALSE(m.KickedUntil("bob", 1000)) << "a mute is not a kick";
  EXPECT_FALSE(m.MutedUntil("carol", 1000));
  EXPECT_EQ(m.KickedUntil("carol", 1000), 5000);
  m.Prune(3000);
  EXPECT_FALSE(m.any_muted());
  EXPECT_TRUE(m.any_kicked());
}

TEST(ModerationTest, AnEndInThePastLiftsAndALaterSetReplaces) {
  Moderation m;
  m.Set(kMute, "bob", 9000, 1000);
  m.Set(kMute, "bob", 4000, 1000);
  EXPECT_EQ(m.MutedUntil("bob", 1000), 4000);
  m.Set(kMute, "bob", 0, 1000);
  EXPECT_FALSE(m.MutedUntil("bob", 1000));
  EXPECT_FALSE(m.any_muted());
}

TEST(ModerationTest, HasRoomCountsOnlyEntriesInForce) {
  Moderation m;
  m.Set(kMute, "a", 2000, 0);
  m.Set(kMute, "b", 9000, 0);
  EXPECT_FALSE(m.HasRoom(kMute, "c", 1000, 2));
  EXPECT_TRUE(m.HasRoom(kMute, "b", 1000, 2)) << "a new end for one already muted";
  EXPECT_TRUE(m.HasRoom(kKick, "c", 1000, 2)) << "kicks are counted apart";
  EXPECT_TRUE(m.HasRoom(kMute, "c", 2000, 2)) << "a's mute is over";
}

TEST(ModerationTest, RestoreKeepsWhatIsStillInForce) {
  Moderation m;
  m.Restore({{"r", kMute, "bob", 5000}, {"r", kKick, "eve", 500}, {"r", kKick, "dan", 7000}}, 1000);
  EXPECT_EQ(m.MutedUntil("bob", 1000), 5000);
  EXPECT_FALSE(m.KickedUntil("eve", 1000));
  EXPECT_EQ(m.KickedUntil("dan", 1000), 7000);
}

}  // namespace
}  // namespace chatroomd::room
