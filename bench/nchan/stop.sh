#!/usr/bin/env bash
# Stop the nginx that bench/nchan/start.sh started from WORKDIR, by the PIDs it recorded:
# QUIT (graceful; held polls are cut after worker_shutdown_timeout), then TERM, then KILL.
#   bench/nchan/stop.sh WORKDIR
set -uo pipefail
[[ $# -eq 1 ]] || { echo "usage: stop.sh WORKDIR" >&2; exit 2; }
workdir=$1
pids=()
[[ -s $workdir/nginx.pid ]] && pids+=("$(cat "$workdir/nginx.pid")")
[[ -s $workdir/pids ]] && IFS=, read -r -a more < "$workdir/pids" && pids+=("${more[@]}")
[[ ${#pids[@]} -gt 0 ]] || exit 0

alive() {
  local p left=()
  # A PID that is no longer an nginx (exited, maybe reused) is not ours any more.
  for p in "${pids[@]}"; do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == nginx ]] && left+=("$p")
  done
  pids=("${left[@]+"${left[@]}"}")
  [[ ${#pids[@]} -gt 0 ]]
}
alive && kill -QUIT "${pids[0]}" 2>/dev/null
for sig in QUIT TERM KILL; do
  [[ $sig == QUIT ]] || { alive && kill -"$sig" "${pids[@]}" 2>/dev/null; }
  for _ in $(seq 100); do alive || break; sleep 0.1; done
  alive || break
done
rm -f "$workdir/pids"
alive && { echo "nchan/stop.sh: still running: ${pids[*]}" >&2; exit 1; }
exit 0
