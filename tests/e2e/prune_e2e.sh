#!/usr/bin/env bash
# End-to-end test of `regsweep prune` against Debian's docker-registry: a repository with 32
# tags whose push times are set by hand (25 CI builds, 5 releases, a multi-arch image,
# latest) and referrers; a GitLab-style policy (keep_n 5, older_than 7d, releases kept);
# exactly the expected tags must remain, every one must pull, and no blob a remaining tag
# needs may be gone.
set -euo pipefail
REGSWEEP=${REGSWEEP:-$(cd "$(dirname "$0")/../.." && pwd)/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
ROOT=$W/root
L=$W/layout
M=application/vnd.oci.image.manifest.v1+json
TAGS=$ROOT/docker/registry/v2/repositories/team/app/_manifests/tags

echo "# building 32 images"
oci_init "$L"
for i in $(seq 1 25); do
  read -r d s <<<"$(oci_image "$L" amd64 base:100000 "ci$i:3000")"
  oci_tag "$L" $M "$d" "$s" "ci-$i"
done
for i in $(seq 1 5); do
  read -r d s <<<"$(oci_image "$L" amd64 base:100000 "rel$i:3000")"
  oci_tag "$L" $M "$d" "$s" "v1.0.$i"
done
read -r amd amds <<<"$(oci_image "$L" amd64 base:100000 multi-amd:3000)"
read -r arm arms <<<"$(oci_image "$L" arm64 armbase:50000 multi-arm:3000)"
read -r idx idxs <<<"$(oci_index "$L" "$amd $amds amd64" "$arm $arms arm64")"
oci_tag "$L" application/vnd.oci.image.index.v1+json "$idx" "$idxs" multi
read -r d s <<<"$(oci_image "$L" amd64 base:100000 latest:3000)"
oci_tag "$L" $M "$d" "$s" latest

echo "# pushing"
registry_start "$ROOT" "$W"
for i in $(seq 1 25); do push "$L" "ci-$i" "team/app:ci-$i"; done
for i in $(seq 1 5); do push "$L" "v1.0.$i" "team/app:v1.0.$i"; done
push "$L" multi team/app:multi --all
push "$L" latest team/app:latest
# Referrers (signature-like artifacts) attached by subject: one to a release that stays, one
# to a CI build the policy deletes.
printf '{}' >"$W/empty.json"
referrer() { # SUBJECT-TAG NAME: attaches an artifact to the tag's manifest; prints its digest
  local subject size e s
  subject=$(manifest_digest team/app "$1")
  size=$(curl -fsS -H "Accept: $M" "http://127.0.0.1:$REGISTRY_PORT/v2/team/app/manifests/$1" | wc -c)
  printf 'signature of %s' "$1" >"$W/$2.bin"
  e=$(upload_blob team/app "$W/empty.json")
  s=$(upload_blob team/app "$W/$2.bin")
  printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.signature","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"%s","size":%s}],"subject":{"mediaType":"%s","digest":"%s","size":%s}}' \
    $M "$e" "$s" "$(stat -c %s "$W/$2.bin")" $M "$subject" "$size" >"$W/$2.json"
  put_manifest team/app "sha256:$(sha_of "$W/$2.json")" "$W/$2.json" $M
  echo "sha256:$(sha_of "$W/$2.json")"
}
keep_ref=$(referrer v1.0.1 keepsig)
gone_ref=$(referrer ci-20 gonesig)
gone_ci20=$(manifest_digest team/app ci-20)
registry_stop

echo "# push times: ci-N pushed N days (and an hour) ago, releases 30-34 days, multi 20, latest 40"
find "$ROOT" -exec touch -h -d '60 days ago' {} +
for i in $(seq 1 25); do touch -h -d "$i days ago 1 hour ago" "$TAGS/ci-$i/current/link"; done
for i in $(seq 1 5); do touch -h -d "$((29 + i)) days ago" "$TAGS/v1.0.$i/current/link"; done
touch -h -d '20 days ago' "$TAGS/multi/current/link"
touch -h -d '40 days ago' "$TAGS/latest/current/link"

cat >"$W/policy.yml" <<'YAML'
policies:
  - name: ci
    repositories: ["team/**"]
    keep_n: 5
    older_than: 7d
    name_regex_keep: '^v\d+\.\d+\.\d+$'
YAML
expected=$( (for i in 1 2 3 4 5 6; do echo "team/app:ci-$i"; done
  for i in 1 2 3 4 5; do echo "team/app:v1.0.$i"; done
  echo team/app:latest) | sort)

before=$(tree_state "$ROOT")
set +e
"$REGSWEEP" prune --root "$ROOT" --policy "$W/policy.yml" --dry-run --json "$W/dry.json" >"$W/dry.out" 2>"$W/dry.err"
rc=$?
set -e
check "prune --dry-run exits 0 (got $rc)" test $rc -eq 0
check "  and changes nothing" test "$before" = "$(tree_state "$ROOT")"
check "  its JSON gives a verdict for all 32 tags" test "$(jq '.retention | length' "$W/dry.json")" = 32
check "  and would delete 20" test "$(jq '[.retention[] | select(.action=="delete")] | length' "$W/dry.json")" = 20
check "  each with the rule that decided it" \
  test "$(jq -r '[.retention[] | select(.action=="delete") | .rule] | unique | join(",")' "$W/dry.json")" = ci
check "  the text names why ci-6 stays" grep -q "team/app: keep ci-6 (ci: pushed less than 7d ago)" "$W/dry.out"
check "  and why ci-7 goes" grep -q "team/app: would delete ci-7 (ci: beyond the 5 most recently pushed, older than 7d)" "$W/dry.out"
check "  and that releases are kept by name_regex_keep" grep -q "team/app: keep v1.0.3 (ci: matches name_regex_keep)" "$W/dry.out"
check "  and the bytes to free" grep -Eq '^regsweep: dry run: would delete [1-9][0-9]* blobs' "$W/dry.out"

set +e
"$REGSWEEP" prune --root "$ROOT" --policy "$W/policy.yml" -q >"$W/run.out" 2>"$W/run.err"
rc=$?
set -e
check "prune exits 0 (got $rc)" test $rc -eq 0
check "  and prints nothing with -q" test ! -s "$W/run.out"
check "exactly the expected tags remain" test "$(all_tags "$ROOT")" = "$expected"
revisions=$ROOT/docker/registry/v2/repositories/team/app/_manifests/revisions/sha256
check "the referrer of a kept release stays" test -e "$revisions/${keep_ref#sha256:}/link"
check "the referrer of a deleted CI build is collected with it" test ! -e "$revisions/${gone_ref#sha256:}"
check "the deleted build's manifest is collected" test ! -e "$revisions/${gone_ci20#sha256:}"
missing=""
for t in $(all_tags "$ROOT"); do
  d=$(cat "$TAGS/${t#team/app:}/current/link")
  for ref in $(manifest_refs "$ROOT" "$d"); do
    hex=${ref#sha256:}
    [ -f "$ROOT/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data" ] || missing="$missing $t:$ref"
  done
done
check "no blob a remaining tag needs is gone${missing:+:$missing}" test -z "$missing"
failed=$(pull_all "$ROOT")
check "every remaining tag pulls${failed:+ (failed: $failed)}" test -z "$failed"

cat >"$W/all.yml" <<'YAML'
policies:
  - keep: []
YAML
cp -a "$ROOT" "$W/guard"
before=$(tree_state "$W/guard")
set +e
"$REGSWEEP" prune --root "$W/guard" --policy "$W/all.yml" >"$W/out" 2>"$W/err"
rc=$?
set -e
check "a policy that would delete every tag is refused (exit 1, got $rc)" test $rc -eq 1
check "  naming the repository" grep -q "every tag of 'team/app'" "$W/err"
check "  and nothing was deleted" test "$before" = "$(tree_state "$W/guard")"
e2e_finish
