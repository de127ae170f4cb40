#!/usr/bin/env bash
# Crash consistency: kill `regsweep gc -m` with SIGKILL at 20 moments of its sweep. After each
# kill, the real registry must serve every tag, and a second run must end with the same tree
# as an uninterrupted run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REGSWEEP=${REGSWEEP:-$HERE/../../build/regsweep}
KILLS=${KILLS:-20}
source "$HERE/lib.sh"

e2e_workdir
paths() { (cd "$1" && find . -path ./docker/registry/regsweep.lock -prune -o -print | sort); }

"$HERE/../../scripts/gen-tree" "$W/tree" --repos 8 --images 8 --tags 2 --shared 40 \
  --orphan-ratio 30 --deleted-ratio 0.15 >/dev/null
TAGS=$(all_tags "$W/tree" | wc -l)
check "every tag of the generated tree pulls before ($TAGS tags)" test -z "$(pull_all "$W/tree")"

# The uninterrupted run, timed, gives the tree every run must end with.
cp -a "$W/tree" "$W/whole"
sync
start=$(date +%s.%N)
"$REGSWEEP" gc -m --min-age 0 -q --root "$W/whole" >/dev/null 2>&1
end=$(date +%s.%N)
plan_start=$(date +%s.%N)
"$REGSWEEP" gc -m --min-age 0 -q -d --root "$W/tree" >/dev/null 2>&1
plan_end=$(date +%s.%N)
want=$(paths "$W/whole")
echo "# uninterrupted run: $(echo "$end - $start" | bc) s; planning alone: $(echo "$plan_end - $plan_start" | bc) s"

for i in $(seq 1 "$KILLS"); do
  rm -rf "$W/run"
  cp -a "$W/tree" "$W/run"
  sync
  # Spread the kills over the sweep: after planning, up to the end of the uninterrupted run.
  delay=$(echo "($plan_end - $plan_start) + (($end - $start) - ($plan_end - $plan_start)) * $i / ($KILLS + 1)" | bc -l)
  "$REGSWEEP" gc -m --min-age 0 -q --root "$W/run" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  killed=no
  if kill -KILL "$pid" 2>/dev/null; then killed=yes; fi
  wait "$pid" 2>/dev/null || true
  failed=$(pull_all "$W/run")
  check "kill $i at ${delay:0:5} s (killed: $killed): every tag pulls" test -z "$failed"
  [ -z "$failed" ] || echo "# failed: $failed"
  "$REGSWEEP" gc -m --min-age 0 -q --root "$W/run" >/dev/null 2>&1 || true
  check "kill $i: a second run ends with the uninterrupted run's tree" test "$want" = "$(paths "$W/run")"
done

e2e_finish
