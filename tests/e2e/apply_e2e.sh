#!/usr/bin/env bash
# End-to-end test of plans reviewed before they run, against Debian's docker-registry 2.8.2 on
# disk: `gc -m --dry-run --plan-out FILE` writes the plan; a client then tags one of its
# untagged manifests again through the registry; `regsweep apply FILE` keeps that image (it
# pulls), carries out the rest of the plan, and reports what changed. A plan too old, for
# another root, or made with a configuration that changed since, is refused and changes
# nothing.
set -euo pipefail
REGSWEEP=${REGSWEEP:-$(cd "$(dirname "$0")/../.." && pwd)/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
ROOT=$W/root
L=$W/layout
M=application/vnd.oci.image.manifest.v1+json

echo "# building and pushing images"
oci_init "$L"
read -r v1 v1s <<<"$(oci_image "$L" amd64 base:200000 app1:40000)"
read -r v2 v2s <<<"$(oci_image "$L" amd64 base:200000 app2:40000)"
read -r old olds <<<"$(oci_image "$L" amd64 base:200000 old:30000)"
read -r gone gones <<<"$(oci_image "$L" amd64 gone:30000)"
read -r other others <<<"$(oci_image "$L" amd64 other:50000)"
oci_tag "$L" $M "$v1" "$v1s" v1
oci_tag "$L" $M "$v2" "$v2s" v2
oci_tag "$L" $M "$old" "$olds" old
oci_tag "$L" $M "$gone" "$gones" gone
oci_tag "$L" $M "$other" "$others" other
registry_start "$ROOT" "$W"
push "$L" v1 lib/app:v1
push "$L" old lib/app:latest
push "$L" gone lib/app:latest
push "$L" v2 lib/app:latest # 'old' and 'gone' are left untagged: -m collects both
push "$L" other tmp/doomed:1
delete_manifest tmp/doomed "$(manifest_digest tmp/doomed 1)"
curl -fsS -H "Accept: $M" "http://127.0.0.1:$REGISTRY_PORT/v2/lib/app/manifests/$old" -o "$W/old.json"
registry_stop
registry_config "$ROOT" 0 "$W/config.yml"

echo "# gc -m --dry-run --plan-out writes the plan, and changes nothing"
BEFORE=$(tree_state "$ROOT")
set +e
"$REGSWEEP" gc -m --min-age 0 -d --plan-out "$W/plan.json" "$W/config.yml" >"$W/dry.out" 2>"$W/dry.err"
rc=$?
"$REGSWEEP" gc -m --min-age 0 --plan-out "$W/never.json" "$W/config.yml" >/dev/null 2>"$W/real.err"
urc=$?
set -e
check "gc -m -d --plan-out exits 0 (got $rc)" test $rc -eq 0
check "  and changes nothing" test "$BEFORE" = "$(tree_state "$ROOT")"
check "--plan-out without --dry-run is a usage error (got $urc)" test $urc -eq 2
check "  naming --dry-run" grep -q -- "--dry-run" "$W/real.err"
check "the plan is regsweep-plan/1, for this root, with the config's sha256" \
  test "$(jq -r '.schema, .location, .config.sha256' "$W/plan.json" | tr '\n' ' ')" = \
  "regsweep-plan/1 $ROOT $(sha_of "$W/config.yml") "
check "  it deletes the untagged 'old' manifest, with the link it names as evidence" \
  test "$(jq -r --arg d "$old" '.actions[] | select(.kind == "manifest-revision" and .digest == $d) | .evidence.link' "$W/plan.json")" = "$old"
check "  every blob with its size and time" \
  test "$(jq '[.actions[] | select(.kind == "blob") | select(.bytes > 0 and .evidence.mtime > 0)] | length' "$W/plan.json")" = \
  "$(jq '[.actions[] | select(.kind == "blob")] | length' "$W/plan.json")"
PLANNED_BLOBS=$(jq -r '.actions[] | select(.kind == "blob") | .digest | ltrimstr("sha256:")' "$W/plan.json" | sort)
OLD_BLOBS=$(manifest_refs "$ROOT" "$old" | sed 's/^sha256://' | sort -u)
check "  the blobs of 'old' are in the plan ($(comm -12 <(echo "$PLANNED_BLOBS") <(echo "$OLD_BLOBS") | wc -l))" \
  test -n "$(comm -12 <(echo "$PLANNED_BLOBS") <(echo "$OLD_BLOBS"))"

echo "# refused: a plan too old, for another root, or with a configuration changed since"
sleep 2.1 # the plan is dated to the second: surely older than 1s now
set +e
"$REGSWEEP" apply "$W/plan.json" --max-plan-age 1s >/dev/null 2>"$W/old.err"
arc=$?
jq --arg r "$W/elsewhere" '.location = $r' "$W/plan.json" >"$W/other-root.json"
"$REGSWEEP" apply "$W/other-root.json" >/dev/null 2>"$W/root.err"
brc=$?
cp "$W/config.yml" "$W/config.yml.orig"
echo "# edited after the review" >>"$W/config.yml"
"$REGSWEEP" apply "$W/plan.json" >/dev/null 2>"$W/config.err"
crc=$?
cp "$W/config.yml.orig" "$W/config.yml"
echo '{"schema": "regsweep-plan/9"}' >"$W/bad.json"
"$REGSWEEP" apply "$W/bad.json" >/dev/null 2>"$W/bad.err"
drc=$?
set -e
check "a plan older than --max-plan-age exits 1 (got $arc)" test $arc -eq 1
check "  saying so" grep -q "max-plan-age" "$W/old.err"
check "a plan for another root exits 1 (got $brc)" test $brc -eq 1
check "  naming it" grep -qF "$W/elsewhere" "$W/root.err"
check "a configuration changed since the plan exits 1 (got $crc)" test $crc -eq 1
check "  saying so" grep -q "changed since the plan" "$W/config.err"
check "something that is not a plan exits 1 (got $drc)" test $drc -eq 1
check "none of them changed anything" test "$BEFORE" = "$(tree_state "$ROOT")"

echo "# a client tags 'old' again through the registry, then apply"
registry_start "$ROOT" "$W"
put_manifest lib/app again "$W/old.json" $M
registry_stop
set +e
"$REGSWEEP" apply "$W/plan.json" --json "$W/apply.json" >"$W/apply.out" 2>"$W/apply.err"
rc=$?
set -e
check "apply exits 3: part of the plan changed since (got $rc)" test $rc -eq 3
check "  it says how much was carried out and what changed" grep -q "changed since the plan and kept" "$W/apply.out"
check "  the JSON report names the kept manifest as changed since the plan" \
  test -n "$(jq -r --arg h "${old#sha256:}" '.findings[] | select(.kind == "changed-since-plan") | .path | select(contains($h))' "$W/apply.json")"
LEFT=$(blob_list "$ROOT")
check "every blob of 'old' is still there" test -z "$(comm -23 <(echo "$OLD_BLOBS") <(echo "$LEFT"))"
check "every other blob of the plan is gone ($(comm -23 <(echo "$PLANNED_BLOBS") <(echo "$OLD_BLOBS") | wc -l))" \
  test -z "$(comm -12 <(comm -23 <(echo "$PLANNED_BLOBS") <(echo "$OLD_BLOBS")) <(echo "$LEFT"))"
check "the untagged 'gone' manifest is gone" test ! -e "$ROOT/docker/registry/v2/blobs/sha256/${gone:7:2}/${gone#sha256:}"
check "tmp/doomed, emptied by the API delete, is gone" test ! -e "$ROOT/docker/registry/v2/repositories/tmp/doomed"
registry_start "$ROOT" "$W"
for t in $(all_tags "$ROOT"); do
  check "pull $t after apply" pull "$t" "$W/pulled"
done
check "lib/app:again is among them" test "$(manifest_digest lib/app again)" = "$old"
registry_stop

e2e_finish
