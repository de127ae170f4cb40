#!/usr/bin/env bash
# regsweep on object storage, end to end: a single-node Ceph radosgw on 127.0.0.1
# (scripts/radosgw.sh), Debian's docker-registry on its s3 driver, real images pushed with
# skopeo. The same pushes go to four buckets and to a directory:
#   b-rs, b-rs-m   collected by regsweep (gc, gc -m), then the registry serves them again and
#              every tag is pulled;
#   b-up, b-up-m   collected by the registry's own garbage-collect, to compare the deleted sets
#              the way gc_e2e.sh does on disk;
#   disk       the filesystem driver: regsweep's plan and du there must equal those on S3.
# Then every other command on a bucket, bad input, and server errors.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
REGSWEEP=${REGSWEEP:-$TOP/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
CEPH=$W/ceph
trap '"$TOP/scripts/radosgw.sh" stop "$CEPH"; registry_stop; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
"$TOP/scripts/radosgw.sh" start "$CEPH" >"$W/rgw.out" 2>&1 || { cat "$W/rgw.out"; tail -20 "$CEPH"/log/*.log; e2e_fail "radosgw did not start"; }
source "$CEPH/env"
check "radosgw answers S3 on 127.0.0.1" bash -c "curl -fsS '$RGW_ENDPOINT/' | grep -q ListAllMyBucketsResult"

# s3_put BUCKET KEY FILE: writes an object.
s3_put() {
  curl -fsS -X PUT -H "x-amz-content-sha256: $(sha_of "$3")" --data-binary "@$3" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
    "$RGW_ENDPOINT/$1/$2" >/dev/null
}
# s3_keys BUCKET: every key with its size and ETag, one per line, sorted (every page).
s3_keys() {
  local after="" page
  while :; do
    page=$(s3 "$RGW_ENDPOINT/$1?list-type=2&max-keys=1000${after:+&start-after=$(jq -rn --arg a "$after" '$a|@uri')}")
    grep -o '<Contents>.*</Contents>' <<<"$page" | sed 's|</Contents>|&\n|g' |
      sed -n 's|.*<Key>\([^<]*\)</Key>.*<ETag>\([^<]*\)</ETag><Size>\([0-9]*\)</Size>.*|\1 \3 \2|p'
    grep -q '<IsTruncated>true</IsTruncated>' <<<"$page" || break
    after=$(grep -o '<Key>[^<]*</Key>' <<<"$page" | tail -1 | sed 's|<Key>\(.*\)</Key>|\1|')
  done | sort
}
# s3_blobs BUCKET: the hex digest of every blob, sorted.
s3_blobs() { s3_keys "$1" | awk '{print $1}' | sed -n 's|^reg/docker/registry/v2/blobs/sha256/../\([0-9a-f]*\)/data$|\1|p' | sort; }
# s3_tags BUCKET: name:tag of every tag.
s3_tags() {
  s3_keys "$1" | awk '{print $1}' |
    sed -n 's|^reg/docker/registry/v2/repositories/\(.*\)/_manifests/tags/\([^/]*\)/current/link$|\1:\2|p' | sort
}

# multipart BUCKET: how many incomplete multipart uploads the bucket holds ("error" when it
# cannot be listed).
multipart() {
  local out
  out=$(s3 "$RGW_ENDPOINT/$1?uploads=") && grep -q ListMultipartUploadsResult <<<"$out" || { echo error; return; }
  grep -o '<Upload>' <<<"$out" | wc -l
}

# s3_config BUCKET FILE [PORT]: the registry's configuration for BUCKET.
s3_config() {
  cat >"$2" <<YAML
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
    regionendpoint: $RGW_ENDPOINT
    bucket: $1
    rootdirectory: /reg
    secure: false
    v4auth: true
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${3:-0}
compatibility:
  schema1:
    enabled: true
YAML
}

# registry_on BUCKET: serves BUCKET on a free port (AWS_CA_BUNDLE unset: the s3 driver panics
# on it).
registry_on() {
  REGISTRY_PORT=$(free_port)
  s3_config "$1" "$W/serve-$1.yml" "$REGISTRY_PORT"
  (unset AWS_CA_BUNDLE; exec docker-registry serve "$W/serve-$1.yml" >>"$W/registry-$1.log" 2>&1) &
  REGISTRY_PID=$!
  registry_wait || { cat "$W/registry-$1.log"; e2e_fail "the registry on bucket $1 did not start"; }
}

echo "# building images"
L=$W/layout
oci_init "$L"
sample_images "$L"
read -r big bigs <<<"$(oci_image "$L" amd64 big:12000000)" # above 5 MiB: a multipart copy
oci_tag "$L" $M "$big" "$bigs" big

# scenario: the pushes, on the registry REGISTRY_PORT serves.
scenario() {
  push "$L" v1 lib/app:v1
  push "$L" v1 lib/app:latest
  push "$L" v2 lib/app:v2
  push "$L" v2 lib/app:latest                      # re-pushed tag
  push "$L" old lib/app:stale
  push "$L" v2 lib/app:stale                       # 'old' is now untagged but a revision
  push "$L" v1 lib/app/nested:1                    # nested repository name
  push "$L" multi multi/oci:1 --all                # OCI index
  push "$L" multi multi/list:1 --all --format v2s2 # Docker manifest list
  push "$L" v1 docker/s2:1 --format v2s2
  push "$L" doomed tmp/doomed:1
  push "$L" doomed tmp/doomed:2
  push "$L" old tmp/untagged:keep
  push "$L" v2 tmp/untagged:keep
  # A referrer attached to lib/app:v2 by subject, and a cosign-style signature tag.
  local v2d
  v2d=$(manifest_digest lib/app v2)
  REF=$(attach_referrer lib/app "$v2d" "$v2s" 'signature of v2')
  put_manifest lib/app "sha256-${v2d#sha256:}.sig" "$W/referrer.json" $M
  # API deletes: every tag of tmp/doomed goes with its manifest.
  delete_manifest tmp/doomed "$(manifest_digest tmp/doomed 1)"
  # An abandoned upload: started, some bytes written, never finished.
  local loc
  loc=$(curl -fsS -X POST -D - -o /dev/null "http://127.0.0.1:$REGISTRY_PORT/v2/lib/app/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  case "$loc" in http*) ;; *) loc="http://127.0.0.1:$REGISTRY_PORT$loc" ;; esac
  curl -fsS -X PATCH -H 'Content-Type: application/octet-stream' --data-binary 'half a layer' "$loc" >/dev/null ||
    e2e_fail "PATCH of an upload failed"
}

echo "# pushing the same images to four buckets and a directory"
for b in b-rs b-rs-m b-up b-up-m b-q; do
  s3 -X PUT "$RGW_ENDPOINT/$b" >/dev/null
  registry_on "$b"
  scenario
  if [ "$b" = b-q ]; then # a 12 MB layer, unreferenced once its manifest is deleted
    push "$L" big tmp/big:1
    delete_manifest tmp/big "$(manifest_digest tmp/big 1)"
  fi
  registry_stop
  s3_config "$b" "$W/$b.yml"
done
registry_start "$W/disk" "$W"
scenario
registry_stop
registry_config "$W/disk" 0 "$W/disk.yml"
TAGS=$(s3_tags b-rs)
check "the buckets hold the same tags ($(echo "$TAGS" | wc -l))" test "$TAGS" = "$(s3_tags b-up-m)"
check "and the same blobs ($(s3_blobs b-rs | wc -l))" test "$(s3_blobs b-rs)" = "$(s3_blobs b-up-m)"
check "and the directory too" test "$(s3_blobs b-rs)" = "$(blob_list "$W/disk")"

echo "# a dry run, du, ls and fsck read the bucket and change nothing"
before=$(s3_keys b-rs)
set +e
"$REGSWEEP" gc --min-age 0 -d -m "$W/b-rs.yml" --json "$W/s3-plan.json" >"$W/dry.out" 2>"$W/dry.err"
rc=$?
set -e
check "gc -d -m on the bucket exits 0 (got $rc)" test $rc -eq 0
"$REGSWEEP" gc --min-age 0 -d "$W/b-rs.yml" >/dev/null 2>&1
"$REGSWEEP" du --min-age 0 "$W/b-rs.yml" --json >"$W/s3-du.json" 2>"$W/du.err"
check "du --json on the bucket" test -s "$W/s3-du.json"
"$REGSWEEP" du --min-age 0 "$W/b-rs.yml" --csv >"$W/s3-du.csv" 2>/dev/null
check "du --csv on the bucket has a row per repository" \
  test "$(($(wc -l <"$W/s3-du.csv") - 1))" -eq "$(jq '.repositories | length' "$W/s3-du.json")"
"$REGSWEEP" ls -t "$W/b-rs.yml" >"$W/ls.out" 2>&1
check "ls -t lists every tag" test "$(wc -l <"$W/ls.out")" -eq "$(echo "$TAGS" | wc -l)"
check "ls -t shows the index's platforms" grep -q 'multi/oci:1 .*linux/amd64,linux/arm64' "$W/ls.out"
"$REGSWEEP" du --min-age 0 "$W/b-rs.yml" --prometheus "$W/s3-du.prom" >/dev/null 2>&1
check "du --prometheus on the bucket" grep -q '^regsweep_repository_exclusive_bytes{repository="lib/app"} ' "$W/s3-du.prom"
set +e
"$REGSWEEP" prune --dry-run --min-age 0 --keep-n 1 --keep v1 "$W/b-rs.yml" lib/app --json "$W/prune.json" >/dev/null 2>"$W/prune.err"
rc=$?
set -e
check "prune --dry-run on the bucket exits 0 (got $rc)" test $rc -eq 0
check "  and decides every tag of lib/app" \
  test "$(jq '[.retention[] | select(.repository == "lib/app")] | length' "$W/prune.json")" -eq "$(echo "$TAGS" | grep -c '^lib/app:')"
set +e
"$REGSWEEP" fsck "$W/b-rs.yml" --verify-data 100 >"$W/fsck.out" 2>"$W/fsck.err"
rc=$?
set -e
check "fsck --verify-data 100 streams every blob through SHA-256 and finds it clean (got $rc)" test $rc -eq 0
check "  every blob verified" grep -q "$(s3_blobs b-rs | wc -l) blobs, $(s3_blobs b-rs | wc -l) verified" "$W/fsck.out"
check "nothing in the bucket changed" test "$before" = "$(s3_keys b-rs)"
check "no secret in any output" bash -c "! grep -rqF '$RGW_SECRET_KEY' '$W/dry.out' '$W/dry.err' '$W/s3-plan.json' '$W/s3-du.json' '$W/ls.out' '$W/fsck.out' '$W/fsck.err'"

echo "# the same content on disk gives the same plan and the same du"
"$REGSWEEP" gc --min-age 0 -d -m "$W/disk.yml" --json "$W/disk-plan.json" >/dev/null 2>&1 || true
# Uploads have random ids, and the filesystem driver leaves empty directories: both aside.
deletions() { jq -r '.deletions[] | select(.kind != "tidy" and .kind != "upload") | "\(.kind) \(.path) \(.bytes // 0)"' "$1" | sort; }
check "gc -d -m deletes the same on S3 as on disk ($(deletions "$W/s3-plan.json" | wc -l) deletions)" \
  test "$(deletions "$W/s3-plan.json")" = "$(deletions "$W/disk-plan.json")"
"$REGSWEEP" du --min-age 0 "$W/disk.yml" --json >"$W/disk-du.json" 2>/dev/null
# One difference is inherent: a manifest deleted through the API leaves an empty revision
# directory on disk, which tells du whose it was; on S3 nothing is left, so its blob is
# reclaimable in the totals but in no repository's row.
rows() { jq -c '.repositories[] | del(.upload_bytes, .uploads) | if .repository == "tmp/doomed" then del(.reclaimable_bytes, .reclaimable_m_bytes) else . end' "$1"; }
check "du's rows are the same on S3 as on disk" test "$(rows "$W/s3-du.json")" = "$(rows "$W/disk-du.json")"
totals() { jq -c '.totals | del(.upload_bytes, .uploads)' "$1"; }
check "du's totals are the same on S3 as on disk" test "$(totals "$W/s3-du.json")" = "$(totals "$W/disk-du.json")"
check "du's blob bytes are the bucket's" \
  test "$(jq .totals.blob_bytes "$W/s3-du.json")" = \
  "$(s3_keys b-rs | awk '$1 ~ /\/blobs\/sha256\/.*\/data$/ {s+=$2} END {print s}')"

echo "# gc without -m, side by side with the registry's own"
blobs_before=$(s3_blobs b-rs)
set +e
"$REGSWEEP" gc --min-age 0 "$W/b-rs.yml" --json "$W/b-rs.json" >"$W/b-rs.out" 2>"$W/b-rs.err"
rc=$?
(unset AWS_CA_BUNDLE; docker-registry garbage-collect "$W/b-up.yml" >"$W/b-up.out" 2>"$W/b-up.err")
urc=$?
set -e
check "regsweep gc exits 0 (got $rc)" test $rc -eq 0
check "upstream gc exits 0 (got $urc)" test $urc -eq 0
rs_deleted=$(comm -23 <(echo "$blobs_before") <(s3_blobs b-rs))
up_deleted=$(comm -23 <(echo "$blobs_before") <(s3_blobs b-up))
echo "# regsweep deleted $(echo -n "$rs_deleted" | grep -c . || true) blobs, upstream $(echo -n "$up_deleted" | grep -c . || true)"
check "some blobs were deleted" test -n "$rs_deleted"
check "regsweep deletes exactly the blobs upstream deletes" test "$rs_deleted" = "$up_deleted"
check "the log names them as upstream does" \
  test "$(grep -c '^Deleting blob: /docker/registry/v2/blobs/sha256/' "$W/b-rs.err")" -eq "$(echo "$rs_deleted" | grep -c .)"
check "the JSON counts no failed deletion" test "$(jq .summary.deletions_failed "$W/b-rs.json")" = 0
registry_on b-rs
for t in $TAGS; do
  check "pull $t from the bucket after regsweep gc" pull "$t" "$W/pulled"
done
check "the referrer still resolves by digest" test "$(manifest_digest lib/app "$REF")" = "$REF"
registry_stop

echo "# gc -m, side by side with the registry's own -m"
blobs_before=$(s3_blobs b-rs-m)
check "the abandoned upload left an incomplete multipart upload" test "$(multipart b-rs-m)" = 1
set +e
"$REGSWEEP" gc --min-age 0 -m --purge-uploads=0s "$W/b-rs-m.yml" >"$W/b-rs-m.out" 2>"$W/b-rs-m.err"
rc=$?
(unset AWS_CA_BUNDLE; docker-registry garbage-collect -m "$W/b-up-m.yml" >"$W/b-up-m.out" 2>"$W/b-up-m.err")
urc=$?
set -e
check "regsweep gc -m exits 0 (got $rc)" test $rc -eq 0
check "upstream gc -m exits 0 (got $urc)" test $urc -eq 0
rs_deleted=$(comm -23 <(echo "$blobs_before") <(s3_blobs b-rs-m))
up_deleted=$(comm -23 <(echo "$blobs_before") <(s3_blobs b-up-m))
echo "# regsweep -m deleted $(echo "$rs_deleted" | grep -c .) blobs, upstream -m $(echo "$up_deleted" | grep -c .)"
# What regsweep must keep that 2.8.2 deletes: every blob of a tagged multi-arch image, and the
# referrer whose subject is tagged (read from the same content on disk).
protected=$(
  for n in multi/oci multi/list; do
    manifest_refs "$W/disk" "$(cat "$W/disk/docker/registry/v2/repositories/$n/_manifests/tags/1/current/link")"
  done
  manifest_refs "$W/disk" "$REF"
)
protected=$(echo "$protected" | sed 's/^sha256://' | sort -u)
check "regsweep -m deletes nothing upstream -m keeps" \
  test -z "$(comm -23 <(echo "$rs_deleted") <(echo "$up_deleted"))"
only_up=$(comm -13 <(echo "$rs_deleted") <(echo "$up_deleted"))
check "upstream -m deletes blobs of tagged multi-arch images on S3 too (the 2.8 bug)" \
  test -n "$(comm -12 <(echo "$only_up") <(echo "$protected"))"
check "what only upstream deletes is exactly what a tagged image or its referrer needs" \
  test "$only_up" = "$(comm -12 <(echo "$up_deleted") <(echo "$protected"))"
check "regsweep -m deletes the untagged 'old' image" grep -q "${old#sha256:}" <<<"$rs_deleted"
check "--purge-uploads removed the abandoned upload's keys" \
  test -z "$(s3_keys b-rs-m | grep '/_uploads/' || true)"
check "and aborted its multipart upload" test "$(multipart b-rs-m)" = 0
check "the other buckets' multipart uploads are still there" test "$(multipart b-up-m)" = 1
registry_on b-rs-m
for t in $TAGS; do
  check "pull $t from the bucket after regsweep gc -m" pull "$t" "$W/pulled"
done
registry_stop
registry_on b-up-m
check "after upstream -m, multi/oci:1 no longer pulls (what regsweep fixes)" pull_fails multi/oci:1 "$W/pulled"
registry_stop
set +e
"$REGSWEEP" gc --min-age 0 -m "$W/b-rs-m.yml" -q >"$W/again.out" 2>&1
rc=$?
set -e
"$REGSWEEP" gc --min-age 0 -m -d "$W/b-rs-m.yml" --json "$W/again.json" >/dev/null 2>&1 || true
check "a second gc -m converges: nothing left to delete (exit $rc)" \
  test $rc -eq 0 -a "$(jq .summary.blobs_eligible "$W/again.json")" = 0

echo "# gc -m --quarantine on a bucket: v2 as after a plain gc -m; restore; purge"
# s3_sums BUCKET [AREA]: every key below reg/docker/registry/AREA (v2) but the lock, with its
# size and the sha256 of its bytes.
s3_sums() {
  s3_keys "$1" | grep "^reg/docker/registry/${2:-v2}/" | grep -v regsweep.lock | while read -r k size _; do
    echo "$k $size $(s3 "$RGW_ENDPOINT/$1/$k" | sha256sum | cut -c1-64)"
  done
}
v2_keys() { s3_keys "$1" | awk '{print $1, $2}' | grep '^reg/docker/registry/v2/' | grep -v -e regsweep.lock -e /_uploads/; }
q_before=$(s3_sums b-q)
set +e
export REGSWEEP_TEST_MAX_COPY=5242880 # the 12 MB layer goes in a multipart copy (5 MiB parts)
"$REGSWEEP" gc --min-age 0 -m --purge-uploads=0s --quarantine "$W/b-q.yml" --json "$W/b-q.json" >"$W/b-q.out" 2>"$W/b-q.err"
rc=$?
set -e
check "gc -m --quarantine on the bucket exits 0 (got $rc)" test $rc -eq 0
QRUN=$(jq -r .summary.quarantine_run "$W/b-q.json")
check "  it made a run ($QRUN)" grep -q "quarantine run $QRUN" "$W/b-q.out"
check "  v2 holds the keys a plain gc -m left ($(v2_keys b-q | wc -l))" test "$(v2_keys b-q)" = "$(v2_keys b-rs-m)"
gone=$(join -v1 <(echo "$q_before" | sort -k1,1) <(s3_keys b-q | awk '{print $1}' | sort))
in_run=$(s3_sums b-q quarantine | sed "s|^reg/docker/registry/quarantine/$QRUN/|reg/docker/registry/v2/|" | grep -v '/v2/journal.json ' | sort)
check "  the run holds exactly the $(echo "$gone" | grep -c .) deleted keys, with their bytes" \
  test -n "$gone" -a "$gone" = "$in_run"
BIGKEY=$(jq -r '.layers[0].digest' "$L/blobs/sha256/${big#sha256:}" | sed 's/^sha256://')
check "  the 12 MB layer went in a multipart copy of 3 parts (its copy's ETag ends in -3)" \
  test -n "$(s3_keys b-q | grep "^reg/docker/registry/quarantine/$QRUN/blobs/sha256/${BIGKEY:0:2}/$BIGKEY/data " | grep -E -- '-3(&quot;|")?$' || true)"
journal_complete=$(s3 "$RGW_ENDPOINT/b-q/reg/docker/registry/quarantine/$QRUN/journal.json" | jq -r .complete || true)
check "  the journal is complete" test "$journal_complete" = true
check "  no copy was left unfinished" test "$(multipart b-q)" = 0
"$REGSWEEP" quarantine --json "$W/b-q.yml" >"$W/b-q-list.json"
check "quarantine lists the run on the bucket, with its bytes" \
  test "$(jq -r '.runs[0].id, (.runs[0].bytes > 0)' "$W/b-q-list.json" | tr '\n' ' ')" = "$QRUN true "
set +e
"$REGSWEEP" restore "$W/b-q.yml" >"$W/b-q-restore.out" 2>&1
rc=$?
set -e
check "restore on the bucket exits 0 (got $rc)" test $rc -eq 0
check "  every key is back with its bytes, and nothing else" test "$(s3_sums b-q)" = "$q_before"
check "  the restored run is deleted" test -z "$(s3_keys b-q | grep '^reg/docker/registry/quarantine/' || true)"
registry_on b-q
for t in $TAGS; do
  check "pull $t from the bucket after restore" pull "$t" "$W/pulled"
done
registry_stop
"$REGSWEEP" gc --min-age 0 -m --quarantine "$W/b-q.yml" -q >/dev/null 2>&1 || true
check "a second gc -m --quarantine makes a run" test -n "$(s3_keys b-q | grep '^reg/docker/registry/quarantine/' || true)"
sleep 1.1 # a run is dated to the second: older than 0s from the next one on
"$REGSWEEP" quarantine --purge-older-than 0s "$W/b-q.yml" >"$W/b-q-purge.out" 2>&1 || true
check "purge empties the bucket's quarantine" test -z "$(s3_keys b-q | grep '^reg/docker/registry/quarantine/' || true)"
check "  and leaves v2 as gc -m did" test "$(v2_keys b-q)" = "$(v2_keys b-rs-m)"

unset REGSWEEP_TEST_MAX_COPY

echo "# rm, and --root s3:// without a config"
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY
set +e
"$REGSWEEP" rm --min-age 0 "lib/app:v1" --root s3://b-rs/reg --s3-endpoint "$RGW_ENDPOINT" >"$W/rm.out" 2>&1
rc=$?
set -e
check "rm lib/app:v1 with --root s3://b-rs/reg exits 0 (got $rc)" test $rc -eq 0
check "  the tag is gone" test -z "$(s3_tags b-rs | grep '^lib/app:v1$' || true)"
check "  the other tags are not" test "$(s3_tags b-rs | wc -l)" -eq "$(($(echo "$TAGS" | wc -l) - 1))"
"$REGSWEEP" ls -t --root s3://b-rs/reg --endpoint "$RGW_ENDPOINT" >"$W/ls-endpoint.out" 2>&1 || true
"$REGSWEEP" ls -t --root s3://b-rs/reg --s3-endpoint "$RGW_ENDPOINT" >"$W/ls-s3-endpoint.out" 2>&1 || true
check "--endpoint is --s3-endpoint: ls -t lists the same $(wc -l <"$W/ls-endpoint.out") tags" \
  cmp "$W/ls-endpoint.out" "$W/ls-s3-endpoint.out"
check "  every tag left" test "$(wc -l <"$W/ls-endpoint.out")" -eq "$(s3_tags b-rs | wc -l)"
registry_on b-rs
for t in $(s3_tags b-rs); do
  check "pull $t after rm" pull "$t" "$W/pulled"
done
registry_stop
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

echo "# fsck --repair on the bucket: a dangling layer link goes once a direct look finds its blob absent"
ghost=$(printf 'never pushed' | sha256sum | cut -d' ' -f1)
printf 'sha256:%s' "$ghost" >"$W/ghost-link"
s3_put b-rs "reg/docker/registry/v2/repositories/lib/app/_layers/sha256/$ghost/link" "$W/ghost-link"
kept=$(s3_keys b-rs | grep -v "/$ghost/")
sleep 2  # the bucket's times are to the second (see the damaged bucket below)
set +e
"$REGSWEEP" fsck --repair "$W/b-rs.yml" >"$W/repair.out" 2>"$W/repair.err"
rc=$?
set -e
check "fsck --repair on the bucket repairs the dangling link (exit $rc)" grep -q "^repaired: .*$ghost" "$W/repair.out"
check "  the link is gone (its blob was looked at with HEAD: absent)" \
  test -z "$(s3_keys b-rs | grep "/$ghost/" || true)"
check "  and nothing else changed" test "$kept" = "$(s3_keys b-rs)"

echo "# bad input on S3: findings, exit 3, nothing lost"
s3 -X PUT "$RGW_ENDPOINT/bad" >/dev/null
registry_on bad
push "$L" v1 bad/app:v1
push "$L" v2 bad/app:v2
registry_stop
s3_config bad "$W/bad.yml"
V2=reg/docker/registry/v2
printf 'not a digest' >"$W/garbage"
s3_put bad "$V2/repositories/bad/app/_manifests/tags/v1/current/link" "$W/garbage"
s3_put bad "$V2/blobs/sha256/zz/x" "$W/garbage"
orphan=$(printf 'orphan' | sha256sum | cut -d' ' -f1)
printf 'orphan' >"$W/orphan"
s3_put bad "$V2/blobs/sha256/${orphan:0:2}/$orphan/data" "$W/orphan"
s3_put bad "$V2/blobs/sha256/${orphan:0:2}/$orphan/data/x" "$W/garbage"
printf '{"schemaVersion":2,' >"$W/corrupt"
chex=$(sha_of "$W/corrupt")
s3_put bad "$V2/blobs/sha256/${chex:0:2}/$chex/data" "$W/corrupt"
printf 'sha256:%s' "$chex" >"$W/clink"
s3_put bad "$V2/repositories/bad/app/_manifests/revisions/sha256/$chex/link" "$W/clink"
before=$(s3_keys bad)
# The bucket's times are to the second: a run in the second of the last write would see it
# as written during its scan, and refuse (exit 1) instead of reporting the damage.
sleep 2
set +e
"$REGSWEEP" gc --min-age 0 -m "$W/bad.yml" >"$W/bad.out" 2>"$W/bad.err"
rc=$?
set -e
check "gc -m on a damaged bucket exits 3 (got $rc)" test $rc -eq 3
check "  names the bad tag link" grep -q "repositories/bad/app/_manifests/tags/v1/current/link" "$W/bad.err"
check "  names the odd key" grep -q "blobs/sha256/zz" "$W/bad.err"
check "  names the key that is also a directory" grep -q "$orphan/data" "$W/bad.err"
check "  names the corrupt manifest" grep -q "$chex" "$W/bad.err"
check "  and deletes nothing that could be needed: every blob is still there" \
  test -z "$(comm -23 <(echo "$before" | awk '{print $1}' | grep '/blobs/' ) <(s3_keys bad | awk '{print $1}'))"
check "  the revision the broken tag named is kept (-m keeps every revision)" \
  test -n "$(s3_keys bad | grep "revisions/sha256/${v1#sha256:}/link" || true)"

echo "# S3 credentials from the AWS chain when the configuration has none (issue 37)"
# Each source alone, in a clean environment, hands out the RGW user's keys; `ls` of the
# bucket must list what it lists with the keys in the environment. The services that hand
# out keys are local stand-ins (aws_creds_stub.py), checking what the real ones check.
STUB_PORT=$(free_port)
python3 "$TOP/tests/e2e/aws_creds_stub.py" --port "$STUB_PORT" --access "$RGW_ACCESS_KEY" \
  --secret "$RGW_SECRET_KEY" --log "$W/stub.log" &
STUB_PID=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$STUB_PORT") 2>/dev/null && break; sleep 0.1; done
STUB="http://127.0.0.1:$STUB_PORT"
mkdir -p "$W/home/.aws"
set +e # the exit codes below are checked one by one
# ls_with VAR=VALUE...: `ls -t` of b-rs/reg with nothing but those variables (and PATH, HOME).
ls_with() {
  env -i PATH="$PATH" HOME="$W/home" AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9 "$@" \
    "$REGSWEEP" ls -t --root s3://b-rs/reg --endpoint "$RGW_ENDPOINT" >"$W/creds.out" 2>"$W/creds.err"
}
ls_with AWS_ACCESS_KEY_ID="$RGW_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$RGW_SECRET_KEY"
cp "$W/creds.out" "$W/creds.want"
check "the environment's keys list the bucket" test -s "$W/creds.want"
same() { cmp -s "$W/creds.out" "$W/creds.want"; }
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n[other]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
  "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" >"$W/home/.aws/credentials"
ls_with AWS_EC2_METADATA_DISABLED=true && same
check "the shared credentials file's default profile (~/.aws/credentials)" test $? -eq 0
ls_with AWS_PROFILE=other AWS_EC2_METADATA_DISABLED=true && same
check "  AWS_PROFILE's profile" test $? -eq 0
printf '[elsewhere]\naws_access_key_id = x\naws_secret_access_key = y\n' >"$W/creds.ini"
ls_with AWS_SHARED_CREDENTIALS_FILE="$W/creds.ini" AWS_PROFILE=missing
check "  a profile AWS_PROFILE names and the file lacks is an error naming it, exit 1 ($?)" \
  bash -c "test $? -eq 1 && grep -q \"AWS_PROFILE names 'missing'\" '$W/creds.err'"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n' "$RGW_ACCESS_KEY" >"$W/creds.ini"
ls_with AWS_SHARED_CREDENTIALS_FILE="$W/creds.ini" AWS_ACCESS_KEY_ID="$RGW_ACCESS_KEY" \
  AWS_SECRET_ACCESS_KEY="$RGW_SECRET_KEY" && same
check "  the environment comes before the file (its wrong secret is not used)" test $? -eq 0
rm -f "$W/home/.aws/credentials"
echo web-identity-token >"$W/web.token"
: >"$W/stub.log"
ls_with AWS_WEB_IDENTITY_TOKEN_FILE="$W/web.token" AWS_ROLE_ARN=arn:aws:iam::000000000000:role/regsweep \
  AWS_ENDPOINT_URL_STS="$STUB" && same
check "web identity: the token file exchanged at STS for keys" test $? -eq 0
check "  by AssumeRoleWithWebIdentity" grep -q "^POST / sts-keys" "$W/stub.log"
echo another-token >"$W/web.token"
ls_with AWS_WEB_IDENTITY_TOKEN_FILE="$W/web.token" AWS_ROLE_ARN=arn:aws:iam::000000000000:role/regsweep \
  AWS_ENDPOINT_URL_STS="$STUB"
check "  a token STS refuses: exit 1 ($?), naming STS's answer" \
  bash -c "test $? -eq 1 && grep -q 'AccessDenied' '$W/creds.err'"
: >"$W/stub.log"
ls_with AWS_CONTAINER_CREDENTIALS_FULL_URI="$STUB/ecs/credentials" \
  AWS_CONTAINER_AUTHORIZATION_TOKEN=ecs-authorization && same
check "the container credentials endpoint (ECS), with its authorization token" test $? -eq 0
check "  asked once" test "$(grep -c 'ecs-keys' "$W/stub.log")" -eq 1
echo ecs-authorization >"$W/ecs.token"
ls_with AWS_CONTAINER_CREDENTIALS_FULL_URI="$STUB/ecs/credentials" \
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$W/ecs.token" && same
check "  the token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" test $? -eq 0
: >"$W/stub.log"
ls_with AWS_EC2_METADATA_SERVICE_ENDPOINT="$STUB" && same
check "the instance metadata service (IMDSv2)" test $? -eq 0
check "  a session token first, then the role, then its keys" \
  test "$(awk '{print $3}' "$W/stub.log" | tr '\n' ' ')" = "imds-token imds-role imds-keys "
ls_with AWS_EC2_METADATA_DISABLED=true
check "no source at all: exit 1 ($?), saying where it looked" \
  bash -c "test $? -eq 1 && grep -q 'no S3 credentials' '$W/creds.err' && grep -q 'AWS_EC2_METADATA_DISABLED' '$W/creds.err'"
start=$(date +%s)
ls_with
check "  an instance metadata service that does not answer: exit 1 ($?) within seconds" \
  bash -c "test $? -eq 1 && test $(($(date +%s) - start)) -lt 30"
kill "$STUB_PID" 2>/dev/null || true
wait "$STUB_PID" 2>/dev/null || true
set -e

echo "# server errors: a clear message, exit 1, nothing changed"
sed "s|secretkey: .*|secretkey: wrong|" "$W/b-rs.yml" >"$W/wrongkey.yml"
set +e
"$REGSWEEP" gc --min-age 0 "$W/wrongkey.yml" >/dev/null 2>"$W/err"; rc=$?
set -e
check "wrong credentials exit 1 (got $rc)" test $rc -eq 1
check "  saying so" grep -q "check the access key" "$W/err"
check "  without printing the secret" bash -c "! grep -q wrong '$W/err'"
sed "s|bucket: b-rs$|bucket: nosuchbucket|" "$W/b-rs.yml" >"$W/nobucket.yml"
set +e
"$REGSWEEP" gc --min-age 0 "$W/nobucket.yml" >/dev/null 2>"$W/err"; rc=$?
set -e
check "a missing bucket exits 1 (got $rc)" test $rc -eq 1
check "  naming it" grep -q "nosuchbucket" "$W/err"
down=$(free_port)
sed "s|regionendpoint: .*|regionendpoint: http://127.0.0.1:$down|" "$W/b-rs.yml" >"$W/down.yml"
set +e
start=$(date +%s)
timeout 120 "$REGSWEEP" gc --min-age 0 "$W/down.yml" >/dev/null 2>"$W/err"; rc=$?
took=$(($(date +%s) - start))
set -e
check "an endpoint that is down exits 1 (got $rc) in bounded time (${took}s)" test $rc -eq 1 -a "$took" -lt 60
check "  naming the endpoint" grep -q "127.0.0.1:$down" "$W/err"

e2e_finish
