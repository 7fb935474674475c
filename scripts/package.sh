#!/usr/bin/env bash
# Builds the Debian package build/chatroomd_<version>_<arch>.deb (docs/operations.md, "Install
# from the package"): a Release build of the daemon alone in build-package/, packed by CPack
# (cmake/package.cmake, packaging/). Needs what scripts/install-deps.sh installs; not root.
# Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cmake -S . -B build-package -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHATROOMD_PACKAGE=ON \
  -DCHATROOMD_TESTS=OFF -DCHATROOMD_BENCH=OFF -DCHATROOMD_SANITIZE=OFF -DCHATROOMD_FUZZ=OFF \
  >/dev/null
cmake --build build-package -j2 --target chatroomd
# A package left by an earlier run must not be taken for this one.
rm -f build-package/chatroomd_*.deb
(cd build-package && cpack -G DEB >/dev/null)
debs=(build-package/chatroomd_*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
  echo "package.sh: cpack made no single chatroomd_*.deb in build-package/" >&2
  exit 1
fi
mkdir -p build
name=$(basename "${debs[0]}")
rm -f build/chatroomd_*.deb
cp "${debs[0]}" "build/$name"
echo "$root/build/$name"
