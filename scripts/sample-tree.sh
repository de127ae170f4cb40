#!/usr/bin/env bash
# Writes a small registry storage tree in the registry's exact on-disk format, with the
# shapes a collector meets: shared base layers, a re-pushed tag, an untagged manifest, a
# multi-arch index, a nested repository, an API-deleted image and an orphan blob.
# usage: sample-tree.sh ROOT   (ROOT must not exist yet)
set -euo pipefail
ROOT=${1:?usage: sample-tree.sh ROOT}
[ -e "$ROOT" ] && { echo "sample-tree.sh: '$ROOT' exists; refusing to write into it" >&2; exit 1; }
V2=$ROOT/docker/registry/v2

blob() {  # blob CONTENT -> prints sha256:<hex>
  local hex
  hex=$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)
  mkdir -p "$V2/blobs/sha256/${hex:0:2}/$hex"
  printf '%s' "$1" >"$V2/blobs/sha256/${hex:0:2}/$hex/data"
  echo "sha256:$hex"
}
link() {  # link PATH DIGEST
  mkdir -p "$(dirname "$V2/$1")"
  printf '%s' "$2" >"$V2/$1"
}
layer() {  # layer REPO SEED SIZE -> digest, linked in REPO
  local d
  d=$(blob "$(head -c "$3" </dev/zero | tr '\0' "${2:0:1}")$2")
  link "repositories/$1/_layers/sha256/${d#sha256:}/link" "$d"
  echo "$d"
}
image() {  # image REPO NAME LAYER... -> manifest digest, with revision link
  local repo=$1 name=$2
  shift 2
  local c layers="" l m
  c=$(blob "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"name\":\"$name\"}}}")
  link "repositories/$repo/_layers/sha256/${c#sha256:}/link" "$c"
  for l in "$@"; do
    layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":1,\"digest\":\"$l\"}"
  done
  m=$(blob "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":1,\"digest\":\"$c\"},\"layers\":[$layers]}")
  link "repositories/$repo/_manifests/revisions/sha256/${m#sha256:}/link" "$m"
  echo "$m"
}
tag() {  # tag REPO TAG DIGEST
  link "repositories/$1/_manifests/tags/$2/current/link" "$3"
  link "repositories/$1/_manifests/tags/$2/index/sha256/${3#sha256:}/link" "$3"
}

base=$(layer library/web base 200000)
w1=$(image library/web 1.0 "$base" "$(layer library/web app-1.0 50000)")
tag library/web 1.0 "$w1"
tag library/web latest "$w1"
w2=$(image library/web 1.1 "$base" "$(layer library/web app-1.1 60000)")
tag library/web 1.1 "$w2"
tag library/web latest "$w2"
w3=$(image library/web dev "$base" "$(layer library/web dev 80000)")
tag library/web dev "$w3"
tag library/web dev "$(image library/web dev2 "$base" "$(layer library/web dev2 80000)")"  # w3 untagged

link "repositories/library/web/cache/_layers/sha256/${base#sha256:}/link" "$base"
tag library/web/cache 1 "$(image library/web/cache cache "$base" "$(layer library/web/cache cache 30000)")"

a=$(image tools/multi amd64 "$(layer tools/multi amd64 40000)")
b=$(image tools/multi arm64 "$(layer tools/multi arm64 40000)")
idx=$(blob "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":1,\"digest\":\"$a\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":1,\"digest\":\"$b\",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}")
link "repositories/tools/multi/_manifests/revisions/sha256/${idx#sha256:}/link" "$idx"
tag tools/multi 2.0 "$idx"

# An image deleted through the API: the revision's link file and the tag directory are gone.
old=$(image old/project 0.1 "$(layer old/project old 150000)")
rm "$V2/repositories/old/project/_manifests/revisions/sha256/${old#sha256:}/link"
mkdir -p "$V2/repositories/old/project/_manifests/tags"

blob "$(head -c 90000 </dev/zero | tr '\0' 'z')orphan" >/dev/null
echo "sample tree written to $ROOT"
