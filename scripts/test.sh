#!/usr/bin/env bash
# The whole test suite from scratch: install packages, then build and run
# every test twice, once normally and once under AddressSanitizer and
# UndefinedBehaviorSanitizer, then run each fuzz target briefly from its
# seed corpus (scripts/fuzz.sh; a crash fails the suite).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

echo "== normal build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

# The worker sandbox differs by who runs the host: a root host maps workers
# to workers.user, an unprivileged one maps its own ids. Run the sandbox
# suites once more as an unprivileged user (nobody), who must be able to
# reach the build tree: grant search (x, not read) on any ancestor lacking it.
echo "== sandbox suites as an unprivileged user (nobody)"
dir=$(pwd)/build
while [ "$dir" != "/" ]; do
  if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$dir"; then
    echo "granting o+x on $dir so nobody can reach the build tree"
    chmod o+x "$dir"
  fi
  dir=$(dirname "$dir")
done
for t in test_hostile test_sandbox; do
  (cd build/tests && setpriv --reuid=nobody --regid=nogroup --clear-groups "./$t")
done

echo "== sanitizer build (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHYDRA_SANITIZE=ON -DHYDRA_PLUGINS_IN_SOURCE=OFF
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo "== fuzz targets (build-fuzz/), ${HYDRA_TEST_FUZZ_SECONDS:-15}s each"
./scripts/fuzz.sh "${HYDRA_TEST_FUZZ_SECONDS:-15}"
