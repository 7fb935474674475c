// The poll cursor: encoded for every answer, decoded for every poll (and for every garbage
// cursor a client sends, which must fail fast).
#include <benchmark/benchmark.h>

#include "chatroomd/common/cursor.h"
#include "fixtures.h"

namespace chatroomd::bench {
namespace {

constexpr Cursor kSample{.normal = 48213377, .priority = 48213301};

void BM_EncodeCursor(benchmark::State& state) {
  Cursor c = kSample;
  for (auto _ : state) {
    benchmark::DoNotOptimize(c);
    std::string s = EncodeCursor(kRoom, c);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_EncodeCursor);

void BM_DecodeCursor(benchmark::State& state) {
  const std::string text = EncodeCursor(kRoom, kSample);
  for (auto _ : state) {
    auto r = DecodeCursor(kRoom, text);
    benchmark::DoNotOptimize(r);
  }
  if (!DecodeCursor(kRoom, text).ok()) state.SkipWithError("valid cursor did not decode");
}
BENCHMARK(BM_DecodeCursor);

// range(0): 0 a well-formed string whose check fails (another room's cursor: the longest
// path), 1 a bad character early, 2 longer than any cursor.
void BM_DecodeCursorGarbage(benchmark::State& state) {
  std::string text;
  switch (state.range(0)) {
    case 0:
      text = EncodeCursor("another-room", kSample);
      state.SetLabel("other_room");
      break;
    case 1:
      text = "ab$cdefgh";
      state.SetLabel("bad_char");
      break;
    default:
      text = std::string(200, 'A');
      state.SetLabel("too_long");
      break;
  }
  for (auto _ : state) {
    auto r = DecodeCursor(kRoom, text);
    benchmark::DoNotOptimize(r);
  }
  if (DecodeCursor(kRoom, text).ok()) state.SkipWithError("garbage decoded");
}
BENCHMARK(BM_DecodeCursorGarbage)->ArgName("kind")->DenseRange(0, 2);

}  // namespace
}  // namespace chatroomd::bench
