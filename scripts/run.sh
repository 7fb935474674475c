#!/usr/bin/env bash
# Installs what is missing, builds the daemon and runs it on the default config
# (127.0.0.1:8080, data in ./data, dev auth).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target chatroomd
exec build/chatroomd --config config/chatroomd.textproto "$@"
