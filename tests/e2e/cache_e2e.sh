#!/usr/bin/env bash
# End-to-end test of the registry's redis blob descriptor cache after a collection, with
# Debian's docker-registry 2.8 (`storage.cache.blobdescriptor: redis`) and a real
# redis-server on 127.0.0.1. The scenario: push an image, delete its manifest through the
# API, stop the registry, collect, start the registry again on the same redis, push the same
# image again, pull it.
#
# * upstream's garbage-collect leaves the cache claiming the deleted blobs: the push skips
#   them and the image does not pull (the reason for the feature);
# * regsweep gc (redis with a password, db 3, from the configuration file) and regsweep rm
#   (redis from the registry's environment variables) remove exactly the entries of what they
#   deleted: the image pulls again, the kept image's entries and another application's key
#   stay;
# * 3.x's redis.addrs and tls.rootcas: over TLS, refused with a CA that did not sign; 3.x's
#   sentinels (mastername) and a three-node cluster (its MOVED answers followed);
# * faults: redis stopped, a wrong password, a server that accepts and never answers: exit 3
#   within seconds, a finding naming the server and the command that removes what may be
#   stale, and the storage's deletions made; that command, run, makes the image pull again.
set -euo pipefail
REGSWEEP=${REGSWEEP:-$(cd "$(dirname "$0")/../.." && pwd)/build/regsweep}
source "$(dirname "$0")/lib.sh"

REDIS_PID=""
SILENT_PID=""
EXTRA_PIDS=() # sentinels and cluster nodes
extra_stop() {
  local p
  for p in "${EXTRA_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  EXTRA_PIDS=()
}
redis_stop() {
  if [ -n "$REDIS_PID" ]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=""
  fi
}
silent_stop() {
  if [ -n "$SILENT_PID" ]; then
    kill "$SILENT_PID" 2>/dev/null || true
    wait "$SILENT_PID" 2>/dev/null || true
    SILENT_PID=""
  fi
}

e2e_workdir
trap 'registry_stop; redis_stop; silent_stop; extra_stop; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
M=application/vnd.oci.image.manifest.v1+json
REDIS_PORT=$(free_port) || e2e_fail "no free port"
PASSWORD=cache-secret

# redis_start [ARGS...]: redis-server on REDIS_PORT, its data in $W/redis (kept across a
# restart: `rcli shutdown save`), with ARGS (a password).
redis_start() {
  mkdir -p "$W/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$W/redis" --save "" \
    --appendonly no --daemonize no "$@" >>"$W/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do
    env ${REDIS_AUTH:+REDISCLI_AUTH=$REDIS_AUTH} redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  cat "$W/redis.log" >&2
  e2e_fail "redis-server did not start"
}
# rcli DB ARGS...: redis-cli on the test's server and database DB.
rcli() {
  local db=$1
  shift
  env ${REDIS_AUTH:+REDISCLI_AUTH=$REDIS_AUTH} redis-cli --no-auth-warning -p "$REDIS_PORT" -n "$db" "$@"
}

echo "# images: 'keep' stays tagged; 'gone' (own layer, and one shared with 'keep') is deleted"
L=$W/layout
oci_init "$L"
read -r keep keeps <<<"$(oci_image "$L" amd64 base:60000 keep:30000)"
read -r gone gones <<<"$(oci_image "$L" amd64 base:60000 gone:40000)"
oci_tag "$L" $M "$keep" "$keeps" keep
oci_tag "$L" $M "$gone" "$gones" gone
GONE_LAYER=$(jq -r '.layers[1].digest' "$L/blobs/sha256/${gone#sha256:}")
KEEP_LAYER=$(jq -r '.layers[1].digest' "$L/blobs/sha256/${keep#sha256:}")
BASE_LAYER=$(jq -r '.layers[0].digest' "$L/blobs/sha256/${keep#sha256:}")

# scenario ROOT REPO DB: a fresh tree and cache: 'keep' and 'gone' pushed to REPO (the cache
# fills), 'gone' deleted through the API, another application's key in DB, the registry stopped.
scenario() {
  local root=$1 repo=$2 db=$3
  rm -rf "$root"
  rcli "$db" flushdb >/dev/null
  rcli "$db" set otherapp:session keep-me >/dev/null
  registry_start "$root" "$W"
  push "$L" keep "$repo:keep"
  push "$L" gone "$repo:gone"
  pull "$repo:gone" "$W/pulled" || e2e_fail "first pull of $repo:gone"
  delete_manifest "$repo" "$gone"
  registry_stop
}
# repush_pulls ROOT REPO: starts the registry on ROOT and the same cache, pushes 'gone' again
# and pulls it and 'keep' (every blob fetched, its digest checked); 0 when both pull.
repush_pulls() {
  local root=$1 repo=$2 rc=0
  registry_start "$root" "$W"
  push "$L" gone "$repo:gone"
  pull "$repo:gone" "$W/pulled" || rc=1
  pull "$repo:keep" "$W/pulled-keep" || rc=1
  registry_stop
  return $rc
}

CACHE_YAML="  cache:
    blobdescriptor: redis"
REDIS_YAML="redis:
  addr: 127.0.0.1:$REDIS_PORT
  password: $PASSWORD
  db: 3
  dialtimeout: 2s
  readtimeout: 2s"
REDIS_AUTH=$PASSWORD
redis_start --requirepass "$PASSWORD"
E2E_STORAGE_YAML=$CACHE_YAML E2E_EXTRA_YAML=$REDIS_YAML

echo "# upstream: garbage-collect, then the same push: the cache claims the deleted blobs"
scenario "$W/up" lib/app 3
registry_config "$W/up" 0 "$W/config.yml"
check "the cache lists the layer of 'gone' before any collection" \
  test "$(rcli 3 sismember repository::lib/app::blobs "$GONE_LAYER")" = 1
docker-registry garbage-collect "$W/config.yml" >"$W/up.out" 2>&1 || e2e_fail "upstream gc failed"
check "upstream deleted the layer of 'gone'" \
  test ! -e "$W/up/docker/registry/v2/blobs/sha256/${GONE_LAYER:7:2}/${GONE_LAYER#sha256:}"
check "  and left its cache entry" test "$(rcli 3 exists "blobs::$GONE_LAYER")" = 1
repush_fails() { ! repush_pulls "$@"; }
check "after upstream's gc, the pushed-again image does not pull (the broken image)" \
  repush_fails "$W/up" lib/app

echo "# regsweep gc, redis with a password and db 3 from the configuration file"
scenario "$W/gc" lib/app 3
registry_config "$W/gc" 0 "$W/config.yml"
set +e
"$REGSWEEP" gc --min-age 0 --json "$W/gc.json" --prometheus "$W/gc.prom" "$W/config.yml" \
  >"$W/gc.out" 2>"$W/gc.err"
rc=$?
set -e
check "regsweep gc exits 0 (got $rc)" test $rc -eq 0
check "  it deleted the layer of 'gone'" \
  test ! -e "$W/gc/docker/registry/v2/blobs/sha256/${GONE_LAYER:7:2}/${GONE_LAYER#sha256:}"
check "  and removed its global entry" test "$(rcli 3 exists "blobs::$GONE_LAYER")" = 0
check "  and the repository's entries of it" \
  test "$(rcli 3 sismember repository::lib/app::blobs "$GONE_LAYER") $(rcli 3 exists "repository::lib/app::blobs::$GONE_LAYER")" = "0 0"
check "  the entries of the kept image stay (its own layer and the shared one)" \
  test "$(rcli 3 exists "blobs::$KEEP_LAYER") $(rcli 3 exists "blobs::$BASE_LAYER") $(rcli 3 sismember repository::lib/app::blobs "$KEEP_LAYER") $(rcli 3 sismember repository::lib/app::blobs "$BASE_LAYER")" = "1 1 1 1"
check "  another application's key stays" test "$(rcli 3 get otherapp:session)" = keep-me
check "  it says what it removed from the cache" grep -q "removed [0-9]* entries from the registry's redis cache at '127.0.0.1:$REDIS_PORT' (db 3)" "$W/gc.out"
check "  no restart note: the cache is true" sh -c "! grep -q 'restart the registry' '$W/gc.err'"
check "  the JSON report counts the entries removed, none failed" \
  test "$(jq -r '[.blob_cache.entries_removed > 0, .blob_cache.entries_failed] | @tsv' "$W/gc.json")" = "true	0"
check "  the metrics count them" grep -Eq "^regsweep_gc_cache_entries_removed [1-9]" "$W/gc.prom"
check "  every field of the report is documented" \
  python3 "$(dirname "$0")/../cli/json_fields.py" --only-present "$(dirname "$0")/../../docs/json.md" "$W/gc.json"
check "after regsweep gc, the pushed-again image pulls, and the kept one" repush_pulls "$W/gc" lib/app

echo "# a dry run reports what it would remove and connects to nothing"
scenario "$W/dry" lib/app 3
registry_config "$W/dry" 0 "$W/config.yml"
BEFORE_KEYS=$(rcli 3 keys '*' | sort)
"$REGSWEEP" gc --min-age 0 -d --json "$W/dry.json" "$W/config.yml" >"$W/dry.out" 2>&1 || e2e_fail "dry run failed"
check "the dry run names the cache and the entries" grep -q "dry run: would remove from the registry's redis cache" "$W/dry.out"
check "  the JSON report: not attempted, blobs counted" \
  test "$(jq -r '[.blob_cache.attempted, .blob_cache.blobs > 0] | @tsv' "$W/dry.json")" = "false	true"
check "  the cache is unchanged" test "$BEFORE_KEYS" = "$(rcli 3 keys '*' | sort)"

echo "# regsweep rm of a whole repository, redis from the registry's environment (db 0)"
redis_stop
REDIS_AUTH=""
redis_start
unset E2E_EXTRA_YAML
export REGISTRY_REDIS_ADDR=127.0.0.1:$REDIS_PORT
scenario "$W/rm" tmp/doomed 0
registry_config "$W/rm" 0 "$W/config.yml"
check "the cache has tmp/doomed's set" test "$(rcli 0 exists repository::tmp/doomed::blobs)" = 1
set +e
"$REGSWEEP" rm --min-age 0 --config "$W/config.yml" tmp/doomed >"$W/rm.out" 2>"$W/rm.err"
rc=$?
set -e
check "regsweep rm exits 0 (got $rc)" test $rc -eq 0
check "  tmp/doomed is gone from the tree" test ! -e "$W/rm/docker/registry/v2/repositories/tmp/doomed"
check "  and every entry of it from the cache: its set and its hashes" \
  test "$(rcli 0 exists repository::tmp/doomed::blobs)/$(rcli 0 --scan --pattern 'repository::tmp/doomed::*')" = "0/"
check "  the global entries of its blobs are gone" \
  test "$(rcli 0 exists "blobs::$GONE_LAYER") $(rcli 0 exists "blobs::$BASE_LAYER")" = "0 0"
check "  another application's key stays" test "$(rcli 0 get otherapp:session)" = keep-me
registry_start "$W/rm" "$W"
push "$L" gone tmp/doomed:gone
check "after regsweep rm, the pushed-again image pulls" pull tmp/doomed:gone "$W/pulled"
registry_stop
unset REGISTRY_REDIS_ADDR

echo "# a 3.x configuration: redis.addrs, TLS checked against the configuration's CA (rootcas)"
mkdir -p "$W/tls"
(
  cd "$W/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=cache test CA"
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
  printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
    -days 2 -extfile san.ext
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj "/CN=other CA"
) >/dev/null 2>&1
TLS_PORT=$(free_port) || e2e_fail "no free port"
redis_stop
REDIS_AUTH=$PASSWORD
redis_start --requirepass "$PASSWORD" --tls-port "$TLS_PORT" --tls-cert-file "$W/tls/server.pem" \
  --tls-key-file "$W/tls/server.key" --tls-ca-cert-file "$W/tls/ca.pem" --tls-auth-clients no
E2E_EXTRA_YAML=$REDIS_YAML
scenario "$W/tls-root" lib/app 3 # the registry (2.8: no TLS) on the plain port, the same data
tls_config() {
  cat >"$W/tls.yml" <<YAML
version: 0.1
storage:
  cache:
    blobdescriptor: redis
  filesystem:
    rootdirectory: $W/tls-root
redis:
  addrs: [127.0.0.1:$TLS_PORT]
  password: $PASSWORD
  db: 3
  tls:
    rootcas: [$1]
YAML
}
tls_config "$W/tls/other.pem"
set +e
"$REGSWEEP" gc --min-age 0 --config "$W/tls.yml" >"$W/tls-bad.out" 2>"$W/tls-bad.err"
brc=$?
set -e
check "TLS with a CA that did not sign the server's certificate exits 3 (got $brc)" test $brc -eq 3
check "  saying the handshake failed" grep -q "TLS handshake failed" "$W/tls-bad.err"
check "  the layer's entry is still there" test "$(rcli 3 exists "blobs::$GONE_LAYER")" = 1
scenario "$W/tls-root" lib/app 3
tls_config "$W/tls/ca.pem"
set +e
"$REGSWEEP" gc --min-age 0 --config "$W/tls.yml" >"$W/tls.out" 2>"$W/tls.err"
rc=$?
set -e
check "regsweep gc over TLS, from 3.x's redis.addrs, exits 0 (got $rc)" test $rc -eq 0
check "  and removed the layer's entries" \
  test "$(rcli 3 exists "blobs::$GONE_LAYER") $(rcli 3 sismember repository::lib/app::blobs "$GONE_LAYER")" = "0 0"
check "  and the pushed-again image pulls" repush_pulls "$W/tls-root" lib/app

echo "# faults: redis stopped; the finding's command, run later, makes the image pull"
scenario "$W/f1" lib/app 3
registry_config "$W/f1" 0 "$W/config.yml"
rcli 3 save >/dev/null
redis_stop # the entries are in its dump, as a restarted redis would have them
start=$(date +%s)
set +e
"$REGSWEEP" gc --min-age 0 --json "$W/f1.json" --prometheus "$W/f1.prom" "$W/config.yml" \
  >"$W/f1.out" 2>"$W/f1.err"
rc=$?
set -e
took=$(($(date +%s) - start))
check "gc with redis stopped exits 3 (got $rc) within seconds (${took}s)" test $rc -eq 3 -a "$took" -lt 15
check "  the finding names the server" grep -q "redis cache at '127.0.0.1:$REDIS_PORT' (db 3) may still list" "$W/f1.err"
check "  and gives the command" grep -q "run: redis-cli -h 127.0.0.1 -p $REDIS_PORT -n 3 < " "$W/f1.err"
check "  the storage's deletions were made" \
  test ! -e "$W/f1/docker/registry/v2/blobs/sha256/${GONE_LAYER:7:2}/${GONE_LAYER#sha256:}"
check "  the JSON report counts the failures and names the file" \
  test "$(jq -r '[.blob_cache.entries_failed > 0, (.blob_cache.stale_file | type)] | @tsv' "$W/f1.json")" = "true	string"
check "  the metrics count them" grep -Eq "^regsweep_gc_cache_entries_failed [1-9]" "$W/f1.prom"
redis_start --requirepass "$PASSWORD"
check "  redis, back, still claims the layer" test "$(rcli 3 exists "blobs::$GONE_LAYER")" = 1
FIX=$(grep -o "run: redis-cli [^(]*" "$W/f1.err" | sed 's/^run: //')
REDISCLI_AUTH=$PASSWORD sh -c "$FIX" >"$W/fix.out" 2>&1
check "  the command removes it" test "$(rcli 3 exists "blobs::$GONE_LAYER")" = 0
check "  another application's key stays" test "$(rcli 3 get otherapp:session)" = keep-me
check "  and the pushed-again image pulls" repush_pulls "$W/f1" lib/app

echo "# 3.x with sentinels: the master they name (redis.mastername)"
SENTINEL_PORT=$(free_port) || e2e_fail "no free port"
cat >"$W/sentinel.conf" <<CONF
port $SENTINEL_PORT
bind 127.0.0.1
sentinel monitor cache 127.0.0.1 $REDIS_PORT 1
sentinel auth-pass cache $PASSWORD
CONF
redis-server "$W/sentinel.conf" --sentinel >>"$W/sentinel.log" 2>&1 &
EXTRA_PIDS+=($!)
for _ in $(seq 1 100); do
  redis-cli -p "$SENTINEL_PORT" sentinel get-master-addr-by-name cache 2>/dev/null | grep -q . && break
  sleep 0.1
done
scenario "$W/sentinel-root" lib/app 3
cat >"$W/sentinel.yml" <<YAML
version: 0.1
storage:
  cache:
    blobdescriptor: redis
  filesystem:
    rootdirectory: $W/sentinel-root
redis:
  addrs: [127.0.0.1:1, 127.0.0.1:$SENTINEL_PORT]
  mastername: cache
  password: $PASSWORD
  db: 3
YAML
set +e
"$REGSWEEP" gc --min-age 0 --config "$W/sentinel.yml" >"$W/sentinel.out" 2>"$W/sentinel.err"
rc=$?
set -e
extra_stop
check "regsweep gc through a sentinel (the first address down) exits 0 (got $rc)" test $rc -eq 0
check "  it names the master it reached" grep -q "redis cache at '127.0.0.1:$REDIS_PORT'" "$W/sentinel.out"
check "  and removed the layer's entries" \
  test "$(rcli 3 exists "blobs::$GONE_LAYER") $(rcli 3 sismember repository::lib/app::blobs "$GONE_LAYER")" = "0 0"

echo "# 3.x with a cluster (several addrs): the MOVED answers are followed"
NODES=()
# A cluster node also listens on its port + 10000 (the cluster bus): both must be free, and
# the bus port below the kernel's ephemeral range, where outgoing connections take theirs.
cluster_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(free_port) || return 1
    if [ "$p" -lt 22000 ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
for i in 1 2 3; do
  port=$(cluster_port) || e2e_fail "no free port pair for a cluster node"
  mkdir -p "$W/node$i"
  redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes --dir "$W/node$i" \
    --cluster-config-file "$W/node$i/nodes.conf" --save "" --appendonly no \
    --daemonize no >>"$W/node$i.log" 2>&1 &
  EXTRA_PIDS+=($!)
  NODES+=("127.0.0.1:$port")
done
i=0
for n in "${NODES[@]}"; do
  i=$((i + 1))
  up=0
  for _ in $(seq 1 100); do
    redis-cli -p "${n#*:}" ping 2>/dev/null | grep -q PONG && up=1 && break
    sleep 0.1
  done
  [ $up = 1 ] || e2e_fail "cluster node $n did not start: $(tail -3 "$W/node$i.log")"
done
redis-cli --cluster create "${NODES[@]}" --cluster-replicas 0 --cluster-yes >"$W/cluster.log" 2>&1 ||
  e2e_fail "cannot make a redis cluster: $(tail -3 "$W/cluster.log")"
for _ in $(seq 1 100); do
  redis-cli -p "${NODES[0]#*:}" cluster info | grep -q "cluster_state:ok" && break
  sleep 0.1
done
ccli() { redis-cli -c -p "${NODES[0]#*:}" "$@"; }
scenario "$W/cluster-root" lib/app 3
cat >"$W/cluster.yml" <<YAML
version: 0.1
storage:
  cache:
    blobdescriptor: redis
  filesystem:
    rootdirectory: $W/cluster-root
redis:
  addrs: [${NODES[0]}, ${NODES[1]}, ${NODES[2]}]
YAML
"$REGSWEEP" gc --min-age 0 -d --json "$W/cluster-dry.json" --config "$W/cluster.yml" >/dev/null 2>&1 || true
GONE_BLOBS=$(jq -r '.deletions[] | select(.kind == "blob") | .digest' "$W/cluster-dry.json")
for d in $GONE_BLOBS "$KEEP_LAYER"; do
  ccli hset "blobs::$d" digest "$d" size 1 >/dev/null
  ccli sadd repository::lib/app::blobs "$d" >/dev/null
done
NODES_HOLDING=$(for d in $GONE_BLOBS; do ccli cluster keyslot "blobs::$d"; done | awk '{print int($1 / 5461)}' | sort -u | wc -l)
set +e
"$REGSWEEP" gc --min-age 0 --config "$W/cluster.yml" >"$W/cluster.out" 2>"$W/cluster.err"
rc=$?
set -e
check "regsweep gc on a cluster exits 0 (got $rc)" test $rc -eq 0
check "  the entries were on $NODES_HOLDING of its 3 nodes: some MOVED answers were followed" \
  test "$NODES_HOLDING" -ge 2
left=0
for d in $GONE_BLOBS; do left=$((left + $(ccli exists "blobs::$d"))); done
check "  every deleted blob's entry is gone, whichever node held it ($left left)" test $left -eq 0
check "  the kept layer's stays" test "$(ccli exists "blobs::$KEEP_LAYER")" = 1
extra_stop

echo "# faults: a wrong password"
scenario "$W/f2" lib/app 3
registry_config "$W/f2" 0 "$W/config.yml"
sed -i "s/password: $PASSWORD/password: wrong/" "$W/config.yml"
set +e
"$REGSWEEP" gc --min-age 0 "$W/config.yml" >"$W/f2.out" 2>"$W/f2.err"
rc=$?
set -e
check "gc with a wrong password exits 3 (got $rc)" test $rc -eq 3
check "  saying AUTH was refused" grep -q "AUTH refused" "$W/f2.err"
check "  the storage's deletions were made" \
  test ! -e "$W/f2/docker/registry/v2/blobs/sha256/${GONE_LAYER:7:2}/${GONE_LAYER#sha256:}"

echo "# faults: a server that accepts and never answers"
scenario "$W/f3" lib/app 3
SILENT_PORT=$(free_port) || e2e_fail "no free port"
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$SILENT_PORT" &
SILENT_PID=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$SILENT_PORT") 2>/dev/null && break
  sleep 0.1
done
registry_config "$W/f3" 0 "$W/config.yml"
sed -i "s/addr: 127.0.0.1:$REDIS_PORT/addr: 127.0.0.1:$SILENT_PORT/" "$W/config.yml"
start=$(date +%s)
set +e
timeout 60 "$REGSWEEP" gc --min-age 0 "$W/config.yml" >"$W/f3.out" 2>"$W/f3.err"
rc=$?
set -e
took=$(($(date +%s) - start))
check "gc with a silent redis exits 3 (got $rc) within seconds (${took}s)" test $rc -eq 3 -a "$took" -lt 15
check "  saying it had no answer" grep -q "no answer within 2000 ms" "$W/f3.err"
check "  the storage's deletions were made" \
  test ! -e "$W/f3/docker/registry/v2/blobs/sha256/${GONE_LAYER:7:2}/${GONE_LAYER#sha256:}"
silent_stop

e2e_finish
