#include "chatroomd/common/cursor.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/common/ids.h"

namespace chatroomd {
namespace {

constexpr std::string_view kRoom = "r1";
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Values around every varint length boundary, plus the extremes.
std::vector<uint64_t> InterestingValues() {
  std::vector<uint64_t> v = {0,
                             1,
                             127,
                             128,
                             255,
                             256,
                             16383,
                             16384,
                             1ULL << 32,
                             (1ULL << 32) - 1,
                             1ULL << 63,
                             (1ULL << 63) - 1,
                             std::numeric_limits<uint64_t>::max(),
                             std::numeric_limits<uint64_t>::max() - 1};
  for (int shift = 7; shift < 64; shift += 7) {
    v.push_back((1ULL << shift) - 1);
    v.push_back(1ULL << shift);
  }
  return v;
}

// Fixed seed: a failure names a cursor that can be reproduced.
std::vector<Cursor> SampleCursors() {
  std::vector<Cursor> out;
  std::vector<uint64_t> values = InterestingValues();
  for (uint64_t n : values) {
    for (uint64_t p : values) out.push_back({n, p});
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 500; ++i) {
    // Random magnitudes, so that every varint length shows up, not only 10-byte ones.
    uint64_t n = rng() >> (rng() % 64);
    uint64_t p = rng() >> (rng() % 64);
    out.push_back({n, p});
  }
  return out;
}

bool IsUrlSafe(std::string_view s) {
  for (char c : s) {
    if (kAlphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

void ExpectBadCursor(std::string_view room, std::string_view text) {
  Result<Cursor> r = DecodeCursor(room, text);
  ASSERT_FALSE(r.ok()) << "decoded '" << text << "' to " << r->normal << "/" << r->priority;
  EXPECT_EQ(r.error().code, ErrorCode::kBadCursor);
}

// What a decoded cursor encodes back to, with its time (so a version 2 string as well).
std::string Reencode(std::string_view room, std::string_view text) {
  int64_t not_before = -1;
  Result<Cursor> r = DecodeCursor(room, text, &not_before);
  if (!r.ok()) return "(bad)";
  return EncodeCursor(room, *r, not_before);
}

TEST(CursorTest, RoundTripsEveryValue) {
  for (const Cursor& c : SampleCursors()) {
    std::string text = EncodeCursor(kRoom, c);
    Result<Cursor> back = DecodeCursor(kRoom, text);
    ASSERT_TRUE(back.ok()) << text << " for " << c.normal << "/" << c.priority;
    EXPECT_EQ(*back, c) << text;
  }
}

TEST(CursorTest, EncodingIsCanonical) {
  for (const Cursor& c : SampleCursors()) {
    std::string text = EncodeCursor(kRoom, c);
    Result<Cursor> back = DecodeCursor(kRoom, text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(EncodeCursor(kRoom, *back), text);
    // Encoding is a pure function of (room, cursor).
    EXPECT_EQ(EncodeCursor(kRoom, c), text);
  }
}

TEST(CursorTest, ShortAndUrlSafe) {
  size_t longest = 0;
  for (const Cursor& c : SampleCursors()) {
    std::string text = EncodeCursor(kRoom, c);
    EXPECT_FALSE(text.empty());
    EXPECT_LE(text.size(), kMaxCursorChars) << text;
    EXPECT_TRUE(IsUrlSafe(text)) << text;
    longest = std::max(longest, text.size());
  }
  // The largest cursor is the one with two 10-byte varints.
  uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(longest, EncodeCursor(kRoom, {max, max}).size());
  EXPECT_LE(kMaxCursorChars, 128u);
}

TEST(CursorTest, DifferentValuesGiveDifferentStrings) {
  EXPECT_NE(EncodeCursor(kRoom, {1, 2}), EncodeCursor(kRoom, {2, 1}));
  EXPECT_NE(EncodeCursor(kRoom, {0, 0}), EncodeCursor(kRoom, {0, 1}));
}

TEST(CursorTest, CursorFromAnotherRoomFails) {
  const std::vector<std::string_view> rooms = {
      "r1", "r2", "R1", "r1 ", "lobby", "a", std::string_view("r1\0", 3)};
  std::vector<Cursor> cursors = {
      {0, 0}, {1, 1}, {42, 7}, {1ULL << 40, 3}, {std::numeric_limits<uint64_t>::max(), 0}};
  for (const Cursor& c : cursors) {
    for (std::string_view from : rooms) {
      std::string text = EncodeCursor(from, c);
      for (std::string_view to : rooms) {
        if (from == to) continue;
        SCOPED_TRACE(std::string(from) + " -> " + std::string(to));
        ExpectBadCursor(to, text);
      }
    }
  }
}

TEST(CursorTest, DifferentRoomsGiveDifferentStrings) {
  EXPECT_NE(EncodeCursor("r1", {5, 5}), EncodeCursor("r2", {5, 5}));
}

// Every single-character edit, through the whole alphabet and some bytes outside it: the
// decoder either refuses the string or it decodes to a value whose canonical form is the
// edited string itself (so no two strings ever mean the same cursor).
TEST(CursorTest, SingleCharacterEditsFailOrAreCanonical) {
  std::vector<Cursor> cursors = {
      {0, 0},
      {1, 0},
      {0, 1},
      {127, 128},
      {1000, 5},
      {1ULL << 32, 1ULL << 63},
      {std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint64_t>::max()}};
  std::string others = "=+/.%~ \t\n";
  others += '\0';
  others += '\x80';
  others += '\xff';
  int accepted = 0;
  int tried = 0;
  for (const Cursor& c : cursors) {
    const std::string text = EncodeCursor(kRoom, c);
    for (size_t pos = 0; pos < text.size(); ++pos) {
      for (char ch : std::string(kAlphabet) + others) {
        if (ch == text[pos]) continue;
        std::string edited = text;
        edited[pos] = ch;
        ++tried;
        Result<Cursor> r = DecodeCursor(kRoom, edited);
        if (r.ok()) {
          ++accepted;
          EXPECT_EQ(Reencode(kRoom, edited), edited) << "from " << text;
        } else {
          EXPECT_EQ(r.error().code, ErrorCode::kBadCursor);
        }
      }
    }
  }
  // The 16-bit check makes an accepted edit a rare accident, not a pattern.
  EXPECT_LT(accepted, tried / 1000 + 1) << accepted << " of " << tried;
}

TEST(CursorTest, InsertionsAndDeletionsFailOrAreCanonical) {
  for (const Cursor& c : std::vector<Cursor>{{0, 0}, {300, 2}, {1ULL << 50, 1ULL << 20}}) {
    const std::string text = EncodeCursor(kRoom, c);
    for (size_t pos = 0; pos <= text.size(); ++pos) {
      std::string inserted = text;
      inserted.insert(pos, 1, 'A');
      Result<Cursor> r = DecodeCursor(kRoom, inserted);
      if (r.ok()) {
        EXPECT_EQ(Reencode(kRoom, inserted), inserted);
      }
      if (pos < text.size()) {
        std::string deleted = text;
        deleted.erase(pos, 1);
        Result<Cursor> d = DecodeCursor(kRoom, deleted);
        if (d.ok()) {
          EXPECT_EQ(Reencode(kRoom, deleted), deleted);
        }
      }
    }
  }
}

TEST(CursorTest, TruncationsFail) {
  for (const Cursor& c : SampleCursors()) {
    const std::string text = EncodeCursor(kRoom, c);
    for (size_t len = 0; len < text.size(); ++len) {
      SCOPED_TRACE(text + " truncated to " + std::to_string(len));
      ExpectBadCursor(kRoom, std::string_view(text).substr(0, len));
      ExpectBadCursor(kRoom, std::string_view(text).substr(text.size() - len));
    }
  }
}

TEST(CursorTest, GarbageIsBadCursor) {
  std::vector<std::string> garbage = {
      "",
      "=",
      "==",
      "%%",
      "%41%41%41%41",
      "A",
      "AA",
      "AAAA",
      "AAAAAAAA",
      "AQAAAAA=",
      std::string(200, 'A'),
      std::string(200, '_'),
      std::string(129, 'a'),
      std::string(33, 'A'),
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
      "\xff\xfe\xfd\xfc\xfb\xfa",
      std::string("AQ\0AAA", 6),
      "AQ AA",
      "AQ+AA/",
  };
  // A valid cursor with padding, or with a character outside the URL-safe alphabet.
  std::string valid = EncodeCursor(kRoom, {10, 20});
  garbage.push_back(valid + "=");
  garbage.push_back(valid + "==");
  garbage.push_back(" " + valid);
  garbage.push_back(valid + "\n");
  garbage.push_back(valid + valid);
  for (const std::string& g : garbage) {
    SCOPED_TRACE(g);
    ExpectBadCursor(kRoom, g);
  }
}

TEST(CursorTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(7);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    size_t len = rng() % 48;
    std::string s(len, '\0');
    // Half the strings use only the cursor alphabet, so they get past the character check.
    bool alphabet_only = i % 2 == 0;
    for (char& ch : s) {
      ch = alphabet_only ? kAlphabet[rng() % kAlphabet.size()] : static_cast<char>(rng());
    }
    Result<Cursor> r = DecodeCursor(kRoom, s);
    if (r.ok()) {
      ++accepted;
      EXPECT_EQ(Reencode(kRoom, s), s);
    } else {
      EXPECT_EQ(r.error().code, ErrorCode::kBadCursor);
    }
  }
  EXPECT_LE(accepted, 2);
}

TEST(CursorTest, ArbitraryRoomIdsWork) {
  std::string long_room(128, 'x');
  for (std::string_view room :
       {std::string_view("a"), std::string_view(long_room), std::string_view("a.b:c-d_e")}) {
    Cursor c{123456789, 987654321};
    std::string text = EncodeCursor(room, c);
    Result<Cursor> back = DecodeCursor(room, text);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, c);
  }
}

// ---------------------------------------------------------------------------------------------
// Version 2: the cursor carries the time before which the next poll is held (adaptive tiers).

// Times around the varint boundaries, today's epoch milliseconds, and the extremes.
std::vector<int64_t> SampleTimes() {
  std::vector<int64_t> t = {1,
                            127,
                            128,
                            16384,
                            1763900000000,
                            1763900001500,
                            4102444800000,  // 2100-01-01
                            std::numeric_limits<int64_t>::max() - 1,
                            std::numeric_limits<int64_t>::max()};
  for (int shift = 7; shift < 63; shift += 7) {
    t.push_back((int64_t{1} << shift) - 1);
    t.push_back(int64_t{1} << shift);
  }
  return t;
}

// A string in the cursor's alphabet for `body` (version byte and varints) with the room's check
// appended, as EncodeCursor would write it: for cursors EncodeCursor never writes.
std::string Craft(std::string_view room, std::vector<uint8_t> body) {
  uint16_t check =
      static_cast<uint16_t>(XXH3_64bits_withSeed(body.data(), body.size(), RoomHash(room)));
  body.push_back(static_cast<uint8_t>(check));
  body.push_back(static_cast<uint8_t>(check >> 8));
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : body) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

void PutVarint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

TEST(CursorTimeTest, WithoutATimeTheCursorIsVersionOneAsBefore) {
  for (const Cursor& c : SampleCursors()) {
    const std::string plain = EncodeCursor(kRoom, c);
    EXPECT_EQ(EncodeCursor(kRoom, c, 0), plain);
    EXPECT_EQ(EncodeCursor(kRoom, c, -5), plain);  // no time, not a time before the epoch
    int64_t not_before = -1;
    Result<Cursor> back = DecodeCursor(kRoom, plain, &not_before);
    ASSERT_TRUE(back.ok()) << plain;
    EXPECT_EQ(*back, c);
    EXPECT_EQ(not_before, 0) << plain;
  }
  // Pinned bytes: the cursors clients hold across an upgrade still decode, and tiers off
  // changes nothing on the wire.
  std::vector<uint8_t> body = {0x01};
  PutVarint(body, 300);
  PutVarint(body, 7);
  EXPECT_EQ(EncodeCursor(kRoom, {300, 7}), Craft(kRoom, body));
}

TEST(CursorTimeTest, RoundTripsEveryValueWithItsTime) {
  std::vector<Cursor> cursors = {{0, 0}, {1, 0}, {0, 1}, {127, 128}, {1ULL << 40, 5}};
  cursors.push_back({std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint64_t>::max()});
  for (const Cursor& c : cursors) {
    for (int64_t t : SampleTimes()) {
      const std::string text = EncodeCursor(kRoom, c, t);
      EXPECT_NE(text, EncodeCursor(kRoom, c)) << "the time is in the string";
      EXPECT_LE(text.size(), kMaxCursorChars);
      EXPECT_TRUE(IsUrlSafe(text)) << text;
      int64_t not_before = 0;
      Result<Cursor> back = DecodeCursor(kRoom, text, &not_before);
      ASSERT_TRUE(back.ok()) << text << " for " << c.normal << "/" << c.priority << " at " << t;
      EXPECT_EQ(*back, c) << text;
      EXPECT_EQ(not_before, t) << text;
      EXPECT_EQ(EncodeCursor(kRoom, *back, not_before), text) << "canonical";
      // A caller that does not ask for the time still gets the cursor.
      Result<Cursor> no_time = DecodeCursor(kRoom, text);
      ASSERT_TRUE(no_time.ok());
      EXPECT_EQ(*no_time, c);
    }
  }
  EXPECT_NE(EncodeCursor(kRoom, {5, 5}, 1000), EncodeCursor(kRoom, {5, 5}, 1001));
}

TEST(CursorTimeTest, TheLongestCursorFitsTheApisLimit) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  const std::string longest = EncodeCursor(kRoom, {max, max}, std::numeric_limits<int64_t>::max());
  EXPECT_LE(longest.size(), kMaxCursorChars);
  EXPECT_EQ(longest.size(), 43u);  // 1 + 10 + 10 + 9 + 2 bytes in base64
  Result<Cursor> back = DecodeCursor(kRoom, longest);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, (Cursor{max, max}));
}

TEST(CursorTimeTest, NonCanonicalOrMalformedVersionTwoIsBadCursor) {
  auto v2 = [](uint64_t n, uint64_t p) {
    std::vector<uint8_t> b = {0x02};
    PutVarint(b, n);
    PutVarint(b, p);
    return b;
  };
  // The helper writes what EncodeCursor writes.
  std::vector<uint8_t> good = v2(10, 20);
  PutVarint(good, 1763900000000);
  ASSERT_EQ(Craft(kRoom, good), EncodeCursor(kRoom, {10, 20}, 1763900000000));

  std::vector<std::pair<std::string, std::vector<uint8_t>>> bad;
  {
    auto b = v2(10, 20);
    b.push_back(0x00);  // a time of 0 is version 1's to say
    bad.emplace_back("time 0", b);
  }
  {
    auto b = v2(10, 20);
    b.insert(b.end(), {0x81, 0x00});  // 1, overlong
    bad.emplace_back("overlong time", b);
  }
  {
    auto b = v2(10, 20);
    PutVarint(b, uint64_t{1} << 63);  // past int64
    bad.emplace_back("time past int64", b);
  }
  {
    auto b = v2(10, 20);
    PutVarint(b, std::numeric_limits<uint64_t>::max());
    bad.emplace_back("time uint64 max", b);
  }
  bad.emplace_back("no time", v2(10, 20));
  {
    auto b = v2(10, 20);
    PutVarint(b, 1000);
    b.push_back(0x01);
    bad.emplace_back("trailing byte", b);
  }
  {
    std::vector<uint8_t> b = {0x02, 0x8A, 0x00, 20};  // normal 10, overlong
    PutVarint(b, 1000);
    bad.emplace_back("overlong normal", b);
  }
  {
    std::vector<uint8_t> b = {0x01, 10, 20};
    PutVarint(b, 1000);
    bad.emplace_back("version 1 with a time", b);
  }
  {
    auto b = v2(10, 20);
    b[0] = 0x03;
    PutVarint(b, 1000);
    bad.emplace_back("version 3", b);
  }
  {
    auto b = v2(10, 20);
    for (int i = 0; i < 11; ++i) b.push_back(0x80);  // an unterminated, too-long varint
    b.push_back(0x01);
    bad.emplace_back("eleven-byte time", b);
  }
  for (const auto& [why, body] : bad) {
    SCOPED_TRACE(why);
    ExpectBadCursor(kRoom, Craft(kRoom, body));
  }
}

TEST(CursorTimeTest, VersionTwoFromAnotherRoomOrEditedFails) {
  const std::string text = EncodeCursor("r1", {42, 7}, 1763900000000);
  ExpectBadCursor("r2", text);
  for (size_t len = 0; len < text.size(); ++len) {
    SCOPED_TRACE(len);
    ExpectBadCursor(kRoom, std::string_view(text).substr(0, len));
  }
  int accepted = 0, tried = 0;
  for (size_t pos = 0; pos < text.size(); ++pos) {
    for (char ch : kAlphabet) {
      if (ch == text[pos]) continue;
      std::string edited = text;
      edited[pos] = ch;
      ++tried;
      if (DecodeCursor(kRoom, edited).ok()) {
        ++accepted;
        EXPECT_EQ(Reencode(kRoom, edited), edited);
      }
    }
  }
  EXPECT_LT(accepted, tried / 1000 + 1) << accepted << " of " << tried;
}

}  // namespace
}  // namespace chatroomd
