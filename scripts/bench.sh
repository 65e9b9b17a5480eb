#!/bin/sh
# Builds Release and runs the benchmarks; prints each figure several times (report the median).
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DHYDRA_PLUGINS_IN_SOURCE=OFF -DHYDRA_TESTS=OFF >/dev/null
cmake --build build-release -j2 --target hydra-bench >/dev/null
B=build-release/hydra-bench
D=${BENCH_DIR:-/tmp/hydra-bench}
P=build-release/plugins
[ -f "$D/bench-1m.csv" ] && [ -d "$D/config-inprocess" ] || $B prepare "$D" "$PWD"
rm -rf "$D/cache"
$B replay "$D" $P >/dev/null   # builds the binary cache
sync                            # the files just written are not flushed during the runs
for i in 1 2 3; do $B csv "$D"; done
for i in 1 2 3 4 5; do $B replay "$D" $P; done
for i in 1 2 3; do $B live "$D" $P 2000 inprocess; done
for i in 1 2 3; do $B live "$D" $P 2000; done
