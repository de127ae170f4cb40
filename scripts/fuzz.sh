#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for SECONDS (default 60).
# usage: scripts/fuzz.sh [SECONDS]     Corpora: tests/fuzz/corpus/<target>/ (seeded from
# tests/fixtures); crashes are written to build-fuzz/ and make the script fail.
# Then the tree fuzzer (tests/fuzz/tree_fuzz.cpp, built with the ASan+UBSan build) damages
# generated trees for SECONDS; a seed that loses data makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
pkgs=(clang libclang-rt-14-dev libsimdjson-dev libssl-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
B=build-fuzz
mkdir -p "$B"
FLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude)
clang++ "${FLAGS[@]}" tests/fuzz/fuzz_manifest.cpp src/manifest.cpp src/digest.cpp \
  -lsimdjson -lcrypto -o "$B/fuzz_manifest"
clang++ "${FLAGS[@]}" tests/fuzz/fuzz_link.cpp src/layout.cpp src/digest.cpp -lcrypto -o "$B/fuzz_link"
for t in fuzz_manifest fuzz_link; do
  corpus=$B/corpus/$t
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/$t/* "$corpus/" 2>/dev/null || true
  if [ "$t" = fuzz_manifest ]; then cp tests/fixtures/*.json "$corpus/"; fi
  echo "== $t for ${SECONDS_EACH}s"
  (cd "$B" && "./$t" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
    -print_final_stats=1 "corpus/$t" 2>&1 | grep -E "stat::number_of_executed_units|stat::peak_rss|Done|ERROR|SUMMARY" || true)
  if ls "$B"/crash-* "$B"/leak-* "$B"/timeout-* >/dev/null 2>&1; then
    echo "fuzz: $t found a failing input in $B/" >&2
    exit 1
  fi
done
echo "== tree fuzzer for ${SECONDS_EACH}s"
if [ ! -x build-asan/regsweep_treefuzz ]; then
  BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DREGSWEEP_SANITIZE=ON" scripts/build.sh >/dev/null
fi
build-asan/regsweep_treefuzz --seconds "$SECONDS_EACH" --seed "${TREEFUZZ_SEED:-$(date +%s)}"
echo "fuzz: no crash, no data lost"
