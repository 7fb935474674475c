#!/usr/bin/env bash
# Checks that every tracked C++ file (*.cc, *.h under src, include, tests and bench) is formatted
# as the repository's .clang-format says. Prints the files that differ and exits non-zero if any
# do; changes nothing. Registered with ctest as the test `format` (label lint).
#
#   scripts/check-format.sh              # clang-format from PATH
#   CLANG_FORMAT=clang-format-14 scripts/check-format.sh
set -euo pipefail
cd "$(dirname "$0")/.."

clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null; then
  echo "check-format: $clang_format not found (scripts/install-deps.sh installs it)" >&2
  exit 2
fi
echo "check-format: $("$clang_format" --version)"

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "check-format: not a git checkout, nothing to check (skipped)"
  exit 77  # ctest reports the test as skipped
fi
files=()
while IFS= read -r f; do
  [ -f "$f" ] && files+=("$f")  # skip files deleted in the work tree but still in the index
done < <(git ls-files -- 'src/*.cc' 'src/*.h' 'include/*.cc' 'include/*.h' \
  'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'bench/*.h')
if [ ${#files[@]} -eq 0 ]; then
  echo "check-format: no tracked C++ files found" >&2
  exit 2
fi

# One clang-format run over all files; each violation is reported as FILE:LINE:COL: error: ...
status=0
report=$("$clang_format" --style=file --dry-run --Werror "${files[@]}" 2>&1) || status=$?
mapfile -t differ < <(printf '%s\n' "$report" |
  sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
if [ "$status" -ne 0 ] && [ ${#differ[@]} -eq 0 ]; then
  printf '%s\n' "$report" >&2  # failed for another reason (a bad .clang-format, say)
  exit 2
fi

if [ ${#differ[@]} -gt 0 ]; then
  echo "check-format: ${#differ[@]} of ${#files[@]} files are not clang-formatted:"
  printf '  %s\n' "${differ[@]}"
  echo "fix with: clang-format -i \$(git ls-files '*.cc' '*.h')"
  exit 1
fi
echo "check-format: all ${#files[@]} files are clang-formatted"
