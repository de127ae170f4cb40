#!/usr/bin/env bash
# usage: scripts/package.sh
# Builds (scripts/build.sh) and makes the Debian package with CPack; prints its path.
# Install it with `dpkg -i`; lintian accepts it (tests/cli/install_test.sh checks both).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/build.sh >/dev/null
BUILD=${BUILD_DIR:-build}
rm -f "$BUILD"/regsweep_*.deb
(cd "$BUILD" && cpack -G DEB >/dev/null)
ls "$BUILD"/regsweep_*.deb
