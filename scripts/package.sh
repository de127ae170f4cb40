#!/usr/bin/env bash
# usage: scripts/package.sh
# Builds what the package holds (the binary, the man pages, the changelog: no tests) in
# $BUILD_DIR (default build-package, a Release build) and makes the Debian package with
# CPack; prints its path. Install it with `dpkg -i`; lintian accepts it
# (tests/cli/install_test.sh checks both).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
BUILD=${BUILD_DIR:-build-package}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DREGSWEEP_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target regsweep regsweep_man regsweep_changelog >/dev/null
rm -f "$BUILD"/regsweep_*.deb
(cd "$BUILD" && cpack -G DEB >/dev/null)
ls "$BUILD"/regsweep_*.deb
