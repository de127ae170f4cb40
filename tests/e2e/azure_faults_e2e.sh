#!/usr/bin/env bash
# regsweep on Azure Blob when things go wrong: Azurite (scripts/azurite.sh) behind the fault
# proxy (bench/s3proxy.py --azure): 503 ServerBusy and 429 Retry-After bursts, connections
# reset during a listing and during a Blob Batch (the service did the work, the answer never
# came: each batch once, then every time), a batch whose sub-requests fail (a leased blob: 412
# LeaseIdMissing), a blob written again between the scan and its deletion (the conditional
# delete's 412 ConditionNotMet), and the emulator killed mid-run and started again. After each: every tag complete in the container (each
# manifest, child and blob present with the right sha256), and a rerun converges.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
REGSWEEP=${REGSWEEP:-$TOP/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
AZ=$W/azurite
trap 'proxy_stop; "$TOP/scripts/azurite.sh" stop "$AZ"; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
"$TOP/scripts/azurite.sh" start "$AZ" || e2e_fail "azurite did not start"
source "$AZ/env"
azb() { python3 "$TOP/tests/e2e/azure_blob.py" "$AZ_ENDPOINT" "$@"; }
az_blobs() { azb list "$1" docker/registry/v2/blobs/ | sed -n 's|.*/blobs/sha256/../\([0-9a-f]*\)/data$|\1|p' | sort; }
run() {
  local name=$1
  shift
  set +e
  "$REGSWEEP" "$@" >"$W/$name.out" 2>"$W/$name.err"
  rc=$?
  set -e
}

# proxy ARGS...: the fault proxy in front of Azurite, speaking Azure's errors; sets PROXY
# (its service URL).
proxy() {
  proxy_start "127.0.0.1:$AZ_PORT" --azure "$@"
  PROXY=http://127.0.0.1:$PROXY_PORT/devstoreaccount1
}
stat_of() { proxy_stop; jq -r ".$1" "$W/proxy.json"; }

# A generated tree in the registry's exact format, large enough for several batches a phase.
"$TOP/scripts/gen-tree" "$W/tree" --repos 8 --images 10 --tags 2 --shared 20 >/dev/null
V2=$W/tree/docker/registry/v2
registry_config "$W/tree" 0 "$W/disk.yml"
"$REGSWEEP" gc --min-age 0 -d -m "$W/disk.yml" --json "$W/disk-plan.json" >/dev/null 2>&1 || true
expected_left=$(comm -23 <(blob_list "$W/tree") <(jq -r '.deletions[] | select(.kind == "blob") | .digest' "$W/disk-plan.json" | sed 's/^sha256://' | sort))
echo "# $(blob_list "$W/tree" | wc -l) blobs, $(jq '.deletions | length' "$W/disk-plan.json") deletions in the gc -m plan"

# fresh CONTAINER: a container holding the tree.
fresh() {
  azb mkcontainer "$1"
  azb upload "$1" "$V2" docker/registry/v2/ >/dev/null
}
# converged CONTAINER WHAT: every tag complete, and a rerun without faults leaves what the
# plan on disk leaves.
converged() {
  check "$2: every tag complete" azb verify "$1" docker/registry/v2/
  run rerun gc --min-age 0 -m --root "azure://$1" --endpoint "$AZ_ENDPOINT"
  check "$2: a rerun exits 0 (got $rc)" test $rc -eq 0
  check "$2: and leaves what the plan on disk leaves" test "$(az_blobs "$1")" = "$expected_left"
}

echo "# 503 ServerBusy on every 4th request"
fresh c-busy
proxy --fail-every 4
run busy gc --min-age 0 -m --root azure://c-busy --endpoint "$PROXY"
injected=$(stat_of injected_503)
check "gc -m through 503s exits 0 (got $rc; $injected answered 503)" test $rc -eq 0
check "  503s were answered" test "$injected" -gt 10
check "  and it left what the plan on disk leaves" test "$(az_blobs c-busy)" = "$expected_left"
converged c-busy "after 503s"

echo "# 429 with Retry-After: 1 on every 10th request"
fresh c-slow
proxy --fail-every 10 --fail-status 429 --retry-after 1
start=$(date +%s.%N)
run slow gc --min-age 0 -m --root azure://c-slow --endpoint "$PROXY"
took=$(echo "$(date +%s.%N) - $start" | bc)
injected=$(stat_of injected_503)
check "gc -m through 429s exits 0 (got $rc; $injected answered 429)" test $rc -eq 0
check "  it waited as Retry-After asked (${took}s for $injected retries on 2 threads or more)" \
  test "$(echo "$took >= 1" | bc)" -eq 1
converged c-slow "after 429s"

echo "# connections reset during the listing"
fresh c-list
proxy --fail-method GET --reset-every 7
run listreset gc --min-age 0 -d -m --root azure://c-list --endpoint "$PROXY" --json "$W/listreset.json"
resets=$(stat_of resets)
check "a dry run through resets exits 0 (got $rc; $resets resets)" test $rc -eq 0
check "  with the plan of a listing without faults" \
  test "$(jq -r '[.deletions[] | select(.kind == "blob")] | length' "$W/listreset.json")" = \
  "$(jq -r '[.deletions[] | select(.kind == "blob")] | length' "$W/disk-plan.json")"
converged c-list "after listing resets"

echo "# connections reset after a batch was sent: the service deleted, the answer was lost"
fresh c-batch
proxy --fail-method POST --reset-once
run batchreset gc --min-age 0 -m --root azure://c-batch --endpoint "$PROXY"
resets=$(stat_of resets)
check "gc -m with each batch's first answer lost exits 0 (got $rc; $resets resets): the retry finds them deleted" test $rc -eq 0
check "  every batch was reset once" test "$resets" -gt 10
converged c-batch "after lost batch answers"
fresh c-batch2
proxy --fail-method POST --reset-every 1
run batchlost gc --min-age 0 -m --root azure://c-batch2 --endpoint "$PROXY"
proxy_stop
check "gc -m with every batch's answer lost exits 3 (got $rc)" test $rc -eq 3
check "  naming a batch it could not confirm" grep -q "cannot delete a batch of" "$W/batchlost.err"
converged c-batch2 "after every batch answer lost"

echo "# a batch whose sub-request fails: a leased blob"
fresh c-lease
leased=$(jq -r '[.deletions[] | select(.kind == "blob")][0].path' "$W/disk-plan.json")/data
azb lease c-lease "docker/registry/v2/$leased"
run lease gc --min-age 0 -m --root azure://c-lease --endpoint "$AZ_ENDPOINT" --json "$W/lease.json"
check "gc -m with a leased blob exits 3 (got $rc)" test $rc -eq 3
check "  the finding names the blob" grep -q "${leased}" "$W/lease.err"
check "  the JSON counts one failed deletion" test "$(jq .summary.deletions_failed "$W/lease.json")" = 1
check "  the leased blob is still there" azb get c-lease "docker/registry/v2/$leased" >/dev/null
check "  the others are gone" test "$(az_blobs c-lease | wc -l)" -eq "$(($(echo "$expected_left" | wc -l) + 1))"
azb unlease c-lease "docker/registry/v2/$leased"
converged c-lease "after the lease is broken"

echo "# a blob written again after the scan, before its deletion"
fresh c-rewrite
rewritten=$(jq -r '[.deletions[] | select(.kind == "blob")][0].path' "$W/disk-plan.json")/data
set +e
REGSWEEP_TEST_PAUSE_BEFORE_SWEEP=$W/resume-rewrite timeout 300 "$REGSWEEP" gc --min-age 0 -m \
  --root azure://c-rewrite --endpoint "$AZ_ENDPOINT" --json "$W/rewrite.json" \
  >"$W/rewrite.out" 2>"$W/rewrite.err" &
gcpid=$!
set -e
check "gc planned the blob's deletion, then paused" wait_paused "$W/rewrite.err"
# The service keeps times to the second: the new write is two seconds after the scan began.
sleep 2
azb get c-rewrite "docker/registry/v2/$rewritten" >"$W/rewritten.bytes"
azb put c-rewrite "docker/registry/v2/$rewritten" "$W/rewritten.bytes"
touch "$W/resume-rewrite"
set +e
wait "$gcpid"
rc=$?
set -e
# The guard lists repositories/ again, not blobs/: only the conditional delete sees this write.
check "gc -m with a blob written again exits 3 (got $rc)" test $rc -eq 3
check "  the finding names the blob, written after the scan began" \
  grep -q "${rewritten}.*written after the scan began" "$W/rewrite.err"
check "  the JSON counts one failed deletion" test "$(jq .summary.deletions_failed "$W/rewrite.json")" = 1
check "  the blob is still there" azb get c-rewrite "docker/registry/v2/$rewritten" >/dev/null
check "  the others are gone" test "$(az_blobs c-rewrite | wc -l)" -eq "$(($(echo "$expected_left" | wc -l) + 1))"
converged c-rewrite "after the blob written again"

echo "# the emulator killed mid-run, then started again"
fresh c-kill
set +e
REGSWEEP_TEST_PAUSE_BEFORE_SWEEP=$W/resume timeout 300 "$REGSWEEP" gc --min-age 0 -m \
  --root azure://c-kill --endpoint "$AZ_ENDPOINT" >"$W/kill.out" 2>"$W/kill.err" &
gcpid=$!
set -e
check "gc planned, then paused" wait_paused "$W/kill.err"
# Azurite saves its index every 5 s: what it was told in the last 5 s dies with it. The wait
# keeps the emulator's own loss (the uploaded tree) out of what this checks.
sleep 6
"$TOP/scripts/azurite.sh" kill "$AZ"
touch "$W/resume"
set +e
wait "$gcpid"
rc=$?
set -e
check "gc with the emulator gone exits 1 or 3 (got $rc)" test $rc -eq 1 -o $rc -eq 3
check "  naming the service it could not reach" grep -q "127.0.0.1:$AZ_PORT" "$W/kill.err"
"$TOP/scripts/azurite.sh" start "$AZ" "$AZ_PORT" || e2e_fail "azurite did not start again"
converged c-kill "after the emulator came back"

e2e_finish
