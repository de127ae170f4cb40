#!/usr/bin/env bash
# End-to-end test of `regsweep fsck`: flip one byte of a layer and delete another tag's
# config blob in a tree the real registry wrote; fsck --verify-data must name exactly the tags
# the registry then fails to serve to skopeo, and no others; --repair moves the corrupt blob
# to lost+found.
set -euo pipefail
REGSWEEP=${REGSWEEP:-$(cd "$(dirname "$0")/../.." && pwd)/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
ROOT=$W/root
L=$W/layout
V2=$ROOT/docker/registry/v2
blob_path() { echo "$V2/blobs/sha256/${1:7:2}/${1#sha256:}/data"; }

oci_init "$L"
M=application/vnd.oci.image.manifest.v1+json
read -r a as <<<"$(oci_image "$L" amd64 base:100000 a:20000)"
read -r b bs <<<"$(oci_image "$L" amd64 base:100000 b:20000)"
read -r c cs <<<"$(oci_image "$L" amd64 other:50000)"
read -r d ds <<<"$(oci_image "$L" arm64 base:100000 d:20000)"
read -r idx idxs <<<"$(oci_index "$L" "$a $as amd64" "$d $ds arm64")"
for t in a b c d; do eval "oci_tag \"\$L\" $M \"\$$t\" \"\$${t}s\" $t"; done
oci_tag "$L" application/vnd.oci.image.index.v1+json "$idx" "$idxs" multi
registry_start "$ROOT" "$W"
push "$L" a one/a:1
push "$L" a one/a:also
push "$L" b one/b:1
push "$L" c two/c:1
push "$L" a two/copy-of-a:1
push "$L" multi three/multi:1 --all
push "$L" b three/b:1 --format v2s2
registry_stop

"$REGSWEEP" fsck --root "$ROOT" --verify-data >"$W/clean.out" 2>&1
check "fsck of the tree the registry wrote finds nothing" grep -q "^fsck: 0 errors, 0 warnings" "$W/clean.out"

# Damage: one byte of image a's own layer, and image b's config blob.
layer_a=$(jq -r '.layers[1].digest' "$L/blobs/sha256/${a#sha256:}")
config_b=$(jq -r '.config.digest' "$L/blobs/sha256/${b#sha256:}")
printf 'Z' | dd of="$(blob_path "$layer_a")" bs=1 seek=100 conv=notrunc 2>/dev/null
rm -r "$(dirname "$(blob_path "$config_b")")"

set +e
"$REGSWEEP" fsck --root "$ROOT" --verify-data --json >"$W/fsck.json" 2>/dev/null
rc=$?
set -e
check "fsck exits 3 on problems (got $rc)" test $rc -eq 3
named=$(jq -r '[.problems[].broken_tags[]] | unique | .[]' "$W/fsck.json" | sort)
echo "# fsck names: $(echo $named)"
check "fsck reports the digest mismatch" \
  test "$(jq -r '[.problems[] | select(.kind=="digest-mismatch")] | length' "$W/fsck.json")" -ge 1
check "fsck reports the missing blob" \
  test "$(jq -r '[.problems[] | select(.kind=="blob-missing")] | length' "$W/fsck.json")" -ge 1
check "fsck reports its throughput" test "$(jq .summary.bytes_verified "$W/fsck.json")" -gt 0

registry_start "$ROOT" "$W"
failing=$(for t in $(all_tags "$ROOT"); do pull "$t" "$W/pulled" || echo "$t"; done | sort)
registry_stop
echo "# pulls that fail: $(echo $failing)"
check "some pulls fail" test -n "$failing"
check "fsck names exactly the tags that fail to pull" test "$named" = "$failing"

"$REGSWEEP" fsck --root "$ROOT" --verify-data --repair >"$W/repair.out" 2>&1 || true
check "--repair moved the corrupt blob to lost+found" \
  test -f "$V2/lost+found/sha256-${layer_a#sha256:}-"*/data
check "--repair left no corrupt blob in place" test ! -e "$(blob_path "$layer_a")"
# No reference goes because of what a content check found (docs/safety.md): the links naming
# the moved blob stay, and dangle; a second repair removes them, on the blob's absence.
check "--repair kept the layer links naming the corrupt blob" \
  test -n "$(find "$V2/repositories" -path "*/_layers/sha256/${layer_a#sha256:}/link")"
"$REGSWEEP" fsck --root "$ROOT" --verify-data --json >"$W/between.json" 2>/dev/null || true
check "then they are reported as dangling" \
  test "$(jq '[.problems[] | select(.kind=="dangling-link")] | length' "$W/between.json")" -ge 1
"$REGSWEEP" fsck --root "$ROOT" --verify-data --repair >"$W/repair2.out" 2>&1 || true
"$REGSWEEP" fsck --root "$ROOT" --verify-data --json >"$W/after.json" 2>/dev/null || true
check "after a second --repair, no digest mismatch and no dangling link remain" \
  test "$(jq '[.problems[] | select(.kind=="digest-mismatch" or .kind=="dangling-link")] | length' "$W/after.json")" -eq 0

# Re-pushing the broken tags heals them (the registry re-uploads what the repair removed).
registry_start "$ROOT" "$W"
push "$L" a one/a:1
push "$L" b one/b:1
registry_stop
"$REGSWEEP" fsck --root "$ROOT" --verify-data --json >"$W/healed.json" 2>/dev/null || true
# (jq -e: a report that is missing or not JSON fails the check, rather than listing nothing)
check "re-pushed tags are whole again" \
  jq -e '[.problems[].broken_tags[] | select(. == "one/a:1" or . == "one/b:1")] | length == 0' "$W/healed.json"

e2e_finish
