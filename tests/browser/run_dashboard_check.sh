#!/bin/sh
# The dashboard in a real browser: Debian's Chromium, driven by playwright-core
# (pinned in tests/browser/package.json, installed from npm into
# BUILD_DIR/browser-check), against a real hydra-host on the embedded
# exchange with its HTTP server on a free 127.0.0.1 port.
#
#   run_dashboard_check.sh SOURCE_DIR BUILD_DIR PLUGIN_DIR
#
# The host runs in a temporary directory over the test copy of the shipped
# configuration and is stopped by its PID. Without node, npm, Chromium or the
# npm registry it says so loudly and exits 77, which ctest reports as
# skipped (never as passed).
set -u
SRC=$1
BUILD=$2
PLUGINS=$3
CHECK="the dashboard browser check"
. "$SRC/tests/lib/npm_check.sh"

need_node
need_chromium
WORK="$BUILD/browser-check"
npm_pinned "$WORK" playwright-core "$SRC/tests/browser/package.json" "$SRC/tests/browser/dashboard_check.js"
want=$PINNED

TMP=$(mktemp -d) || exit 1
PID=""
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# The test copy of the shipped configuration, everything written inside TMP, HTTP on a free port.
mkdir "$TMP/config" || exit 1
cp "$SRC/tests/configs/shipped/bots.yaml" "$TMP/config/" || exit 1
sed -e "s#\.\./logs/#$TMP/#g" -e "s#\.\./state/#$TMP/#g" -e "s#file: \.\./data/#file: $SRC/data/#g" \
    "$SRC/tests/configs/shipped/settings.yaml" >"$TMP/config/settings.yaml" || exit 1
# http: enabled: false -> true, port 9464 -> 0 (the first "enabled: false" after "http:").
sed -i -e '/^http:/,/^[a-z]/ s#^  enabled: false#  enabled: true#' -e 's#^  port: 9464 #  port: 0 #' \
    "$TMP/config/settings.yaml"
grep -A1 '^http:' "$TMP/config/settings.yaml" | grep -q 'enabled: true' || { echo "cannot enable http"; exit 1; }

TOKEN=browser-check-token-0123456789
export HYDRA_HTTP_TOKEN=$TOKEN
"$BUILD/hydra-host" run --config "$TMP/config" --plugins "$PLUGINS" --interval-ms 200 --quiet \
    >"$TMP/host.out" 2>&1 &
PID=$!
PORT=""
i=0
while [ -z "$PORT" ] && [ $i -lt 600 ] && kill -0 "$PID" 2>/dev/null; do
    PORT=$(grep -o '"event":"http_listening".*"port":[0-9]*' "$TMP/app.jsonl" 2>/dev/null |
           sed 's/.*"port"://' | head -1)
    [ -n "$PORT" ] || sleep 0.1
    i=$((i + 1))
done
if [ -z "$PORT" ]; then
    cat "$TMP/host.out"
    echo "hydra-host did not start its HTTP server"
    exit 1
fi
echo "hydra-host pid $PID, dashboard on http://127.0.0.1:$PORT/; playwright-core@$want, $(/usr/bin/chromium --version 2>/dev/null)"
(cd "$WORK" && node dashboard_check.js "http://127.0.0.1:$PORT/" "$TOKEN" "$BUILD/hydra-host" \
    "$TMP/config" "$WORK")
rc=$?
kill -0 "$PID" 2>/dev/null || { echo "hydra-host died during the check"; cat "$TMP/host.out"; rc=1; }
exit $rc
