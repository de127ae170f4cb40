#!/usr/bin/env bash
# The first thing to run: installs what is missing, builds regsweep, writes a small sample
# registry tree, audits it (with an HTML report), collects its garbage (a dry run first, then for
# real) and checks it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/build.sh
DEMO=${1:-$(mktemp -d /tmp/regsweep-demo.XXXXXX)/registry}
scripts/sample-tree.sh "$DEMO"
R=build/regsweep
# The sample was written a moment ago: the default grace period (--min-age 1h) would keep all
# of it, as it would keep a push in progress. --min-age 0 collects as upstream does.
run() {
  echo
  echo "\$ regsweep $*"
  "$R" "$@" || true
}
REPORT=$(dirname "$DEMO")/usage.html
run du --root "$DEMO" --min-age 0 --html "$REPORT"
run gc --root "$DEMO" --min-age 0 --dry-run --delete-untagged
run gc --root "$DEMO" --min-age 0 --delete-untagged --quiet
run ls -t --root "$DEMO"
run fsck --root "$DEMO" --verify-data
echo
echo "the usage report (open it in a browser): $REPORT"
echo "the tree is in $DEMO; remove it with: rm -r '$(dirname "$DEMO")'"
