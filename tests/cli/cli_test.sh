#!/usr/bin/env bash
# The command line as an operator meets it, on the sample tree and a damaged copy of it (no
# registry needed): quiet cron runs, metrics that promtool accepts, output files checked before
# anything is deleted, Go-style booleans, globs with [...], CSV headers that are the JSON keys,
# and every JSON field documented in docs/json.md.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
REGSWEEP=${REGSWEEP:-$TOP/build/regsweep}
source "$TOP/tests/e2e/lib.sh"

e2e_workdir
"$TOP/scripts/sample-tree.sh" "$W/clean" >/dev/null || e2e_fail "sample-tree.sh failed"
V2=docker/registry/v2
old() { find "$1" -exec touch -h -d '3 days ago' {} +; }
old "$W/clean"
"$REGSWEEP" gc --root "$W/clean" -m -q --min-age 0 >/dev/null 2>&1 # a tree with nothing to do

echo "# cron: a clean run prints nothing and exits 0"
for cmd in "gc" "gc -m" "gc -d" "du" "fsck"; do
  "$REGSWEEP" $cmd --root "$W/clean" -q >"$W/out" 2>"$W/err"
  rc=$?
  check "$cmd -q on a clean tree exits 0 (got $rc)" test $rc -eq 0
  check "$cmd -q on a clean tree prints nothing" test ! -s "$W/out" -a ! -s "$W/err"
done
cp -a "$W/clean" "$W/cron"
"$REGSWEEP" du --root "$W/cron" -q --prometheus "$W/du.prom" >"$W/out" 2>&1
check "the documented cron line for du works and prints nothing" \
  bash -c "test $? -eq 0 -a ! -s '$W/out' -a -s '$W/du.prom'"

echo "# a tree with something to delete and something broken"
cp -a "$W/clean" "$W/t"
blob=$(printf 'unreferenced' | sha256sum | cut -d' ' -f1)
mkdir -p "$W/t/$V2/blobs/sha256/${blob:0:2}/$blob"
printf 'unreferenced' >"$W/t/$V2/blobs/sha256/${blob:0:2}/$blob/data"
young=$(printf 'young' | sha256sum | cut -d' ' -f1)
mkdir -p "$W/t/$V2/blobs/sha256/${young:0:2}/$young"
printf 'young' >"$W/t/$V2/blobs/sha256/${young:0:2}/$young/data"
repo=$(cd "$W/t/$V2/repositories" && find . -name _layers -printf '%h\n' | head -1 | sed 's|^\./||')
dangling=$(printf 'nothing' | sha256sum | cut -d' ' -f1)
mkdir -p "$W/t/$V2/repositories/$repo/_layers/sha256/$dangling"
printf 'sha256:%s' "$dangling" >"$W/t/$V2/repositories/$repo/_layers/sha256/$dangling/link"
mkdir -p "$W/t/$V2/repositories/$repo/_uploads/0b3c-stale"
printf 'x' >"$W/t/$V2/repositories/$repo/_uploads/0b3c-stale/data"
mkdir -p "$W/t/$V2/repositories/$repo/_manifests/tags/broken/current"
printf 'not a digest' >"$W/t/$V2/repositories/$repo/_manifests/tags/broken/current/link"
old "$W/t"
touch "$W/t/$V2/blobs/sha256/${young:0:2}/$young/data" # young: kept by the grace period

echo "# output files are checked before anything is read or deleted"
cp -a "$W/t" "$W/early"
before=$(tree_state "$W/early")
"$REGSWEEP" gc --root "$W/early" -m --json "$W/nonexistent/r.json" >"$W/out" 2>"$W/err"
rc=$?
check "an unwritable --json stops the run with exit 1 (got $rc)" test $rc -eq 1
check "  naming the path" grep -q "$W/nonexistent/r.json" "$W/err"
check "  and nothing was deleted" test "$before" = "$(tree_state "$W/early")"
"$REGSWEEP" gc --root "$W/early" --prometheus "$W" >"$W/out" 2>"$W/err"
check "a directory as --prometheus FILE is refused (exit 1)" test $? -eq 1
check "  saying it is a directory" grep -q "is a directory" "$W/err"
"$REGSWEEP" du --root "$W/early" --prometheus "$W/nonexistent/m.prom" >"$W/out" 2>"$W/err"
check "du: an unwritable --prometheus is refused before the scan (exit 1)" test $? -eq 1
check "  and du printed no table" test ! -s "$W/out"
"$REGSWEEP" gc "$W/early" -d >"$W/out" 2>"$W/err"
check "gc: a directory as CONFIG says so" grep -q "is a directory" "$W/err"
"$REGSWEEP" du "$W/early" >"$W/out" 2>"$W/err"
check "du: a directory as CONFIG says so" grep -q "is a directory" "$W/err"

echo "# gc examines what it decides on; fsck checks every link (as gc --help says)"
"$REGSWEEP" gc --help >"$W/help" 2>&1
check "gc --help points to fsck for a full check" \
  grep -q "'regsweep fsck' for a check of every link and blob" "$W/help"
cp -a "$W/clean" "$W/lk"
link=$(find "$W/lk/$V2/repositories" -path '*/_layers/sha256/*/link' | sort | head -1)
printf garbage >"$link" # a layer link whose blob a live manifest keeps anyway
touch -d '3 days ago' "$link"
"$REGSWEEP" gc --root "$W/lk" -d --min-age 0 >"$W/out" 2>"$W/err"
rc=$?
check "gc: a damaged layer link of a kept blob decides nothing: exit 0 (got $rc)" test $rc -eq 0
check "  and no finding on stderr" test ! -s "$W/err"
"$REGSWEEP" fsck --root "$W/lk" >"$W/out" 2>&1
rc=$?
check "fsck reports it: exit 3 (got $rc)" test $rc -eq 3
check "  naming the link" grep -q "_layers/sha256/.*/link' is not a sha256 digest" "$W/out"

echo "# Go-style booleans"
"$REGSWEEP" gc --root "$W/early" --dry-run=true -m=1 -q --json "$W/go.json" >/dev/null 2>&1
check "--dry-run=true -m=1 is a dry run with -m" \
  test "$(jq -r '"\(.dry_run) \(.delete_untagged)"' "$W/go.json")" = "true true"
"$REGSWEEP" gc --root "$W/early" -d --delete-untagged=false -q --json "$W/go.json" >/dev/null 2>&1
check "--delete-untagged=false turns -m off" test "$(jq -r .delete_untagged "$W/go.json")" = false
"$REGSWEEP" du --root "$W/early" --bytes=T -q >/dev/null 2>&1
check "du takes them too (--bytes=T)" test $? -ne 2
"$REGSWEEP" gc --root "$W/early" -d=yes >/dev/null 2>"$W/err"
check "-d=yes is a usage error (exit 2) naming the value" \
  bash -c "test $? -eq 2 && grep -q '\"yes\"' '$W/err'"
check "  and nothing was deleted" test "$before" = "$(tree_state "$W/early")"

echo "# globs with [...]"
repos=$("$REGSWEEP" ls --root "$W/t" -q)
first=$(echo "$repos" | head -1)
last=${first: -1}
pattern="${first%?}[$last]"
check "ls '$pattern' lists '$first'" \
  test "$("$REGSWEEP" ls --root "$W/t" -q "$pattern")" = "$first"
"$REGSWEEP" ls --root "$W/t" -q "${first%?}[!$last]" >"$W/ls-not.out" 2>"$W/ls-not.err"; rc=$?
# exit 3, not 0: the tree has a tag whose link is not a digest, a finding of every ls
check "ls '${first%?}[!$last]' runs (exit 3 for the broken tag, got $rc)" test $rc -eq 3
check "  saying so" grep -q "tags/broken/current/link" "$W/ls-not.err"
check "  and does not list '$first'" bash -c "! grep -qx '$first' '$W/ls-not.out'"

echo "# a filter that matches nothing; an output file given where a filter goes"
"$REGSWEEP" du --root "$W/clean" --json "$W/report.json" >"$W/du-file.out" 2>"$W/du-file.err"; rc=$?
check "du --json FILE is a usage error (exit 2, got $rc)" test $rc -eq 2
check "  saying --json writes to standard output" grep -q "json writes to standard output" "$W/du-file.err"
check "  printing no report and writing no file" bash -c "test ! -s '$W/du-file.out' && test ! -e '$W/report.json'"
"$REGSWEEP" ls --root "$W/clean" --json out.json >/dev/null 2>"$W/ls-file.err"; rc=$?
check "ls --json FILE is a usage error too (got $rc)" test $rc -eq 2
"$REGSWEEP" ls --root "$W/clean" -q no-such-repo >"$W/ls-none.out" 2>"$W/ls-none.err"; rc=$?
check "ls with a filter that matches nothing exits 0 (got $rc)" test $rc -eq 0
check "  warning that it matches no repository" grep -q "the filter 'no-such-repo' matches no repository" "$W/ls-none.err"

echo "# CSV columns are the JSON keys"
"$REGSWEEP" du --root "$W/t" --csv 2>/dev/null | head -1 | tr ',' '\n' >"$W/csv.keys"
"$REGSWEEP" du --root "$W/t" --json 2>/dev/null | jq -r '.repositories[0] | keys_unsorted[]' >"$W/json.keys"
check "du --csv header = du --json repository keys, in order" diff "$W/csv.keys" "$W/json.keys"

echo "# gc metrics"
cp -a "$W/t" "$W/m"
"$REGSWEEP" gc --root "$W/m" -q --prometheus "$W/gc.prom" >"$W/out" 2>"$W/err"
rc=$?
check "gc with findings exits 3 (got $rc)" test $rc -eq 3
check "  -q still reports the findings on stderr" grep -q "^error: " "$W/err"
check "  and prints nothing on stdout" test ! -s "$W/out"
check "promtool check metrics accepts gc's file" bash -c "promtool check metrics <'$W/gc.prom'"
check "promtool check metrics accepts du's file" bash -c "promtool check metrics <'$W/du.prom'"
check "the exit code is recorded" grep -qx 'regsweep_gc_exit_code 3' "$W/gc.prom"
check "a run that found problems, with no success before, records a last success of 0" \
  grep -qx 'regsweep_gc_last_success_timestamp_seconds 0' "$W/gc.prom"
check "the findings are counted by kind" grep -q '^regsweep_gc_findings{kind="malformed-link",severity="error"} 1$' "$W/gc.prom"
check "the deleted blob is counted" grep -qx 'regsweep_gc_deleted_blobs 1' "$W/gc.prom"
# The blob bytes are every blob's, though gc stats only the blobs it might delete without
# --prometheus.
data_bytes=$(cd "$W/t/docker/registry/v2/blobs" && find . -name data -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
check "the tree's blob bytes are every data file's ($data_bytes)" \
  grep -qx "regsweep_gc_blob_bytes $data_bytes" "$W/gc.prom"
"$REGSWEEP" gc --root "$W/clean" -q --prometheus "$W/ok.prom" >/dev/null 2>&1
success=$(awk '/^regsweep_gc_last_success_timestamp_seconds /{print $2}' "$W/ok.prom")
check "a clean real run records its success" test -n "$success"
sleep 1
"$REGSWEEP" gc --root "$W/nonexistent" -q --prometheus "$W/ok.prom" >/dev/null 2>&1
check "a run that cannot start records exit code 1" grep -qx 'regsweep_gc_exit_code 1' "$W/ok.prom"
check "  and keeps the last success" \
  grep -qx "regsweep_gc_last_success_timestamp_seconds $success" "$W/ok.prom"

echo "# the documented alert (docs/regsweep-alerts.yml), on the metrics files gc wrote"
# promtool's clock starts at 0: a success at time S is written as S minus now, so that the
# rule sees the age the file gives. The never-succeeded file is the failed run's above.
age_series() { # FILE NAME STEP: the last success in FILE as the rule's input, hourly for 12
  local v           # days, going up by STEP seconds an hour (3600: it keeps succeeding)
  v=$(awk '/^regsweep_gc_last_success_timestamp_seconds /{print $2}' "$1")
  [ -n "$v" ] || return 0
  [ "$v" = 0 ] || v=$((v - $(date +%s)))
  printf "      - series: 'regsweep_gc_last_success_timestamp_seconds{instance=\"%s\"}'\n        values: '%s+%sx288'\n" "$2" "$v" "$3"
}
cat >"$W/alerts_test.yml" <<YAML
rule_files:
  - $TOP/docs/regsweep-alerts.yml
evaluation_interval: 1h
tests:
  - interval: 1h
    input_series:
$(age_series "$W/gc.prom" never 0)
$(age_series "$W/ok.prom" healthy 3600)
      - series: 'regsweep_gc_last_success_timestamp_seconds{instance="stale"}'
        values: '-86400x288'
    alert_rule_test:
      - eval_time: 3d
        alertname: RegistryGcNotSucceeding
        exp_alerts: []
      - eval_time: 9d
        alertname: RegistryGcNotSucceeding
        exp_alerts:
          - exp_labels: {severity: warning, instance: never}
            exp_annotations:
              summary: "regsweep gc has not succeeded for 8 days on never"
              description: "See regsweep_gc_exit_code and the findings in the journal of regsweep-gc.service."
          - exp_labels: {severity: warning, instance: stale}
            exp_annotations:
              summary: "regsweep gc has not succeeded for 8 days on stale"
              description: "See regsweep_gc_exit_code and the findings in the journal of regsweep-gc.service."
YAML
check "promtool test rules: the alert fires for a gc that never succeeded and a stale one, not a healthy one" \
  promtool test rules "$W/alerts_test.yml"

echo "# progress: on a terminal only, and not with -q"
# The test hook pauses a real run before its sweep (inside the progress display) until a
# file exists: long enough for the display to show.
progress_run() { # ARGS... : runs gc on a pseudo-terminal, released after 1.5 s
  rm -f "$W/go"
  (sleep 1.5 && touch "$W/go") &
  REGSWEEP_TEST_PAUSE_BEFORE_SWEEP=$W/go script -qfec "'$REGSWEEP' gc --root '$W/p' --min-age 0 $*" /dev/null
}
cp -a "$W/clean" "$W/p"
progress_run >"$W/tty.out" 2>&1
check "on a terminal, a run shows its stage and a percentage" grep -aqE 'regsweep: [a-z (),-]+ [0-9]+/[0-9]+ \([0-9]+%\), [0-9]+s' "$W/tty.out"
progress_run -q >"$W/tty.out" 2>&1
check "  but not with -q" bash -c "! grep -aqE '[0-9]+%\)' '$W/tty.out'"
rm -f "$W/go"
(sleep 1.5 && touch "$W/go") &
REGSWEEP_TEST_PAUSE_BEFORE_SWEEP=$W/go "$REGSWEEP" gc --root "$W/p" --min-age 0 >"$W/out" 2>"$W/err"
check "  nor when stderr is not a terminal" bash -c "! grep -aqE '[0-9]+%\)' '$W/err'"

echo "# durations and clocks (issue 31, cause 9)"
cp -a "$W/clean" "$W/clock"
before=$(tree_state "$W/clock")
huge=$(printf '9999999999d%.0s' $(seq 1 11000)) # each part fits; the sum does not (9.5e18 s)
"$REGSWEEP" gc --root "$W/clock" --min-age "$huge" >/dev/null 2>"$W/err"
rc=$?
check "a --min-age whose sum overflows is refused (exit 2, got $rc)" test $rc -eq 2
"$REGSWEEP" gc --root "$W/clock" --min-age 36501d >/dev/null 2>"$W/err"
rc=$?
check "a --min-age over 100 years is refused (exit 2, got $rc)" test $rc -eq 2
check "  saying the bound" grep -q "at most 36500d" "$W/err"
check "  and nothing was deleted" test "$before" = "$(tree_state "$W/clock")"
future=$(find "$W/clock/$V2/repositories" -name link -path '*/current/*' | head -1)
touch -d "2030-01-01" "$future"
"$REGSWEEP" gc --root "$W/clock" --min-age 0 >/dev/null 2>"$W/err"
rc=$?
check "a file dated in the future refuses the sweep (exit 1, got $rc)" test $rc -eq 1
check "  naming the file and saying it is dated in the future" \
  grep -q "'${future#"$W/clock/$V2/"}' is dated in the future" "$W/err"
check "  and not calling the registry active" bash -c "! grep -q 'looks active' '$W/err'"
ghost=$(printf 'ghost of a blob' | sha256sum | cut -d' ' -f1)
ghost_link="$W/clock/$V2/repositories/$repo/_layers/sha256/$ghost/link"
mkdir -p "$(dirname "$ghost_link")" && printf 'sha256:%s' "$ghost" >"$ghost_link"
"$REGSWEEP" fsck --root "$W/clock" --repair >/dev/null 2>"$W/err"
rc=$?
check "fsck --repair refuses too, as gc does (exit 1, got $rc)" test $rc -eq 1
check "  saying why" grep -q "is dated in the future" "$W/err"
check "  and repairs nothing: the dangling link is still there" test -f "$ghost_link"

echo "# every JSON field is documented (docs/json.md)"
cp -a "$W/t" "$W/j"
"$REGSWEEP" gc --root "$W/j" -d -m --json "$W/gc-dry.json" >/dev/null 2>&1
"$REGSWEEP" du --root "$W/j" --json >"$W/du.json" 2>/dev/null
"$REGSWEEP" ls -t --root "$W/j" --json >"$W/ls.json" 2>/dev/null
"$REGSWEEP" fsck --root "$W/j" --json --verify-data >"$W/fsck.json" 2>/dev/null
"$REGSWEEP" fsck --root "$W/j" --json --repair >"$W/fsck-repair.json" 2>/dev/null
"$REGSWEEP" prune --root "$W/j" --keep-n 1 -d --json "$W/prune.json" >/dev/null 2>&1
"$REGSWEEP" gc --root "$W/j" -d -m --purge-uploads=1h --plan-out "$W/plan.json" >/dev/null 2>&1
check "gc -d --plan-out writes a regsweep-plan/1 plan" test "$(jq -r .schema "$W/plan.json")" = regsweep-plan/1
cp -a "$W/j" "$W/qj"
"$REGSWEEP" gc --root "$W/qj" -m --purge-uploads=1h --force --quarantine --json "$W/gc-quarantine.json" >/dev/null 2>&1
"$REGSWEEP" quarantine --root "$W/qj" --json >"$W/quarantine.json" 2>/dev/null
check "gc --quarantine names its run in the JSON, and quarantine lists it" \
  test "$(jq -r .summary.quarantine_run "$W/gc-quarantine.json")" = "$(jq -r '.runs[0].id' "$W/quarantine.json")"
"$REGSWEEP" gc --root "$W/j" -m --purge-uploads=1h --force --json "$W/gc.json" >/dev/null 2>&1
# A deletion that fails: a blob directory the sweep cannot remove (its prefix is read-only).
# A real-permissions case: the kernel's refusal is what is reported. As root (who may write
# anywhere), the run is started as nobody; as anyone else, as itself.
cp -a "$W/t" "$W/f"
chmod a-w "$W/f/$V2/blobs/sha256/${blob:0:2}"
if [ "$(id -u)" -eq 0 ]; then
  chmod a+x "$W" && chmod -R a+rX "$W/f" && chmod a+w "$W/f/$V2"
  chmod -R a+w "$W/f/$V2/repositories"
  chmod a+w "$W/f/docker/registry" "$W/f/docker/registry/regsweep.lock" 2>/dev/null || true
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$REGSWEEP" gc --root "$W/f" --force \
    --json - >"$W/gc-failed.json" 2>/dev/null
else
  "$REGSWEEP" gc --root "$W/f" --force --json - >"$W/gc-failed.json" 2>/dev/null
fi
chmod u+w "$W/f/$V2/blobs/sha256/${blob:0:2}"
check "json_fields: every field of real reports is documented, and every documented one seen" \
  python3 "$HERE/json_fields.py" "$TOP/docs/json.md" "$W"/*.json
check "a failed deletion was among them" \
  jq -e '[.deletions[] | select(.status=="failed")] | length > 0' "$W/gc-failed.json"

e2e_finish
