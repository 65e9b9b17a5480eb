/*
 * Halts against the real simulated exchange: every source (kill switch,
 * ExitBot daily loss, reconciliation at start, an anomaly, an operator's
 * halt through the state database and through the real hydra-host binary
 * against a running host) goes through one routine that cancels Hydra's
 * own open orders in the tick the halt is seen and holds nothing one tick
 * later, and never cancels or sells what Hydra did not create.
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
#include "error.h"
#include "orders.h"
#include "state.h"
#include "testutil.h"

#define STRANGER_ORDER "manual-order-1"
#define STRANGER_POS "manual-pos-1"

typedef et_fixture fixture;

/* Each test starts from the shipped configuration. */
static int setup(void **state)
{
    et_setup(state);
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    return 0;
}

static size_t hydra_positions(fixture *f)
{
    hydra_bot_position pos[64];
    size_t n = 99;
    assert_int_equal(hydra_position_list(f->e.state, NULL, pos, 64, &n), 0);
    return n;
}

static int64_t db_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_type(s, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return v;
}

/* Ticks until the bots hold something (the shipped crypto bot buys within a few hundred ticks). */
static void trade_until_held(fixture *f)
{
    for (int i = 0; i < 1000 && hydra_positions(f) == 0; i++)
        et_ticks(f, 1);
    assert_true(hydra_positions(f) > 0);
}

/* A resting entry of Hydra's own, through the path every entry takes (journal, then broker). */
static void place_hydra_entry(fixture *f, char *cid)
{
    et_resting_buy(&f->e, "crypto_core", "BTC/USD", 0.001, "test entry", cid);
    hydra_journal_order row;
    assert_int_equal(hydra_journal_get(f->e.state, cid, &row), 0);
    assert_int_equal(row.state, HYDRA_ORD_OPEN);
}

/* An order somebody else placed on the same account: never in Hydra's journal. */
static void place_stranger_order(hydra_broker *b, hydra_market *m)
{
    et_stranger_order(b, STRANGER_ORDER, "ETH/USD", 0.01, floor(hydra_market_price(m, "ETH/USD") * 0.5));
}

/* A position somebody else opened: a market buy of ETH/USD, which the crypto bot trades too. */
static void place_stranger_position(hydra_broker *b)
{
    hydra_order_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.client_order_id, sizeof r.client_order_id, STRANGER_POS);
    snprintf(r.symbol, sizeof r.symbol, "ETH/USD");
    r.side = HYDRA_SIDE_BUY;
    r.type = HYDRA_ORDER_MARKET;
    r.tif = HYDRA_TIF_GTC;
    r.qty = 1;
    hydra_order o;
    hydra_broker_err err = {0};
    assert_int_equal(b->ops->submit(b->ctx, &r, &o, &err), 0);
}

static int order_open_at_broker(hydra_broker *b, const char *cid)
{
    int status = et_broker_status(b, cid);
    return status == HYDRA_BOS_NEW || status == HYDRA_BOS_PARTIALLY_FILLED;
}

/*
 * Orders open at the broker that Hydra's journal holds, other than the
 * flatten's own market sells (which fill on the next bar): must be none once
 * a halt has acted.
 */
static size_t hydra_orders_open_at_broker(fixture *f)
{
    hydra_order o[64];
    size_t n = 0, mine = 0;
    hydra_broker_err err = {0};
    assert_int_equal(f->e.broker.ops->open_orders(f->e.broker.ctx, o, 64, &n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        hydra_journal_order row;
        if (hydra_journal_get(f->e.state, o[i].client_order_id, &row) != 0)
            continue;
        if (o[i].side == HYDRA_SIDE_SELL && o[i].type == HYDRA_ORDER_MARKET &&
            strncmp(row.reason, "flatten: ", 9) == 0)
            continue;
        mine++;
    }
    return mine;
}

/*
 * The broker holds nothing of Hydra's: nothing at all, or the stranger's
 * `stranger_qty` of ETH/USD bought, less the fee the exchange took in coin.
 */
static void assert_broker_holds_nothing_of_hydras(fixture *f, double stranger_qty)
{
    hydra_broker_position pos[64];
    size_t n = 0;
    hydra_broker_err err = {0};
    assert_int_equal(f->e.broker.ops->positions(f->e.broker.ctx, pos, 64, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(pos[i].symbol, "ETH/USD") != 0 ||
            pos[i].qty > stranger_qty + 1e-9 ||
            pos[i].qty < stranger_qty * (1 - HYDRA_CRYPTO_MAX_FEE_RATE) - 1e-9)
            fail_msg("after the halt the broker still holds %.12g %s", pos[i].qty, pos[i].symbol);
}

/*
 * The halt's promise, checked from the tick it is seen: Hydra's orders are
 * cancelled in that tick, its positions are gone one tick later, strangers
 * are untouched, and no account-wide call was made.
 */
static void assert_flattens(fixture *f, const char *hydra_cid, const char *source)
{
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_string_equal(h.source, source);
    assert_int_equal(h.ack_pid, (int64_t)getpid());
    assert_int_equal(hydra_orders_open_at_broker(f), 0);
    assert_false(order_open_at_broker(&f->e.broker, hydra_cid));
    hydra_journal_order row;
    assert_int_equal(hydra_journal_get(f->e.state, hydra_cid, &row), 0);
    assert_int_equal(row.state, HYDRA_ORD_CANCELED);
    assert_true(order_open_at_broker(&f->e.broker, STRANGER_ORDER));

    et_ticks(f, 1); /* halt tick + 1: the market sells have filled */
    assert_int_equal(hydra_positions(f), 0);
    assert_broker_holds_nothing_of_hydras(f, 0);
    assert_true(order_open_at_broker(&f->e.broker, STRANGER_ORDER));
    assert_int_equal(f->w->n_account_wide, 0);
    for (size_t i = 0; i < f->w->n_submits; i++)
        assert_int_equal(f->w->submits[i].side, HYDRA_SIDE_SELL);
    /* It stays flat, and says so once. */
    for (int i = 0; i < 3; i++)
        et_ticks(f, 1);
    assert_int_equal(hydra_positions(f), 0);
    assert_true(order_open_at_broker(&f->e.broker, STRANGER_ORDER));
    et_close(f);
    assert_int_equal(et_count_events(f->log, "system_halt", NULL), 1);
    assert_int_equal(et_count_events(f->log, "halt_flat", NULL), 1);
    assert_true(et_count_events(f->log, "halt_cancel", NULL) >= 1);
}

/* Held positions, a resting entry of Hydra's, and a stranger's order on the same account. */
static void prepare(fixture *f, char *cid)
{
    et_open(f);
    trade_until_held(f);
    place_hydra_entry(f, cid);
    place_stranger_order(&f->e.broker, &f->e.market);
    et_wrap(f->w, &f->e);
}

static void test_kill_switch(void **state)
{
    fixture *f = *state;
    char cid[HYDRA_CID_LEN];
    prepare(f, cid);
    char kill[512];
    snprintf(kill, sizeof kill, "%s/KILL_SWITCH", f->dir);
    assert_int_equal(tu_write_file(kill, "stop\n"), 0);
    et_ticks(f, 1); /* the halt tick */
    assert_true(f->w->n_cancels >= 1);
    assert_flattens(f, cid, "kill_switch");
}

static void test_exitbot_daily_loss(void **state)
{
    fixture *f = *state;
    char cid[HYDRA_CID_LEN];
    prepare(f, cid);
    /* The day started 2% richer: today's loss is past the 1% limit. */
    f->e.day_start_equity = f->e.account.equity * 1.02;
    et_ticks(f, 1);
    assert_non_null(strstr(et_current_halt(f).reason, "daily loss"));
    assert_flattens(f, cid, "exitbot");
}

/* An operator's halt written by another connection, as `hydra-host halt` writes it. */
static void test_operator_halt_through_state(void **state)
{
    fixture *f = *state;
    char cid[HYDRA_CID_LEN];
    prepare(f, cid);
    char db[512], err[512];
    snprintf(db, sizeof db, "%s/trading_state.db", f->dir);
    hydra_state *other = NULL;
    assert_int_equal(hydra_state_open(db, &other, err, sizeof err), 0);
    assert_int_equal(hydra_halt_request(other, "desk says stop", "operator", 1, 0, "alice (uid 1000)"),
                     0);
    hydra_state_close(other);
    uint64_t halt_tick = f->e.tick + 1;
    et_ticks(f, 1);
    hydra_halt h = et_current_halt(f);
    assert_int_equal(h.ack_tick, (int64_t)halt_tick);
    assert_string_equal(h.requested_by, "alice (uid 1000)");
    assert_flattens(f, cid, "operator");
    char *log = tu_read_file(f->log, NULL);
    assert_non_null(strstr(log, "\"requested_by\":\"alice (uid 1000)\""));
    free(log);
}

/*
 * A journal that disagrees with the broker at start: reconciliation halts.
 * The flatten at start cancels Hydra's order and sells what the broker
 * holds of Hydra's; the claimed FESX the broker never saw is not sold.
 */
static void test_reconciliation(void **state)
{
    fixture *f = *state;
    char cid[HYDRA_CID_LEN];
    /* The stranger's order must not stop the restart: the reconciliation is what is tested. */
    tu_rmtree(f->cfg);
    assert_int_equal(et_make_config(f->dir, "foreign_positions: refuse=>foreign_positions: ignore\n",
                                    NULL),
                     0);
    et_open(f);
    trade_until_held(f);
    place_hydra_entry(f, cid);
    place_stranger_order(&f->e.broker, &f->e.market);
    double realized = 0;
    assert_int_equal(hydra_position_apply_fill(f->e.state, "mom_FESX", "FESX", HYDRA_ASSET_EQUITY,
                                               1.0, HYDRA_SIDE_BUY, 3, 100.0, 0, 0, &realized),
                     0);
    et_close(f);

    et_open(f); /* the halt happens here, before the first tick */
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_string_equal(h.source, "reconcile");
    assert_int_equal(hydra_orders_open_at_broker(f), 0);
    assert_true(order_open_at_broker(&f->e.broker, STRANGER_ORDER));
    et_wrap(f->w, &f->e);
    et_ticks(f, 1);
    assert_broker_holds_nothing_of_hydras(f, 0);
    assert_true(order_open_at_broker(&f->e.broker, STRANGER_ORDER));
    /* Only the journal's FESX is left: the broker has none to sell. */
    hydra_bot_position pos[8];
    size_t n = 0;
    assert_int_equal(hydra_position_list(f->e.state, NULL, pos, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(pos[0].symbol, "FESX");
    assert_int_equal(f->w->n_account_wide, 0);
    et_close(f);
    char db[512];
    snprintf(db, sizeof db, "%s/trading_state.db", f->dir);
    assert_true(db_int(db, "SELECT COUNT(*) FROM orders WHERE reason LIKE 'flatten:%'") >= 1);
    assert_int_equal(db_int(db, "SELECT COUNT(*) FROM orders WHERE symbol = 'FESX' AND "
                                "reason LIKE 'flatten:%'"),
                     0);
    assert_true(et_count_events(f->log, "halt_position_mismatch", NULL) >= 1);
}

/*
 * A position and an order somebody else opened on the account: the anomaly
 * check halts (the broker holds what the journal does not explain), and the
 * flatten sells Hydra's positions only.
 */
static void test_strangers_survive_a_halt(void **state)
{
    fixture *f = *state;
    char cid[HYDRA_CID_LEN];
    prepare(f, cid);
    double hydras_eth = 0;
    hydra_bot_position pos[16];
    size_t n = 0;
    assert_int_equal(hydra_position_list(f->e.state, NULL, pos, 16, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(pos[i].symbol, "ETH/USD") == 0)
            hydras_eth += pos[i].qty;
    place_stranger_position(&f->e.broker);
    et_ticks(f, 1); /* the stranger's buy fills on this tick's bar; ExitBot sees it unexplained */
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_non_null(strstr(h.reason, "ETH/USD"));
    assert_int_equal(hydra_orders_open_at_broker(f), 0);
    et_ticks(f, 1);
    assert_int_equal(hydra_positions(f), 0);
    assert_broker_holds_nothing_of_hydras(f, 1.0);
    assert_true(order_open_at_broker(&f->e.broker, STRANGER_ORDER));
    assert_int_equal(f->w->n_account_wide, 0);
    /* Hydra sold its own ETH/USD, never the stranger's. */
    for (size_t i = 0; i < f->w->n_submits; i++)
        if (strncmp(f->w->submits[i].cid, "manual-", 7) != 0)
            assert_int_equal(f->w->submits[i].side, HYDRA_SIDE_SELL);
    print_message("Hydra held %.9g ETH/USD; the stranger's 1 ETH/USD stays\n", hydras_eth);
    et_close(f);
    assert_true(et_count_events(f->log, "halt_position_mismatch", NULL) >= 1);
}

/* ---- the real binary against a running host ---- */

/* Waits (polling the state database) until `sql` answers at least `want`; fails after 120 s. */
static int64_t wait_for(const char *db, const char *sql, int64_t want, pid_t host)
{
    for (int i = 0; i < 2400; i++) {
        int64_t v = db_int(db, sql);
        if (v >= want)
            return v;
        int status;
        if (waitpid(host, &status, WNOHANG) == host)
            fail_msg("the host exited (status %d) while waiting for %s >= %lld", status, sql,
                     (long long)want);
        usleep(50 * 1000);
    }
    kill(host, SIGKILL);
    tu_wait(host, 10);
    fail_msg("gave up waiting for %s >= %lld", sql, (long long)want);
    return -1;
}

/* The tick_summary line of tick n, parsed (caller decrefs), or NULL. */
static json_t *tick_summary(const char *log_path, int64_t n)
{
    char *text = tu_read_file(log_path, NULL);
    json_t *found = NULL;
    for (char *line = text != NULL ? strtok(text, "\n") : NULL; line != NULL && found == NULL;
         line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        if (j != NULL && json_is_string(json_object_get(j, "event")) &&
            strcmp(json_string_value(json_object_get(j, "event")), "tick_summary") == 0 &&
            json_integer_value(json_object_get(j, "tick")) == n)
            found = json_incref(j);
        json_decref(j);
    }
    free(text);
    return found;
}

static void test_operator_halt_reaches_running_host(void **state)
{
    fixture *f = *state;
    char db[512], out_path[512];
    snprintf(db, sizeof db, "%s/trading_state.db", f->dir);
    snprintf(out_path, sizeof out_path, "%s/host.out", f->dir);
    const char *run[] = {HYDRA_HOST_BIN, "--config", f->cfg, "--plugins", HYDRA_TEST_PLUGIN_DIR,
                         "--interval-ms", "20", "--quiet", NULL};
    pid_t host = tu_spawn(run, f->dir, out_path);
    assert_true(host > 0);
    wait_for(db, "SELECT COUNT(*) FROM positions", 1, host);

    const char *halt[] = {HYDRA_HOST_BIN, "halt", "--config", f->cfg, "--reason", "desk says stop",
                          NULL};
    char *out = NULL;
    assert_int_equal(tu_run(halt, f->dir, 60, &out), 0);
    free(out);
    int64_t ack_pid = wait_for(db, "SELECT ack_pid FROM halts WHERE cleared_ms IS NULL", 1, host);
    assert_int_equal(ack_pid, (int64_t)host);
    int64_t ack_tick = db_int(db, "SELECT ack_tick FROM halts WHERE cleared_ms IS NULL");
    assert_true(ack_tick > 0);
    wait_for(db, "SELECT CAST(v AS INTEGER) FROM kv WHERE k = 'last_tick'", ack_tick + 2, host);

    const char *status[] = {HYDRA_HOST_BIN, "status", "--config", f->cfg, NULL};
    assert_int_equal(tu_run(status, f->dir, 60, &out), 0);
    char want[128];
    snprintf(want, sizeof want, "acknowledged by host pid %d at tick %lld", (int)host,
             (long long)ack_tick);
    if (strstr(out, want) == NULL)
        fail_msg("status does not say \"%s\":\n%s", want, out);
    free(out);

    kill(host, SIGTERM);
    assert_int_equal(tu_wait(host, 60), 0);

    /* Tick ack + 1 ended holding nothing, with no order of Hydra's open. */
    json_t *t = tick_summary(f->log, ack_tick + 1);
    assert_non_null(t);
    assert_int_equal(json_integer_value(json_object_get(t, "positions")), 0);
    assert_int_equal(json_integer_value(json_object_get(t, "open_orders")), 0);
    assert_true(json_is_true(json_object_get(t, "halted")));
    json_decref(t);
    assert_int_equal(et_count_events(f->log, "system_halt", NULL), 1);
    char *log = tu_read_file(f->log, NULL);
    assert_non_null(strstr(log, "\"source\":\"operator\""));
    assert_non_null(strstr(log, "\"event\":\"operator_halt\""));
    free(log);

    /* The exchange agrees: nothing open, nothing held. */
    hydra_engine_options opt;
    et_options(&opt, f->dir);
    opt.tools_only = 1;
    char err[1024];
    int code;
    assert_int_equal(hydra_engine_open(&f->e, &opt, err, sizeof err, &code), 0);
    f->open = 1;
    hydra_order o[8];
    hydra_broker_position p[8];
    size_t no = 9, np = 9;
    hydra_broker_err be = {0};
    assert_int_equal(f->e.broker.ops->open_orders(f->e.broker.ctx, o, 8, &no, &be), 0);
    assert_int_equal(f->e.broker.ops->positions(f->e.broker.ctx, p, 8, &np, &be), 0);
    assert_int_equal(no, 0);
    assert_int_equal(np, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_switch, setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_exitbot_daily_loss, setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_operator_halt_through_state, setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_reconciliation, setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_strangers_survive_a_halt, setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_operator_halt_reaches_running_host, setup,
                                        et_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
