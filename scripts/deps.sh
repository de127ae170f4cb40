#!/usr/bin/env bash
# Installs the Debian packages regsweep needs that are missing. `deps.sh build` installs what
# building needs; `deps.sh test` adds what the end-to-end tests drive (the real registry,
# skopeo, jq, curl, bc), the fuzzers (clang) and the format check (clang-format). Uses
# apt-get as root, or through sudo.
set -euo pipefail
what=${1:-build}
pkgs=(cmake g++ make pkg-config libboost-filesystem-dev libboost-program-options-dev libssl-dev
  libsimdjson-dev libtbb-dev libgtest-dev libyaml-cpp-dev openssl)
if [ "$what" = test ]; then
  pkgs+=(docker-registry skopeo jq curl tar gzip findutils bc util-linux python3 clang
    libclang-rt-14-dev clang-format git)
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
# The package starts a registry service where an init system runs; the tests start their own.
if [ "$what" = test ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active -q docker-registry 2>/dev/null; then
  $SUDO systemctl stop docker-registry || true
fi
