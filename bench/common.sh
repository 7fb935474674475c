# Sourced by the benchmark scripts (bench/run.sh, bench/presence/run.sh): the PIDs a script
# started and has not yet seen stopped, so that it ends exactly those (never by name), and how
# a script hands over its results.

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

# Prints the results table FILE and copies it to $out when that is set (the script's --out;
# `log` is the script's own).
publish_results() {
  cat "$1"
  if [[ -n $out ]]; then
    mkdir -p "$(dirname "$out")"
    cp "$1" "$out"
    log "wrote $out"
  fi
}
