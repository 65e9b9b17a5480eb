/*
 * `hydra-host status`, through the real binary, against state databases a
 * real host wrote: after a finished run (--ticks N on the embedded exchange)
 * every number is the one in the database (equity, cash, open orders from
 * the journal, positions with unrealised PnL at the recorded prices,
 * quarantines); beside a running host it names that host's PID, uptime and
 * last tick; once that host is stopped, it says so.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enginetest.h"
#include "state.h"
#include "testutil.h"

typedef struct fixture {
    char dir[256];
    char cfg[512];
    char db[512];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    snprintf(f->cfg, sizeof f->cfg, "%s/config", f->dir);
    snprintf(f->db, sizeof f->db, "%s/trading_state.db", f->dir);
    setenv("HYDRA_WORKER", HYDRA_WORKER_BIN, 1);
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static double db_real(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    double v = NAN;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
            v = sqlite3_column_double(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return v;
}

/* `hydra-host status --json`, parsed; fails the test on anything but exit 0 and one JSON document.
 */
static json_t *status_json(fixture *f)
{
    const char *argv[] = {HYDRA_HOST_BIN, "status", "--json", "--config", f->cfg, NULL};
    char *out = NULL;
    int rc = tu_run(argv, f->dir, 60, &out);
    if (rc != 0)
        fail_msg("status --json exited %d:\n%s", rc, out ? out : "");
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (j == NULL)
        fail_msg("status --json is not JSON (%s):\n%s", jerr.text, out);
    free(out);
    assert_int_equal(json_integer_value(json_object_get(j, "schema")), 1);
    return j;
}

static char *status_text(fixture *f)
{
    const char *argv[] = {HYDRA_HOST_BIN, "status", "--config", f->cfg, NULL};
    char *out = NULL;
    assert_int_equal(tu_run(argv, f->dir, 60, &out), 0);
    return out;
}

/* cmocka's assert_float_equal compares floats; money needs doubles. */
#define assert_near(a, b, eps)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps)))                                                             \
            fail_msg("%s = %.9f, expected %.9f", #a, a_, b_);                                      \
    } while (0)

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("\"%s\" is not a number", key);
    return json_number_value(v);
}

static const json_t *bot(const json_t *s, const char *id)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(s, "bots"), i, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "bot_id")), id) == 0)
            return b;
    }
    fail_msg("no bot %s in status", id);
    return NULL;
}

static void test_status_before_any_host(void **state)
{
    fixture *f = *state;
    json_t *s = status_json(f);
    const json_t *host = json_object_get(s, "host");
    assert_true(json_is_false(json_object_get(host, "running")));
    assert_true(json_is_null(json_object_get(host, "pid")));
    assert_int_equal(json_integer_value(json_object_get(host, "last_tick")), 0);
    assert_true(json_is_null(json_object_get(host, "last_tick_age_seconds")));
    /* Nothing read yet is shown as unknown, never as zero money. */
    const json_t *acc = json_object_get(s, "account");
    assert_true(json_is_null(json_object_get(acc, "equity")));
    assert_true(json_is_null(json_object_get(acc, "cash")));
    assert_true(json_is_null(json_object_get(acc, "buying_power")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "health"), "status")),
                        "unknown");
    json_decref(s);
}

static void test_status_after_a_run(void **state)
{
    fixture *f = *state;
    /* 120 one-minute bars from 06:00: entries from 06:35, limit orders that stay open. */
    const char *run[] = {HYDRA_HOST_BIN,
                         "--config",
                         f->cfg,
                         "--plugins",
                         HYDRA_TEST_PLUGIN_DIR,
                         "--ticks",
                         "120",
                         "--interval-ms",
                         "0",
                         "--quiet",
                         NULL};
    char *out = NULL;
    int rc = tu_run(run, f->dir, 240, &out);
    if (rc != 0)
        fail_msg("the host exited %d:\n%s", rc, out);
    free(out);

    /* A quarantine, as the host records one (the state module on the same file). */
    hydra_state *st = NULL;
    char err[512], day[16] = "";
    assert_int_equal(hydra_state_open(f->db, &st, err, sizeof err), 0);
    assert_int_equal(hydra_kv_get_str(st, "day_key", day, sizeof day), 0);
    assert_int_equal(hydra_bot_day_quarantine(st, "mom_FESX", day, "crashed: SIGSEGV"), 0);
    hydra_state_close(st);

    json_t *s = status_json(f);
    const json_t *host = json_object_get(s, "host");
    assert_true(json_is_false(json_object_get(host, "running")));
    assert_true(json_is_false(json_object_get(host, "holds_lock")));
    assert_true(json_is_false(json_object_get(host, "pid_alive")));
    /* The lock file still names the host that ran; it is that host's heartbeat. */
    assert_true(json_integer_value(json_object_get(host, "pid")) > 0);
    assert_int_equal(json_integer_value(json_object_get(host, "pid")),
                     json_integer_value(json_object_get(host, "last_tick_pid")));
    assert_true(json_is_null(json_object_get(host, "uptime_seconds")));
    assert_int_equal(json_integer_value(json_object_get(host, "last_tick")), 120);
    assert_true(num(host, "last_tick_age_seconds") >= 0);
    assert_string_equal(json_string_value(json_object_get(host, "last_tick_engine_time")),
                        "2006-01-02T16:00:00.000Z");

    /* The account is the last tick's: the equity row the host wrote then. */
    const json_t *acc = json_object_get(s, "account");
    assert_true(json_is_true(json_object_get(acc, "read_last_tick")));
    double eq = db_real(f->db, "SELECT equity FROM equity ORDER BY t_ms DESC, rowid DESC LIMIT 1");
    double cash = db_real(f->db, "SELECT cash FROM equity ORDER BY t_ms DESC, rowid DESC LIMIT 1");
    assert_true(isfinite(eq) && eq > 0);
    assert_near(num(acc, "equity"), eq, 1e-6);
    assert_near(num(acc, "cash"), cash, 1e-6);
    assert_true(num(acc, "buying_power") > 0);
    double start = db_real(f->db, "SELECT CAST(v AS REAL) FROM kv WHERE k = 'day_start_equity'");
    assert_near(num(acc, "day_pnl"), eq - start, 1e-6);
    assert_string_equal(json_string_value(json_object_get(acc, "day")), day);

    /* Open orders are the journal's non-final rows, every one of them. */
    const json_t *orders = json_object_get(s, "open_orders");
    double n_open = db_real(f->db, "SELECT COUNT(*) FROM orders WHERE state IN (0, 1)");
    assert_true(n_open > 0);
    assert_int_equal(json_array_size(orders), (size_t)n_open);
    size_t i;
    json_t *o;
    json_array_foreach(orders, i, o)
    {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT COUNT(*) FROM orders WHERE state IN (0, 1) AND client_order_id = '%s'",
                 json_string_value(json_object_get(o, "client_order_id")));
        assert_near(db_real(f->db, sql), 1, 0);
    }

    /* Positions, each valued at the price the host recorded last. */
    double n_pos = db_real(f->db, "SELECT COUNT(*) FROM positions WHERE qty > 0");
    assert_true(n_pos > 0);
    char marks_s[4096] = "";
    assert_int_equal(hydra_state_open(f->db, &st, err, sizeof err), 0);
    assert_int_equal(hydra_kv_get(st, "marks", marks_s, sizeof marks_s), 0);
    hydra_state_close(st);
    json_t *marks = json_loads(marks_s, 0, NULL);
    assert_non_null(marks);
    size_t seen = 0;
    json_t *b;
    json_array_foreach(json_object_get(s, "bots"), i, b)
    {
        double sum = 0;
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(b, "positions"), k, p)
        {
            const char *sym = json_string_value(json_object_get(p, "symbol"));
            double mark = json_number_value(json_object_get(marks, sym));
            assert_near(num(p, "last_price"), mark, 1e-9);
            double want = (mark - num(p, "avg_price")) * num(p, "qty");
            assert_near(num(p, "unrealized_pnl"), want, 1e-6);
            sum += want;
            seen++;
        }
        assert_near(num(b, "unrealized_pnl"), sum, 1e-6);
    }
    assert_int_equal(seen, (size_t)n_pos);
    json_decref(marks);

    /* Budgets are PortfolioBot's rows; the quarantine is listed with its reason. */
    double budget =
        db_real(f->db, "SELECT max_daily_loss FROM budgets WHERE bot_id = 'crypto_core'");
    assert_near(num(bot(s, "crypto_core"), "budget_max_daily_loss"), budget, 1e-9);
    assert_true(budget > 0);
    assert_true(json_is_true(json_object_get(bot(s, "mom_FESX"), "quarantined")));
    const json_t *q = json_object_get(s, "quarantines");
    assert_int_equal(json_array_size(q), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(q, 0), "bot_id")),
                        "mom_FESX");
    assert_string_equal(json_string_value(json_object_get(json_array_get(q, 0), "reason")),
                        "crashed: SIGSEGV");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "health"), "status")),
                        "ok");

    /* For people: the same facts in words. */
    char *text = status_text(f);
    char want[128];
    assert_non_null(strstr(text, "host:         not running"));
    snprintf(want, sizeof want, "%-16s%.2f\n", "  equity", eq);
    if (strstr(text, want) == NULL)
        fail_msg("no \"%s\" in:\n%s", want, text);
    snprintf(want, sizeof want, "open orders:  %zu", json_array_size(orders));
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "healthy: broker answering"));
    assert_non_null(strstr(text, "mom_FESX on "));
    assert_non_null(strstr(text, "hydra-host unquarantine mom_FESX"));
    free(text);
    json_decref(s);
}

/* Waits until the running host has ticked at least n times (fails if it exits first). */
static void wait_ticks(fixture *f, pid_t pid, double n)
{
    for (int i = 0; i < 2400; i++) {
        if (db_real(f->db, "SELECT CAST(v AS INTEGER) FROM kv WHERE k = 'last_tick'") >= n)
            return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            fail_msg("the host exited (status %d)", status);
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    tu_wait(pid, 10);
    fail_msg("the host never reached tick %g", n);
}

static void test_status_of_a_running_host(void **state)
{
    fixture *f = *state;
    char log[512];
    snprintf(log, sizeof log, "%s/host.out", f->dir);
    const char *run[] = {HYDRA_HOST_BIN,  "--config", f->cfg,    "--plugins", HYDRA_TEST_PLUGIN_DIR,
                         "--interval-ms", "20",       "--quiet", NULL};
    pid_t pid = tu_spawn(run, f->dir, log);
    assert_true(pid > 0);
    wait_ticks(f, pid, 3);

    json_t *s = status_json(f);
    const json_t *host = json_object_get(s, "host");
    assert_true(json_is_true(json_object_get(host, "running")));
    assert_true(json_is_true(json_object_get(host, "holds_lock")));
    assert_true(json_is_true(json_object_get(host, "pid_alive")));
    assert_int_equal(json_integer_value(json_object_get(host, "pid")), pid);
    assert_true(json_is_integer(json_object_get(host, "uptime_seconds")));
    assert_true(json_integer_value(json_object_get(host, "uptime_seconds")) >= 0);
    assert_true(json_is_string(json_object_get(host, "started_at")));
    assert_true(json_integer_value(json_object_get(host, "last_tick")) >= 3);
    assert_true(num(host, "last_tick_age_seconds") >= 0);
    assert_true(num(json_object_get(s, "account"), "equity") > 0);
    json_decref(s);
    char *text = status_text(f);
    char want[64];
    snprintf(want, sizeof want, "host:         running, pid %d, up ", (int)pid);
    if (strstr(text, want) == NULL)
        fail_msg("no \"%s\" in:\n%s", want, text);
    free(text);

    kill(pid, SIGTERM);
    assert_int_equal(tu_wait(pid, 60), 0);
    s = status_json(f);
    host = json_object_get(s, "host");
    assert_true(json_is_false(json_object_get(host, "running")));
    assert_true(json_is_false(json_object_get(host, "pid_alive")));
    assert_int_equal(json_integer_value(json_object_get(host, "pid")), pid);
    assert_true(json_is_null(json_object_get(host, "uptime_seconds")));
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_before_any_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_after_a_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_of_a_running_host, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
