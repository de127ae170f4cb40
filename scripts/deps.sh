#!/usr/bin/env bash
# Installs the Debian packages regsweep needs that are missing. `deps.sh build` installs what
# building needs; `deps.sh test` adds what the end-to-end tests drive (the real registry,
# skopeo, jq, curl, bc), the fuzzers (clang), the format and lint checks (clang-format,
# clang-tidy), the metrics check (promtool, from prometheus) and the packaging checks
# (lintian, bash-completion, man-db, systemd-analyze, a static busybox for the bundle's
# chroot), the object-storage test bed (Ceph's radosgw, mon and osd: scripts/radosgw.sh) and
# a headless browser with a font for the HTML report's test (chromium, fonts-dejavu-core), and
# the storage fault suite's FUSE passthrough and ext4 images (python3-fusepy, fuse3, e2fsprogs),
# a clock that is off for the object-storage clock checks (faketime), and the registry's redis
# blob descriptor cache (redis-server). Uses apt-get as root, or through sudo.
set -euo pipefail
what=${1:-build}
pkgs=(cmake g++ make pkg-config libboost-filesystem-dev libboost-program-options-dev libssl-dev
  libsimdjson-dev libtbb-dev libgtest-dev libyaml-cpp-dev openssl libcurl4-openssl-dev
  libpugixml-dev libhiredis-dev)
if [ "$what" = test ]; then
  pkgs+=(docker-registry skopeo jq curl tar gzip findutils bc util-linux python3 clang
    libclang-rt-14-dev clang-format clang-tidy git prometheus lintian bash-completion
    busybox-static man-db systemd binutils radosgw ceph-mon ceph-osd ceph-common chromium
    fonts-dejavu-core python3-fusepy fuse3 e2fsprogs faketime redis-server)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start a registry and a Prometheus server where an init system runs; the tests
# start their own registry and need only promtool.
if [ "$what" = test ] && command -v systemctl >/dev/null 2>&1; then
  for unit in docker-registry prometheus redis-server ceph-mon.target ceph-osd.target ceph-radosgw.target; do
    if systemctl is-active -q "$unit" 2>/dev/null; then
      $SUDO systemctl stop "$unit" || true
    fi
  done
fi
