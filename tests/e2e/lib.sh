# Helpers for the end-to-end tests: a real registry on 127.0.0.1, images written by hand as
# OCI layouts, pushes and pulls with skopeo. Source this file; it defines functions only.
# Every server started here is stopped by the PID saved when it started.

REGISTRY_PID=""
REGISTRY_PORT=""
REGISTRY_LOG=""
PASS=0
FAILN=0

# check "what" COMMAND...: runs COMMAND and prints "ok - what" or "not ok - what".
check() {
  local what=$1
  shift
  if "$@"; then
    PASS=$((PASS + 1))
    echo "ok - $what"
  else
    FAILN=$((FAILN + 1))
    echo "not ok - $what"
  fi
}

# e2e_workdir: sets W to a new directory, removed (with any registry stopped) on exit unless
# KEEP is set.
e2e_workdir() {
  W=$(mktemp -d /tmp/regsweep-e2e.XXXXXX)
  trap 'registry_stop; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
}

# e2e_finish: the closing count line scripts/test.sh reads; fails when a check failed.
e2e_finish() {
  echo "e2e: $PASS passed, $FAILN failed"
  test "$FAILN" -eq 0
}

e2e_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# free_port: prints a TCP port on 127.0.0.1 nobody listens on. It is drawn from below the
# kernel's ephemeral range (ip_local_port_range), where outgoing connections take their local
# ports: a port there can be free to connect to and still be taken for bind.
free_port() {
  local p lo=32768
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
  fi
  [ "$lo" -gt 11024 ] || lo=32768
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (lo - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# registry_config ROOT PORT FILE: writes a config for the real registry.
# E2E_STORAGE_YAML: YAML lines added to the storage section (indented by two);
# E2E_EXTRA_YAML: top-level YAML added at the end (a redis section).
registry_config() {
  cat >"$3" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
${E2E_STORAGE_YAML:-}
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$2
compatibility:
  schema1:
    enabled: true
${E2E_EXTRA_YAML:-}
YAML
}

# registry_start ROOT WORKDIR: starts docker-registry on a free port; sets REGISTRY_PORT/PID.
# Another process can take the port between the check and the bind; then it tries another.
registry_start() {
  local root=$1 work=$2 attempt
  mkdir -p "$root"
  for attempt in 1 2 3 4 5; do
    REGISTRY_PORT=$(free_port) || e2e_fail "no free port"
    registry_config "$root" "$REGISTRY_PORT" "$work/registry.yml"
    REGISTRY_LOG="$work/registry-$REGISTRY_PORT.log"
    docker-registry serve "$work/registry.yml" >>"$REGISTRY_LOG" 2>&1 &
    REGISTRY_PID=$!
    registry_wait && return 0
    wait "$REGISTRY_PID" 2>/dev/null || true
    REGISTRY_PID=""
    if ! grep -q "address already in use" "$REGISTRY_LOG"; then
      cat "$REGISTRY_LOG" >&2
      e2e_fail "registry exited"
    fi
    echo "# port $REGISTRY_PORT was taken before the registry bound it (attempt $attempt)"
  done
  e2e_fail "registry could not bind a free port in 5 attempts"
}

# registry_wait: waits until the registry answers; returns 1 if it exited first.
registry_wait() {
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$REGISTRY_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  cat "$REGISTRY_LOG" >&2
  e2e_fail "registry did not answer on port $REGISTRY_PORT"
}

registry_stop() {
  if [ -n "$REGISTRY_PID" ]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
    REGISTRY_PID=""
  fi
}

# sample_images LAYOUT: the images most suites push, written into the OCI layout LAYOUT
# (oci_init first) and tagged there: v1 and v2 (two apps on one base layer), old, doomed (a
# layer of its own), multi (an amd64 and arm64 index). Sets v1 v1s v2 v2s old olds doomed
# dooms amd amds arm arms idx idxs (each digest and size) and M, the image media type.
sample_images() {
  local L=$1
  read -r v1 v1s <<<"$(oci_image "$L" amd64 base:300000 app1:50000)"
  read -r v2 v2s <<<"$(oci_image "$L" amd64 base:300000 app2:50000)"
  read -r old olds <<<"$(oci_image "$L" amd64 base:300000 old:40000)"
  read -r doomed dooms <<<"$(oci_image "$L" amd64 doomed:70000)"
  read -r amd amds <<<"$(oci_image "$L" amd64 base:300000 amd:30000)"
  read -r arm arms <<<"$(oci_image "$L" arm64 armbase:200000 arm:30000)"
  read -r idx idxs <<<"$(oci_index "$L" "$amd $amds amd64" "$arm $arms arm64")"
  M=application/vnd.oci.image.manifest.v1+json
  oci_tag "$L" $M "$v1" "$v1s" v1
  oci_tag "$L" $M "$v2" "$v2s" v2
  oci_tag "$L" $M "$old" "$olds" old
  oci_tag "$L" $M "$doomed" "$dooms" doomed
  oci_tag "$L" application/vnd.oci.image.index.v1+json "$idx" "$idxs" multi
}

# wait_paused ERRFILE: waits until a run started with REGSWEEP_TEST_PAUSE_BEFORE_SWEEP says on
# ERRFILE that it has planned and paused before the sweep (at most 30 s); false if it never does.
wait_paused() {
  for _ in $(seq 1 300); do
    grep -q "paused before the sweep" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# proxy_start HOST:PORT ARGS...: bench/s3proxy.py in front of HOST:PORT with ARGS (its faults),
# counting into $W/proxy.json; sets PROXY_PID and PROXY_PORT. proxy_stop stops it by that PID.
PROXY_PID=""
proxy_start() {
  local target=$1
  shift
  proxy_stop
  PROXY_PORT=$(free_port)
  python3 "$TOP/bench/s3proxy.py" --listen "$PROXY_PORT" --target "$target" \
    --stats "$W/proxy.json" "$@" &
  PROXY_PID=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PROXY_PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  e2e_fail "the proxy did not start"
}
proxy_stop() {
  if [ -n "$PROXY_PID" ]; then
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
  fi
}

# sha_of FILE: the hex sha256 of a file.
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# oci_init DIR: an empty OCI layout.
oci_init() {
  mkdir -p "$1/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
  printf '{"schemaVersion":2,"manifests":[]}' >"$1/index.json"
}

# oci_put_blob DIR FILE: stores FILE as a blob; prints "sha256:<hex> <size>".
oci_put_blob() {
  local h
  h=$(sha_of "$2")
  cp "$2" "$1/blobs/sha256/$h"
  echo "sha256:$h $(stat -c %s "$2")"
}

# oci_layer DIR SEED SIZE: a gzip layer holding SIZE bytes derived from SEED; prints
# "<digest> <size> <diffid>".
oci_layer() {
  local dir=$1 seed=$2 size=$3 tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/root"
  # Deterministic content: the same seed always yields the same layer (shared base layers).
  openssl enc -aes-128-ctr -pass "pass:$seed" -nosalt -pbkdf2 </dev/zero 2>/dev/null |
    head -c "$size" >"$tmp/root/file-$seed"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$tmp/root" -cf "$tmp/layer.tar" .
  local diffid
  diffid=$(sha_of "$tmp/layer.tar")
  gzip -n -c "$tmp/layer.tar" >"$tmp/layer.tar.gz"
  echo "$(oci_put_blob "$dir" "$tmp/layer.tar.gz") sha256:$diffid"
  rm -rf "$tmp"
}

# oci_image DIR ARCH LAYERSPEC...: writes config and manifest for an image whose layers are
# given as SEED:SIZE; prints the manifest "<digest> <size>".
oci_image() {
  local dir=$1 arch=$2
  shift 2
  local layers="" diffids="" history="" spec d s diff
  for spec in "$@"; do
    read -r d s diff <<<"$(oci_layer "$dir" "${spec%%:*}" "${spec##*:}")"
    layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$s}"
    diffids="$diffids${diffids:+,}\"$diff\""
    history="$history${history:+,}{\"created\":\"2026-01-01T00:00:00Z\",\"created_by\":\"layer ${spec%%:*}\"}"
  done
  local tmp
  tmp=$(mktemp -d)
  printf '{"architecture":"%s","os":"linux","created":"2026-01-01T00:00:00Z","config":{},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
    "$arch" "$diffids" "$history" >"$tmp/config.json"
  read -r d s <<<"$(oci_put_blob "$dir" "$tmp/config.json")"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
    "$d" "$s" "$layers" >"$tmp/manifest.json"
  oci_put_blob "$dir" "$tmp/manifest.json"
  rm -rf "$tmp"
}

# oci_index DIR "DIGEST SIZE ARCH"...: writes an image index; prints "<digest> <size>".
oci_index() {
  local dir=$1
  shift
  local entries="" d s arch
  for e in "$@"; do
    read -r d s arch <<<"$e"
    entries="$entries${entries:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$d\",\"size\":$s,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"}}"
  done
  local tmp
  tmp=$(mktemp)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" >"$tmp"
  oci_put_blob "$dir" "$tmp"
  rm -f "$tmp"
}

# oci_tag DIR MEDIATYPE DIGEST SIZE NAME: names a manifest or index in index.json.
oci_tag() {
  local dir=$1 mt=$2 d=$3 s=$4 name=$5
  jq -c --arg mt "$mt" --arg d "$d" --argjson s "$s" --arg n "$name" \
    '.manifests += [{"mediaType":$mt,"digest":$d,"size":$s,"annotations":{"org.opencontainers.image.ref.name":$n}}]' \
    "$dir/index.json" >"$dir/index.json.new"
  mv "$dir/index.json.new" "$dir/index.json"
}

# push LAYOUT REF DEST [skopeo flags...]: pushes oci:LAYOUT:REF to 127.0.0.1:PORT/DEST.
push() {
  local layout=$1 ref=$2 dest=$3
  shift 3
  skopeo copy -q --dest-tls-verify=false "$@" "oci:$layout:$ref" \
    "docker://127.0.0.1:$REGISTRY_PORT/$dest" >/dev/null ||
    e2e_fail "push of $ref to $dest failed"
}

# pull NAME:TAG OUTDIR: pulls every manifest and blob (verifying digests); non-zero on failure.
pull() {
  rm -rf "$2"
  skopeo copy -q --all --src-tls-verify=false "docker://127.0.0.1:$REGISTRY_PORT/$1" "oci:$2:x" >/dev/null 2>&1
}

# pull_fails NAME:TAG OUTDIR: true when the pull fails.
pull_fails() { ! pull "$@"; }

# pull_all ROOT: starts the registry on ROOT, pulls every tag with every manifest and blob an
# index names (4 at a time), stops it; prints the tags that failed, nothing when all pulled.
pull_all() {
  registry_start "$1" "$W"
  all_tags "$1" | xargs -P4 -I{} sh -c \
    "skopeo copy -q --all --src-tls-verify=false docker://127.0.0.1:$REGISTRY_PORT/{} oci:$W/pull.\$\$:x >/dev/null 2>&1 || echo {}; rm -rf $W/pull.\$\$"
  registry_stop
}

# manifest_digest NAME REF: the digest the registry serves for NAME:REF.
manifest_digest() {
  curl -fsS -o /dev/null -D - \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.v1+prettyjws' \
    "http://127.0.0.1:$REGISTRY_PORT/v2/$1/manifests/$2" |
    tr -d '\r' | awk 'tolower($1)=="docker-content-digest:"{print $2}'
}

# delete_manifest NAME DIGEST: deletes a manifest through the API.
delete_manifest() {
  curl -fsS -X DELETE "http://127.0.0.1:$REGISTRY_PORT/v2/$1/manifests/$2" >/dev/null ||
    e2e_fail "API delete of $1@$2 failed"
}

# all_tags ROOT: prints name:tag for every tag in the tree.
all_tags() {
  local v2="$1/docker/registry/v2/repositories"
  find "$v2" -path '*/_manifests/tags/*/current/link' -type f 2>/dev/null |
    sed -e "s|^$v2/||" -e 's|/_manifests/tags/|:|' -e 's|/current/link$||' | sort
}

# blob_list ROOT: prints every blob digest hex in the tree, sorted.
blob_list() {
  find "$1/docker/registry/v2/blobs" -name data -type f 2>/dev/null |
    awk -F/ '{print $(NF-1)}' | sort
}

# upload_blob NAME FILE: uploads FILE as a blob of NAME (POST then PUT); prints its digest.
upload_blob() {
  local d loc
  d="sha256:$(sha_of "$2")"
  loc=$(curl -fsS -X POST -D - -o /dev/null "http://127.0.0.1:$REGISTRY_PORT/v2/$1/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  [ -n "$loc" ] || e2e_fail "no upload location for $1"
  case "$loc" in http*) ;; *) loc="http://127.0.0.1:$REGISTRY_PORT$loc" ;; esac
  case "$loc" in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$2" "$loc" >/dev/null ||
    e2e_fail "blob upload to $1 failed"
  echo "$d"
}

# attach_referrer NAME SUBJECT-DIGEST SUBJECT-SIZE BYTES: pushes to NAME an OCI artifact whose
# one layer holds BYTES and whose subject is the image manifest SUBJECT-DIGEST (of
# SUBJECT-SIZE bytes); pushes it by digest and prints that digest. Its manifest is left in
# $W/referrer.json.
attach_referrer() {
  local m=application/vnd.oci.image.manifest.v1+json e s
  printf '{}' >"$W/empty.json"
  printf '%s' "$4" >"$W/sig.bin"
  e=$(upload_blob "$1" "$W/empty.json")
  s=$(upload_blob "$1" "$W/sig.bin")
  printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.signature","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"%s","size":%s}],"subject":{"mediaType":"%s","digest":"%s","size":%s}}' \
    $m "$e" "$s" "${#4}" $m "$2" "$3" >"$W/referrer.json"
  put_manifest "$1" "sha256:$(sha_of "$W/referrer.json")" "$W/referrer.json" $m
  echo "sha256:$(sha_of "$W/referrer.json")"
}

# put_manifest NAME REF FILE MEDIATYPE: PUT a manifest by tag or digest.
put_manifest() {
  curl -fsS -X PUT -H "Content-Type: $4" --data-binary "@$3" \
    "http://127.0.0.1:$REGISTRY_PORT/v2/$1/manifests/$2" >/dev/null ||
    e2e_fail "manifest PUT $1:$2 failed"
}

# tree_state ROOT: every path below ROOT with type, size and mtime (for "changed nothing").
# regsweep's own lock file, and the mtime of the directory holding it (docker/registry; v2,
# where earlier builds kept it and whence it is removed), are left out.
tree_state() {
  (cd "$1" && find . -path ./docker/registry/regsweep.lock -prune -o \
    -path ./docker/registry/v2 -printf 'd v2\n' -o \
    -path ./docker/registry -printf 'd registry\n' -o -printf '%y %s %T@ %p\n' | sort -k4)
}

# manifest_refs ROOT DIGEST: prints DIGEST and, recursively, every digest it references
# (config, layers, children), read from the stored blobs with jq.
manifest_refs() {
  local root=$1 d=$2 hex file
  echo "$d"
  hex=${d#sha256:}
  file="$root/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
  [ -f "$file" ] || return 0
  jq -r '(.config.digest // empty), (.layers[]?.digest), (.fsLayers[]?.blobSum)' "$file" 2>/dev/null
  local c
  for c in $(jq -r '.manifests[]?.digest' "$file" 2>/dev/null); do
    manifest_refs "$root" "$c"
  done
}

# s3 REQUEST...: a SigV4-signed curl request to the radosgw of scripts/radosgw.sh (its env
# file sets RGW_ENDPOINT, RGW_ACCESS_KEY, RGW_SECRET_KEY). RGW wants x-amz-content-sha256;
# this is the hash of an empty body.
s3() {
  curl -fsS -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" "$@"
}
