#!/usr/bin/env bash
# bench/presence/run.sh: what an online user costs, chatroomd side by side with Redis holding
# the same presence (bench/README.md, "Presence memory").
#
#   bench/presence/run.sh [--users N] [--repeat N] [--chatroomd BIN] [--before BIN]
#                         [--only chatroomd|before|redis-hash|redis-centrifugo[,...]]
#                         [--crpresence BIN] [--build-dir DIR] [--no-build]
#                         [--connections C] [--depth D] [--out FILE] [--keep]
#                         [--before-config FILE]
#
# --before-config FILE: the main config `before` runs with (default: the shipped one); an older
# binary refuses config keys it does not know, so give it its own commit's config.
# Each run starts a fresh server, lets crpresence join 1 user (warm-up) and read the server's
# VmRSS (Redis: and INFO used_memory), join N more users (default 100,000, ids of 16
# characters) to one room, read again, and check that N + 1 are online; then stops the server
# by its PID. The servers:
#   chatroomd         BIN (default build/chatroomd) with config/chatroomd.textproto, but
#                     rooms.online_ttl_ms 3600000 so nobody expires while measured
#   before            --before BIN, another chatroomd binary run the same way
#   redis-hash        redis-server (Debian) with one hash per room: user id -> last-seen ms
#   redis-centrifugo  redis-server with Centrifugo's Redis presence: per room a hash
#                     client id -> ClientInfo and a sorted set client id -> expire-at
# Redis runs with persistence off (--save "" --appendonly no). N rounds (--repeat, default 3),
# the servers back to back in each, their order rotated by one each round. Prints a Markdown
# table (median and min–max of the rounds, ratios chatroomd / other) and writes it, with the
# raw crpresence JSON lines and the machine, to bench/results/presence.md (or --out FILE).
# Builds only crpresence (never chatroomd). Exits 1 if any run failed. Every run is bounded in
# time; on exit (or ^C) it stops exactly the PIDs it started and removes its temporary dir.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
users=100000 repeat=3 connections=32 depth=32 keep=0 do_build=1
build_dir=$root/build
before_config=
chatroomd_bin= before_bin= tool_bin= only= out=$root/bench/results/presence.md
while [[ $# -gt 0 ]]; do
  case $1 in
    --users) users=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --chatroomd) chatroomd_bin=$(realpath "$2"); shift ;;
    --before) before_bin=$(realpath "$2"); shift ;;
    --before-config) before_config=$(realpath "$2"); shift ;;
    --only) only=$2; shift ;;
    --crpresence) tool_bin=$(realpath "$2"); shift ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift ;;
    --no-build) do_build=0 ;;
    --connections) connections=$2; shift ;;
    --depth) depth=$2; shift ;;
    --out) out=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { print; next } { exit }' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for v in users repeat connections depth; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --$v ${!v}? (a whole number >= 1)" >&2; exit 2; }
done
all_servers="chatroomd${before_bin:+ before} redis-hash redis-centrifugo"
: "${only:=${all_servers// /,}}"
for s in ${only//,/ }; do
  [[ " $all_servers " == *" $s "* ]] || { echo "run.sh: --only $s? (one of: $all_servers)" >&2; exit 2; }
done
servers=()  # the selected servers in their fixed order; a round rotates it
for s in $all_servers; do [[ ,$only, == *",$s,"* ]] && servers+=("$s"); done
log() { echo "run.sh: $*" >&2; }

# --- binaries ---------------------------------------------------------------------------
: "${chatroomd_bin:=$build_dir/chatroomd}"
if [[ -z $tool_bin ]]; then
  tool_bin=$build_dir/bench/presence/crpresence
  if [[ $do_build -eq 1 ]]; then
    log "building crpresence in $build_dir"
    cmake -S "$root" -B "$build_dir" -G Ninja >/dev/null
    cmake --build "$build_dir" -j2 --target crpresence
  fi
fi
for b in "$tool_bin" "$chatroomd_bin" ${before_bin:+"$before_bin"}; do
  [[ -x $b ]] || { log "missing binary $b (--chatroomd BIN / --crpresence BIN, or build it)"; exit 1; }
done
if [[ $only == *redis* ]] && ! command -v redis-server >/dev/null; then
  # The project's dependency list says what to install (scripts/install-deps.sh).
  [[ $(id -u) -eq 0 ]] || { log "redis-server missing: run scripts/install-deps.sh as root"; exit 1; }
  log "redis-server missing: running scripts/install-deps.sh"
  "$root/scripts/install-deps.sh" >&2
fi

# --- servers ----------------------------------------------------------------------------
work=$(mktemp -d /tmp/presence-bench.XXXXXX)
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"  # started, forget, stop_started, publish_results
cleanup() {
  stop_started
  if [[ $keep -eq 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The shipped config with one change; its sects file goes along (named relative to it).
# `before` may need the config of its own version (--before-config: an older binary refuses
# keys it does not know), with the same change.
for which in chatroomd before; do
  src=$root/config/chatroomd.textproto
  [[ $which == before && -n $before_config ]] && src=$before_config
  sed 's/^\( *online_ttl_ms:\) *[0-9]*/\1 3600000/' "$src" > "$work/$which.textproto"
  grep -q '^ *online_ttl_ms: 3600000' "$work/$which.textproto" ||
    { log "cannot set online_ttl_ms in the config copy"; exit 2; }
done
cp "$root/config/sects.textproto" "$work/"

# wait_line FILE PATTERN PID: waits (up to 30 s) for a line matching PATTERN while PID lives.
wait_line() {
  for _ in $(seq 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
free_port() {  # a port nobody listens on now (redis-server exits, and we retry, if it is taken)
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

# start_server SERVER FILE: sets srv_pid, srv_port, srv_target.
start_server() {
  local server=$1 f=$2 bin
  case $server in
    chatroomd|before)
      bin=$chatroomd_bin
      [[ $server == before ]] && bin=$before_bin
      "$bin" --config "$work/$server.textproto" --listen 127.0.0.1:0 \
        --data-dir "$work/$f.data" > "$work/$f.log" 2>&1 &
      srv_pid=$!; started+=("$srv_pid")
      wait_line "$work/$f.log" '^listening on 127\.0\.0\.1:[0-9]*$' "$srv_pid" ||
        { tail -20 "$work/$f.log" >&2; return 1; }
      srv_port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/$f.log" | head -1)
      srv_target=chatroomd ;;
    redis-*)
      mkdir -p "$work/$f.redis"
      for _ in 1 2 3; do
        srv_port=$(free_port) || return 1
        redis-server --port "$srv_port" --bind 127.0.0.1 --save "" --appendonly no \
          --dir "$work/$f.redis" --logfile "$work/$f.log" --daemonize no > /dev/null 2>&1 &
        srv_pid=$!; started+=("$srv_pid")
        wait_line "$work/$f.log" 'Ready to accept connections' "$srv_pid" && break
        stop_server; srv_pid=
      done
      [[ -n $srv_pid ]] || { tail -20 "$work/$f.log" >&2; return 1; }
      srv_target=$server ;;
  esac
}
stop_server() {  # TERM, then KILL after 10 s; srv_pid only
  kill -TERM "$srv_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$srv_pid" 2>/dev/null && { log "$srv_pid ignored SIGTERM, killing"; kill -KILL "$srv_pid" || true; }
  wait "$srv_pid" 2>/dev/null || true
  forget "$srv_pid"
}

# --- runs -------------------------------------------------------------------------------
declare -A V     # V[server#round.key] = a figure of one run
declare -A FAIL  # FAIL[server#round] = why it has no figures
raw=()
failures=0
json_get() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<< "$2" | tr -d '"'; }

run_one() {  # run_one SERVER ROUND
  local server=$1 tag="$1#$2" f="$1.$2" rc=0 json k
  log "$tag: starting $server (round $2 of $repeat)"
  if ! start_server "$server" "$f"; then
    FAIL[$tag]="server did not start"; failures=$((failures + 1)); return
  fi
  # In the background so that cleanup can stop it by PID; crpresence stops itself after
  # --duration-s (120 s), timeout 60 s later.
  timeout -k 5 180 "$tool_bin" --target "$srv_target" --host 127.0.0.1 --port "$srv_port" \
    --server-pid "$srv_pid" --users "$users" --connections "$connections" --depth "$depth" \
    --duration-s 120 > "$work/$f.json" 2> "$work/$f.err" &
  local tpid=$!
  started+=("$tpid")
  wait "$tpid" || rc=$?
  forget "$tpid"
  stop_server
  json=$(grep -m1 '^{' "$work/$f.json" || true)
  if [[ -z $json ]]; then
    FAIL[$tag]="crpresence exit $rc, no JSON: $(tail -1 "$work/$f.err")"; failures=$((failures + 1))
    log "$tag: FAILED (crpresence exit $rc); stderr tail:"; tail -5 "$work/$f.err" >&2
    return
  fi
  # Exit 3: every answer came, but some join was refused or the online count is off.
  [[ $rc -eq 0 ]] || { FAIL[$tag]="crpresence exit $rc: $(tail -1 "$work/$f.err")"; failures=$((failures + 1)); }
  raw+=("$tag $json")
  for k in rss_per_user_bytes used_memory_per_user_bytes key_memory_per_entry_bytes join_s \
    online_after refused settled_base settled_after; do
    V[$tag.$k]=$(json_get "$k" "$json")
  done
  log "$tag: $json"
}

started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
start_s=$SECONDS
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
n=${#servers[@]}
for ((round = 1; round <= repeat; round++)); do
  for ((i = 0; i < n; i++)); do run_one "${servers[(i + round - 1) % n]}" "$round"; done
done
elapsed_s=$((SECONDS - start_s))

# --- table ------------------------------------------------------------------------------
num_re='^-?[0-9]+(\.[0-9]+)?$'
declare -A MED RANGE
# stats SERVER KEY DECIMALS: MED[SERVER.KEY] = the median of the rounds (of two middle ones, the
# mean), RANGE[SERVER.KEY] = " (lo–hi)" unless every round rounds to the same figure.
stats() {
  local r v vals= lo hi
  for ((r = 1; r <= repeat; r++)); do
    v=${V[$1#$r.$2]:-}
    [[ $v =~ $num_re ]] && vals+=" $v"
  done
  [[ -n $vals ]] || return 0
  read -r "MED[$1.$2]" lo hi < <(tr ' ' '\n' <<< "$vals" | sed '/^$/d' | sort -g | awk '
    { x[NR] = $1 } END { m = NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2
                         printf "%.10g %.10g %.10g\n", m, x[1], x[NR] }')
  lo=$(printf "%.${3}f" "$lo") hi=$(printf "%.${3}f" "$hi")
  RANGE[$1.$2]=
  [[ $lo == "$hi" ]] || RANGE[$1.$2]=" ($lo–$hi)"
}
cell() {  # cell SERVER KEY DECIMALS
  [[ -n ${MED[$1.$2]:-} ]] || { echo "—"; return; }
  echo "$(printf "%.${3}f" "${MED[$1.$2]}")${RANGE[$1.$2]}"
}
ratio() {  # ratio A B: A / B, two decimals
  [[ $1 =~ $num_re && $2 =~ $num_re ]] || { echo "—"; return; }
  awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "—"; else printf "%.2f", a / b }'
}
checks() {  # checks SERVER: in how many rounds every join was taken and N + 1 were online
  local r ok=0 ran=0 busy=0
  for ((r = 1; r <= repeat; r++)); do
    [[ -n ${V[$1#$r.online_after]:-} ]] || continue
    ran=$((ran + 1))
    [[ ${V[$1#$r.refused]} == 0 && ${V[$1#$r.online_after]} == $((users + 1)) ]] && ok=$((ok + 1))
    [[ ${V[$1#$r.settled_base]} == true && ${V[$1#$r.settled_after]} == true ]] || busy=$((busy + 1))
  done
  if [[ $ran -eq 0 ]]; then echo "FAIL"; return; fi
  if [[ $ok -eq $repeat ]]; then echo -n "ok"; else echo -n "$ok of $repeat ok"; fi
  # A reading taken after 10 s of waiting for a server that never went idle.
  [[ $busy -eq 0 ]] && echo || echo " (server still busy at a reading in $busy runs)"
}
declare -A layout=(
  [chatroomd]='chatroomd (this build): its online table, all included'
  [before]='chatroomd before (--before): the same, another build'
  [redis-hash]='Redis: one hash per room, user id → last-seen ms (HSET)'
  [redis-centrifugo]="Redis, Centrifugo's layout: per room a hash client id → ClientInfo and a sorted set client id → expire-at")
for s in "${servers[@]}"; do
  stats "$s" rss_per_user_bytes 1; stats "$s" used_memory_per_user_bytes 1
  stats "$s" key_memory_per_entry_bytes 1; stats "$s" join_s 2
done
c_rss=${MED[chatroomd.rss_per_user_bytes]:-}

table() {
  echo "| server | RSS per user (B) | used_memory per user (B) | MEMORY USAGE per entry (B) | chatroomd RSS ÷ its RSS | chatroomd RSS ÷ its used_memory | join phase (s) | checks |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  local s
  for s in "${servers[@]}"; do
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${layout[$s]}" \
      "$(cell "$s" rss_per_user_bytes 1)" "$(cell "$s" used_memory_per_user_bytes 1)" \
      "$(cell "$s" key_memory_per_entry_bytes 1)" \
      "$([[ $s == chatroomd ]] && echo "—" || ratio "$c_rss" "${MED[$s.rss_per_user_bytes]:-}")" \
      "$(ratio "$c_rss" "${MED[$s.used_memory_per_user_bytes]:-}")" \
      "$(cell "$s" join_s 2)" "$(checks "$s")"
  done
  local budget
  for s in chatroomd before; do
    [[ -n ${MED[$s.rss_per_user_bytes]:-} ]] || continue
    budget=$(awk -v x="${MED[$s.rss_per_user_bytes]}" 'BEGIN { print (x <= 96 ? "within" : "over") }')
    echo
    echo "Budget (the issue: at most 96 B per online user, all included): $s $(printf '%.1f' "${MED[$s.rss_per_user_bytes]}") B, $budget."
  done
  local tag
  for tag in $(printf '%s\n' "${!FAIL[@]}" | sort); do echo; echo "FAILED: $tag: ${FAIL[$tag]}"; done
}

# describe_bin BIN: the commit of the checkout it was built in (if any), sha256 prefix, mtime.
describe_bin() {
  local commit
  commit=$(git -C "$(dirname "$1")" rev-parse --short HEAD 2>/dev/null) || commit=
  echo "${commit:+built from commit $commit, }sha256 $(sha256sum "$1" | cut -c1-12), modified $(date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ)"
}

machine() {
  echo "- run: $started_at, \`bench/presence/run.sh --users $users --repeat $repeat$([[ -n $before_bin ]] && echo " --before BIN")$([[ $only == "${all_servers// /,}" ]] || echo " --only $only")\`, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), took $((elapsed_s / 60)) min $((elapsed_s % 60)) s"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ { print $2 " GiB RAM" }'), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME"); load average at the start: $load_at_start"
  echo "- chatroomd: $(describe_bin "$chatroomd_bin"); config/chatroomd.textproto with rooms.online_ttl_ms 3600000 (nobody expires while measured), a fresh data dir per run"
  [[ -z $before_bin ]] || echo "- before: $(describe_bin "$before_bin"), run exactly like chatroomd"
  [[ $only != *redis* ]] || echo "- Redis: $(redis-server --version | sed 's/ sha=[^ ]*//; s/ build=.*//'), Debian package $(dpkg-query -W -f '${Version}' redis-server 2>/dev/null || echo '?'); \`--save \"\" --appendonly no\`, everything else default"
  echo "- each run: a fresh server; crpresence opens $connections keep-alive connections (kept open to the end, so what they cost is in both readings), warms up (user 0 joins, $depth times pipelined on each), waits until the server is idle (at least 3.5 s, then 200 ms without CPU), reads VmRSS (Redis: and INFO used_memory), joins $users users (\`u\` + 15 digits, $depth in flight per connection), waits the same way and reads again; per user = the difference / $users. checks: every join answered 200 (Redis: a new entry) and the server counts $((users + 1)) online (chatroomd: the \`online\` of one more join; Redis: HLEN, and ZCARD)"
  echo "- RSS: the server process's VmRSS (/proc/PID/status), so allocator overhead and fragmentation are included. used_memory: Redis's own count of the bytes it allocated (INFO memory). MEMORY USAGE: Redis's estimate of the keys themselves (\`MEMORY USAGE key SAMPLES 0\`) divided by the entries (N + 1)"
  echo "- Centrifugo's layout (centrifugal/centrifuge presence_redis.go, presence_add.lua; user mapping off, its default): per channel \`centrifuge.presence.data.<ch>\`, a hash client id (a 36-character UUID) → protobuf ClientInfo {user, client} (56 bytes here: no conn_info/chan_info), and \`centrifuge.presence.expire.<ch>\`, a sorted set client id → expire-at unix seconds (now + 60 s); both keys with a TTL. It keys presence by connection, not by user: one connection per user here. Written as ZADD + HSET (and EXPIRE once), not through its Lua script: the same data"
  if [[ $repeat -gt 1 ]]; then
    echo "- $repeat rounds, each running every server once, back to back, in the order ${servers[*]} rotated by one each round; a cell is the median of the $repeat runs, with the lowest–highest run in parentheses when they differ; ratios are median / median"
  else
    echo "- one run per cell (\`--repeat N\` for the median of N)"
  fi
}

{
  echo "# Presence memory: bytes per online user"
  echo
  echo "$users users (ids of 16 characters) online in one room."
  echo
  machine
  echo
  table
  echo
  echo "<details><summary>crpresence JSON lines</summary>"
  echo
  echo '```'
  printf '%s\n' "${raw[@]+"${raw[@]}"}"
  echo '```'
  echo "</details>"
} > "$work/table.md"
publish_results "$work/table.md"
[[ $failures -eq 0 ]]
