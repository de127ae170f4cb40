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

echo "# log lines under the registry's log.formatter (logrus's forms), plain without it"
# logrus's fields that only Go has (go.version, instance.id) are left out of both.
deletions_of() { # FILE FORM: the deletion records of FILE as "level msg" lines, sorted
  case $2 in
    text) grep '^time="' "$1" | grep -v '^time="[^"]*" level=[a-z]* msg="[^"]*"' >&2 && return 1
          sed -n 's/^time="[^"]*" level=\([a-z]*\) msg="\(Deleting blob: [^"]*\)".*/\1 \2/p' "$1" | sort ;;
    json) grep '^{' "$1" | jq -r 'select(.msg|startswith("Deleting blob: ")) | "\(.level) \(.msg)"' | sort ;;
    logstash) grep '^{' "$1" | jq -r 'select(.message|startswith("Deleting blob: ")) | "\(.level) \(.message)"' | sort ;;
  esac
}
for form in text json logstash; do
  for who in up rs; do
    rm -rf "$W/$who.log-$form"
    cp -a "$ROOT" "$W/$who.log-$form"
    config_for "$W/$who.log-$form" "$W/$who.log-$form.yml"
    sed -i "s/^  level: info/  level: info\n  formatter: $form\n  fields:\n    service: registry/" "$W/$who.log-$form.yml"
  done
  docker-registry garbage-collect "$W/up.log-$form.yml" >/dev/null 2>"$W/up.log-$form.err"
  set +e
  "$REGSWEEP" garbage-collect "$W/rs.log-$form.yml" >/dev/null 2>"$W/rs.log-$form.err"
  rrc=$?
  set -e
  check "formatter $form: regsweep succeeds (exit $rrc)" test $rrc -eq 0
  check "formatter $form: upstream logs its deletions so" \
    bash -c "test -n \"\$(cat)\"" <<<"$(deletions_of "$W/up.log-$form.err" $form)"
  check "formatter $form: regsweep logs the same records (level and msg)" \
    test "$(deletions_of "$W/up.log-$form.err" $form)" = "$(deletions_of "$W/rs.log-$form.err" $form)"
  check "formatter $form: every line regsweep writes on stderr is a record" \
    bash -c "! grep -v '^time=\"[^\"]*\" level=[a-z]* msg=' '$W/rs.log-$form.err' | grep -v '^{' | grep -q ."
done
check "formatter text: the static fields are written as upstream writes them" \
  bash -c "grep '^time=' '$W/rs.log-text.err' | grep -q ' service=registry\$'"
check "formatter json: the static fields are written as upstream writes them" \
  test "$(grep '^{' "$W/rs.log-json.err" | head -1 | jq -r .service)" = registry
# The time as upstream writes it: RFC 3339 with nanoseconds.
check "formatter text: the time is RFC 3339 with nanoseconds" \
  bash -c "grep -Eq '^time=\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})\" level=info' '$W/rs.log-text.err'"
# log.level warn hides the info records, as it does upstream's.
for who in up rs; do
  rm -rf "$W/$who.log-warn"
  cp -a "$ROOT" "$W/$who.log-warn"
  config_for "$W/$who.log-warn" "$W/$who.log-warn.yml"
  sed -i "s/^  level: info/  level: warn\n  formatter: text/" "$W/$who.log-warn.yml"
done
docker-registry garbage-collect "$W/up.log-warn.yml" >/dev/null 2>"$W/up.log-warn.err"
"$REGSWEEP" garbage-collect "$W/rs.log-warn.yml" >/dev/null 2>"$W/rs.log-warn.err"
check "level warn: upstream writes no deletion record" bash -c "! grep -q 'Deleting blob' '$W/up.log-warn.err'"
check "  nor does regsweep" bash -c "! grep -q 'Deleting blob' '$W/rs.log-warn.err'"
check "  and both deleted the same" test "$(state "$W/up.log-warn")" = "$(state "$W/rs.log-warn")"
# The environment's override, as the registry reads it; an unknown formatter is refused by both.
rm -rf "$W/rs.log-env" && cp -a "$ROOT" "$W/rs.log-env" && config_for "$W/rs.log-env" "$W/rs.log-env.yml"
REGISTRY_LOG_FORMATTER=json "$REGSWEEP" garbage-collect "$W/rs.log-env.yml" >/dev/null 2>"$W/rs.log-env.err"
check "REGISTRY_LOG_FORMATTER=json: JSON records" \
  test "$(grep -c '^{' "$W/rs.log-env.err")" -gt 0
rm -rf "$W/rs.log-bad" && cp -a "$ROOT" "$W/rs.log-bad" && config_for "$W/rs.log-bad" "$W/rs.log-bad.yml"
set +e
REGISTRY_LOG_FORMATTER=xml docker-registry garbage-collect "$W/rs.log-bad.yml" >/dev/null 2>"$W/up.log-bad.err"
REGISTRY_LOG_FORMATTER=xml "$REGSWEEP" garbage-collect "$W/rs.log-bad.yml" >/dev/null 2>"$W/rs.log-bad.err"
rrc=$?
set -e
check "an unknown formatter: upstream refuses it" grep -q 'unsupported logging formatter: "xml"' "$W/up.log-bad.err"
check "  and so does regsweep (exit 1, got $rrc), naming it" \
  bash -c "test $rrc -eq 1 && grep -q 'unsupported logging formatter: \"xml\"' '$W/rs.log-bad.err'"
check "  deleting nothing" test "$(state "$W/rs.log-bad")" = "$(state "$ROOT")"
# Without a formatter in the configuration: regsweep's plain lines (the first form, above).
check "no formatter: plain lines ('Deleting blob: ' at the start)" grep -q '^Deleting blob: ' "$W/rs.1.err"
e2e_finish
