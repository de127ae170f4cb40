#!/usr/bin/env bash
# End-to-end test of `regsweep gc` against Debian's docker-registry 2.8.2:
# push real images with skopeo, delete through the API, collect with regsweep (with and
# without -m), start the registry on the result and pull every tag; compare what regsweep
# deletes with what `docker-registry garbage-collect` deletes on copies of the same tree.
set -euo pipefail
REGSWEEP=${REGSWEEP:-$(cd "$(dirname "$0")/../.." && pwd)/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
ROOT=$W/root
L=$W/layout

echo "# building images"
oci_init "$L"
sample_images "$L"

echo "# pushing"
registry_start "$ROOT" "$W"
push "$L" v1 lib/app:v1
push "$L" v1 lib/app:latest
push "$L" v2 lib/app:v2
push "$L" v2 lib/app:latest            # re-pushed tag
push "$L" old lib/app:stale
push "$L" v2 lib/app:stale             # 'old' is now untagged but still a revision
push "$L" v1 lib/app/nested:1          # nested repository name
push "$L" multi multi/oci:1 --all      # OCI index
push "$L" multi multi/list:1 --all --format v2s2   # Docker manifest list
push "$L" v1 docker/s2:1 --format v2s2
push "$L" v1 docker/s1:1 --format v2s1
push "$L" doomed tmp/doomed:1
push "$L" doomed tmp/doomed:2
push "$L" old tmp/untagged:keep
push "$L" v2 tmp/untagged:keep         # 'old' untagged here too

# A referrer (signature-like artifact) attached to lib/app:v2 by subject.
ref=$(attach_referrer lib/app "$(manifest_digest lib/app v2)" "$v2s" 'signature of v2')

# Delete through the API: every tag of tmp/doomed goes with its manifest.
delete_manifest tmp/doomed "$(manifest_digest tmp/doomed 1)"
registry_stop

TAGS=$(all_tags "$ROOT")
echo "# tags: $(echo "$TAGS" | wc -l)"

# Copies of the same tree for each collector and mode.
for c in up up_m rs_m; do cp -a "$ROOT" "$W/$c"; done
cp -a "$ROOT" "$W/dry"
registry_config "$W/up" 0 "$W/up.yml"
registry_config "$W/up_m" 0 "$W/up_m.yml"
registry_config "$ROOT" 0 "$W/rs.yml"

echo "# dry run changes nothing"
before=$(tree_state "$W/dry")
"$REGSWEEP" gc --min-age 0 -d --root "$W/dry" >"$W/dry.out" 2>"$W/dry.err"
check "dry run exits 0" test $? -eq 0
check "dry run leaves the tree identical" test "$before" = "$(tree_state "$W/dry")"
"$REGSWEEP" gc --min-age 0 -d -m --root "$W/dry" --json "$W/dry-m.json" >/dev/null 2>&1
check "dry run -m leaves the tree identical" test "$before" = "$(tree_state "$W/dry")"
check "dry run -m JSON is valid and says dry_run" \
  test "$(jq -r '.dry_run and (.deletions | all(.status == "planned"))' "$W/dry-m.json")" = true

echo "# du agrees with gc and with the disk"
"$REGSWEEP" du --root "$W/dry" --min-age 0 --json >"$W/du.json" 2>/dev/null
"$REGSWEEP" gc --min-age 0 -d --root "$W/dry" --json "$W/gc-d.json" >/dev/null 2>&1
check "du's unreferenced bytes equal what gc --dry-run would free" \
  test "$(jq .totals.unreferenced_bytes "$W/du.json")" = "$(jq .summary.bytes_eligible "$W/gc-d.json")"
check "and with -m" \
  test "$(jq .totals.unreferenced_m_bytes "$W/du.json")" = "$(jq .summary.bytes_eligible "$W/dry-m.json")"
check "du's blob bytes equal the sizes of every data file" \
  test "$(jq .totals.blob_bytes "$W/du.json")" = \
  "$(find "$W/dry/docker/registry/v2/blobs" -name data -type f -printf '%s\n' | awk '{s+=$1} END {print s}')"
"$REGSWEEP" du --root "$W/dry" --min-age 0 --prometheus "$W/metrics.prom" >/dev/null 2>&1
check "du --prometheus writes the textfile-collector file" \
  grep -q '^regsweep_repository_exclusive_bytes{repository="lib/app"} ' "$W/metrics.prom"
check "ls -t lists every tag" test "$("$REGSWEEP" ls -t --root "$W/dry" | wc -l)" -eq "$(echo "$TAGS" | wc -l)"
check "ls -t shows the index's platforms" \
  bash -c "'$REGSWEEP' ls -t --root '$W/dry' multi/oci | grep -q 'linux/amd64,linux/arm64'"

echo "# --max-delete: a plan over the cap deletes nothing"
before=$(tree_state "$ROOT")
for cap in 1 1%; do
  set +e
  "$REGSWEEP" gc --min-age 0 -m "$W/rs.yml" --max-delete "$cap" >/dev/null 2>"$W/cap.err"
  rc=$?
  set -e
  check "gc -m --max-delete $cap exits 1 (got $rc)" test $rc -eq 1
  check "  saying how many blobs and which flag" grep -q "blobs.*more than --max-delete $cap" "$W/cap.err"
  check "  and changes nothing" test "$before" = "$(tree_state "$ROOT")"
done

echo "# without -m"
blobs_before=$(blob_list "$ROOT")
set +e
"$REGSWEEP" gc --min-age 0 "$W/rs.yml" --json "$W/rs.json" >"$W/rs.out" 2>"$W/rs.err"
rc=$?
docker-registry garbage-collect "$W/up.yml" >"$W/up.out" 2>"$W/up.err"
urc=$?
set -e
check "regsweep gc exits 0 (got $rc)" test $rc -eq 0
check "upstream gc exits 0 (got $urc)" test $urc -eq 0
rs_deleted=$(comm -23 <(echo "$blobs_before") <(blob_list "$ROOT"))
up_deleted=$(comm -23 <(echo "$blobs_before") <(blob_list "$W/up"))
echo "# regsweep deleted $(echo -n "$rs_deleted" | grep -c . || true) blobs, upstream $(echo -n "$up_deleted" | grep -c . || true)"
check "some blobs were deleted" test -n "$rs_deleted"
check "regsweep deletes exactly the blobs upstream deletes" test "$rs_deleted" = "$up_deleted"
check "the dry-run plan listed exactly those blobs" \
  test "$(grep '^blob eligible for deletion: ' "$W/dry.out" | sed 's/.*sha256://' | sort)" = "$rs_deleted"
check "the JSON lists them with their bytes" \
  test "$(jq -r '[.deletions[] | select(.kind=="blob" and .status=="deleted")] | length' "$W/rs.json")" = \
  "$(echo "$rs_deleted" | grep -c .)"
check "the summary line matches upstream's form" \
  grep -Eq '^[0-9]+ blobs marked, [0-9]+ blobs and 0 manifests eligible for deletion$' "$W/rs.out"
check "the bytes freed are reported" grep -q 'bytes freed' "$W/rs.out"

registry_start "$ROOT" "$W"
for t in $TAGS; do
  check "pull $t after regsweep gc" pull "$t" "$W/pulled"
done
check "the API-deleted image is gone" pull_fails tmp/doomed:1 "$W/pulled"
registry_stop

echo "# with -m"
blobs_before=$(blob_list "$W/rs_m")
set +e
"$REGSWEEP" gc --min-age 0 -m --root "$W/rs_m" >"$W/rs_m.out" 2>"$W/rs_m.err"
rc=$?
docker-registry garbage-collect -m "$W/up_m.yml" >"$W/up_m.out" 2>"$W/up_m.err"
urc=$?
set -e
check "regsweep gc -m exits 0 (got $rc)" test $rc -eq 0
check "upstream gc -m exits 0 (got $urc)" test $urc -eq 0
rs_deleted=$(comm -23 <(echo "$blobs_before") <(blob_list "$W/rs_m"))
up_deleted=$(comm -23 <(echo "$blobs_before") <(blob_list "$W/up_m"))
echo "# regsweep -m deleted $(echo "$rs_deleted" | grep -c .) blobs, upstream -m $(echo "$up_deleted" | grep -c .)"
# What regsweep must keep that 2.8.2 deletes: every blob of a tagged multi-arch image, and
# the referrer whose subject is tagged.
protected=$(
  for t in multi/oci:1 multi/list:1; do
    n=${t%%:*}
    d=$(cat "$W/rs_m/docker/registry/v2/repositories/$n/_manifests/tags/${t##*:}/current/link")
    manifest_refs "$W/rs_m" "$d"
  done
  manifest_refs "$W/rs_m" "$ref"
)
protected=$(echo "$protected" | sed 's/^sha256://' | sort -u)
check "regsweep -m deletes nothing upstream -m keeps" \
  test -z "$(comm -23 <(echo "$rs_deleted") <(echo "$up_deleted"))"
only_up=$(comm -13 <(echo "$rs_deleted") <(echo "$up_deleted"))
check "upstream -m deletes blobs of tagged multi-arch images (the 2.8 bug)" \
  test -n "$(comm -12 <(echo "$only_up") <(echo "$protected"))"
check "what only upstream deletes is exactly what a tagged image or its referrer needs" \
  test "$only_up" = "$(comm -12 <(echo "$up_deleted") <(echo "$protected"))"
check "regsweep -m deletes the untagged 'old' image" \
  bash -c "echo '$rs_deleted' | grep -q '${old#sha256:}'"

registry_start "$W/rs_m" "$W"
for t in $TAGS; do
  check "pull $t after regsweep gc -m" pull "$t" "$W/pulled"
done
check "the referrer still resolves by digest after -m" \
  test "$(manifest_digest lib/app "$ref")" = "$ref"
registry_stop

registry_start "$W/up_m" "$W"
check "after upstream -m, multi/oci:1 no longer pulls (shows what regsweep fixes)" \
  pull_fails multi/oci:1 "$W/pulled"
registry_stop

echo "# exit codes and refusals"
set +e
for c in gc rm prune du ls fsck; do
  "$REGSWEEP" $c --help >"$W/help.out" 2>&1; rc=$?
  check "regsweep $c --help exits 0 (got $rc)" test $rc -eq 0
  check "  and prints its usage" grep -q usage "$W/help.out"
done
"$REGSWEEP" gc --min-age 0 --root "$W/nonexistent" >/dev/null 2>"$W/err"; rc=$?
check "a root without a tree exits 1 (got $rc)" test $rc -eq 1
check "the error names docker/registry/v2 or the path" grep -q "nonexistent" "$W/err"
"$REGSWEEP" gc --min-age 0 --bogus >/dev/null 2>&1; rc=$?
check "an unknown flag exits 2 (got $rc)" test $rc -eq 2
printf 'storage:\n  s3:\n    bucket: x\n' >"$W/s3.yml"
"$REGSWEEP" gc --min-age 0 "$W/s3.yml" >/dev/null 2>"$W/err"; rc=$?
check "an s3 config without a region is refused with exit 1 (got $rc)" test $rc -eq 1
check "the refusal names what is missing" grep -q "names no region" "$W/err"
printf 'storage:\n  azure:\n    accountname: x\n' >"$W/azure.yml"
"$REGSWEEP" gc --min-age 0 "$W/azure.yml" >/dev/null 2>"$W/err"; rc=$?
check "an azure config without a container is refused with exit 1 (got $rc)" test $rc -eq 1
check "the refusal names what is missing" grep -q "names no container" "$W/err"
printf 'storage:\n  gcs:\n    bucket: x\n' >"$W/gcs.yml"
"$REGSWEEP" gc --min-age 0 "$W/gcs.yml" >/dev/null 2>"$W/err"; rc=$?
check "another driver is refused with exit 1 (got $rc)" test $rc -eq 1
check "the refusal names the driver and those regsweep works on" \
  grep -q "'gcs' storage driver; regsweep works on the filesystem, s3 and azure drivers" "$W/err"
mkdir -p "$W/empty/docker/registry/v2"
"$REGSWEEP" gc --min-age 0 --root "$W/empty" >"$W/out" 2>&1; rc=$?
check "an empty registry is not an error (got $rc)" test $rc -eq 0
echo 'sha256:broken' >"$W/rs_m/docker/registry/v2/repositories/lib/app/_manifests/tags/v1/current/link"
"$REGSWEEP" gc --min-age 0 -m --root "$W/rs_m" >/dev/null 2>"$W/err"; rc=$?
check "a malformed tag link is reported with exit 3 (got $rc)" test $rc -eq 3
check "the report names the link" grep -q "lib/app/_manifests/tags/v1/current/link" "$W/err"
REGISTRY_CONFIGURATION_PATH="$W/rs.yml" "$REGSWEEP" gc --min-age 0 -d -q >"$W/out" 2>&1; rc=$?
check "REGISTRY_CONFIGURATION_PATH is honoured (got $rc)" test $rc -eq 0
REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$W/nonexistent" "$REGSWEEP" gc --min-age 0 -d "$W/rs.yml" >/dev/null 2>"$W/err"; rc=$?
check "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY overrides the file (got $rc)" \
  bash -c "test $rc -eq 1 && grep -q nonexistent '$W/err'"
set -e

e2e_finish
