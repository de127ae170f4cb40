#!/usr/bin/env bash
# The object-storage test bed (issue 18's, started): a single-node Ceph radosgw on 127.0.0.1
# (scripts/radosgw.sh), Debian's docker-registry on its s3 driver against it, an image pushed
# and pulled with skopeo, the registry's own garbage-collect on the bucket. regsweep does not
# read object storage yet: it must refuse the configuration, naming the driver, and change
# nothing.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
REGSWEEP=${REGSWEEP:-$TOP/build/regsweep}
source "$(dirname "$0")/lib.sh"

e2e_workdir
CEPH=$W/ceph
trap '"$TOP/scripts/radosgw.sh" stop "$CEPH"; registry_stop; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
"$TOP/scripts/radosgw.sh" start "$CEPH" >"$W/rgw.out" 2>&1 || { cat "$W/rgw.out"; tail -20 "$CEPH"/log/*.log; e2e_fail "radosgw did not start"; }
source "$CEPH/env"
check "radosgw answers S3 on 127.0.0.1" bash -c "curl -fsS '$RGW_ENDPOINT/' | grep -q ListAllMyBucketsResult"

# s3 REQUEST... : a SigV4-signed request to radosgw (see scripts/radosgw.sh on the header).
s3() {
  curl -fsS -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" "$@"
}
s3 -X PUT "$RGW_ENDPOINT/registry" >/dev/null
buckets=$(s3 "$RGW_ENDPOINT/")
check "a bucket is created" grep -q '<Name>registry</Name>' <<<"$buckets"

port=$(free_port)
cat >"$W/s3.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: $RGW_ACCESS_KEY
    secretkey: $RGW_SECRET_KEY
    region: us-east-1
    regionendpoint: $RGW_ENDPOINT
    bucket: registry
    rootdirectory: /reg
    secure: false
    v4auth: true
    forcepathstyle: true
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
# The registry's S3 driver panics on AWS_CA_BUNDLE ("unable to load custom CA bundle").
(unset AWS_CA_BUNDLE; exec docker-registry serve "$W/s3.yml" >"$W/registry.log" 2>&1) &
REGISTRY_PID=$!
REGISTRY_PORT=$port
registry_wait || { cat "$W/registry.log"; e2e_fail "the registry on s3 did not start"; }

L=$W/layout
oci_init "$L"
read -r d s <<<"$(oci_image "$L" amd64 base:50000 app:2000)"
oci_tag "$L" application/vnd.oci.image.manifest.v1+json "$d" "$s" v1
push "$L" v1 lib/app:v1
check "an image pushed to the registry on s3 pulls back" pull lib/app:v1 "$W/pulled"
keys=$(s3 "$RGW_ENDPOINT/registry?list-type=2&prefix=reg%2Fdocker%2Fregistry%2Fv2%2F" | grep -o '<Key>[^<]*</Key>' | wc -l)
check "its objects are in the bucket under rootdirectory ($keys keys)" test "$keys" -ge 8
registry_stop

(unset AWS_CA_BUNDLE; docker-registry garbage-collect "$W/s3.yml" --dry-run >"$W/up.out" 2>&1)
check "the registry's own garbage-collect runs on the bucket" \
  grep -q "blobs marked, 0 blobs and 0 manifests eligible for deletion" "$W/up.out"
before=$(s3 "$RGW_ENDPOINT/registry?list-type=2" | grep -o '<Key>[^<]*</Key>' | sort)
set +e
"$REGSWEEP" gc "$W/s3.yml" >"$W/rs.out" 2>"$W/rs.err"
rc=$?
set -e
check "regsweep refuses the s3 configuration for now (exit 1, got $rc)" test $rc -eq 1
check "  naming the driver" grep -q "'s3' storage driver" "$W/rs.err"
check "  and the bucket is unchanged" \
  test "$before" = "$(s3 "$RGW_ENDPOINT/registry?list-type=2" | grep -o '<Key>[^<]*</Key>' | sort)"
e2e_finish
