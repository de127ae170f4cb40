#!/usr/bin/env bash
# usage: bench/cache.sh [SHAPE...]   (SHAPES 100k 1m, default 1m; RUNS=1; BENCH_DIR=/tmp/regsweep-bench;
#                                     REGSWEEP=binary; OUT=file, default docs/performance-cache.md)
# The cost of leaving the registry's redis blob descriptor cache true: a real
# `regsweep gc -m --min-age 0` on a fresh hard-linked copy of the generated tree (bench/run.sh's
# shapes), with `storage.cache.blobdescriptor: redis` and a redis-server on 127.0.0.1 filled as a
# registry that served every blob and link would have filled it (a global entry per blob; a set
# member and a hash per revision and layer link); against the same run with no cache configured,
# alternating. The target (issue 34): the removal under 10% of the run.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
R=${REGSWEEP:-$TOP/build/regsweep}
W=${BENCH_DIR:-/tmp/regsweep-bench}
RUNS=${RUNS:-1}
SHAPES=${*:-1m}
[ -x "$R" ] || "$TOP/scripts/build.sh" >/dev/null
source "$TOP/tests/e2e/lib.sh"
source "$TOP/bench/lib.sh"

PORT=$(free_port)
mkdir -p "$W/redis"
redis-server --bind 127.0.0.1 --port "$PORT" --dir "$W/redis" --save "" --appendonly no \
  --daemonize no >"$W/redis/log" 2>&1 &
REDIS_PID=$!
trap 'kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; rm -rf "$W/copy"' EXIT
for _ in $(seq 1 100); do redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done

# fill TREE: the cache of a registry that served every blob and link of TREE.
fill() {
  redis-cli -p "$PORT" flushall >/dev/null
  python3 - "$1" <<'PY' | redis-cli -p "$PORT" --pipe >/dev/null
import os, sys
root = os.path.join(sys.argv[1], "docker/registry/v2")
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
blobs = os.path.join(root, "blobs/sha256")
for prefix in os.scandir(blobs):
    for b in os.scandir(prefix.path):
        d = "sha256:" + b.name
        cmd("HSET", "blobs::" + d, "digest", d, "size", "1", "mediatype", "application/octet-stream")
repos = os.path.join(root, "repositories")
for dirpath, dirnames, _ in os.walk(repos):
    for kind in ("_layers", "_manifests"):
        if kind in dirnames:
            dirnames.remove(kind)
            sub = os.path.join(dirpath, kind, "sha256") if kind == "_layers" else \
                os.path.join(dirpath, kind, "revisions", "sha256")
            name = os.path.relpath(dirpath, repos)
            if os.path.isdir(sub):
                for e in os.scandir(sub):
                    d = "sha256:" + e.name
                    cmd("SADD", "repository::%s::blobs" % name, d)
                    cmd("HSET", "repository::%s::blobs::%s" % (name, d), "mediatype", "x")
    dirnames[:] = [n for n in dirnames if n not in ("_uploads",)]
PY
}

out=${OUT:-$TOP/docs/performance-cache.md}
{
  echo "# The redis blob descriptor cache after a real gc -m"
  echo
  echo "\`bench/cache.sh\` on this machine ($(nproc) cores), $(date -u +%Y-%m-%d): a real"
  echo "\`gc -m --min-age 0\` on a fresh hard-linked copy of the generated tree, with"
  echo "\`storage.cache.blobdescriptor: redis\` and a local redis-server filled as a registry that"
  echo "served every blob and link would have filled it (a global entry per blob, a set member and a"
  echo "hash per revision and layer link), with \`--json\` (for the measure below); and the same run"
  echo "without a cache configured and without \`--json\`, alternating;"
  echo "median of $RUNS. \"removal\" is the run's own measure of removing the entries (JSON"
  echo "\`blob_cache.milliseconds\`: connecting, the repositories' SSCANs, the pipelined DELs and SREMs)."
  echo
  echo "| shape | keys before | keys after | entries removed | failed | gc -m, no cache | gc -m, redis cache | removal | removal / run |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$out.tmp"
for shape in $SHAPES; do
  T=$(tree_of "$shape")
  printf 'version: 0.1\nstorage:\n  cache:\n    blobdescriptor: redis\n  filesystem:\n    rootdirectory: %s\nredis:\n  addr: 127.0.0.1:%s\n' \
    "$W/copy" "$PORT" >"$W/cache-config.yml"
  plain=() cached=() removal=()
  for _ in $(seq 1 "$RUNS"); do
    fresh "$T" "$W/copy"
    s=$(date +%s.%N)
    "$R" gc -m --min-age 0 -q --root "$W/copy" >/dev/null 2>&1 || true
    plain+=("$(echo "$(date +%s.%N) - $s" | bc)")
    fill "$T"
    before=$(redis-cli -p "$PORT" dbsize)
    fresh "$T" "$W/copy"
    s=$(date +%s.%N)
    "$R" gc -m --min-age 0 -q --json "$W/cache.json" --config "$W/cache-config.yml" >/dev/null 2>&1 || true
    cached+=("$(echo "$(date +%s.%N) - $s" | bc)")
    after=$(redis-cli -p "$PORT" dbsize)
    removal+=("$(jq '.blob_cache.milliseconds / 1000' "$W/cache.json")")
  done
  p=$(printf '%s\n' "${plain[@]}" | median)
  c=$(printf '%s\n' "${cached[@]}" | median)
  m=$(printf '%s\n' "${removal[@]}" | median)
  printf '| %s | %s | %s | %s | %s | %.2f s | %.2f s | %.2f s | %.1f%% |\n' "$shape" "$before" \
    "$after" "$(jq .blob_cache.entries_removed "$W/cache.json")" \
    "$(jq .blob_cache.entries_failed "$W/cache.json")" "$p" "$c" "$m" \
    "$(echo "100 * $m / $c" | bc -l)" >>"$out.tmp"
done
mv "$out.tmp" "$out"
cat "$out"
