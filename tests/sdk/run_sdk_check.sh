#!/bin/sh
# Runs Alpaca's official JavaScript SDK against the real hydra-exchange binary.
#
#   run_sdk_check.sh SOURCE_DIR BUILD_DIR
#
# Installs the SDK version pinned in tests/sdk/package.json from npm into
# BUILD_DIR/sdk-check (npm's cache in BUILD_DIR/npm-cache, so repeat runs do
# not fetch again), starts ./hydra-exchange on 127.0.0.1 with a free port
# over the test copy of the shipped configuration (its own paper account in a temporary
# directory), runs alpaca_sdk_check.js, and stops the exchange by its PID.
# Without node or npm, or when npm cannot reach its registry, it says so
# loudly and exits 77, which ctest reports as skipped (never as passed).
set -u
SRC=$1
BUILD=$2
CHECK="the official Alpaca SDK check"
. "$SRC/tests/lib/npm_check.sh"

need_node 18
WORK="$BUILD/sdk-check"
npm_pinned "$WORK" @alpacahq/alpaca-trade-api "$SRC/tests/sdk/package.json" "$SRC/tests/sdk/alpaca_sdk_check.js"
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

# The test copy of the shipped configuration (never the user's config/), with
# the paper account in the temporary directory.
# Paths in settings.yaml are relative to its directory: data is the repository's, the rest TMP.
shipped_config "$TMP/config" "$TMP"
sed -i "s#^\(  db_path:\).*#\1 $TMP/paper.db#" "$TMP/config/settings.yaml"
grep -q "db_path: $TMP/paper.db" "$TMP/config/settings.yaml" || { echo "cannot set sim.db_path"; exit 1; }

export ALPACA_KEY=PKSDKCHECKLOCAL00001 ALPACA_SECRET=sdk-check-local-secret-0001
# The replayed series are found relative to the source tree.
(cd "$SRC" && exec "$BUILD/hydra-exchange" --config "$TMP/config" --port 0 \
    --port-file "$TMP/port" --rate-limit 100000) >"$TMP/exchange.log" 2>&1 &
PID=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 300 ] && kill -0 "$PID" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
if [ ! -s "$TMP/port" ]; then
    cat "$TMP/exchange.log"
    echo "hydra-exchange did not start"
    exit 1
fi
PORT=$(cat "$TMP/port")
echo "hydra-exchange pid $PID on 127.0.0.1:$PORT; SDK @alpacahq/alpaca-trade-api@$want"
(cd "$WORK" && node alpaca_sdk_check.js "http://127.0.0.1:$PORT")
rc=$?
kill -0 "$PID" 2>/dev/null || { echo "hydra-exchange died during the check"; cat "$TMP/exchange.log"; rc=1; }
exit $rc
