#!/usr/bin/env bash
# The first thing to run: installs what is missing, builds regsweep, writes a small sample
# registry tree and collects its garbage (a dry run first, then for real with -m).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/build.sh
DEMO=${1:-$(mktemp -d /tmp/regsweep-demo.XXXXXX)/registry}
scripts/sample-tree.sh "$DEMO"
echo
echo "\$ regsweep gc --root $DEMO --dry-run --delete-untagged"
build/regsweep gc --root "$DEMO" --dry-run --delete-untagged
echo
echo "\$ regsweep gc --root $DEMO --delete-untagged --quiet"
build/regsweep gc --root "$DEMO" --delete-untagged --quiet
echo
echo "\$ regsweep gc --root $DEMO --dry-run --quiet   # a second run finds nothing left"
build/regsweep gc --root "$DEMO" --dry-run --quiet
echo
echo "the tree is in $DEMO; remove it with: rm -r '$(dirname "$DEMO")'"
