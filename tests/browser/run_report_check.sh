#!/bin/sh
# The backtest's report.html in a real browser: a real `hydra-host backtest`
# over the test copy of the shipped configuration and data/, then Debian's
# Chromium, driven by playwright-core (pinned in tests/browser/package.json,
# installed from npm into BUILD_DIR/report-check), opens the page from disk.
#
#   run_report_check.sh SOURCE_DIR BUILD_DIR PLUGIN_DIR
#
# report_check.js says what is checked. Screenshots and a copy of the page
# land in BUILD_DIR/report-check for a person to look at. Without node, npm,
# Chromium or the npm registry it says so loudly and exits 77 (skipped).
set -u
SRC=$1
BUILD=$2
PLUGINS=$3
CHECK="the report browser check"
. "$SRC/tests/lib/npm_check.sh"

need_node
need_chromium
WORK="$BUILD/report-check"
npm_pinned "$WORK" playwright-core "$SRC/tests/browser/package.json" "$SRC/tests/browser/report_check.js"

TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
shipped_config "$TMP/config" "$TMP"
"$BUILD/hydra-host" backtest --config "$TMP/config" --plugins "$PLUGINS" --out "$TMP/out" \
    --cache "$TMP/cache" --quiet >"$TMP/backtest.out" 2>&1 || {
    cat "$TMP/backtest.out"
    echo "hydra-host backtest failed"
    exit 1
}
cp "$TMP/out/report.html" "$TMP/out/summary.json" "$TMP/out/trades.csv" "$WORK/" || exit 1
echo "report.html: $(wc -c <"$TMP/out/report.html") bytes; playwright-core@$PINNED, $(/usr/bin/chromium --version 2>/dev/null)"
(cd "$WORK" && node report_check.js "$TMP/out/report.html" "$TMP/out/summary.json" \
    "$TMP/out/trades.csv" "$WORK")
