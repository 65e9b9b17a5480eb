/*
 * A bot's cancel (ABI 1.1's HYDRA_INTENT_CANCEL) as an attack, against the
 * real simulated exchange, with the bot in this process and in a worker.
 * tests/plugins/cancel_attack.so names, through its state, another bot's
 * working order, an order Hydra did not place, a made-up id and finally an
 * id with no terminating NUL. The effects checked:
 *
 *   - the other bot's order and the stranger's stay open at the exchange,
 *     and the other bot's journal row stays open;
 *   - each refusal is a gate rejection (gate "cancel") and the exchange is
 *     never asked to cancel anything;
 *   - the bot's cancel of its own working order does cancel it, at the
 *     exchange and, after the next sync, in the journal;
 *   - the unterminated id quarantines the bot as an invalid intent, and the
 *     host ticks on with the other bots still trading.
 *
 * And in the backtest, where the same refusals keep another bot's resting
 * order alive until it fills, and the bot's own cancel keeps its own from
 * ever filling.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backtest.h"
#include "enginetest.h"
#include "error.h"
#include "orders.h"
#include "state.h"
#include "testutil.h"

#define STRANGER_CID "manual-order-7"
#define MADE_UP_CID "hy-0-0-crypto_core-20000101-1"

typedef struct fixture {
    et_fixture et;
    char plugins[512];
} fixture;

static void copy_plugin(const fixture *f, const char *from, const char *name)
{
    char to[768];
    snprintf(to, sizeof to, "%s/%s.so", f->plugins, name);
    assert_int_equal(tu_copy_file(from, to), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(tu_mkdtemp(f->et.dir, sizeof f->et.dir));
    snprintf(f->et.log, sizeof f->et.log, "%s/app.jsonl", f->et.dir);
    snprintf(f->et.cfg, sizeof f->et.cfg, "%s/config", f->et.dir);
    snprintf(f->plugins, sizeof f->plugins, "%s/plugins", f->et.dir);
    assert_int_equal(mkdir(f->plugins, 0755), 0);
    copy_plugin(f, HYDRA_MOMENTUM_SO, "momentum");
    copy_plugin(f, HYDRA_OPTIONS_SO, "options");
    copy_plugin(f, HYDRA_CRYPTO_SO, "crypto");
    copy_plugin(f, HYDRA_TEST_BROKEN_DIR "/cancel_attack.so", "cancel_attack");
    f->et.w = calloc(1, sizeof *f->et.w);
    /* One line: the edit list is split on newlines. */
    assert_int_equal(
        et_make_config(f->et.dir, NULL,
                       "bots: []=>bots: [{bot_id: attacker, plugin: cancel_attack, "
                       "bucket: crypto, asset_class: crypto, symbols: [BTC/USD], "
                       "session: {trade_start: \"00:00\", trade_end: \"23:59\", "
                       "manage_until: \"23:59\"}, "
                       "risk: {max_trades_per_day: 10, max_concurrent_positions: 2}, "
                       "signal: {mode: cancel_attack_v1, params: {}}}]"),
        0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->et.open)
        hydra_engine_close(&f->et.e);
    tu_rmtree(f->et.dir);
    free(f->et.w);
    free(f);
    return 0;
}

static void open_engine(fixture *f, int inprocess)
{
    hydra_engine_options opt;
    et_options(&opt, f->et.dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", f->plugins);
    opt.force_inprocess = inprocess;
    char err[4096] = "";
    int code = -1;
    if (hydra_engine_open(&f->et.e, &opt, err, sizeof err, &code) != 0)
        fail_msg("engine open failed (exit %d): %s", code, err);
    f->et.open = 1;
    et_wrap(f->et.w, &f->et.e);
}

static int exchange_status(fixture *f, const char *cid)
{
    return et_broker_status(&f->et.w->inner, cid);
}

static int journal_state(fixture *f, const char *cid)
{
    hydra_journal_order row;
    if (hydra_journal_get(f->et.e.state, cid, &row) != 0)
        return -1;
    return row.state;
}

/* A resting buy of crypto_core's, through the path every entry takes (journal, then exchange). */
static void place_victim_order(fixture *f, char *cid)
{
    et_resting_buy(&f->et.e, "crypto_core", "ETH/USD", 0.01, "victim", cid);
    assert_int_equal(journal_state(f, cid), HYDRA_ORD_OPEN);
}

static void place_stranger_order(fixture *f)
{
    et_stranger_order(&f->et.w->inner, STRANGER_CID, "BTC/USD", 0.001,
                      floor(hydra_market_price(&f->et.e.market, "BTC/USD") * 0.5));
}

static void tell(fixture *f, const char *key, const char *value)
{
    assert_int_equal(hydra_bot_kv_set(f->et.e.state, "attacker", key, value), 0);
}

/* gate_reject lines of the attacker with gate "cancel" naming `cid`. */
static int cancel_rejections(const char *log_path, const char *cid)
{
    char *text = tu_read_file(log_path, NULL);
    int n = 0;
    assert_non_null(text);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        const char *ev = json_string_value(json_object_get(j, "event"));
        const char *bot = json_string_value(json_object_get(j, "bot_id"));
        const char *gate = json_string_value(json_object_get(j, "gate"));
        const char *id = json_string_value(json_object_get(j, "client_order_id"));
        if (ev != NULL && strcmp(ev, "gate_reject") == 0 && bot != NULL &&
            strcmp(bot, "attacker") == 0 && gate != NULL && strcmp(gate, "cancel") == 0 &&
            id != NULL && strcmp(id, cid) == 0)
            n++;
        json_decref(j);
    }
    free(text);
    return n;
}

static int submits_by_others(fixture *f, size_t from)
{
    int n = 0;
    for (size_t i = from; i < f->et.w->n_submits; i++)
        if (strstr(f->et.w->submits[i].cid, "-attacker-") == NULL)
            n++;
    return n;
}

/* `malformed`: the state key that makes the bot push a cancel the host cannot read; `defect`: why. */
static void attack(fixture *f, int inprocess, const char *malformed, const char *defect)
{
    open_engine(f, inprocess);
    et_ticks(&f->et, 2);

    /* The attacker's own resting entry, as its snapshot shows it. */
    char own[HYDRA_CID_LEN] = "";
    assert_int_equal(hydra_bot_kv_get(f->et.e.state, "attacker", "own_cid", own, sizeof own), 0);
    assert_non_null(strstr(own, "-attacker-"));
    assert_int_equal(journal_state(f, own), HYDRA_ORD_OPEN);
    assert_int_equal(exchange_status(f, own), HYDRA_BOS_NEW);

    char victim[HYDRA_CID_LEN] = "";
    place_victim_order(f, victim);
    place_stranger_order(f);
    assert_int_equal(exchange_status(f, STRANGER_CID), HYDRA_BOS_NEW);

    char ids[512];
    snprintf(ids, sizeof ids, "%s %s %s", victim, STRANGER_CID, MADE_UP_CID);
    tell(f, "cancel", ids);
    size_t cancels_before = f->et.w->n_cancels;
    et_ticks(&f->et, 2);

    assert_int_equal(f->et.w->n_cancels, cancels_before); /* the exchange was never asked */
    assert_int_equal(exchange_status(f, victim), HYDRA_BOS_NEW);
    assert_int_equal(journal_state(f, victim), HYDRA_ORD_OPEN);
    assert_int_equal(exchange_status(f, STRANGER_CID), HYDRA_BOS_NEW);
    hydra_journal_order none;
    assert_int_not_equal(hydra_journal_get(f->et.e.state, STRANGER_CID, &none), 0);
    assert_int_equal(exchange_status(f, own), HYDRA_BOS_NEW);
    assert_int_equal(cancel_rejections(f->et.log, victim), 1);
    assert_int_equal(cancel_rejections(f->et.log, STRANGER_CID), 1);
    assert_int_equal(cancel_rejections(f->et.log, MADE_UP_CID), 1);
    hydra_bot_day day = {0};
    assert_int_equal(hydra_bot_day_get(f->et.e.state, "attacker", f->et.e.day, &day), 0);
    assert_false(day.quarantined);

    /* Its own order: cancelled at the exchange, and the journal follows at the next sync. */
    tell(f, "cancel_own", "1");
    et_ticks(&f->et, 1);
    assert_int_equal(f->et.w->n_cancels, cancels_before + 1);
    assert_int_equal(exchange_status(f, own), HYDRA_BOS_CANCELED);
    et_ticks(&f->et, 1);
    assert_int_equal(journal_state(f, own), HYDRA_ORD_CANCELED);
    assert_int_equal(exchange_status(f, victim), HYDRA_BOS_NEW);
    assert_int_equal(exchange_status(f, STRANGER_CID), HYDRA_BOS_NEW);

    /* A cancel the host cannot read: an invalid intent, the bot is quarantined, nothing is cancelled. */
    cancels_before = f->et.w->n_cancels;
    size_t submits_before = f->et.w->n_submits;
    tell(f, malformed, "1");
    et_ticks(&f->et, 1);
    assert_int_equal(hydra_bot_day_get(f->et.e.state, "attacker", f->et.e.day, &day), 0);
    assert_true(day.quarantined);
    print_message("%s: %s\n", malformed, day.quarantine_reason);
    assert_non_null(strstr(day.quarantine_reason, defect));
    assert_int_equal(f->et.w->n_cancels, cancels_before);
    assert_int_equal(exchange_status(f, victim), HYDRA_BOS_NEW);
    assert_int_equal(journal_state(f, victim), HYDRA_ORD_OPEN);
    assert_int_equal(exchange_status(f, STRANGER_CID), HYDRA_BOS_NEW);

    /* The host trades on: the other bots place orders after the attack. */
    for (int i = 0; i < 400 && submits_by_others(f, submits_before) == 0; i++)
        et_ticks(&f->et, 1);
    assert_true(submits_by_others(f, submits_before) > 0);
    for (size_t i = submits_before; i < f->et.w->n_submits; i++)
        assert_null(strstr(f->et.w->submits[i].cid, "-attacker-"));
    assert_int_equal(exchange_status(f, STRANGER_CID), HYDRA_BOS_NEW);
}

#define UNTERMINATED "client_order_id empty or not NUL-terminated"
/* The host reads a short intent zero-extended: the id it has no room for is empty. */
#define SHORT_CANCEL UNTERMINATED

static void test_cancel_attack_in_process(void **state)
{
    attack(*state, 1, "overlong", UNTERMINATED);
}

static void test_cancel_attack_in_worker(void **state)
{
    attack(*state, 0, "overlong", UNTERMINATED);
    fixture *f = *state;
    assert_true(et_slot(&f->et.e, "attacker")->run->process);
}

/* A cancel in an intent of ABI 1.0's size, which has no room for the id it would need. */
static void test_short_cancel_in_process(void **state)
{
    attack(*state, 1, "short_cancel", SHORT_CANCEL);
}

static void test_short_cancel_in_worker(void **state)
{
    attack(*state, 0, "short_cancel", SHORT_CANCEL);
}

/* Daily bars that dip to 8.00 on 01-16: a resting buy at 8.50 fills then, and not before. */
static const char *BT_BARS = ET_DAILY_BARS;

#define BT_BOT(id, params)                                                                         \
    "  - bot_id: " id "\n    plugin: cancel_attack\n    bucket: momentum\n"                        \
    "    asset_class: equity\n    symbols: [TEST]\n"                                              \
    "    session: {trade_start: \"00:00\", trade_end: \"23:59\", manage_until: \"23:59\"}\n"      \
    "    risk: {max_trades_per_day: 5, max_concurrent_positions: 1}\n"                            \
    "    execution: {order_type: limit, tif: gtc}\n"                                              \
    "    signal:\n      mode: cancel_attack_v1\n      params: " params "\n"

static uint64_t rejected_by(const hydra_bt_bot_stats *s, const char *gate)
{
    for (int i = 0; i < s->n_rejected; i++)
        if (strcmp(s->rejected[i].name, gate) == 0)
            return s->rejected[i].n;
    return 0;
}

static void test_cancel_attack_in_backtest(void **state)
{
    (void)state;
    char dir[256], path[1024], text[4096];
    assert_non_null(tu_mkdtemp(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/bars.csv", dir);
    assert_int_equal(tu_write_file(path, BT_BARS), 0);
    snprintf(text, sizeof text,
             "system:\n  timezone: America/New_York\n  state_db_path: %s/state.db\n"
             "  log_path: %s/app.jsonl\n  kill_switch_path: %s/KILL\n"
             "risk:\n  max_limit_distance_pct: 20\n"
             "broker: sim\n"
             "sim:\n  db_path: %s/paper.db\n  initial_cash: 100000\n  slippage_bps: 0\n"
             "  fee_per_share: 0\n  session_open: \"09:30\"\n  session_close: \"16:00\"\n"
             "  series:\n    - symbol: TEST\n      file: %s/bars.csv\n",
             dir, dir, dir, dir, dir);
    snprintf(path, sizeof path, "%s/settings.yaml", dir);
    assert_int_equal(tu_write_file(path, text), 0);
    /* The victim rests a buy at 8.50; the attacker names it (whichever day it was placed), a
     * stranger's id and a made-up one on every bar, and cancels its own identical buy after 3. */
    snprintf(path, sizeof path, "%s/bots.yaml", dir);
    assert_int_equal(
        tu_write_file(path, "bots:\n" BT_BOT("victim", "{bait_price: 8.5, bait_qty: 10}")
                                BT_BOT("attacker",
                                       "{bait_price: 8.5, bait_qty: 10, cancel_own_after: 3, "
                                       "cancel_ids: \"victim-20240102-1 victim-20240103-1 "
                                       "victim-20240104-1 " STRANGER_CID " " MADE_UP_CID "\"}")),
        0);

    hydra_backtest_options opt;
    memset(&opt, 0, sizeof opt);
    snprintf(opt.config_dir, sizeof opt.config_dir, "%s", dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", HYDRA_TEST_BROKEN_DIR);
    opt.cash = opt.fee_per_share = opt.slippage_bps = -1;
    char err[2048] = "";
    int code = 0;
    hydra_backtest *bt = NULL;
    if (hydra_backtest_open(&opt, &bt, err, sizeof err, &code) != 0)
        fail_msg("open: %s", err);
    if (hydra_backtest_run(bt, err, sizeof err) != 0)
        fail_msg("run: %s", err);
    const hydra_bt_result *res = hydra_backtest_result(bt);

    int victim = -1, attacker = -1, victim_trades = 0, attacker_trades = 0;
    for (int i = 0; i < res->n_bots; i++) {
        if (strcmp(res->bot_ids[i], "victim") == 0)
            victim = i;
        if (strcmp(res->bot_ids[i], "attacker") == 0)
            attacker = i;
    }
    assert_true(victim >= 0 && attacker >= 0);
    for (size_t i = 0; i < res->n_trades; i++) {
        print_message("%s %s %.4g @ %.4g, %s\n", res->trades[i].bot_id, res->trades[i].symbol,
                      res->trades[i].qty, res->trades[i].entry_price, res->trades[i].exit_reason);
        if (strcmp(res->trades[i].bot_id, "victim") == 0)
            victim_trades++;
        if (strcmp(res->trades[i].bot_id, "attacker") == 0)
            attacker_trades++;
    }
    /* The victim's resting buy survived every cancel and filled at 8.50 when the price came. */
    assert_int_equal(victim_trades, 1);
    /* The attacker's own buy, identical, was cancelled by it before it could fill. */
    assert_int_equal(attacker_trades, 0);
    /* Every refusal is a gate rejection: five ids a bar, each bar the attacker ran. */
    uint64_t refused = rejected_by(&res->bot_stats[attacker], "cancel");
    print_message("cancels refused: %llu over %llu ticks\n", (unsigned long long)refused,
                  (unsigned long long)res->bot_stats[attacker].ticks);
    assert_true(refused >= 5 * 3);
    assert_int_equal(refused % 5, 0);
    assert_int_equal(rejected_by(&res->bot_stats[victim], "cancel"), 0);
    hydra_backtest_close(bt);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cancel_attack_in_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_attack_in_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_cancel_in_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_cancel_in_worker, setup, teardown),
        cmocka_unit_test(test_cancel_attack_in_backtest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
