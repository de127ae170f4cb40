#!/usr/bin/env bash
# Installs the Debian packages regsweep needs that are missing. `deps.sh build` installs what
# building needs; `deps.sh test` adds what the end-to-end tests drive (the real registry,
# skopeo, jq, curl, bc), the fuzzers (clang), the format and lint checks (clang-format,
# clang-tidy), the metrics check (promtool, from prometheus) and the packaging checks
# (lintian, bash-completion, man-db, systemd-analyze, a static busybox for the bundle's
# chroot), the object-storage test bed (Ceph's radosgw, mon and osd: scripts/radosgw.sh) and
# a headless browser with a font for the HTML report's test (chromium, fonts-dejavu-core), and
# the storage fault suite's FUSE passthrough and ext4 images (python3-fusepy, fuse3, e2fsprogs),
# a clock that is off for the object-storage clock checks (faketime), the registry's redis
# blob descriptor cache (redis-server), and Microsoft's Azure Blob emulator, Azurite, from the
# npm registry (into $AZURITE_PREFIX, default /opt/regsweep-test/azurite; nodejs and npm from
# Debian when the machine has no npm). Uses apt-get as root, or through sudo.
set -euo pipefail
what=${1:-build}
pkgs=(cmake g++ make pkg-config libboost-filesystem-dev libboost-program-options-dev libssl-dev
  libsimdjson-dev libtbb-dev libgtest-dev libyaml-cpp-dev openssl libcurl4-openssl-dev
  libpugixml-dev libhiredis-dev libre2-dev)
if [ "$what" = test ]; then
  pkgs+=(docker-registry skopeo jq curl tar gzip findutils bc util-linux python3 clang
    libclang-rt-14-dev clang-format clang-tidy git prometheus lintian bash-completion
    busybox-static man-db systemd binutils radosgw ceph-mon ceph-osd ceph-common chromium
    fonts-dejavu-core python3-fusepy fuse3 e2fsprogs faketime redis-server)
fi
if [ "$what" = test ] && ! command -v npm >/dev/null 2>&1; then
  pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
# azurite: the emulator of tests/e2e/azure_e2e.sh (scripts/azurite.sh), one pinned version:
# 3.35.0 declares node 10 or later, which Debian 12's nodejs 18 meets (3.37.0 declares 22).
azurite() {
  local prefix=${AZURITE_PREFIX:-/opt/regsweep-test/azurite} version=3.35.0
  [ -x "$prefix/node_modules/.bin/azurite-blob" ] &&
    grep -q "\"version\": \"$version\"" "$prefix/node_modules/azurite/package.json" && return 0
  echo "installing: azurite@$version (npm) in $prefix" >&2
  $SUDO mkdir -p "$prefix"
  (cd "$prefix" && $SUDO npm install --no-audit --no-fund --loglevel=error "azurite@$version" >/dev/null)
}
if [ ${#missing[@]} -eq 0 ]; then
  [ "$what" = test ] && azurite
  exit 0
fi
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
[ "$what" = test ] && azurite
exit 0
