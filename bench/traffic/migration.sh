#!/usr/bin/env bash
# bench/traffic/migration.sh: what moving a busy room between sects costs its pollers
# (docs/benchmarks.md, "Migration under load").
#
#   bench/traffic/migration.sh [--repeat N] [--quick] [--pollers N] [--messages M] [--rate R]
#                              [--publishers P]
#                              [--build-dir DIR] [--no-build] [--out FILE] [--keep]
#                              [--max-load L] [--load-wait-s S]
#
# One room (bench0) with 10,000 held polls and 10 msg/s for 60 s (600 messages from 4
# publishers, as bench/run.sh's (c)), the shipped config and sects file (a normal sect,
# normal-1, and the VIP sect, vip; one thread each):
#   A  steady: nobody moves the room;
#   B  moving: from the first message to the last, every second, the room is moved to the other
#      sect with PUT /v1/admin/rooms/bench0 {"vip": true}, then {"vip": false}, ... (curl, one
#      request at a time; each answer must be 200; the loop stops by itself when crload says
#      publishing ended, or after messages / rate + 5 moves).
# N rounds (default 3), each runs A and B with a fresh daemon, the order swapped every round
# (A, B; B, A; ...). crload does not obey next_poll_ms here (no tiers: it is 0). Reports per
# run kind the medians (lowest–highest run) of delivery latency p50/p99/max, the sums of lost,
# duplicated and skipped (all must be 0), the moves answered 200 and the daemon's own count
# (chatroomd_room_migrations_total{trigger="admin"} from /metrics at the end), how long a move
# took (the PUT's round trip at the client, and the daemon's log line "room X moved to sect Y
# (admin) in Z ms": p50/p99/max over every move of every B run), and what the moves add to the
# latency (B's p99 against A's, as a ratio and a difference).
# Writes bench/results/migration.md (--quick: 2,000 pollers, 100 messages, 1 round, no file
# unless --out). Before starting it waits (up to --load-wait-s, 900) for the 1-minute load
# average to fall below --max-load (0.8), and notes it. Every run is bounded in time; on exit
# it stops exactly the PIDs it started. Exits 1 if a run failed (no JSON, crload exit != 0, a
# move answered other than 200).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
repeat=3 publishers=4 pollers=10000 messages=600 rate=10 quick=0 keep=0 do_build=1 out=
build_dir=$root/build max_load=0.8 load_wait_s=900
source "$root/bench/traffic/lib.sh"
parse_options migration.sh "$root/bench/results/migration.md" "$@"
log() { echo "migration.sh: $*" >&2; }

room=bench0 poll_timeout_ms=60000 drain_s=10 publish_delay_s=1
publish_s=$(awk -v m="$messages" -v r="$rate" 'BEGIN { printf "%d", (m + r - 1) / r }')
max_moves=$((publish_s + 5))
duration_s=$((publish_s + 90))

work=$(mktemp -d /tmp/chatroomd-bench-migration.XXXXXX)
cleanup() {
  stop_started
  if [[ $keep -eq 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_binaries
config=$work/chatroomd.textproto
make_config "$config" ""
grep -q 'vip: true' "$work/sects.textproto" || { log "the shipped sects file has no VIP sect"; exit 2; }

# mover TAG: from crload's "publishing" to its "published", once a second, moves the room to
# the other sect; one line per move in $work/TAG.moves: "HTTP_CODE SECONDS vip=BOOL".
mover() {
  local tag=$1 vip=true next k code secs
  wait_crload_line "$tag" "publishing " 120 || return 0
  next=${EPOCHREALTIME/./}
  for ((k = 0; k < max_moves; k++)); do
    grep -q "published " "$work/$tag.crload.err" && break
    read -r code secs < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 \
      -X PUT -H 'X-User-Id: bench-admin' -H 'Content-Type: application/json' \
      --data "{\"vip\":$vip}" "http://127.0.0.1:$srv_port/v1/admin/rooms/$room" || echo "000 0")
    echo "$code $secs vip=$vip" >> "$work/$tag.moves"
    [[ $vip == true ]] && vip=false || vip=true
    next=$((next + 1000000))
    local wait_us=$((next - ${EPOCHREALTIME/./}))
    ((wait_us > 0)) && sleep "$(awk -v u="$wait_us" 'BEGIN { printf "%.6f", u / 1e6 }')"
  done
  return 0
}

declare -A V    # V[kind#round.key]
raw=() failures=0
move_secs=() log_ms=()
run_one() {  # run_one A|B ROUND
  local kind=$1 r=$2 tag="$1.$2" json mover_pid= metrics k ok=0 bad=0 sect
  start_chatroomd "$config" "$tag" || { failures=$((failures + 1)); log "$tag: server did not start"; return; }
  log "$tag: crload --pollers $pollers --messages $messages --rate $rate$([[ $kind == B ]] && echo ", moving the room every second") (port $srv_port, pid $srv_pid)"
  : > "$work/$tag.moves"
  start_crload "$tag" --pollers "$pollers" --rooms 1 --messages "$messages" --rate "$rate" \
    --publishers "$publishers" --workers 2 --poll-timeout-ms "$poll_timeout_ms" \
    --drain-s "$drain_s" --duration-s "$duration_s" --publish-delay-s "$publish_delay_s"
  if [[ $kind == B ]]; then
    mover "$tag" &
    mover_pid=$!
    started+=("$mover_pid")
  fi
  finish_crload "$tag"
  json=$crload_json
  if [[ -n $mover_pid ]]; then
    wait "$mover_pid" || true
    forget "$mover_pid"
  fi
  metrics=$(http GET /metrics | sed -n 's/^chatroomd_room_migrations_total{trigger="admin"} \([0-9]*\).*/\1/p' | head -1)
  sect=$(http GET "/v1/rooms/$room/stats" | sed -n 's/.*"sect": *"\([^"]*\)".*/\1/p' | head -1)
  stop_chatroomd
  while read -r code secs _; do
    if [[ $code == 200 ]]; then ok=$((ok + 1)); move_secs+=("$secs"); else bad=$((bad + 1)); fi
  done < "$work/$tag.moves"
  # "room bench0 moved to sect vip (admin) in 12.3 ms"
  while read -r ms; do log_ms+=("$ms"); done < <(
    sed -n "s/.*room $room moved to sect [^ ]* (admin) in \([0-9.]*\) ms.*/\1/p" "$work/$tag.log")
  if [[ -z $json ]]; then
    failures=$((failures + 1))
    log "$tag: FAILED (crload exit $crload_rc, no JSON)"; tail -5 "$work/$tag.crload.err" >&2
    return
  fi
  [[ $crload_rc -eq 0 ]] || { failures=$((failures + 1)); log "$tag: crload exit $crload_rc"; }
  [[ $bad -eq 0 ]] || { failures=$((failures + 1)); log "$tag: $bad moves not answered 200"; }
  V[$kind#$r.moves]=$ok V[$kind#$r.moves_bad]=$bad V[$kind#$r.metrics]=${metrics:-?}
  V[$kind#$r.log_moves]=$(grep -c "room $room moved to sect .* (admin)" "$work/$tag.log" || true)
  raw+=("$kind#$r moves=$ok not_200=$bad migrations_total_admin=${metrics:-?} final_sect=${sect:-?} $json")
  for k in lat_p50_ms lat_p99_ms lat_max_ms deliveries expected_deliveries lost duplicated \
           skipped_gap errors server_cpu_us_per_delivery publish_rate_achieved reconnects; do
    V[$kind#$r.$k]=$(jget "$k" "$json")
  done
  log "$tag: moves $ok (not 200: $bad; metrics $metrics); p50 ${V[$kind#$r.lat_p50_ms]} p99 ${V[$kind#$r.lat_p99_ms]} max ${V[$kind#$r.lat_max_ms]} ms; lost ${V[$kind#$r.lost]} dup ${V[$kind#$r.duplicated]}"
}

wait_quiet_box "$max_load" "$load_wait_s"
run_rounds A B

# --- the report -------------------------------------------------------------------------
row() {  # row LABEL KEY [count]: medians and B/A (or, for counts, sums and B-A)
  local a b
  if [[ ${3:-} == count ]]; then
    a=$(sum $(vals A "$2")) b=$(sum $(vals B "$2"))
    echo "| $1 | $a | $b | $((b - a)) |"
  else
    echo "| $1 | $(cell $(vals A "$2")) | $(cell $(vals B "$2")) | $(ratio "$(median $(vals B "$2"))" "$(median $(vals A "$2"))") |"
  fi
}
pct() {  # pct P VALUES...: the nearest-rank P-th percentile
  local p=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v p="$p" '{ x[++n] = $1 } END {
    if (n == 0) { print "-"; exit } i = int(p / 100 * n + 0.999999); if (i < 1) i = 1; print x[i] }'
}
dist() {  # dist SCALE VALUES...: "p50 / p99 / max (n)" after multiplying by SCALE
  local scale=$1
  shift
  [[ $# -gt 0 ]] || { echo "—"; return; }
  local v=()
  mapfile -t v < <(printf '%s\n' "$@" | awk -v s="$scale" '{ printf "%.6f\n", $1 * s }')
  echo "$(fmt "$(pct 50 "${v[@]}")") / $(fmt "$(pct 99 "${v[@]}")") / $(fmt "$(pct 100 "${v[@]}")") ($# moves)"
}
p99_a=$(median $(vals A lat_p99_ms)) p99_b=$(median $(vals B lat_p99_ms))
max_a=$(median $(vals A lat_max_ms)) max_b=$(median $(vals B lat_max_ms))
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "—"; else printf "%+.1f", b - a }'; }
lost_all=$(( $(sum $(vals A lost)) + $(sum $(vals B lost)) ))
dup_all=$(( $(sum $(vals A duplicated)) + $(sum $(vals B duplicated)) ))
{
  echo "# Migration under load: a busy room moved between sects every second"
  echo
  machine_lines "bench/traffic/migration.sh$([[ $quick -eq 1 ]] && echo " --quick") --repeat $repeat" "$started_at" "$elapsed_s"
  echo "- the room: $pollers pollers holding a poll each (crload --workers 2), $messages messages at $rate msg/s ($publishers publishers), crload \`--publish-delay-s $publish_delay_s --poll-timeout-ms $poll_timeout_ms\`; config/chatroomd.textproto and config/sects.textproto as shipped (sects normal-1 and vip, one thread each; sync_wal: true)"
  echo "- A: steady; B: from the first message to the last, \`PUT /v1/admin/rooms/$room\` every second, {\"vip\": true} and {\"vip\": false} in turn (curl, one at a time)"
  echo "- $repeat round$([[ $repeat -eq 1 ]] || echo s), each runs A and B with a fresh daemon, the order swapped every round (A first in odd rounds); a cell: the median (lowest–highest run); lost, duplicated, skipped, errors, moves: the sum over the runs; B/A: median / median"
  echo
  echo "| figure | A: steady | B: moved every second | B/A |"
  echo "|---|---:|---:|---:|"
  row "p50 latency (ms)" lat_p50_ms
  row "p99 latency (ms)" lat_p99_ms
  row "max latency (ms)" lat_max_ms
  row "server CPU per delivery (µs)" server_cpu_us_per_delivery
  row "deliveries" deliveries
  row "lost" lost count
  row "duplicated" duplicated count
  row "skipped under gap" skipped_gap count
  row "reconnects (connections closed under a poll)" reconnects count
  row "errors" errors count
  row "publish rate achieved (msg/s)" publish_rate_achieved
  row "moves answered 200" moves count
  row "moves answered otherwise" moves_bad count
  row "chatroomd_room_migrations_total{trigger=\"admin\"} at the end" metrics count
  row "\"moved to sect\" log lines" log_moves count
  echo
  echo "| what a move costs | |"
  echo "|---|---|"
  echo "| lost / duplicated deliveries, all runs (must be 0) | $lost_all / $dup_all |"
  echo "| p99 latency, B against A | $(ratio "$p99_b" "$p99_a")x, $(diff_ms "$p99_a" "$p99_b") ms ($(fmt "$p99_b") against $(fmt "$p99_a")) |"
  echo "| max latency, B against A | $(ratio "$max_b" "$max_a")x, $(diff_ms "$max_a" "$max_b") ms ($(fmt "$max_b") against $(fmt "$max_a")) |"
  echo "| a move, as the daemon logs it (ms): p50 / p99 / max | $(dist 1 "${log_ms[@]+"${log_ms[@]}"}") |"
  echo "| a move, the PUT's round trip at the client (ms): p50 / p99 / max | $(dist 1000 "${move_secs[@]+"${move_secs[@]}"}") |"
  slow=$(for c in A B; do vals "$c" publish_rate_achieved; done |
    awk -v r="$rate" '/^[0-9.]+$/ && $1 < 0.9 * r { n++ } END { print n + 0 }')
  if [[ $slow -gt 0 ]]; then
    echo; echo "Note: in $slow runs the publishers fell below 90 % of $rate msg/s (acknowledgements were slow): those runs offered less."
  fi
  if [[ $failures -gt 0 ]]; then echo; echo "FAILED runs: $failures (see the log)"; fi
  echo
  echo "<details><summary>crload JSON lines (kind#round, moves answered 200 and not, the daemon's count, the room's sect at the end)</summary>"
  echo
  echo '```'
  printf '%s\n' "${raw[@]+"${raw[@]}"}"
  echo '```'
  echo "</details>"
} > "$work/table.md"
publish_results "$work/table.md"
[[ $failures -eq 0 ]]
