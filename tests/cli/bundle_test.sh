#!/usr/bin/env bash
# The portable bundle (scripts/bundle.sh) runs with nothing from the system: from a directory
# outside the build, under env -i with an empty LD_LIBRARY_PATH, every library the process
# loads comes from the bundle (LD_DEBUG=libs); and in a chroot holding only the bundle, a
# static busybox as /bin/sh and a sample tree (no glibc, no /lib: as in the registry:2 image,
# whose libc is musl), the wrapper collects the tree.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
source "$TOP/tests/e2e/lib.sh"

e2e_workdir
"$TOP/scripts/bundle.sh" "$W/out" >"$W/bundle.log" 2>&1
check "scripts/bundle.sh writes the bundle and its tarball" \
  test -x "$W/out/regsweep/regsweep" -a -s "$W/out/regsweep.tar.gz"
mkdir -p "$W/elsewhere"
tar -C "$W/elsewhere" -xzf "$W/out/regsweep.tar.gz"
B=$W/elsewhere/regsweep
"$TOP/scripts/sample-tree.sh" "$W/tree" >/dev/null
find "$W/tree" -exec touch -h -d '3 days ago' {} +

out=$(cd / && env -i LD_LIBRARY_PATH= "$B/regsweep" --version 2>&1)
check "the unpacked bundle runs under env -i with an empty LD_LIBRARY_PATH ($out)" \
  bash -c "echo '$out' | grep -q '^regsweep '"
(cd / && env -i LD_LIBRARY_PATH= LD_DEBUG=libs "$B/regsweep" gc --root "$W/tree" -d -q) 2>"$W/ld.log"
check "  and collects a sample tree (dry run)" test $? -eq 0
# The process that runs regsweep is the one that loads its libraries. It is the wrapper's
# shell until it execs the bundled loader: only what follows the first bundled file counts.
pid=$(grep -F "calling init: $B/lib/libtbb.so" "$W/ld.log" | awk '{print $1}' | tr -d ':' | head -1)
check "LD_DEBUG shows regsweep's process" test -n "$pid"
grep -E "^ *$pid:" "$W/ld.log" | sed -n "\|$B/lib/|,\$p" >"$W/ld.mine"
outside=$(grep 'calling init: ' "$W/ld.mine" | sed 's/.*calling init: //' | grep -v "^$B/lib/" | sort -u)
check "  and every library it loads comes from the bundle${outside:+: $(echo $outside)}" \
  test -z "$outside" -a -s "$W/ld.mine"
# oneTBB also looks for optional libraries (libirml, libiomp5) that exist nowhere here; it runs
# without them. Anything else looked for outside the bundle would be a library it lacks.
probes=$(grep 'trying file=' "$W/ld.mine" | sed 's/.*trying file=//' | grep -v "^$B/lib/" |
  xargs -r -n1 basename | grep -vx 'libirml.so.1\|libiomp5.so' | sort -u)
check "  and it looks for nothing else outside it${probes:+: $(echo $probes)}" test -z "$probes"
check "ldd on the bundled libraries finds each dependency in the bundle" \
  bash -c "for l in '$B'/lib/*.so*; do LD_LIBRARY_PATH='$B/lib' ldd \"\$l\" 2>/dev/null |
    awk '/=> \\//{print \$3}' | grep -v '^$B/lib/' | grep -v ld-linux && exit 1; done; exit 0"

BUSYBOX=$(command -v busybox || true)
if [ "$(id -u)" -eq 0 ] && [ -n "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1; then
  R=$W/root
  mkdir -p "$R/bin" "$R/opt" "$R/data"
  cp "$BUSYBOX" "$R/bin/busybox"
  for t in sh readlink dirname ls; do ln -s busybox "$R/bin/$t"; done
  tar -C "$R/opt" -xzf "$W/out/regsweep.tar.gz"
  cp -a "$W/tree/." "$R/data/"
  check "the chroot has no libc and no /lib" test ! -e "$R/lib" -a ! -e "$R/lib64" -a ! -e "$R/usr"
  chroot "$R" /opt/regsweep/regsweep gc --root /data -q >"$W/chroot.out" 2>&1
  rc=$?
  check "in it, the wrapper collects the tree (exit $rc)" test $rc -eq 0 || cat "$W/chroot.out"
  chroot "$R" /opt/regsweep/regsweep fsck --root /data -q >"$W/chroot.out" 2>&1
  check "  and fsck finds it clean afterwards" test $? -eq 0
else
  echo "# no root or no static busybox: the chroot check is skipped"
fi
e2e_finish
