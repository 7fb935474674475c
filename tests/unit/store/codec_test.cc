#include "store/codec.h"

#include <gtest/gtest.h>

namespace chatroomd::store {
namespace {

TEST(CodecTest, MessageKeysSortBySeqWithinTheRoomRange) {
  EXPECT_LT(MessageKey("r", 1), MessageKey("r", 2));
  EXPECT_LT(MessageKey("r", 255), MessageKey("r", 256));
  EXPECT_LT(MessageKey("r", 0xffffffff), MessageKey("r", 0x100000000));
  EXPECT_LE(RoomKeysBegin("r"), MessageKey("r", 0));
  EXPECT_LT(MessageKey("r", UINT64_MAX), RoomKeysEnd("r"));
  // A room whose id extends ours sorts outside our range.
  EXPECT_GE(MessageKey("r.x", 0), RoomKeysEnd("r"));
  EXPECT_GE(MessageKey("r0", 0), RoomKeysEnd("r"));
  EXPECT_EQ(MessageKeySeq(MessageKey("room", 123456789), 4), 123456789u);
  EXPECT_EQ(MessageKeySeq(MessageKey("room", 1), 3), std::nullopt);
}

TEST(CodecTest, ValuesRoundTrip) {
  std::string ts;
  AppendTs(&ts, -5);
  EXPECT_EQ(ReadTs(ts), -5);
  EXPECT_EQ(ReadTs("short"), std::nullopt);

  MessageRecord m{.seq = 7,
                  .priority = true,
                  .sender = "s",
                  .type = "t",
                  .body = "b",
                  .ts_ms = 99,
                  .client_msg_id = "c"};
  std::string value = EncodeMessageValue(1234, m);
  EXPECT_EQ(ReadTs(value), 1234);
  auto decoded = DecodeMessageValue(value);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->seq, 7u);
  EXPECT_TRUE(decoded->priority);
  EXPECT_EQ(decoded->body, "b");
  EXPECT_EQ(decoded->ts_ms, 1234);  // the stored time is the one that counts
  EXPECT_EQ(decoded->client_msg_id, "c");
  EXPECT_FALSE(DecodeMessageValue(std::string(8, '\0') + "\xff\xff").ok());

  for (uint64_t seq : {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{1} << 40, UINT64_MAX}) {
    auto entry = DecodeDedupValue(EncodeDedupValue(42, seq));
    ASSERT_TRUE(entry.has_value()) << seq;
    EXPECT_EQ(entry->ts_ms, 42);
    EXPECT_EQ(entry->seq, seq);
  }
  EXPECT_EQ(DecodeDedupValue(std::string(8, '\0') + "\x80"), std::nullopt);
}

TEST(CodecTest, ExpiryRule) {
  EXPECT_FALSE(IsExpired(1000, 2000, 1000));  // exactly the ttl old: kept
  EXPECT_TRUE(IsExpired(999, 2000, 1000));
  EXPECT_FALSE(IsExpired(0, 1'000'000, 0));  // no ttl: kept forever
}

TEST(CodecTest, CounterKeysAndTheirKeepTimes) {
  constexpr int64_t kHour = 3600LL * 1000, kDay = 24 * kHour;
  const std::string day = CounterKeyBytes("room", {'d', 20000});
  const std::string hour = CounterKeyBytes("room", {'h', 480000});
  EXPECT_EQ(day.size(), std::string("room").size() + 6);
  EXPECT_EQ(day.substr(0, 5), std::string("room\0", 5));
  EXPECT_LT(CounterKeyBytes("room", {'d', 255}), CounterKeyBytes("room", {'d', 256}))
      << "periods sort in time order";
  // A day is kept for day_keep_days after it ends.
  EXPECT_FALSE(IsCounterExpired(day, (20000 + 1 + 400) * kDay, 400));
  EXPECT_TRUE(IsCounterExpired(day, (20000 + 1 + 400) * kDay + 1, 400));
  EXPECT_FALSE(IsCounterExpired(day, int64_t{1} << 60, 0)) << "0 keeps days forever";
  // An hour for two days after it ends.
  EXPECT_FALSE(IsCounterExpired(hour, (480000 + 1) * kHour + 48 * kHour, 400));
  EXPECT_TRUE(IsCounterExpired(hour, (480000 + 1) * kHour + 48 * kHour + 1, 400));
  // Keys that are not counters' are kept.
  EXPECT_FALSE(IsCounterExpired("x", int64_t{1} << 60, 1));
  EXPECT_FALSE(IsCounterExpired(MessageKey("room", 7), int64_t{1} << 60, 1));
}

TEST(CodecTest, ModerationKeysAndTheirEnd) {
  const std::string key = ModerationKey("room", ModerationRecord::kKicked, "bob");
  EXPECT_EQ(key, std::string("room\0kbob", 9));
  auto parts = ParseModerationKey(key, 4);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->kind, 'k');
  EXPECT_EQ(parts->user, "bob");
  EXPECT_EQ(ParseModerationKey(key, 3), std::nullopt) << "another room's length";
  EXPECT_EQ(ParseModerationKey("room", 4), std::nullopt) << "no kind";
  // Within the room's range; a room whose id extends ours sorts outside it.
  EXPECT_LE(RoomKeysBegin("a"), ModerationKey("a", 'm', ""));
  EXPECT_LT(ModerationKey("a", 'm', "\xff\xff"), RoomKeysEnd("a"));
  EXPECT_GE(ModerationKey("a:b", 'm', "bob"), RoomKeysEnd("a"));
  // In force while until_ms > now.
  EXPECT_FALSE(IsModerationOver(1001, 1000));
  EXPECT_TRUE(IsModerationOver(1000, 1000));
  EXPECT_TRUE(IsModerationOver(0, 1000));
}

}  // namespace
}  // namespace chatroomd::store
