#!/usr/bin/env bash
# What JWT auth costs the daemon, and what its token cache saves (docs/benchmarks.md, "JWT").
#
#   bench/auth/run.sh [--repeat N] [--scenarios c,f] [--build-dir DIR] [--no-build]
#
# Two runs of bench/run.sh with one chatroomd binary and crload signing a token per user
# (--jwt-secret-file: every request carries the token and X-User-Id, so the request bytes are
# the same for every config and only what the daemon does with them differs):
#   1. results/auth-jwt.md: chatroomd = JWT auth (HS256, the cache on, as shipped: 100,000
#      entries), before = dev mode (X-User-Id): what JWT auth costs in all;
#   2. results/auth-cache.md: chatroomd = JWT auth, cache on; before = JWT auth with
#      auth.jwt_cache_entries: 0, so that every request verifies its signature (what Nchan's
#      auth hook does on every poll).
# Scenarios default to c (10k pollers in one room, every answer a re-poll with the token) and
# f (15k pollers over 100 rooms joining, polling and leaving).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
repeat=3 scenarios=c,f build_dir=$root/build build=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --repeat) repeat=$2; shift ;;
    --scenarios) scenarios=$2; shift ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift ;;
    --no-build) build=(--no-build) ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { print; next } { exit }' "$0"; exit 0 ;;
    *) echo "auth/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

work=$(mktemp -d /tmp/chatroomd-bench-auth.XXXXXX)
trap 'rm -rf "$work"' EXIT
head -c 48 /dev/urandom | base64 > "$work/secret"
cp "$root/config/sects.textproto" "$work/"
# The shipped config with its auth block replaced; the secret file is named relative to it.
make_config() {  # make_config FILE AUTH_BLOCK
  awk -v block="$2" '
    /^auth \{/ { print block; skip = 1; next }
    skip && /^\}/ { skip = 0; next }
    !skip { print }' "$root/config/chatroomd.textproto" > "$1"
  grep -q 'jwt_secret_file\|enabled: false' "$1" || { echo "auth/run.sh: no auth block in $1" >&2; exit 2; }
}
make_config "$work/dev.textproto" 'auth { enabled: false }'
make_config "$work/jwt.textproto" 'auth { enabled: true jwt_secret_file: "secret" }'
make_config "$work/jwt-nocache.textproto" \
  'auth { enabled: true jwt_secret_file: "secret" jwt_cache_entries: 0 }'

bin=$build_dir/chatroomd
common=(--repeat "$repeat" --scenarios "$scenarios" --build-dir "$build_dir" --only chatroomd,before
        --crload-args "--jwt-secret-file $work/secret")
"$root/bench/run.sh" "${build[@]}" "${common[@]}" --config "$work/jwt.textproto" \
  --before "$bin" --before-config "$work/dev.textproto" --out "$root/bench/results/auth-jwt.md"
"$root/bench/run.sh" --no-build "${common[@]}" --config "$work/jwt.textproto" \
  --before "$bin" --before-config "$work/jwt-nocache.textproto" \
  --out "$root/bench/results/auth-cache.md"
