#!/usr/bin/env bash
# usage: scripts/bundle.sh DIR
# Writes DIR/regsweep/, a copy of regsweep that runs where the registry runs, including the
# registry:2 image (Alpine, musl): the binary, every shared library it needs and glibc's
# loader, started through DIR/regsweep/regsweep, a /bin/sh wrapper that runs the bundled
# loader on the bundled libraries only (never /etc/ld.so.cache, LD_LIBRARY_PATH or the system
# directories). Also writes DIR/regsweep.tar.gz of that directory. Builds first if needed.
#
# In the registry's container: copy the tarball in, `tar -xzf regsweep.tar.gz -C /opt`, then
# `/opt/regsweep/regsweep garbage-collect /etc/docker/registry/config.yml --dry-run`.
set -euo pipefail
DIR=${1:?usage: scripts/bundle.sh DIR}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$TOP/build}
[ -x "$BUILD/regsweep" ] || "$TOP/scripts/build.sh" >/dev/null
OUT=$DIR/regsweep
rm -rf "$OUT" "$DIR/regsweep.tar.gz"
mkdir -p "$OUT/bin" "$OUT/lib"
strip -o "$OUT/bin/regsweep" "$BUILD/regsweep"

# The loader the binary names, and every library ldd resolves (copied, links followed).
interp=$(readelf -l "$BUILD/regsweep" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -n "$interp" ] || { echo "bundle: no program interpreter in $BUILD/regsweep" >&2; exit 1; }
cp -L "$interp" "$OUT/lib/$(basename "$interp")"
ldd "$BUILD/regsweep" | awk '/=> \//{print $3}' | while read -r lib; do
  cp -L "$lib" "$OUT/lib/$(basename "$lib")"
done
# oneTBB loads its scalable allocator with dlopen when it can: bundle it too, or it would
# come from the system (or, in another image, be missing and silently replaced by malloc).
tbb=$(ldd "$BUILD/regsweep" | awk '/libtbb\.so/{print $3}')
if [ -n "$tbb" ] && [ -e "$(dirname "$tbb")/libtbbmalloc.so.2" ]; then
  cp -L "$(dirname "$tbb")/libtbbmalloc.so.2" "$OUT/lib/"
fi
if ldd "$BUILD/regsweep" | grep -q 'not found'; then
  echo "bundle: a library regsweep needs is missing:" >&2
  ldd "$BUILD/regsweep" | grep 'not found' >&2
  exit 1
fi
chmod 0755 "$OUT/lib/$(basename "$interp")"

cat >"$OUT/regsweep" <<WRAPPER
#!/bin/sh
# regsweep, bundled with its libraries and glibc's loader (scripts/bundle.sh): runs on any
# x86-64 Linux, glibc or musl, using only the files beside this script.
here=\$(dirname "\$(readlink -f "\$0")")
exec "\$here/lib/$(basename "$interp")" --inhibit-cache --library-path "\$here/lib" \\
  --argv0 "\$0" "\$here/bin/regsweep" "\$@"
WRAPPER
chmod 0755 "$OUT/regsweep"
cp "$TOP/README.md" "$OUT/README.md"
tar -C "$DIR" -czf "$DIR/regsweep.tar.gz" regsweep
echo "$OUT"
echo "$DIR/regsweep.tar.gz ($(du -h "$DIR/regsweep.tar.gz" | cut -f1))"
