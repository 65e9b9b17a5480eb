#!/bin/sh
# Log and state-database growth of a run of the shipped configuration on the
# simulated exchange, per tick and per hour at the default tick
# (sim.tick_interval_ms: 250, so 14,400 ticks an hour).
#
#   bench/log_growth.sh [HYDRA_HOST] [TICKS] [RETENTION_DAYS]
#
# HYDRA_HOST defaults to build/hydra-host (hydra-worker must sit beside it);
# TICKS to 3000; RETENTION_DAYS, when given, is written as
# state.retention_days. MAX_BYTES in the environment sets logging.max_bytes
# (e.g. MAX_BYTES=65536 to see size rotation and compression at work; the
# tick durations of ticks that rotated are printed). Everything is written
# under a temporary directory; config/ is only read. OLD_CONFIG=1 drops the
# logging: and state: sections, for a hydra-host built before they existed.
set -eu
cd "$(dirname "$0")/.."
HOST=$(realpath "${1:-build/hydra-host}")
TICKS=${2:-3000}
RET=${3:-}
D=$(mktemp -d /tmp/hydra-loggrowth.XXXXXX)
mkdir -p "$D/config" "$D/logs" "$D/state"
sed -e "s|log_path: .*|log_path: $D/logs/app.jsonl|" \
    -e "s|state_db_path: .*|state_db_path: $D/state/trading_state.db|" \
    -e "s|kill_switch_path: .*|kill_switch_path: $D/state/KILL_SWITCH|" \
    -e "s|db_path: ../state/paper_exchange.db|db_path: $D/state/paper_exchange.db|" \
    -e "s|file: ../data/|file: $PWD/data/|" config/settings.yaml >"$D/config/settings.yaml"
if [ -n "${OLD_CONFIG:-}" ]; then
    sed -i -e '/^logging:/,/^$/d' -e '/^state:/,$d' "$D/config/settings.yaml"
fi
if [ -n "$RET" ]; then
    sed -i -e "s|retention_days: .*|retention_days: $RET|" "$D/config/settings.yaml"
fi
if [ -n "${MAX_BYTES:-}" ]; then
    sed -i -e "s|max_bytes: .*|max_bytes: $MAX_BYTES|" "$D/config/settings.yaml"
fi
cp config/bots.yaml "$D/config/bots.yaml"
start=$(date +%s.%N)
(cd "$D" && "$HOST" run --config "$D/config" --plugins "$OLDPWD/plugins" --ticks "$TICKS" \
    --interval-ms 0 --quiet) >"$D/stderr" 2>&1 </dev/null || { cat "$D/stderr"; exit 1; }
end=$(date +%s.%N)
log_bytes=$( (cat "$D"/logs/app.jsonl; for z in "$D"/logs/app.*.gz; do [ -f "$z" ] && zcat "$z"; done; \
    for p in "$D"/logs/app.*.jsonl; do [ -f "$p" ] && cat "$p"; done) | wc -c)
log_lines=$( (cat "$D"/logs/app.jsonl; for z in "$D"/logs/app.*.gz; do [ -f "$z" ] && zcat "$z"; done; \
    for p in "$D"/logs/app.*.jsonl; do [ -f "$p" ] && cat "$p"; done) | wc -l)
on_disk=$(cat "$D"/logs/app* | wc -c)
echo "log files: $(ls "$D"/logs | wc -l), $on_disk bytes on disk"
db_bytes=$(cat "$D"/state/trading_state.db* | wc -c)
echo "host: $HOST"
echo "ticks: $TICKS in $(echo "$end - $start" | bc) s"
echo "log: $log_bytes bytes, $log_lines lines"
echo "log per tick: $((log_bytes / TICKS)) bytes; per hour at 250 ms: $((log_bytes * 14400 / TICKS / 1024)) KiB"
echo "state db: $db_bytes bytes; per tick: $((db_bytes / TICKS)) bytes; per hour at 250 ms: $((db_bytes * 14400 / TICKS / 1024)) KiB"
echo "lines by event (top 8):"
(cat "$D"/logs/app.jsonl; for z in "$D"/logs/app.*.gz; do [ -f "$z" ] && zcat "$z"; done) |
    grep -o '"event":"[^"]*"' | sort | uniq -c | sort -rn | head -8
echo "tick duration (took_us of tick_summary): median, p99, max:"
(cat "$D"/logs/app.jsonl; for z in "$D"/logs/app.*.gz; do [ -f "$z" ] && zcat "$z"; done) |
    grep -o '"event":"tick_summary".*"took_us":[0-9]*' | grep -o '[0-9]*$' | sort -n |
    awk '{a[NR]=$1} END {print "  " a[int(NR*0.5)] " us, " a[int(NR*0.99)] " us, " a[NR] " us"}' 
for t in equity orders fills; do
    printf '%s rows: ' "$t"
    sqlite3 "$D/state/trading_state.db" "SELECT count(*) FROM $t" 2>/dev/null || echo "(sqlite3 not installed)"
done
rm -rf "$D"
