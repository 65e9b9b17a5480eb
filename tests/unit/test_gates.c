/*
 * Gates: every gate has a case that passes and one that rejects, naming
 * the gate and the numbers; sizes are capped to open risk, the notional cap
 * and buying power with exact results; exits are capped to what is held
 * and are never blocked by budgets or counters.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gates.h"

/* One intent and the facts it is judged on, built from the shipped configuration. */
typedef struct fixture {
    hydra_bot_cfg bot;
    hydra_budget budget;
    hydra_bot_day day;
    hydra_gate_facts f;
    hydra_intent in;
    hydra_gate_result r;
} fixture;

/*
 * mom_AAPL with its shipped budget (250 daily loss, 500 open risk, 3
 * trades, 1 position) and settings (10 orders a minute, 5000 per order, 5%
 * limit distance), 70000 spendable; AAPL at 100.00; a market DAY buy of 10
 * shares (worth 1000, risk 5 at the 0.5% stop).
 */
static void fx_init(fixture *x)
{
    memset(x, 0, sizeof *x);
    strcpy(x->bot.bot_id, "mom_AAPL");
    x->bot.kind = HYDRA_BOT_MOMENTUM;
    x->bot.enabled = 1;
    x->bot.stop_loss_pct = 0.50;
    x->bot.take_profit_pct = 1.00;
    x->bot.order_type = HYDRA_ORDER_MARKET;
    x->bot.tif = HYDRA_TIF_DAY;
    x->bot.max_trades_per_day = 3;
    x->bot.max_concurrent_positions = 1;

    strcpy(x->budget.bot_id, "mom_AAPL");
    strcpy(x->budget.day, "2026-01-13");
    x->budget.max_daily_loss = 250.0;
    x->budget.max_open_risk = 500.0;
    x->budget.max_trades_per_day = 3;
    x->budget.max_concurrent_positions = 1;
    x->budget.allowed = 1;
    x->budget.enabled = 1;

    x->f.bot = &x->bot;
    x->f.budget = &x->budget;
    x->f.day = &x->day;
    x->f.positions_open = 0;
    x->f.open_risk_used = 0.0;
    x->f.orders_last_minute = 0;
    x->f.max_orders_per_minute = 10;
    x->f.last_price = 100.0;
    x->f.multiplier = 1.0;
    x->f.spendable_cash = 70000.0;
    x->f.max_notional_per_order = 5000.0;
    x->f.max_limit_distance_pct = 5.0;
    x->f.symbol_known = 1;
    x->f.held_qty = 0.0;

    x->in.struct_size = sizeof x->in;
    x->in.kind = HYDRA_INTENT_ENTRY;
    x->in.side = HYDRA_SIDE_BUY;
    x->in.type = HYDRA_ORDER_MARKET;
    x->in.tif = HYDRA_TIF_DAY;
    x->in.asset_class = HYDRA_ASSET_EQUITY;
    strcpy(x->in.symbol, "AAPL");
    x->in.qty = 10.0;
}

/* The shipped options bot buying SPY calls at a 2.50 premium (250 a contract). */
static void fx_option(fixture *x)
{
    strcpy(x->bot.bot_id, "opt_core");
    x->bot.stop_loss_pct = 30.0;
    x->bot.take_profit_pct = 40.0;
    strcpy(x->in.symbol, "SPY260116C00480000");
    x->in.asset_class = HYDRA_ASSET_OPTION;
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 2.50;
    x->f.last_price = 2.50;
    x->f.multiplier = 100.0;
}

/* The shipped crypto bot: limit GTC orders sized in dollars. */
static void fx_crypto(fixture *x)
{
    strcpy(x->bot.bot_id, "crypto_core");
    x->bot.stop_loss_pct = 0.75;
    x->bot.tif = HYDRA_TIF_GTC;
    x->bot.order_type = HYDRA_ORDER_LIMIT;
    strcpy(x->in.symbol, "BTC/USD");
    x->in.asset_class = HYDRA_ASSET_CRYPTO;
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.tif = HYDRA_TIF_GTC;
    x->in.limit_price = 40000.0;
    x->in.qty = 0.0;
    x->in.notional = 50.0;
    x->f.last_price = 40000.0;
}

static void entry(fixture *x)
{
    hydra_gates_entry(&x->f, &x->in, &x->r);
}

static void exit_(fixture *x)
{
    hydra_gates_exit(&x->f, &x->in, &x->r);
}

static void assert_rejected(const fixture *x, const char *gate, const char *detail)
{
    if (x->r.pass != 0 || strcmp(x->r.gate, gate) != 0 || strcmp(x->r.detail, detail) != 0)
        print_error("want reject %s \"%s\", got pass=%d gate=%s \"%s\"\n", gate, detail, x->r.pass,
                    x->r.gate, x->r.detail);
    assert_int_equal(x->r.pass, 0);
    assert_string_equal(x->r.gate, gate);
    assert_string_equal(x->r.detail, detail);
    assert_int_equal(x->r.resized, 0);
}

static void assert_passed(const fixture *x)
{
    if (x->r.pass != 1)
        print_error("want pass, got gate=%s \"%s\"\n", x->r.gate, x->r.detail);
    assert_int_equal(x->r.pass, 1);
    assert_string_equal(x->r.gate, "");
}

/* ---- the untouched order passes every gate ---- */

static void test_entry_passes_unchanged(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 0);
    assert_float_equal(x.in.qty, 10.0, 0.0);
    assert_float_equal(x.in.notional, 0.0, 0.0);
    assert_string_equal(x.r.detail, "asked 10 shares; 10 shares worth 1000.00 (risk 5.00)");
}

/* ---- every entry gate: one change that rejects, one just inside that passes ---- */

typedef void (*mutate_fn)(fixture *x);

typedef struct gate_case {
    const char *name;
    mutate_fn reject;
    const char *gate;
    const char *detail;
    mutate_fn pass; /* the same gate at its boundary, passing; NULL when none applies */
} gate_case;

static void m_symbol_unknown(fixture *x)
{
    x->f.symbol_known = 0;
    strcpy(x->in.symbol, "XYZ");
}
static void m_side_sell(fixture *x)
{
    x->in.side = HYDRA_SIDE_SELL;
}
static void m_qty_nan(fixture *x)
{
    x->in.qty = NAN;
}
static void m_qty_inf(fixture *x)
{
    x->in.qty = INFINITY;
}
static void m_qty_negative(fixture *x)
{
    x->in.qty = -5.0;
}
static void m_qty_zero(fixture *x)
{
    x->in.qty = 0.0;
}
static void m_both_sizes(fixture *x)
{
    x->in.notional = 500.0;
}
static void m_notional_nan(fixture *x)
{
    x->in.qty = 0.0;
    x->in.notional = NAN;
}
static void m_notional_negative(fixture *x)
{
    x->in.qty = 0.0;
    x->in.notional = -50.0;
}
static void m_notional_only(fixture *x)
{
    x->in.qty = 0.0;
    x->in.notional = 500.0;
}
static void m_type_bad(fixture *x)
{
    x->in.type = 7;
}
static void m_tif_bad(fixture *x)
{
    x->in.tif = 9;
}
static void m_asset_bad(fixture *x)
{
    x->in.asset_class = 0;
}
static void m_price_zero(fixture *x)
{
    x->f.last_price = 0.0;
}
static void m_price_nan(fixture *x)
{
    x->f.last_price = NAN;
}
static void m_multiplier_zero(fixture *x)
{
    x->f.multiplier = 0.0;
}
static void m_limit_far(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 105.01;
}
static void m_limit_edge(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 105.00; /* exactly 5% */
}
/* 1.47 is 5% above 1.40, though the division gives 5.000000000000004. */
static void m_limit_edge_inexact(fixture *x)
{
    x->f.last_price = 1.40;
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 1.47;
}
static void m_limit_far_inexact(fixture *x)
{
    x->f.last_price = 1.40;
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 1.4701;
}
static void m_limit_below_edge(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 95.00;
}
static void m_limit_below_far(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 94.99;
}
static void m_limit_zero(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 0.0;
}
static void m_no_budget(fixture *x)
{
    x->f.budget = NULL;
}
static void m_budget_invalid(fixture *x)
{
    x->budget.max_open_risk = 0.0;
}
static void m_budget_nan(fixture *x)
{
    x->budget.max_daily_loss = NAN;
}
static void m_not_allowed(fixture *x)
{
    x->budget.allowed = 0;
}
static void m_loss_at_budget(fixture *x)
{
    x->day.realized_pnl = -250.0;
}
static void m_loss_below_budget(fixture *x)
{
    x->day.realized_pnl = -249.99;
}
static void m_trades_used(fixture *x)
{
    x->day.trades = 3;
}
static void m_trades_left(fixture *x)
{
    x->day.trades = 2;
}
static void m_positions_full(fixture *x)
{
    x->f.positions_open = 1;
}
static void m_positions_free(fixture *x)
{
    x->f.positions_open = 0;
}
static void m_orders_full(fixture *x)
{
    x->f.orders_last_minute = 10;
}
static void m_orders_left(fixture *x)
{
    x->f.orders_last_minute = 9;
}
static void m_whole_rounds_to_zero(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 100.0;
    x->in.qty = 0.5;
}
static void m_whole_one_share(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 100.0;
    x->in.qty = 1.0;
}
static void m_risk_all_used(fixture *x)
{
    x->f.open_risk_used = 500.0;
}
static void m_risk_exactly_fits(fixture *x)
{
    x->f.open_risk_used = 495.0; /* 5.00 left, the order's risk is 5.00 */
}
static void m_risk_unknown(fixture *x)
{
    x->f.open_risk_used = NAN;
}
static void m_risk_too_little_for_a_share(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 100.0;
    x->f.open_risk_used = 499.9; /* 0.10 left buys 20.00 of notional: not one share */
}
static void m_notional_cap_zero(fixture *x)
{
    x->f.max_notional_per_order = 0.0;
}
static void m_notional_cap_below_a_share(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 100.0;
    x->f.max_notional_per_order = 99.99;
}
static void m_notional_cap_exact(fixture *x)
{
    x->f.max_notional_per_order = 1000.0;
}
static void m_no_cash(fixture *x)
{
    x->f.spendable_cash = 0.0;
}
static void m_cash_below_a_share(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 100.0;
    x->f.spendable_cash = 99.0;
}
static void m_cash_exact(fixture *x)
{
    x->f.spendable_cash = 1000.0;
}
static void m_cash_nan(fixture *x)
{
    x->f.spendable_cash = NAN;
}

static const gate_case entry_cases[] = {
    {"symbol not declared", m_symbol_unknown, "symbol_declared",
     "XYZ is not declared by mom_AAPL nor offered in its chain", NULL},
    {"entry that sells", m_side_sell, "side", "entries must buy, got side 2 (sell)", NULL},
    {"qty NaN", m_qty_nan, "quantity_valid",
     "qty nan and notional 0: exactly one must be finite and positive", NULL},
    {"qty inf", m_qty_inf, "quantity_valid",
     "qty inf and notional 0: exactly one must be finite and positive", NULL},
    {"qty negative", m_qty_negative, "quantity_valid",
     "qty -5 and notional 0: exactly one must be finite and positive", NULL},
    {"qty and notional zero", m_qty_zero, "quantity_valid",
     "qty 0 and notional 0: exactly one must be finite and positive", NULL},
    {"qty and notional both set", m_both_sizes, "quantity_valid",
     "qty 10 and notional 500: exactly one must be finite and positive", m_notional_only},
    {"notional NaN", m_notional_nan, "quantity_valid",
     "qty 0 and notional nan: exactly one must be finite and positive", NULL},
    {"notional negative", m_notional_negative, "quantity_valid",
     "qty 0 and notional -50: exactly one must be finite and positive", NULL},
    {"order type unknown", m_type_bad, "order_form", "order type 7 is neither market nor limit",
     NULL},
    {"tif unknown", m_tif_bad, "order_form", "time in force 9 is not day, gtc or ioc", NULL},
    {"asset class unknown", m_asset_bad, "order_form",
     "asset class 0 is not equity, crypto or option", NULL},
    {"last price zero", m_price_zero, "price_known", "no valid last price for AAPL (0)", NULL},
    {"last price NaN", m_price_nan, "price_known", "no valid last price for AAPL (nan)", NULL},
    {"multiplier zero", m_multiplier_zero, "price_known",
     "no valid contract multiplier for AAPL (0)", NULL},
    {"limit above the band", m_limit_far, "limit_price_sane",
     "limit 105.0100 is 5.01% from last 100.0000, max 5.00%", m_limit_edge},
    {"limit above the band, inexact edge", m_limit_far_inexact, "limit_price_sane",
     "limit 1.4701 is 5.01% from last 1.4000, max 5.00%", m_limit_edge_inexact},
    {"limit below the band", m_limit_below_far, "limit_price_sane",
     "limit 94.9900 is 5.01% from last 100.0000, max 5.00%", m_limit_below_edge},
    {"limit price zero", m_limit_zero, "limit_price_sane",
     "limit price 0 for AAPL is not a positive number", NULL},
    {"no budget", m_no_budget, "budget_missing", "no budget for mom_AAPL today", NULL},
    {"budget zero", m_budget_invalid, "budget_missing",
     "invalid budget for mom_AAPL: max_daily_loss 250, max_open_risk 0", NULL},
    {"budget NaN", m_budget_nan, "budget_missing",
     "invalid budget for mom_AAPL: max_daily_loss nan, max_open_risk 500", NULL},
    {"budget not allowed", m_not_allowed, "bot_allowed",
     "budget for mom_AAPL says allowed=0 enabled=1", NULL},
    {"daily loss reached", m_loss_at_budget, "daily_loss",
     "realised pnl -250.00 today, daily loss budget 250.00", m_loss_below_budget},
    {"trades used up", m_trades_used, "trades_per_day", "3 of 3 trades used today", m_trades_left},
    {"positions full", m_positions_full, "concurrent_positions", "1 of 1 positions open",
     m_positions_free},
    {"orders per minute", m_orders_full, "orders_per_minute",
     "10 orders in the last minute (all bots), limit 10", m_orders_left},
    {"whole shares round to zero", m_whole_rounds_to_zero, "quantity_valid",
     "qty 0.5 rounds down to 0 whole shares", m_whole_one_share},
    {"open risk used up", m_risk_all_used, "open_risk", "open risk 500.00 of 500.00 used",
     m_risk_exactly_fits},
    {"open risk unknown", m_risk_unknown, "open_risk", "open risk in use is unknown (nan)", NULL},
    {"open risk left buys no share", m_risk_too_little_for_a_share, "open_risk",
     "open risk 499.90 of 500.00 used, 0.10 left allows notional 20.00: 0 shares fit at "
     "100.0000 each (order worth 1000.00)",
     NULL},
    {"notional cap zero", m_notional_cap_zero, "notional_cap",
     "max notional per order 0.00: nothing fits (order worth 1000.00)", m_notional_cap_exact},
    {"notional cap below one share", m_notional_cap_below_a_share, "notional_cap",
     "max notional per order 99.99: 0 shares fit at 100.0000 each (order worth 1000.00)", NULL},
    {"no spendable cash", m_no_cash, "buying_power",
     "spendable cash after reserve 0.00: nothing fits (order worth 1000.00)", m_cash_exact},
    {"cash below one share", m_cash_below_a_share, "buying_power",
     "spendable cash after reserve 99.00: 0 shares fit at 100.0000 each (order worth 1000.00)",
     NULL},
    {"cash unknown", m_cash_nan, "buying_power",
     "spendable cash after reserve 0.00: nothing fits (order worth 1000.00)", NULL},
};

static void test_entry_gates_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof entry_cases / sizeof entry_cases[0]; i++) {
        const gate_case *c = &entry_cases[i];
        fixture x;
        print_message("case: %s\n", c->name);
        fx_init(&x);
        c->reject(&x);
        entry(&x);
        assert_rejected(&x, c->gate, c->detail);
        if (c->pass != NULL) {
            fx_init(&x);
            c->pass(&x);
            entry(&x);
            assert_passed(&x);
            assert_int_equal(x.r.resized, 0);
        }
    }
}

/* Rejections are reported in the documented order: the first failing gate names itself. */
static void test_entry_gate_order(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    /* Every counter is exhausted at once; the earliest gate reports. */
    x.day.realized_pnl = -300.0;
    x.day.trades = 3;
    x.f.positions_open = 1;
    x.f.orders_last_minute = 10;
    x.f.open_risk_used = 500.0;
    entry(&x);
    assert_string_equal(x.r.gate, "daily_loss");
    x.day.realized_pnl = 0.0;
    entry(&x);
    assert_string_equal(x.r.gate, "trades_per_day");
    x.day.trades = 0;
    entry(&x);
    assert_string_equal(x.r.gate, "concurrent_positions");
    x.f.positions_open = 0;
    entry(&x);
    assert_string_equal(x.r.gate, "orders_per_minute");
    x.f.orders_last_minute = 0;
    entry(&x);
    assert_string_equal(x.r.gate, "open_risk");
    x.f.open_risk_used = 0.0;
    entry(&x);
    assert_passed(&x);
}

static void test_entry_missing_facts(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    hydra_gates_entry(NULL, &x.in, &x.r);
    assert_rejected(&x, "facts_missing", "no facts or no intent to check");
    hydra_gates_entry(&x.f, NULL, &x.r);
    assert_rejected(&x, "facts_missing", "no facts or no intent to check");
    x.f.day = NULL;
    entry(&x);
    assert_rejected(&x, "facts_missing", "no bot configuration or no daily counters");
}

/* ---- capping: exact resulting sizes ---- */

/* 200 shares (20000) over the 5000 cap: fractional market DAY order, 50 shares exactly. */
static void test_cap_notional_market_equity(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    x.in.qty = 200.0;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 50.0, 1e-12);
    assert_float_equal(x.in.notional, 0.0, 0.0);
    assert_string_equal(x.r.detail, "asked 200 shares; 200 shares worth 20000.00 (risk 100.00); "
                                    "notional_cap capped 20000.00 to 50 shares (5000.00)");
}

/* 1.30 of open risk left at a 0.5% stop allows 260.00: 2.6 shares at market, 2 with a limit. */
static void test_cap_open_risk_fractional_and_whole(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    x.f.open_risk_used = 498.7;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 2.6, 1e-12);

    fx_init(&x);
    x.f.open_risk_used = 498.7;
    x.in.type = HYDRA_ORDER_LIMIT;
    x.in.limit_price = 100.0;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 2.0, 0.0);

    /* A GTC market order is whole shares too. */
    fx_init(&x);
    x.f.open_risk_used = 498.7;
    x.in.tif = HYDRA_TIF_GTC;
    entry(&x);
    assert_passed(&x);
    assert_float_equal(x.in.qty, 2.0, 0.0);
}

/* Without a stop the whole notional is at risk: 500 of open risk allows 500 of notional. */
static void test_cap_open_risk_without_stop(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    x.bot.stop_loss_pct = 0.0;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 5.0, 1e-12);
}

/*
 * opt_core: 10 contracts at 2.50 is 2500 with 750 at risk at its 30% stop;
 * 500 of open risk allows 1666.67 of premium: 6 whole contracts (1500).
 */
static void test_cap_options_whole_contracts(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    fx_option(&x);
    x.in.qty = 10.0;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 6.0, 0.0);
    assert_string_equal(x.r.detail,
                        "asked 10 contracts; 10 contracts worth 2500.00 (risk 750.00); open_risk "
                        "capped 2500.00 to 6 contracts (1500.00)");

    /* A dollar amount for an option becomes whole contracts: 1000 buys 4. */
    fx_init(&x);
    fx_option(&x);
    x.in.qty = 0.0;
    x.in.notional = 1000.0;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 4.0, 0.0);
    assert_float_equal(x.in.notional, 0.0, 0.0);

    /*
     * 330 of notional at 1.10 a share (110.00000000000001 a contract in
     * floating point) is 3 contracts, not 2.
     */
    fx_init(&x);
    fx_option(&x);
    x.in.limit_price = 1.10;
    x.f.last_price = 1.10;
    x.in.qty = 10.0;
    x.f.max_notional_per_order = 330.0;
    entry(&x);
    assert_passed(&x);
    assert_float_equal(x.in.qty, 3.0, 0.0);

    /* Less than one contract's premium. */
    fx_init(&x);
    fx_option(&x);
    x.in.qty = 0.0;
    x.in.notional = 100.0;
    entry(&x);
    assert_rejected(&x, "quantity_valid", "notional 100.00 buys 0 whole contracts at 250.0000");

    /* The notional cap counts the multiplier: 249.99 is less than one contract. */
    fx_init(&x);
    fx_option(&x);
    x.in.qty = 1.0;
    x.f.max_notional_per_order = 249.99;
    entry(&x);
    assert_rejected(&x, "notional_cap",
                    "max notional per order 249.99: 0 contracts fit at 250.0000 each (order worth "
                    "250.00)");
}

/* crypto_core sizes in dollars: capped notional is floored to cents and stays notional. */
static void test_cap_crypto_notional(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    fx_crypto(&x);
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 0);
    assert_float_equal(x.in.notional, 50.0, 0.0);

    fx_init(&x);
    fx_crypto(&x);
    x.in.notional = 5000.0;
    x.f.spendable_cash = 1234.567;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.notional, 1234.56, 1e-9);
    assert_float_equal(x.in.qty, 0.0, 0.0);

    /* In coins: 0.5 BTC (20000) over the 5000 cap is 0.125 BTC, fractional even with a limit. */
    fx_init(&x);
    fx_crypto(&x);
    x.in.notional = 0.0;
    x.in.qty = 0.5;
    entry(&x);
    assert_passed(&x);
    assert_float_equal(x.in.qty, 0.125, 1e-12);
    assert_float_equal(x.in.notional, 0.0, 0.0);
}

/* Equity in dollars: kept as notional at market DAY, turned into whole shares for a limit. */
static void test_equity_notional_forms(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    x.in.qty = 0.0;
    x.in.notional = 1050.0;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 0);
    assert_float_equal(x.in.notional, 1050.0, 0.0);
    assert_float_equal(x.in.qty, 0.0, 0.0);

    fx_init(&x);
    x.in.qty = 0.0;
    x.in.notional = 1050.0;
    x.in.type = HYDRA_ORDER_LIMIT;
    x.in.limit_price = 100.0;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 10.0, 0.0);
    assert_float_equal(x.in.notional, 0.0, 0.0);
}

/* Limit orders are valued at the limit price, not the last price. */
static void test_limit_price_values_the_order(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    x.in.type = HYDRA_ORDER_LIMIT;
    x.in.limit_price = 104.0;
    x.in.qty = 100.0; /* 10400 at the limit, 10000 at the last price */
    entry(&x);
    assert_passed(&x);
    /* 5000 / 104 = 48.08: 48 whole shares. At the last price it would be 50. */
    assert_float_equal(x.in.qty, 48.0, 0.0);
}

/* The caps apply in order and the smallest wins; each one that bound is in the detail. */
static void test_caps_compose(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    x.in.qty = 1000.0; /* 100000, risk 500 */
    x.budget.max_open_risk = 1000.0;
    x.f.spendable_cash = 3000.0;
    entry(&x);
    assert_passed(&x);
    assert_float_equal(x.in.qty, 30.0, 1e-12);
    assert_string_equal(
        x.r.detail, "asked 1000 shares; 1000 shares worth 100000.00 (risk 500.00); notional_cap "
                    "capped 100000.00 to 50 shares (5000.00); buying_power capped 5000.00 to "
                    "30 shares (3000.00)");
}

/* A tif of 0 takes the bot's: GTC makes an equity order whole shares. */
static void test_tif_default_from_bot(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    x.bot.tif = HYDRA_TIF_GTC;
    x.in.tif = 0;
    x.in.qty = 2.5;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.in.tif, HYDRA_TIF_GTC);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 2.0, 0.0);

    /* A bot without a configured tif gets DAY: fractional stays. */
    fx_init(&x);
    x.bot.tif = 0;
    x.in.tif = 0;
    x.in.qty = 2.5;
    entry(&x);
    assert_passed(&x);
    assert_int_equal(x.in.tif, HYDRA_TIF_DAY);
    assert_float_equal(x.in.qty, 2.5, 0.0);
}

/* A rejected intent keeps the sizes it asked for. */
static void test_reject_does_not_resize(void **state)
{
    (void)state;
    fixture x;
    fx_init(&x);
    x.in.qty = 200.0;
    x.f.spendable_cash = 0.0;
    entry(&x);
    assert_int_equal(x.r.pass, 0);
    assert_string_equal(x.r.gate, "buying_power");
    assert_float_equal(x.in.qty, 200.0, 0.0);
}

static void test_order_risk(void **state)
{
    (void)state;
    hydra_bot_cfg b;
    memset(&b, 0, sizeof b);
    b.stop_loss_pct = 0.5;
    assert_float_equal(hydra_gates_order_risk(&b, 1000.0), 5.0, 1e-12);
    b.stop_loss_pct = 30.0;
    assert_float_equal(hydra_gates_order_risk(&b, 2500.0), 750.0, 1e-9);
    b.stop_loss_pct = 0.0;
    assert_float_equal(hydra_gates_order_risk(&b, 1000.0), 1000.0, 0.0);
    b.stop_loss_pct = 150.0;
    assert_float_equal(hydra_gates_order_risk(&b, 1000.0), 1000.0, 0.0);
    b.stop_loss_pct = NAN;
    assert_float_equal(hydra_gates_order_risk(&b, 1000.0), 1000.0, 0.0);
    assert_float_equal(hydra_gates_order_risk(NULL, 1000.0), 1000.0, 0.0);
    assert_float_equal(hydra_gates_order_risk(&b, -5.0), 0.0, 0.0);
    assert_true(isinf(hydra_gates_order_risk(&b, NAN)));
}

/* ---- exits ---- */

/* An exit of 10 AAPL held by mom_AAPL. */
static void fx_exit(fixture *x)
{
    fx_init(x);
    x->in.kind = HYDRA_INTENT_EXIT;
    x->in.side = HYDRA_SIDE_SELL;
    x->f.held_qty = 10.0;
}

static void test_exit_passes(void **state)
{
    (void)state;
    fixture x;
    fx_exit(&x);
    exit_(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 0);
    assert_float_equal(x.in.qty, 10.0, 0.0);
    assert_string_equal(x.r.detail, "exit of 10 shares (held 10)");
}

static void xm_not_held(fixture *x)
{
    x->f.held_qty = 0.0;
}
static void xm_buy(fixture *x)
{
    x->in.side = HYDRA_SIDE_BUY;
}
static void xm_qty_nan(fixture *x)
{
    x->in.qty = NAN;
}
static void xm_both(fixture *x)
{
    x->in.notional = 100.0;
}
static void xm_type_bad(fixture *x)
{
    x->in.type = 0;
}
static void xm_limit_far(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 90.0;
}
static void xm_limit_edge(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 95.0;
}
static void xm_limit_no_price(fixture *x)
{
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 95.0;
    x->f.last_price = NAN;
}
static void xm_notional_no_price(fixture *x)
{
    x->in.qty = 0.0;
    x->in.notional = 500.0;
    x->f.last_price = 0.0;
}
static void xm_fraction_limit(fixture *x)
{
    x->f.held_qty = 0.5;
    x->in.qty = 0.5;
    x->in.type = HYDRA_ORDER_LIMIT;
    x->in.limit_price = 100.0;
}
static void xm_fraction_market(fixture *x)
{
    x->f.held_qty = 0.5;
    x->in.qty = 0.5;
}

static const gate_case exit_cases[] = {
    {"not held", xm_not_held, "symbol_held", "mom_AAPL holds no AAPL (qty 0)", NULL},
    {"exit that buys", xm_buy, "side", "exits must sell, got side 1 (buy)", NULL},
    {"qty NaN", xm_qty_nan, "quantity_valid",
     "qty nan and notional 0: exactly one must be finite and positive", NULL},
    {"qty and notional both set", xm_both, "quantity_valid",
     "qty 10 and notional 100: exactly one must be finite and positive", NULL},
    {"order type unknown", xm_type_bad, "order_form", "order type 0 is neither market nor limit",
     NULL},
    {"limit far below", xm_limit_far, "limit_price_sane",
     "limit 90.0000 is 10.00% from last 100.0000, max 5.00%", xm_limit_edge},
    {"limit without a price", xm_limit_no_price, "price_known",
     "no valid last price for AAPL (nan)", NULL},
    {"notional without a price", xm_notional_no_price, "price_known",
     "no valid last price for AAPL (0)", NULL},
    {"fraction with a limit", xm_fraction_limit, "quantity_valid",
     "exit of 0.5 shares (held 0.5) rounds down to 0 whole shares", xm_fraction_market},
};

static void test_exit_gates_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof exit_cases / sizeof exit_cases[0]; i++) {
        const gate_case *c = &exit_cases[i];
        fixture x;
        print_message("case: %s\n", c->name);
        fx_exit(&x);
        c->reject(&x);
        exit_(&x);
        assert_rejected(&x, c->gate, c->detail);
        if (c->pass != NULL) {
            fx_exit(&x);
            c->pass(&x);
            exit_(&x);
            assert_passed(&x);
        }
    }
}

static void test_exit_capped_to_held(void **state)
{
    (void)state;
    fixture x;
    fx_exit(&x);
    x.in.qty = 15.0;
    exit_(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 10.0, 0.0);
    assert_string_equal(x.r.detail, "exit of 15 shares sized to 10 (held 10)");

    /* Options: whole contracts, never more than held. */
    fx_exit(&x);
    fx_option(&x);
    x.in.side = HYDRA_SIDE_SELL;
    x.f.held_qty = 3.0;
    x.in.qty = 5.0;
    exit_(&x);
    assert_passed(&x);
    assert_float_equal(x.in.qty, 3.0, 0.0);
}

/* A dollar exit becomes a quantity at the last price, capped to what is held. */
static void test_exit_notional_to_qty(void **state)
{
    (void)state;
    fixture x;
    fx_exit(&x);
    x.f.last_price = 110.0;
    x.in.qty = 0.0;
    x.in.notional = 550.0;
    exit_(&x);
    assert_passed(&x);
    assert_int_equal(x.r.resized, 1);
    assert_float_equal(x.in.qty, 5.0, 1e-12);
    assert_float_equal(x.in.notional, 0.0, 0.0);

    fx_exit(&x);
    x.f.last_price = 110.0;
    x.in.qty = 0.0;
    x.in.notional = 5000.0;
    exit_(&x);
    assert_passed(&x);
    assert_float_equal(x.in.qty, 10.0, 0.0);

    /* Crypto: 100 dollars of BTC at 40000 is 0.0025 BTC. */
    fx_exit(&x);
    fx_crypto(&x);
    x.in.side = HYDRA_SIDE_SELL;
    x.f.held_qty = 0.01;
    x.in.notional = 100.0;
    exit_(&x);
    assert_passed(&x);
    assert_float_equal(x.in.qty, 0.0025, 1e-12);
}

/* Budgets, counters and a missing price never block a market exit of a held position. */
static void test_exit_never_blocked_by_budgets(void **state)
{
    (void)state;
    fixture x;
    fx_exit(&x);
    x.f.budget = NULL;
    x.f.day = NULL;
    x.f.positions_open = 99;
    x.f.orders_last_minute = 99;
    x.f.open_risk_used = 1e9;
    x.f.spendable_cash = 0.0;
    x.f.max_notional_per_order = 0.0;
    x.f.symbol_known = 0; /* e.g. an option no longer in the chain */
    x.f.last_price = NAN;
    exit_(&x);
    assert_passed(&x);
    assert_float_equal(x.in.qty, 10.0, 0.0);

    hydra_gates_exit(NULL, &x.in, &x.r);
    assert_rejected(&x, "facts_missing", "no facts or no intent to check");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_passes_unchanged),
        cmocka_unit_test(test_entry_gates_table),
        cmocka_unit_test(test_entry_gate_order),
        cmocka_unit_test(test_entry_missing_facts),
        cmocka_unit_test(test_cap_notional_market_equity),
        cmocka_unit_test(test_cap_open_risk_fractional_and_whole),
        cmocka_unit_test(test_cap_open_risk_without_stop),
        cmocka_unit_test(test_cap_options_whole_contracts),
        cmocka_unit_test(test_cap_crypto_notional),
        cmocka_unit_test(test_equity_notional_forms),
        cmocka_unit_test(test_limit_price_values_the_order),
        cmocka_unit_test(test_caps_compose),
        cmocka_unit_test(test_tif_default_from_bot),
        cmocka_unit_test(test_reject_does_not_resize),
        cmocka_unit_test(test_order_risk),
        cmocka_unit_test(test_exit_passes),
        cmocka_unit_test(test_exit_gates_table),
        cmocka_unit_test(test_exit_capped_to_held),
        cmocka_unit_test(test_exit_notional_to_qty),
        cmocka_unit_test(test_exit_never_blocked_by_budgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
