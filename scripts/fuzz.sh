#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, clang, ASan + UBSan) and runs
# each for SECONDS on a copy of its seed corpus in fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh SECONDS [--merge] [TARGET...]
#
# TARGET is config, csv, alpaca_json or wire (default: all four, one after
# the other). The repository's corpus is never written unless --merge is
# given; then the inputs that reach new code are merged back into it.
# Exit status 0 when every target ran clean; 1 when any crashed, leaked,
# hung or ran out of memory; the input that did it is kept under
# build-fuzz/artifacts/<target>/ and its path printed with the command
# that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() {
  echo "usage: scripts/fuzz.sh SECONDS [--merge] [config|csv|alpaca_json|wire ...]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
seconds=$1
shift
case $seconds in '' | *[!0-9]*) usage ;; esac
[ "$seconds" -gt 0 ] || usage

merge=0
targets=()
for arg in "$@"; do
  case $arg in
    --merge) merge=1 ;;
    config | csv | alpaca_json | wire) targets+=("$arg") ;;
    *) usage ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(config csv alpaca_json wire)

# The largest input each target is given: room above its largest seed.
declare -A max_len=([config]=16384 [csv]=8192 [alpaca_json]=8192 [wire]=16384)
# A dictionary for the text formats: the key names and words the parser
# compares against, taken from its source at each run so they follow it.
declare -A dict_src=([config]=host/config.c [alpaca_json]=host/alpaca_json.c)

cc=${HYDRA_FUZZ_CC:-clang-14}
if ! command -v "$cc" >/dev/null; then
  echo "fuzz: $cc not found (scripts/install-deps.sh installs clang-14 and libclang-rt-14-dev)" >&2
  exit 1
fi

echo "== fuzz build (build-fuzz/)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHYDRA_FUZZ=ON -DHYDRA_TESTS=OFF -DHYDRA_PLUGINS_IN_SOURCE=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" --target fuzz >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/hydra-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Symbolized stacks when a crash is reported.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer-14 >/dev/null; then
  export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer-14)
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz/fuzz_$t
  corpus=$work/$t
  artifacts=$root/build-fuzz/artifacts/$t
  log=$work/$t.log
  mkdir -p "$corpus" "$artifacts"
  # Copy the seeds; the repository's corpus stays as committed.
  find "fuzz/corpus/$t" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$corpus/" \;
  if [ "$t" = wire ]; then
    # Fresh seeds from the current encoders, in case the protocol moved on.
    build-fuzz/fuzz/fuzz_wire_seeds "$corpus"
  fi
  dict=()
  if [ -n "${dict_src[$t]:-}" ]; then
    grep -oE '"[A-Za-z0-9_./:+-]{2,40}"' "${dict_src[$t]}" | sort -u >"$work/$t.dict"
    dict=(-dict="$work/$t.dict")
  fi
  seeds=$(find "$corpus" -type f | wc -l)
  echo "== fuzz_$t: ${seconds}s from $seeds seeds"
  rc=0
  "$bin" -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=60 "${dict[@]}" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "fuzz_$t FAILED (exit $rc); the end of its log:" >&2
    grep -v '^#[0-9]' "$log" | tail -n 60 >&2
    if [ -n "$input" ]; then
      echo "fuzz_$t: the input is saved at $input" >&2
      echo "fuzz_$t: replay it with: $bin $input" >&2
    fi
    summary+=("$(printf '%-12s FAILED   %s' "$t" "${input:-(no input saved)}")")
    continue
  fi
  summary+=("$(printf '%-12s ok       %10s runs  %7s/s  %s  corpus %s' "$t" "${execs:-?}" \
    "${rate:-?}" "${cov:-}" "$(find "$corpus" -type f | wc -l)")")
  if [ "$merge" -eq 1 ]; then
    before=$(find "fuzz/corpus/$t" -maxdepth 1 -type f | wc -l)
    "$bin" -merge=1 -max_len="${max_len[$t]}" "fuzz/corpus/$t" "$corpus" >"$work/$t.merge.log" 2>&1
    after=$(find "fuzz/corpus/$t" -maxdepth 1 -type f | wc -l)
    echo "fuzz_$t: merged $((after - before)) new inputs into fuzz/corpus/$t"
  fi
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${failed[*]} failed" >&2
  exit 1
fi
