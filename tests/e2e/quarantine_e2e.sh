#!/usr/bin/env bash
# End-to-end test of --quarantine, restore and quarantine --purge-older-than against Debian's
# docker-registry 2.8.2 on disk: real images pushed with skopeo (a multi-arch index, a
# referrer, a re-pushed tag, an API-deleted repository); gc -m --quarantine must leave v2
# exactly as a plain gc -m does; restore must give back every file with its bytes, and every
# tag must pull; restore never replaces what stands; purge empties the quarantine.
set -euo pipefail
REGSWEEP=${REGSWEEP:-$(cd "$(dirname "$0")/../.." && pwd)/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
ROOT=$W/root
L=$W/layout
M=application/vnd.oci.image.manifest.v1+json
Q=$ROOT/docker/registry/quarantine

# files ROOT: every file below docker/registry/v2 with its sha256 (the lock aside), and every
# directory: what "the same tree" means here.
files() {
  (cd "$1/docker/registry/v2" && find . -name regsweep.lock -prune -o -type f -print0 |
    xargs -0 -r sha256sum | sort -k2)
}
dirs() { (cd "$1/docker/registry/v2" && find . -type d | sort); }
runs() { find "$Q" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort; }

echo "# building and pushing images"
oci_init "$L"
read -r v1 v1s <<<"$(oci_image "$L" amd64 base:200000 app1:40000)"
read -r v2 v2s <<<"$(oci_image "$L" amd64 base:200000 app2:40000)"
read -r old olds <<<"$(oci_image "$L" amd64 base:200000 old:30000)"
read -r other others <<<"$(oci_image "$L" amd64 other:50000)"
read -r amd amds <<<"$(oci_image "$L" amd64 base:200000 amd:20000)"
read -r arm arms <<<"$(oci_image "$L" arm64 armbase:100000 arm:20000)"
read -r idx idxs <<<"$(oci_index "$L" "$amd $amds amd64" "$arm $arms arm64")"
oci_tag "$L" $M "$v1" "$v1s" v1
oci_tag "$L" $M "$v2" "$v2s" v2
oci_tag "$L" $M "$old" "$olds" old
oci_tag "$L" $M "$other" "$others" other
oci_tag "$L" application/vnd.oci.image.index.v1+json "$idx" "$idxs" multi
registry_start "$ROOT" "$W"
push "$L" v1 lib/app:v1
push "$L" old lib/app:latest
push "$L" v2 lib/app:latest # 'old' is left untagged: -m collects it
push "$L" multi multi/oci:1 --all
push "$L" other tmp/doomed:1
REF=$(attach_referrer lib/app "$(manifest_digest lib/app latest)" "$v2s" 'signature bytes')
delete_manifest tmp/doomed "$(manifest_digest tmp/doomed 1)"
registry_stop
TAGS=$(all_tags "$ROOT")
BEFORE=$(files "$ROOT")

echo "# gc -m --quarantine leaves v2 as a plain gc -m does"
cp -a "$ROOT" "$W/plain"
set +e
"$REGSWEEP" gc -m --min-age 0 --root "$W/plain" -q >/dev/null 2>&1
prc=$?
"$REGSWEEP" gc -m --min-age 0 --quarantine --root "$ROOT" --json "$W/q.json" >"$W/q.out" 2>"$W/q.err"
rc=$?
set -e
check "plain gc -m exits 0 (got $prc)" test $prc -eq 0
check "gc -m --quarantine exits 0 (got $rc)" test $rc -eq 0
check "  it deleted something ($(jq .summary.blobs_deleted "$W/q.json") blobs)" test "$(jq .summary.blobs_deleted "$W/q.json")" -gt 0
check "  the same files, byte for byte, as the plain gc -m" test "$(files "$ROOT")" = "$(files "$W/plain")"
check "  and the same directories" test "$(dirs "$ROOT")" = "$(dirs "$W/plain")"
RUN=$(jq -r .summary.quarantine_run "$W/q.json")
check "  the JSON names the run ($RUN)" test "$(runs)" = "$RUN"
check "  and counts its bytes as quarantined, none freed" \
  test "$(jq .summary.bytes_freed "$W/q.json")" = 0 -a "$(jq .summary.bytes_quarantined "$W/q.json")" -gt 0
check "  the summary names the run" grep -q "quarantine run $RUN" "$W/q.out"
check "  the journal is complete and names the command" \
  test "$(jq -r '.complete, .command' "$Q/$RUN/journal.json" | tr '\n' ' ')" = "true regsweep gc -m --min-age 0 --quarantine --root $ROOT --json $W/q.json "
moved=$(jq '.moved | length' "$Q/$RUN/journal.json")
check "  every path the journal names as moved ($moved) is in the run" \
  test "$moved" -gt 0 -a -z "$(jq -r '.moved[].path' "$Q/$RUN/journal.json" | while read -r p; do [ -e "$Q/$RUN/$p" ] || echo "$p"; done)"
check "  with the bytes of the blobs the summary counts" \
  test "$(jq '[.moved[] | select(.path | startswith("blobs/")) | .bytes] | add' "$Q/$RUN/journal.json")" = "$(jq .summary.bytes_quarantined "$W/q.json")"
files_in_run=$(find "$Q/$RUN" -type f ! -name journal.json | wc -l)
"$REGSWEEP" quarantine --root "$ROOT" --json >"$W/list.json"
check "quarantine lists the run with its objects and bytes" \
  test "$(jq -r '.runs[0].id, .runs[0].objects' "$W/list.json" | tr '\n' ' ')" = "$RUN $files_in_run "

echo "# restore gives back the identical tree, and every tag pulls"
set +e
"$REGSWEEP" restore --root "$ROOT" -d >"$W/rd.out" 2>&1
drc=$?
set -e
check "restore -d exits 0 (got $drc) and changes nothing" test $drc -eq 0 -a "$(files "$ROOT")" = "$(files "$W/plain")"
set +e
"$REGSWEEP" restore --root "$ROOT" >"$W/r.out" 2>"$W/r.err"
rc=$?
set -e
check "restore exits 0 (got $rc)" test $rc -eq 0
check "  every file is back with its bytes ($(echo "$BEFORE" | wc -l) files)" test "$(files "$ROOT")" = "$BEFORE"
check "  the run, put back whole, is gone" test -z "$(runs)"
registry_start "$ROOT" "$W"
for t in $TAGS; do
  check "pull $t after restore" pull "$t" "$W/pulled"
done
check "the referrer resolves by digest" test "$(manifest_digest lib/app "$REF")" = "$REF"
registry_stop

echo "# restore never replaces: a tag pushed again since stays, and the run is kept"
"$REGSWEEP" rm --min-age 0 --quarantine lib/app:v1 --root "$ROOT" -q --json "$W/rm.json" >/dev/null 2>&1
RUN2=$(jq -r .summary.quarantine_run "$W/rm.json")
check "rm --quarantine lib/app:v1 made a run ($RUN2)" test "$(runs)" = "$RUN2"
registry_start "$ROOT" "$W"
push "$L" other lib/app:v1
registry_stop
set +e
"$REGSWEEP" restore --root "$ROOT" "$RUN2" >"$W/r2.out" 2>"$W/r2.err"
rc=$?
set -e
check "restore exits 3 (got $rc), naming the tag link it kept" \
  test $rc -eq 3 -a -n "$(grep 'lib/app/_manifests/tags/v1/current/link' "$W/r2.err" || true)"
check "  the run is kept" test "$(runs)" = "$RUN2"
registry_start "$ROOT" "$W"
check "  lib/app:v1 is the image pushed since" test "$(manifest_digest lib/app v1)" = "$other"
check "  and pulls" pull lib/app:v1 "$W/pulled"
registry_stop

echo "# a run killed before it moved anything leaves a run a rerun does not need"
set +e
REGSWEEP_TEST_PAUSE_BEFORE_SWEEP=$W/never "$REGSWEEP" gc -m --min-age 0 --quarantine --root "$ROOT" -q >/dev/null 2>"$W/k.err" &
pid=$!
for _ in $(seq 1 300); do grep -q "paused before" "$W/k.err" && break; sleep 0.1; done
kill -9 $pid
wait $pid 2>/dev/null
set -e
check "the run paused before its sweep ($(tr '\n' ' ' <"$W/k.err"))" grep -q "paused before" "$W/k.err"
killed=$(runs | tail -1)
check "the killed run ($killed of $(runs | tr '\n' ' ')) left its journal, incomplete" \
  test "$(jq -r .complete "$Q/$killed/journal.json")" = false
before_rerun=$(files "$ROOT")
"$REGSWEEP" gc -m --min-age 0 --quarantine --root "$ROOT" -q >/dev/null 2>&1 || true
"$REGSWEEP" gc -m --min-age 0 -d --root "$ROOT" --json "$W/again.json" >/dev/null 2>&1 || true
check "a rerun converges: nothing left to delete" test "$(jq .summary.blobs_eligible "$W/again.json")" = 0
registry_start "$ROOT" "$W"
for t in $(all_tags "$ROOT"); do
  check "pull $t after the rerun" pull "$t" "$W/pulled"
done
registry_stop

echo "# kill -9 during quarantine runs and during a restore: reruns converge, nothing is lost"
# A generated tree of about 11,000 files, where a run takes long enough to be killed mid-way.
G=$W/gen
"$(dirname "$0")/../../scripts/gen-tree" "$G" --repos 30 --images 20 --tags 5 --shared 1000 >/dev/null
ORIGINAL=$(files "$G")
cp -a "$G" "$W/gen-plain"
"$REGSWEEP" gc -m --min-age 0 --root "$W/gen-plain" -q >/dev/null 2>&1 || true
GQ=$G/docker/registry/quarantine
for at in 0.1 0.3 0.5; do
  "$REGSWEEP" gc -m --min-age 0 --quarantine --root "$G" -q >/dev/null 2>&1 &
  pid=$!
  sleep $at
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
done
"$REGSWEEP" gc -m --min-age 0 --quarantine --root "$G" -q >/dev/null 2>&1 || true
check "after three killed runs, a rerun leaves v2 as a plain gc -m does" test "$(files "$G")" = "$(files "$W/gen-plain")"
nruns=$(find "$GQ" -mindepth 1 -maxdepth 1 -type d | wc -l)
check "  the runs ($nruns) hold every file gc -m removed, each once" \
  test "$(cd "$GQ" && find . -type f ! -name 'journal.json*' | sed 's|^\./[^/]*/||' | sort | uniq -d | wc -l)" = 0 -a \
  "$(cd "$GQ" && find . -type f ! -name 'journal.json*' | wc -l)" -eq "$(($(echo "$ORIGINAL" | wc -l) - $(files "$G" | wc -l)))"
"$REGSWEEP" restore --root "$G" -q $(cd "$GQ" && ls) >/dev/null 2>&1 &
pid=$!
sleep 0.4
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
rm -f "$G/docker/registry/regsweep.lock"
set +e
"$REGSWEEP" restore --root "$G" -q $(cd "$GQ" && ls) >"$W/gr.out" 2>&1
rc=$?
set -e
check "a restore killed mid-way, run again, exits 0 (got $rc)" test $rc -eq 0
check "  and gives back every file of the original tree with its bytes" test "$(files "$G")" = "$ORIGINAL"
check "  leaving no run" test -z "$(find "$GQ" -mindepth 1 -maxdepth 1 -type d)"

if [ "$(id -u)" -eq 0 ]; then
  echo "# blobs on another filesystem: --quarantine refuses before anything moves"
  X=$W/mounted
  cp -a "$W/plain" "$X"
  mkdir "$W/blobs-copy"
  cp -a "$X/docker/registry/v2/blobs/." "$W/blobs-copy/"
  mount -t tmpfs -o size=64m tmpfs "$X/docker/registry/v2/blobs"
  cp -a "$W/blobs-copy/." "$X/docker/registry/v2/blobs/"
  "$REGSWEEP" rm --no-gc --min-age 0 lib/app:v1 --root "$X" -q >/dev/null 2>&1 || true # leaves work for gc -m
  before_x=$(files "$X")
  set +e
  "$REGSWEEP" gc -m --min-age 0 --quarantine --root "$X" >"$W/x.out" 2>"$W/x.err"
  rc=$?
  set -e
  check "gc --quarantine with blobs on a tmpfs exits 1 (got $rc)" test $rc -eq 1
  check "  saying why ($(head -c 120 "$W/x.err"))" grep -q "another filesystem" "$W/x.err"
  check "  and nothing moved" test "$(files "$X")" = "$before_x"
  check "  nor is any run left" test -z "$(find "$X/docker/registry/quarantine" -mindepth 1 2>/dev/null)"
  umount "$X/docker/registry/v2/blobs"
fi

echo "# purge empties the quarantine and touches nothing in v2"
sleep 1
kept=$(files "$ROOT")
"$REGSWEEP" quarantine --root "$ROOT" --purge-older-than 0s -d >"$W/pd.out"
check "purge -d names every run and deletes none" test "$(wc -l <"$W/pd.out")" -eq "$(runs | wc -l)" -a "$(runs | wc -l)" -ge 3
"$REGSWEEP" quarantine --root "$ROOT" --purge-older-than 0s >"$W/p.out"
check "purge --purge-older-than 0s empties it" test -z "$(runs)"
check "  v2 is unchanged" test "$(files "$ROOT")" = "$kept"
"$REGSWEEP" quarantine --root "$ROOT" --json >"$W/none.json"
check "  quarantine lists no run" test "$(jq '.runs | length' "$W/none.json")" = 0

e2e_finish
