#!/usr/bin/env bash
# Checks that the sidecar image's Dockerfile (scripts/container/Dockerfile) installs every
# package the build needs (scripts/deps.sh's build list, but for the test-only ones), then
# builds the image where a container builder runs on this machine, and runs it on a sample
# tree; says so and builds nothing when none does.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
source "$TOP/tests/e2e/lib.sh"
e2e_workdir
# The build list of deps.sh: the words of its first pkgs=( … ) assignment.
build_pkgs=$(sed -n '/^pkgs=(/,/)/p' "$TOP/scripts/deps.sh" | tr -d '()' | sed 's/^pkgs=//' | tr ' ' '\n' | grep -v '^$')
# What the image's build stage installs: the words after `apt-get install` up to the `&&`.
image_pkgs=$(sed -n '/apt-get install/,/&&/p' "$TOP/scripts/container/Dockerfile" | tr ' \\' '\n\n' | grep -v '^-\|^$\|apt-get\|install\|&&\|RUN\|rm$')
# libgtest-dev and the openssl command serve the tests, which the image does not build.
missing=$(comm -23 <(echo "$build_pkgs" | grep -vx 'libgtest-dev\|openssl' | sort -u) <(echo "$image_pkgs" | sort -u))
check "the Dockerfile installs every package the build needs ($(echo "$build_pkgs" | wc -l) in deps.sh)${missing:+; missing: $(echo $missing)}" test -z "$missing"
if ! command -v docker >/dev/null 2>&1 || ! timeout 10 docker info >/dev/null 2>&1; then
  echo "# no container builder answers here (docker info fails): the image is not built"
  e2e_finish
  exit $?
fi
tag=regsweep-test:$$
timeout 1800 docker build -q -f "$TOP/scripts/container/Dockerfile" -t "$tag" "$TOP" >"$W/build.log" 2>&1
check "the image builds" test $? -eq 0 || tail -20 "$W/build.log"
"$TOP/scripts/sample-tree.sh" "$W/tree" >/dev/null
find "$W/tree" -exec touch -h -d '3 days ago' {} +
docker run --rm --network none -v "$W/tree:/var/lib/registry" "$tag" gc --root /var/lib/registry -q
check "it collects a sample tree on a mounted volume" test $? -eq 0
docker rmi -f "$tag" >/dev/null 2>&1
e2e_finish
