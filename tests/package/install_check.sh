#!/usr/bin/env bash
# The Debian package really installed, run, upgraded, removed and purged with dpkg, as root,
# without changing the machine: run by package_test.sh under `unshare --mount --pid --fork`, it
# lays overlays over /etc, /usr and /var (dpkg's database, the users, /var/lib/chatroomd: every
# change lands in WORK_DIR and is gone with the namespace) and a fresh /run, so the maintainer
# scripts see a machine where systemd is not running (a container) and never touch the host's
# systemd. A started daemon dies with the namespace.
# Usage (inside the namespace): install_check.sh DEB WORK_DIR
set -euo pipefail
deb=$1
work=$2
fail() { echo "FAIL (install): $*" >&2; exit 1; }
ok() { echo "ok (install): $*"; }

# Exit 77 (skipped) where the overlays cannot be made, e.g. an unprivileged container.
for d in etc usr var; do
  mkdir -p "$work/$d/upper" "$work/$d/work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/$d/upper,workdir=$work/$d/work" \
    "/$d" || { echo "SKIP: cannot lay an overlay over /$d" >&2; exit 77; }
done
mount -t tmpfs tmpfs /run
[ ! -e /run/systemd/system ] || fail "/run/systemd/system still visible"
export DEBIAN_FRONTEND=noninteractive

# A machine that had the package (a developer who followed the docs) starts clean here.
if dpkg-query -W -f='${Status}' chatroomd 2>/dev/null | grep -q installed; then
  dpkg --purge chatroomd >/dev/null
fi
if getent passwd chatroomd >/dev/null; then userdel chatroomd; fi
if getent group chatroomd >/dev/null; then groupdel chatroomd; fi
rm -rf /var/lib/chatroomd /etc/chatroomd

# --- install: must not fail where systemd is not running ---
dpkg -i "$deb" </dev/null || fail "dpkg -i"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd chatroomd) || fail "no chatroomd user"
[ "$uid" -lt 1000 ] || fail "chatroomd uid $uid is not a system uid"
[ "$(getent group chatroomd | cut -d: -f3)" = "$gid" ] || fail "chatroomd's group"
[ "$home" = /var/lib/chatroomd ] && [ "$shell" = /usr/sbin/nologin ] || fail "home $home shell $shell"
[ "$(stat -c '%U:%G %a' /var/lib/chatroomd)" = "chatroomd:chatroomd 750" ] ||
  fail "/var/lib/chatroomd is $(stat -c '%U:%G %a' /var/lib/chatroomd)"
secret=/etc/chatroomd/jwt.secret
[ "$(stat -c '%U:%G %a %s' $secret)" = "root:chatroomd 640 64" ] ||
  fail "$secret is $(stat -c '%U:%G %a %s' $secret)"
grep -qx '[0-9a-f]\{64\}' $secret || fail "$secret is not 32 random bytes in hex"
wants=/etc/systemd/system/multi-user.target.wants/chatroomd.service
[ "$(readlink $wants)" = /lib/systemd/system/chatroomd.service ] || fail "unit not enabled"
ok "user $uid:$gid, /var/lib/chatroomd, the secret, the unit enabled"

# The unit as systemd would load it, with the binary at its path.
systemd-analyze verify /lib/systemd/system/chatroomd.service || fail "systemd-analyze verify"
ok "systemd-analyze verify"

# --- the installed daemon, as the unit runs it (its user, its config, its state directory),
# but on a free loopback port ---
as_chatroomd() { setpriv --reuid=chatroomd --regid=chatroomd --init-groups "$@"; }
as_chatroomd /usr/bin/chatroomd --check-config --config /etc/chatroomd/chatroomd.textproto ||
  fail "--check-config as chatroomd"
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/chatroomd --check-config \
  --config /etc/chatroomd/chatroomd.textproto >/dev/null 2>&1 && fail "nobody can read the secret"
(cd /var/lib/chatroomd &&
  exec setpriv --reuid=chatroomd --regid=chatroomd --init-groups /usr/bin/chatroomd \
    --config /etc/chatroomd/chatroomd.textproto --listen 127.0.0.1:0 \
    >"$work/daemon.out" 2>"$work/daemon.err") &
daemon=$!
for _ in $(seq 300); do
  grep -q '^listening on ' "$work/daemon.out" 2>/dev/null && break
  kill -0 $daemon 2>/dev/null || fail "the daemon exited: $(cat "$work/daemon.err")"
  sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$work/daemon.out" | head -n 1)
[ -n "$addr" ] || fail "no 'listening on' within 30 s: $(cat "$work/daemon.err")"
status() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
[ "$(status "http://$addr/healthz")" = 200 ] || fail "/healthz"
[ "$(status -X POST -H 'X-User-Id: alice' "http://$addr/v1/rooms/lobby/join")" = 401 ] ||
  fail "a join without a token was not refused: $(cat "$work/body")"
token=$(/usr/bin/chatroomd token --user alice --config /etc/chatroomd/chatroomd.textproto)
auth="Authorization: Bearer $token"
[ "$(status -X POST -H "$auth" "http://$addr/v1/rooms/lobby/join")" = 200 ] ||
  fail "join with a token: $(cat "$work/body")"
[ "$(status -X POST -H "$auth" -d '{"body":"hi"}' "http://$addr/v1/rooms/lobby/messages")" = 200 ] ||
  fail "send: $(cat "$work/body")"
kill -HUP $daemon
sleep 0.5
[ "$(status "http://$addr/healthz")" = 200 ] || fail "/healthz after SIGHUP"
kill -TERM $daemon
wait $daemon || fail "the daemon exited $? on SIGTERM: $(cat "$work/daemon.err")"
[ -f /var/lib/chatroomd/CURRENT ] || fail "no RocksDB in /var/lib/chatroomd"
[ -z "$(find /var/lib/chatroomd ! -user chatroomd)" ] || fail "state not owned by chatroomd"
ok "the daemon as chatroomd: JWT auth on, a message stored, reload, clean stop"

# --- upgrade (the same package again): edited conffiles and the secret are kept ---
echo '# edited by the operator' >>/etc/chatroomd/sects.textproto
before=$(cat $secret)
dpkg -i "$deb" </dev/null || fail "dpkg -i over the installed package"
tail -n 1 /etc/chatroomd/sects.textproto | grep -qx '# edited by the operator' ||
  fail "the edited conffile was replaced"
[ "$(cat $secret)" = "$before" ] || fail "the upgrade changed the secret"
ok "upgrade keeps edited conffiles and the secret"

# --- remove: the program goes, the data and the config stay ---
dpkg -r chatroomd </dev/null || fail "dpkg -r"
[ ! -e /usr/bin/chatroomd ] && [ ! -e /lib/systemd/system/chatroomd.service ] ||
  fail "files left after remove"
[ -f /var/lib/chatroomd/CURRENT ] || fail "remove deleted the data"
[ -f $secret ] && [ -f /etc/chatroomd/chatroomd.textproto ] || fail "remove deleted the config"
getent passwd chatroomd >/dev/null || fail "remove deleted the user"
ok "remove keeps data, config and user"

# --- purge: the data, the config and the secret go ---
dpkg -P chatroomd </dev/null || fail "dpkg -P"
[ ! -e /var/lib/chatroomd ] || fail "purge left /var/lib/chatroomd"
[ ! -e /etc/chatroomd ] || fail "purge left /etc/chatroomd: $(ls -A /etc/chatroomd)"
[ ! -e $wants ] || fail "purge left the unit enabled"
ok "purge removes data, config and secret"
