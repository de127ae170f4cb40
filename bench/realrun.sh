#!/usr/bin/env bash
# usage: bench/realrun.sh [SHAPE...]   (SHAPES 100k many 1m, default 100k; RUNS=3;
#                                       BENCH_DIR=/tmp/regsweep-bench; REGSWEEP=binary;
#                                       COMMANDS="gc gc-m" (default both);
#                                       FLOOR_THREADS=N, the floor's threads (default 64,
#                                       as many as regsweep's default -j);
#                                       FLOOR_ONLY=1 times the floor alone (the other
#                                       columns are left empty);
#                                       OUT=file, default docs/performance-realrun.md;
#                                       APPEND=1 adds this run's rows to OUT's table)
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
if [ "${APPEND:-}" = 1 ] && [ -f "$out" ]; then
  # The rows of earlier runs stay, as they were measured; the notes below the table go.
  sed -n '1,/^|---/p;/^| /p' "$out" | awk '!seen[$0]++' >"$out.tmp"
else {
  echo "# The real run: regsweep against upstream and against the unlink floor"
  echo
  echo "\`bench/realrun.sh\` on this machine ($(nproc) cores), $(date -u +%Y-%m-%d): each command on a"
  echo "fresh hard-linked copy of the generated tree (warm: the copy was just made), the median of"
  echo "the runs each row names. The shapes: \`bench/lib.sh\`'s \`args_of\`."
  echo "The floor (\`bench/unlink_floor.c\`) unlinks and removes exactly the paths the plan deletes,"
  echo "phase by phase on the threads the row names, one \`syncfs\` a phase, reading and checking nothing; it"
  echo "leaves the directories the deletions empty, which regsweep removes."
  echo
  echo "| shape | command | deletions | upstream | regsweep | dry run | floor (threads) | upstream / regsweep | regsweep / (dry run + floor) |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$out.tmp"
fi
for shape in $SHAPES; do
  T=$(tree_of "$shape")
  for command in ${COMMANDS:-gc gc-m}; do
    flags=""
    [ "$command" = gc-m ] && flags="-m"
    up=() rs=() dry=() fl=()
    floor_list "$flags"
    n=$(wc -l <"$W/floor.list")
    for _ in $(seq 1 "$RUNS"); do
      if [ -z "${FLOOR_ONLY:-}" ]; then
        fresh "$T" "$W/copy"
        # shellcheck disable=SC2086
        up+=("$(seconds docker-registry garbage-collect $flags "$W/realrun.yml")")
        fresh "$T" "$W/copy"
        # The dry run first: it changes nothing, and the real run then finds the same tree.
        # shellcheck disable=SC2086
        dry+=("$(seconds "$R" gc $flags --min-age 0 -q -d --root "$W/copy")")
        # shellcheck disable=SC2086
        rs+=("$(seconds "$R" gc $flags --min-age 0 -q --root "$W/copy")")
      fi
      fresh "$T" "$W/copy"
      fl+=("$(seconds "$W/unlink_floor" "$W/copy" "$W/floor.list" "${FLOOR_THREADS:-64}")")
    done
    f=$(printf '%s\n' "${fl[@]}" | median)
    if [ -n "${FLOOR_ONLY:-}" ]; then
      printf '| %s (runs: %s) | gc %s | %s | | | | %.2f s (%s) | | |\n' "$shape" "$RUNS" "$flags" \
        "$n" "$f" "${FLOOR_THREADS:-64}" >>"$out.tmp"
      continue
    fi
    u=$(printf '%s\n' "${up[@]}" | median)
    r=$(printf '%s\n' "${rs[@]}" | median)
    d=$(printf '%s\n' "${dry[@]}" | median)
    printf '| %s (runs: %s) | gc %s | %s | %.2f s | %.2f s | %.2f s | %.2f s (%s) | %.2f | %.2f |\n' "$shape" \
      "$RUNS" "$flags" "$n" "$u" "$r" "$d" "$f" "${FLOOR_THREADS:-64}" "$(echo "$u / $r" | bc -l)" \
      "$(echo "$r / ($d + $f)" | bc -l)" >>"$out.tmp"
  done
done
mv "$out.tmp" "$out"
cat "$out"
