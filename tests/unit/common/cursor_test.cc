#include "chatroomd/common/cursor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

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
          EXPECT_EQ(EncodeCursor(kRoom, *r), edited) << "from " << text;
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
        EXPECT_EQ(EncodeCursor(kRoom, *r), inserted);
      }
      if (pos < text.size()) {
        std::string deleted = text;
        deleted.erase(pos, 1);
        Result<Cursor> d = DecodeCursor(kRoom, deleted);
        if (d.ok()) {
          EXPECT_EQ(EncodeCursor(kRoom, *d), deleted);
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
      EXPECT_EQ(EncodeCursor(kRoom, *r), s);
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

}  // namespace
}  // namespace chatroomd
