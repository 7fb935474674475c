#!/usr/bin/env bash
# Start a private nginx + Nchan for the long-poll benchmark (bench/README.md).
#   bench/nchan/start.sh WORKDIR PORT
# Installs nginx and libnginx-mod-nchan from the Debian archive if they are missing, writes
# WORKDIR/nginx.conf from nginx.conf.in (own prefix, pid file, logs and temp paths), starts
# nginx (master + 2 workers, daemonised) and prints one line: `pids MASTER,W1,W2`.
# Stop it with bench/nchan/stop.sh WORKDIR. Env: NCHAN_SUB_TIMEOUT (default 60s), the
# longest a subscriber is held before an empty 304 (chatroomd's largest timeout_ms).
set -euo pipefail

die() { echo "nchan/start.sh: $*" >&2; exit 1; }
[[ $# -eq 2 ]] || die "usage: start.sh WORKDIR PORT"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
workdir=$(mkdir -p "$1" && cd "$1" && pwd)
port=$2
nginx=/usr/sbin/nginx
module=/usr/lib/nginx/modules/ngx_nchan_module.so

# Debian 12: the `nginx` package has the binary (and provides nginx-abi-1.22.1-7, which the
# module needs); nginx-light / nginx-core only add other modules on top of it.
if [[ ! -x $nginx || ! -f $module ]]; then
  [[ $(id -u) -eq 0 ]] || die "nginx/Nchan missing and not root: apt-get install nginx libnginx-mod-nchan"
  echo "nchan/start.sh: installing nginx libnginx-mod-nchan" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y --no-install-recommends nginx libnginx-mod-nchan >&2; }
  apt_install || { apt-get update >&2 && apt_install; } ||
    die "cannot install nginx + libnginx-mod-nchan from apt"
  [[ -x $nginx && -f $module ]] || die "installed, but $nginx or $module is missing"
  # The package may have started the system nginx (port 80): stop it the system's way. Where
  # there is no systemd (containers: policy-rc.d usually forbids the start) leave it alone.
  if [[ -s /run/nginx.pid ]] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    if [[ -d /run/systemd/system ]]; then
      systemctl stop nginx >&2 || true
      systemctl disable nginx >&2 || true
    else
      echo "nchan/start.sh: note: the package started a system nginx (/run/nginx.pid); left running" >&2
    fi
  fi
fi

if [[ -s $workdir/nginx.pid ]] && kill -0 "$(cat "$workdir/nginx.pid")" 2>/dev/null; then
  die "an nginx already runs from $workdir (pid $(cat "$workdir/nginx.pid")): stop.sh it first"
fi
mkdir -p "$workdir/tmp"
sed -e "s|@WORKDIR@|$workdir|g" -e "s|@PORT@|$port|g" -e "s|@MODULE@|$module|g" \
    -e "s|@SUB_TIMEOUT@|${NCHAN_SUB_TIMEOUT:-60s}|g" \
    "$here/nginx.conf.in" > "$workdir/nginx.conf"
rm -f "$workdir/nginx.pid"
# -e: the error log before the config is read; without it nginx opens /var/log/nginx/.
"$nginx" -p "$workdir/" -c "$workdir/nginx.conf" -e "$workdir/error.log" \
  || die "nginx failed to start; see $workdir/error.log"

# The master writes its pid file once it has forked the workers; wait for both workers and
# for the port to accept.
children() {  # PIDs whose parent is $1, from /proc (no procps needed)
  local s line rest
  for s in /proc/[0-9]*/stat; do
    { read -r line < "$s"; } 2>/dev/null || continue  # it may have exited meanwhile
    rest=${line##*) }
    set -- $rest
    [[ $2 == "$master" ]] && { line=${s#/proc/}; echo "${line%/stat}"; }
  done
  return 0
}
master=
workers=()
for _ in $(seq 100); do
  [[ -s $workdir/nginx.pid ]] && master=$(cat "$workdir/nginx.pid")
  if [[ -n $master ]]; then
    mapfile -t workers < <(children)
    if [[ ${#workers[@]} -ge 2 ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      break
    fi
  fi
  sleep 0.1
done
[[ -n $master && ${#workers[@]} -ge 2 ]] || die "nginx did not come up; see $workdir/error.log"
pids=$(IFS=,; echo "$master,${workers[*]}")
echo "$pids" > "$workdir/pids"
echo "pids $pids"
