#!/usr/bin/env bash
# usage: bench/realrun.sh [SHAPE...]   (SHAPES 100k 1m, default 100k; RUNS=3; BENCH_DIR=/tmp/regsweep-bench;
#                                       REGSWEEP=binary; OUT=file, default docs/performance-realrun.md)
# The real run, which operators run from cron, against upstream's real run and against the
# unlink floor (bench/unlink_floor.c): for `gc` and `gc -m`, each on a fresh hard-linked copy
# of the generated tree (warm: the copy was just made), medians of RUNS:
#   upstream  docker-registry garbage-collect [-m] CONFIG
#   regsweep  regsweep gc [-m] --min-age 0 -q --root COPY
#   dry run   the same with --dry-run (it changes nothing)
#   floor     unlink_floor: unlink and remove exactly the paths the plan deletes, phase by
#             phase, 2 threads, one syncfs a phase; nothing read or checked. It does not
#             remove the directories the deletions leave empty (regsweep does): a low floor.
# and the ratios the issue asks for: upstream / regsweep, regsweep / (dry run + floor).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
R=${REGSWEEP:-$TOP/build/regsweep}
W=${BENCH_DIR:-/tmp/regsweep-bench}
RUNS=${RUNS:-3}
SHAPES=${*:-100k}
[ -x "$R" ] || "$TOP/scripts/build.sh" >/dev/null
source "$TOP/bench/lib.sh"
mkdir -p "$W"
cc -O2 -pthread -o "$W/unlink_floor" "$TOP/bench/unlink_floor.c"
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$W/copy" >"$W/realrun.yml"
trap 'rm -rf "$W/copy"' EXIT

# floor_list FLAGS: the plan's deletions as "KIND<TAB>PATH" lines, in deletion order; a
# repository's own directories for a removed repository, as regsweep removes them.
floor_list() {
  fresh "$T" "$W/copy"
  # shellcheck disable=SC2086
  "$R" gc $1 --min-age 0 -q -d --json "$W/plan.json" --root "$W/copy" >/dev/null 2>&1 || true
  jq -r '.deletions[] | if .kind == "repository"
      then (.kind + "\t" + .path + "/_manifests"), (.kind + "\t" + .path + "/_layers"),
           (.kind + "\t" + .path + "/_uploads")
      else .kind + "\t" + .path end' "$W/plan.json" >"$W/floor.list"
}

out=${OUT:-$TOP/docs/performance-realrun.md}
{
  echo "# The real run: regsweep against upstream and against the unlink floor"
  echo
  echo "\`bench/realrun.sh\` on this machine ($(nproc) cores), $(date -u +%Y-%m-%d): each command on a"
  echo "fresh hard-linked copy of the generated tree (warm: the copy was just made), median of $RUNS."
  echo "The floor (\`bench/unlink_floor.c\`) unlinks and removes exactly the paths the plan deletes,"
  echo "phase by phase on 2 threads with one \`syncfs\` a phase, reading and checking nothing; it"
  echo "leaves the directories the deletions empty, which regsweep removes."
  echo
  echo "| shape | command | deletions | upstream | regsweep | dry run | floor | upstream / regsweep | regsweep / (dry run + floor) |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$out.tmp"
for shape in $SHAPES; do
  T=$(tree_of "$shape")
  for flags in "" "-m"; do
    up=() rs=() dry=() fl=()
    floor_list "$flags"
    n=$(wc -l <"$W/floor.list")
    for _ in $(seq 1 "$RUNS"); do
      fresh "$T" "$W/copy"
      # shellcheck disable=SC2086
      up+=("$(seconds docker-registry garbage-collect $flags "$W/realrun.yml")")
      fresh "$T" "$W/copy"
      # The dry run first: it changes nothing, and the real run then finds the same tree.
      # shellcheck disable=SC2086
      dry+=("$(seconds "$R" gc $flags --min-age 0 -q -d --root "$W/copy")")
      # shellcheck disable=SC2086
      rs+=("$(seconds "$R" gc $flags --min-age 0 -q --root "$W/copy")")
      fresh "$T" "$W/copy"
      fl+=("$(seconds "$W/unlink_floor" "$W/copy" "$W/floor.list" 2)")
    done
    u=$(printf '%s\n' "${up[@]}" | median)
    r=$(printf '%s\n' "${rs[@]}" | median)
    d=$(printf '%s\n' "${dry[@]}" | median)
    f=$(printf '%s\n' "${fl[@]}" | median)
    printf '| %s | gc %s | %s | %.2f s | %.2f s | %.2f s | %.2f s | %.2f | %.2f |\n' "$shape" \
      "$flags" "$n" "$u" "$r" "$d" "$f" "$(echo "$u / $r" | bc -l)" \
      "$(echo "$r / ($d + $f)" | bc -l)" >>"$out.tmp"
  done
done
mv "$out.tmp" "$out"
cat "$out"
