#!/usr/bin/env bash
# Times `regsweep` against `docker-registry garbage-collect` on the same generated trees, in
# the same run, and writes docs/performance.md.
#
# usage: bench/run.sh [WORKDIR]        (default WORKDIR /tmp/regsweep-bench)
#   SHAPES="10k 100k 1m ci"  which trees (default: all four)
#   RUNS=3                   timed runs per command on 10k and 100k (the median is reported)
#   BIG_RUNS=1               timed runs of upstream's commands on 1m and ci
#   OUR_BIG_RUNS=3           timed runs of regsweep's and the floor's on 1m and ci (seconds
#                            each, where upstream's take minutes; the median is reported)
#   OUT=FILE                 where to write the report (default docs/performance.md)
#   BASELINE=PATH            also time this regsweep binary (one built from an earlier
#                            commit, BASELINE_LABEL names it) beside the new one, warm, on
#                            the same trees: before and after a change, in the same run
#
# Space: 1m needs about 8 GB and 7.5M inodes; the others under 1 GB together.
# Time on 2 cores: about 60 minutes for all four, most of it upstream's runs.
#
# For every shape: gc --dry-run and gc --dry-run -m of both tools, and regsweep du, with a
# warm page cache (caches dropped where allowed, then the same tree read by a regsweep run,
# which reads every file upstream reads; with -m before regsweep's -m runs), then both
# tools' gc --dry-run with a cold one (sync, then `echo 3 > /proc/sys/vm/drop_caches` before
# each run; skipped where not allowed). On 100k and 1m, also both tools' real gc on fresh copies.
# Wall, user and sys seconds, peak RSS and what was read from disk come from /usr/bin/time;
# syscall counts from strace -c on 10k.
# Beside them, the floor (bench/floor.c): one thread that reads every tag link, revision link
# and manifest once and does nothing else, the least any dry run on this layout must read.
# When both 100k and 1m run, a growth section compares them, with regsweep's system calls
# (strace -c), what one stat of a blob's data costs the kernel (bench/statcost.c), and
# `floor --calls` on each: the floor plus the other lookups and reads a regsweep dry run
# makes (every blob's data and layer link stat'ed, every tag history link read), on one
# thread, which shows how the kernel's cost of those calls alone grows.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh # realrun_section
scripts/deps.sh test
for pkg in time strace; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
    apt-get install -y -qq "$pkg" >/dev/null
done
scripts/build.sh >/dev/null
W=${1:-/tmp/regsweep-bench}
mkdir -p "$W"
cc -O2 -o "$W/floor" bench/floor.c
cc -O2 -o "$W/statcost" bench/statcost.c
SHAPES=${SHAPES:-"10k 100k 1m ci"}
RUNS=${RUNS:-3}
BIG_RUNS=${BIG_RUNS:-1}
OUR_BIG_RUNS=${OUR_BIG_RUNS:-3}
R=$PWD/build/regsweep
UP=docker-registry
BASELINE=${BASELINE:-}
BASELINE_LABEL=${BASELINE_LABEL:-baseline}

declare -A GEN=(
  [10k]="--repos 35 --images 40 --tags 10 --shared 200"
  [100k]="--repos 345 --images 40 --tags 10 --shared 2000"
  [1m]="--repos 3450 --images 40 --tags 10 --shared 20000"
  [ci]="--repos 2 --images 5100 --tags 5000 --shared 200"
)
declare -A TITLE=(
  [10k]="10k blobs"
  [100k]="100k blobs"
  [1m]="1M blobs"
  [ci]="CI: 2 repositories with 5,000 tags each"
)

can_drop=0
if sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
  can_drop=1
fi

declare -A res # "<shape> <key>" -> "wall user sys maxrss_kb blocks_read"

# timed OUTFILE CMD...: one run under /usr/bin/time; prints "wall user sys maxrss_kb
# blocks_read" (512-byte blocks the process read from disk).
timed() {
  local t=$W/time.out
  /usr/bin/time -f "%e %U %S %M %I" -o "$t" "$@" >/dev/null 2>&1 || true
  cat "$t"
}

# warm_up SHAPE [ARG...]: drops the caches (where allowed), then one regsweep dry run reads
# the tree. Dropping first makes "warm" one state, whatever ran before: the kernel's cached
# directory entries and inodes are then those of this tree alone, allocated as it reads them.
# Without it, a warm 100k tree ran about 30% slower after the 1m tree had been read. The
# order the warm-up creates them in matters as well: after a `-j 1` warm-up, later runs on
# the 1m tree were 10-15% faster than after this default-`-j` one, which the bench keeps.
# The warm-up stats every blob (--prometheus makes gc do so, for the total blob bytes): a
# plain gc stats only the blobs it might delete, and would leave upstream, which stats them
# all, to read their inodes from disk.
warm_up() {
  local shape=$1
  shift
  if [ "$can_drop" = 1 ]; then
    sync
    echo 3 >/proc/sys/vm/drop_caches
  fi
  "$R" gc --dry-run -q "$@" --prometheus "$W/warm.prom" --root "$W/$shape/tree" >/dev/null 2>&1 || true
}

# measure SHAPE KEY CACHE N CMD...: N runs; warm: after warm_up, cold: caches dropped before
# each run. Stores the median (by wall time).
measure() {
  local shape=$1 key=$2 cache=$3 n=$4
  shift 4
  if [ "$cache" = warm ]; then
    # With -m, regsweep also reads the layer links it would delete; a plain run does not.
    local flags=()
    [ "$key" = rsm ] && flags=(-m)
    warm_up "$shape" "${flags[@]}"
  fi
  local lines=()
  for _ in $(seq "$n"); do
    if [ "$cache" = cold ]; then
      sync
      echo 3 >/proc/sys/vm/drop_caches
    fi
    lines+=("$(timed "$@")")
  done
  res["$shape $key"]=$(printf '%s\n' "${lines[@]}" | sort -n |
    awk -v n="$n" 'NR==int((n+1)/2){print}')
  echo "  $shape $key ($cache): ${res["$shape $key"]}" >&2
}

# real_run SHAPE KEY CMD...: CMD collects $W/copy, a fresh copy of the tree, read once first
# (every blob stat'ed, as in warm_up). The 1m tree is copied with hard links (cp -al): new
# directories, the files shared with the original, which a deletion only unlinks; a full
# copy of it would take 8 GB more and many minutes.
real_run() {
  local shape=$1 key=$2
  shift 2
  rm -rf "$W/copy"
  if [ "$shape" = 1m ]; then
    cp -al "$W/$shape/tree" "$W/copy"
  else
    cp -a "$W/$shape/tree" "$W/copy"
  fi
  sync
  "$R" gc --dry-run -q --prometheus "$W/warm.prom" --root "$W/copy" >/dev/null 2>&1 || true
  res["$shape $key"]=$(timed "$@")
  echo "  $shape $key: ${res["$shape $key"]}" >&2
  rm -rf "$W/copy"
}

declare -A BLOBS UP_RUNS OUR_RUNS # per shape: blobs; timed runs of upstream's, of the others'
for shape in $SHAPES; do
  dir=$W/$shape
  # A tree is generated once and reused while its generator arguments stay the same.
  if [ "$(cat "$dir/args" 2>/dev/null)" != "${GEN[$shape]}" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "generating $shape: scripts/gen-tree TREE ${GEN[$shape]}" >&2
    # shellcheck disable=SC2086
    scripts/gen-tree "$dir/tree" ${GEN[$shape]} >"$dir/gen.txt"
    echo "${GEN[$shape]}" >"$dir/args"
  fi
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$dir/tree" >"$dir/config.yml"
  BLOBS[$shape]=$(sed -n 's/^gen-tree: \([0-9]*\) blobs.*/\1/p' "$dir/gen.txt")
  UP_RUNS[$shape]=$RUNS
  OUR_RUNS[$shape]=$RUNS
  case $shape in 1m | ci) UP_RUNS[$shape]=$BIG_RUNS OUR_RUNS[$shape]=$OUR_BIG_RUNS ;; esac
  n=${UP_RUNS[$shape]}
  m=${OUR_RUNS[$shape]}
  echo "== $shape (${BLOBS[$shape]} blobs), $n run(s) of upstream, $m of the others" >&2
  measure "$shape" up warm "$n" "$UP" garbage-collect --dry-run "$dir/config.yml"
  measure "$shape" rs warm "$m" "$R" gc --dry-run "$dir/config.yml"
  measure "$shape" upm warm "$n" "$UP" garbage-collect --dry-run --delete-untagged "$dir/config.yml"
  measure "$shape" rsm warm "$m" "$R" gc --dry-run --delete-untagged "$dir/config.yml"
  measure "$shape" du warm "$m" "$R" du "$dir/config.yml"
  if [ -n "$BASELINE" ]; then
    measure "$shape" bs warm "$m" "$BASELINE" gc --dry-run "$dir/config.yml"
    measure "$shape" bsm warm "$m" "$BASELINE" gc --dry-run --delete-untagged "$dir/config.yml"
    measure "$shape" bdu warm "$m" "$BASELINE" du "$dir/config.yml"
    # The new binary again, after the baseline: a drift over the run shows as a difference.
    measure "$shape" rs2 warm "$m" "$R" gc --dry-run "$dir/config.yml"
  fi
  measure "$shape" floor warm "$m" "$W/floor" "$dir/tree"
  measure "$shape" floorl warm "$m" "$W/floor" --list-blobs "$dir/tree"
  if [ "$can_drop" = 1 ]; then
    measure "$shape" upc cold "$n" "$UP" garbage-collect --dry-run "$dir/config.yml"
    measure "$shape" rsc cold "$m" "$R" gc --dry-run "$dir/config.yml"
    measure "$shape" floorc cold "$m" "$W/floor" "$dir/tree"
  fi
  if [ "$shape" = 100k ] || [ "$shape" = 1m ]; then
    printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$W/copy" >"$W/copy.yml"
    real_run "$shape" rsreal "$R" gc -q --root "$W/copy"
    real_run "$shape" upreal "$UP" garbage-collect "$W/copy.yml"
    if [ -n "$BASELINE" ] && [ "$shape" = 100k ]; then
      real_run "$shape" bsreal "$BASELINE" gc -q --root "$W/copy"
    fi
  fi
  if [ "$shape" = 100k ] || [ "$shape" = 1m ]; then
    measure "$shape" fcalls warm "$m" "$W/floor" --calls "$dir/tree"
    # For the growth section: regsweep's system calls, the directory entries the kernel holds
    # once the tree is read, and the kernel's cost of a blob stat on a warm tree (the second of
    # two runs).
    warm_up "$shape"
    res["$shape dentries"]=$(awk '{print $1}' /proc/sys/fs/dentry-state)
    strace -f -c -o "$W/strace.grow" "$R" gc --dry-run "$dir/config.yml" >/dev/null 2>&1 || true
    res["$shape calls"]=$(awk '$NF=="total"{print $4}' "$W/strace.grow")
    "$W/statcost" "$dir/tree" >/dev/null
    res["$shape statns"]=$("$W/statcost" "$dir/tree" | sed -n 's/.*, \([0-9]*\) ns a stat.*/\1/p')
    echo "  $shape: ${res["$shape calls"]} calls, ${res["$shape statns"]} ns a stat" >&2
  fi
  if [ "$shape" = 10k ]; then
    # System calls per tool, counted over every thread.
    for key in up rs floor; do
      case $key in
        up) cmd=("$UP" garbage-collect --dry-run "$dir/config.yml") ;;
        rs) cmd=("$R" gc --dry-run "$dir/config.yml") ;;
        floor) cmd=("$W/floor" "$dir/tree") ;;
      esac
      strace -f -c -o "$W/strace.$key" "${cmd[@]}" >/dev/null 2>&1 || true
      res["$shape sys_$key"]=$(awk '$NF=="total"{print $4}' "$W/strace.$key")
      res["$shape top_$key"]=$(awk 'NR>2 && $1 ~ /^[0-9.]+$/ && $NF!="total" {print $NF" "$4}' "$W/strace.$key" |
        sort -k2 -n -r | head -6 | awk '{printf "%s%s %s", (NR>1?", ":""), $1, $2}')
    done
  fi
done

wall() { echo "${res["$1 $2"]}" | cut -d' ' -f1; }
read_mib() { echo $(($(echo "${res["$1 $2"]}" | cut -d' ' -f5) * 512 / 1048576)); } # SHAPE KEY
ratio() { awk -v a="$(wall "$1" "$2")" -v b="$(wall "$1" "$3")" 'BEGIN{ if (b > 0) printf "%.1f×", a/b; else printf "-" }'; }
row() { # row SHAPE LABEL KEY [VS]: the ratio column is VS's wall time over KEY's
  local shape=$1 label=$2 key=$3 vs=${4:-}
  [ -n "${res["$shape $key"]:-}" ] || return 0
  read -r w u s m _ <<<"${res["$shape $key"]}"
  local per=$((m * 1024 / BLOBS[$shape]))
  local r="—"
  [ -n "$vs" ] && r=$(ratio "$shape" "$vs" "$key")
  echo "| $label | $w | $u | $s | $((m / 1024)) | $per | $(read_mib "$shape" "$key") | $r |"
}
# grow LABEL A B: a growth row, 100k's value, 1m's and their ratio.
grow() {
  awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN{ printf "| %s | %s | %s | %s |\n", l, a, b, (a > 0 ? sprintf("%.1f×", b / a) : "-") }'
}

out=${OUT:-docs/performance.md}
{
  echo "# Performance"
  echo
  echo "Generated by \`bench/run.sh\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD). Do not edit by hand: re-run it."
  echo
  realrun_section docs/performance-realrun.md
  echo "## Machine"
  echo
  echo "* $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(findmnt -no FSTYPE --target "$W") on a virtual disk"
  echo "* $(dpkg-query -W -f='docker-registry ${Version}' docker-registry)"
  echo "* $("$R" --version), default \`-j\` (64 threads)"
  if [ "$can_drop" = 1 ]; then
    echo "* Cold runs: \`sync; echo 3 > /proc/sys/vm/drop_caches\` before each."
  else
    echo "* Cold runs: skipped, /proc/sys/vm/drop_caches is not writable here."
  fi
  echo
  echo "Warm means: caches dropped, then a regsweep run (with \`--prometheus\`, which stats every blob) read the same tree just before (it reads"
  echo "every directory and file upstream reads), so each tree starts from the same state whatever"
  echo "ran before it. On this virtual machine the kernel reclaims page cache that is not"
  echo "used for a while, so a 1M-blob tree is never wholly cached: there \"warm\" is partly cold,"
  echo "for both tools alike. The read MiB column shows how much."
  damon=/sys/kernel/mm/damon/admin/kdamonds/0
  if [ "$(cat "$damon/state" 2>/dev/null)" = on ] &&
    [ "$(cat "$damon/contexts/0/schemes/0/action" 2>/dev/null)" = pageout ]; then
    idle=$(awk -v a="$(cat "$damon/contexts/0/schemes/0/access_pattern/age/min")" \
      -v u="$(cat "$damon/contexts/0/monitoring_attrs/intervals/aggr_us")" 'BEGIN{print a * u / 1000000}')
    echo "Here the reclaim is a DAMON scheme that pages out memory idle for about $idle s."
  fi
  echo
  echo "Columns: wall, user and sys seconds; peak RSS; peak RSS per blob in bytes; MiB the run"
  echo "read from disk (the page cache did not hold it); and how many times faster regsweep's"
  echo "wall time is than upstream's for the same job."
  echo
  echo "The floor (\`bench/floor.c\`) reads every tag's current link, every revision link and"
  echo "every manifest they name, once each, on one thread, and nothing else: no blob list, no"
  echo "layer links, no tag history, no plan. It is the least reading any dry run must do."
  echo "\`floor --list-blobs\` also lists every blob prefix directory (getdents, no stat): the"
  echo "fairer floor, the least any collector must do to know which blobs exist."
  echo "\`floor --calls\` also stats every blob's \`data\` and every layer link and reads every tag"
  echo "history link, as regsweep did before its gc took blobs and layer links from their names"
  echo "(it now stats and reads only those it might delete): what looking at everything costs, on"
  echo "one thread, with no parsing or planning."
  for shape in $SHAPES; do
    echo
    echo "## ${TITLE[$shape]}"
    echo
    echo "\`scripts/gen-tree TREE ${GEN[$shape]}\`: $(sed 's/^gen-tree: //; s/ under .*//' "$W/$shape/gen.txt")."
    n=${UP_RUNS[$shape]}
    m=${OUR_RUNS[$shape]}
    runs() { [ "$1" -gt 1 ] && echo "the median of $1 runs" || echo "one run"; }
    if [ "$n" = "$m" ]; then
      echo "Each figure is $(runs "$n")."
    else
      echo "Upstream's figures are $(runs "$n") each; regsweep's and the floor's $(runs "$m")."
    fi
    echo
    echo "| command | wall s | user s | sys s | RSS MiB | B/blob | read MiB | speed-up |"
    echo "|---|---|---|---|---|---|---|---|"
    row "$shape" "upstream \`garbage-collect --dry-run\`, warm" up
    row "$shape" "**regsweep \`gc --dry-run\`**, warm" rs up
    row "$shape" "upstream \`garbage-collect --dry-run -m\`, warm" upm
    row "$shape" "**regsweep \`gc --dry-run -m\`**, warm" rsm upm
    row "$shape" "regsweep \`du\`, warm" du up
    row "$shape" "floor (\`bench/floor.c\`), warm" floor up
    row "$shape" "fairer floor \`--list-blobs\` (and every blob listed), warm" floorl up
    row "$shape" "floor \`--calls\` (regsweep's lookups and reads), warm" fcalls up
    row "$shape" "upstream \`garbage-collect --dry-run\`, cold" upc
    row "$shape" "**regsweep \`gc --dry-run\`**, cold" rsc upc
    row "$shape" "floor (\`bench/floor.c\`), cold" floorc upc
    copy="fresh copy"
    if [ "$shape" = 1m ]; then copy="fresh hard-linked copy"; fi
    row "$shape" "upstream \`garbage-collect\` (real run, $copy)" upreal
    row "$shape" "**regsweep \`gc\`** (real run, $copy)" rsreal upreal
    if [ -n "$BASELINE" ]; then
      echo
      echo "Before and after: regsweep at $BASELINE_LABEL, timed in the same run on the same tree"
      echo "(the speed-up column is against upstream)."
      echo
      echo "| command | wall s | user s | sys s | RSS MiB | B/blob | read MiB | speed-up |"
      echo "|---|---|---|---|---|---|---|---|"
      row "$shape" "regsweep $BASELINE_LABEL \`gc --dry-run\`, warm" bs up
      row "$shape" "regsweep now \`gc --dry-run\`, warm" rs up
      row "$shape" "regsweep now \`gc --dry-run\`, warm, again after $BASELINE_LABEL's runs" rs2 up
      row "$shape" "regsweep $BASELINE_LABEL \`gc --dry-run -m\`, warm" bsm upm
      row "$shape" "regsweep now \`gc --dry-run -m\`, warm" rsm upm
      row "$shape" "regsweep $BASELINE_LABEL \`du\`, warm" bdu up
      row "$shape" "regsweep now \`du\`, warm" du up
      row "$shape" "regsweep $BASELINE_LABEL \`gc\` (real run, $copy)" bsreal upreal
      row "$shape" "regsweep now \`gc\` (real run, $copy)" rsreal upreal
      echo
      echo "Now over $BASELINE_LABEL, wall time: \`gc --dry-run\` $(ratio "$shape" rs bs) ($(ratio "$shape" rs2 bs) on the second runs), \`-m\` $(ratio "$shape" rsm bsm), \`du\` $(ratio "$shape" du bdu)$([ -n "${res["$shape bsreal"]:-}" ] && echo ", real \`gc\` $(ratio "$shape" rsreal bsreal)") (below 1.0× is faster now)."
    fi
    if [ -n "${res["$shape floor"]:-}" ]; then
      echo
      echo "regsweep's dry run takes $(ratio "$shape" rs floor) the floor's wall time warm$([ -n "${res["$shape floorc"]:-}" ] && echo ", $(ratio "$shape" rsc floorc) cold")$([ -n "${res["$shape floorl"]:-}" ] && echo "; $(ratio "$shape" rs floorl) the fairer floor's warm")."
    fi
    if [ -n "${res["$shape sys_up"]:-}" ]; then
      echo
      echo "System calls (\`strace -f -c\`, all threads): upstream ${res["$shape sys_up"]}, regsweep ${res["$shape sys_rs"]}, floor ${res["$shape sys_floor"]}."
      echo "Most frequent: upstream ${res["$shape top_up"]}; regsweep ${res["$shape top_rs"]}."
    fi
  done
  if [ -n "${res["100k rs"]:-}" ] && [ -n "${res["1m rs"]:-}" ]; then
    echo
    echo "## Growth from 100k to 1M blobs"
    echo
    echo "$(awk -v a="${BLOBS[100k]}" -v b="${BLOBS[1m]}" 'BEGIN{printf "%.1f", b / a}')× the blobs. Warm wall seconds, and what sets them:"
    echo
    echo "| | 100k | 1M | growth |"
    echo "|---|---|---|---|"
    grow "upstream \`garbage-collect --dry-run\`, s" "$(wall 100k up)" "$(wall 1m up)"
    grow "**regsweep \`gc --dry-run\`**, s" "$(wall 100k rs)" "$(wall 1m rs)"
    grow "regsweep \`gc --dry-run -m\`, s" "$(wall 100k rsm)" "$(wall 1m rsm)"
    grow "floor (\`bench/floor.c\`), s" "$(wall 100k floor)" "$(wall 1m floor)"
    grow "floor \`--calls\`: regsweep's lookups and reads, one thread, s" "$(wall 100k fcalls)" "$(wall 1m fcalls)"
    grow "regsweep's system calls (\`strace -f -c\`)" "${res["100k calls"]}" "${res["1m calls"]}"
    grow "kernel time for one stat of a blob's \`data\`, ns (\`bench/statcost.c\`)" "${res["100k statns"]}" "${res["1m statns"]}"
    grow "MiB a warm regsweep dry run read from disk" "$(read_mib 100k rs)" "$(read_mib 1m rs)"
    grow "directory entries the kernel holds once the tree is read" "${res["100k dentries"]}" "${res["1m dentries"]}"
    buckets=$(dmesg 2>/dev/null | sed -n 's/.*Dentry cache hash table entries: \([0-9]*\).*/\1/p' | tail -1)
    if [ -n "$buckets" ]; then
      echo
      echo "The kernel looks up each path component in a hash table of $buckets buckets (its size is"
      echo "set at boot); the directory entries row is how many entries share them."
    fi
  fi
  echo
  echo "## fsck --verify-data"
  echo
  echo "See [performance-fsck.md](performance-fsck.md) (\`bench/verify.sh\`)."
  echo
  echo "## Object storage, and retention"
  echo
  echo "See [performance-s3.md](performance-s3.md) (\`bench/s3.sh\`: the same trees in radosgw"
  echo "buckets, with an added round trip per request) and [performance-prune.md](performance-prune.md)"
  echo "(\`bench/prune.sh\`)."
  echo
  echo "## --quarantine"
  echo
  echo "See [performance-quarantine.md](performance-quarantine.md) (\`bench/quarantine.sh\`: a real"
  echo "\`gc -m\` with and without \`--quarantine\` on the same trees, and \`restore\`)."
  echo
  echo "## The real run against the unlink floor"
  echo
  echo "See [performance-realrun.md](performance-realrun.md) (\`bench/realrun.sh\`: real \`gc\` and"
  echo "\`gc -m\` against upstream's and against \`bench/unlink_floor.c\`, which only deletes the plan's"
  echo "paths, one \`syncfs\` a phase)."
  echo
  echo "## The registry's redis blob descriptor cache"
  echo
  echo "See [performance-cache.md](performance-cache.md) (\`bench/cache.sh\`: a real \`gc -m\` on the"
  echo "1M-blob tree with a redis cache holding an entry for every blob and link, against the same"
  echo "run without one; the removal of the deleted entries' share of the run)."
  echo
  echo "## The HTML usage report"
  echo
  echo "See [performance-html.md](performance-html.md) (\`bench/html.sh\`: size and drawing time"
  echo "of \`du --html\` for 10,000 repositories in headless Chromium)."
  echo
  echo "## Re-running"
  echo
  echo '```sh'
  echo "bench/run.sh [WORKDIR]                 # all shapes, about 60 minutes on 2 cores"
  echo "SHAPES=\"10k 100k\" RUNS=5 bench/run.sh   # a subset, more runs"
  echo '```'
} >"$out"
cat "$out"
