#!/usr/bin/env bash
# bench/run.sh: reproduce the long-poll benchmark table (bench/README.md).
#
#   bench/run.sh [--quick | --smoke] [--only chatroomd|nchan|floor[,...]] [--build-dir DIR]
#                [--no-build] [--chatroomd BIN] [--crload BIN] [--floor-server BIN]
#                [--out FILE] [--keep]
#
# Builds chatroomd, crload and floor_server, then for every server (chatroomd, Nchan, floor)
# and every scenario starts a fresh server, runs crload against it with the same settings,
# and stops the server by its PID. Prints a Markdown table and writes it, with the raw crload
# JSON lines and the machine, to bench/results/latest.md (--quick: quick.md; --smoke: no file
# unless --out). Exits 1 if any run failed (no JSON line, or crload exited non-zero).
# Every run is bounded in time; on exit (or ^C) it stops exactly the PIDs it started.
#
# Env: CRLOAD_WORKERS (default 2: the box has 2 cores, shared with the servers).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=full
only=chatroomd,nchan,floor
build_dir=$root/build
do_build=1
chatroomd_bin= crload_bin= floor_bin= out= keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --only) only=$2; shift ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift ;;
    --no-build) do_build=0 ;;
    --chatroomd) chatroomd_bin=$(realpath "$2"); shift ;;
    --crload) crload_bin=$(realpath "$2"); shift ;;
    --floor-server) floor_bin=$(realpath "$2"); shift ;;
    --out) out=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for s in ${only//,/ }; do
  [[ $s == chatroomd || $s == nchan || $s == floor ]] || { echo "run.sh: --only $s?" >&2; exit 2; }
done
if [[ -z $out ]]; then
  case $mode in full) out=$root/bench/results/latest.md ;; quick) out=$root/bench/results/quick.md ;; esac
fi
workers=${CRLOAD_WORKERS:-2}
log() { echo "run.sh: $*" >&2; }

# --- scenarios --------------------------------------------------------------------------
# id | title | servers | pollers rooms messages rate publishers poll_timeout_ms drain_s duration_s | figures
# duration_s bounds the whole crload run (connect + join + first poll, settle, publish, drain);
# drain_s is how long after the last publish crload waits for every poller to have every
# message. (a) publishes nothing: it measures the server once every poll is held. Figures:
# crload JSON keys. A crload publisher has one send in flight (it waits for the ack), so a
# paced scenario has enough publishers that a slow ack does not lower the offered rate; the
# "publish rate achieved" row shows whether it did.
scenarios_full='
a|(a) 10k idle pollers held|chatroomd,nchan,floor|10000 100 0 0 1 60000 0 20|rss_per_poll_bytes held_s errors
b|(b) fan-out 10k pollers, 1 room, 1 msg/s|chatroomd,nchan,floor|10000 1 25 1 2 60000 5 60|lat_p50_ms lat_p99_ms lost server_cpu_us_per_delivery publish_rate_achieved errors
c|(c) fan-out 10k pollers, 1 room, 10 msg/s|chatroomd,nchan,floor|10000 1 30 10 4 60000 5 45|lat_p50_ms lat_p99_ms lost server_cpu_us_per_delivery publish_rate_achieved errors
d|(d) 1k pollers, 1 room, publish flat out|chatroomd,nchan|1000 1 3000 0 4 60000 5 60|deliveries_per_s lost skipped_gap lat_p50_ms lat_p99_ms publish_rate_achieved responses_per_delivery errors
e|(e) 1,000 rooms x 10 pollers, 500 msg/s|chatroomd,nchan,floor|10000 1000 5000 500 4 60000 5 50|lat_p50_ms lat_p99_ms lost publish_rate_achieved errors
'
scenarios_quick='
a|(a) 1k idle pollers held|chatroomd,nchan,floor|1000 10 0 0 1 60000 0 5|rss_per_poll_bytes held_s errors
b|(b) fan-out 1k pollers, 1 room, 1 msg/s|chatroomd,nchan,floor|1000 1 5 1 2 60000 3 20|lat_p50_ms lat_p99_ms lost server_cpu_us_per_delivery publish_rate_achieved errors
c|(c) fan-out 1k pollers, 1 room, 10 msg/s|chatroomd,nchan,floor|1000 1 20 10 4 60000 3 20|lat_p50_ms lat_p99_ms lost server_cpu_us_per_delivery publish_rate_achieved errors
d|(d) 200 pollers, 1 room, publish flat out|chatroomd,nchan|200 1 500 0 4 60000 3 30|deliveries_per_s lost skipped_gap lat_p50_ms lat_p99_ms publish_rate_achieved responses_per_delivery errors
e|(e) 100 rooms x 10 pollers, 100 msg/s|chatroomd,nchan,floor|1000 100 500 100 2 60000 3 20|lat_p50_ms lat_p99_ms lost publish_rate_achieved errors
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
  [responses_per_delivery]='responses per delivery')
# Counts compare by difference, not ratio.
declare -A is_count=([lost]=1 [duplicated]=1 [skipped_gap]=1 [errors]=1 [deliveries]=1)

# --- build ------------------------------------------------------------------------------
if [[ $do_build -eq 1 && ( -z $chatroomd_bin || -z $crload_bin || -z $floor_bin ) ]]; then
  log "building in $build_dir"
  cmake -S "$root" -B "$build_dir" -G Ninja >/dev/null
  cmake --build "$build_dir" -j2 --target chatroomd crload floor_server
fi
: "${chatroomd_bin:=$build_dir/chatroomd}"
: "${crload_bin:=$build_dir/bench/load/crload}"
: "${floor_bin:=$build_dir/bench/floor/floor_server}"
for b in "$crload_bin" "$chatroomd_bin" "$floor_bin"; do
  [[ -x $b ]] || { log "missing binary $b (build it, or drop --no-build)"; exit 1; }
done

# --- server lifecycle -------------------------------------------------------------------
work=$(mktemp -d /tmp/chatroomd-bench.XXXXXX)
started=()        # every PID this script started and has not yet seen stopped
nchan_dirs=()     # nginx work dirs to stop.sh
cleanup() {
  local p d
  for d in "${nchan_dirs[@]+"${nchan_dirs[@]}"}"; do "$root/bench/nchan/stop.sh" "$d" || true; done
  for p in "${started[@]+"${started[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${started[@]+"${started[@]}"}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [[ $keep -eq 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() {  # drop $1 from started
  local p left=()
  for p in "${started[@]+"${started[@]}"}"; do [[ $p == "$1" ]] || left+=("$p"); done
  started=("${left[@]+"${left[@]}"}")
}

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
    chatroomd)
      # The shipped config as it is (config/chatroomd.textproto), so sync_wal: true: every
      # acknowledged send is fsynced (group commit). Auth off (dev mode) on loopback.
      "$chatroomd_bin" --config "$root/config/chatroomd.textproto" --listen 127.0.0.1:0 \
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

declare -A V      # V[scenario.server.key] = value
declare -A FAIL   # FAIL[scenario.server] = reason
failures=0

# errors may be a number or an object of counts: sum whatever is under "errors".
errors_total() {
  awk -F'\t' '$1 == "errors" || $1 ~ /^errors\./ { if ($2 ~ /^-?[0-9.]+$/) s += $2 } END { print s + 0 }'
}

run_one() {  # run_one SCENARIO_ID SERVER PARAMS
  local id=$1 server=$2 tag="$1.$2" rc=0 json k v
  read -r pollers rooms messages rate publishers poll_timeout drain duration <<< "$3"
  log "$tag: starting $server"
  if ! start_server "$server" "$tag"; then
    FAIL[$tag]="server did not start"; failures=$((failures + 1)); return
  fi
  log "$tag: crload --pollers $pollers --rooms $rooms --messages $messages --rate $rate (port $srv_port, pids $srv_pids)"
  # In the background so that cleanup can stop it by PID (timeout leaves our process group).
  timeout -k 5 $((duration + 60)) "$crload_bin" --target "$srv_target" --host 127.0.0.1 \
    --port "$srv_port" --pollers "$pollers" --rooms "$rooms" --messages "$messages" \
    --rate "$rate" --publishers "$publishers" --workers "$workers" --server-pid "$srv_pids" \
    --poll-timeout-ms "$poll_timeout" --drain-s "$drain" --duration-s "$duration" \
    > "$work/$tag.json" 2> "$work/$tag.crload.err" &
  local cpid=$!
  started+=("$cpid")
  wait "$cpid" || rc=$?
  forget "$cpid"
  stop_server "$server" "$tag"
  json=$(grep -m1 '^{' "$work/$tag.json" || true)
  if [[ -z $json ]]; then
    FAIL[$tag]="crload exit $rc, no JSON"; failures=$((failures + 1))
    log "$tag: FAILED (crload exit $rc); stderr tail:"; tail -5 "$work/$tag.crload.err" >&2
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
  ids+=("$id"); title[$id]=$t servers[$id]=$s params[$id]=$p figures[$id]=$f
done <<< "$scenarios"

started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
for server in chatroomd nchan floor; do
  [[ ,$only, == *",$server,"* ]] || continue
  for id in "${ids[@]}"; do
    [[ ,${servers[$id]}, == *",$server,"* ]] || continue
    run_one "$id" "$server" "${params[$id]}"
  done
done

# --- table ------------------------------------------------------------------------------
fmt() {  # fmt KEY VALUE
  local v=$2
  [[ $v =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] || { echo "${v:-—}"; return; }
  case $1 in
    lat_*|held_s|server_cpu_us_per_delivery|publish_rate_achieved|responses_per_delivery) awk -v x="$v" 'BEGIN { printf (x < 10 ? "%.2f" : "%.1f"), x }' ;;
    *) awk -v x="$v" 'BEGIN { printf "%.0f", x }' ;;
  esac
}
cell() {  # cell SCENARIO SERVER KEY
  local tag="$1.$2"
  [[ ,${servers[$1]}, == *",$2,"* && ,$only, == *",$2,"* ]] || { echo "—"; return; }
  if [[ -n ${FAIL[$tag]:-} && -z ${V[$tag.$3]+x} ]]; then echo "FAIL"; return; fi
  fmt "$3" "${V[$tag.$3]:-}"
}
ratio() {  # ratio KEY A B: A/B, or A-B for counts
  local a=${V[$2.$1]:-} b=${V[$3.$1]:-}
  [[ $a =~ ^-?[0-9.eE+]+$ && $b =~ ^-?[0-9.eE+]+$ ]] || { echo "—"; return; }
  if [[ -n ${is_count[$1]:-} ]]; then
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; printf (d > 0 ? "+%.0f" : "%.0f"), d }'
  else
    awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "—"; else printf "%.2f", a / b }'
  fi
}
table() {
  echo "| scenario | figure | chatroomd | Nchan | floor | chatroomd/Nchan | chatroomd/floor |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  local id k first
  for id in "${ids[@]}"; do
    first=1
    for k in ${figures[$id]}; do
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' \
        "$([[ $first -eq 1 ]] && echo "${title[$id]}")" "${label[$k]:-$k}" \
        "$(cell "$id" chatroomd "$k")" "$(cell "$id" nchan "$k")" "$(cell "$id" floor "$k")" \
        "$(ratio "$k" "$id.chatroomd" "$id.nchan")" "$(ratio "$k" "$id.chatroomd" "$id.floor")"
      first=0
    done
  done
  local tag
  for tag in "${!FAIL[@]}"; do echo; echo "FAILED: $tag: ${FAIL[$tag]}"; done
}

machine() {
  echo "- run: $started_at, \`bench/run.sh$([[ $mode == full ]] || echo " --$mode")\`, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "- load average at the start: $load_at_start (other jobs on the box add noise)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ { print $2 " GiB RAM" }'), kernel $(uname -r), open files $(ulimit -Hn)"
  echo "- nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/.*nginx\///'), Nchan $(dpkg-query -W -f '${Version}' libnginx-mod-nchan 2>/dev/null || echo '?')"
  echo "- crload --workers $workers; chatroomd with config/chatroomd.textproto as shipped (sync_wal: true)"
  echo "- ratios: value / value; for counts (lost, skipped, errors) the difference"
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
cat "$work/table.md"
if [[ -n $out ]]; then
  mkdir -p "$(dirname "$out")"
  cp "$work/table.md" "$out"
  log "wrote $out"
fi
# For bench/smoke.sh: the JSON lines, one per run, tagged.
if [[ -n ${BENCH_JSONL:-} ]]; then
  for id in "${ids[@]}"; do
    for server in chatroomd nchan floor; do
      if [[ -s $work/$id.$server.json ]]; then
        printf '%s.%s\t%s\n' "$id" "$server" "$(grep -m1 '^{' "$work/$id.$server.json")"
      fi
    done
  done > "$BENCH_JSONL"
fi
[[ $failures -eq 0 ]]
