# Sourced by the benchmark scripts (bench/run.sh, bench/presence/run.sh): the PIDs a script
# started and has not yet seen stopped, so that it ends exactly those (never by name).

started=()

# Drops PID $1 from `started` (it was stopped and reaped).
forget() {
  local p left=()
  for p in "${started[@]+"${started[@]}"}"; do [[ $p == "$1" ]] || left+=("$p"); done
  started=("${left[@]+"${left[@]}"}")
}

# SIGTERM to every PID still in `started`, up to 5 s for each to go, then SIGKILL.
stop_started() {
  local p
  for p in "${started[@]+"${started[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${started[@]+"${started[@]}"}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
}
