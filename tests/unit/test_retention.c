#define _GNU_SOURCE
/* cmocka needs these before its own header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include <hydra/types.h>

#include "error.h"
#include "state.h"
#include "testutil.h"

/*
 * Retention of the state database's history (hydra_state_prune), on a real
 * SQLite file: what is older than the cutoff goes, in bounded steps; the
 * open journal, today's orders and recent history stay.
 */

#define DAY_MS 86400000LL
#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

/* A temporary directory and the state database in it (testutil.c). */
static int setup(void **state)
{
    return tu_file_setup(state, "trading_state.db");
}

static hydra_state *open_ok(const char *path)
{
    char err[512];
    hydra_state *st = NULL;
    if (hydra_state_open(path, &st, err, sizeof err) != 0)
        fail_msg("open %s: %s", path, err);
    return st;
}

/* One integer a query gives, read on a connection of its own. */
static long long query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void add_order(hydra_state *st, const char *cid, const char *day, int64_t created,
                      int state, int with_fill)
{
    hydra_journal_order o;
    memset(&o, 0, sizeof o);
    snprintf(o.client_order_id, sizeof o.client_order_id, "%s", cid);
    snprintf(o.bot_id, sizeof o.bot_id, "mom_AAPL");
    snprintf(o.day, sizeof o.day, "%s", day);
    static int seq;
    o.seq = ++seq;
    o.kind = 1;
    snprintf(o.symbol, sizeof o.symbol, "AAPL");
    o.asset_class = HYDRA_ASSET_EQUITY;
    o.side = HYDRA_SIDE_BUY;
    o.type = HYDRA_ORDER_MARKET;
    o.tif = HYDRA_TIF_DAY;
    o.qty = 1;
    snprintf(o.reason, sizeof o.reason, "test");
    o.state = HYDRA_ORD_PENDING_SUBMIT;
    o.created_ms = created;
    o.updated_ms = created;
    assert_int_equal(hydra_journal_insert(st, &o), 0);
    o.state = state;
    o.updated_ms = created + 1000;
    assert_int_equal(hydra_journal_update(st, &o), 0);
    if (with_fill)
        assert_int_equal(hydra_fill_insert(st, cid, "mom_AAPL", "AAPL", HYDRA_SIDE_BUY, 1, 100,
                                           0.01, created + 500),
                         0);
}

static long long count_cid(const char *db, const char *table, const char *cid)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE client_order_id = '%s'", table, cid);
    return query_int(db, sql);
}

static void test_prune_removes_old_history_in_steps(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);
    const char *today = "2026-04-11";
    const int64_t now = T0 + 100 * DAY_MS, cutoff = now - 90 * DAY_MS; /* retention 90 days */
    char cid[64];

    assert_int_equal(hydra_state_begin(st), 0);
    for (int i = 0; i < 6; i++) { /* old, closed, filled */
        snprintf(cid, sizeof cid, "old-filled-%d", i);
        add_order(st, cid, "2026-01-02", T0 + DAY_MS + i * 60000, HYDRA_ORD_FILLED, 1);
    }
    add_order(st, "old-canceled", "2026-01-03", T0 + 2 * DAY_MS, HYDRA_ORD_CANCELED, 0);
    /* Old but never closed: the open journal, with its partial fill. */
    add_order(st, "old-open", "2026-01-02", T0 + DAY_MS, HYDRA_ORD_OPEN, 1);
    add_order(st, "old-pending", "2026-01-02", T0 + DAY_MS, HYDRA_ORD_PENDING_SUBMIT, 0);
    /* Stamped long ago but of today: today's budgets count it. */
    add_order(st, "today-row", today, T0 + DAY_MS, HYDRA_ORD_CANCELED, 1);
    add_order(st, "recent", "2026-04-06", T0 + 95 * DAY_MS, HYDRA_ORD_FILLED, 1);
    /* Equity: 5 old days of 10 samples each (hourly from 00:00), 10 recent samples. */
    for (int d = 1; d <= 5; d++)
        for (int h = 0; h < 10; h++)
            assert_int_equal(hydra_equity_insert(st, T0 + d * DAY_MS + h * 3600000LL,
                                                 100000 + d * 10 + h, 50000),
                             0);
    for (int h = 0; h < 10; h++)
        assert_int_equal(hydra_equity_insert(st, T0 + 95 * DAY_MS + h * 60000, 99000 + h, 50000),
                         0);
    assert_int_equal(hydra_state_commit(st), 0);

    /* In steps of at most 7 rows, each in a batch of its own, as the host's ticks do. */
    int steps = 0, total = 0;
    for (;;) {
        hydra_prune_counts c;
        assert_int_equal(hydra_state_begin(st), 0);
        assert_int_equal(hydra_state_prune(st, cutoff, today, 7, &c), 0);
        assert_int_equal(hydra_state_commit(st), 0);
        int n = c.fills + c.orders + c.equity;
        assert_true(n <= 7);
        assert_true(c.fills >= 0 && c.orders >= 0 && c.equity >= 0);
        if (n == 0)
            break;
        total += n;
        assert_true(++steps < 100);
    }
    assert_true(steps >= 8); /* 6 fills + 7 orders + 45 samples = 58 rows: 9 steps of 7 */
    assert_int_equal(total, 6 + 7 + 45);
    hydra_state_close(st);

    /* Old closed orders and their fills are gone. */
    for (int i = 0; i < 6; i++) {
        snprintf(cid, sizeof cid, "old-filled-%d", i);
        assert_int_equal(count_cid(f->path, "orders", cid), 0);
        assert_int_equal(count_cid(f->path, "fills", cid), 0);
    }
    assert_int_equal(count_cid(f->path, "orders", "old-canceled"), 0);
    /* The open journal, today's order and recent history stay, fills included. */
    assert_int_equal(count_cid(f->path, "orders", "old-open"), 1);
    assert_int_equal(count_cid(f->path, "fills", "old-open"), 1);
    assert_int_equal(count_cid(f->path, "orders", "old-pending"), 1);
    assert_int_equal(count_cid(f->path, "orders", "today-row"), 1);
    assert_int_equal(count_cid(f->path, "fills", "today-row"), 1);
    assert_int_equal(count_cid(f->path, "orders", "recent"), 1);
    assert_int_equal(count_cid(f->path, "fills", "recent"), 1);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM orders"), 4);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM fills"), 3);
    /* Equity rolled up: the last sample of each old day (09:00), every recent one. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM equity WHERE t_ms < %lld", (long long)cutoff);
    assert_int_equal(query_int(f->path, sql), 5);
    for (int d = 1; d <= 5; d++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM equity WHERE t_ms = %lld AND equity = %d",
                 (long long)(T0 + d * DAY_MS + 9 * 3600000LL), 100000 + d * 10 + 9);
        assert_int_equal(query_int(f->path, sql), 1);
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM equity WHERE t_ms >= %lld", (long long)cutoff);
    assert_int_equal(query_int(f->path, sql), 10);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM pragma_integrity_check WHERE "
                                        "integrity_check = 'ok'"),
                     1);
}

/* Nothing older than the cutoff: nothing goes; bad arguments are refused. */
static void test_prune_keeps_recent_and_refuses_bad_arguments(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);
    assert_int_equal(hydra_state_begin(st), 0);
    add_order(st, "a", "2026-01-02", T0 + DAY_MS, HYDRA_ORD_FILLED, 1);
    for (int h = 0; h < 5; h++)
        assert_int_equal(hydra_equity_insert(st, T0 + DAY_MS + h * 1000, 1, 1), 0);
    hydra_prune_counts c;
    assert_int_equal(hydra_state_prune(st, T0 + DAY_MS, "2026-01-05", 100, &c), 0);
    assert_int_equal(c.fills + c.orders + c.equity, 0);
    assert_int_equal(hydra_state_prune(st, T0, "2026-01-05", 0, &c), HYDRA_EINVAL);
    assert_int_equal(hydra_state_prune(st, T0, NULL, 10, &c), HYDRA_EINVAL);
    assert_int_equal(hydra_state_commit(st), 0);
    hydra_state_close(st);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM orders"), 1);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM fills"), 1);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM equity"), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prune_removes_old_history_in_steps, setup,
                                        tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_prune_keeps_recent_and_refuses_bad_arguments, setup,
                                        tu_file_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
