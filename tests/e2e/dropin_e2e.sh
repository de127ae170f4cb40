#!/usr/bin/env bash
# Drop-in to the letter: the same `garbage-collect` command lines, Go-style boolean flags
# included (a later setting of a switch wins, a repeated one is no error), given to Debian's
# docker-registry and to regsweep on copies of one tree. Both
# must agree on success or failure and on what is left; a real run logs upstream's
# "Deleting blob: <path>" lines for the same blobs.
set -euo pipefail
REGSWEEP=${REGSWEEP:-$(cd "$(dirname "$0")/../.." && pwd)/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
ROOT=$W/root
L=$W/layout

echo "# building and pushing single-platform images (upstream 2.8's -m breaks multi-arch ones)"
oci_init "$L"
read -r v1 v1s <<<"$(oci_image "$L" amd64 base:200000 app1:40000)"
read -r v2 v2s <<<"$(oci_image "$L" amd64 base:200000 app2:40000)"
read -r gone goness <<<"$(oci_image "$L" amd64 gone:60000)"
M=application/vnd.oci.image.manifest.v1+json
oci_tag "$L" $M "$v1" "$v1s" v1
oci_tag "$L" $M "$v2" "$v2s" v2
oci_tag "$L" $M "$gone" "$goness" gone
registry_start "$ROOT" "$W"
push "$L" v1 lib/app:v1
push "$L" v1 lib/app:latest
push "$L" v2 lib/app:latest # v1 stays tagged as v1
push "$L" v1 lib/old:x
push "$L" v2 lib/old:x # v1 is untagged in lib/old: -m deletes it
push "$L" gone tmp/gone:1
delete_manifest tmp/gone "$(manifest_digest tmp/gone 1)" # its blobs are unreferenced
registry_stop
# Old enough for regsweep's default grace period, so both collect the same.
find "$ROOT" -exec touch -h -d '3 days ago' {} +

# Each run gets its own copy; the configuration logs at info, so upstream's lines show.
config_for() {
  registry_config "$1" 5000 "$2"
  sed -i 's/level: warn/level: info/' "$2"
}
# state ROOT: the blobs and revision links left.
state() {
  blob_list "$1"
  find "$1/docker/registry/v2/repositories" -path '*/_manifests/revisions/sha256/*' -name link |
    sed "s|^$1/||" | sort
}

forms=(
  ""
  "-d"
  "--dry-run"
  "--dry-run=true"
  "-d=true"
  "-d=1"
  "--dry-run=false"
  "-d=false"
  "-m"
  "--delete-untagged"
  "--delete-untagged=true"
  "-m=true"
  "-m=false"
  "--delete-untagged=False"
  "-dm"
  "--dry-run=t --delete-untagged=T"
  "-d -m=0"
  "--dry-run=maybe"
  "-m=yes"
  # The last setting of a switch wins, by either name, and a repeated one is no error.
  "-m --delete-untagged=false"
  "--delete-untagged=false -m"
  "-m -m"
  "-d -d"
  "-dm -m=false"
  "--dry-run=false -d"
)
n=0
for form in "${forms[@]}"; do
  n=$((n + 1))
  for who in up rs; do
    rm -rf "$W/$who.$n"
    cp -a "$ROOT" "$W/$who.$n"
    config_for "$W/$who.$n" "$W/$who.$n.yml"
  done
  # shellcheck disable=SC2086 # each form is several words on purpose
  set +e
  docker-registry garbage-collect "$W/up.$n.yml" $form >"$W/up.$n.out" 2>"$W/up.$n.err"
  urc=$?
  "$REGSWEEP" garbage-collect "$W/rs.$n.yml" $form >"$W/rs.$n.out" 2>"$W/rs.$n.err"
  rrc=$?
  set -e
  if grep -q '^Error: invalid argument' "$W/up.$n.err"; then
    # Upstream prints the error and its usage but exits 0 (2.8.2); regsweep exits 2.
    check "'$form': refused by both (regsweep exit $rrc)" test $rrc -eq 2
    check "'$form': neither changed the tree" \
      test "$(state "$W/up.$n")$(state "$W/rs.$n")" = "$(state "$ROOT")$(state "$ROOT")"
  else
    check "'$form': both succeed (upstream $urc, regsweep $rrc)" test $urc -eq 0 -a $rrc -eq 0
    check "'$form': the same is left" test "$(state "$W/up.$n")" = "$(state "$W/rs.$n")"
  fi
  if [ -z "$form" ]; then
    check "'$form': something was deleted" test "$(state "$W/rs.$n")" != "$(state "$ROOT")"
    logged() { grep -o 'Deleting blob: /docker/registry/v2/blobs/sha256/[0-9a-f]*/[0-9a-f]*' "$1" | sort; }
    check "a real run logs 'Deleting blob: <path>' for the blobs upstream logs" \
      bash -c "test -n \"\$(cat)\"" <<<"$(logged "$W/up.$n.err")"
    check "  and regsweep logs the same lines" test "$(logged "$W/up.$n.err")" = "$(logged "$W/rs.$n.err")"
  fi
  if [ "$form" = "--dry-run=maybe" ]; then
    check "'$form' is a usage error naming the value" grep -q '"maybe"' "$W/rs.$n.err"
  fi
done
e2e_finish
