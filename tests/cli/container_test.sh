#!/usr/bin/env bash
# Builds the sidecar image (scripts/container/Dockerfile) where a container builder runs on
# this machine, and runs it on a sample tree; says so and passes nothing when none does.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
source "$TOP/tests/e2e/lib.sh"
e2e_workdir
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
