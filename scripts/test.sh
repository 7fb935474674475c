#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test (unit, integration, the bench
# smoke run and the format check, scripts/check-format.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2 --timeout 300
