#!/usr/bin/env bash
# Installs what building and testing chatroomd needs, from Debian 12 packages, skipping
# whatever is already there. Run as root.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config ccache
  libboost1.81-dev libboost-program-options1.81-dev libboost-json1.81-dev
  libprotobuf-dev protobuf-compiler librocksdb-dev libspdlog-dev libxxhash-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nginx libnginx-mod-nchan
  redis-server redis-tools
  curl clang-format
  clang libclang-rt-14-dev
  dpkg-dev file adduser systemd
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
