#!/usr/bin/env bash
# bench/run.sh: reproduce the long-poll benchmark table (bench/README.md).
#
#   bench/run.sh [--quick | --smoke] [--repeat N] [--only chatroomd|before|nchan|floor[,...]]
#                [--scenarios a,b,...] [--build-dir DIR] [--no-build] [--chatroomd BIN] [--crload BIN]
#                [--floor-server BIN] [--before BIN] [--out FILE] [--keep] [--no-sync-wal]
#                [--config FILE] [--crload-args 'ARGS']
#
# Builds chatroomd, crload and floor_server, then runs N rounds (--repeat N; default 3 for
# the full run, 1 for --quick and --smoke). A round runs every scenario once against every
# server, the servers of a scenario back to back, their order rotated by one each round
# (round 1: chatroomd, nchan, floor; round 2: nchan, floor, chatroomd; ...). Every run starts
# a fresh server, runs crload against it with the same settings, and stops the server by its
# PID. Prints a Markdown table (each cell the median of the N runs, with min–max; counts that
# must be zero summed over the runs; ratios of the medians) and writes it, with every raw
# crload JSON line and the machine, to bench/results/latest.md (--quick: quick.md; --smoke:
# no file unless --out). Exits 1 if any run failed (no JSON line, or crload exited non-zero).
# Every run is bounded in time; on exit (or ^C) it stops exactly the PIDs it started.
#
# --scenarios runs only the listed scenarios (by id: a b c d e f, or s1 s2 for --smoke).
# --no-sync-wal runs chatroomd with `store { sync_wal: false }` (what durability costs: the
# peer and the floor keep messages in memory only).
# --before BIN adds the server `before`: another chatroomd binary (an older build, say) run
# exactly like chatroomd (same config, same crload target) in every scenario chatroomd runs in,
# in the same rounds and rotation (chatroomd, before, nchan, floor). The table gets a `before`
# column and a chatroomd/before ratio column. Without --only it runs with all the servers;
# `--only chatroomd,before` compares the two builds alone.
#
# --before-config FILE: the main config `before` runs with (default: the shipped one). An
# older binary refuses config keys it does not know: give it the config of its own commit
# (`git show OLD:config/chatroomd.textproto > FILE`, next to a copy of config/sects.textproto).
#
# --config FILE: the main config chatroomd runs with (default: the shipped one). With
# --before-config and --before set to the same binary, two configs of one build are compared
# (say JWT auth against dev mode: docs/benchmarks.md).
# --crload-args 'ARGS': more flags for every crload run, e.g. '--jwt-secret-file F' (crload's
# requests then carry a token besides X-User-Id: a daemon in either auth mode reads its own).
#
# Env: CRLOAD_WORKERS (default 2: the box has 2 cores, shared with the servers).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=full
only=
only_scenarios=
build_dir=$root/build
do_build=1
chatroomd_bin= crload_bin= floor_bin= before_bin= before_config= out= keep=0 repeat= no_sync=0
main_config= crload_args=
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --repeat) repeat=$2; shift ;;
    --only) only=$2; shift ;;
    --scenarios) only_scenarios=$2; shift ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift ;;
    --no-build) do_build=0 ;;
    --chatroomd) chatroomd_bin=$(realpath "$2"); shift ;;
    --no-sync-wal) no_sync=1 ;;
    --crload) crload_bin=$(realpath "$2"); shift ;;
    --floor-server) floor_bin=$(realpath "$2"); shift ;;
    --before) before_bin=$(realpath "$2"); shift ;;
    --before-config) before_config=$(realpath "$2"); shift ;;
    --config) main_config=$(realpath "$2"); shift ;;
    --crload-args) crload_args=$2; shift ;;
    --out) out=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { print; next } { exit }' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
default_only=chatroomd,nchan,floor
[[ -z $before_bin ]] || default_only=chatroomd,before,nchan,floor
: "${only:=$default_only}"
for s in ${only//,/ }; do
  [[ $s == chatroomd || $s == before || $s == nchan || $s == floor ]] || { echo "run.sh: --only $s?" >&2; exit 2; }
  [[ $s != before || -n $before_bin ]] || { echo "run.sh: --only before needs --before BIN" >&2; exit 2; }
done
# The servers in their fixed order (the rotation starts from it); `before` only with --before.
all_servers="chatroomd${before_bin:+ before} nchan floor"
[[ -z $before_bin || ,$only, == *,before,* ]] || echo "run.sh: --before given but --only leaves before out" >&2
if [[ -z $repeat ]]; then
  case $mode in full) repeat=3 ;; *) repeat=1 ;; esac
fi
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --repeat $repeat? (a whole number >= 1)" >&2; exit 2; }
if [[ -z $out ]]; then
  case $mode in full) out=$root/bench/results/latest.md ;; quick) out=$root/bench/results/quick.md ;; esac
fi
workers=${CRLOAD_WORKERS:-2}
chatroomd_config=${main_config:-$root/config/chatroomd.textproto}
before_config=${before_config:-$chatroomd_config}
log() { echo "run.sh: $*" >&2; }

# --- scenarios --------------------------------------------------------------------------
# id | title | servers | pollers rooms messages rate publishers poll_timeout_ms drain_s duration_s [crload flags] | figures
# duration_s bounds the whole crload run (connect + join + first poll, settle, publish, drain,
# leave and online check); drain_s is how long after the last publish crload waits for every
# poller to have every message. Flags after duration_s go to crload as they are, for every
# server of the scenario. (a) publishes nothing: it measures the server once every poll is held. Figures:
# crload JSON keys. A crload publisher has one send in flight (it waits for the ack), so a
# paced scenario has enough publishers that a slow ack does not lower the offered rate; the
# "publish rate achieved" row shows whether it did. Flat out (d) has 16: with a few publishers
# each waiting for its ack, the rate measures the ack round trip, not what the server can
# deliver (docs/benchmarks.md has both).
scenarios_full='
a|(a) 10k idle pollers held|chatroomd,nchan,floor|10000 100 0 0 1 60000 0 20|rss_per_poll_bytes held_s errors
b|(b) fan-out 10k pollers, 1 room, 1 msg/s|chatroomd,nchan,floor|10000 1 25 1 2 60000 5 60|lat_p50_ms lat_p99_ms lost server_cpu_us_per_delivery publish_rate_achieved errors
c|(c) fan-out 10k pollers, 1 room, 10 msg/s|chatroomd,nchan,floor|10000 1 30 10 4 60000 5 45|lat_p50_ms lat_p99_ms lost server_cpu_us_per_delivery publish_rate_achieved errors
d|(d) 1k pollers, 1 room, publish flat out (16 publishers)|chatroomd,nchan|1000 1 3000 0 16 60000 5 60|deliveries_per_s lost skipped_gap lat_p50_ms lat_p99_ms publish_rate_achieved responses_per_delivery errors
e|(e) 1,000 rooms x 10 pollers, 500 msg/s|chatroomd,nchan,floor|10000 1000 5000 500 4 60000 5 50|lat_p50_ms lat_p99_ms lost publish_rate_achieved errors
f|(f) audience: 15k pollers over 100 rooms, 100 msg/s, a third leave|chatroomd|15000 100 3000 100 4 60000 5 75 --leave-fraction 1/3|online_mismatch online_checked left server_cpu_us_per_delivery lat_p50_ms lat_p99_ms lost publish_rate_achieved errors
'
# (f) is chatroomd's (and before's) only: Nchan has no leave or online count, and the floor
# answers neither. Its publish + drain CPU per delivery compares the poll path of two builds
# (--only chatroomd,before --before OLD); the leaves and the online check come after it.
scenarios_quick='
a|(a) 1k idle pollers held|chatroomd,nchan,floor|1000 10 0 0 1 60000 0 5|rss_per_poll_bytes held_s errors
b|(b) fan-out 1k pollers, 1 room, 1 msg/s|chatroomd,nchan,floor|1000 1 5 1 2 60000 3 20|lat_p50_ms lat_p99_ms lost server_cpu_us_per_delivery publish_rate_achieved errors
c|(c) fan-out 1k pollers, 1 room, 10 msg/s|chatroomd,nchan,floor|1000 1 20 10 4 60000 3 20|lat_p50_ms lat_p99_ms lost server_cpu_us_per_delivery publish_rate_achieved errors
d|(d) 200 pollers, 1 room, publish flat out (16 publishers)|chatroomd,nchan|200 1 500 0 16 60000 3 30|deliveries_per_s lost skipped_gap lat_p50_ms lat_p99_ms publish_rate_achieved responses_per_delivery errors
e|(e) 100 rooms x 10 pollers, 100 msg/s|chatroomd,nchan,floor|1000 100 500 100 2 60000 3 20|lat_p50_ms lat_p99_ms lost publish_rate_achieved errors
f|(f) audience: 1,500 pollers over 10 rooms, 50 msg/s, a third leave|chatroomd|1500 10 500 50 2 60000 3 30 --leave-fraction 1/3|online_mismatch online_checked left server_cpu_us_per_delivery lat_p50_ms lat_p99_ms lost publish_rate_achieved errors
'
# The test suite's smoke run (bench/smoke.sh): a few hundred pollers for a few seconds.
scenarios_smoke='
s1|fan-out 300 pollers, 1 room, 5 msg/s|chatroomd,nchan,floor|300 1 10 5 1 60000 3 20|deliveries lost duplicated errors
s2|30 rooms x 10 pollers, 50 msg/s|chatroomd,nchan,floor|300 30 100 50 2 60000 3 20|deliveries lost duplicated errors
'
case $mode in
  full) scenarios=$scenarios_full ;; quick) scenarios=$scenarios_quick ;; smoke) scenarios=$scenarios_smoke ;;
esac

declare -A label=(
  [rss_per_poll_bytes]='RSS per held poll (bytes)' [held_s]='held (s)'
  [lat_p50_ms]='p50 latency (ms)' [lat_p99_ms]='p99 latency (ms)' [lost]='lost'
  [duplicated]='duplicated' [skipped_gap]='skipped under gap' [errors]='errors'
  [server_cpu_us_per_delivery]='server CPU per delivery (µs)'
  [deliveries_per_s]='deliveries/s' [deliveries]='deliveries'
  [publish_rate_achieved]='publish rate achieved (msg/s)'
  [responses_per_delivery]='responses per delivery'
  [online_mismatch]='online count never exact (rooms)' [online_checked]='online count checked (rooms)'
  [left]='pollers that left')
# Counts compare by difference, not ratio.
declare -A is_count=([lost]=1 [duplicated]=1 [skipped_gap]=1 [errors]=1 [deliveries]=1
  [online_mismatch]=1 [online_checked]=1 [left]=1)
# Counts that must be zero: summed over the rounds (not a median), so a loss in any run shows.
declare -A is_sum=([lost]=1 [duplicated]=1 [skipped_gap]=1 [errors]=1 [online_mismatch]=1)

# --- build ------------------------------------------------------------------------------
if [[ $do_build -eq 1 && ( -z $chatroomd_bin || -z $crload_bin || -z $floor_bin ) ]]; then
  log "building in $build_dir"
  cmake -S "$root" -B "$build_dir" -G Ninja >/dev/null
  cmake --build "$build_dir" -j2 --target chatroomd crload floor_server
fi
: "${chatroomd_bin:=$build_dir/chatroomd}"
: "${crload_bin:=$build_dir/bench/load/crload}"
: "${floor_bin:=$build_dir/bench/floor/floor_server}"
for b in "$crload_bin" "$chatroomd_bin" "$floor_bin" ${before_bin:+"$before_bin"}; do
  [[ -x $b ]] || { log "missing binary $b (build it, or drop --no-build)"; exit 1; }
done

# --- server lifecycle -------------------------------------------------------------------
work=$(mktemp -d /tmp/chatroomd-bench.XXXXXX)
if [[ $no_sync == 1 ]]; then
  # The shipped config with one change; its sects file goes along (named relative to it).
  for which in chatroomd before; do
    src=$chatroomd_config
    [[ $which == before ]] && src=$before_config
    sed 's/^\( *sync_wal:\) *true/\1 false/' "$src" > "$work/$which.textproto"
    grep -q '^ *sync_wal: false' "$work/$which.textproto" || { echo "run.sh: cannot set sync_wal" >&2; exit 2; }
  done
  cp "$root/config/sects.textproto" "$work/"
  chatroomd_config=$work/chatroomd.textproto
  before_config=$work/before.textproto
fi
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"  # started, forget, stop_started, publish_results
nchan_dirs=()     # nginx work dirs to stop.sh
cleanup() {
  local d
  for d in "${nchan_dirs[@]+"${nchan_dirs[@]}"}"; do "$root/bench/nchan/stop.sh" "$d" || true; done
  stop_started
  if [[ $keep -eq 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for `listening on 127.0.0.1:PORT` in $1 while PID $2 lives; prints PORT.
wait_port() {
  local port
  for _ in $(seq 300); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1" | head -1)
    [[ -n $port ]] && { echo "$port"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

free_port() {  # a port nobody listens on (start.sh fails, and we retry, if it is taken after)
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

# start_server SERVER TAG: sets srv_port, srv_pids (comma list for crload), srv_target.
start_server() {
  local server=$1 tag=$2 pid line
  case $server in
    chatroomd|before)
      # The shipped config as it is (config/chatroomd.textproto), so sync_wal: true: every
      # acknowledged send is fsynced (group commit). Auth off (dev mode) on loopback.
      # `before` (--before BIN) is another chatroomd binary, run the same way.
      local bin=$chatroomd_bin config=$chatroomd_config
      [[ $server == before ]] && bin=$before_bin config=$before_config
      "$bin" --config "$config" --listen 127.0.0.1:0 \
        --data-dir "$work/$tag.data" > "$work/$tag.log" 2>&1 &
      pid=$!; started+=("$pid")
      srv_port=$(wait_port "$work/$tag.log" "$pid") || { tail -20 "$work/$tag.log" >&2; return 1; }
      srv_pids=$pid srv_target=chatroomd ;;
    floor)
      "$floor_bin" --port 0 > "$work/$tag.log" 2>&1 &
      pid=$!; started+=("$pid")
      srv_port=$(wait_port "$work/$tag.log" "$pid") || { tail -20 "$work/$tag.log" >&2; return 1; }
      srv_pids=$pid srv_target=chatroomd ;;
    nchan)
      nchan_dirs+=("$work/$tag.nginx")
      for _ in 1 2 3; do
        srv_port=$(free_port) || return 1
        if line=$("$root/bench/nchan/start.sh" "$work/$tag.nginx" "$srv_port" 2>>"$work/$tag.log"); then
          srv_pids=${line#pids } srv_target=nchan
          return 0
        fi
      done
      tail -20 "$work/$tag.log" "$work/$tag.nginx/error.log" >&2 2>/dev/null
      return 1 ;;
  esac
}

stop_server() {
  local server=$1 tag=$2 p
  if [[ $server == nchan ]]; then
    "$root/bench/nchan/stop.sh" "$work/$tag.nginx" || log "$tag: nginx did not stop"
    return 0
  fi
  p=$srv_pids
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && { log "$tag: $p ignored SIGTERM, killing"; kill -KILL "$p" || true; }
  wait "$p" 2>/dev/null || true
  forget "$p"
}

# --- JSON: flatten one object per line into "key<TAB>value" lines (nested: a.b) ----------
flatten() {
  awk '
  function emit(k, v) { if (k != "") print k "\t" v }
  {
    s = $0; n = 0
    while (length(s) > 0) {
      if (!match(s, /^[ \t\r]*("([^"\\]|\\.)*"|-?[0-9][-0-9.eE+]*|true|false|null|[][{}:,])/)) break
      t = substr(s, RSTART, RLENGTH); sub(/^[ \t\r]*/, "", t); tok[++n] = t
      s = substr(s, RSTART + RLENGTH)
    }
    depth = 0; key = ""; expect_key = 0
    for (i = 1; i <= n; i++) {
      t = tok[i]
      if (t == "{") { path[++depth] = key; expect_key = 1; continue }
      if (t == "}") { depth--; continue }
      if (t == "[") { arr[depth] = 1; continue }
      if (t == "]") { arr[depth] = 0; continue }
      if (t == ",") { if (!arr[depth]) expect_key = 1; continue }
      if (t == ":") continue
      if (expect_key) {
        k = substr(t, 2, length(t) - 2); key = (depth > 1 ? path[depth] "." : "") k
        expect_key = 0; continue
      }
      if (t ~ /^"/) t = substr(t, 2, length(t) - 2)
      if (!arr[depth]) emit(key, t)
    }
  }'
}

# describe_bin BIN: which build a binary is, without this machine's paths: the commit of the
# checkout it was built in (when it is in one), its sha256 prefix and modification time.
describe_bin() {
  local commit
  commit=$(git -C "$(dirname "$1")" rev-parse --short HEAD 2>/dev/null) || commit=
  echo "chatroomd${commit:+ built from commit $commit} (sha256 $(sha256sum "$1" | cut -c1-12), modified $(date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ))"
}

declare -A V      # V[scenario.server#round.key] = value of one run
declare -A FAIL   # FAIL[scenario.server#round] = reason
failures=0

# errors may be a number or an object of counts: sum whatever is under "errors".
errors_total() {
  awk -F'\t' '$1 == "errors" || $1 ~ /^errors\./ { if ($2 ~ /^-?[0-9.]+$/) s += $2 } END { print s + 0 }'
}

run_one() {  # run_one SCENARIO_ID SERVER ROUND PARAMS
  # tag names the run in the log, V, FAIL and the JSON block; f names its files (no '#':
  # it ends up in nginx.conf, where '#' starts a comment).
  local id=$1 server=$2 tag="$1.$2#$3" f="$1.$2.$3" rc=0 json k v
  local extra extra_args
  read -r pollers rooms messages rate publishers poll_timeout drain duration extra <<< "$4"
  read -r -a extra_args <<< "$extra $crload_args"
  log "$tag: starting $server (round $3 of $repeat)"
  if ! start_server "$server" "$f"; then
    FAIL[$tag]="server did not start"; failures=$((failures + 1)); return
  fi
  log "$tag: crload --pollers $pollers --rooms $rooms --messages $messages --rate $rate${extra:+ $extra} (port $srv_port, pids $srv_pids)"
  # In the background so that cleanup can stop it by PID (timeout leaves our process group).
  timeout -k 5 $((duration + 60)) "$crload_bin" --target "$srv_target" --host 127.0.0.1 \
    --port "$srv_port" --pollers "$pollers" --rooms "$rooms" --messages "$messages" \
    --rate "$rate" --publishers "$publishers" --workers "$workers" --server-pid "$srv_pids" \
    --poll-timeout-ms "$poll_timeout" --drain-s "$drain" --duration-s "$duration" \
    ${extra_args[@]+"${extra_args[@]}"} > "$work/$f.json" 2> "$work/$f.crload.err" &
  local cpid=$!
  started+=("$cpid")
  wait "$cpid" || rc=$?
  forget "$cpid"
  stop_server "$server" "$f"
  json=$(grep -m1 '^{' "$work/$f.json" || true)
  if [[ -z $json ]]; then
    FAIL[$tag]="crload exit $rc, no JSON"; failures=$((failures + 1))
    log "$tag: FAILED (crload exit $rc); stderr tail:"; tail -5 "$work/$f.crload.err" >&2
    return
  fi
  [[ $rc -eq 0 ]] || { FAIL[$tag]="crload exit $rc"; failures=$((failures + 1)); }
  raw+=("$tag $json")
  while IFS=$'\t' read -r k v; do V[$tag.$k]=$v; done < <(flatten <<< "$json")
  V[$tag.errors]=$(flatten <<< "$json" | errors_total)
  log "$tag: $json"
}

# --- run --------------------------------------------------------------------------------
raw=()
ids=()
declare -A title servers params figures
while IFS='|' read -r id t s p f; do
  [[ -n $id ]] || continue
  [[ -z $only_scenarios || ,$only_scenarios, == *",$id,"* ]] || continue
  ids+=("$id"); title[$id]=$t servers[$id]=$s params[$id]=$p figures[$id]=$f
done <<< "$scenarios"
[[ ${#ids[@]} -gt 0 ]] || { echo "run.sh: --scenarios $only_scenarios matches none" >&2; exit 2; }

started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
start_s=$SECONDS
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
# Round r runs every scenario; a scenario's servers run back to back (so a slow spell of the
# box hits them alike), in the order chatroomd, (before,) nchan, floor rotated left by r-1 (so
# none is always the first, after the previous scenario's last run, nor always the last).
in_scenario() {  # in_scenario SCENARIO SERVER: does SERVER run SCENARIO (and is it selected)?
  local s=$2
  [[ $s == before ]] && s=chatroomd  # before runs wherever chatroomd does
  [[ ,$only, == *",$2,"* && ,${servers[$1]}, == *",$s,"* ]]
}
runs_of() {  # runs_of SCENARIO: the servers that run it, in the fixed order
  local s out=()
  for s in $all_servers; do
    in_scenario "$1" "$s" && out+=("$s")
  done
  echo "${out[@]+"${out[@]}"}"
}
for ((round = 1; round <= repeat; round++)); do
  for id in "${ids[@]}"; do
    read -r -a order <<< "$(runs_of "$id")"
    n=${#order[@]}
    for ((i = 0; i < n; i++)); do
      run_one "$id" "${order[(i + round - 1) % n]}" "$round" "${params[$id]}"
    done
  done
done
elapsed_s=$((SECONDS - start_s))

# --- table ------------------------------------------------------------------------------
fmt() {  # fmt KEY VALUE
  local v=$2
  [[ $v =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] || { echo "${v:-—}"; return; }
  case $1 in
    lat_*|held_s|server_cpu_us_per_delivery|publish_rate_achieved|responses_per_delivery) awk -v x="$v" 'BEGIN { printf (x < 10 ? "%.2f" : "%.1f"), x }' ;;
    *) awk -v x="$v" 'BEGIN { printf "%.0f", x }' ;;
  esac
}
num_re='^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'

# Aggregate the rounds of every (scenario, server, figure) into
#   A[scenario.server.key]  the median (for an even count, the mean of the two middle runs),
#                           or for is_sum keys the sum
#   LO, HI                  the smallest and largest run
#   NV                      how many runs gave a number; NZ how many gave a non-zero one
#   RAWV                    a non-numeric value (e.g. null) if no run gave a number
declare -A A LO HI NV NZ RAWV
aggregate() {
  local id server k r v vals base
  for id in "${ids[@]}"; do
    for server in $(runs_of "$id"); do
      for k in ${figures[$id]}; do
        base=$id.$server.$k vals=
        for ((r = 1; r <= repeat; r++)); do
          v=${V[$id.$server#$r.$k]:-}
          if [[ $v =~ $num_re ]]; then vals+=" $v"
          elif [[ -n $v && -z ${RAWV[$base]:-} ]]; then RAWV[$base]=$v
          fi
        done
        NV[$base]=0
        [[ -n $vals ]] || continue
        read -r "A[$base]" "LO[$base]" "HI[$base]" "NV[$base]" "NZ[$base]" < <(
          tr ' ' '\n' <<< "$vals" | sed '/^$/d' | sort -g | awk -v sum="${is_sum[$k]:-}" '
            { x[NR] = $1 + 0; s += x[NR]; if (x[NR] != 0) nz++ }
            END {
              if (sum) a = s
              else if (NR % 2) a = x[(NR + 1) / 2]
              else a = (x[NR / 2] + x[NR / 2 + 1]) / 2
              printf "%.10g %.10g %.10g %d %d\n", a, x[1], x[NR], NR, nz + 0
            }')
      done
    done
  done
}
aggregate

any_fail() {  # any_fail SCENARIO SERVER: did some round of it fail?
  local r
  for ((r = 1; r <= repeat; r++)); do [[ -n ${FAIL[$1.$2#$r]:-} ]] && return 0; done
  return 1
}
cell() {  # cell SCENARIO SERVER KEY
  local base="$1.$2.$3" text lo hi notes=()
  in_scenario "$1" "$2" || { echo "—"; return; }
  if [[ ${NV[$base]:-0} -eq 0 ]]; then
    if [[ -n ${RAWV[$base]:-} ]]; then echo "${RAWV[$base]}"
    elif any_fail "$1" "$2"; then echo "FAIL"
    else echo "—"
    fi
    return
  fi
  text=$(fmt "$3" "${A[$base]}")
  if [[ -n ${is_sum[$3]:-} ]]; then
    # a sum: say in how many runs it was not zero
    [[ ${NZ[$base]} -gt 0 && ${NV[$base]} -gt 1 ]] && notes+=("in ${NZ[$base]} of ${NV[$base]} runs")
  else
    lo=$(fmt "$3" "${LO[$base]}") hi=$(fmt "$3" "${HI[$base]}")
    [[ $lo != "$hi" ]] && notes+=("$lo–$hi")
  fi
  [[ ${NV[$base]} -lt $repeat ]] && notes+=("only ${NV[$base]} of $repeat runs")
  if [[ ${#notes[@]} -gt 0 ]]; then
    local IFS=';'; text+=" (${notes[*]})"; text=${text//;/; }
  fi
  echo "$text"
}
ratio() {  # ratio KEY A B: A/B of the medians, or A-B (of the sums) for counts
  local a=${A[$2.$1]:-} b=${A[$3.$1]:-}
  [[ $a =~ $num_re && $b =~ $num_re ]] || { echo "—"; return; }
  if [[ -n ${is_count[$1]:-} ]]; then
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; printf (d > 0 ? "+%.0f" : "%.0f"), d }'
  else
    awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "—"; else printf "%.2f", a / b }'
  fi
}
table() {
  # With --before: a `before` column after chatroomd's, and chatroomd/before first of the ratios.
  local b=0
  [[ -n $before_bin ]] && b=1
  if [[ $b -eq 1 ]]; then
    echo "| scenario | figure | chatroomd | before | Nchan | floor | chatroomd/before | chatroomd/Nchan | chatroomd/floor |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  else
    echo "| scenario | figure | chatroomd | Nchan | floor | chatroomd/Nchan | chatroomd/floor |"
    echo "|---|---|---:|---:|---:|---:|---:|"
  fi
  local id k first
  for id in "${ids[@]}"; do
    first=1
    for k in ${figures[$id]}; do
      if [[ $b -eq 1 ]]; then
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
          "$([[ $first -eq 1 ]] && echo "${title[$id]}")" "${label[$k]:-$k}" \
          "$(cell "$id" chatroomd "$k")" "$(cell "$id" before "$k")" \
          "$(cell "$id" nchan "$k")" "$(cell "$id" floor "$k")" \
          "$(ratio "$k" "$id.chatroomd" "$id.before")" \
          "$(ratio "$k" "$id.chatroomd" "$id.nchan")" "$(ratio "$k" "$id.chatroomd" "$id.floor")"
      else
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' \
          "$([[ $first -eq 1 ]] && echo "${title[$id]}")" "${label[$k]:-$k}" \
          "$(cell "$id" chatroomd "$k")" "$(cell "$id" nchan "$k")" "$(cell "$id" floor "$k")" \
          "$(ratio "$k" "$id.chatroomd" "$id.nchan")" "$(ratio "$k" "$id.chatroomd" "$id.floor")"
      fi
      first=0
    done
  done
  local tag
  for tag in $(printf '%s\n' "${!FAIL[@]}" | sort); do echo; echo "FAILED: $tag: ${FAIL[$tag]}"; done
}

machine() {
  local cmd="bench/run.sh$([[ $mode == full ]] || echo " --$mode") --repeat $repeat$([[ $no_sync == 1 ]] && echo " --no-sync-wal")$([[ -n $before_bin ]] && echo " --before BIN")$([[ $only == "$default_only" ]] || echo " --only $only")"
  echo "- run: $started_at, \`$cmd\`, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), took $((elapsed_s / 60)) min $((elapsed_s % 60)) s"
  echo "- load average at the start: $load_at_start (other jobs on the box add noise)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ { print $2 " GiB RAM" }'), kernel $(uname -r), open files $(ulimit -Hn)"
  echo "- nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/.*nginx\///'), Nchan $(dpkg-query -W -f '${Version}' libnginx-mod-nchan 2>/dev/null || echo '?')"
  if [[ $no_sync == 0 ]]; then
    echo "- crload --workers $workers${crload_args:+ $crload_args}; chatroomd with ${main_config:-config/chatroomd.textproto as shipped (sync_wal: true)}"
  else
    echo "- crload --workers $workers; chatroomd with config/chatroomd.textproto but \`store { sync_wal: false }\` (--no-sync-wal: acknowledged sends survive a process crash, not a machine crash)"
  fi
  if [[ -n $before_bin ]]; then
    local same="same config"
    [[ $before_config == "$chatroomd_config" ]] || same="its config $before_config, chatroomd's $chatroomd_config"
    echo "- before (--before): $(describe_bin "$before_bin"), run like chatroomd ($(describe_bin "$chatroomd_bin")): $same, same crload settings, in every scenario chatroomd runs in"
  fi
  if [[ $repeat -gt 1 ]]; then
    local s order= order2= first=
    for s in $all_servers; do  # the selected servers in order, and rotated by one
      [[ ,$only, == *",$s,"* ]] || continue
      [[ $s == nchan ]] && s=Nchan
      order+="${order:+, }$s"
      if [[ -z $first ]]; then first=$s; else order2+="$s, "; fi
    done
    order2+=$first
    echo "- $repeat rounds: each round runs every scenario once on every server, a fresh server per run, a scenario's servers back to back, in the order $order rotated by one each round (round 2: $order2)"
    echo "- a cell: the median of the $repeat runs$([[ $((repeat % 2)) -eq 0 ]] && echo " (the mean of the two middle ones)"), then in parentheses the lowest–highest run (left out when all runs round to the same figure): \`9.68 (9.10–10.4)\`"
    echo "- lost, duplicated, skipped under gap, errors and online mismatches: the sum over the $repeat runs, with \"in k of $repeat runs\" when not zero"
    echo "- \"only k of $repeat runs\": the other runs gave no figure (FAILED below); the raw JSON lines are labelled scenario.server#round"
    echo "- ratios: median / median$([[ -n $before_bin ]] && echo " (chatroomd/before: the new build over the old one)"); for counts (lost, skipped, errors) the difference (of the sums)"
  else
    echo "- one run per cell (\`--repeat N\` for the median of N)"
    echo "- ratios: value / value; for counts (lost, skipped, errors) the difference"
  fi
}

{
  echo "# Long-poll benchmark"
  echo
  machine
  echo
  table
  echo
  echo "<details><summary>crload JSON lines</summary>"
  echo
  echo '```'
  printf '%s\n' "${raw[@]+"${raw[@]}"}"
  echo '```'
  echo "</details>"
} > "$work/table.md"
publish_results "$work/table.md"
# For bench/smoke.sh: the JSON lines, one per run, tagged scenario.server (with --repeat N
# above 1: scenario.server#round, one line per round).
if [[ -n ${BENCH_JSONL:-} ]]; then
  for ((round = 1; round <= repeat; round++)); do
    for id in "${ids[@]}"; do
      for server in $all_servers; do
        if [[ -s $work/$id.$server.$round.json ]]; then
          printf '%s\t%s\n' "$id.$server$([[ $repeat -eq 1 ]] || echo "#$round")" \
            "$(grep -m1 '^{' "$work/$id.$server.$round.json")"
        fi
      done
    done
  done > "$BENCH_JSONL"
fi
[[ $failures -eq 0 ]]
