#!/usr/bin/env bash
# regsweep on object storage when things go wrong: a real gc killed with SIGKILL at several
# points, and a server that answers 503 SlowDown (bench/s3proxy.py in front of radosgw, which
# can fail every Nth request or every request after the Nth). After each: every tag still
# pulls from the real registry, and a rerun converges.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
REGSWEEP=${REGSWEEP:-$TOP/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
CEPH=$W/ceph
trap 'proxy_stop; "$TOP/scripts/radosgw.sh" stop "$CEPH"; registry_stop; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
"$TOP/scripts/radosgw.sh" start "$CEPH" >"$W/rgw.out" 2>&1 || { cat "$W/rgw.out"; e2e_fail "radosgw did not start"; }
source "$CEPH/env"

s3_keys() {
  s3 "$RGW_ENDPOINT/$1?list-type=2&max-keys=1000" | grep -o '<Key>[^<]*</Key>' | sed 's|<Key>\(.*\)</Key>|\1|' | sort
}
s3_tags() {
  s3_keys "$1" | sed -n 's|^reg/docker/registry/v2/repositories/\(.*\)/_manifests/tags/\([^/]*\)/current/link$|\1:\2|p'
}

# config FILE ENDPOINT [PORT]
config() {
  cat >"$1" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: $RGW_ACCESS_KEY
    secretkey: $RGW_SECRET_KEY
    region: us-east-1
    regionendpoint: $2
    bucket: faults
    rootdirectory: /reg
    secure: false
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${3:-0}
YAML
}

registry_on_bucket() {
  REGISTRY_PORT=$(free_port)
  config "$W/serve.yml" "$RGW_ENDPOINT" "$REGISTRY_PORT"
  (unset AWS_CA_BUNDLE; exec docker-registry serve "$W/serve.yml" >>"$W/registry.log" 2>&1) &
  REGISTRY_PID=$!
  registry_wait || { cat "$W/registry.log"; e2e_fail "the registry did not start"; }
}

# proxy ARGS...: bench/s3proxy.py in front of radosgw; sets PROXY (its endpoint).
proxy() {
  proxy_start "${RGW_ENDPOINT#http://}" "$@"
  PROXY=http://127.0.0.1:$PROXY_PORT
}

# every_tag_pulls: starts the registry on the bucket and pulls every tag; true when all pull.
every_tag_pulls() {
  local failed=""
  registry_on_bucket
  for t in $(s3_tags faults); do
    pull "$t" "$W/pulled" || failed="$failed $t"
  done
  registry_stop
  [ -z "$failed" ] || { echo "# failed to pull:$failed"; return 1; }
}

echo "# pushing"
L=$W/layout
oci_init "$L"
M=application/vnd.oci.image.manifest.v1+json
for i in 1 2 3 4; do
  read -r d s <<<"$(oci_image "$L" amd64 base:100000 "app$i:20000")"
  oci_tag "$L" $M "$d" "$s" "v$i"
done
read -r amd amds <<<"$(oci_image "$L" amd64 base:100000 amd:10000)"
read -r arm arms <<<"$(oci_image "$L" arm64 arm:10000)"
read -r idx idxs <<<"$(oci_index "$L" "$amd $amds amd64" "$arm $arms arm64")"
oci_tag "$L" application/vnd.oci.image.index.v1+json "$idx" "$idxs" multi
s3 -X PUT "$RGW_ENDPOINT/faults" >/dev/null
registry_on_bucket
for r in a b; do
  for i in 1 2 3 4; do
    push "$L" "v$i" "team/$r:latest"  # each push leaves the previous image untagged
    push "$L" "v$i" "team/$r:v$i"
  done
  push "$L" multi "team/$r:multi" --all
  delete_manifest "team/$r" "$(manifest_digest "team/$r" v1)"
done
registry_stop
config "$W/direct.yml" "$RGW_ENDPOINT"
TAGS=$(s3_tags faults)
echo "# $(echo "$TAGS" | wc -l) tags, $(s3_keys faults | wc -l) keys"
"$REGSWEEP" gc --min-age 0 -m -d "$W/direct.yml" --json "$W/plan.json" >/dev/null 2>&1
plan() { jq -r '.deletions[] | "\(.kind) \(.path)"' "$1" | sort; }
check "a -m plan with work in it: $(plan "$W/plan.json" | wc -l) deletions, blobs among them" \
  test -n "$(plan "$W/plan.json" | grep '^blob ' || true)"

# through NAME PROXY-ARGS...: a -m dry run through bench/s3proxy.py with those faults, its
# report in $W/NAME.json and its stderr in $W/NAME.err; sets rc; the proxy's counts are in
# $W/proxy.json (written once a second).
through() {
  local name=$1
  shift
  proxy "$@"
  config "$W/$name.yml" "$PROXY"
  set +e
  "$REGSWEEP" gc --min-age 0 -m -d "$W/$name.yml" --json "$W/$name.json" >/dev/null 2>"$W/$name.err"
  rc=$?
  set -e
  sleep 1.2
}

echo "# 503 SlowDown on every third request: retried, the same plan"
through flaky --fail-every 3
check "a dry run through the flaky proxy exits 0 (got $rc)" test $rc -eq 0
check "  the proxy did answer 503 ($(jq .injected_503 "$W/proxy.json") times)" test "$(jq .injected_503 "$W/proxy.json")" -gt 0
check "  and the plan is the same as without it" test "$(plan "$W/flaky.json")" = "$(plan "$W/plan.json")"

echo "# a manifest in an archive storage class (issue 31, cause 16): unknown, and all it may reference kept"
idx_a=$(s3 "$RGW_ENDPOINT/faults/reg/docker/registry/v2/repositories/team/a/_manifests/tags/multi/current/link")
idx_a=${idx_a#sha256:}
through archived --archived "*/blobs/sha256/*/$idx_a/data"
check "a -m dry run with the index of team/a:multi archived exits 3 (got $rc)" test $rc -eq 3
check "  the proxy did answer InvalidObjectState ($(jq .archived_403 "$W/proxy.json") times)" \
  test "$(jq .archived_403 "$W/proxy.json")" -gt 0
check "  the error names the object and its storage class" \
  grep -q "$idx_a/data.*archive storage class" "$W/archived.err"
check "  no blob is planned to go" test -z "$(plan "$W/archived.json" | grep '^blob ' || true)"
check "  nor any manifest of team/a (the index's children among them)" \
  test -z "$(jq -r '.deletions[] | select(.repository == "team/a" and .kind == "revision") | .path' "$W/archived.json")"
proxy_stop

echo "# a manifest object of 0 bytes (issue 31, cause 13): unknown on every run, all it may reference kept"
v2_a=$(s3 "$RGW_ENDPOINT/faults/reg/docker/registry/v2/repositories/team/b/_manifests/tags/v2/current/link")
v2_a=${v2_a#sha256:}
v2_key=reg/docker/registry/v2/blobs/sha256/${v2_a:0:2}/$v2_a/data
s3 "$RGW_ENDPOINT/faults/$v2_key" >"$W/v2.manifest"
s3 -X PUT --data-binary "" "$RGW_ENDPOINT/faults/$v2_key" >/dev/null
codes=""
for i in 1 2 3 4 5; do
  set +e
  "$REGSWEEP" gc --min-age 0 -m -d "$W/direct.yml" --json "$W/empty.$i.json" >/dev/null 2>"$W/empty.$i.err"
  codes="$codes $?"
  set -e
done
check "five -m dry runs each exit 3 (got$codes)" test "$codes" = " 3 3 3 3 3"
for i in 1 2 3 4 5; do
  check "  run $i names the empty manifest and plans no blob" \
    bash -c "grep -q '$v2_a/data' '$W/empty.$i.err' &&
      jq -e '[.deletions[] | select(.kind == \"blob\")] | length == 0' '$W/empty.$i.json' >/dev/null"
done
curl -fsS -X PUT --data-binary "@$W/v2.manifest" -H "x-amz-content-sha256: $(sha256sum <"$W/v2.manifest" | cut -d' ' -f1)" \
  --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" "$RGW_ENDPOINT/faults/$v2_key" >/dev/null
"$REGSWEEP" gc --min-age 0 -m -d "$W/direct.yml" --json "$W/restored.json" >/dev/null 2>&1 || true
check "with the manifest back, the plan is the first one again" test "$(plan "$W/restored.json")" = "$(plan "$W/plan.json")"

echo "# 503 on everything after the 20th request: the run stops, nothing is lost"
before=$(s3_keys faults)
proxy --fail-after 20
config "$W/down.yml" "$PROXY"
set +e
"$REGSWEEP" gc --min-age 0 -m "$W/down.yml" >/dev/null 2>"$W/down.err"
rc=$?
set -e
check "gc exits 1 when the listing fails (got $rc)" test $rc -eq 1
check "  saying what the server answered" grep -q "503 SlowDown" "$W/down.err"
# The lock could not be deleted either (the server answers nothing but 503): it stays, and
# the next run on this host takes it over.
check "  and nothing was deleted" test "$before" = "$(s3_keys faults | grep -v 'registry/regsweep.lock$')"

echo "# 503 on every delete: failures counted and reported, nothing lost, a rerun converges"
proxy --fail-method POST --fail-after 0
config "$W/nodelete.yml" "$PROXY"
set +e
"$REGSWEEP" gc --min-age 0 -m "$W/nodelete.yml" --json "$W/half.json" >/dev/null 2>"$W/half.err"
rc=$?
set -e
check "gc whose deletes fail exits 3 (got $rc)" test $rc -eq 3
check "  and counts the failed deletions ($(jq .summary.deletions_failed "$W/half.json"))" \
  test "$(jq .summary.deletions_failed "$W/half.json")" -gt 0
check "  naming the server's answer" grep -q "SlowDown" "$W/half.err"
check "every tag still pulls" every_tag_pulls

echo "# SIGKILL at several points of a real gc -m (50 ms added to each request)"
proxy --delay-ms 50
config "$W/slow.yml" "$PROXY"
initial=$(s3_keys faults | grep -vc 'registry/regsweep.lock$')
# First, a kill as soon as the deletes have begun: watched through the bucket, not timed, so
# that it lands in the sweep however fast the machine is.
"$REGSWEEP" gc --min-age 0 -m "$W/slow.yml" >"$W/kill.out" 2>&1 &
pid=$!
n=$initial
while kill -0 "$pid" 2>/dev/null; do
  n=$(s3_keys faults | grep -vc 'registry/regsweep.lock$')
  [ "$n" -lt "$initial" ] && break
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
"$REGSWEEP" gc --min-age 0 -m -d "$W/direct.yml" --json "$W/left.json" >/dev/null 2>&1 || true
check "a kill landed in the middle of the deletes ($initial keys before, $n when killed, $(jq '.deletions | length' "$W/left.json") deletions left)" \
  test "$n" -lt "$initial" -a "$(jq '.deletions | length' "$W/left.json")" -gt 0
check "after a kill mid-sweep, every tag still pulls" every_tag_pulls
# Then kills at fixed times, from the lock on.
counts=""
for t in 0.3 0.6 0.9 1.2 1.6 2.0 2.5 3.0; do
  "$REGSWEEP" gc --min-age 0 -m "$W/slow.yml" >"$W/kill.out" 2>&1 &
  pid=$!
  sleep "$t"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  n=$(s3_keys faults | grep -vc 'registry/regsweep.lock$')
  counts="$counts $n"
  check "after a kill at ${t}s ($n of $initial keys left), every tag still pulls" every_tag_pulls
done
echo "# keys left after each kill:$counts"
# A run killed while it holds the lock: the next run on this host sees the holder is gone.
"$REGSWEEP" gc --min-age 0 -m "$W/slow.yml" >"$W/kill.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  s3_keys faults | grep -q 'registry/regsweep.lock$' && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
check "a killed run leaves its lock object behind" bash -c "echo '$(s3_keys faults)' | grep -q 'registry/regsweep.lock$'"
set +e
"$REGSWEEP" gc --min-age 0 -m "$W/direct.yml" >"$W/final.out" 2>"$W/final.err"
rc=$?
set -e
check "a rerun after the kills takes over the dead run's lock and completes (got $rc)" test $rc -eq 0
check "  saying whose lock it took over" grep -q "took over the lock last held by pid $pid " "$W/final.err"
check "  and releases it at the end" test -z "$(s3_keys faults | grep 'registry/regsweep.lock$' || true)"
"$REGSWEEP" gc --min-age 0 -m -d "$W/direct.yml" --json "$W/after.json" >/dev/null 2>&1 || true
check "and converges: nothing is left to delete" test "$(jq '.deletions | length' "$W/after.json")" = 0
check "every tag still pulls at the end" every_tag_pulls
check "the tags are the ones there were" test "$(s3_tags faults)" = "$TAGS"

echo "# rule 3 on a bucket: a push between the scan and the deletes"
registry_on_bucket
push "$L" v1 race/gone:1
delete_manifest race/gone "$(manifest_digest race/gone 1)"  # race/gone is empty: gc removes it
set +e
REGSWEEP_TEST_PAUSE_BEFORE_SWEEP=$W/resume timeout 180 "$REGSWEEP" gc --min-age 0 -q "$W/direct.yml" \
  >"$W/race.out" 2>"$W/race.err" &
gcpid=$!
set -e
check "gc planned the empty repository's removal, then paused" wait_paused "$W/race.err"
push "$L" v1 race/gone:2  # the same layers again: the registry finds their blobs
touch "$W/resume"
set +e
wait "$gcpid"
rc=$?
set -e
registry_stop
check "gc exits 3 (got $rc)" test "$rc" -eq 3
check "  saying what changed since the scan" grep -q "race/gone.*since the scan" "$W/race.err"
check "race/gone:2 and every other tag pull" every_tag_pulls

if command -v faketime >/dev/null; then
  echo "# ages by the server's clock (issue 31, cause 14): this machine's clock 10 minutes ahead"
  registry_on_bucket
  push "$L" v1 clock/app:1
  push "$L" v2 clock/app:1  # v1 is untagged in clock/app, seconds ago
  registry_stop
  set +e
  faketime -f "+600s" "$REGSWEEP" gc -d -m --min-age 5m "$W/direct.yml" --json "$W/clock.json" \
    >/dev/null 2>"$W/clock.err"
  set -e
  check "a manifest untagged seconds ago is young under --min-age 5m, whatever this clock says" \
    test "$(jq '[.deletions[] | select(.path | contains("repositories/clock/app"))] | length' \
      "$W/clock.json")" -eq 0
  check "  and the run says the clocks differ" grep -q "s behind this machine's" "$W/clock.err"
  set +e
  faketime -f "+3600s" "$REGSWEEP" gc -d "$W/direct.yml" >/dev/null 2>"$W/skew.err"
  rc=$?
  set -e
  check "a clock an hour off: S3 refuses, and the run says it is the clock (exit $rc)" \
    grep -q "correct the clock" "$W/skew.err"
  check "  not the keys" bash -c "! grep -q 'check the access key' '$W/skew.err'"
fi

echo "# an incomplete multipart upload in a repository with no other key (issue 31, cause 16)"
# (the query is written 'uploads=': RGW signs a bare 'uploads' differently from curl)
ghost=reg/docker/registry/v2/repositories/ghost/_uploads/0b3c/data
s3 -X POST "$RGW_ENDPOINT/faults/$ghost?uploads=" >/dev/null
ghost_uploads() { s3 "$RGW_ENDPOINT/faults?uploads=" | grep -o "repositories/ghost/_uploads/[^<]*" | wc -l; }
check "it is there" test "$(ghost_uploads)" -ge 1
set +e
"$REGSWEEP" gc --min-age 0 --purge-uploads=0s "$W/direct.yml" >"$W/ghost.out" 2>"$W/ghost.err"
set -e
check "gc --purge-uploads reports it" grep -q "repositories/ghost/_uploads/0b3c/data" "$W/ghost.err"
check "  and purges it" test "$(ghost_uploads)" -eq 0
check "every tag still pulls" every_tag_pulls

echo "# a versioned bucket (issue 31, cause 15): deleting hides bytes, it does not free them"
body='<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>'
curl -fsS -X PUT --data-binary "$body" -H "x-amz-content-sha256: $(printf %s "$body" | sha256sum | cut -d' ' -f1)" \
  --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" "$RGW_ENDPOINT/faults?versioning=" >/dev/null
registry_on_bucket
push "$L" v3 versioned/app:1
push "$L" v4 versioned/app:1  # v3 is untagged: -m deletes it
registry_stop
# The server's clock is known to the second (its Date header): a run that starts within a
# second or two of the last write may find it "changed during the scan", and refuse.
sleep 2
set +e
"$REGSWEEP" gc -m --min-age 0 "$W/direct.yml" --json "$W/versioned.json" >"$W/versioned.out" 2>"$W/versioned.err"
set -e
check "the run says at the start that the bucket keeps deleted objects" \
  grep -q "has versioning Enabled" "$W/versioned.err"
check "  reports the bytes as hidden, not freed" grep -q "bytes hidden, not freed" "$W/versioned.out"
check "  and so does the JSON report" test "$(jq .summary.bytes_hidden "$W/versioned.json")" = true
check "every tag still pulls" every_tag_pulls

echo "# --delete-noncurrent-versions (cause 15): the noncurrent versions of exactly what a run deleted"
# versions: every version below the tree, one line each: KIND LATEST KEY VERSIONID
versions() {
  s3 "$RGW_ENDPOINT/faults?max-keys=1000&prefix=reg%2Fdocker%2Fregistry%2Fv2%2F&versions=" >"$W/versions.xml"
  /usr/bin/python3 - "$W/versions.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = root.tag[:root.tag.index('}') + 1] if root.tag.startswith('{') else ''
if root.findtext(ns + 'IsTruncated') == 'true':
    sys.exit('the version listing is truncated')
for e in root:
    kind = e.tag[len(ns):]
    if kind in ('Version', 'DeleteMarker'):
        print(kind, e.findtext(ns + 'IsLatest'), e.findtext(ns + 'Key'), e.findtext(ns + 'VersionId'))
PY
}
read -r only only_s <<<"$(oci_image "$L" amd64 base:100000 only:15000)"
oci_tag "$L" $M "$only" "$only_s" only
registry_on_bucket
push "$L" only versioned/app:1
push "$L" v1 versioned/app:1  # only is untagged now, and its blobs are in no other image
push "$L" v2 versioned/other:1
push "$L" v1 versioned/other:1  # and v2 in versioned/other
registry_stop
sleep 2  # as above
versions >"$W/v-before.txt"
set +e
REGSWEEP_TEST_PAUSE_BEFORE_PURGE=$W/purge.go timeout 180 "$REGSWEEP" gc -m --min-age 0 \
  --delete-noncurrent-versions "$W/direct.yml" --json "$W/purge.json" >"$W/purge.out" 2>"$W/purge.err" &
gc_pid=$!
set -e
paused=no
for _ in $(seq 1 1200); do
  grep -q "paused before the purge" "$W/purge.err" 2>/dev/null && { paused=yes; break; }
  kill -0 "$gc_pid" 2>/dev/null || break
  sleep 0.1
done
check "gc -m --delete-noncurrent-versions swept, then paused before the purge" test $paused = yes
# While it waits, one of the blobs it deleted is written again (as a push of it would).
versions >"$W/v-paused.txt"
again=$(awk 'NR == FNR {if ($1 == "DeleteMarker" && $2 == "true") d[$3] = 1; next}
  $1 == "Version" && $2 == "true" && ($3 in d) && $3 ~ /\/blobs\/sha256\/.*\/data$/ {print $3, $4; exit}' \
  "$W/v-paused.txt" "$W/v-before.txt")
read -r again_key again_vid <<<"$again"
check "the run deleted a blob that is then written again" test -n "$again_key"
if [ -n "$again_key" ]; then
  s3 "$RGW_ENDPOINT/faults/$again_key?versionId=$again_vid" >"$W/again.data"
  curl -fsS -X PUT --data-binary "@$W/again.data" -H "x-amz-content-sha256: $(sha256sum <"$W/again.data" | cut -d' ' -f1)" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" "$RGW_ENDPOINT/faults/$again_key" >/dev/null
else
  echo "# what gc said:"; sed 's/^/#   /' "$W/purge.err"
  again_key=none
fi
touch "$W/purge.go"
set +e
wait "$gc_pid"
purge_code=$?
set -e
versions >"$W/v-after.txt"
check "gc --delete-noncurrent-versions exits 0 (code $purge_code)" test "$purge_code" -eq 0
jq -r '.deletions[].path' "$W/purge.json" | sed 's|^|reg/docker/registry/v2/|; s|$|/|' >"$W/purge.paths"
check "  it deleted blobs and links: $(wc -l <"$W/purge.paths") paths" test "$(wc -l <"$W/purge.paths")" -ge 3
under() { awk 'NR == FNR {p[NR] = $0; n = NR; next} {for (i = 1; i <= n; i++) if (index($3, p[i]) == 1) {print; next}}' "$W/purge.paths" -; }
not_under() { awk 'NR == FNR {p[NR] = $0; n = NR; next} {for (i = 1; i <= n; i++) if (index($3, p[i]) == 1) next; print}' "$W/purge.paths" -; }
gone=$(grep -v " $again_key " "$W/v-before.txt" | under | grep -c '^Version ' || true)
check "  of what it deleted, $gone stored versions were there before" test "$gone" -ge 3
check "  none is left" test "$(grep -v " $again_key " "$W/v-after.txt" | under | grep -c '^Version ' || true)" -eq 0
check "  their delete markers are" test "$(grep -v " $again_key " "$W/v-after.txt" | under | grep -c '^DeleteMarker true ' || true)" -ge 3
check "  the JSON report counts them ($(jq .summary.noncurrent_versions_deleted "$W/purge.json"))" \
  test "$(jq .summary.noncurrent_versions_deleted "$W/purge.json")" -eq "$gone"
check "  and says the bytes are freed, not hidden" test "$(jq .summary.bytes_hidden "$W/purge.json")" = false
check "  the text says it" grep -q "noncurrent versions of the objects it deleted" "$W/purge.out"
# (but the run's own lock object, written and deleted by every run, which leaves versions)
others() { not_under | grep -v '^DeleteMarker' | grep -v ' reg/docker/registry/regsweep.lock ' | sort; }
check "every version of every other key is as it was" \
  diff <(others <"$W/v-before.txt") <(others <"$W/v-after.txt")
check "the blob written again keeps every version it had" \
  test "$(grep -c "^Version [a-z]* $again_key " "$W/v-after.txt")" -eq "$(($(grep -c "^Version [a-z]* $again_key " "$W/v-before.txt") + 1))"
check "  and the run says why" grep -q "written again after this run deleted it" "$W/purge.err"
check "every tag still pulls" every_tag_pulls

e2e_finish
