# Helpers the benchmarks that time real runs on copies of the generated trees share (bench/
# quarantine.sh, bench/cache.sh). Source it after setting TOP, W (the work directory) and RUNS.

# args_of SHAPE: scripts/gen-tree's arguments for SHAPE (bench/run.sh's shapes).
args_of() {
  case $1 in
    100k) echo "--repos 345 --images 40 --tags 10 --shared 2000" ;;
    1m) echo "--repos 3450 --images 40 --tags 10 --shared 20000" ;;
    # About as many blobs as 100k, in five times as many repositories (1,700 of 8 images).
    many) echo "--repos 1700 --images 8 --tags 2 --shared 2000" ;;
    *) echo "unknown shape $1" >&2 && exit 2 ;;
  esac
}

# tree_of SHAPE: prints the generated tree of SHAPE ($W/SHAPE/tree), generated once and
# reused while its generator arguments stay the same.
tree_of() {
  local gen
  gen=$(args_of "$1")
  if [ "$(cat "$W/$1/args" 2>/dev/null)" != "$gen" ]; then
    rm -rf "${W:?}/$1"
    mkdir -p "$W/$1"
    echo "generating $1: scripts/gen-tree TREE $gen" >&2
    # shellcheck disable=SC2086
    "$TOP/scripts/gen-tree" "$W/$1/tree" $gen >"$W/$1/gen.txt"
    echo "$gen" >"$W/$1/args"
  fi
  echo "$W/$1/tree"
}

# seconds COMMAND...: wall seconds of one run
seconds() {
  local s e
  s=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || true
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}

median() { sort -n | sed -n "$(((RUNS + 1) / 2))p"; }

# fresh TREE COPY: a fresh hard-linked copy of TREE at COPY, without a lock file.
fresh() {
  rm -rf "$2"
  cp -al "$1" "$2"
  rm -f "$2/docker/registry/regsweep.lock"
}

# realrun_section DOC: the section docs/performance.md opens with, the real run's table from
# DOC (bench/realrun.sh's page: what operators run from cron, against upstream and the
# unlink floor), with the date it was measured.
realrun_section() {
  echo "## The real run: what operators run"
  echo
  echo "From [\`bench/realrun.sh\`](performance-realrun.md) ($(grep -o '20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]' "$1" | head -1)): the real"
  echo "\`gc\` and \`gc -m\` on fresh hard-linked copies, against upstream's real run and against the"
  echo "unlink floor (unlinking exactly the paths the plan deletes, one \`syncfs\` a phase, nothing"
  echo "read). The ratio to upstream is bounded by upstream / floor: the deletions are the disk's."
  echo
  sed -n '/^| shape/,/^$/p' "$1" | sed '/^$/d'
  echo
}
