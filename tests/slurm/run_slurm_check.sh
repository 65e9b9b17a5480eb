#!/bin/sh
# hydra-host sweep on a real single-node Slurm cluster: installs Debian's
# slurm-wlm and munge when missing, starts munged, slurmctld and slurmd on
# this machine with a minimal configuration in a temporary directory,
# submits the array job that `sweep --emit slurm` writes, waits (bounded),
# collects the shards and checks the merged results equal a local run of
# the same sweep row for row. Stops the daemons it started by PID.
#
# usage: run_slurm_check.sh SOURCE_DIR BINARY_DIR
# Exit 0 pass, 1 fail, 77 skipped (the reason is printed, loudly).
#
# Benchmark mode (bench/README.md, not a test): HYDRA_SLURM_BENCH_SPEC=FILE
# (a spec whose config:/plugins: are absolute) and HYDRA_SLURM_BENCH_SHARDS=N
# run that sweep through the array only and print the wall times.
set -u
SRC=$1
BIN=$2
HOST="$BIN/hydra-host"
PLUGINS="$BIN/test-plugins"
T=$(mktemp -d /tmp/hydra-slurm.XXXXXX)
PIDS=""

skip() {
    echo "**********************************************************************"
    echo "SKIPPED: the Slurm test did not run: $*"
    echo "**********************************************************************"
    cleanup
    exit 77
}
fail() {
    echo "FAIL: $*"
    for f in "$T"/*.log "$T"/shared/*.log; do
        [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
    done
    cleanup
    exit 1
}
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null
    done
    PIDS=""
    rm -rf "$T"
}
trap 'cleanup' INT TERM

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if ! need slurmctld || ! need slurmd || ! need sbatch || ! need munged || ! need sqlite3; then
    if [ "$(id -u)" -ne 0 ]; then
        skip "slurm-wlm, munge or sqlite3 is not installed and this is not root"
    fi
    echo "installing slurm-wlm munge sqlite3 (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        slurm-wlm munge sqlite3 >"$T/apt.log" 2>&1 || skip "apt-get install slurm-wlm munge failed (see apt output above)"
fi
PATH="$PATH:/usr/sbin"

# munged with its own key, socket and files.
dd if=/dev/urandom of="$T/munge.key" bs=1024 count=1 2>/dev/null
chmod 0400 "$T/munge.key"
SOCK="$T/munge.sock"
munged -F --force --key-file="$T/munge.key" --socket="$SOCK" --pid-file="$T/munged.pid" \
    --log-file="$T/munged.log" --seed-file="$T/munge.seed" >"$T/munged.out" 2>&1 &
PIDS="$!"
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$SOCK" ] || skip "munged did not start: $(tail -n 3 "$T/munged.out" "$T/munged.log" 2>/dev/null)"

CPUS=$(nproc)
PORT=$((20000 + $$ % 20000))
mkdir -p "$T/ctld" "$T/spool" "$T/shared"
cat >"$T/slurm.conf" <<CONF
ClusterName=hydratest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
StateSaveLocation=$T/ctld
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
NodeName=hydranode NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=hydra Nodes=hydranode Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
PIDS="$PIDS $!"
slurmd -D -N hydranode -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 &
PIDS="$PIDS $!"
i=0
until sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; do
    i=$((i + 1))
    if [ $i -gt 300 ]; then
        skip "slurmctld/slurmd did not bring the node up in 30 s: $(tail -n 5 "$T/slurmctld.out" "$T/slurmd.out" "$T/slurmctld.log" "$T/slurmd.log" 2>/dev/null)"
    fi
    for p in $PIDS; do kill -0 "$p" 2>/dev/null || skip "a daemon exited at start: $(tail -n 5 "$T/slurmctld.out" "$T/slurmd.out" "$T/slurmctld.log" "$T/slurmd.log" 2>/dev/null)"; done
    sleep 0.1
done
echo "single-node Slurm up: $(sinfo -h -o '%P %D %T %c')"

# The sweep: its own config and data, the ma_cross test bot.
cat >"$T/settings.yaml" <<CONF
system:
  timezone: America/New_York
  state_db_path: $T/state.db
  log_path: $T/app.jsonl
  kill_switch_path: $T/KILL
broker: sim
sim:
  db_path: $T/paper.db
  initial_cash: 100000
  slippage_bps: 5
  fee_per_share: 0.01
  session_open: "09:30"
  session_close: "16:00"
  series:
    - symbol: ORCL
      file: $SRC/data/orcl-1995-2014.txt
CONF
cat >"$T/bots.yaml" <<CONF
bots:
  - bot_id: ma
    plugin: ma_cross
    bucket: momentum
    asset_class: equity
    symbols: [ORCL]
    session: {trade_start: "00:00", trade_end: "23:59", manage_until: "23:59"}
    risk: {max_trades_per_day: 5, max_concurrent_positions: 1}
    signal:
      mode: ma_cross
      params: {fast: 2, slow: 4, qty: 100, crash: 0}
CONF
cat >"$T/spec.yaml" <<CONF
config: $T
plugins: $PLUGINS
bot: ma
from: 2008-01-01
to: 2012-12-31
params:
  fast: [2, 5, 10]
  slow: [20, 40]
  crash: [0, 1]
walk_forward:
  in_sample_days: 730
  out_of_sample_days: 365
CONF
cd "$T" || fail "cd $T"
N=3
if [ -n "${HYDRA_SLURM_BENCH_SPEC:-}" ]; then
    cp "$HYDRA_SLURM_BENCH_SPEC" spec.yaml
    N=${HYDRA_SLURM_BENCH_SHARDS:-2}
else
    "$HOST" sweep spec.yaml --out local.db --quiet >local.txt 2>&1 || fail "local sweep: $(cat local.txt)"
fi
T0=$(date +%s.%N)
"$HOST" sweep spec.yaml --emit slurm --shards $N --dir "$T/shared" --out job.sh || fail "--emit slurm"
JOB=$(sbatch --parsable job.sh 2>"$T/sbatch.err") || fail "sbatch: $(cat "$T/sbatch.err")"
echo "submitted array job $JOB ($N tasks)"
i=0
while [ -n "$(squeue -h -j "$JOB" 2>/dev/null)" ]; do
    i=$((i + 1))
    [ $i -gt 1800 ] && fail "array job $JOB not finished after 180 s: $(squeue -j "$JOB")"
    sleep 0.1
done
for k in $(seq 0 $((N - 1))); do
    [ -f "$T/shared/shard-$k.db" ] || fail "shard $k wrote no results: $(cat "$T/shared/shard-$k.log" 2>/dev/null)"
done
T1=$(date +%s.%N)
"$HOST" sweep collect "$T/shared" --out merged.db >collect.txt 2>&1 || fail "collect: $(cat collect.txt)"
T2=$(date +%s.%N)
if [ -n "${HYDRA_SLURM_BENCH_SPEC:-}" ]; then
    echo "bench: $(sqlite3 merged.db "SELECT COUNT(*) FROM results") tasks, $N shards: submit to last shard done $(awk "BEGIN{print $T1 - $T0}") s, collect $(awk "BEGIN{print $T2 - $T1}") s"
    for k in $(seq 0 $((N - 1))); do
        echo "bench: shard $k: $(sqlite3 "$T/shared/shard-$k.db" "SELECT COUNT(*), ROUND(SUM(elapsed_ms) / 1000.0, 2) FROM results") (tasks, backtest seconds)"
    done
    cleanup
    exit 0
fi
COLS="task, point, window, segment, from_date, to_date, params, status, reason, initial_cash, start_equity, end_equity, total_return, cagr, sharpe, sortino, max_drawdown, win_rate, profit_factor, exposure, trades, wins, bars, equity"
DIFF=$(sqlite3 local.db "ATTACH 'merged.db' AS m; SELECT (SELECT COUNT(*) FROM (SELECT $COLS FROM main.results EXCEPT SELECT $COLS FROM m.results)) + (SELECT COUNT(*) FROM (SELECT $COLS FROM m.results EXCEPT SELECT $COLS FROM main.results)) + abs((SELECT COUNT(*) FROM main.results) - (SELECT COUNT(*) FROM m.results));")
ROWS=$(sqlite3 local.db "SELECT COUNT(*) FROM results")
# The crash=1 points die of SIGSEGV (SIGABRT under AddressSanitizer's abort_on_error).
FAILED=$(sqlite3 merged.db "SELECT COUNT(*) FROM results WHERE status = 'failed' AND (reason LIKE '%SIGSEGV%' OR reason LIKE '%SIGABRT%')")
[ "$DIFF" = "0" ] || fail "merged Slurm results differ from the local run in $DIFF rows"
[ "$ROWS" = "72" ] || fail "expected 72 tasks, got $ROWS"
[ "$FAILED" = "36" ] || fail "expected 36 crashed tasks recorded as failed, got $FAILED"
WF=$(sqlite3 merged.db "SELECT group_concat(point) FROM walk_forward")
WFL=$(sqlite3 local.db "SELECT group_concat(point) FROM walk_forward")
[ "$WF" = "$WFL" ] || fail "walk-forward choices differ: slurm $WF, local $WFL"
echo "PASS: $ROWS tasks through a $N-task Slurm array equal the local run row for row"
cleanup
exit 0
