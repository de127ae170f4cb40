#!/usr/bin/env bash
# The shape of the source tree (issue 32), checked so that it stays:
#  1. no source file over 600 lines;
#  2. src/cli/ at most 15% of the lines of src/ and include/;
#  3. outside src/store/ and src/cli/, no POSIX file-system call and no deleting call: every
#     read and delete of the storage goes through a Store;
#  4. outside src/store/, src/cli/ and the configuration reader, no word "s3".
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

total=$(cat $sources | wc -l)
cli=$(cat $(echo "$sources" | grep '^src/cli/') | wc -l)
share=$((cli * 1000 / total))
[ $((cli * 100)) -le $((total * 15)) ] || echo "cli-share src/cli" >>"$breaches"

known=$(grep -v '^#' scripts/shape-exceptions.txt | sed '/^$/d' | sort -u)
found=$(sort -u "$breaches")
new=$(comm -13 <(echo "$known") <(echo "$found") | sed '/^$/d')
gone=$(comm -23 <(echo "$known") <(echo "$found") | sed '/^$/d')
echo "shape: src/cli/ is $cli of $total lines ($((share / 10)).$((share % 10))%); $(echo "$found" | sed '/^$/d' | wc -l) listed exceptions"
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
