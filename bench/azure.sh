#!/usr/bin/env bash
# regsweep on Azure Blob: the generated trees (bench/run.sh's shapes) uploaded into Azurite
# (scripts/azurite.sh) under the 3.x azure driver's names, every request through
# bench/s3proxy.py, which counts them. For each shape, against the listing floor (one List
# Blobs pass over the container's tree, 5,000 names a page, tests/e2e/azure_blob.py):
#   dry     regsweep gc -m --dry-run (the scan, the plan; nothing changed)
#   real    regsweep gc -m (the same, then the sweep: Blob Batch deletions of 256)
# Upstream cannot be run: Debian's docker-registry has no azure driver. Azurite keeps its
# index in one process and scans it for each listing, so its times are the emulator's, not
# Azure's; the request counts are what Azure would be sent. Each tree is uploaded into an
# Azurite of its own that keeps its data on disk, with bench/azurite-fast-put.js preloaded
# (a put finds the blob it replaces by its name's index, not by scanning the store); that
# Azurite is stopped once it has saved, and an unchanged one started on the same data and
# port answers what is measured. Writes docs/performance-azure.md's table and keeps the
# page's "## Reading" section.
#
# usage: bench/azure.sh [WORKDIR]    (default /tmp/regsweep-azbench; SHAPES="10k 100k"; RUNS=1;
#                                     REAL=0 leaves the real run out: Azurite spends seconds on
#                                     each Blob Batch of a few hundred deletions)
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
W=${1:-/tmp/regsweep-azbench}
SHAPES=${SHAPES:-"10k 100k"}
RUNS=${RUNS:-1}
RS=${REGSWEEP:-$TOP/build/regsweep}
[ -x "$RS" ] || scripts/build.sh >/dev/null
declare -A GEN=(
  [10k]="--repos 35 --images 40 --tags 10 --shared 200"
  [100k]="--repos 345 --images 40 --tags 10 --shared 2000"
)
mkdir -p "$W"
source tests/e2e/lib.sh
PROXY_PID=""
AZ_DIR=""
cleanup() {
  [ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null || true
  [ -z "$AZ_DIR" ] || scripts/azurite.sh stop "$AZ_DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT
AZ_PORT=$(free_port)
PORT=$(free_port)
python3 bench/s3proxy.py --listen "$PORT" --target "127.0.0.1:$AZ_PORT" --azure --stats "$W/proxy.json" &
PROXY_PID=$!
sleep 1
P=http://127.0.0.1:$PORT/devstoreaccount1
azb() { python3 tests/e2e/azure_blob.py "$P" "$@"; }
# The uploads go to Azurite itself: the proxy counts only what is timed.
azb_direct() { python3 tests/e2e/azure_blob.py "$AZ_ENDPOINT" "$@"; }
# load SHAPE TREE CONTAINER: the tree's v2 uploaded into a fresh Azurite on $AZ_PORT (its data in
# $W/azurite-SHAPE), then that Azurite replaced by an unchanged one on the same data.
load() {
  AZ_DIR=$W/azurite-$1
  rm -rf "$AZ_DIR"
  NODE_OPTIONS="--require $TOP/bench/azurite-fast-put.js" scripts/azurite.sh start "$AZ_DIR" "$AZ_PORT"
  source "$AZ_DIR/env"
  azb_direct mkcontainer "$3"
  echo "# uploading $1 ($(find "$2" -type f | wc -l) files)" >&2
  azb_direct upload "$3" "$2/docker/registry/v2" docker/registry/v2/ >/dev/null
  # Azurite saves its database 5 s after a change: wait for the save before it is stopped.
  sleep 30
  scripts/azurite.sh stop "$AZ_DIR"
  scripts/azurite.sh start "$AZ_DIR" "$AZ_PORT"
  # The first query after a load builds the database's indexes: not the floor's to pay.
  azb_direct list "$3" docker/registry/v2/blobs/sha256/00/ >/dev/null
}
requests() { sleep 1.2; jq .requests "$W/proxy.json"; }
# timed NAME COMMAND...: wall seconds of COMMAND (output to $W/NAME.out, exit code to
# $W/NAME.rc), and the requests it made.
timed() {
  local name=$1 before s e rc=0
  shift
  before=$(requests)
  s=$(date +%s.%N)
  "$@" >"$W/$name.out" 2>&1 || rc=$?
  e=$(date +%s.%N)
  echo "$rc" >"$W/$name.rc"
  echo "$(echo "$e - $s" | bc) $(($(requests) - before))"
}
# succeeded NAME: a timed run that failed ends the bench: its time would be no figure.
succeeded() {
  [ "$(cat "$W/$1.rc")" = 0 ] || { echo "bench/azure.sh: $1 exited $(cat "$W/$1.rc"):" >&2; tail -5 "$W/$1.out" >&2; exit 1; }
}

out=$TOP/docs/performance-azure.md
{
  echo "# regsweep on Azure Blob (Azurite)"
  echo
  echo "\`bench/azure.sh\` on this machine ($(nproc) cores), $(date -u +%Y-%m-%d): each generated tree uploaded"
  echo "into Azurite $(jq -r .version /opt/regsweep-test/azurite/node_modules/azurite/package.json 2>/dev/null || echo '?')"
  echo "under the 3.x azure driver's blob names, every request through a counting proxy. The floor is"
  echo "one List Blobs pass over the tree (5,000 names a page, one page after another). Medians of $RUNS."
  echo "Debian's registry has no azure driver: upstream's garbage-collect cannot be run here. Azurite"
  echo "scans its whole index for every listing page, so its times grow with the container and say"
  echo "little about Azure's; the request counts are what Azure would be sent. The upload goes to an"
  echo "Azurite with \`bench/azurite-fast-put.js\` loaded (a put finds the blob it replaces by its name's"
  echo "index); what is timed is answered by an unchanged Azurite started on the data it saved (on disk:"
  echo "it saves its database 5 s after a change, as after the lock a run takes)."
  echo
  echo "| tree | blobs listed | floor: List Blobs | requests | gc -m --dry-run | requests | gc -m | requests | deletions | batches |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$out.tmp"
for shape in $SHAPES; do
  T=$W/$shape
  [ -d "$T/docker" ] || scripts/gen-tree "$T" ${GEN[$shape]} >/dev/null
  c=tree-$shape
  load "$shape" "$T" "$c"
  read -r floor floor_req <<<"$(timed floor-$shape azb list "$c" docker/registry/v2/)"
  listed=$(wc -l <"$W/floor-$shape.out")
  files=$(find "$T/docker/registry/v2" -type f | wc -l)
  [ "$listed" = "$files" ] || { echo "bench/azure.sh: $listed blobs listed, $files uploaded" >&2; exit 1; }
  read -r dry dry_req <<<"$(timed dry-$shape "$RS" gc -m -d --min-age 0 -q --root "azure://$c" --endpoint "$P")"
  succeeded "dry-$shape"
  if [ "${REAL:-1}" = 0 ]; then
    printf '| %s | %s | %.2f s | %s | %.2f s | %s | — | — | — | — |\n' "$shape" "$listed" \
      "$floor" "$floor_req" "$dry" "$dry_req" >>"$out.tmp"
    scripts/azurite.sh stop "$AZ_DIR"
    continue
  fi
  before_post=$(jq '.by_method.POST // 0' "$W/proxy.json")
  read -r real real_req <<<"$(timed real-$shape "$RS" gc -m --min-age 0 --json "$W/real-$shape.json" --root "azure://$c" --endpoint "$P")"
  succeeded "real-$shape"
  sleep 1.2
  batches=$(($(jq '.by_method.POST // 0' "$W/proxy.json") - before_post))
  deleted=$(jq '[.deletions[]] | length' "$W/real-$shape.json")
  printf '| %s | %s | %.2f s | %s | %.2f s | %s | %.2f s | %s | %s | %s |\n' "$shape" "$listed" \
    "$floor" "$floor_req" "$dry" "$dry_req" "$real" "$real_req" "$deleted" "$batches" >>"$out.tmp"
  scripts/azurite.sh stop "$AZ_DIR"
done
# The reading below the table is written by hand: it is kept from the page as it was.
[ ! -f "$out" ] || sed -n '/^## Reading/,$p' "$out" | sed '1s/^/\n/' >>"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
