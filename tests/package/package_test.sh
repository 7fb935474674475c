#!/usr/bin/env bash
# ctest `package` (label package): builds the Debian package with scripts/package.sh and checks
# it as dpkg and systemd will see it: the file name, the control fields and the declared
# dependencies (every shared library the binary needs comes from a package in Depends), the
# contents, the conffiles, the maintainer scripts, the unit's directives, and the packaged binary
# running --check-config on the packaged configs. Then install_check.sh really installs,
# runs, upgrades, removes and purges it as root inside a private mount namespace whose /etc,
# /usr and /var are overlays on the host's, so the host is not changed (docs/operations.md,
# "Install from the package", says why).
# Usage: package_test.sh SOURCE_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

deb=$("$src/scripts/package.sh" | tail -n 1)
version=$(sed -n 's/^project(chatroomd VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
[ "$deb" = "$src/build/chatroomd_${version}_${arch}.deb" ] || fail "package is $deb"
[ -f "$deb" ] || fail "$deb missing"
ok "file name $(basename "$deb")"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- control fields ---
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = chatroomd ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
[ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ] || fail "no Maintainer/Description"
depends=$(field Depends)
# The names of the packages in Depends, one a line.
echo "$depends" | tr ',' '\n' | sed 's/^ *//; s/[ (:].*//' >"$tmp/depends"
for want in adduser libc6 libstdc++6 libprotobuf32 libssl3 libboost-json1.81.0 \
  libboost-program-options1.81.0 libspdlog1.10-fmt9 libxxhash0 libsnappy1v5 libzstd1; do
  grep -qx "$want" "$tmp/depends" || fail "Depends lacks $want: $depends"
done
ok "Depends: $depends"

# --- contents ---
dpkg-deb -c "$deb" | awk '{print $2, substr($6, 2)}' >"$tmp/contents"
for f in /usr/bin/chatroomd /etc/chatroomd/chatroomd.textproto /etc/chatroomd/sects.textproto \
  /lib/systemd/system/chatroomd.service /usr/share/doc/chatroomd/copyright \
  /usr/share/doc/chatroomd/operations.md; do
  grep -q " $f\$" "$tmp/contents" || fail "$f not in the package"
done
# Nothing but these trees, all owned by root; no secret and no state shipped.
if grep -v ' /\(usr/bin\|usr/share/doc/chatroomd\|etc/chatroomd\|lib/systemd/system\)\(/\|$\)' \
  "$tmp/contents" | grep -v ' /\(usr\|usr/share\|usr/share/doc\|etc\|lib\|lib/systemd\)/$'; then
  fail "unexpected files in the package"
fi
grep -qv '^root/root ' "$tmp/contents" && fail "a file not owned by root/root"
grep -q 'jwt.secret\|/var/' "$tmp/contents" && fail "the package ships a secret or state"
ok "contents"

# --- control files: conffiles and maintainer scripts ---
dpkg-deb -e "$deb" "$tmp/control"
printf '/etc/chatroomd/chatroomd.textproto\n/etc/chatroomd/sects.textproto\n' |
  diff - "$tmp/control/conffiles" || fail "conffiles"
for s in postinst prerm postrm; do
  [ -x "$tmp/control/$s" ] || fail "$s missing or not executable"
  sh -n "$tmp/control/$s" || fail "$s: syntax"
done
has() { grep -q -- "$2" "$tmp/control/$1" || fail "$1 lacks: $2"; }
has postinst 'adduser --system --group'
has postinst '/var/lib/chatroomd'
has postinst 'chown root:chatroomd'
has postinst 'chmod 0640'
has postinst "deb-systemd-helper enable 'chatroomd.service'"
has postinst 'if \[ -d /run/systemd/system \]; then'
has postinst "deb-systemd-invoke \$_dh_action 'chatroomd.service'"
has prerm "deb-systemd-invoke stop 'chatroomd.service'"
has postrm "deb-systemd-helper purge 'chatroomd.service'"
# The state goes on purge only: every rm -rf of it is inside the purge branch.
where=$(awk '/"\$1" = "purge"/ {p = 1} /rm -rf \/var\/lib\/chatroomd/ {print p ? "purge" : "other"}' \
  "$tmp/control/postrm" | sort -u)
[ "$where" = purge ] || fail "postrm deletes the state outside purge"
ok "conffiles and maintainer scripts"

# --- the files themselves ---
dpkg-deb -x "$deb" "$tmp/root"
# Every shared library the binary loads comes from a package that Depends names, so apt pulls
# it in. (RocksDB is linked statically, from librocksdb-dev's librocksdb.a: only its compression
# libraries are loaded.)
ldd "$tmp/root/usr/bin/chatroomd" | awk '$2 == "=>" {print $3}' >"$tmp/libs"
[ -s "$tmp/libs" ] || fail "ldd found no libraries"
while read -r lib; do
  real=$(readlink -f "$lib")
  owner=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "$lib") ||
    fail "no package holds $lib"
  owner=${owner%%:*}
  # The package itself, or a name it provides (libspdlog1.10 provides libspdlog1.10-fmt9).
  names=$(echo "$owner, $(dpkg-query -W -f='${Provides}' "$owner")" | tr ',' '\n' |
    sed 's/^ *//; s/[ (:].*//')
  echo "$names" | grep -qxFf "$tmp/depends" ||
    fail "$lib is from $owner, which Depends does not name"
done <"$tmp/libs"
ok "every library the binary loads is from a package in Depends ($(wc -l <"$tmp/libs"))"
unit=$tmp/root/lib/systemd/system/chatroomd.service
for line in 'Type=exec' 'User=chatroomd' 'Group=chatroomd' \
  'ExecStart=/usr/bin/chatroomd --config /etc/chatroomd/chatroomd.textproto' \
  'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' 'LimitNOFILE=1048576' \
  'StateDirectory=chatroomd' 'ReadWritePaths=/var/lib/chatroomd' 'NoNewPrivileges=yes' \
  'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'WantedBy=multi-user.target'; do
  grep -qxF -- "$line" "$unit" || fail "the unit lacks $line"
done
# systemd's own score of the sandbox (0 = fully locked down, 10 = none); verify needs the
# binary at its real path, so install_check.sh runs it on the installed unit.
systemd-analyze security --offline=yes --threshold=20 "$unit" >"$tmp/security" ||
  fail "systemd-analyze security: $(tail -n 1 "$tmp/security")"
ok "unit directives; $(tail -n 1 "$tmp/security" | sed 's/→ //')"

conf=$tmp/root/etc/chatroomd/chatroomd.textproto
for line in '  enabled: true' '  jwt_secret_file: "/etc/chatroomd/jwt.secret"' \
  '  data_dir: "/var/lib/chatroomd"  # packaged: the package'"'"'s state directory' \
  '  host: "0.0.0.0"            # packaged: every IPv4 address ("::" for IPv6)' \
  'sects_file: "sects.textproto"'; do
  grep -qxF -- "$line" "$conf" || fail "the packaged config lacks: $line"
done
# --check-config reads the secret file named in the config: point it into the extracted tree.
sed -i "s|/etc/chatroomd/|$tmp/root/etc/chatroomd/|" "$conf"
bin=$tmp/root/usr/bin/chatroomd
"$bin" --check-config --config "$conf" >"$tmp/out" 2>&1 &&
  fail "--check-config passed without the secret file (postinst makes it): $(cat "$tmp/out")"
grep -q 'jwt.secret' "$tmp/out" || fail "--check-config did not name the secret: $(cat "$tmp/out")"
printf 'short\n' >"$tmp/root/etc/chatroomd/jwt.secret"
"$bin" --check-config --config "$conf" >/dev/null 2>&1 && fail "--check-config took a 5-byte secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/root/etc/chatroomd/jwt.secret"
"$bin" --check-config --config "$conf" || fail "--check-config on the packaged configs"
ok "packaged binary: --check-config on the packaged configs"

# --- a real install, in a private mount namespace ---
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the install check needs root (the test command runs as root)"
  exit 77
fi
if ! unshare --mount --pid --fork true 2>/dev/null; then
  echo "SKIP: the install check needs mount and PID namespaces (unshare)"
  exit 77
fi
rc=0
unshare --mount --pid --fork --propagation private \
  bash "$here/install_check.sh" "$deb" "$tmp/ns" || rc=$?
[ $rc != 77 ] || exit 77
[ $rc = 0 ] || fail "install check"
ok "install, run, upgrade, remove, purge"
echo "package test passed"
