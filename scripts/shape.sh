#!/usr/bin/env bash
# The shape of the source tree (issue 32), checked so that it stays:
#  1. no source file over 600 lines;
#  2. src/cli/ at most 15% of the lines of src/ and include/;
#  3. outside src/store/ and src/cli/, no POSIX file-system call and no deleting call: every
#     read and delete of the storage goes through a Store;
#  4. outside src/store/, src/cli/ and the configuration reader, no word "s3";
#  5. src/store/s3/ (the S3 client and its glue) at most 1,000 lines: what any object store
#     needs lives in src/store/object/;
#  6. the Store interface (include/regsweep/store.hpp) at most 8 pure virtual functions.
# What breaks a rule today is listed in scripts/shape-exceptions.txt ("RULE PATH"); that list
# may only shrink: a new breach fails, and so does a listed one that no longer breaks its rule
# (take it off the list).
set -uo pipefail
cd "$(dirname "$0")/.."
sources=$(git ls-files --cached --others --exclude-standard 'src/*.cpp' 'src/*.hpp' 'include/*.hpp' | sort)
breaches=$(mktemp)
trap 'rm -f "$breaches"' EXIT

for f in $sources; do
  [ "$(wc -l <"$f")" -le 600 ] || echo "lines $f" >>"$breaches"
done
fs_calls='::(open|openat|openat2|creat|unlink|unlinkat|rename|renameat|renameat2|mkdir|mkdirat|rmdir|stat|lstat|fstat|fstatat|statx|opendir|fdopendir|readdir|readlink|readlinkat|fsync|ftruncate|truncate|flock|link|linkat|symlink|symlinkat|remove)\(|std::(remove|rename)\(|std::filesystem::|boost::filesystem::|\bfopen\('
for f in $sources; do
  case $f in src/store/* | src/cli/*) continue ;; esac
  grep -qE "$fs_calls" "$f" && echo "posix $f" >>"$breaches"
  case $f in src/config.cpp | include/regsweep/config.hpp) continue ;; esac
  grep -qiw 's3' "$f" && echo "s3 $f" >>"$breaches"
done

s3_lines=$(cat $(echo "$sources" | grep '^src/store/s3/') | wc -l)
[ "$s3_lines" -le 1000 ] || echo "s3-lines src/store/s3" >>"$breaches"
pure=$(sed -n '/^class Store {/,/^};/p' include/regsweep/store.hpp | grep -c ') = 0;\|) const = 0;')
[ "$pure" -le 8 ] || echo "pure-virtual include/regsweep/store.hpp" >>"$breaches"

total=$(cat $sources | wc -l)
cli=$(cat $(echo "$sources" | grep '^src/cli/') | wc -l)
share=$((cli * 1000 / total))
[ $((cli * 100)) -le $((total * 15)) ] || echo "cli-share src/cli" >>"$breaches"

known=$(grep -v '^#' scripts/shape-exceptions.txt | sed '/^$/d' | sort -u)
found=$(sort -u "$breaches")
new=$(comm -13 <(echo "$known") <(echo "$found") | sed '/^$/d')
gone=$(comm -23 <(echo "$known") <(echo "$found") | sed '/^$/d')
echo "shape: src/cli/ is $cli of $total lines ($((share / 10)).$((share % 10))%); src/store/s3/ $s3_lines lines; Store $pure pure virtual functions; $(echo "$found" | sed '/^$/d' | wc -l) listed exceptions"
status=0
if [ -n "$new" ]; then
  echo "shape: new breaches (fix them; the exception list may only shrink):"
  echo "$new"
  status=1
fi
if [ -n "$gone" ]; then
  echo "shape: no longer breached; take them off scripts/shape-exceptions.txt:"
  echo "$gone"
  status=1
fi
exit $status
