#!/usr/bin/env bash
# usage: bench/prune.sh      (RUNS=5 by default; BENCH_DIR=/tmp/regsweep-bench)
# Times `regsweep prune --dry-run` on the CI shape (2 repositories with 5,000 tags each,
# bench/run.sh's `ci` tree, generated when missing) beside regsweep's own `gc -m --dry-run` on
# the same tree, warm cache, and writes docs/performance-prune.md. The prune run decides every
# tag by a rule (keep the 10 newest, delete the rest), then plans the collection gc -m
# would make of what those tags held; the issue's target: about the time of the gc -m dry run.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
R=$TOP/build/regsweep
W=${BENCH_DIR:-/tmp/regsweep-bench}
RUNS=${RUNS:-5}
GEN="--repos 2 --images 5100 --tags 5000 --shared 200"
[ -x "$R" ] || "$TOP/scripts/build.sh" >/dev/null
if [ "$(cat "$W/ci/args" 2>/dev/null)" != "$GEN" ]; then
  rm -rf "$W/ci"
  mkdir -p "$W/ci"
  echo "generating the CI shape: scripts/gen-tree TREE $GEN" >&2
  # shellcheck disable=SC2086
  "$TOP/scripts/gen-tree" "$W/ci/tree" $GEN >"$W/ci/gen.txt"
  echo "$GEN" >"$W/ci/args"
fi
T=$W/ci/tree

# median WALL-SECONDS of RUNS runs of a command (after one warm-up run)
median() {
  "$@" >/dev/null 2>&1 || true
  local times=()
  for _ in $(seq 1 "$RUNS"); do
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    e=$(date +%s.%N)
    times+=("$(echo "$e - $s" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}
gcm=$(median "$R" gc -d -m -q --root "$T")
prune=$(median "$R" prune -d -q --root "$T" --keep-n 10)
prune_m=$(median "$R" prune -d -m -q --root "$T" --keep-n 10)
"$R" prune -d --root "$T" --keep-n 10 --json "$W/ci/prune.json" >/dev/null 2>&1 || true
decided=$(jq '.retention | length' "$W/ci/prune.json")
deleted=$(jq '[.retention[] | select(.action=="delete")] | length' "$W/ci/prune.json")
ratio=$(echo "scale=2; $prune / $gcm" | bc)
# System calls of each (strace -c): where the difference goes.
calls() {
  strace -f -c -o "$W/ci/strace.txt" "$@" >/dev/null 2>&1 || true
  awk '$NF=="total"{print $(NF-2)}' "$W/ci/strace.txt"
}
reads() { awk '$NF=="openat"{print $4}' "$W/ci/strace.txt"; }
gcm_calls=$(calls "$R" gc -d -m -q --root "$T")
gcm_opens=$(reads)
prune_calls=$(calls "$R" prune -d -q --root "$T" --keep-n 10)
prune_opens=$(reads)
deleted_links=$(jq '[.deletions[] | select(.kind=="layer-link")] | length' "$W/ci/prune.json")
{
  echo "# prune on the CI shape"
  echo
  echo "Written by \`bench/prune.sh\` at $(git -C "$TOP" rev-parse --short HEAD) on $(nproc) cores, $(date -u +%Y-%m-%d)."
  echo "The tree: \`scripts/gen-tree TREE $GEN\`: $(sed 's/^gen-tree: //; s/ under .*//' "$W/ci/gen.txt")."
  echo "Warm page cache, median of $RUNS runs after one warm-up."
  echo
  echo "| command | seconds |"
  echo "|---|---:|"
  echo "| \`regsweep gc --dry-run -m\` | $gcm |"
  echo "| \`regsweep prune --dry-run --keep-n 10\` ($decided tags decided, $deleted deleted) | $prune |"
  echo "| \`regsweep prune --dry-run -m --keep-n 10\` | $prune_m |"
  echo
  echo "prune's dry run takes $ratio× the time of gc's -m dry run on the same tree. Deciding the"
  echo "tags is a sort per repository; the rest is the larger plan: prune deletes $deleted tags and"
  echo "with them $deleted_links layer links, and every layer link a plan may delete is read before"
  echo "it is planned (docs/safety.md), so prune makes $prune_calls system calls ($prune_opens opens)"
  echo "against gc -m's $gcm_calls ($gcm_opens opens). Generated trees give every tag one time,"
  echo "so the 10 kept are chosen by name (and prune warns)."
} >"$TOP/docs/performance-prune.md"
cat "$TOP/docs/performance-prune.md"
