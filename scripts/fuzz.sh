#!/usr/bin/env bash
# Runs every libFuzzer target of a CHATROOMD_FUZZ build for a while each, starting from its seed
# corpus in fuzz/corpus/<name>/ (copied to a scratch directory: the repository is not changed).
# Exits non-zero when a target finds a crash, a leak or undefined behaviour; the reproducer is
# left in the scratch directory, whose path is printed.
#
#   scripts/fuzz.sh BUILD_DIR [SECONDS_EACH (30)] [-- extra libFuzzer flags, e.g. -runs=10000000]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/fuzz.sh BUILD_DIR [SECONDS_EACH] [-- libFuzzer flags]}
shift
seconds=30
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  seconds=$1
  shift
fi
[ "${1:-}" = "--" ] && shift
scratch=$(mktemp -d "${TMPDIR:-/tmp}/chatroomd-fuzz.XXXXXX")
status=0
for corpus in fuzz/corpus/*/; do
  name=$(basename "$corpus")
  target=$(realpath -m "$build/fuzz/fuzz_$name")
  [ -x "$target" ] || { echo "fuzz.sh: $target is missing (build with -DCHATROOMD_FUZZ=ON)" >&2; exit 2; }
  mkdir -p "$scratch/$name/corpus" "$scratch/$name/artifacts"
  cp "$corpus"* "$scratch/$name/corpus/" 2>/dev/null || true
  echo "== fuzz_$name: ${seconds}s from $(ls "$scratch/$name/corpus" | wc -l) seeds"
  if ! (cd "$scratch/$name" &&
        "$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
          -rss_limit_mb=2048 -artifact_prefix=artifacts/ "$@" corpus \
          > log.txt 2>&1); then
    echo "fuzz_$name FAILED; log and reproducer in $scratch/$name" >&2
    tail -40 "$scratch/$name/log.txt" >&2
    status=1
    continue
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov:" "$scratch/$name/log.txt" |
    tail -3 | sed 's/^/   /'
done
[ $status -eq 0 ] && rm -rf "$scratch"
exit $status
