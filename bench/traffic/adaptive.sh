#!/usr/bin/env bash
# bench/traffic/adaptive.sh: what adaptive traffic control saves in a big room
# (docs/benchmarks.md, "Adaptive tiers").
#
#   bench/traffic/adaptive.sh [--repeat N] [--quick] [--pollers N] [--messages M] [--rate R]
#                             [--publishers P]
#                             [--build-dir DIR] [--no-build] [--out FILE] [--keep]
#                             [--max-load L] [--load-wait-s S]
#
# One room with 10,000 pollers and a steady chat (900 messages at 20 msg/s: 45 s, from 8
# publishers: each keeps one send in flight, and with tiers off the daemon is saturated and an
# acknowledgement takes 100-400 ms; with 2 the floor's runs fell to about 10 msg/s), crload
# obeying next_poll_ms (--obey-next-poll) in every run, against two configs of one build:
#   off  the shipped config: no tiers, every answer says next_poll_ms 0, so each poller
#        re-polls at once: a long poll per message per poller, "the floor" of the saving;
#   on   the shipped config with
#          traffic { tiers { min_online: 0    poll_interval_ms: 0    hold_ms: 0 }
#                    tiers { min_online: 1000 poll_interval_ms: 1000 hold_ms: 200 } }
#        so the room (10,000 online) tells its pollers to wait 1 s between polls.
# N rounds (default 3), each runs both configs, a fresh daemon per run, the order swapped every
# round (off, on; on, off; ...). crload waits 2 s between "every poll held" and publishing
# (--publish-delay-s), so that the room's online count, which the tier follows and the daemon
# publishes once a second, is in place before the first message; the script reads the count
# from /v1/rooms/bench0/stats when publishing starts and reports it.
# Reports per config the medians (lowest–highest run) of requests per delivered message,
# server CPU per delivered message, delivery latency p50/p99/max, deliveries, and the sums of
# lost, duplicated and skipped; the ratios on/off; the targets (requests at least 58 % fewer,
# CPU per delivery at most 1/4 of the floor's, p99 at most poll_interval + hold + 100 ms).
# Writes bench/results/adaptive.md (--quick: 2,000 pollers, 100 messages, 1 round, no file
# unless --out). Before starting it waits (up to --load-wait-s, 900) for the 1-minute load
# average to fall below --max-load (0.8), and notes it. Every run is bounded in time; on exit
# it stops exactly the PIDs it started. Exits 1 if a run failed (no JSON or crload exit != 0).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
repeat=3 publishers=8 pollers=10000 messages=900 rate=20 quick=0 keep=0 do_build=1 out=
build_dir=$root/build max_load=0.8 load_wait_s=900
source "$root/bench/traffic/lib.sh"
parse_options adaptive.sh "$root/bench/results/adaptive.md" "$@"
log() { echo "adaptive.sh: $*" >&2; }

# The tier the room falls in with tiers on, and what the targets are made of.
min_online=1000 interval_ms=1000 hold_ms=200
tiers_block="traffic {
  tiers { min_online: 0 poll_interval_ms: 0 hold_ms: 0 }
  tiers { min_online: $min_online poll_interval_ms: $interval_ms hold_ms: $hold_ms }
  vip_promote_online: 0
  vip_demote_online: 0
  vip_switch_after_s: 60
}"
p99_bound_ms=$((interval_ms + hold_ms + 100))
poll_timeout_ms=60000 drain_s=10 publish_delay_s=2
duration_s=$(awk -v m="$messages" -v r="$rate" 'BEGIN { printf "%d", m / r + 60 + 30 }')

work=$(mktemp -d /tmp/chatroomd-bench-adaptive.XXXXXX)
cleanup() {
  stop_started
  if [[ $keep -eq 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_binaries
mkdir -p "$work/off" "$work/on"
make_config "$work/off/chatroomd.textproto" ""
make_config "$work/on/chatroomd.textproto" "$tiers_block"
if grep -q '^ *tiers' "$work/off/chatroomd.textproto"; then
  log "the shipped config has tiers: it is no longer the floor"; exit 2
fi

declare -A V    # V[config#round.key]
raw=() failures=0
run_one() {  # run_one CONFIG ROUND
  local cfg=$1 r=$2 tag="$1.$2" json line online
  start_chatroomd "$work/$cfg/chatroomd.textproto" "$tag" || { failures=$((failures + 1)); log "$tag: server did not start"; return; }
  log "$tag: crload --pollers $pollers --messages $messages --rate $rate --obey-next-poll (port $srv_port, pid $srv_pid)"
  start_crload "$tag" --pollers "$pollers" --rooms 1 --messages "$messages" --rate "$rate" \
    --publishers "$publishers" --workers 2 --poll-timeout-ms "$poll_timeout_ms" \
    --drain-s "$drain_s" --duration-s "$duration_s" --publish-delay-s "$publish_delay_s" \
    --obey-next-poll
  online=
  if wait_crload_line "$tag" "publishing " 120; then
    # The count the tier follows, as publishing starts (stats: "online": "10000").
    online=$(http GET /v1/rooms/bench0/stats | sed -n 's/.*"online": *"\{0,1\}\([0-9]*\).*/\1/p' | head -1)
    : "${online:=0}"
  fi
  finish_crload "$tag"
  json=$crload_json
  stop_chatroomd
  if [[ -z $json ]]; then
    failures=$((failures + 1))
    log "$tag: FAILED (crload exit $crload_rc, no JSON)"; tail -5 "$work/$tag.crload.err" >&2
    return
  fi
  [[ $crload_rc -eq 0 ]] || { failures=$((failures + 1)); log "$tag: crload exit $crload_rc"; }
  raw+=("$cfg#$r online_at_publish=${online:-?} $json")
  V[$cfg#$r.online_at_publish]=$online
  local k
  for k in requests_per_delivery server_cpu_us_per_delivery lat_p50_ms lat_p99_ms lat_max_ms \
           deliveries expected_deliveries lost duplicated skipped_gap responses_per_delivery \
           publish_rate_achieved errors requests; do
    V[$cfg#$r.$k]=$(jget "$k" "$json")
  done
  log "$tag: online at publish ${online:-?}; requests/delivery ${V[$cfg#$r.requests_per_delivery]}, CPU ${V[$cfg#$r.server_cpu_us_per_delivery]} us/delivery, p50 ${V[$cfg#$r.lat_p50_ms]} p99 ${V[$cfg#$r.lat_p99_ms]} ms, lost ${V[$cfg#$r.lost]}"
}

wait_quiet_box "$max_load" "$load_wait_s"
run_rounds off on

# --- the report -------------------------------------------------------------------------
row() {  # row LABEL KEY [count]: medians and ratio (or, for counts, sums)
  local off on
  if [[ ${3:-} == count ]]; then
    off=$(sum $(vals off "$2")) on=$(sum $(vals on "$2"))
    echo "| $1 | $off | $on | $((on - off)) |"
  else
    echo "| $1 | $(cell $(vals off "$2")) | $(cell $(vals on "$2")) | $(ratio "$(median $(vals on "$2"))" "$(median $(vals off "$2"))") |"
  fi
}
rpd_ratio=$(ratio "$(median $(vals on requests_per_delivery))" "$(median $(vals off requests_per_delivery))")
cpu_ratio=$(ratio "$(median $(vals on server_cpu_us_per_delivery))" "$(median $(vals off server_cpu_us_per_delivery))")
p99_on=$(median $(vals on lat_p99_ms))
read -r _ _ p99_on_hi _ < <(stats $(vals on lat_p99_ms))
verdict() {  # verdict OK_EXPR: met / missed / — (awk expression over nothing)
  awk "BEGIN { exit !($1) }" 2>/dev/null && echo "**met**" || echo "**missed**"
}
fewer=$(awk -v r="$rpd_ratio" 'BEGIN { if (r == "—") print "—"; else printf "%.1f %%", (1 - r) * 100 }')
{
  echo "# Adaptive tiers: one big room, tiers off and on"
  echo
  machine_lines "bench/traffic/adaptive.sh$([[ $quick -eq 1 ]] && echo " --quick") --repeat $repeat" "$started_at" "$elapsed_s"
  echo "- the room: $pollers pollers (crload --workers 2), $messages messages at $rate msg/s ($publishers publishers), crload \`--obey-next-poll --publish-delay-s $publish_delay_s --poll-timeout-ms $poll_timeout_ms\` in every run"
  echo "- off: config/chatroomd.textproto as shipped (no tiers: next_poll_ms 0, a long poll per message per poller: the floor); on: the same with \`traffic { tiers { min_online: 0 poll_interval_ms: 0 hold_ms: 0 } tiers { min_online: $min_online poll_interval_ms: $interval_ms hold_ms: $hold_ms } }\`"
  echo "- $repeat round$([[ $repeat -eq 1 ]] || echo s), each runs both configs with a fresh daemon, the order swapped every round (off first in odd rounds); a cell: the median (lowest–highest run); lost, duplicated, skipped: the sum over the runs; on/off: median / median"
  echo "- requests per delivery: polls sent after publishing started / distinct (poller, message) deliveries; server CPU: the daemon's utime + stime from the start of publishing to the end of the drain, per delivery"
  echo
  echo "| figure | tiers off (floor) | tiers on | on/off |"
  echo "|---|---:|---:|---:|"
  row "requests per delivery" requests_per_delivery
  row "server CPU per delivery (µs)" server_cpu_us_per_delivery
  row "p50 latency (ms)" lat_p50_ms
  row "p99 latency (ms)" lat_p99_ms
  row "max latency (ms)" lat_max_ms
  row "responses per delivery" responses_per_delivery
  row "deliveries" deliveries
  row "lost" lost count
  row "duplicated" duplicated count
  row "skipped under gap" skipped_gap count
  row "errors" errors count
  row "publish rate achieved (msg/s)" publish_rate_achieved
  row "room's online count when publishing started" online_at_publish
  echo
  echo "| target | result | |"
  echo "|---|---|---|"
  echo "| requests per delivered message >= 58 % fewer than the floor's | $fewer fewer (on/off $rpd_ratio) | $(verdict "\"$rpd_ratio\" != \"—\" && $rpd_ratio <= 0.42") |"
  echo "| server CPU per delivery <= 1/4 of the floor's | on/off $cpu_ratio | $(verdict "\"$cpu_ratio\" != \"—\" && $cpu_ratio <= 0.25") |"
  echo "| p99 latency <= poll_interval + hold + 100 ms = $p99_bound_ms ms | $(fmt "$p99_on") ms (worst run $(fmt "$p99_on_hi")) | $(verdict "\"$p99_on\" != \"-\" && $p99_on <= $p99_bound_ms") |"
  slow=$(for c in off on; do vals "$c" publish_rate_achieved; done |
    awk -v r="$rate" '/^[0-9.]+$/ && $1 < 0.9 * r { n++ } END { print n + 0 }')
  if [[ $slow -gt 0 ]]; then
    echo; echo "Note: in $slow runs the publishers fell below 90 % of $rate msg/s (acknowledgements were slow): those runs offered less."
  fi
  if [[ $failures -gt 0 ]]; then echo; echo "FAILED runs: $failures (see the log)"; fi
  echo
  echo "<details><summary>crload JSON lines (config#round, the room's online count when publishing started)</summary>"
  echo
  echo '```'
  printf '%s\n' "${raw[@]+"${raw[@]}"}"
  echo '```'
  echo "</details>"
} > "$work/table.md"
publish_results "$work/table.md"
[[ $failures -eq 0 ]]
