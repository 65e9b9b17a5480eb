#!/bin/sh
# Builds Release and runs the benchmarks; prints each figure several times (report the median).
#   ./scripts/bench.sh          every section
#   ./scripts/bench.sh daily    only the daily-bar backtest (1,000,000 bars, whole process)
#   ./scripts/bench.sh minute   only the minute-bar replay, CSV parse and live tick
#   ./scripts/bench.sh universe only 500 generated daily series over 10 years
set -eu
cd "$(dirname "$0")/.."
WHAT=${1:-all}
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DHYDRA_PLUGINS_IN_SOURCE=OFF -DHYDRA_TESTS=OFF >/dev/null
cmake --build build-release -j2 --target hydra-bench hydra-host hydra-worker sma_cross \
  momentum options crypto >/dev/null
D=${BENCH_DIR:-/tmp/hydra-bench}
# Everything runs from fresh copies of the binaries: the same bytes have run
# 15% slower from the file the linker wrote than from a copy of it, so
# figures from different files do not compare (bench/README.md).
R=$(mktemp -d /tmp/hydra-bench-bin.XXXXXX)
trap 'rm -rf "$R"' EXIT
mkdir "$R/plugins" "$R/examples"
cp build-release/hydra-bench build-release/hydra-host build-release/hydra-worker "$R/"
cp build-release/plugins/*.so "$R/plugins/"
cp build-release/examples/*.so "$R/examples/"
B=$R/hydra-bench
P=$R/plugins
E=$R/examples

if [ "$WHAT" = all ] || [ "$WHAT" = minute ]; then
  [ -f "$D/bench-1m.csv" ] && [ -d "$D/config-inprocess" ] || $B prepare "$D" "$PWD"
  rm -rf "$D/cache"
  $B replay "$D" $P >/dev/null   # builds the binary cache
  sync                            # the files just written are not flushed during the runs
  for i in 1 2 3; do $B csv "$D"; done
  for i in 1 2 3 4 5; do $B replay "$D" $P; done
  for i in 1 2 3; do $B live "$D" $P 2000 inprocess; done
  for i in 1 2 3; do $B live "$D" $P 2000; done
fi

if [ "$WHAT" = all ] || [ "$WHAT" = daily ]; then
  # 1,000,000 daily bars (ORCL repeated, one calendar day each) with the
  # example SMA crossover: the whole hydra-host backtest process, reports
  # included, with a warm series cache; then the core replay alone.
  [ -f "$D/daily-1m.csv" ] && [ -d "$D/config-daily-la" ] || $B prepare-daily "$D" "$PWD"
  for zone in la utc; do
    H="$R/hydra-host backtest --config $D/config-daily-$zone --plugins $E"
    H="$H --cache $D/cache-daily --out $D/out-daily-$zone --quiet"
    $H >/dev/null                 # warms the cache
    sync
    for i in 1 2 3 4 5; do
      /usr/bin/time -f "process daily-$zone wall_s=%e user_s=%U sys_s=%S peak_rss_kb=%M" $H >/dev/null
    done
    ls -l "$D/out-daily-$zone/equity.svg" "$D/out-daily-$zone/report.html" | awk '{print "report", $NF, $5, "bytes"}'
    # Nine runs and their median and best: on a shared machine one run can
    # be half as fast as the next (bench/README.md, "Noise").
    for i in 1 2 3 4 5 6 7 8 9; do
      /usr/bin/time -f "cpu user_s=%U sys_s=%S" $B replay "$D" $E config-daily-$zone | grep -v '^load'
    done | tee "$R/replays"
    sed -n 's/.*bars_per_s=\([0-9]*\).*/\1/p' "$R/replays" | sort -n |
      awk -v z="$zone" '{a[NR]=$1} END {printf "replay daily-%s median_bars_per_s=%d best=%d of %d\n", z, a[int((NR+1)/2)], a[NR], NR}'
  done
fi

if [ "$WHAT" = all ] || [ "$WHAT" = universe ]; then
  # 500 GENERATED daily series (labelled syn000..syn499; not market data),
  # ten years of weekdays each, 32 SMA crossover bots of 16 symbols: the
  # core replay with a warm cache, bars counted over every series.
  [ -f "$D/universe/syn499.csv" ] && [ -d "$D/config-universe" ] || $B prepare-universe "$D"
  $B replay "$D" $E config-universe >/dev/null   # builds the cache
  for i in 1 2 3 4 5; do /usr/bin/time -f "cpu user_s=%U sys_s=%S" $B replay "$D" $E config-universe | grep -v '^load'; done
fi
