#!/usr/bin/env bash
# The benchmark's smoke run, for ctest (label bench):
#   bench/smoke.sh CHATROOMD CRLOAD FLOOR_SERVER
# A few hundred pollers for a few seconds against chatroomd, Nchan (installed by
# bench/nchan/start.sh from apt if missing: it fails loudly if it cannot be) and the floor,
# through bench/run.sh --smoke. Asserts, from crload's JSON, that every run delivered
# something with zero lost and zero duplicated messages. Never asserts a timing.
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: smoke.sh CHATROOMD CRLOAD FLOOR_SERVER" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jsonl=$(mktemp /tmp/chatroomd-bench-smoke.XXXXXX)
trap 'rm -f "$jsonl"' EXIT

rc=0
BENCH_JSONL=$jsonl "$here/run.sh" --smoke --no-build --chatroomd "$1" --crload "$2" \
  --floor-server "$3" || rc=$?

field() {  # field KEY JSON: a top-level number (crload's JSON is flat where it matters here)
  sed -n "s/.*\"$1\":[[:space:]]*\\(-\\?[0-9.eE+]*\\).*/\\1/p" <<< "$2" | head -1
}
passed=0 failed=0
for tag in s1.chatroomd s1.nchan s1.floor s2.chatroomd s2.nchan s2.floor; do
  json=$(awk -F'\t' -v t="$tag" '$1 == t { print $2 }' "$jsonl")
  if [[ -z $json ]]; then
    echo "FAIL $tag: no crload JSON"; failed=$((failed + 1)); continue
  fi
  lost=$(field lost "$json") dup=$(field duplicated "$json") del=$(field deliveries "$json")
  if [[ ${lost:-x} == 0 && ${dup:-x} == 0 && ${del:-0} =~ ^[0-9]+$ && ${del:-0} -gt 0 ]]; then
    echo "ok   $tag: deliveries $del, lost 0, duplicated 0"
    passed=$((passed + 1))
  else
    echo "FAIL $tag: deliveries ${del:-?}, lost ${lost:-?}, duplicated ${dup:-?}"
    failed=$((failed + 1))
  fi
done
[[ $rc -eq 0 ]] || echo "bench/run.sh exited $rc"
echo "bench smoke: $passed passed, $failed failed"
[[ $failed -eq 0 && $rc -eq 0 ]]
