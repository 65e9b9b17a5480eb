/*
 * The shipped bots, loaded through the loader like the engine does, fed
 * hand-made snapshot sequences: each reference signal gives exactly the
 * expected intents, the placeholders give none and say so, and the budget
 * (trades left, position slots, open risk) is respected.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "botfix.h"
#include "error.h"
#include "loader.h"

#define SHIPPED HYDRA_TEST_PLUGIN_DIR

typedef struct bot_fixture {
    hydra_bot_cfg cfg;
    hydra_host_services svc;
    fx_log log;
    hydra_bot_instance inst;
    fx_snap f;
    hydra_intent in[FX_INTENTS];
    char err[512];
} bot_fixture;

static int setup(void **state)
{
    bot_fixture *b = calloc(1, sizeof *b);
    if (b == NULL)
        return -1;
    b->svc = fx_services(&b->log);
    fx_snap_init(&b->f);
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    bot_fixture *b = *state;
    hydra_bot_unload(&b->inst);
    free(b);
    return 0;
}

static void load(bot_fixture *b)
{
    int rc = hydra_bot_load(&b->inst, SHIPPED, &b->cfg, &b->svc, b->err, sizeof b->err);
    if (rc != 0)
        fail_msg("load failed: %s", b->err);
}

/* Runs on_tick (or manage) on the fixture's snapshot and returns how many intents came back. */
static uint32_t run(bot_fixture *b, int manage)
{
    const hydra_plugin *p = b->inst.plugin.entry;
    uint32_t i;
    fx_reset_intents(&b->f);
    assert_int_equal(manage ? p->manage(b->inst.bot, &b->f.snap, &b->f.buf)
                            : p->on_tick(b->inst.bot, &b->f.snap, &b->f.buf),
                     0);
    for (i = 0; i < b->f.buf.count; i++) {
        assert_int_equal(hydra_intent_read(&b->f.buf, i, &b->in[i]), 0);
        /* Every intent a shipped bot makes is well formed. */
        assert_true(b->in[i].kind == HYDRA_INTENT_ENTRY || b->in[i].kind == HYDRA_INTENT_EXIT);
        assert_true(b->in[i].side == HYDRA_SIDE_BUY || b->in[i].side == HYDRA_SIDE_SELL);
        assert_true(b->in[i].type == HYDRA_ORDER_MARKET || b->in[i].type == HYDRA_ORDER_LIMIT);
        assert_true((isfinite(b->in[i].qty) && b->in[i].qty > 0) !=
                    (isfinite(b->in[i].notional) && b->in[i].notional > 0));
        assert_true(b->in[i].symbol[0] != '\0');
        if (manage)
            assert_int_equal(b->in[i].kind, HYDRA_INTENT_EXIT);
    }
    return b->f.buf.count;
}

static void reset_symbols(bot_fixture *b)
{
    hydra_budget_view keep = b->f.budget;
    fx_snap_init(&b->f);
    b->f.budget = keep;
    b->f.budget.positions_open = 0;
}

/* ---- momentum ------------------------------------------------------------ */

static void momentum_cfg(bot_fixture *b, const char *mode)
{
    fx_cfg(&b->cfg, "mom_AAPL", "momentum", mode, HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&b->cfg, "AAPL");
    fx_cfg_int(&b->cfg, "roc_bars", 3);
    fx_cfg_int(&b->cfg, "trend_bars", 5);
    fx_cfg_double(&b->cfg, "entry_roc_pct", 1.0);
    fx_cfg_int(&b->cfg, "qty", 10);
}

static void test_momentum_entry_sequence(void **state)
{
    bot_fixture *b = *state;
    static const double warmup[] = {100, 100, 100, 103};
    static const double flat[] = {100, 100, 100, 100, 100, 100};
    static const double rising[] = {100, 100, 100, 100, 101, 103};
    static const double below_trend[] = {110, 110, 110, 95, 95, 97};
    momentum_cfg(b, "roc_trend_v1");
    load(b);

    /* Tick 1: four bars are not enough for a five-bar average. */
    fx_symbol(&b->f, "AAPL", HYDRA_ASSET_EQUITY, warmup, 4);
    assert_int_equal(run(b, 0), 0);

    /* Tick 2: no momentum. */
    reset_symbols(b);
    fx_symbol(&b->f, "AAPL", HYDRA_ASSET_EQUITY, flat, 6);
    assert_int_equal(run(b, 0), 0);

    /* Tick 3: ROC over 3 bars is 103/100 - 1 = 3% > 1%, close 103 > SMA5 100.8: buy 10. */
    reset_symbols(b);
    fx_symbol(&b->f, "AAPL", HYDRA_ASSET_EQUITY, rising, 6);
    assert_int_equal(run(b, 0), 1);
    assert_int_equal(b->in[0].kind, HYDRA_INTENT_ENTRY);
    assert_int_equal(b->in[0].side, HYDRA_SIDE_BUY);
    assert_int_equal(b->in[0].type, HYDRA_ORDER_MARKET);
    assert_int_equal(b->in[0].tif, HYDRA_TIF_DAY);
    assert_int_equal(b->in[0].asset_class, HYDRA_ASSET_EQUITY);
    assert_string_equal(b->in[0].symbol, "AAPL");
    assert_true(b->in[0].qty == 10.0);
    assert_true(b->in[0].notional == 0.0 && b->in[0].limit_price == 0.0);
    assert_string_equal(b->in[0].reason, "roc3 3.00% > 1.00%, close 103.00 > sma5 100.80");
    /* manage has nothing to do without a position. */
    assert_int_equal(run(b, 1), 0);

    /* Tick 4: the same signal while holding shares: no second entry. */
    fx_position(&b->f, "AAPL", HYDRA_ASSET_EQUITY, 10);
    b->f.budget.max_concurrent_positions = 2;
    assert_int_equal(run(b, 0), 0);

    /* Tick 5: strong ROC (97/95 = +2.1%) but the close is under the average: no entry. */
    reset_symbols(b);
    fx_symbol(&b->f, "AAPL", HYDRA_ASSET_EQUITY, below_trend, 6);
    assert_int_equal(run(b, 0), 0);

    /* Placeholder log lines are for placeholder mode only. */
    assert_int_equal(b->log.n_placeholder, 0);
}

static void test_momentum_exits(void **state)
{
    bot_fixture *b = *state;
    static const double trend_lost[] = {100, 100, 101, 103, 104, 100};
    static const double momentum_gone[] = {104, 104, 104, 104, 104, 101};
    static const double still_up[] = {100, 100, 100, 100, 101, 103};
    momentum_cfg(b, "roc_trend_v1");
    load(b);

    /* ROC 100/101 - 1 = -0.99% is not below -1%, but close 100 < SMA5 101.6. */
    fx_symbol(&b->f, "AAPL", HYDRA_ASSET_EQUITY, trend_lost, 6);
    fx_position(&b->f, "AAPL", HYDRA_ASSET_EQUITY, 7);
    assert_int_equal(run(b, 1), 1);
    assert_int_equal(b->in[0].kind, HYDRA_INTENT_EXIT);
    assert_int_equal(b->in[0].side, HYDRA_SIDE_SELL);
    assert_int_equal(b->in[0].type, HYDRA_ORDER_MARKET);
    assert_string_equal(b->in[0].symbol, "AAPL");
    assert_true(b->in[0].qty == 7.0);
    assert_string_equal(b->in[0].reason, "trend lost: close 100.00 < sma5 101.60");

    /* ROC 101/104 - 1 = -2.88% < -1%. */
    reset_symbols(b);
    fx_symbol(&b->f, "AAPL", HYDRA_ASSET_EQUITY, momentum_gone, 6);
    fx_position(&b->f, "AAPL", HYDRA_ASSET_EQUITY, 7);
    assert_int_equal(run(b, 1), 1);
    assert_string_equal(b->in[0].reason, "momentum gone: roc3 -2.88% < -1.00%");

    /* Still trending up: hold. */
    reset_symbols(b);
    fx_symbol(&b->f, "AAPL", HYDRA_ASSET_EQUITY, still_up, 6);
    fx_position(&b->f, "AAPL", HYDRA_ASSET_EQUITY, 7);
    assert_int_equal(run(b, 1), 0);
}

static void test_momentum_budget(void **state)
{
    bot_fixture *b = *state;
    static const double rising[] = {100, 100, 100, 100, 101, 103};
    momentum_cfg(b, "roc_trend_v1");
    load(b);
    fx_symbol(&b->f, "AAPL", HYDRA_ASSET_EQUITY, rising, 6);

    b->f.budget.trades_left_today = 0;
    assert_int_equal(run(b, 0), 0);
    b->f.budget.trades_left_today = 1;
    b->f.budget.positions_open = 1; /* the one slot is used (by another symbol's position) */
    assert_int_equal(run(b, 0), 0);
    b->f.budget.positions_open = 0;

    /* $2 of open risk at 0.5% of 103 (0.515 a share) carries 3 shares, not 10. */
    b->f.budget.max_open_risk = 2.0;
    assert_int_equal(run(b, 0), 1);
    assert_true(b->in[0].qty == 3.0);
    /* Less than one share of room: no entry. */
    b->f.budget.max_open_risk = 10.0;
    b->f.budget.open_risk_used = 9.9;
    assert_int_equal(run(b, 0), 0);
    /* No budget at all (PortfolioBot did not run): no entry. */
    b->f.budget.max_open_risk = 0.0;
    b->f.budget.open_risk_used = 0.0;
    assert_int_equal(run(b, 0), 0);
}

static void test_momentum_placeholder(void **state)
{
    bot_fixture *b = *state;
    static const double rising[] = {100, 100, 100, 100, 101, 103};
    fx_cfg(&b->cfg, "mom_TSLA", "momentum", "placeholder_momentum_v1", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&b->cfg, "TSLA");
    load(b);
    fx_symbol(&b->f, "TSLA", HYDRA_ASSET_EQUITY, rising, 6);
    fx_position(&b->f, "TSLA", HYDRA_ASSET_EQUITY, 1);
    b->f.budget.max_concurrent_positions = 5;
    assert_int_equal(run(b, 0), 0);
    assert_int_equal(run(b, 1), 0);
    assert_int_equal(b->log.n_placeholder, 1); /* one line per on_tick */
    assert_string_equal(b->log.last_bot, "mom_TSLA");
    assert_string_equal(b->log.last_message, "bot mom_TSLA: placeholder_momentum_v1 is a placeholder "
                                              "mode: no signal for TSLA, no intents");
    assert_int_equal(run(b, 0), 0);
    assert_int_equal(b->log.n_placeholder, 2);
}

static void test_momentum_bad_config(void **state)
{
    bot_fixture *b = *state;
    fx_cfg(&b->cfg, "mom_AAPL", "momentum", "moonshot_v9", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&b->cfg, "AAPL");
    assert_int_equal(hydra_bot_load(&b->inst, SHIPPED, &b->cfg, &b->svc, b->err, sizeof b->err),
                     HYDRA_EPLUGIN);
    assert_string_equal(b->err, SHIPPED "/momentum.so: create failed for bot mom_AAPL (status -2)");
    assert_string_equal(b->log.last_message, "bot mom_AAPL: unknown signal.mode \"moonshot_v9\" "
                                              "(known: placeholder_momentum_v1, roc_trend_v1)");

    /* A fractional bar count is refused, not truncated. */
    momentum_cfg(b, "roc_trend_v1");
    b->cfg.params[0].type = HYDRA_PARAM_DOUBLE;
    b->cfg.params[0].d = 2.5;
    assert_int_equal(hydra_bot_load(&b->inst, SHIPPED, &b->cfg, &b->svc, b->err, sizeof b->err),
                     HYDRA_EPLUGIN);
    assert_string_equal(b->log.last_message,
                        "bot mom_AAPL: signal.params.roc_bars must be an integer from 1 to 1000");

    /* Two tickers for a one-ticker bot. */
    momentum_cfg(b, "roc_trend_v1");
    fx_cfg_symbol(&b->cfg, "MSFT");
    assert_int_equal(hydra_bot_load(&b->inst, SHIPPED, &b->cfg, &b->svc, b->err, sizeof b->err),
                     HYDRA_EPLUGIN);
}

/* Many instances in one process keep separate state. */
static void test_momentum_instances_independent(void **state)
{
    bot_fixture *b = *state;
    static const double rising[] = {100, 100, 100, 100, 101, 103};
    hydra_bot_cfg cfg2;
    hydra_bot_instance second;
    fx_cfg(&cfg2, "mom_MSFT", "momentum", "roc_trend_v1", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg2, "MSFT");
    fx_cfg_int(&cfg2, "qty", 4);
    fx_cfg_int(&cfg2, "trend_bars", 5);
    fx_cfg_int(&cfg2, "roc_bars", 3);
    assert_int_equal(hydra_bot_load(&second, SHIPPED, &cfg2, &b->svc, b->err, sizeof b->err), 0);
    momentum_cfg(b, "roc_trend_v1");
    load(b);

    fx_symbol(&b->f, "AAPL", HYDRA_ASSET_EQUITY, rising, 6);
    fx_symbol(&b->f, "MSFT", HYDRA_ASSET_EQUITY, rising, 6);
    assert_int_equal(run(b, 0), 1);
    assert_string_equal(b->in[0].symbol, "AAPL");
    assert_true(b->in[0].qty == 10.0);

    fx_reset_intents(&b->f);
    assert_int_equal(second.plugin.entry->on_tick(second.bot, &b->f.snap, &b->f.buf), 0);
    assert_int_equal(b->f.buf.count, 1);
    assert_string_equal(b->f.items[0].symbol, "MSFT");
    assert_true(b->f.items[0].qty == 4.0);
    hydra_bot_unload(&second);
}

/* ---- crypto -------------------------------------------------------------- */

static void crypto_cfg(bot_fixture *b, const char *mode, int order_type, int use_notional)
{
    fx_cfg(&b->cfg, "crypto_core", "crypto", mode, HYDRA_ASSET_CRYPTO);
    fx_cfg_symbol(&b->cfg, "BTC/USD");
    fx_cfg_symbol(&b->cfg, "ETH/USD");
    b->cfg.order_type = order_type;
    b->cfg.tif = HYDRA_TIF_GTC;
    b->cfg.use_notional = use_notional;
    b->cfg.default_notional_usd = 50;
    fx_cfg_int(&b->cfg, "roc_bars", 3);
    fx_cfg_double(&b->cfg, "entry_roc_pct", 0.3);
    b->f.budget.max_concurrent_positions = 2;
    b->f.budget.stop_loss_pct = 0.75;
}

static const double btc_up[] = {100, 100, 100, 101};
static const double eth_flat[] = {200, 200, 200, 200};
static const double eth_up[] = {200, 200, 200, 202};
static const double btc_down[] = {100, 100, 100, 99};

static void test_crypto_entry_sequence(void **state)
{
    bot_fixture *b = *state;
    crypto_cfg(b, "crypto_roc_v1", HYDRA_ORDER_LIMIT, 1);
    load(b);

    /* Not enough bars yet. */
    fx_symbol(&b->f, "BTC/USD", HYDRA_ASSET_CRYPTO, btc_up, 3);
    fx_symbol(&b->f, "ETH/USD", HYDRA_ASSET_CRYPTO, eth_flat, 3);
    assert_int_equal(run(b, 0), 0);

    /* BTC: ROC 1% > 0.3%: $50 at a marketable limit 101 * 1.001 = 101.101 -> 101.11. ETH flat. */
    reset_symbols(b);
    fx_symbol(&b->f, "BTC/USD", HYDRA_ASSET_CRYPTO, btc_up, 4);
    fx_symbol(&b->f, "ETH/USD", HYDRA_ASSET_CRYPTO, eth_flat, 4);
    assert_int_equal(run(b, 0), 1);
    assert_int_equal(b->in[0].kind, HYDRA_INTENT_ENTRY);
    assert_int_equal(b->in[0].side, HYDRA_SIDE_BUY);
    assert_int_equal(b->in[0].type, HYDRA_ORDER_LIMIT);
    assert_int_equal(b->in[0].tif, HYDRA_TIF_GTC);
    assert_int_equal(b->in[0].asset_class, HYDRA_ASSET_CRYPTO);
    assert_string_equal(b->in[0].symbol, "BTC/USD");
    assert_true(b->in[0].notional == 50.0 && b->in[0].qty == 0.0);
    assert_float_equal(b->in[0].limit_price, 101.11, 1e-9);
    assert_string_equal(b->in[0].reason, "roc3 1.00% > 0.30%, $50.00 at limit 101.1100");

    /* Both fire: one entry each, in the configured order. */
    reset_symbols(b);
    fx_symbol(&b->f, "BTC/USD", HYDRA_ASSET_CRYPTO, btc_up, 4);
    fx_symbol(&b->f, "ETH/USD", HYDRA_ASSET_CRYPTO, eth_up, 4);
    assert_int_equal(run(b, 0), 2);
    assert_string_equal(b->in[0].symbol, "BTC/USD");
    assert_string_equal(b->in[1].symbol, "ETH/USD");
    assert_float_equal(b->in[1].limit_price, 202.21, 1e-9); /* 202.202 rounded up */

    /* Holding BTC: at most one position per pair, so only ETH. */
    fx_position(&b->f, "BTC/USD", HYDRA_ASSET_CRYPTO, 0.5);
    assert_int_equal(run(b, 0), 1);
    assert_string_equal(b->in[0].symbol, "ETH/USD");
}

static void test_crypto_budget(void **state)
{
    bot_fixture *b = *state;
    crypto_cfg(b, "crypto_roc_v1", HYDRA_ORDER_LIMIT, 1);
    load(b);
    fx_symbol(&b->f, "BTC/USD", HYDRA_ASSET_CRYPTO, btc_up, 4);
    fx_symbol(&b->f, "ETH/USD", HYDRA_ASSET_CRYPTO, eth_up, 4);

    /* One trade left today: only the first pair. */
    b->f.budget.trades_left_today = 1;
    assert_int_equal(run(b, 0), 1);
    assert_string_equal(b->in[0].symbol, "BTC/USD");
    /* One position slot left. */
    b->f.budget.trades_left_today = 6;
    b->f.budget.positions_open = 1;
    assert_int_equal(run(b, 0), 1);
    b->f.budget.positions_open = 0;

    /* $0.15 of risk room at a 0.75% stop carries $20 of notional; the second pair gets nothing. */
    b->f.budget.max_open_risk = 0.15;
    assert_int_equal(run(b, 0), 1);
    assert_float_equal(b->in[0].notional, 20.0, 1e-9);
    b->f.budget.max_open_risk = 0.0;
    assert_int_equal(run(b, 0), 0);
}

static void test_crypto_qty_and_market(void **state)
{
    bot_fixture *b = *state;
    static const double cheap[] = {0.5, 0.5, 0.5, 0.502};
    crypto_cfg(b, "crypto_roc_v1", HYDRA_ORDER_LIMIT, 0);
    load(b);

    /* Sized in coins: $50 / 101.11 rounded down to 1e-8. */
    fx_symbol(&b->f, "BTC/USD", HYDRA_ASSET_CRYPTO, btc_up, 4);
    fx_symbol(&b->f, "ETH/USD", HYDRA_ASSET_CRYPTO, cheap, 4);
    assert_int_equal(run(b, 0), 2);
    assert_true(b->in[0].notional == 0.0);
    assert_float_equal(b->in[0].qty, 0.49451092, 1e-12);
    /* Below a dollar the limit moves in 1/100 cent: 0.502 * 1.001 = 0.502502 -> 0.5026. */
    assert_float_equal(b->in[1].limit_price, 0.5026, 1e-12);

    hydra_bot_unload(&b->inst);
    b->cfg.order_type = HYDRA_ORDER_MARKET;
    load(b);
    assert_int_equal(run(b, 0), 2);
    assert_int_equal(b->in[0].type, HYDRA_ORDER_MARKET);
    assert_true(b->in[0].limit_price == 0.0);
    assert_float_equal(b->in[0].qty, 0.4950495, 1e-12); /* $50 / 101 */
}

static void test_crypto_exit(void **state)
{
    bot_fixture *b = *state;
    crypto_cfg(b, "crypto_roc_v1", HYDRA_ORDER_LIMIT, 1);
    load(b);
    fx_symbol(&b->f, "BTC/USD", HYDRA_ASSET_CRYPTO, btc_down, 4);
    fx_symbol(&b->f, "ETH/USD", HYDRA_ASSET_CRYPTO, eth_flat, 4);
    fx_position(&b->f, "BTC/USD", HYDRA_ASSET_CRYPTO, 0.25);
    fx_position(&b->f, "ETH/USD", HYDRA_ASSET_CRYPTO, 1.5);

    /* BTC fell 1% (< -0.3%): sell it all at 99 * 0.999 = 98.901 -> 98.90. ETH flat: hold. */
    assert_int_equal(run(b, 1), 1);
    assert_int_equal(b->in[0].kind, HYDRA_INTENT_EXIT);
    assert_int_equal(b->in[0].side, HYDRA_SIDE_SELL);
    assert_string_equal(b->in[0].symbol, "BTC/USD");
    assert_true(b->in[0].qty == 0.25);
    assert_int_equal(b->in[0].type, HYDRA_ORDER_LIMIT);
    assert_float_equal(b->in[0].limit_price, 98.90, 1e-9);
    assert_string_equal(b->in[0].reason, "momentum gone: roc3 -1.00% < -0.30%");
    /* No entry for a falling pair either. */
    assert_int_equal(run(b, 0), 0);
}

static void test_crypto_placeholder(void **state)
{
    bot_fixture *b = *state;
    crypto_cfg(b, "placeholder_crypto_momo_v1", HYDRA_ORDER_LIMIT, 1);
    load(b);
    fx_symbol(&b->f, "BTC/USD", HYDRA_ASSET_CRYPTO, btc_up, 4);
    fx_symbol(&b->f, "ETH/USD", HYDRA_ASSET_CRYPTO, eth_up, 4);
    assert_int_equal(run(b, 0), 0);
    assert_int_equal(run(b, 1), 0);
    assert_int_equal(b->log.n_placeholder, 1);
    assert_string_equal(b->log.last_message, "bot crypto_core: placeholder_crypto_momo_v1 is a "
                                              "placeholder mode: no signal for BTC/USD, ETH/USD, no intents");
}

static void test_crypto_bad_config(void **state)
{
    bot_fixture *b = *state;
    crypto_cfg(b, "crypto_roc_v1", HYDRA_ORDER_LIMIT, 1);
    b->cfg.default_notional_usd = 0;
    assert_int_equal(hydra_bot_load(&b->inst, SHIPPED, &b->cfg, &b->svc, b->err, sizeof b->err),
                     HYDRA_EPLUGIN);
    assert_string_equal(b->log.last_message, "bot crypto_core: crypto_roc_v1 needs "
                                              "execution.default_notional_usd of at least 1");
    crypto_cfg(b, "roc_trend_v1", HYDRA_ORDER_LIMIT, 1);
    assert_int_equal(hydra_bot_load(&b->inst, SHIPPED, &b->cfg, &b->svc, b->err, sizeof b->err),
                     HYDRA_EPLUGIN);
    assert_string_equal(b->err, SHIPPED "/crypto.so: create failed for bot crypto_core (status -2)");
}

/* ---- options ------------------------------------------------------------- */

static void options_cfg(bot_fixture *b)
{
    fx_cfg(&b->cfg, "opt_core", "options", "momentum_option_v1", HYDRA_ASSET_OPTION);
    fx_cfg_symbol(&b->cfg, "SPY");
    fx_cfg_symbol(&b->cfg, "QQQ");
    fx_cfg_int(&b->cfg, "roc_bars", 2);
    fx_cfg_double(&b->cfg, "entry_roc_pct", 1.0);
    fx_cfg_int(&b->cfg, "contracts", 2);
    b->f.budget.max_concurrent_positions = 3;
    b->f.budget.trades_left_today = 5;
}

static const double spy_up[] = {100, 100, 102};
static const double spy_flat[] = {100, 100, 100};
static const double spy_down[] = {100, 100, 98};
static const double qqq_down[] = {300, 300, 294};
static const double qqq_flat[] = {300, 300, 300};

/* A chain as the host would send it after chain_rules: both underlyings, calls and puts. */
static void options_chain(fx_snap *f)
{
    fx_option(f, "SPY260220C00105000", "SPY", 1, 105, 20260220, 0.30, 1.10);
    fx_option(f, "SPY260220C00102000", "SPY", 1, 102, 20260220, 0.45, 2.40);
    fx_option(f, "SPY260116C00104000", "SPY", 1, 104, 20260116, 0.35, 1.25); /* ties 0.45, nearer */
    fx_option(f, "SPY260116P00096000", "SPY", 0, 96, 20260116, -0.40, 1.30);
    fx_option(f, "QQQ260116C00305000", "QQQ", 1, 305, 20260116, 0.40, 3.10);
    fx_option(f, "QQQ260116P00292000", "QQQ", 0, 292, 20260116, -0.42, 3.20);
    fx_option(f, "QQQ260116P00290000", "QQQ", 0, 290, 20260116, -0.38, 3.00); /* ties, lower strike */
}

static void test_options_entry_sequence(void **state)
{
    bot_fixture *b = *state;
    options_cfg(b);
    load(b);

    /* Neither underlying moved enough. */
    fx_symbol(&b->f, "SPY", HYDRA_ASSET_EQUITY, spy_flat, 3);
    fx_symbol(&b->f, "QQQ", HYDRA_ASSET_EQUITY, qqq_flat, 3);
    options_chain(&b->f);
    assert_int_equal(run(b, 0), 0);

    /* SPY +2%: a call; QQQ -2%: a put. Both |delta| ties resolve as documented. */
    reset_symbols(b);
    fx_symbol(&b->f, "SPY", HYDRA_ASSET_EQUITY, spy_up, 3);
    fx_symbol(&b->f, "QQQ", HYDRA_ASSET_EQUITY, qqq_down, 3);
    options_chain(&b->f);
    assert_int_equal(run(b, 0), 2);
    assert_int_equal(b->in[0].kind, HYDRA_INTENT_ENTRY);
    assert_int_equal(b->in[0].side, HYDRA_SIDE_BUY);
    assert_int_equal(b->in[0].type, HYDRA_ORDER_LIMIT);
    assert_int_equal(b->in[0].tif, HYDRA_TIF_DAY);
    assert_int_equal(b->in[0].asset_class, HYDRA_ASSET_OPTION);
    assert_string_equal(b->in[0].symbol, "SPY260116C00104000");
    assert_true(b->in[0].qty == 2.0);
    assert_true(b->in[0].limit_price == 1.25);
    assert_string_equal(b->in[0].reason, "SPY roc2 2.00% > 1.00%: call delta 0.35 at ask 1.25");
    assert_string_equal(b->in[1].symbol, "QQQ260116P00290000");
    assert_true(b->in[1].qty == 2.0);
    assert_true(b->in[1].limit_price == 3.00);
    assert_string_equal(b->in[1].reason, "QQQ roc2 -2.00% < -1.00%: put delta -0.38 at ask 3.00");

    /* Holding a SPY contract: no second one on SPY; QQQ still fires. */
    fx_position(&b->f, "SPY260116C00104000", HYDRA_ASSET_OPTION, 2);
    assert_int_equal(run(b, 0), 1);
    assert_string_equal(b->in[0].symbol, "QQQ260116P00290000");

    /* Holding SPY stock (not an option) does not block SPY options. */
    reset_symbols(b);
    fx_symbol(&b->f, "SPY", HYDRA_ASSET_EQUITY, spy_down, 3);
    fx_symbol(&b->f, "QQQ", HYDRA_ASSET_EQUITY, qqq_flat, 3);
    options_chain(&b->f);
    fx_position(&b->f, "SPY", HYDRA_ASSET_EQUITY, 10);
    assert_int_equal(run(b, 0), 1);
    assert_string_equal(b->in[0].symbol, "SPY260116P00096000");
}

static void test_options_budget_and_chain(void **state)
{
    bot_fixture *b = *state;
    options_cfg(b);
    load(b);
    fx_symbol(&b->f, "SPY", HYDRA_ASSET_EQUITY, spy_up, 3);
    fx_symbol(&b->f, "QQQ", HYDRA_ASSET_EQUITY, qqq_down, 3);
    options_chain(&b->f);

    /* $200 of room: one SPY contract ($125); the QQQ put ($300) no longer fits. */
    b->f.budget.max_open_risk = 200;
    assert_int_equal(run(b, 0), 1);
    assert_string_equal(b->in[0].symbol, "SPY260116C00104000");
    assert_true(b->in[0].qty == 1.0);

    b->f.budget.max_open_risk = 1000;
    b->f.budget.trades_left_today = 1;
    assert_int_equal(run(b, 0), 1);
    b->f.budget.trades_left_today = 0;
    assert_int_equal(run(b, 0), 0);

    /* An empty chain (nothing passed chain_rules): no entry. */
    b->f.budget.trades_left_today = 5;
    b->f.snap.n_options = 0;
    assert_int_equal(run(b, 0), 0);
}

static void test_options_exits(void **state)
{
    bot_fixture *b = *state;
    options_cfg(b);
    load(b);
    fx_symbol(&b->f, "SPY", HYDRA_ASSET_EQUITY, spy_down, 3);
    fx_symbol(&b->f, "QQQ", HYDRA_ASSET_EQUITY, qqq_down, 3);
    fx_position(&b->f, "SPY260116C00104000", HYDRA_ASSET_OPTION, 2); /* call, SPY fell: exit */
    fx_position(&b->f, "QQQ260116P00290000", HYDRA_ASSET_OPTION, 1); /* put, QQQ fell: hold */
    fx_position(&b->f, "SPY", HYDRA_ASSET_EQUITY, 10);               /* not an option: ignored */
    assert_int_equal(run(b, 1), 1);
    assert_int_equal(b->in[0].kind, HYDRA_INTENT_EXIT);
    assert_int_equal(b->in[0].side, HYDRA_SIDE_SELL);
    assert_int_equal(b->in[0].type, HYDRA_ORDER_MARKET);
    assert_int_equal(b->in[0].tif, HYDRA_TIF_DAY);
    assert_int_equal(b->in[0].asset_class, HYDRA_ASSET_OPTION);
    assert_string_equal(b->in[0].symbol, "SPY260116C00104000");
    assert_true(b->in[0].qty == 2.0);
    assert_string_equal(b->in[0].reason, "SPY momentum reversed against the call: roc2 -2.00%");
}

static void test_options_bad_config(void **state)
{
    bot_fixture *b = *state;
    options_cfg(b);
    snprintf(b->cfg.signal_mode, sizeof b->cfg.signal_mode, "placeholder_momentum_v1");
    assert_int_equal(hydra_bot_load(&b->inst, SHIPPED, &b->cfg, &b->svc, b->err, sizeof b->err),
                     HYDRA_EPLUGIN);
    assert_string_equal(b->log.last_message, "bot opt_core: unknown signal.mode "
                                              "\"placeholder_momentum_v1\" (known: momentum_option_v1)");
}

/* The same snapshot always gives the same intents. */
static void test_deterministic(void **state)
{
    bot_fixture *b = *state;
    hydra_intent first[FX_INTENTS];
    uint32_t n;
    options_cfg(b);
    load(b);
    fx_symbol(&b->f, "SPY", HYDRA_ASSET_EQUITY, spy_up, 3);
    fx_symbol(&b->f, "QQQ", HYDRA_ASSET_EQUITY, qqq_down, 3);
    options_chain(&b->f);
    n = run(b, 0);
    memcpy(first, b->in, sizeof first);
    assert_int_equal(run(b, 0), n);
    assert_memory_equal(first, b->in, n * sizeof(hydra_intent));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_momentum_entry_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_momentum_exits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_momentum_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_momentum_placeholder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_momentum_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_momentum_instances_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crypto_entry_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crypto_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crypto_qty_and_market, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crypto_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crypto_placeholder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crypto_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_entry_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_budget_and_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_exits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
