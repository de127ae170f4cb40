#!/usr/bin/env bash
# A single-node Ceph object store on 127.0.0.1 for the object-storage tests: one monitor, one
# OSD on memstore (in memory, 2 GiB), and radosgw (beast) speaking S3, from Debian's packages
# (ceph-mon, ceph-osd, radosgw, ceph-common). Nothing is written outside DIR.
#
# usage: scripts/radosgw.sh start DIR   starts it; writes DIR/env with RGW_ENDPOINT,
#                                       RGW_ACCESS_KEY, RGW_SECRET_KEY (an S3 user's keys)
#        scripts/radosgw.sh stop DIR    stops the daemons by the PIDs they wrote in DIR/run
# MEMSTORE_BYTES sets the OSD's size in memory (default 2 GiB; the benchmarks' 100k tree wants more).
#
# Notes for S3 clients: the zonegroup accepts any SigV4 region (us-east-1 is used); requests
# signed with curl's --aws-sigv4 need an x-amz-content-sha256 header, or RGW answers
# SignatureDoesNotMatch; a query value is signed as sent, so a slash in it (prefix=a/b) must
# be written %2F.
set -euo pipefail
cmd=${1:?usage: scripts/radosgw.sh start|stop DIR}
D=${2:?usage: scripts/radosgw.sh start|stop DIR}

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

stop() {
  local f pid
  for f in "$D"/run/radosgw.pid "$D"/run/osd.*.pid "$D"/run/mon.*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
}

# wait_for WHAT SECONDS COMMAND...: retries COMMAND until it succeeds or the time is up.
wait_for() {
  local what=$1 secs=$2
  shift 2
  for _ in $(seq 1 $((secs * 4))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  echo "radosgw.sh: $what did not come up in ${secs}s; logs in $D/log" >&2
  return 1
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
[ "$cmd" = start ] || { echo "radosgw.sh: unknown command '$cmd'" >&2; exit 2; }

rm -rf "$D"
mkdir -p "$D"/{mon,osd,run,log,rgw}
mon_port=$(free_port)
rgw_port=$(free_port)
fsid=$(cat /proc/sys/kernel/random/uuid)
cat >"$D/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
public addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
mon cluster log file = $D/log/cluster.log
mon data = $D/mon/\$cluster-\$id
osd data = $D/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES:-2147483648}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd max object name len = 460
osd max object namespace len = 64
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
[osd]
keyring = $D/osd/\$cluster-\$id/keyring
CONF
C=(-c "$D/ceph.conf")
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mgr 'allow *' >/dev/null
monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
ceph-mon "${C[@]}" -i a
wait_for "the monitor" 30 timeout 5 ceph "${C[@]}" -s
id=$(timeout 30 ceph "${C[@]}" osd create)
mkdir -p "$D/osd/ceph-$id"
timeout 30 ceph "${C[@]}" auth get-or-create "osd.$id" mon 'allow profile osd' osd 'allow *' \
  mgr 'allow profile osd' >"$D/osd/ceph-$id/keyring"
ceph-osd "${C[@]}" -i "$id" --mkfs --no-mon-config >"$D/log/osd-mkfs.out" 2>&1
ceph-osd "${C[@]}" -i "$id" >"$D/log/osd-start.out" 2>&1
wait_for "the OSD" 60 bash -c "timeout 5 ceph -c '$D/ceph.conf' osd stat | grep -q '1 up'"
mkdir -p "$D/rgw/ceph-rgw.a"
timeout 30 ceph "${C[@]}" auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
  >"$D/rgw/ceph-rgw.a/keyring"
radosgw "${C[@]}" -n client.rgw.a --keyring "$D/rgw/ceph-rgw.a/keyring" \
  --pid-file "$D/run/radosgw.pid" --rgw-frontends "beast endpoint=127.0.0.1:$rgw_port"
wait_for "radosgw" 90 curl -fsS "http://127.0.0.1:$rgw_port/"
access=$(openssl rand -hex 10)
secret=$(openssl rand -hex 20)
timeout 60 radosgw-admin "${C[@]}" user create --uid regsweep --display-name regsweep \
  --access-key "$access" --secret-key "$secret" >/dev/null
cat >"$D/env" <<ENV
RGW_ENDPOINT=http://127.0.0.1:$rgw_port
RGW_ACCESS_KEY=$access
RGW_SECRET_KEY=$secret
ENV
echo "radosgw.sh: S3 at http://127.0.0.1:$rgw_port (keys in $D/env)"
