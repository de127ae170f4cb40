#!/usr/bin/env bash
# regsweep on Azure Blob, end to end: Microsoft's Azurite emulator (npm; scripts/azurite.sh)
# on 127.0.0.1. Debian's registry has no azure driver, so the trees are the real registry's:
# real images pushed with skopeo to Debian's docker-registry on disk (the sample scenario:
# multi-arch images, a referrer, re-pushed and API-deleted tags, an abandoned upload), then
# uploaded into containers under the azure driver's blob names (tests/e2e/azure_blob.py, an
# independent Shared Key client):
#   c-gc, c-gcm   3.x names, no rootdirectory ("docker/registry/v2/…"): gc and gc -m, each
#                 compared with the same command on a copy of the disk tree;
#   c-old         2.8 names ("/docker/registry/v2/…", leading slash kept): gc -m;
#   c-root        3.x names below rootdirectory team/reg: --root azure://c-root/team/reg;
#   c-q           gc -m --quarantine, then restore.
# After each real run every tag is checked complete in its container: each manifest, child
# and blob present with the right sha256.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
REGSWEEP=${REGSWEEP:-$TOP/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
AZ=$W/azurite
trap '"$TOP/scripts/azurite.sh" stop "$AZ"; registry_stop; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
"$TOP/scripts/azurite.sh" start "$AZ" || e2e_fail "azurite did not start"
source "$AZ/env"
check "azurite answers on 127.0.0.1:$AZ_PORT" bash -c "curl -sS -o /dev/null '$AZ_ENDPOINT?comp=list'"

azb() { python3 "$TOP/tests/e2e/azure_blob.py" "$AZ_ENDPOINT" "$@"; }
# az_blobs CONTAINER V2PREFIX: the hex digest of every blob, sorted.
az_blobs() { azb list "$1" "$2blobs/" | sed -n 's|.*/blobs/sha256/../\([0-9a-f]*\)/data$|\1|p' | sort; }
# az_config CONTAINER FILE [ROOTDIRECTORY]: the registry's configuration for CONTAINER.
az_config() {
  cat >"$2" <<YAML
version: 0.1
log:
  level: warn
storage:
  azure:
    accountname: $AZURE_STORAGE_ACCOUNT
    accountkey: $AZURE_STORAGE_KEY
    container: $1
    serviceurl: $AZ_ENDPOINT
${3:+    rootdirectory: $3}
    credentials:
      type: shared_key
  delete:
    enabled: true
http:
  addr: 127.0.0.1:0
YAML
}
# run NAME ARGS...: regsweep ARGS with its output in $W/NAME.out and .err; sets rc.
run() {
  local name=$1
  shift
  set +e
  "$REGSWEEP" "$@" >"$W/$name.out" 2>"$W/$name.err"
  rc=$?
  set -e
}
deletions() { jq -r '.deletions[] | select(.kind != "tidy" and .kind != "upload") | "\(.kind) \(.path) \(.bytes // 0)"' "$1" | sort; }

echo "# building images and pushing them to the real registry on disk"
L=$W/layout
oci_init "$L"
sample_images "$L"
registry_start "$W/disk" "$W"
push "$L" v1 lib/app:v1
push "$L" v1 lib/app:latest
push "$L" v2 lib/app:v2
push "$L" v2 lib/app:latest                      # re-pushed tag
push "$L" old lib/app:stale
push "$L" v2 lib/app:stale                       # 'old' is now untagged but a revision
push "$L" v1 lib/app/nested:1                    # nested repository name
push "$L" multi multi/oci:1 --all                # OCI index
push "$L" multi multi/list:1 --all --format v2s2 # Docker manifest list
push "$L" doomed tmp/doomed:1
push "$L" old tmp/untagged:keep
push "$L" v2 tmp/untagged:keep
v2d=$(manifest_digest lib/app v2)
REF=$(attach_referrer lib/app "$v2d" "$v2s" 'signature of v2')
delete_manifest tmp/doomed "$(manifest_digest tmp/doomed 1)"
loc=$(curl -fsS -X POST -D - -o /dev/null "http://127.0.0.1:$REGISTRY_PORT/v2/lib/app/blobs/uploads/" |
  tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
case "$loc" in http*) ;; *) loc="http://127.0.0.1:$REGISTRY_PORT$loc" ;; esac
curl -fsS -X PATCH -H 'Content-Type: application/octet-stream' --data-binary 'half a layer' "$loc" >/dev/null
registry_stop
TAGS=$(all_tags "$W/disk")
echo "# $(echo "$TAGS" | wc -l) tags, $(blob_list "$W/disk" | wc -l) blobs"

echo "# uploading the tree into five containers, under the driver's names"
V2=$W/disk/docker/registry/v2
for c in c-gc c-gcm c-old c-root c-q c-apply; do azb mkcontainer "$c"; done
azb upload c-gc "$V2" docker/registry/v2/ >/dev/null
azb upload c-gcm "$V2" docker/registry/v2/ >/dev/null
azb upload c-old "$V2" /docker/registry/v2/ >/dev/null
azb upload c-root "$V2" team/reg/docker/registry/v2/ >/dev/null
azb upload c-q "$V2" docker/registry/v2/ >/dev/null
azb upload c-apply "$V2" docker/registry/v2/ >/dev/null
for c in c-gc c-gcm c-old c-q c-apply; do az_config "$c" "$W/$c.yml"; done
cp -a "$W/disk" "$W/disk-gc"
cp -a "$W/disk" "$W/disk-gcm"
registry_config "$W/disk-gc" 0 "$W/disk-gc.yml"
registry_config "$W/disk-gcm" 0 "$W/disk-gcm.yml"
check "the container holds the disk's blobs" test "$(az_blobs c-gc docker/registry/v2/)" = "$(blob_list "$W/disk")"
check "  and the 2.8 container under names with a leading slash" \
  test "$(az_blobs c-old /docker/registry/v2/)" = "$(blob_list "$W/disk")"

echo "# a dry run, du, ls and fsck read the container and change nothing"
before=$(azb list c-gc)
run dry gc --min-age 0 -d -m "$W/c-gc.yml" --json "$W/az-plan.json"
check "gc -d -m on the container exits 0 (got $rc)" test $rc -eq 0
run diskdry gc --min-age 0 -d -m "$W/disk-gc.yml" --json "$W/disk-plan.json"
check "gc -d -m deletes the same in the container as on disk ($(deletions "$W/az-plan.json" | wc -l) deletions)" \
  test "$(deletions "$W/az-plan.json")" = "$(deletions "$W/disk-plan.json")"
check "  and there is something to delete" test "$(deletions "$W/az-plan.json" | wc -l)" -gt 5
check "  the same 'eligible' lines as on disk" \
  test "$(grep -v leftover "$W/dry.out" | grep eligible | sort)" = "$(grep -v leftover "$W/diskdry.out" | grep eligible | sort)"
run du du --min-age 0 "$W/c-gc.yml" --json
"$REGSWEEP" du --min-age 0 "$W/disk-gc.yml" --json >"$W/disk-du.json" 2>/dev/null || true
# As on S3: an API-deleted manifest leaves an empty revision directory on disk only.
rows() { jq -c '.repositories[] | del(.upload_bytes, .uploads) | if .repository == "tmp/doomed" then del(.reclaimable_bytes, .reclaimable_m_bytes) else . end' "$1"; }
check "du's rows are the same in the container as on disk" test "$(rows "$W/du.out")" = "$(rows "$W/disk-du.json")"
run ls ls -t "$W/c-gc.yml"
check "ls -t lists every tag ($(wc -l <"$W/ls.out"))" test "$(wc -l <"$W/ls.out")" -eq "$(echo "$TAGS" | wc -l)"
check "  with the index's platforms" grep -q 'multi/oci:1 .*linux/amd64,linux/arm64' "$W/ls.out"
run fsck fsck "$W/c-gc.yml" --verify-data 100
n=$(blob_list "$W/disk" | wc -l)
check "fsck --verify-data 100 streams every blob through SHA-256 and finds it clean (got $rc)" test $rc -eq 0
check "  every blob verified" grep -q "$n blobs, $n verified" "$W/fsck.out"
run prune prune --dry-run --min-age 0 --keep-n 1 "$W/c-gc.yml" lib/app --json "$W/prune.json"
check "prune --dry-run on the container exits 0 (got $rc)" test $rc -eq 0
check "  and decides every tag of lib/app" \
  test "$(jq '[.retention[] | select(.repository == "lib/app")] | length' "$W/prune.json")" -eq "$(echo "$TAGS" | grep -c '^lib/app:')"
check "nothing in the container changed" test "$before" = "$(azb list c-gc)"
check "no account key in any output" bash -c "! grep -rqF '$AZURE_STORAGE_KEY' $W/*.out $W/*.err $W/*.json"

echo "# gc, in the container and on disk"
blobs_before=$(az_blobs c-gc docker/registry/v2/)
run gc gc --min-age 0 "$W/c-gc.yml" --json "$W/gc.json"
check "regsweep gc on the container exits 0 (got $rc)" test $rc -eq 0
run diskgc gc --min-age 0 "$W/disk-gc.yml"
az_deleted=$(comm -23 <(echo "$blobs_before") <(az_blobs c-gc docker/registry/v2/))
disk_deleted=$(comm -23 <(echo "$blobs_before") <(blob_list "$W/disk-gc"))
check "some blobs were deleted ($(echo "$az_deleted" | grep -c .))" test -n "$az_deleted"
check "the same blobs as on disk" test "$az_deleted" = "$disk_deleted"
check "the JSON counts no failed deletion" test "$(jq .summary.deletions_failed "$W/gc.json")" = 0
check "every tag complete in the container after gc" azb verify c-gc docker/registry/v2/
check "the referrer's manifest is still there" \
  bash -c "azb() { python3 '$TOP/tests/e2e/azure_blob.py' '$AZ_ENDPOINT' \"\$@\"; }; azb get c-gc docker/registry/v2/blobs/sha256/${REF:7:2}/${REF#sha256:}/data >/dev/null"
run again gc --min-age 0 -d "$W/c-gc.yml"
check "a second dry run finds nothing" grep -q "would delete 0 blobs" "$W/again.out" "$W/again.err"

echo "# gc -m, in the container and on disk"
blobs_before=$(az_blobs c-gcm docker/registry/v2/)
run gcm gc --min-age 0 -m --purge-uploads=0s "$W/c-gcm.yml"
check "regsweep gc -m on the container exits 0 (got $rc)" test $rc -eq 0
run diskgcm gc --min-age 0 -m --purge-uploads=0s "$W/disk-gcm.yml"
check "the same blobs are left as on disk ($(az_blobs c-gcm docker/registry/v2/ | wc -l))" \
  test "$(az_blobs c-gcm docker/registry/v2/)" = "$(blob_list "$W/disk-gcm")"
check "the repository links left are the disk's" \
  test "$(azb list c-gcm docker/registry/v2/repositories/ | grep -v /_uploads/ | sed 's|^docker/registry/v2/||' | sort)" = \
  "$(cd "$W/disk-gcm/docker/registry/v2" && find repositories -type f | grep -v /_uploads/ | sort)"
check "the abandoned upload is gone" test -z "$(azb list c-gcm docker/registry/v2/repositories/lib/app/_uploads/)"
check "every tag complete in the container after gc -m" azb verify c-gcm docker/registry/v2/
pull_failed=$(pull_all "$W/disk-gcm")
check "every tag pulls from the disk copy after gc -m" test -z "$pull_failed"

echo "# the 2.8 driver's names: a leading slash"
run old gc --min-age 0 -m --purge-uploads=0s "$W/c-old.yml"
check "gc -m on the 2.8 container exits 0 (got $rc)" test $rc -eq 0
check "  the same blobs are left as in the 3.x container" \
  test "$(az_blobs c-old /docker/registry/v2/)" = "$(az_blobs c-gcm docker/registry/v2/)"
check "  no blob written under the 3.x names" test -z "$(azb list c-old docker/)"
check "  every tag complete" azb verify c-old /docker/registry/v2/

echo "# --root azure://CONTAINER/PREFIX with --endpoint, the key from the environment"
run root gc --min-age 0 -d -m --root azure://c-root/team/reg --endpoint "$AZ_ENDPOINT" --json "$W/root-plan.json"
check "gc -d -m with --root azure://c-root/team/reg exits 0 (got $rc)" test $rc -eq 0
check "  the same plan as on disk" test "$(deletions "$W/root-plan.json")" = "$(deletions "$W/disk-plan.json")"
run rm rm --min-age 0 "lib/app:v1" --root azure://c-root/team/reg --endpoint "$AZ_ENDPOINT"
check "rm lib/app:v1 exits 0 (got $rc)" test $rc -eq 0
check "  the tag is gone" test -z "$(azb list c-root team/reg/docker/registry/v2/repositories/lib/app/_manifests/tags/v1/)"
check "  every other tag complete" azb verify c-root team/reg/docker/registry/v2/

echo "# a container holding both names is refused"
printf 'sha256:%064d' 0 >"$W/odd"
azb put c-gc /docker/registry/v2/repositories/x/_layers/sha256/odd/link "$W/odd"
run both gc --min-age 0 -d "$W/c-gc.yml"
check "gc on a container with both 2.8 and 3.x names exits 1 (got $rc)" test $rc -eq 1
check "  naming both" grep -q "'docker/registry/v2/'.*'/docker/registry/v2/'" "$W/both.err"
azb delete c-gc /docker/registry/v2/repositories/x/_layers/sha256/odd/link

echo "# gc -m --quarantine, restore"
blobs_before=$(az_blobs c-q docker/registry/v2/)
run q gc --min-age 0 -m --quarantine "$W/c-q.yml" --json "$W/q.json"
check "gc -m --quarantine exits 0 (got $rc)" test $rc -eq 0
QRUN=$(jq -r .summary.quarantine_run "$W/q.json")
check "  v2 as after gc -m" test "$(az_blobs c-q docker/registry/v2/)" = "$(az_blobs c-gcm docker/registry/v2/)"
check "  the run holds the blobs it took (copied by Copy Blob)" \
  test "$(az_blobs c-q "docker/registry/quarantine/$QRUN/" | wc -l)" -eq "$(comm -23 <(echo "$blobs_before") <(az_blobs c-q docker/registry/v2/) | wc -l)"
run restore restore "$W/c-q.yml"
check "restore exits 0 (got $rc)" test $rc -eq 0
check "  every blob back" test "$(az_blobs c-q docker/registry/v2/)" = "$blobs_before"
check "  the run is gone" test -z "$(azb list c-q docker/registry/quarantine/)"
check "  every tag complete" azb verify c-q docker/registry/v2/

echo "# a reviewed plan: gc -m --dry-run --plan-out, then apply"
run plan gc --min-age 0 -m -d --purge-uploads=0s --plan-out "$W/plan-apply.json" "$W/c-apply.yml"
check "gc -m -d --plan-out on the container exits 0 (got $rc)" test $rc -eq 0
check "  and changes nothing" test "$(az_blobs c-apply docker/registry/v2/)" = "$(blob_list "$W/disk")"
run apply apply "$W/plan-apply.json"
check "apply exits 0 (got $rc)" test $rc -eq 0
check "  the same blobs are left as after gc -m" \
  test "$(az_blobs c-apply docker/registry/v2/)" = "$(az_blobs c-gcm docker/registry/v2/)"
check "  every tag complete" azb verify c-apply docker/registry/v2/

echo "# a wrong account key"
sed "s|accountkey: .*|accountkey: d3Jvbmcga2V5IGZvciB0aGUgdGVzdA==|" "$W/c-gc.yml" >"$W/wrongkey.yml"
before=$(azb list c-gc)
run wrong gc --min-age 0 "$W/wrongkey.yml"
check "a wrong key exits 1 (got $rc)" test $rc -eq 1
check "  saying what to check" grep -q "check the account name and key" "$W/wrong.err"
check "  nothing changed" test "$before" = "$(azb list c-gc)"
run nocontainer gc --min-age 0 -d --root azure://no-such-container --endpoint "$AZ_ENDPOINT"
check "a container that does not exist exits 1 (got $rc)" test $rc -eq 1
check "  naming it" grep -q "the container 'no-such-container' does not exist" "$W/nocontainer.err"

e2e_finish
