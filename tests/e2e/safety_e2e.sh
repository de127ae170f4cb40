#!/usr/bin/env bash
# The four data-safety rules (docs/safety.md) against Debian's docker-registry 2.8.2: push real
# images with skopeo, check every tag pulls, then for each case damage a copy of the tree as
# found under adversarial testing, run `regsweep gc` and `gc -m`, undo the damage (put back
# what was hidden behind a link, made unreadable or replaced), start the registry on the result
# and pull every tag again: every tag that pulled before must pull after.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REGSWEEP=${REGSWEEP:-$HERE/../../build/regsweep}
source "$HERE/lib.sh"

e2e_workdir
ROOT=$W/root
L=$W/layout
M=application/vnd.oci.image.manifest.v1+json

echo "# building and pushing images"
oci_init "$L"
read -r app apps <<<"$(oci_image "$L" amd64 base:200000 app:40000)"
read -r amd amds <<<"$(oci_image "$L" amd64 base:200000 amd:30000)"
read -r arm arms <<<"$(oci_image "$L" arm64 armbase:100000 arm:30000)"
read -r idx idxs <<<"$(oci_index "$L" "$amd $amds amd64" "$arm $arms arm64")"
read -r gone gones <<<"$(oci_image "$L" amd64 gone:50000)"
oci_tag "$L" $M "$app" "$apps" app
oci_tag "$L" application/vnd.oci.image.index.v1+json "$idx" "$idxs" multi
oci_tag "$L" $M "$gone" "$gones" gone
registry_start "$ROOT" "$W"
push "$L" app lib/app:1
push "$L" multi lib/multi:1 --all
push "$L" app other/app:1 --format v2s2
push "$L" gone tmp/gone:1

# Rule 2: manifests the registry accepts (HTTP 201) and clients pull, whose keys Go reads
# differently from a first-key, exact-case parser. Their layers exist only for them.
printf 'layer only the go-read manifests use' >"$W/golayer.bin"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$W/gocfg.json"
gl=$(upload_blob go/dup "$W/golayer.bin")
gc=$(upload_blob go/dup "$W/gocfg.json")
gls=$(stat -c %s "$W/golayer.bin")
gcs=$(stat -c %s "$W/gocfg.json")
desc() { printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}' "$1" "$2"; }
cfg=$(printf '{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s}' "$gc" "$gcs")
printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[],"layers":[%s]}' \
  $M "$cfg" "$(desc "$gl" "$gls")" >"$W/dup.json"
put_manifest go/dup 1 "$W/dup.json" $M
upload_blob go/case "$W/golayer.bin" >/dev/null
upload_blob go/case "$W/gocfg.json" >/dev/null
printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"Layers":[%s]}' \
  $M "$cfg" "$(desc "$gl" "$gls")" >"$W/case.json"
put_manifest go/case 1 "$W/case.json" $M
registry_stop

TAGS=$(all_tags "$ROOT")
echo "# tags: $(echo "$TAGS" | tr '\n' ' ')"
check "every tag pulls before any collection" test -z "$(pull_all "$ROOT")"

V2=docker/registry/v2
hexof() { echo "${1#sha256:}"; }
APPHEX=$(hexof "$(cat "$ROOT/$V2/repositories/lib/app/_manifests/tags/1/current/link")")

# fresh NAME: a copy of the pushed tree in $T.
fresh() {
  T=$W/case-$1
  rm -rf "$T"
  cp -a "$ROOT" "$T"
}

# collect_twice [ARGS...]: gc then gc -m on $T, each prefixed by $AS (a command that runs
# them as another user, or nothing); sets RC1 and RC2.
AS=""
collect_twice() {
  set +e
  $AS timeout 120 "$REGSWEEP" gc --min-age 0 -q --root "$T" "$@" >"$T.out1" 2>"$T.err1"
  RC1=$?
  $AS timeout 120 "$REGSWEEP" gc --min-age 0 -q -m --root "$T" "$@" >"$T.out2" 2>"$T.err2"
  RC2=$?
  set -e
}

# hide REL: moves $T/$V2/REL aside (to undo the damage later).
hide() { mkdir -p "$T.aside"; mv "$T/$V2/$1" "$T.aside/x"; }
# restore REL: puts back what hide moved, whatever the damage left there.
restore() { rm -rf "${T:?}/$V2/$1"; mv "$T.aside/x" "$T/$V2/$1"; }

pulls_after() { test -z "$(pull_all "$T")"; }

# --- Rule 1 ---------------------------------------------------------------------------------
prefix=blobs/sha256/${APPHEX:0:2}
data=blobs/sha256/${APPHEX:0:2}/$APPHEX/data

echo "# rule 1: a symlinked blob prefix directory"
fresh prefix-link
hide "$prefix"
ln -s "$T.aside/x" "$T/$V2/$prefix"
collect_twice
check "gc and gc -m exit 3 (got $RC1, $RC2)" test "$RC1$RC2" = 33
check "the finding names the prefix and says it is a link" grep -q "'$prefix' is a symbolic link" "$T.err1"
restore "$prefix"
check "every tag still pulls" pulls_after

echo "# rule 1: a manifest's data that is a symlink to the real file"
fresh data-link
hide "$data"
ln -s "$T.aside/x" "$T/$V2/$data"
collect_twice
check "gc and gc -m exit 3 (got $RC1, $RC2)" test "$RC1$RC2" = 33
restore "$data"
check "every tag still pulls" pulls_after

for kind in directory fifo; do
  echo "# rule 1: a manifest's data that is a $kind"
  fresh "data-$kind"
  hide "$data"
  if [ $kind = directory ]; then mkdir "$T/$V2/$data"; else mkfifo "$T/$V2/$data"; fi
  collect_twice
  check "gc and gc -m exit 3 (got $RC1, $RC2)" test "$RC1$RC2" = 33
  restore "$data"
  check "every tag still pulls" pulls_after
done

echo "# rule 1: a blob prefix directory that is a file"
fresh prefix-file
hide "$prefix"
echo x >"$T/$V2/$prefix"
collect_twice
check "gc and gc -m exit 3 (got $RC1, $RC2)" test "$RC1$RC2" = 33
restore "$prefix"
check "every tag still pulls" pulls_after

if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
  echo "# rule 1: a blob prefix directory the user running gc cannot read"
  fresh prefix-unreadable
  chmod 755 "$W"  # mktemp made it private: the unprivileged user must reach the tree
  chown -R 65534:65534 "$T"
  chmod 000 "$T/$V2/$prefix"
  AS="setpriv --reuid=65534 --regid=65534 --clear-groups" collect_twice
  chmod 755 "$T/$V2/$prefix"
  chown -R 0:0 "$T"
  check "gc and gc -m exit 3 (got $RC1, $RC2)" test "$RC1$RC2" = 33
  check "the finding names the prefix from the top of the tree" grep -q "'$prefix'" "$T.err1"
  check "every tag still pulls" pulls_after
fi

for top in blobs repositories; do
  echo "# rule 1: $top as a symbolic link to the real directory"
  fresh "top-$top"
  mv "$T/$V2/$top" "$T/real-$top"
  ln -s "$T/real-$top" "$T/$V2/$top"
  before=$(tree_state "$T")
  collect_twice
  check "gc and gc -m refuse with exit 1 (got $RC1, $RC2)" test "$RC1$RC2" = 11
  check "they say it is a link and how to run instead" grep -q "is a symbolic link.*bind mount" "$T.err1"
  check "nothing changed" test "$before" = "$(tree_state "$T")"
  check "every tag still pulls (the registry follows the link)" pulls_after
done

# --- Rule 2 ---------------------------------------------------------------------------------
echo "# rule 2: manifests Go reads differently"
fresh go
collect_twice
check "gc and gc -m exit 3 (got $RC1, $RC2)" test "$RC1$RC2" = 33
check "the duplicate key is named" grep -q "key 'layers' is given twice" "$T.err1"
check "the other spelling is named" grep -q "key 'Layers' is read by the registry as 'layers'" "$T.err1"
check "every tag still pulls, go/dup and go/case included" pulls_after

# --- Rule 3 ---------------------------------------------------------------------------------
echo "# rule 3: a push between the scan and the deletes"
fresh race
registry_start "$T" "$W"
delete_manifest tmp/gone "$(manifest_digest tmp/gone 1)"   # tmp/gone is empty: gc removes it
set +e
REGSWEEP_TEST_PAUSE_BEFORE_SWEEP=$T.resume timeout 180 "$REGSWEEP" gc --min-age 0 -q --root "$T" \
  >"$T.out1" 2>"$T.err1" &
gcpid=$!
set -e
check "gc planned, then paused" wait_paused "$T.err1"
push "$L" gone tmp/gone:2      # the same layers again: the registry finds their blobs
touch "$T.resume"
set +e
wait "$gcpid"
RC1=$?
set -e
registry_stop
check "gc exits 3 (got $RC1)" test "$RC1" -eq 3
check "it says what changed since the scan" grep -q "since the scan" "$T.err1"
check "tmp/gone:2 and every other tag pull" pulls_after

echo "# rule 3: a real run while the registry serves the tree"
fresh serving
registry_start "$T" "$W"
registry_config "$T" "$REGISTRY_PORT" "$T.yml"
before=$(tree_state "$T")
set +e
timeout 60 "$REGSWEEP" gc --min-age 0 -q "$T.yml" >/dev/null 2>"$T.err1"
RC1=$?
set -e
check "gc exits 1 (got $RC1)" test "$RC1" -eq 1
check "it names the registry's address and --force" \
  grep -q "a registry answers at http://127.0.0.1:$REGISTRY_PORT/v2/.*--force" "$T.err1"
check "nothing changed" test "$before" = "$(tree_state "$T")"
registry_stop

# --- Rule 4 ---------------------------------------------------------------------------------
echo "# rule 4: a FIFO where the lock belongs"
fresh fifo-lock
mkfifo "$T/docker/registry/regsweep.lock"
start=$(date +%s)
collect_twice
check "gc and gc -m refuse with exit 1 (got $RC1, $RC2), within seconds" \
  test "$RC1$RC2" = 11 -a $(($(date +%s) - start)) -lt 30
check "the lock is named" grep -q "regsweep.lock' is not a regular file" "$T.err1"

e2e_finish
