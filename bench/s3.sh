#!/usr/bin/env bash
# Times regsweep against `docker-registry garbage-collect` on the same generated trees loaded
# into buckets of a local Ceph radosgw (scripts/radosgw.sh), with no added latency and with a
# cloud-like round trip (bench/s3proxy.py adds DELAY ms before each request, since the kernel
# here has no netem). Both tools reach the bucket through the proxy, which counts their
# requests. Writes docs/performance-s3.md.
#
# usage: bench/s3.sh [WORKDIR]            (default WORKDIR /tmp/regsweep-s3bench)
#   SHAPES="10k 100k"          trees (scripts/gen-tree, the shapes of bench/run.sh)
#   DELAYS="0 10"              added milliseconds per request
#   UPSTREAM="10k:10"          shape:delay pairs on which upstream runs too (a run there takes
#                              tens of minutes: upstream makes one request after another)
#   RUNS=3                     timed runs of regsweep's commands (the median is reported)
#   UPSTREAM_RESULTS=FILE      upstream's figures from an earlier run on the same trees, lines
#                              "SHAPE DELAY up-d|up-m WALL_S RSS_KB REQUESTS", used instead of
#                              running upstream for those pairs (the page says so)
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
scripts/deps.sh test
dpkg-query -W -f='${Status}' time 2>/dev/null | grep -q "ok installed" || apt-get install -y -qq time >/dev/null
scripts/build.sh >/dev/null
W=${1:-/tmp/regsweep-s3bench}
SHAPES=${SHAPES:-"10k 100k"}
DELAYS=${DELAYS:-"0 10"}
UPSTREAM=${UPSTREAM:-"10k:10"}
RUNS=${RUNS:-3}
UPSTREAM_RESULTS=${UPSTREAM_RESULTS:-}
RS=$TOP/build/regsweep
declare -A GEN=(
  [10k]="--repos 35 --images 40 --tags 10 --shared 200"
  [100k]="--repos 345 --images 40 --tags 10 --shared 2000"
)
mkdir -p "$W"
source tests/e2e/lib.sh
PROXY_PIDS=()
cleanup() {
  for p in "${PROXY_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/radosgw.sh stop "$W/ceph" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The 100k tree is about 240k objects: more than the test default of 2 GiB holds.
MEMSTORE_BYTES=${MEMSTORE_BYTES:-$((8 << 30))} scripts/radosgw.sh start "$W/ceph" >"$W/rgw.out" 2>&1 || { cat "$W/rgw.out"; exit 1; }
source "$W/ceph/env"
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY
unset AWS_CA_BUNDLE

declare -A PORT STATS BLOBS OBJECTS LOAD
for d in $DELAYS; do
  PORT[$d]=$(free_port)
  python3 bench/s3proxy.py --listen "${PORT[$d]}" --target "${RGW_ENDPOINT#http://}" \
    --delay-ms "$d" --stats "$W/proxy-$d.json" --pid "$W/proxy-$d.pid" &
  PROXY_PIDS+=($!)
  STATS[$d]=$W/proxy-$d.json
done
sleep 1

for shape in $SHAPES; do
  dir=$W/$shape
  mkdir -p "$dir"
  if [ ! -d "$dir/tree" ]; then
    scripts/gen-tree "$dir/tree" ${GEN[$shape]} >"$dir/gen.txt"
  fi
  BLOBS[$shape]=$(find "$dir/tree/docker/registry/v2/blobs" -name data -type f | wc -l)
  OBJECTS[$shape]=$(find "$dir/tree/docker/registry/v2" -type f | wc -l)
  start=$(date +%s.%N)
  build/regsweep_s3load "$dir/tree" "s3://bench-$shape/reg" --s3-endpoint "$RGW_ENDPOINT" \
    --create-bucket >"$dir/load.out"
  LOAD[$shape]=$(echo "$(date +%s.%N) - $start" | bc)
done

requests() { jq .requests "$1"; }

# timed SHAPE DELAY LABEL COMMAND...: one run; appends "label wall_s rss_kb requests" to
# $W/results.
timed() {
  local shape=$1 delay=$2 label=$3
  shift 3
  local before after
  sleep 1.2  # the proxy writes its counts once a second
  before=$(requests "${STATS[$delay]}")
  /usr/bin/time -f "%e %M" -o "$W/time.out" "$@" >"$W/out.txt" 2>"$W/err.txt" || true
  sleep 1.2
  after=$(requests "${STATS[$delay]}")
  echo "$shape $delay $label $(cat "$W/time.out" | tail -1) $((after - before))" >>"$W/results"
}

config() {  # config SHAPE DELAY FILE
  cat >"$3" <<YAML
version: 0.1
log:
  level: warn
storage:
  s3:
    accesskey: $RGW_ACCESS_KEY
    secretkey: $RGW_SECRET_KEY
    region: us-east-1
    regionendpoint: http://127.0.0.1:${PORT[$2]}
    bucket: bench-$1
    rootdirectory: /reg
    secure: false
http:
  addr: 127.0.0.1:0
YAML
}

: >"$W/results"
for shape in $SHAPES; do
  for d in $DELAYS; do
    cfg=$W/$shape-$d.yml
    config "$shape" "$d" "$cfg"
    for _ in $(seq "$RUNS"); do
      timed "$shape" "$d" rs-d "$RS" gc --dry-run --min-age 0 -q "$cfg"
      timed "$shape" "$d" rs-m "$RS" gc --dry-run -m --min-age 0 -q "$cfg"
    done
    "$RS" gc --dry-run --min-age 0 "$cfg" 2>/dev/null | sed -n 's/^blob eligible for deletion: //p' | sort >"$W/$shape-$d.rs-d.blobs"
  done
  # Peak memory on the same tree on disk, for the per-blob comparison.
  for _ in $(seq "$RUNS"); do
    for c in d m; do
      /usr/bin/time -f "%e %M" -o "$W/time.out" "$RS" gc --dry-run $([ $c = m ] && echo -m) --min-age 0 -q --root "$W/$shape/tree" >/dev/null 2>&1 || true
      echo "$shape disk rs-$c-disk $(tail -1 "$W/time.out") 0" >>"$W/results"
    done
  done
done
if [ -n "$UPSTREAM_RESULTS" ]; then
  grep -E '^[^ ]+ [^ ]+ up-[dm] ' "$UPSTREAM_RESULTS" >>"$W/results"
fi
# Upstream last: its runs take the longest.
for pair in $UPSTREAM; do
  shape=${pair%%:*}
  d=${pair##*:}
  cfg=$W/$shape-$d.yml
  if grep -qE "^$shape $d up-d " "$W/results"; then
    continue  # from UPSTREAM_RESULTS
  fi
  timed "$shape" "$d" up-d docker-registry garbage-collect --dry-run "$cfg"
  sed -n 's/^blob eligible for deletion: //p' "$W/out.txt" | sort >"$W/$shape-$d.up-d.blobs"
  timed "$shape" "$d" up-m docker-registry garbage-collect --dry-run -m "$cfg"
done

# median SHAPE DELAY LABEL FIELD: the median of a column (4 wall, 5 rss, 6 requests).
median() {
  awk -v s="$1" -v d="$2" -v l="$3" -v f="$4" '$1==s && $2==d && $3==l {print $f}' "$W/results" |
    sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print ""}'
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f×", a / b}' || echo "–"; }

# Peak RSS on S3 (no added latency) and on disk, per blob, and per blob added from the
# smallest tree to the largest: the part that grows with the registry.
rss_table() {
  local first last
  first=${SHAPES%% *}
  last=${SHAPES##* }
  echo "## Peak memory"
  echo
  echo "Peak RSS (median of $RUNS runs), S3 with no added latency, and the same tree on disk:"
  echo
  echo "| command | tree | S3 KiB | S3 bytes/blob | disk KiB | disk bytes/blob |"
  echo "|---|---|---|---|---|---|"
  for c in d m; do
    for shape in $SHAPES; do
      s=$(median "$shape" "${DELAYS%% *}" "rs-$c" 5)
      k=$(median "$shape" disk "rs-$c-disk" 5)
      echo "| \`gc --dry-run$([ $c = m ] && echo ' -m')\` | $shape | $s | $(awk -v r="$s" -v b="${BLOBS[$shape]}" 'BEGIN{printf "%.0f", r * 1024 / b}') | $k | $(awk -v r="$k" -v b="${BLOBS[$shape]}" 'BEGIN{printf "%.0f", r * 1024 / b}') |"
    done
    if [ "$first" != "$last" ]; then
      local s0 s1 k0 k1 n
      s0=$(median "$first" "${DELAYS%% *}" "rs-$c" 5)
      s1=$(median "$last" "${DELAYS%% *}" "rs-$c" 5)
      k0=$(median "$first" disk "rs-$c-disk" 5)
      k1=$(median "$last" disk "rs-$c-disk" 5)
      n=$((BLOBS[$last] - BLOBS[$first]))
      echo "| \`gc --dry-run$([ $c = m ] && echo ' -m')\` | each blob from $first to $last | $((s1 - s0)) | $(awk -v a="$s0" -v b="$s1" -v n="$n" 'BEGIN{printf "%.0f", (b - a) * 1024 / n}') | $((k1 - k0)) | $(awk -v a="$k0" -v b="$k1" -v n="$n" 'BEGIN{printf "%.0f", (b - a) * 1024 / n}') |"
    fi
  done
  echo
}

out=docs/performance-s3.md
{
  echo "# Performance on object storage"
  echo
  echo "Generated by \`bench/s3.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, Debian's radosgw"
  echo "($(dpkg-query -W -f='${Version}' radosgw)) on a single-node Ceph cluster with a memstore OSD,"
  echo "on 127.0.0.1. Both tools reach the bucket through \`bench/s3proxy.py\`, which adds the"
  echo "stated delay before each request and counts the requests. Trees from \`scripts/gen-tree\`"
  echo "(the shapes of bench/run.sh), loaded with \`regsweep_s3load\`. regsweep runs with"
  echo "\`--min-age 0\` (the objects were just uploaded; upstream has no grace period) and its"
  echo "default 64 requests in flight; the median of $RUNS runs. Upstream ran once where shown."
  if [ -n "$UPSTREAM_RESULTS" ]; then
    echo "Upstream's figures for $(awk '$3 ~ /^up-/ {print $1 " at " $2 " ms"}' "$UPSTREAM_RESULTS" | sort -u | paste -sd, | sed 's/,/, /g')"
    echo "come from \`$UPSTREAM_RESULTS\`, measured with this script's proxy on the same"
    echo "trees loaded the same way, on $(date -u -r "$UPSTREAM_RESULTS" +%Y-%m-%d); see its notes below."
  fi
  echo
  for shape in $SHAPES; do
    echo "## ${shape} blobs: ${BLOBS[$shape]} blobs, ${OBJECTS[$shape]} objects"
    echo
    echo "Loading the tree took $(printf '%.0f' "${LOAD[$shape]}") s."
    echo
    echo "| added latency | command | upstream s | upstream requests | regsweep s | regsweep requests | speed-up |"
    echo "|---|---|---|---|---|---|---|"
    for d in $DELAYS; do
      for c in d m; do
        uw=$(median "$shape" "$d" "up-$c" 4)
        ur=$(median "$shape" "$d" "up-$c" 6)
        rw=$(median "$shape" "$d" "rs-$c" 4)
        rr=$(median "$shape" "$d" "rs-$c" 6)
        echo "| ${d} ms | \`gc --dry-run$([ $c = m ] && echo ' -m')\` | ${uw:-not run} | ${ur:-–} | $rw | $rr | $(ratio "$uw" "$rw") |"
      done
    done
    echo
    # Where upstream did not run, its time projected from a run on a smaller tree at the same
    # delay: it makes one request after another, so its requests grow with the objects and
    # its time with its requests.
    for d in $DELAYS; do
      for c in d m; do
        [ -z "$(median "$shape" "$d" "up-$c" 4)" ] || continue
        for pair in $UPSTREAM; do
          s0=${pair%%:*}
          [ "${pair##*:}" = "$d" ] && [ "$s0" != "$shape" ] || continue
          uw=$(median "$s0" "$d" "up-$c" 4)
          ur=$(median "$s0" "$d" "up-$c" 6)
          [ -n "$uw" ] || continue
          rw=$(median "$shape" "$d" "rs-$c" 4)
          pr=$(awk -v r="$ur" -v a="${OBJECTS[$shape]}" -v b="${OBJECTS[$s0]}" 'BEGIN{printf "%.0f", r * a / b}')
          pw=$(awk -v w="$uw" -v r="$ur" -v p="$pr" 'BEGIN{printf "%.0f", w / r * p}')
          echo "Projected, not measured: upstream \`gc --dry-run$([ $c = m ] && echo ' -m')\` at ${d} ms would make about $pr requests and take about $pw s ($(awk -v w="$pw" 'BEGIN{printf "%.1f", w / 3600}') h), from its $s0 run ($ur requests, $(awk -v w="$uw" -v r="$ur" 'BEGIN{printf "%.1f", w / r * 1000}') ms each) scaled by the objects; regsweep's measured $rw s is $(ratio "$pw" "$rw") faster than that."
          echo
        done
      done
    done
    for d in $DELAYS; do
      if [ -f "$W/$shape-$d.up-d.blobs" ]; then
        if cmp -s "$W/$shape-$d.up-d.blobs" "$W/$shape-$d.rs-d.blobs"; then
          echo "At ${d} ms, both dry runs list the same $(wc -l <"$W/$shape-$d.rs-d.blobs") blobs."
        else
          echo "At ${d} ms, the dry runs' blob lists DIFFER ($(wc -l <"$W/$shape-$d.up-d.blobs") upstream, $(wc -l <"$W/$shape-$d.rs-d.blobs") regsweep)."
        fi
      fi
    done
    echo
  done
  rss_table
  echo "Raw results (shape, delay, command, wall s, peak RSS KiB, requests):"
  echo
  echo '```'
  cat "$W/results"
  echo '```'
} >"$out"
echo "wrote $out"
