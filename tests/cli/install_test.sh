#!/usr/bin/env bash
# The package as an operator installs it: `cpack -G DEB` in the build directory, lintian,
# dpkg -i on this machine, the installed binary on a sample tree, its man pages, systemd units
# and bash completion (each in step with `regsweep CMD --help`), then dpkg -r.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD_DIR:-$TOP/build}
source "$TOP/tests/e2e/lib.sh"

e2e_workdir
commands="gc rm prune du ls fsck restore quarantine apply"

echo "# man pages and completion follow --help (from the source tree)"
# The options `regsweep CMD --help` lists, as --long and -s names.
help_options() {
  "$BUILD/regsweep" "$1" --help | grep -oE '^ +(-[a-z] \[ --[a-z0-9-]+ \]|--[a-z0-9-]+)' |
    grep -oE -- '--?[a-z0-9-]+' | sort -u
}
page_of() { [ "$1" = gc ] && echo regsweep-gc || echo "regsweep-$1"; }
for c in $commands; do
  help_options "$c" >"$W/help.$c"
  check "$c --help lists options" test -s "$W/help.$c"
  page="$TOP/docs/man/$(page_of "$c").8"
  # rm's and prune's pages list gc's options by name; their own ones are checked below
  case $c in rm | prune) page="$TOP/docs/man/regsweep-gc.8 $TOP/docs/man/regsweep-$c.8" ;; esac
  # grep reads the pages itself: with pipefail, `cat | grep -q` fails when grep stops early.
  missing=$(while read -r o; do grep -q -- "$(echo "$o" | sed 's/-/\\\\-/g')" $page || echo "$o"; done <"$W/help.$c")
  check "every option of $c --help is in its man page${missing:+ (missing: $(echo $missing))}" test -z "$missing"
done
grep -q -- '\\-\\-no\\-gc' "$TOP/docs/man/regsweep-rm.8"
check "rm's man page has --no-gc" test $? -eq 0
for f in "$TOP"/docs/man/*.8; do
  out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
  check "man --warnings is silent on $(basename "$f")" test -z "$out"
done

echo "# the package"
rm -f "$BUILD"/regsweep_*.deb
(cd "$BUILD" && cpack -G DEB >"$W/cpack.log" 2>&1)
check "cpack -G DEB makes a package" bash -c "ls '$BUILD'/regsweep_*_amd64.deb >/dev/null 2>&1 || ls '$BUILD'/regsweep_*.deb >/dev/null"
deb=$(ls "$BUILD"/regsweep_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat "$W/cpack.log"; e2e_finish; exit 1; }
lintian --fail-on error,warning "$deb" >"$W/lintian.out" 2>&1
check "lintian accepts it (no error, no warning)" test $? -eq 0 || cat "$W/lintian.out"

if dpkg-query -W -f='${Status}' regsweep 2>/dev/null | grep -q "install ok installed"; then
  echo "# regsweep is installed already on this machine: not reinstalling or removing it"
  e2e_finish
  exit $?
fi
dpkg -i "$deb" >"$W/dpkg.log" 2>&1
check "dpkg -i installs it" test $? -eq 0 || cat "$W/dpkg.log"
trap 'dpkg -r regsweep >/dev/null 2>&1; registry_stop; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT

echo "# the installed files"
check "the binary is /usr/sbin/regsweep" test -x /usr/sbin/regsweep
check "it runs: --version" bash -c "/usr/sbin/regsweep --version | grep -q '^regsweep '"
"$TOP/scripts/sample-tree.sh" "$W/tree" >/dev/null
find "$W/tree" -exec touch -h -d '3 days ago' {} +
(cd / && env -i PATH=/usr/sbin:/usr/bin:/bin regsweep gc --root "$W/tree" -d -q)
check "the installed binary collects a sample tree (dry run, exit 0)" test $? -eq 0
(cd / && env -i PATH=/usr/sbin:/usr/bin:/bin regsweep gc --root "$W/tree" -q)
check "  and for real (exit 0)" test $? -eq 0
(cd / && env -i PATH=/usr/sbin:/usr/bin:/bin regsweep fsck --root "$W/tree" -q)
check "  leaving a tree fsck finds clean" test $? -eq 0
for p in regsweep regsweep-gc regsweep-rm regsweep-prune regsweep-du regsweep-ls regsweep-fsck \
  regsweep-restore regsweep-quarantine; do
  check "man -w $p finds the installed page" bash -c "man -w $p | grep -q '^/usr/share/man/man8/$p.8.gz$'"
  out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 "$p" 2>&1 >/dev/null)
  check "  and man --warnings is silent on it" test -z "$out"
done
out=$(systemd-analyze verify /lib/systemd/system/regsweep-gc.service /lib/systemd/system/regsweep-gc.timer 2>&1)
check "systemd-analyze verify accepts the service and the timer${out:+: $out}" test -z "$out"
check "the timer is weekly" grep -qx 'OnCalendar=weekly' /lib/systemd/system/regsweep-gc.timer
check "the service runs idle and niced" \
  bash -c "grep -qx 'IOSchedulingClass=idle' /lib/systemd/system/regsweep-gc.service && grep -q '^Nice=' /lib/systemd/system/regsweep-gc.service"
check "nothing enables the timer on install" test ! -e /etc/systemd/system/timers.target.wants/regsweep-gc.timer
check "a cron example is installed" test -f /usr/share/doc/regsweep/examples/regsweep.cron

echo "# bash completion"
comp=/usr/share/bash-completion/completions/regsweep
check "the completion is installed" test -f "$comp"
for c in $commands; do
  got=$(bash -c "source /usr/share/bash-completion/bash_completion; source '$comp'
    COMP_WORDS=(regsweep $c -); COMP_CWORD=2; COMP_LINE='regsweep $c -'; COMP_POINT=\${#COMP_LINE}
    _regsweep; printf '%s\n' \"\${COMPREPLY[@]}\"" 2>/dev/null | sort -u)
  diffs=$(diff <(echo "$got") "$W/help.$c" | grep '^[<>]' | tr '\n' ' ')
  check "completing 'regsweep $c -' offers exactly its --help options${diffs:+ ($diffs)}" test -z "$diffs"
done
got=$(bash -c "source /usr/share/bash-completion/bash_completion; source '$comp'
  COMP_WORDS=(regsweep g); COMP_CWORD=1; COMP_LINE='regsweep g'; COMP_POINT=10
  _regsweep; printf '%s\n' \"\${COMPREPLY[@]}\"" 2>/dev/null | sort | tr '\n' ' ')
check "completing 'regsweep g' offers the commands (got: $got)" test "$got" = "garbage-collect gc "

echo "# the timer's run on a machine without node_exporter (its Exec lines, as systemd runs them)"
unit=/lib/systemd/system/regsweep-gc.service
textdir=/var/lib/prometheus/node-exporter
if [ -e "$textdir" ]; then
  echo "# $textdir exists here: the run without it is not checked"
else
  "$TOP/scripts/sample-tree.sh" "$W/timer-tree" >/dev/null
  find "$W/timer-tree" -exec touch -h -d '3 days ago' {} +
  registry_config "$W/timer-tree" 0 "$W/timer.yml"
  ok=1
  while IFS= read -r line; do
    cmd=${line#*=}
    cmd=${cmd//\/etc\/docker\/registry\/config.yml/$W/timer.yml}
    (cd / && env -i PATH=/usr/sbin:/usr/bin:/bin sh -c "$cmd") >>"$W/timer.log" 2>&1 || { ok=0; echo "failed: $cmd" >>"$W/timer.log"; }
  done < <(grep -E '^ExecStart(Pre)?=' "$unit")
  check "every Exec line of the service succeeds without node_exporter" test $ok -eq 1 || cat "$W/timer.log"
  check "  the metrics are written, with the run's success" \
    bash -c "grep -q '^regsweep_gc_exit_code 0$' $textdir/regsweep-gc.prom && ! grep -q '^regsweep_gc_last_success_timestamp_seconds 0$' $textdir/regsweep-gc.prom"
  rm -rf "$textdir"
  rmdir /var/lib/prometheus 2>/dev/null || true
fi

echo "# an enabled timer, then dpkg --purge"
systemctl enable regsweep-gc.timer >"$W/enable.log" 2>&1
check "systemctl enable makes the timer's symlink (offline)" \
  test -L /etc/systemd/system/timers.target.wants/regsweep-gc.timer || cat "$W/enable.log"
dpkg -r regsweep >"$W/dpkg.log" 2>&1
check "dpkg -r removes it" bash -c "test $? -eq 0 && test ! -e /usr/sbin/regsweep"
dpkg --purge regsweep >"$W/purge.log" 2>&1
check "dpkg --purge succeeds" test $? -eq 0 || cat "$W/purge.log"
left=$(find /etc/systemd /lib/systemd /usr/lib/systemd -name 'regsweep-gc*' 2>/dev/null)
check "  and leaves no unit or symlink of it behind${left:+: $left}" test -z "$left"
e2e_finish
