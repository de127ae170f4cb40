#!/usr/bin/env bash
# usage: bench/quarantine.sh [SHAPE...]   (SHAPES 100k 1m; RUNS=3; RESTORE=0 to skip restore;
#                                          BENCH_DIR=/tmp/regsweep-bench; REGSWEEP=binary;
#                                          OUT=file, default docs/performance-quarantine.md)
# Times a real `regsweep gc -m --min-age 0` and the same with --quarantine, each on a fresh
# hard-linked copy of the same generated tree (bench/run.sh's shapes), alternating, warm
# cache; then `regsweep restore` of the quarantine run. Writes docs/performance-quarantine.md.
# The target (issue 33): --quarantine at most 1.2 times a plain gc on the 1M-blob tree.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
R=${REGSWEEP:-$TOP/build/regsweep}
W=${BENCH_DIR:-/tmp/regsweep-bench}
RUNS=${RUNS:-3}
SHAPES=${*:-100k 1m}
[ -x "$R" ] || "$TOP/scripts/build.sh" >/dev/null
source "$TOP/bench/lib.sh"

out=${OUT:-$TOP/docs/performance-quarantine.md}
{
  echo "# --quarantine against a plain gc"
  echo
  echo "\`bench/quarantine.sh\` on this machine ($(nproc) cores), $(date -u +%Y-%m-%d): a real"
  echo "\`gc -m --min-age 0\`, and the same with \`--quarantine\`, each on a fresh hard-linked copy"
  echo "of the generated tree, alternating, warm cache; median of $RUNS. Then \`restore\` of the run."
  echo
  echo "| shape | files | gc -m | gc -m --quarantine | ratio | restore |"
  echo "|---|---|---|---|---|---|"
} >"$out.tmp"
for shape in $SHAPES; do
  T=$(tree_of "$shape")
  files=$(find "$T" -type f | wc -l)
  plain=() quarantine=() restore=()
  for _ in $(seq 1 "$RUNS"); do
    fresh "$T" "$W/copy"
    plain+=("$(seconds "$R" gc -m --min-age 0 -q --root "$W/copy")")
    fresh "$T" "$W/copy"
    quarantine+=("$(seconds "$R" gc -m --min-age 0 -q --quarantine --root "$W/copy")")
    if [ "${RESTORE:-1}" != 0 ]; then
      restore+=("$(seconds "$R" restore -q --root "$W/copy")")
    else
      restore+=(0)
    fi
  done
  rm -rf "$W/copy"
  p=$(printf '%s\n' "${plain[@]}" | median)
  q=$(printf '%s\n' "${quarantine[@]}" | median)
  r=$(printf '%s\n' "${restore[@]}" | median)
  printf '| %s | %s | %.2f s | %.2f s | %.2f | %.2f s |\n' "$shape" "$files" "$p" "$q" \
    "$(echo "$q / $p" | bc -l)" "$r" >>"$out.tmp"
done
mv "$out.tmp" "$out"
cat "$out"
