# Sourced by bench/traffic/adaptive.sh and migration.sh: the binaries, a fresh chatroomd per
# run (stopped by its PID), crload's JSON line, medians with their range, the box's load.
# The sourcing script sets root and the options' defaults (then parse_options), work, and
# defines log.

# shellcheck source=bench/common.sh
source "$root/bench/common.sh"  # started, forget, stop_started, publish_results

# parse_options NAME DEFAULT_OUT ARGS...: the options both scenarios take, over the defaults
# the script set (repeat pollers messages rate publishers build_dir do_build out keep max_load
# load_wait_s quick); --quick makes it small (2,000 pollers, 100 messages, 1 round, no file
# unless --out); --help prints the script's header.
parse_options() {
  local name=$1 default_out=$2
  shift 2
  while [[ $# -gt 0 ]]; do
    case $1 in
      --repeat) repeat=$2; shift ;;
      --quick) quick=1 ;;
      --pollers) pollers=$2; shift ;;
      --messages) messages=$2; shift ;;
      --rate) rate=$2; shift ;;
      --publishers) publishers=$2; shift ;;
      --build-dir) build_dir=$(realpath -m "$2"); shift ;;
      --no-build) do_build=0 ;;
      --out) out=$2; shift ;;
      --keep) keep=1 ;;
      --max-load) max_load=$2; shift ;;
      --load-wait-s) load_wait_s=$2; shift ;;
      -h|--help) awk 'NR == 1 { next } /^#/ { print; next } { exit }' "$0"; exit 0 ;;
      *) echo "$name: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
  done
  if [[ $quick -eq 1 ]]; then
    pollers=2000 messages=100 repeat=1 load_wait_s=0
  else
    : "${out:=$default_out}"
  fi
  local v
  for v in repeat pollers messages; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$name: --$v ${!v}? (a whole number >= 1)" >&2; exit 2; }
  done
}

# run_rounds X Y: `run_one X ROUND` and `run_one Y ROUND` (the script's) for each of $repeat
# rounds, the order swapped every round (X first in odd rounds); sets started_at, elapsed_s.
run_rounds() {
  started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local start_s=$SECONDS round
  for ((round = 1; round <= repeat; round++)); do
    if ((round % 2)); then
      run_one "$1" "$round"; run_one "$2" "$round"
    else
      run_one "$2" "$round"; run_one "$1" "$round"
    fi
  done
  elapsed_s=$((SECONDS - start_s))
}

# vals X KEY: the rounds' values of KEY for X (the script's V[X#ROUND.KEY]).
vals() {
  local r
  for ((r = 1; r <= repeat; r++)); do echo "${V[$1#$r.$2]:-}"; done
}

# build_binaries: builds chatroomd and crload in $build_dir (unless --no-build); sets
# chatroomd_bin and crload_bin.
build_binaries() {
  if [[ $do_build -eq 1 ]]; then
    log "building chatroomd and crload in $build_dir"
    cmake -S "$root" -B "$build_dir" -G Ninja >/dev/null
    cmake --build "$build_dir" -j2 --target chatroomd crload >/dev/null
  fi
  chatroomd_bin=$build_dir/chatroomd crload_bin=$build_dir/bench/load/crload
  local b
  for b in "$chatroomd_bin" "$crload_bin"; do
    [[ -x $b ]] || { log "missing binary $b (build it, or drop --no-build)"; exit 1; }
  done
}

# make_config FILE TRAFFIC_BLOCK: the shipped main config with its traffic block replaced (an
# empty block keeps it as shipped); the shipped sects file goes next to it.
make_config() {
  if [[ -z $2 ]]; then
    cp "$root/config/chatroomd.textproto" "$1"
  else
    awk -v block="$2" '
      /^traffic \{/ { print block; skip = 1; next }
      skip && /^\}/ { skip = 0; next }
      !skip { print }' "$root/config/chatroomd.textproto" > "$1"
    grep -q 'tiers' "$1" || { log "no traffic block in $1"; exit 2; }
  fi
  cp "$root/config/sects.textproto" "$(dirname "$1")/"
}

# start_chatroomd CONFIG TAG: a fresh daemon on a free loopback port with its own data dir,
# its stdout and stderr in $work/TAG.log; sets srv_pid and srv_port.
start_chatroomd() {
  local port
  "$chatroomd_bin" --config "$1" --listen 127.0.0.1:0 --data-dir "$work/$2.data" \
    > "$work/$2.log" 2>&1 &
  srv_pid=$!
  started+=("$srv_pid")
  for _ in $(seq 300); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/$2.log" | head -1)
    [[ -n $port ]] && { srv_port=$port; return 0; }
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -20 "$work/$2.log" >&2
  return 1
}

# stop_chatroomd: SIGTERM to srv_pid, SIGKILL after 10 s; then its data dir goes.
stop_chatroomd() {
  kill -TERM "$srv_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$srv_pid" 2>/dev/null && { log "$srv_pid ignored SIGTERM, killing"; kill -KILL "$srv_pid" || true; }
  wait "$srv_pid" 2>/dev/null || true
  forget "$srv_pid"
}

# start_crload TAG ARGS...: crload against srv_port/srv_pid in the background (JSON in
# $work/TAG.json, its progress lines in $work/TAG.crload.err); sets crload_pid. Bounded by
# timeout as well as by its own --duration-s.
start_crload() {
  local tag=$1
  shift
  timeout -k 5 300 "$crload_bin" --target chatroomd --host 127.0.0.1 --port "$srv_port" \
    --server-pid "$srv_pid" "$@" > "$work/$tag.json" 2> "$work/$tag.crload.err" &
  crload_pid=$!
  started+=("$crload_pid")
}

# wait_crload_line TAG TEXT SECONDS: waits until crload's progress has TEXT (or crload ended).
wait_crload_line() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    grep -q -- "$2" "$work/$1.crload.err" 2>/dev/null && return 0
    kill -0 "$crload_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# finish_crload TAG: waits for crload; sets crload_json (its JSON line, empty if none) and
# crload_rc.
finish_crload() {
  crload_rc=0
  wait "$crload_pid" || crload_rc=$?
  forget "$crload_pid"
  crload_json=$(grep -m1 '^{' "$work/$1.json" || true)
}

# jget KEY JSON: the value of a key of crload's flat JSON line.
jget() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<< "$2"; }

# http METHOD PATH [BODY]: one request as an admin (dev mode), prints "CODE SECONDS" then the body.
http() {
  local args=(-s -o "$work/http.body" -w '%{http_code} %{time_total}\n' --max-time 10
              -X "$1" -H 'X-User-Id: bench-admin')
  [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data "$3")
  curl "${args[@]}" "http://127.0.0.1:$srv_port$2" || echo "000 0"
  cat "$work/http.body" 2>/dev/null
  echo
}

# stats VALUES...: "median lo hi n" of the numbers among them (the mean of the two middle ones
# for an even count); "- - - 0" if none.
stats() {
  printf '%s\n' "$@" | awk '/^-?[0-9.]+([eE][-+]?[0-9]+)?$/ { print }' | sort -g | awk '
    { x[++n] = $1 }
    END {
      if (n == 0) { print "- - - 0"; exit }
      m = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
      printf "%.10g %.10g %.10g %d\n", m, x[1], x[n], n
    }'
}

# fmt X: a figure with 3 significant digits or so.
fmt() {
  [[ $1 =~ ^-?[0-9.]+([eE][-+]?[0-9]+)?$ ]] || { echo "${1:-—}"; return; }
  awk -v x="$1" 'BEGIN {
    a = x < 0 ? -x : x
    if (a == int(a) && a >= 100) printf "%.0f", x
    else if (a < 0.1) printf "%.4f", x
    else if (a < 1) printf "%.3f", x
    else if (a < 10) printf "%.2f", x
    else if (a < 1000) printf "%.1f", x
    else printf "%.0f", x }'
}

# cell VALUES...: "median (lo–hi)", the range left out when it rounds to the median.
cell() {
  local m lo hi n
  read -r m lo hi n < <(stats "$@")
  [[ $n -eq 0 ]] && { echo "—"; return; }
  m=$(fmt "$m") lo=$(fmt "$lo") hi=$(fmt "$hi")
  if [[ $lo == "$hi" ]]; then echo "$m"; else echo "$m ($lo–$hi)"; fi
}

# median VALUES...
median() { local m _; read -r m _ < <(stats "$@"); echo "$m"; }

# sum VALUES...
sum() { printf '%s\n' "$@" | awk '/^[0-9]+$/ { s += $1 } END { printf "%d\n", s }'; }

# ratio A B: A / B with 2 decimals, or — .
ratio() {
  [[ $1 =~ ^[0-9.eE+-]+$ && $2 =~ ^[0-9.eE+-]+$ ]] || { echo "—"; return; }
  awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "—"; else printf "%.2f\n", a / b }'
}

# wait_quiet_box MAX_LOAD MAX_WAIT_S: waits (checking every 30 s) until the 1-minute load
# average is below MAX_LOAD, at most MAX_WAIT_S; sets load_at_start and load_note.
wait_quiet_box() {
  local waited=0 l
  load_note=
  while :; do
    l=$(cut -d' ' -f1 /proc/loadavg)
    awk -v l="$l" -v m="$1" 'BEGIN { exit !(l < m) }' && break
    if [[ $waited -ge $2 ]]; then
      load_note="the 1-minute load average was still $l after waiting $waited s for it to fall below $1"
      log "$load_note; starting anyway"
      break
    fi
    log "load average $l >= $1; waiting (${waited}s of $2)"
    sleep 30
    waited=$((waited + 30))
  done
  load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
  [[ $waited -gt 0 && -z $load_note ]] && load_note="waited $waited s for the load average to fall below $1"
  return 0
}

# machine_lines CMD STARTED_AT ELAPSED_S: the machine and run lines of a results file.
machine_lines() {
  echo "- run: $2, \`$1\`, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), took $(($3 / 60)) min $(($3 % 60)) s"
  echo "- load average at the start: $load_at_start${load_note:+ ($load_note)} (other jobs on the box add noise)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ { print $2 " GiB RAM" }'), kernel $(uname -r), open files $(ulimit -Hn)"
}
