/*
 * hydra-host sweep, run as the real binary over real ORCL daily bars with
 * the ma_cross test bot: points and their failures (a bad risk value, a bot
 * that dies of SIGSEGV), resume, shard determinism, collect (and a missing
 * shard), walk-forward, the emitted Slurm and Kubernetes files, spec errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "testutil.h"

static char g_dir[512];

static void write_config(const char *dir)
{
    char path[1024], text[4096];
    snprintf(text, sizeof text,
             "system:\n  timezone: America/New_York\n  state_db_path: %s/state.db\n"
             "  log_path: %s/app.jsonl\n  kill_switch_path: %s/KILL\n"
             "broker: sim\n"
             "sim:\n  db_path: %s/paper.db\n  initial_cash: 100000\n  slippage_bps: 5\n"
             "  fee_per_share: 0.01\n  session_open: \"09:30\"\n  session_close: \"16:00\"\n"
             "  series:\n    - symbol: ORCL\n      file: %s/data/orcl-1995-2014.txt\n",
             dir, dir, dir, dir, HYDRA_SOURCE_DIR);
    snprintf(path, sizeof path, "%s/settings.yaml", dir);
    assert_int_equal(tu_write_file(path, text), 0);
    snprintf(path, sizeof path, "%s/bots.yaml", dir);
    assert_int_equal(
        tu_write_file(path,
                      "bots:\n"
                      "  - bot_id: ma\n    plugin: ma_cross\n    bucket: momentum\n"
                      "    asset_class: equity\n    symbols: [ORCL]\n"
                      "    session: {trade_start: \"00:00\", trade_end: \"23:59\", "
                      "manage_until: \"23:59\"}\n"
                      "    risk: {max_trades_per_day: 5, max_concurrent_positions: 1}\n"
                      "    signal:\n      mode: ma_cross\n"
                      "      params: {fast: 2, slow: 4, qty: 100, crash: 0}\n"),
        0);
}

/* A spec in g_dir named `name`; `body` follows the common head. */
static void write_spec(const char *name, const char *body)
{
    char path[1024], text[4096];
    snprintf(text, sizeof text, "config: %s\nplugins: %s\nbot: ma\n%s", g_dir,
             HYDRA_TEST_BROKEN_DIR, body);
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    assert_int_equal(tu_write_file(path, text), 0);
}

/* Runs hydra-host sweep with up to 7 more arguments; returns the exit status, output in *out. */
static int sweep7(char **out, const char *a1, const char *a2, const char *a3, const char *a4,
                  const char *a5, const char *a6, const char *a7)
{
    const char *argv[] = {HYDRA_HOST_BIN, "sweep", a1, a2, a3, a4, a5, a6, a7, NULL};
    char *o = NULL;
    int rc = tu_run(argv, g_dir, 240, &o);
    if (out != NULL)
        *out = o;
    else
        free(o);
    return rc;
}

#define sweep(out, a1, a2, a3, a4, a5, a6) sweep7(out, a1, a2, a3, a4, a5, a6, NULL)

static sqlite3 *open_db(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static long query_long(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    long v = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

static char *query_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

/* Rows of two results files that differ in anything but the wall time (0 = equal). */
#define CMP_COLS                                                                              \
    "task, point, window, segment, from_date, to_date, params, status, reason, initial_cash, " \
    "start_equity, end_equity, total_return, cagr, sharpe, sortino, max_drawdown, win_rate, "  \
    "profit_factor, exposure, trades, wins, bars, equity"

static long differing_rows(const char *a, const char *b)
{
    sqlite3 *db = open_db(a);
    char sql[2048];
    snprintf(sql, sizeof sql, "ATTACH '%s/%s' AS other", g_dir, b);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "SELECT (SELECT COUNT(*) FROM (SELECT " CMP_COLS " FROM main.results EXCEPT SELECT "
             CMP_COLS " FROM other.results)) + (SELECT COUNT(*) FROM (SELECT " CMP_COLS
             " FROM other.results EXCEPT SELECT " CMP_COLS " FROM main.results)) + "
             "ABS((SELECT COUNT(*) FROM main.results) - (SELECT COUNT(*) FROM other.results))");
    long n = query_long(db, sql);
    sqlite3_close(db);
    return n;
}

static const char *GRID =
    "from: 2010-01-01\nto: 2011-12-31\n"
    "params:\n  fast: [2, 5]\n  slow: {from: 20, to: 40, step: 20}\n  crash: [0, 1]\n"
    "risk:\n  max_trades_per_day: [0, 2]\n";

static int setup(void **state)
{
    (void)state;
    tu_mkdtemp(g_dir, sizeof g_dir);
    write_config(g_dir);
    write_spec("grid.yaml", GRID);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    return 0;
}

/*
 * 16 points: 4 ok, 4 failed by the bot's SIGSEGV (crash=1, valid risk;
 * under AddressSanitizer with abort_on_error the SIGSEGV ends as SIGABRT), 8
 * failed by max_trades_per_day 0. Every point has a row; the sweep exits 0.
 */
static void test_grid_records_failed_points(void **state)
{
    (void)state;
    char *out = NULL;
    int rc = sweep(&out, "grid.yaml", "--out", "grid.db", "--jobs", "2", NULL);
    if (rc != 0)
        fail_msg("sweep exited %d: %s", rc, out);
    assert_non_null(strstr(out, "Points: 16 (4 ok, 12 failed)"));
    free(out);
    sqlite3 *db = open_db("grid.db");
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results"), 16);
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results WHERE status = 'ok' AND "
                                    "params LIKE '%crash=0 risk.max_trades_per_day=2'"),
                     4);
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results WHERE status = 'ok' AND "
                                    "trades > 0 AND bars > 0 AND end_equity > 0"),
                     4);
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results WHERE status = 'failed' AND "
                                    "params LIKE '%crash=1 risk.max_trades_per_day=2' AND "
                                    "(reason LIKE '%killed by signal 11 (SIGSEGV)%' OR "
                                    "reason LIKE '%killed by signal 6 (SIGABRT)%')"),
                     4);
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results WHERE status = 'failed' AND "
                                    "reason = 'risk.max_trades_per_day: expected at least 1, got 0'"),
                     8);
    /* The ranked summary is sorted by sharpe. */
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results a JOIN results b ON a.point < "
                                    "b.point WHERE a.status='ok' AND b.status='ok'"),
                     6);
    sqlite3_close(db);
}

/* Tasks without a row (an interrupted run) run again; the others are kept as they were. */
static void test_resume_runs_only_missing_tasks(void **state)
{
    (void)state;
    assert_int_equal(sweep(NULL, "grid.yaml", "--out", "resume.db", "--quiet", NULL, NULL), 0);
    sqlite3 *db = open_db("resume.db");
    /* Mark the kept rows, then drop three as an interruption would have left them. */
    assert_int_equal(sqlite3_exec(db, "UPDATE results SET elapsed_ms = -1; "
                                      "DELETE FROM results WHERE task IN (1, 3, 9)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    /* Three rows only in grid.db, and three fewer rows: 6. */
    assert_int_equal(differing_rows("grid.db", "resume.db"), 6);
    char *out = NULL;
    assert_int_equal(sweep(&out, "grid.yaml", "--out", "resume.db", NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "ran 3 tasks"));
    free(out);
    db = open_db("resume.db");
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results WHERE elapsed_ms >= 0"), 3);
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results WHERE elapsed_ms >= 0 AND "
                                    "task IN (1, 3, 9)"),
                     3);
    sqlite3_close(db);
    assert_int_equal(differing_rows("grid.db", "resume.db"), 0);

    /* A changed spec never resumes into the same file. */
    write_spec("grid2.yaml", "from: 2010-01-01\nto: 2011-12-31\nparams:\n  fast: [3]\n");
    out = NULL;
    assert_int_equal(sweep(&out, "grid2.yaml", "--out", "resume.db", NULL, NULL, NULL), 2);
    assert_non_null(strstr(out, "holds the results of another sweep"));
    free(out);
}

/* Shards split the tasks deterministically; collected, they equal the local run row for row. */
static void test_shards_collect_equal_local(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/shards", g_dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(sweep(NULL, "grid.yaml", "--shard", "0/3", "--out", "shards/a.db", "--quiet"), 0);
    assert_int_equal(sweep(NULL, "grid.yaml", "--shard", "1/3", "--out", "shards/b.db", "--quiet"), 0);
    /* Shard 2 is missing: collect says so, by number, and writes nothing. */
    char *out = NULL;
    assert_int_equal(sweep(&out, "collect", "shards", "--out", "merged.db", NULL, NULL), 1);
    assert_non_null(strstr(out, "shard 2 of 3: missing"));
    free(out);
    snprintf(path, sizeof path, "%s/merged.db", g_dir);
    assert_int_equal(access(path, F_OK), -1);

    assert_int_equal(sweep(NULL, "grid.yaml", "--shard", "2/3", "--out", "shards/c.db", "--quiet"), 0);
    sqlite3 *db = open_db("shards/c.db");
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results WHERE task % 3 != 2"), 0);
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results"), 5);
    sqlite3_close(db);
    out = NULL;
    assert_int_equal(sweep(&out, "collect", "shards", "--out", "merged.db", NULL, NULL), 0);
    assert_non_null(strstr(out, "Merged 3 shards"));
    free(out);
    assert_int_equal(differing_rows("grid.db", "merged.db"), 0);

    /* The same shard run twice gives the same rows. */
    assert_int_equal(sweep(NULL, "grid.yaml", "--shard", "2/3", "--out", "again.db", "--quiet"), 0);
    assert_int_equal(differing_rows("shards/c.db", "again.db"), 0);
}

/*
 * Walk-forward: 2008..2012 in 2-year in-sample / 1-year out-of-sample
 * windows gives 3 windows; in each, the chosen point has the best in-sample
 * sharpe, and the stitched curve covers every out-of-sample day.
 */
static void test_walk_forward(void **state)
{
    (void)state;
    write_spec("wf.yaml", "from: 2008-01-01\nto: 2012-12-31\nparams:\n  fast: [2, 5]\n"
                          "  slow: [20, 40]\nwalk_forward:\n  in_sample_days: 730\n"
                          "  out_of_sample_days: 365\n");
    char *out = NULL;
    int rc = sweep(&out, "wf.yaml", "--out", "wf.db", NULL, NULL, NULL);
    if (rc != 0)
        fail_msg("sweep exited %d: %s", rc, out);
    assert_non_null(strstr(out, "Stitched out of sample (3 windows"));
    free(out);
    sqlite3 *db = open_db("wf.db");
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results"), 4 * 3 * 2);
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM walk_forward"), 3);
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM walk_forward w WHERE w.is_score < "
                                    "(SELECT MAX(sharpe) FROM results r WHERE r.segment = 'is' "
                                    "AND r.window = w.window)"),
                     0);
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM walk_forward WHERE oos_from <= is_to"), 0);
    /* One stitched day per out-of-sample day of the chosen points. */
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM wf_equity"),
                     query_long(db, "SELECT SUM(length(r.equity) / 16) FROM walk_forward w JOIN "
                                    "results r ON r.segment = 'oos' AND r.window = w.window AND "
                                    "r.point = w.point"));
    assert_true(query_long(db, "SELECT COUNT(*) FROM wf_equity") > 700);
    sqlite3_close(db);
}

static void test_emit(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(sweep7(&out, "grid.yaml", "--emit", "slurm", "--shards", "4", "--dir", "shared"), 0);
    assert_non_null(strstr(out, "#SBATCH --array=0-3\n"));
    assert_non_null(strstr(out, "--shard \"$SLURM_ARRAY_TASK_ID/4\""));
    assert_non_null(strstr(out, "/shared/shard-$SLURM_ARRAY_TASK_ID.db"));
    free(out);
    out = NULL;
    assert_int_equal(sweep7(&out, "grid.yaml", "--emit", "k8s", "--shards", "4", "--dir", "shared"), 0);
    assert_non_null(strstr(out, "completionMode: Indexed"));
    assert_non_null(strstr(out, "completions: 4"));
    assert_non_null(strstr(out, "--shard \"$JOB_COMPLETION_INDEX/4\""));
    free(out);
}

static void test_spec_errors(void **state)
{
    (void)state;
    char *out = NULL;
    write_spec("bad1.yaml", "params:\n  fast: [2]\nrisk:\n  leverage: [2]\n");
    assert_int_equal(sweep(&out, "bad1.yaml", "--out", "bad.db", NULL, NULL, NULL), 2);
    assert_non_null(strstr(out, "bad1.yaml:7:3: risk.leverage: not a setting a sweep can vary"));
    free(out);
    out = NULL;
    write_spec("bad2.yaml", "params:\n  fast: {min: 1, max: 3}\n");
    assert_int_equal(sweep(&out, "bad2.yaml", "--out", "bad.db", NULL, NULL, NULL), 2);
    assert_non_null(strstr(out, "needs search: random"));
    free(out);
    /* A param the bot was never given fails every point, naming it. */
    out = NULL;
    write_spec("bad3.yaml", "from: 2010-01-01\nto: 2010-03-01\nparams:\n  fsat: [2]\n");
    assert_int_equal(sweep(&out, "bad3.yaml", "--out", "bad3.db", NULL, NULL, NULL), 0);
    free(out);
    sqlite3 *db = open_db("bad3.db");
    char *reason = query_text(db, "SELECT reason FROM results WHERE task = 0");
    assert_non_null(reason);
    assert_non_null(strstr(reason, "signal.params.fsat: bot ma has no such param"));
    free(reason);
    sqlite3_close(db);
}

/* Random search: the same seed gives the same points, inside the ranges. */
static void test_random_is_seeded(void **state)
{
    (void)state;
    write_spec("rnd.yaml", "from: 2010-01-01\nto: 2010-12-31\nsearch: random\nsamples: 6\nseed: 42\n"
                           "params:\n  fast: {min: 2, max: 6}\n  slow: [20, 30]\n"
                           "risk:\n  stop_loss_pct: {min: 0.5, max: 2.5}\n");
    assert_int_equal(sweep(NULL, "rnd.yaml", "--out", "rnd1.db", "--quiet", NULL, NULL), 0);
    assert_int_equal(sweep(NULL, "rnd.yaml", "--out", "rnd2.db", "--quiet", "--jobs", "1"), 0);
    assert_int_equal(differing_rows("rnd1.db", "rnd2.db"), 0);
    sqlite3 *db = open_db("rnd1.db");
    assert_int_equal(query_long(db, "SELECT COUNT(*) FROM results WHERE status = 'ok'"), 6);
    assert_true(query_long(db, "SELECT COUNT(DISTINCT params) FROM results") > 1);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_records_failed_points),
        cmocka_unit_test(test_resume_runs_only_missing_tasks),
        cmocka_unit_test(test_shards_collect_equal_local),
        cmocka_unit_test(test_walk_forward),
        cmocka_unit_test(test_emit),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_random_is_seeded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
