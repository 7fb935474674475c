#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test (unit, integration, the bench
# smoke run and the format check, scripts/check-format.sh); then the whole suite once more built
# with clang under AddressSanitizer and UndefinedBehaviorSanitizer, and each libFuzzer target for
# 30 s (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2 --timeout 300

cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCHATROOMD_SANITIZE=ON -DCHATROOMD_FUZZ=ON -DCHATROOMD_BENCH=OFF >/dev/null
cmake --build build-sanitize -j2
# The format check, the package (its own Release build) and the browser tests ran above;
# everything else again, under the sanitizers.
ctest --test-dir build-sanitize --output-on-failure -j2 --timeout 600 -LE 'lint|package|browser'
scripts/fuzz.sh build-sanitize 30
