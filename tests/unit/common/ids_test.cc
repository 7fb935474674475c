#include "chatroomd/common/ids.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace chatroomd {
namespace {

bool IsAsciiAlnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The character classes from docs/api.md, written out independently of the code.
bool RoomChar(unsigned char c) {
  return IsAsciiAlnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
}
bool UserChar(unsigned char c) { return RoomChar(c) || c == '@'; }
bool TypeChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

// --- room ids: [A-Za-z0-9_.:-]{1,128} ---------------------------------------------------

TEST(IdsTest, RoomIdLength) {
  EXPECT_FALSE(IsValidRoomId(""));
  EXPECT_TRUE(IsValidRoomId("a"));
  EXPECT_TRUE(IsValidRoomId(std::string(127, 'a')));
  EXPECT_TRUE(IsValidRoomId(std::string(128, 'a')));
  EXPECT_FALSE(IsValidRoomId(std::string(129, 'a')));
  EXPECT_FALSE(IsValidRoomId(std::string(1000, 'a')));
}

TEST(IdsTest, RoomIdCharacterClasses) {
  EXPECT_TRUE(IsValidRoomId("abcxyz"));
  EXPECT_TRUE(IsValidRoomId("ABCXYZ"));
  EXPECT_TRUE(IsValidRoomId("0123456789"));
  EXPECT_TRUE(IsValidRoomId("_"));
  EXPECT_TRUE(IsValidRoomId("."));
  EXPECT_TRUE(IsValidRoomId(":"));
  EXPECT_TRUE(IsValidRoomId("-"));
  EXPECT_TRUE(IsValidRoomId("live:room-42_a.b"));
  EXPECT_FALSE(IsValidRoomId("a@b"));  // allowed in user ids only
  EXPECT_FALSE(IsValidRoomId("a/b"));
  EXPECT_FALSE(IsValidRoomId("a b"));
  EXPECT_FALSE(IsValidRoomId("a%20b"));
  EXPECT_FALSE(IsValidRoomId("caf\xc3\xa9"));
  EXPECT_FALSE(IsValidRoomId(std::string_view("a\0b", 3)));
}

TEST(IdsTest, RoomIdEveryByte) {
  for (int b = 0; b < 256; ++b) {
    auto c = static_cast<unsigned char>(b);
    std::string one(1, static_cast<char>(c));
    std::string mid = "a" + one + "b";
    EXPECT_EQ(IsValidRoomId(one), RoomChar(c)) << "byte " << b;
    EXPECT_EQ(IsValidRoomId(mid), RoomChar(c)) << "byte " << b;
    // A bad byte at the length limit is still caught (the last position is checked).
    std::string at_end = std::string(127, 'a') + one;
    EXPECT_EQ(IsValidRoomId(at_end), RoomChar(c)) << "byte " << b;
  }
}

// --- user ids: [A-Za-z0-9_.:@-]{1,64} ---------------------------------------------------

TEST(IdsTest, UserIdLength) {
  EXPECT_FALSE(IsValidUserId(""));
  EXPECT_TRUE(IsValidUserId("a"));
  EXPECT_TRUE(IsValidUserId(std::string(63, 'u')));
  EXPECT_TRUE(IsValidUserId(std::string(64, 'u')));
  EXPECT_FALSE(IsValidUserId(std::string(65, 'u')));
  EXPECT_FALSE(IsValidUserId(std::string(128, 'u')));
}

TEST(IdsTest, UserIdCharacterClasses) {
  EXPECT_TRUE(IsValidUserId("alice"));
  EXPECT_TRUE(IsValidUserId("ALICE"));
  EXPECT_TRUE(IsValidUserId("007"));
  EXPECT_TRUE(IsValidUserId("alice@example.com"));
  EXPECT_TRUE(IsValidUserId("user:1_a-b.c@d"));
  EXPECT_FALSE(IsValidUserId("alice bob"));
  EXPECT_FALSE(IsValidUserId("alice/bob"));
  EXPECT_FALSE(IsValidUserId("alice+bob"));
  EXPECT_FALSE(IsValidUserId("\xe7\x94\xa8\xe6\x88\xb7"));
}

TEST(IdsTest, UserIdEveryByte) {
  for (int b = 0; b < 256; ++b) {
    auto c = static_cast<unsigned char>(b);
    std::string one(1, static_cast<char>(c));
    EXPECT_EQ(IsValidUserId(one), UserChar(c)) << "byte " << b;
    EXPECT_EQ(IsValidUserId("u" + one + "v"), UserChar(c)) << "byte " << b;
    EXPECT_EQ(IsValidUserId(std::string(63, 'u') + one), UserChar(c)) << "byte " << b;
  }
}

// --- message types: [a-z0-9_.-]{1,32} --------------------------------------------------

TEST(IdsTest, MessageTypeLength) {
  EXPECT_FALSE(IsValidMessageType(""));
  EXPECT_TRUE(IsValidMessageType("t"));
  EXPECT_TRUE(IsValidMessageType(std::string(31, 't')));
  EXPECT_TRUE(IsValidMessageType(std::string(32, 't')));
  EXPECT_FALSE(IsValidMessageType(std::string(33, 't')));
}

TEST(IdsTest, MessageTypeCharacterClasses) {
  EXPECT_TRUE(IsValidMessageType("text"));
  EXPECT_TRUE(IsValidMessageType("retract"));
  EXPECT_TRUE(IsValidMessageType("gift.big_1-x"));
  EXPECT_TRUE(IsValidMessageType("0123456789"));
  EXPECT_FALSE(IsValidMessageType("Text"));  // lowercase only
  EXPECT_FALSE(IsValidMessageType("TEXT"));
  EXPECT_FALSE(IsValidMessageType("a:b"));  // ':' is for ids, not types
  EXPECT_FALSE(IsValidMessageType("a@b"));
  EXPECT_FALSE(IsValidMessageType("a b"));
  EXPECT_FALSE(IsValidMessageType("a/b"));
}

TEST(IdsTest, MessageTypeEveryByte) {
  for (int b = 0; b < 256; ++b) {
    auto c = static_cast<unsigned char>(b);
    std::string one(1, static_cast<char>(c));
    EXPECT_EQ(IsValidMessageType(one), TypeChar(c)) << "byte " << b;
    EXPECT_EQ(IsValidMessageType("t" + one + "t"), TypeChar(c)) << "byte " << b;
    EXPECT_EQ(IsValidMessageType(std::string(31, 't') + one), TypeChar(c)) << "byte " << b;
  }
}

// --- UTF-8 --------------------------------------------------------------------------------

TEST(IdsTest, Utf8Valid) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("hello, world"));
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3)));  // U+0000 is a character
  EXPECT_TRUE(IsValidUtf8("\x7f"));
  EXPECT_TRUE(IsValidUtf8("\xc2\x80"));                  // U+0080, smallest 2-byte
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));               // é
  EXPECT_TRUE(IsValidUtf8("\xdf\xbf"));                  // U+07FF, largest 2-byte
  EXPECT_TRUE(IsValidUtf8("\xe0\xa0\x80"));              // U+0800, smallest 3-byte
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));              // €
  EXPECT_TRUE(IsValidUtf8("\xe4\xbd\xa0\xe5\xa5\xbd"));  // 你好
  EXPECT_TRUE(IsValidUtf8("\xed\x9f\xbf"));              // U+D7FF, just below the surrogates
  EXPECT_TRUE(IsValidUtf8("\xee\x80\x80"));              // U+E000, just above the surrogates
  EXPECT_TRUE(IsValidUtf8("\xef\xbf\xbf"));              // U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xf0\x90\x80\x80"));          // U+10000, smallest 4-byte
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));          // 😀
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));          // U+10FFFF, the last code point
  EXPECT_TRUE(IsValidUtf8("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"));
}

TEST(IdsTest, Utf8Overlongs) {
  EXPECT_FALSE(IsValidUtf8("\xc0\x80"));      // U+0000 in two bytes
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // '/' in two bytes
  EXPECT_FALSE(IsValidUtf8("\xc1\xbf"));      // U+007F in two bytes
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\x80"));  // U+0000 in three bytes
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));
  EXPECT_FALSE(IsValidUtf8("\xe0\x9f\xbf"));      // U+07FF in three bytes
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\x80"));  // U+0000 in four bytes
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\xaf"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x8f\xbf\xbf"));  // U+FFFF in four bytes
}

TEST(IdsTest, Utf8Surrogates) {
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));              // U+D800
  EXPECT_FALSE(IsValidUtf8("\xed\xad\xbf"));              // U+DB7F
  EXPECT_FALSE(IsValidUtf8("\xed\xb0\x80"));              // U+DC00
  EXPECT_FALSE(IsValidUtf8("\xed\xbf\xbf"));              // U+DFFF
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\xbd\xed\xb8\x80"));  // a CESU-8 surrogate pair
}

TEST(IdsTest, Utf8BeyondUnicode) {
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xf4\xbf\xbf\xbf"));
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xf7\xbf\xbf\xbf"));          // U+1FFFFF
  EXPECT_FALSE(IsValidUtf8("\xf8\x88\x80\x80\x80"));      // old 5-byte form
  EXPECT_FALSE(IsValidUtf8("\xfc\x84\x80\x80\x80\x80"));  // old 6-byte form
  EXPECT_FALSE(IsValidUtf8("\xfe"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(IdsTest, Utf8TruncatedAndStray) {
  EXPECT_FALSE(IsValidUtf8("\xc3"));
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xe2"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f\x98"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f"));
  EXPECT_FALSE(IsValidUtf8("\xf0"));
  // Cut short by an ASCII byte rather than by the end of the string.
  EXPECT_FALSE(
      IsValidUtf8("\xc3"
                  "a"));
  EXPECT_FALSE(
      IsValidUtf8("\xe2\x82"
                  "a"));
  EXPECT_FALSE(
      IsValidUtf8("\xf0\x9f\x98"
                  "a"));
  EXPECT_FALSE(IsValidUtf8("abc\xe2\x82"));
  // Continuation bytes with no lead byte.
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xbf"));
  EXPECT_FALSE(IsValidUtf8("a\x80z"));
  EXPECT_FALSE(IsValidUtf8("\xc3\xa9\xa9"));  // one continuation too many
  // A lead byte where a continuation was expected.
  EXPECT_FALSE(IsValidUtf8("\xe2\xc3\xa9"));
}

// Every 2-byte sequence, checked against the definition.
TEST(IdsTest, Utf8EveryTwoByteSequence) {
  for (int a = 0x80; a < 0x100; ++a) {
    for (int b = 0; b < 0x100; ++b) {
      char s[2] = {static_cast<char>(a), static_cast<char>(b)};
      bool expected = a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf;
      EXPECT_EQ(IsValidUtf8(std::string_view(s, 2)), expected) << std::hex << a << " " << b;
    }
  }
}

// --- RoomHash -----------------------------------------------------------------------------

TEST(IdsTest, RoomHashIsXxh3WithSeedZero) {
  for (std::string_view id : {"r1", "lobby", "a", "live:room-42_a.b"}) {
    EXPECT_EQ(RoomHash(id), XXH3_64bits(id.data(), id.size())) << id;
    EXPECT_EQ(RoomHash(id), XXH3_64bits_withSeed(id.data(), id.size(), 0)) << id;
  }
}

// Sect ranges are written against these values: they must never change.
TEST(IdsTest, RoomHashIsPinned) {
  EXPECT_EQ(RoomHash("r1"), 0xc082ff223c116753ULL);
  EXPECT_EQ(RoomHash(""), 0x2d06800538d394c2ULL);
  EXPECT_EQ(RoomHash("r1"), RoomHash(std::string("r1")));
  EXPECT_NE(RoomHash("r1"), RoomHash("r2"));
}

// Stored unique-viewer counters are built from it: pinned, and unlike the room hash.
TEST(IdsTest, UserHashIsPinnedAndSeededApart) {
  EXPECT_EQ(UserHash("alice"), 0xd4b1e197442e4911ULL);
  EXPECT_EQ(UserHash(""), 0x66b287a664bbf588ULL);
  EXPECT_NE(UserHash("r1"), RoomHash("r1"));
  EXPECT_NE(UserHash("alice"), UserHash("bob"));
}

}  // namespace
}  // namespace chatroomd
