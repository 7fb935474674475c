#!/usr/bin/env bash
# Installs what building chatroomd needs, from Debian 12 packages, skipping whatever is already
# there; with --test, also what its tests need (scripts/test.sh). Run as root.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config ccache
  libboost1.81-dev libboost-program-options1.81-dev libboost-json1.81-dev
  libprotobuf-dev protobuf-compiler librocksdb-dev libspdlog-dev libxxhash-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  dpkg-dev file
)
test_packages=(
  nginx libnginx-mod-nchan
  redis-server redis-tools
  curl clang-format
  clang libclang-rt-14-dev
  prometheus python3
  chromium
  adduser systemd
)
tests=false
[ "${1:-}" = "--test" ] && tests=true
$tests && packages+=("${test_packages[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The web client's tests: node (>= 18) and npm, by command, since a nodejs from elsewhere
# bundles npm and conflicts with Debian's npm package.
if $tests; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Only promtool (the metrics and dashboard tests) is wanted from prometheus: on a machine booted
  # with systemd the package starts and enables its server (:9090); stop it, as it was not there.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
fi

# The browser tests' driver (tests/browser/package-lock.json: playwright-core, which uses the
# Debian chromium above and downloads no browser).
browser_dir="$(dirname "$0")/../tests/browser"
if $tests && [ ! -d "$browser_dir/node_modules" ]; then
  (cd "$browser_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
