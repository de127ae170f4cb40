#!/usr/bin/env bash
# `regsweep du --html` as a person sees it: the report for the sample tree and for a generated
# tree of a few thousand repositories (one of them named with HTML's special characters),
# opened in headless Chromium with no network. The page must run without a console message,
# draw one treemap cell per repository and one table row per repository, show du --json's
# totals, and render the odd name as text. The screenshots are saved in build/html-report/
# (SHOTS).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
REGSWEEP=${REGSWEEP:-$TOP/build/regsweep}
source "$TOP/tests/e2e/lib.sh"

# The screenshots are kept here (an artifact of the run).
SHOTS=${SHOTS:-$TOP/build/html-report}
mkdir -p "$SHOTS"
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || e2e_fail "chromium is not installed (scripts/deps.sh test installs it)"
e2e_workdir
V2=docker/registry/v2

# browse PAGE OUT: the DOM once the page's script has run, console messages in OUT.console,
# a screenshot in OUT.png. No network: a proxy that does not exist, and the page's own policy.
browse() {
  local flags=(--headless=new --no-sandbox --disable-gpu --no-first-run --disable-extensions
    --proxy-server=http://127.0.0.1:9 --user-data-dir="$W/chromium" --window-size=1280,1600)
  # Virtual time: the page's timers (the table's rows after the first 500) run before the dump.
  timeout 120 "$CHROMIUM" "${flags[@]}" --enable-logging=stderr --v=0 \
    --virtual-time-budget=60000 --dump-dom "file://$1" >"$2.dom" 2>"$2.log"
  grep ':CONSOLE' "$2.log" >"$2.console" || true
  timeout 120 "$CHROMIUM" "${flags[@]}" --screenshot="$2.png" "file://$1" >/dev/null 2>&1
}

# report TREE NAME: writes the report and du --json for TREE, browses it, checks it.
report() {
  local tree=$1 name=$2
  "$REGSWEEP" du --root "$tree" -q --min-age 0 --html "$W/$name.html" >/dev/null 2>"$W/$name.err"
  local rc=$?
  check "$name: du --html exits 0 or 3 (got $rc)" test $rc -eq 0 -o $rc -eq 3
  "$REGSWEEP" du --root "$tree" -q --min-age 0 --json >"$W/$name.json" 2>/dev/null
  browse "$W/$name.html" "$W/$name"
  local repos
  repos=$(jq '.repositories | length' "$W/$name.json")
  check "$name: the page's script ran to its end" grep -q 'data-ready="1"' "$W/$name.dom"
  check "$name: the table was filled to its end" grep -q 'data-complete="1"' "$W/$name.dom"
  check "$name: no console message ($(wc -l <"$W/$name.console") lines)" test ! -s "$W/$name.console"
  check "$name: one treemap cell per repository ($repos)" \
    test "$(grep -o '<rect class="cell"[^>]*data-repo="' "$W/$name.dom" | wc -l)" -eq "$repos"
  check "$name: one table row per repository" \
    test "$(grep -o '<tbody id="rows">.*</tbody>' "$W/$name.dom" | grep -o '<tr>' | wc -l)" -eq "$repos"
  local label key v
  for pair in "on disk:blob_bytes" "referenced:referenced_bytes" \
    "unreferenced (gc would free):unreferenced_bytes" \
    "unreferenced with gc -m:unreferenced_m_bytes" "kept for being young:young_bytes" \
    "in uploads:upload_bytes"; do
    label=${pair%%:*}
    key=${pair##*:}
    v=$(jq ".totals.$key" "$W/$name.json")
    check "$name: the page's '$label' is du --json's $key ($v)" \
      grep -qF "<div>$label<b>" "$W/$name.dom"
    check "$name:   with its $v bytes" \
      bash -c "grep -o '<div>$label<b>[^<]*</b>[0-9]* bytes</div>' '$W/$name.dom' | grep -qF '</b>$v bytes'"
  done
  for key in blob_bytes referenced_bytes unreferenced_bytes unreferenced_m_bytes young_bytes \
    upload_bytes; do
    v=$(jq ".totals.$key" "$W/$name.json")
    check "$name: the table's totals line has du --json's $key ($v)" \
      bash -c "grep -o '<tfoot>.*</tfoot>' '$W/$name.dom' | grep -qF 'data-total=\"$key\" data-bytes=\"$v\"'"
  done
  check "$name: the table's totals line counts du --json's repositories" \
    bash -c "grep -o '<tfoot>.*</tfoot>' '$W/$name.dom' | grep -qF 'TOTAL $(jq .totals.repositories "$W/$name.json") repositories'"
  # As a person reads it (issue 37): findings before the figures, a label in every cell with
  # room for one, and a cell with anything to reclaim not in the colour of none.
  check "$name: the findings come before the treemap and the table" python3 - "$W/$name.dom" <<'PY'
import sys
dom = open(sys.argv[1]).read()
f, m, t = dom.find('id="findings"'), dom.find('id="map"'), dom.find('id="table"')
sys.exit(0 if 0 <= f < m < t else 1)
PY
  check "$name: every cell with room (14 by 9 px or more) is labelled" python3 - "$W/$name.dom" <<'PY'
import re, sys
cells = re.findall(r'<rect class="cell"[^>]*>', open(sys.argv[1]).read())
def num(c, k):
    return float(re.search(k + r'="([0-9.]+)"', c).group(1))
room = [c for c in cells if num(c, 'width') >= 14 and num(c, 'height') >= 9]
unlabelled = [c for c in room if 'data-label="' not in c]
print("# %d cells, %d with room, %d of them unlabelled" % (len(cells), len(room), len(unlabelled)))
sys.exit(0 if room and not unlabelled else 1)
PY
  check "$name: a cell with 0.1% or more to reclaim is not coloured as one with none" \
    python3 - "$W/$name.dom" <<'PY'
import re, sys
cells = re.findall(r'<rect class="cell"[^>]*>', open(sys.argv[1]).read())
some = [c for c in cells if float(re.search(r'data-share="([0-9.]+)"', c).group(1)) >= 0.001]
none_colour = 'fill="rgb(74,122,181)"'
sys.exit(0 if all(none_colour not in c for c in some) else 1)
PY
  check "$name: a screenshot was taken" test -s "$W/$name.png"
  cp "$W/$name.png" "$SHOTS/$name.png" 2>/dev/null || true
}

"$TOP/scripts/sample-tree.sh" "$W/sample" >/dev/null || e2e_fail "sample-tree.sh failed"
report "$W/sample" sample

# A few thousand repositories, and one named with HTML's special characters (an invalid
# name: reported, and scanned anyway).
"$TOP/scripts/gen-tree" "$W/many" --repos 2500 --images 1 --tags 1 --layers 1 --shared 20 \
  >/dev/null || e2e_fail "gen-tree failed"
first=$(find "$W/many/$V2/repositories" -mindepth 2 -maxdepth 2 -type d -name '_manifests' | head -1)
odd='a&b<i>"x'"'"'</i>'
odd=${odd//\//_}
cp -a "$(dirname "$first")" "$W/many/$V2/repositories/$odd"
report "$W/many" many
"$REGSWEEP" du --root "$W/many" -q --min-age 0 --html "$W/again.html" >/dev/null 2>&1
check "the same tree gives the same page, apart from the time" \
  bash -c "diff <(sed 's/<dt>Generated<[/]dt><dd>[^<]*</X/' '$W/many.html') \
    <(sed 's/<dt>Generated<[/]dt><dd>[^<]*</X/' '$W/again.html') >/dev/null"
check "the odd name is a cell" grep -qF 'data-repo="a&amp;b&lt;i&gt;&quot;x'"'"'&lt;_i&gt;"' "$W/many.dom"
check "the odd name is text in the table" grep -qF '<td>a&amp;b&lt;i&gt;"x'"'"'&lt;_i&gt;</td>' "$W/many.dom"
check "the odd name made no element" bash -c "! grep -q '<i>' '$W/many.dom'"

echo "# screenshots: $SHOTS/sample.png $SHOTS/many.png"
e2e_finish
