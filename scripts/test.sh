#!/usr/bin/env bash
# Installs what is missing, builds once, runs the unit tests, then the end-to-end tests
# against the real registry. Ends with one line: "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

# Each section's wall time, printed at the end, so that a slow CI run shows where it went.
TIMES=()
section_name=""
section_start=0
section() { # section [NAME]: ends the current section, and starts NAME if given
  if [ -n "$section_name" ]; then
    TIMES+=("$(printf '%5d s  %s' $((SECONDS - section_start)) "$section_name")")
  fi
  section_name=${1:-}
  section_start=$SECONDS
  if [ -n "$section_name" ]; then
    echo "== $section_name"
  fi
}

section "install what is missing, and build"
scripts/deps.sh test || exit 1
# Warnings are errors here: what CI builds stays free of them.
CMAKE_ARGS="-DREGSWEEP_WERROR=ON" scripts/build.sh || exit 1

failed=0
passed=0

section "unit tests"
unit_total=$(ctest --test-dir build -N | awk '/Total Tests:/{print $3}')
if ctest --test-dir build --output-on-failure -j"$(nproc)"; then
  passed=$((passed + unit_total))
else
  failed=$((failed + 1))
fi

section "unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
if BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DREGSWEEP_SANITIZE=ON -DREGSWEEP_WERROR=ON" \
  scripts/build.sh &&
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)"; then
  passed=$((passed + unit_total))
else
  failed=$((failed + 1))
fi

section "formatting (clang-format, .clang-format)"
if git ls-files '*.cpp' '*.hpp' | xargs -r clang-format --dry-run --Werror; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

section "the source tree's shape (scripts/shape.sh: file sizes, src/cli/'s share, storage calls)"
if scripts/shape.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

section "clang-tidy (.clang-tidy: bugprone, performance, function size)"
if scripts/tidy.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

section "fuzzers and the tree fuzzer (short run; scripts/fuzz.sh SECONDS for a long one)"
if scripts/fuzz.sh "${FUZZ_SECONDS:-20}"; then
  passed=$((passed + 3))
else
  failed=$((failed + 1))
fi

for t in tests/cli/*_test.sh tests/e2e/*_e2e.sh; do
  section "$t"
  out=$(mktemp)
  bash "$t" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  p=$(awk '/^e2e: [0-9]+ passed/{print $2}' "$out" | tail -1)
  f=$(awk '/^e2e: [0-9]+ passed/{print $4}' "$out" | tail -1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
    failed=$((failed + 1))  # the script died before counting
  fi
  rm -f "$out"
done

section
echo "== wall time per section ($SECONDS s in all)"
printf '%s\n' "${TIMES[@]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
