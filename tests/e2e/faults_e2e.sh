#!/usr/bin/env bash
# Storage that misbehaves (docs/safety.md, "Misbehaving file systems"): real images pushed with
# skopeo to Debian's docker-registry, then for each case a copy of the tree is served through
# faultfs.py, a FUSE passthrough that injects one kind of fault on chosen paths (EIO, ENOENT,
# EINTR, short reads, duplicated or dropped directory entries, DT_UNKNOWN, failing unlink and
# rename, a directory cycle), or through a bind mount. regsweep runs on that view; then the
# real registry serves the copy and every tag left in it must pull, and gc must have left every
# tag. Needs root and /dev/fuse; skipped (and said) without them.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REGSWEEP=${REGSWEEP:-$HERE/../../build/regsweep}
source "$HERE/lib.sh"

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/fuse ] || ! /usr/bin/python3 -c 'import fusepy' 2>/dev/null; then
  echo "# skipped: needs root, /dev/fuse and python3-fusepy"
  e2e_finish
  exit 0
fi

e2e_workdir
FUSE_PID=""
VIEW=""
trap 'unmount_view; registry_stop; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
ROOT=$W/root
L=$W/layout
M=application/vnd.oci.image.manifest.v1+json
V2=docker/registry/v2

echo "# building and pushing images"
oci_init "$L"
read -r app apps <<<"$(oci_image "$L" amd64 base:120000 app:30000)"
read -r app2 app2s <<<"$(oci_image "$L" amd64 base:120000 app2:20000)"
read -r app3 app3s <<<"$(oci_image "$L" amd64 base:120000 app3:20000)"
read -r amd amds <<<"$(oci_image "$L" amd64 base:120000 amd:20000)"
read -r arm arms <<<"$(oci_image "$L" arm64 armbase:60000 arm:20000)"
read -r idx idxs <<<"$(oci_index "$L" "$amd $amds amd64" "$arm $arms arm64")"
read -r gone gones <<<"$(oci_image "$L" amd64 gone:40000)"
oci_tag "$L" $M "$app" "$apps" app
oci_tag "$L" $M "$app2" "$app2s" app2
oci_tag "$L" $M "$app3" "$app3s" app3
oci_tag "$L" application/vnd.oci.image.index.v1+json "$idx" "$idxs" multi
oci_tag "$L" $M "$gone" "$gones" gone
registry_start "$ROOT" "$W"
push "$L" app apps:1
push "$L" app lib/app:1
push "$L" app2 lib/app:2
push "$L" multi lib/multi:1 --all
push "$L" app other/app:1 --format v2s2
push "$L" app3 other/app:2
push "$L" app2 other/app:2 # app3 is now untagged in other/app: -m has work
push "$L" gone tmp/gone:1
delete_manifest tmp/gone "$(manifest_digest tmp/gone 1)" # its blobs are garbage: gc has work
registry_stop

TAGS=$(all_tags "$ROOT")
echo "# tags: $(echo "$TAGS" | tr '\n' ' ')"
check "every tag pulls before any collection" test -z "$(pull_all "$ROOT")"
hexof() { local l; l=$(cat "$ROOT/$V2/repositories/$1/_manifests/tags/$2/current/link"); echo "${l#sha256:}"; }
APPHEX=$(hexof lib/app 1)
MULTIHEX=$(hexof lib/multi 1)
LAYERHEX=$(jq -r '.layers[1].digest' "$ROOT/$V2/blobs/sha256/${APPHEX:0:2}/$APPHEX/data")
LAYERHEX=${LAYERHEX#sha256:}
GONEHEX=${gone#sha256:}

# mount_view BACKING RULES: serves BACKING through faultfs at $VIEW ($BACKING.view).
mount_view() {
  VIEW=$1.view
  mkdir -p "$VIEW"
  printf '%s\n' "$2" >"$1.rules"
  : >"$1.faults"
  /usr/bin/python3 "$HERE/faultfs.py" "$1" "$VIEW" "$1.rules" "$1.faults" >"$1.fuse.log" 2>&1 &
  FUSE_PID=$!
  for _ in $(seq 1 100); do
    mountpoint -q "$VIEW" && return 0
    sleep 0.05
  done
  cat "$1.fuse.log" >&2
  e2e_fail "faultfs did not mount $VIEW"
}

unmount_view() {
  if [ -n "$FUSE_PID" ]; then
    umount "$VIEW" 2>/dev/null || umount -l "$VIEW" 2>/dev/null || true
    wait "$FUSE_PID" 2>/dev/null || true
    FUSE_PID=""
  fi
}

# on_view NAME RULES [-- ARGS...]: a fresh copy of the pushed tree in $T, served through
# faultfs with RULES; runs `regsweep ARGS... --root VIEW` (default: gc -m); unmounts; sets RC.
on_view() {
  local name=$1 rules=$2
  shift 2
  [ "${1:-}" = "--" ] && shift
  [ $# -gt 0 ] || set -- gc -m
  T=$W/case-$name
  rm -rf "$T"
  cp -a "$ROOT" "$T"
  mount_view "$T" "$rules"
  local age=(--min-age 0)
  [ "$1" != fsck ] || age=()
  set +e
  timeout 120 "$REGSWEEP" "$@" "${age[@]}" -q --root "$VIEW" >"$T.out" 2>"$T.err"
  RC=$?
  set -e
  unmount_view
}

# expect_kept WHAT CODE: the checks of one case: regsweep ended with CODE, its fault fired,
# every tag left pulls, and (for gc) every tag is left.
expect_kept() {
  local what=$1 code=$2
  check "$what: exit $code (got $RC)" test "$RC" -eq "$code"
  check "$what: the fault fired" test -s "$T.faults"
  check "$what: every tag left pulls" test -z "$(pull_all "$T")"
  if [ "${3:-}" != "tags-may-go" ]; then
    check "$what: every tag is left" test "$TAGS" = "$(all_tags "$T")"
  fi
}

rule() { # rule OP PATH FAULT [COUNT]
  printf '{"op":"%s","path":"%s","fault":"%s","count":%s}' "$1" "$2" "$3" "${4:-null}"
}

echo "# 1. a DT_UNKNOWN listing whose stat fails once"
for dir in repositories/apps repositories/lib/app/_manifests \
  repositories/lib/app/_manifests/revisions "repositories/lib/app/_manifests/revisions/sha256/$APPHEX"; do
  parent=$(dirname "$dir")
  on_view "unknown-$(echo "$dir" | tr / - | cut -c1-60)" \
    "[$(rule readdir "$V2/$parent" unknown), $(rule getattr "$V2/$dir" EIO 1)]"
  expect_kept "gc -m, stat of $dir fails" 3
  check "the finding names '$dir'" grep -q "$dir" "$T.err"
done

if command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null && [ -e /dev/loop-control ]; then
  echo "# 1. ext4 without file types, one inode with a bad checksum (a real kernel file system)"
  for dir in repositories/apps repositories/lib/app/_manifests/tags; do
    T=$W/case-ext4-$(echo "$dir" | tr / -)
    img=$T.img
    rm -rf "$T" "$img"
    mkdir -p "$T"
    truncate -s 64M "$img"
    mkfs.ext4 -q -O ^filetype,metadata_csum "$img"
    mount -o loop "$img" "$T"
    cp -a "$ROOT/." "$T/"
    umount "$T"
    inode=/$V2/$dir
    sum=$(debugfs -R "stat $inode" "$img" 2>/dev/null | awk '/Inode checksum:/{print $NF}')
    debugfs -w -R "set_inode_field $inode checksum 0x1" "$img" 2>/dev/null
    mount -o loop "$img" "$T"
    set +e
    timeout 120 "$REGSWEEP" gc -m --min-age 0 -q --root "$T" >"$T.out" 2>"$T.err"
    RC=$?
    set -e
    umount "$T"
    debugfs -w -R "set_inode_field $inode checksum $sum" "$img" 2>/dev/null
    mount -o loop,ro "$img" "$T"
    check "gc -m on ext4 -O ^filetype, '$dir' damaged: exit 3 (got $RC)" test "$RC" -eq 3
    check "the finding names '$dir'" grep -q "$dir" "$T.err"
    check "every tag is left" test "$TAGS" = "$(all_tags "$T")"
    rm -rf "$T.copy"
    cp -a "$T" "$T.copy"
    umount "$T"
    check "every tag pulls" test -z "$(pull_all "$T.copy")"
  done
fi

echo "# 2. duplicated directory entries"
on_view dup-blobs "[$(rule readdir "$V2/blobs/sha256/*" dup)]"
expect_kept "gc -m, every blob listed twice" 0
on_view dup-all "[$(rule readdir "*" dup)]" -- gc
expect_kept "gc, every directory listed twice" 0

echo "# 3. a blob left out of its prefix's listing"
on_view drop-blob "[$(rule readdir "$V2/blobs/sha256/${LAYERHEX:0:2}" "drop:$LAYERHEX")]"
expect_kept "gc -m, a layer missing from the listing" 3
check "the finding names its prefix directory" grep -q "'blobs/sha256/${LAYERHEX:0:2}' has" "$T.err"
# A file system that keeps no count of subdirectories (btrfs): a direct look finds the blob.
on_view drop-blob-nlink1 "[$(rule readdir "$V2/blobs/sha256/${LAYERHEX:0:2}" "drop:$LAYERHEX"), \
$(rule getattr "*" nlink1)]"
expect_kept "gc -m, a layer missing from the listing, no link counts" 3
check "the finding names the blob" grep -q "blobs/sha256/${LAYERHEX:0:2}/$LAYERHEX/data' is there" "$T.err"
on_view drop-blob-fsck "[$(rule readdir "$V2/blobs/sha256/${LAYERHEX:0:2}" "drop:$LAYERHEX")]" \
  -- fsck --repair
expect_kept "fsck --repair, a layer missing from the listing" 3
check "no layer link was removed" test -z "$(diff <(cd "$ROOT" && find . -path '*/_layers/*' | sort) \
  <(cd "$T" && find . -path '*/_layers/*' | sort))"

on_view drop-tag "[$(rule readdir "$V2/repositories/lib/app/_manifests/tags" "drop:2")]"
expect_kept "gc -m, a tag missing from its listing" 3
on_view drop-repos "[$(rule readdir "$V2/repositories/lib" "drop:app")]" -- gc
expect_kept "gc, a repository missing from its listing" 3

echo "# 4. ENOENT on a file the listing shows"
on_view enoent-current "[$(rule open "$V2/repositories/lib/app/_manifests/tags/1/current/link" ENOENT)]"
expect_kept "gc -m, a tag's current link says ENOENT" 3
on_view enoent-current-once \
  "[$(rule open "$V2/repositories/lib/multi/_manifests/tags/1/current/link" ENOENT 1)]"
expect_kept "gc -m, a tag's current link says ENOENT once" 3
on_view enoent-revision \
  "[$(rule open "$V2/repositories/lib/multi/_manifests/revisions/sha256/$MULTIHEX/link" ENOENT)]"
expect_kept "gc -m, a revision link says ENOENT" 3

echo "# 1. a young blob no link names (a push in progress) whose read fails"
# tmp/gone's manifest, made young in a tree otherwise 2 hours old: gc --min-age 1h reads it as
# a possible manifest of a push in progress, and keeps what it names.
GONELAYER=$(jq -r '.layers[0].digest' "$ROOT/$V2/blobs/sha256/${GONEHEX:0:2}/$GONEHEX/data")
GONELAYER=${GONELAYER#sha256:}
young_tree() {
  T=$W/case-$1
  rm -rf "$T"
  cp -a "$ROOT" "$T"
  find "$T" -exec touch -h -d '2 hours ago' {} +
  touch "$T/$V2/blobs/sha256/${GONEHEX:0:2}/$GONEHEX/data"
}
young_tree young-read
set +e
timeout 120 "$REGSWEEP" gc --min-age 1h -q --root "$T" >"$T.out" 2>"$T.err"
RC=$?
set -e
check "gc --min-age 1h, the young manifest readable: exit 0 (got $RC)" test "$RC" -eq 0
check "  the layer it names is kept" test -f "$T/$V2/blobs/sha256/${GONELAYER:0:2}/$GONELAYER/data"
young_tree young-eio
mount_view "$T" "[$(rule read "$V2/blobs/sha256/${GONEHEX:0:2}/$GONEHEX/data" EIO)]"
set +e
timeout 120 "$REGSWEEP" gc --min-age 1h -q --root "$VIEW" >"$T.out" 2>"$T.err"
RC=$?
set -e
unmount_view
expect_kept "gc --min-age 1h, the young manifest's read fails" 3
check "the finding names the young blob" grep -q "blobs/sha256/${GONEHEX:0:2}/$GONEHEX/data" "$T.err"
check "the layer it may name is kept" test -f "$T/$V2/blobs/sha256/${GONELAYER:0:2}/$GONELAYER/data"

echo "# 5. fsck --repair --verify-data on a read that ends early, with a move that fails"
on_view short-verify "[$(rule read "$V2/blobs/sha256/${LAYERHEX:0:2}/$LAYERHEX/data" eof), \
$(rule rename "$V2/blobs/sha256/*" EIO)]" -- fsck --repair --verify-data
expect_kept "fsck --repair --verify-data, a blob read ends early" 3
check "no layer link was removed" test -z "$(diff <(cd "$ROOT" && find . -path '*/_layers/*' | sort) \
  <(cd "$T" && find . -path '*/_layers/*' | sort))"
on_view short-read "[$(rule read "$V2/blobs/sha256/*/data" short)]" -- fsck --repair --verify-data
check "fsck --verify-data, reads cut short but whole: exit 0 (got $RC)" test "$RC" -eq 0
check "fsck --verify-data, reads cut short: the fault fired" test -s "$T.faults"

echo "# 6. a tag that cannot be deleted"
on_view rm-tag-eio "[$(rule unlink "$V2/repositories/lib/app/_manifests/tags/2/*" EIO)]" \
  -- rm -m lib/app:2
expect_kept "rm -m lib/app:2, its tag's files cannot be deleted" 3 tags-may-go
check "lib/app:2 is still there" grep -qx "lib/app:2" <(all_tags "$T")
on_view prune-tag-eio "[$(rule unlink "$V2/repositories/other/app/_manifests/tags/1/*" EIO)]" \
  -- prune -m other/app --keep-n 1 --keep none
expect_kept "prune -m, the pruned tag's files cannot be deleted" 3 tags-may-go

echo "# 8. no run hangs"
on_view eintr-forever "[$(rule read "$V2/repositories/lib/app/_manifests/tags/1/current/link" EINTR)]"
expect_kept "gc -m, a read that always says EINTR" 3
on_view eintr-data "[$(rule read "$V2/blobs/sha256/${APPHEX:0:2}/$APPHEX/data" EINTR)]"
expect_kept "gc -m, a manifest read that always says EINTR" 3
on_view cycle "[$(rule readdir "$V2/repositories/lib" cycle:loop)]"
expect_kept "gc -m, a directory that contains itself" 3

echo "# 7. mount points inside the tree"
fresh_tree() { T=$W/case-$1; rm -rf "$T"; cp -a "$ROOT" "$T"; }
run_plain() {
  set +e
  timeout 120 "$REGSWEEP" "$@" --min-age 0 -q --root "$T" >"$T.out" 2>"$T.err"
  RC=$?
  set -e
}
fresh_tree bind-blob
mkdir -p "$W/outside/data-dir"
echo precious >"$W/outside/data-dir/keep"
garbage=$T/$V2/blobs/sha256/${GONEHEX:0:2}/$GONEHEX  # tmp/gone's manifest: gc deletes it
mkdir "$garbage/mnt"
mount --bind "$W/outside" "$garbage/mnt"
run_plain gc
umount "$garbage/mnt"
check "gc, a bind mount inside a blob it deletes: exit 3 (got $RC)" test "$RC" -eq 3
check "nothing outside the root was deleted" test -f "$W/outside/data-dir/keep"
check "the finding names the mount point" grep -q "$GONEHEX/mnt" "$T.err"

fresh_tree bind-repo
mount --bind "$T/$V2/repositories/lib/app" "$T/$V2/repositories/other/app"
run_plain rm other/app
umount "$T/$V2/repositories/other/app"
check "rm of a repository bind-mounted onto another refuses: exit 1 (got $RC)" test "$RC" -eq 1
check "it says the repository is a mount point" grep -q "'repositories/other/app' is a mount point" "$T.err"
check "the other repository keeps its tags" grep -qx "lib/app:2" <(all_tags "$T")
check "every tag left pulls" test -z "$(pull_all "$T")"

fresh_tree bind-layers
mount --bind "$T/$V2/repositories/lib/app/_layers" "$T/$V2/repositories/tmp/gone/_layers"
run_plain gc -m
umount "$T/$V2/repositories/tmp/gone/_layers"
check "gc -m, a _layers bind-mounted into a second repository: exit 3 (got $RC)" test "$RC" -eq 3
check "lib/app keeps every layer link" test -z "$(diff <(cd "$ROOT" && find . -path '*/lib/app/_layers/*' | sort) \
  <(cd "$T" && find . -path '*/lib/app/_layers/*' | sort))"
check "every tag is left" test "$TAGS" = "$(all_tags "$T")"
check "every tag left pulls" test -z "$(pull_all "$T")"

e2e_finish
