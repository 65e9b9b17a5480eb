/*
 * The simulated exchange: fill rules, account math, options, the replay
 * clock, the market clock, persistence and determinism.
 *
 * All series are built in memory. The market zone is America/Los_Angeles
 * with the session 06:30-13:00, as in the shipped settings. The first bar
 * of most fixtures is Monday 2024-01-08 06:30 PST (14:30 UTC).
 */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "broker.h"
#include "clock.h"
#include "error.h"
#include "sim.h"
#include "testutil.h"

#define MIN_MS 60000LL
#define DAY_MS 86400000LL
#define EPS 1e-9

/* Fails with both values printed when |a - b| > eps (or either is NaN). */
#define assert_near(a, b, eps) assert_near_at((a), (b), (eps), #a, __FILE__, __LINE__)

static void assert_near_at(double a, double b, double eps, const char *what, const char *file,
                           int line)
{
    if (!(fabs(a - b) <= eps)) {
        print_error("%s = %.17g, expected %.17g (+-%g)\n", what, a, b, eps);
        _fail(file, line);
    }
}

typedef struct ohlc {
    int64_t dt_ms; /* offset from the fixture's first bar */
    double o, h, l, c;
} ohlc;

/* AAPL: four one-minute bars on Monday, then Tuesday's first bar. */
static const ohlc AAPL_BARS[] = {
    {0, 100, 101, 99, 100},           {1 * MIN_MS, 102, 103, 98, 101},
    {2 * MIN_MS, 101, 104, 100, 103}, {3 * MIN_MS, 103, 105, 102, 104},
    {DAY_MS, 105, 106, 104, 105},
};

static const ohlc BTC_BARS[] = {
    {0, 40000, 40100, 39900, 40000},          {1 * MIN_MS, 40100, 40200, 40000, 40150},
    {2 * MIN_MS, 40150, 40300, 40100, 40200}, {3 * MIN_MS, 40200, 40400, 40100, 40300},
    {DAY_MS, 40500, 40600, 40400, 40500},
};

static int64_t t0_ms(void)
{
    return hydra_utc_from_local(2024, 1, 8, 6, 30, 0);
}

static hydra_series make_series(const char *symbol, int64_t t0, const ohlc *rows, size_t n)
{
    hydra_series s;
    memset(&s, 0, sizeof s);
    snprintf(s.symbol, sizeof s.symbol, "%s", symbol);
    snprintf(s.source, sizeof s.source, "test fixture");
    s.bars = calloc(n, sizeof *s.bars);
    assert_non_null(s.bars);
    for (size_t i = 0; i < n; i++) {
        s.bars[i].t_ms = t0 + rows[i].dt_ms;
        s.bars[i].open = rows[i].o;
        s.bars[i].high = rows[i].h;
        s.bars[i].low = rows[i].l;
        s.bars[i].close = rows[i].c;
        s.bars[i].volume = 1000;
    }
    s.n = s.cap = n;
    return s;
}

static hydra_sim_cfg base_cfg(void)
{
    hydra_sim_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.db_path, sizeof cfg.db_path, ":memory:");
    cfg.bar_seconds = 60;
    cfg.bars_per_tick = 1;
    cfg.tick_interval_ms = 0;
    cfg.initial_cash = 100000;
    cfg.slippage_bps = 10;
    cfg.fee_per_share = 0.01;
    cfg.crypto_fee_bps = 25;
    cfg.option_iv = 0.30;
    cfg.option_rate = 0.04;
    cfg.option_spread_pct = 2.0;
    snprintf(cfg.session_open, sizeof cfg.session_open, "06:30");
    snprintf(cfg.session_close, sizeof cfg.session_close, "13:00");
    return cfg;
}

typedef struct fixture {
    hydra_sim *sim;
    hydra_broker b;
    hydra_clock clock;
} fixture;

/* Opens a sim over the standard AAPL and BTC/USD fixtures. */
static void open_std(fixture *f, const hydra_sim_cfg *cfg)
{
    hydra_series s[2] = {
        make_series("AAPL", t0_ms(), AAPL_BARS, sizeof AAPL_BARS / sizeof AAPL_BARS[0]),
        make_series("BTC/USD", t0_ms(), BTC_BARS, sizeof BTC_BARS / sizeof BTC_BARS[0]),
    };
    char err[256] = "";
    hydra_clock_init_sim(&f->clock, 0);
    int rc = hydra_sim_open(cfg, s, 2, &f->clock, &f->sim, err, sizeof err);
    if (rc != 0)
        fail_msg("hydra_sim_open: %s", err);
    f->b = hydra_sim_broker(f->sim);
}

static hydra_order_request req(const char *cid, const char *symbol, int side, int type, int tif,
                               double qty, double notional, double limit)
{
    hydra_order_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.client_order_id, sizeof r.client_order_id, "%s", cid);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.side = side;
    r.type = type;
    r.tif = tif;
    r.qty = qty;
    r.notional = notional;
    r.limit_price = limit;
    return r;
}

static int submit(fixture *f, const hydra_order_request *r, hydra_broker_err *err)
{
    hydra_order o;
    return f->b.ops->submit(f->b.ctx, r, &o, err);
}

static hydra_account account(fixture *f)
{
    hydra_account a;
    hydra_broker_err err;
    assert_int_equal(f->b.ops->account(f->b.ctx, &a, &err), 0);
    return a;
}

static hydra_order order(fixture *f, const char *cid)
{
    hydra_order o;
    hydra_broker_err err;
    assert_int_equal(f->b.ops->order_by_client_id(f->b.ctx, cid, &o, &err), 0);
    return o;
}

static int setup_tz(void **state)
{
    (void)state;
    return hydra_tz_set("America/Los_Angeles");
}

/* ---- fill rules ----------------------------------------------------------- */

#define OPT "AAPL240112C00100000"

typedef struct fill_case {
    const char *name;
    const char *setup_symbol; /* bought at market first (fills on bar 1); NULL = none */
    double setup_qty;
    const char *symbol;
    int side, type, tif;
    double qty, notional, limit;
    int want_rc;
    const char *want_msg;
    int want_status;
    double want_price, want_qty, want_cash, want_bp;
} fill_case;

/*
 * Cash 100000, slippage 10 bps, fee 0.01 a share or contract, crypto fee
 * 25 bps, option IV 30%, rate 4%, spread 2%. Orders without setup are
 * submitted at bar 0 and judged on bar 1 (O 102 H 103 L 98); with setup,
 * submitted at bar 1 and judged on bar 2 (O 101 H 104 L 100). The setup buy
 * of 10 AAPL costs 10 * 102 * 1.001 + 0.10 = 1021.12.
 */
static const fill_case FILL_CASES[] = {
    {"market buy: next open + slippage", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET,
     HYDRA_TIF_DAY, 10, 0, 0, 0, NULL, HYDRA_BOS_FILLED, 102.102, 10, 98978.88, 98978.88},
    {"limit buy touched: at the limit", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT,
     HYDRA_TIF_DAY, 10, 0, 99, 0, NULL, HYDRA_BOS_FILLED, 99, 10, 99009.9, 99009.9},
    {"limit buy gapped through: at the open", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT,
     HYDRA_TIF_GTC, 10, 0, 105, 0, NULL, HYDRA_BOS_FILLED, 102, 10, 98979.9, 98979.9},
    {"limit buy not reached: stays open, cash reserved", NULL, 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 10, 0, 97, 0, NULL, HYDRA_BOS_NEW, 0, 0, 100000, 99029.9},
    {"ioc limit not filled on the next bar: canceled", NULL, 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_LIMIT, HYDRA_TIF_IOC, 10, 0, 97, 0, NULL, HYDRA_BOS_CANCELED, 0, 0, 100000,
     100000},
    {"market sell: next open - slippage", "AAPL", 10, "AAPL", HYDRA_SIDE_SELL, HYDRA_ORDER_MARKET,
     HYDRA_TIF_DAY, 10, 0, 0, 0, NULL, HYDRA_BOS_FILLED, 100.899, 10, 99987.77, 99987.77},
    {"limit sell touched: at the limit", "AAPL", 10, "AAPL", HYDRA_SIDE_SELL, HYDRA_ORDER_LIMIT,
     HYDRA_TIF_DAY, 10, 0, 103, 0, NULL, HYDRA_BOS_FILLED, 103, 10, 100008.78, 100008.78},
    {"limit sell gapped through: at the open", "AAPL", 10, "AAPL", HYDRA_SIDE_SELL,
     HYDRA_ORDER_LIMIT, HYDRA_TIF_DAY, 10, 0, 100, 0, NULL, HYDRA_BOS_FILLED, 101, 10, 99988.78,
     99988.78},
    {"sell without a position: rejected", NULL, 0, "AAPL", HYDRA_SIDE_SELL, HYDRA_ORDER_MARKET,
     HYDRA_TIF_DAY, 5, 0, 0, HYDRA_EREJECTED,
     "insufficient qty available for order (requested: 5, available: 0)", 0, 0, 0, 0, 0},
    {"sell more than held: rejected", "AAPL", 10, "AAPL", HYDRA_SIDE_SELL, HYDRA_ORDER_MARKET,
     HYDRA_TIF_DAY, 11, 0, 0, HYDRA_EREJECTED,
     "insufficient qty available for order (requested: 11, available: 10)", 0, 0, 0, 0, 0},
    {"buy beyond buying power: rejected", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET,
     HYDRA_TIF_DAY, 1000, 0, 0, HYDRA_EREJECTED, "insufficient buying power", 0, 0, 0, 0, 0},
    {"notional crypto buy: qty = notional / price, fee in coin", NULL, 0, "BTC/USD", HYDRA_SIDE_BUY,
     HYDRA_ORDER_MARKET, HYDRA_TIF_GTC, 0, 1000, 0, 0, NULL, HYDRA_BOS_FILLED, 40140.1,
     1000.0 / 40140.1, 99000, 99000},
    /* ask = BS(S=102 at bar 1, K=100, expiry Fri 2024-01-12 13:00 PST) * 1.01 */
    {"option buy: at the ask, x100, per-contract fee", NULL, 0, OPT, HYDRA_SIDE_BUY,
     HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 2, 0, 0, 0, NULL, HYDRA_BOS_FILLED, 2.603296470506, 2,
     99479.320705899, 99479.320705899},
    /* bid = BS(S=101 at bar 2) * 0.99; setup bought 2 at the ask above */
    {"option sell: at the bid, x100, per-contract fee", OPT, 2, OPT, HYDRA_SIDE_SELL,
     HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 2, 0, 0, 0, NULL, HYDRA_BOS_FILLED, 1.871469496078, 2,
     99853.594605114, 99853.594605114},
};

static void test_fill_rules_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof FILL_CASES / sizeof FILL_CASES[0]; i++) {
        const fill_case *c = &FILL_CASES[i];
        print_message("case: %s\n", c->name);
        hydra_sim_cfg cfg = base_cfg();
        fixture f;
        open_std(&f, &cfg);
        hydra_broker_err err = {0};
        if (c->setup_symbol != NULL) {
            hydra_order_request s = req("setup", c->setup_symbol, HYDRA_SIDE_BUY,
                                        HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, c->setup_qty, 0, 0);
            assert_int_equal(submit(&f, &s, &err), 0);
            assert_int_equal(hydra_sim_step(f.sim), 0);
            assert_int_equal(order(&f, "setup").status, HYDRA_BOS_FILLED);
        }
        hydra_order_request r =
            req("case", c->symbol, c->side, c->type, c->tif, c->qty, c->notional, c->limit);
        int rc = submit(&f, &r, &err);
        assert_int_equal(rc, c->want_rc);
        if (rc != 0) {
            assert_string_equal(err.msg, c->want_msg);
            assert_int_equal(err.code, rc);
            hydra_order o;
            assert_int_equal(f.b.ops->order_by_client_id(f.b.ctx, "case", &o, &err),
                             HYDRA_ENOTFOUND);
        } else {
            assert_int_equal(order(&f, "case").status, HYDRA_BOS_NEW);
            assert_int_equal(hydra_sim_step(f.sim), 0);
            hydra_order o = order(&f, "case");
            assert_int_equal(o.status, c->want_status);
            assert_near(o.filled_avg_price, c->want_price, 1e-9);
            assert_near(o.filled_qty, c->want_qty, 1e-12);
            hydra_account a = account(&f);
            assert_near(a.cash, c->want_cash, 1e-6);
            assert_near(a.buying_power, c->want_bp, 1e-6);
        }
        hydra_sim_close(f.sim);
    }
}

static hydra_broker_position position(fixture *f, const char *symbol);

/* ---- Alpaca's other order types and times in force ------------------------- */

typedef struct ext_case {
    const char *name;
    const char *open;   /* session open; NULL = 06:30 (the first bar) */
    int setup;          /* buy 10 AAPL at market first and step once (submit at bar 1) */
    const char *symbol;
    int side, type, tif;
    double qty, limit, stop, trail_price, trail_pct;
    int steps;
    int want_rc;
    const char *want_msg;
    int want_status;
    double want_price;
} ext_case;

/*
 * The fixture of FILL_CASES (slippage 10 bps). Bars: b0 06:30 O100 H101 L99
 * C100, b1 O102 H103 L98 C101, b2 O101 H104 L100 C103, b3 O103 H105 L102
 * C104, b4 Tuesday 06:30 O105. Session 06:30-13:00.
 */
static const ext_case EXT_CASES[] = {
    {"stop buy: high reaches the stop, at the stop + slippage", NULL, 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_STOP, HYDRA_TIF_DAY, 10, 0, 102.5, 0, 0, 1, 0, NULL, HYDRA_BOS_FILLED,
     102.5 * 1.001},
    {"stop buy gapped through: at the open + slippage", NULL, 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_STOP, HYDRA_TIF_GTC, 10, 0, 101, 0, 0, 1, 0, NULL, HYDRA_BOS_FILLED,
     102 * 1.001},
    {"stop buy never reached: works on", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_STOP,
     HYDRA_TIF_GTC, 10, 0, 110, 0, 0, 3, 0, NULL, HYDRA_BOS_NEW, 0},
    {"stop sell: low reaches the stop, at the stop - slippage", NULL, 1, "AAPL", HYDRA_SIDE_SELL,
     HYDRA_ORDER_STOP, HYDRA_TIF_DAY, 10, 0, 100.5, 0, 0, 1, 0, NULL, HYDRA_BOS_FILLED,
     100.5 * 0.999},
    {"stop_limit buy: triggered within the limit, at the stop", NULL, 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_STOP_LIMIT, HYDRA_TIF_DAY, 10, 103, 102.5, 0, 0, 1, 0, NULL, HYDRA_BOS_FILLED,
     102.5},
    {"stop_limit buy: triggered above the limit, then a limit", NULL, 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_STOP_LIMIT, HYDRA_TIF_DAY, 10, 102, 102.5, 0, 0, 2, 0, NULL, HYDRA_BOS_FILLED,
     101},
    {"trailing buy $2: low-water 100, stop 102, hit on b1", NULL, 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_TRAILING_STOP, HYDRA_TIF_DAY, 10, 0, 0, 2, 0, 1, 0, NULL, HYDRA_BOS_FILLED,
     102 * 1.001},
    {"trailing buy 5%: low-water falls to 98, stop 102.9, hit on b2", NULL, 0, "AAPL",
     HYDRA_SIDE_BUY, HYDRA_ORDER_TRAILING_STOP, HYDRA_TIF_GTC, 10, 0, 0, 0, 5, 2, 0, NULL,
     HYDRA_BOS_FILLED, 98 * 1.05 * 1.001},
    {"trailing sell $2: high-water rises to 104, stop 102, hit on b3", NULL, 1, "AAPL",
     HYDRA_SIDE_SELL, HYDRA_ORDER_TRAILING_STOP, HYDRA_TIF_DAY, 10, 0, 0, 2, 0, 2, 0, NULL,
     HYDRA_BOS_FILLED, 102 * 0.999},
    /* With the session opening at 06:33, 06:30 is before the open and b3 the opening bar. */
    {"opg before the open: the opening bar's open, no slippage", "06:33", 0, "AAPL",
     HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_OPG, 10, 0, 0, 0, 0, 3, 0, NULL,
     HYDRA_BOS_FILLED, 103},
    {"opg waits for the opening bar", "06:33", 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET,
     HYDRA_TIF_OPG, 10, 0, 0, 0, 0, 2, 0, NULL, HYDRA_BOS_NEW, 0},
    {"opg limit the open does not meet: canceled", "06:33", 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_LIMIT, HYDRA_TIF_OPG, 10, 99, 0, 0, 0, 3, 0, NULL, HYDRA_BOS_CANCELED, 0},
    {"opg two minutes before the open: refused", "06:31", 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_MARKET, HYDRA_TIF_OPG, 10, 0, 0, 0, 0, 0, HYDRA_EREJECTED,
     "opg orders are not accepted at this time of day", 0, 0},
    {"opg during the session: refused", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET,
     HYDRA_TIF_OPG, 10, 0, 0, 0, 0, 0, HYDRA_EREJECTED,
     "opg orders are not accepted at this time of day", 0, 0},
    {"cls: the session's last close, when the next session's bar arrives", NULL, 0, "AAPL",
     HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_CLS, 10, 0, 0, 0, 0, 4, 0, NULL,
     HYDRA_BOS_FILLED, 104},
    {"cls: waits through the session", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET,
     HYDRA_TIF_CLS, 10, 0, 0, 0, 0, 3, 0, NULL, HYDRA_BOS_NEW, 0},
    {"cls limit below the close: canceled", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT,
     HYDRA_TIF_CLS, 10, 103.5, 0, 0, 0, 4, 0, NULL, HYDRA_BOS_CANCELED, 0},
    {"fok limit not filled on the next bar: canceled", NULL, 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_LIMIT, HYDRA_TIF_FOK, 10, 97, 0, 0, 0, 1, 0, NULL, HYDRA_BOS_CANCELED, 0},
    {"fok market: filled whole", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET,
     HYDRA_TIF_FOK, 10, 0, 0, 0, 0, 1, 0, NULL, HYDRA_BOS_FILLED, 102 * 1.001},
    {"stop without stop_price: refused", NULL, 0, "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_STOP,
     HYDRA_TIF_DAY, 10, 0, 0, 0, 0, 0, HYDRA_EREJECTED,
     "stop_price is required for stop and stop_limit orders", 0, 0},
    {"trailing with both trails: refused", NULL, 0, "AAPL", HYDRA_SIDE_BUY,
     HYDRA_ORDER_TRAILING_STOP, HYDRA_TIF_DAY, 10, 0, 0, 1, 1, 0, HYDRA_EREJECTED,
     "trailing_stop orders require exactly one of trail_price and trail_percent", 0, 0},
    {"crypto stop: refused", NULL, 0, "BTC/USD", HYDRA_SIDE_BUY, HYDRA_ORDER_STOP, HYDRA_TIF_GTC,
     0.1, 0, 40500, 0, 0, 0, HYDRA_EREJECTED, "crypto orders must be market, limit or stop_limit",
     0, 0},
    {"option stop: refused", NULL, 0, OPT, HYDRA_SIDE_BUY, HYDRA_ORDER_STOP, HYDRA_TIF_DAY, 1, 0,
     3, 0, 0, 0, HYDRA_EREJECTED, "options orders must be market or limit orders", 0, 0},
};

static void test_ext_order_rules_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof EXT_CASES / sizeof EXT_CASES[0]; i++) {
        const ext_case *c = &EXT_CASES[i];
        print_message("case: %s\n", c->name);
        hydra_sim_cfg cfg = base_cfg();
        if (c->open != NULL)
            snprintf(cfg.session_open, sizeof cfg.session_open, "%s", c->open);
        fixture f;
        open_std(&f, &cfg);
        hydra_broker_err err = {0};
        if (c->setup) {
            hydra_order_request s =
                req("setup", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 10, 0, 0);
            assert_int_equal(submit(&f, &s, &err), 0);
            assert_int_equal(hydra_sim_step(f.sim), 0);
        }
        hydra_order_request r = req("case", c->symbol, c->side, c->type, c->tif, c->qty, 0, c->limit);
        hydra_sim_order_ext x;
        memset(&x, 0, sizeof x);
        x.stop_price = c->stop;
        x.trail_price = c->trail_price;
        x.trail_percent = c->trail_pct;
        hydra_order o;
        int rc = hydra_sim_submit_ext(f.sim, &r, &x, &o, NULL, &err);
        assert_int_equal(rc, c->want_rc);
        if (rc != 0) {
            assert_string_equal(err.msg, c->want_msg);
        } else {
            for (int k = 0; k < c->steps; k++)
                assert_int_equal(hydra_sim_step(f.sim), 0);
            o = order(&f, "case");
            assert_int_equal(o.status, c->want_status);
            if (c->want_status == HYDRA_BOS_FILLED) {
                assert_near(o.filled_avg_price, c->want_price, 1e-9);
                assert_near(o.filled_qty, c->qty, EPS);
            } else {
                assert_near(o.filled_qty, 0, EPS);
            }
        }
        hydra_sim_close(f.sim);
    }
}

/* Exchange-side events: replace, expiry, cancel, partial fill then cancel, outside positions. */
static void test_account_events(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    open_std(&f, &cfg);
    hydra_broker_err err = {0};
    hydra_order o, nw;
    hydra_sim_order_ext x;
    hydra_order_request r = req("w1", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 10, 0, 90);
    assert_int_equal(submit(&f, &r, &err), 0);
    double bp = account(&f).buying_power;
    o = order(&f, "w1");
    assert_int_equal(hydra_sim_replace(f.sim, o.id, 4, &nw, &err), 0);
    assert_int_equal(hydra_sim_order_by_id(f.sim, o.id, &o, &x), 0);
    assert_int_equal(o.status, HYDRA_BOS_REPLACED);
    assert_string_equal(x.replaced_by, nw.id);
    assert_int_equal(hydra_sim_order_by_id(f.sim, nw.id, &nw, &x), 0);
    assert_int_equal(nw.status, HYDRA_BOS_NEW);
    assert_string_equal(x.replaces, o.id);
    assert_near(nw.qty, 4, EPS);
    assert_near(nw.limit_price, 90, EPS);
    assert_string_not_equal(nw.client_order_id, "w1");
    /* The replacement holds 4 at 90 where the original held 10: buying power grows back. */
    assert_near(account(&f).buying_power, bp + 6 * 90.01, 1e-6); /* price and fee */
    /* A replaced order cannot be replaced or canceled again. */
    assert_int_equal(hydra_sim_replace(f.sim, o.id, 0, &nw, &err), HYDRA_EREJECTED);
    assert_int_equal(hydra_sim_end_order(f.sim, o.id, HYDRA_BOS_CANCELED, &err), HYDRA_EREJECTED);
    assert_int_equal(hydra_sim_end_order(f.sim, "no-such-id", HYDRA_BOS_CANCELED, &err),
                     HYDRA_ENOTFOUND);
    /* Expired by the exchange. */
    assert_int_equal(hydra_sim_end_order(f.sim, nw.id, HYDRA_BOS_EXPIRED, &err), 0);
    assert_int_equal(hydra_sim_order_by_id(f.sim, nw.id, &nw, &x), 0);
    assert_int_equal(nw.status, HYDRA_BOS_EXPIRED);
    assert_int_equal(x.expired_ms, t0_ms());
    assert_near(account(&f).buying_power, 100000, 1e-6);

    /* Partial fill then cancel: 3 of 10 at the last price (100), the rest canceled. */
    r = req("p1", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 10, 0, 90);
    assert_int_equal(submit(&f, &r, &err), 0);
    o = order(&f, "p1");
    assert_int_equal(hydra_sim_partial_cancel(f.sim, o.id, 0.3, &err), 0);
    o = order(&f, "p1");
    assert_int_equal(o.status, HYDRA_BOS_CANCELED);
    assert_near(o.filled_qty, 3, EPS);
    assert_near(o.qty, 10, EPS);
    assert_near(position(&f, "AAPL").qty, 3, EPS);

    /* A position from outside: cash untouched; a coin fee taken later shrinks it. */
    double cash = account(&f).cash;
    assert_int_equal(hydra_sim_adjust_position(f.sim, "BTC/USD", 0.5, 0, &err), 0);
    assert_near(position(&f, "BTC/USD").qty, 0.5, EPS);
    assert_near(position(&f, "BTC/USD").avg_entry_price, 40000, EPS);
    assert_int_equal(hydra_sim_adjust_position(f.sim, "BTC/USD", -0.001, 0, &err), 0);
    assert_near(position(&f, "BTC/USD").qty, 0.499, EPS);
    assert_near(account(&f).cash, cash, EPS);
    assert_int_equal(hydra_sim_adjust_position(f.sim, "BTC/USD", -1, 0, &err), HYDRA_EREJECTED);

    /* Closing part of a position by symbol: a market sell of that much. */
    assert_int_equal(hydra_sim_close_position(f.sim, "AAPL", 2, &o, &err), 0);
    assert_int_equal(o.side, HYDRA_SIDE_SELL);
    assert_near(o.qty, 2, EPS);
    assert_int_equal(hydra_sim_close_position(f.sim, "MSFT", 0, &o, &err), HYDRA_ENOTFOUND);
    assert_int_equal(hydra_sim_step(f.sim), 0);
    assert_near(position(&f, "AAPL").qty, 1, EPS);
    hydra_sim_close(f.sim);
}

/* ---- account math ---------------------------------------------------------- */

static hydra_broker_position position(fixture *f, const char *symbol)
{
    hydra_broker_position p[8];
    size_t n = 0;
    hydra_broker_err err;
    assert_int_equal(f->b.ops->positions(f->b.ctx, p, 8, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].symbol, symbol) == 0)
            return p[i];
    fail_msg("no position in %s", symbol);
    return p[0];
}

static void test_account_math_scripted(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    open_std(&f, &cfg);
    hydra_broker_err err;

    hydra_account a = account(&f);
    assert_near(a.cash, 100000, EPS);
    assert_near(a.equity, 100000, EPS);
    assert_near(a.last_equity, 100000, EPS);
    assert_int_equal(a.active, 1);
    assert_int_equal(a.trading_blocked, 0);

    /* Bar 0: buy 10 at market -> bar 1 open 102 * 1.001 = 102.102, fee 0.10. */
    hydra_order_request r =
        req("a1", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 10, 0, 0);
    assert_int_equal(submit(&f, &r, &err), 0);
    /* The estimate 10 * 100 * 1.001 + 0.10 = 1001.10 is held back from buying power. */
    assert_near(account(&f).buying_power, 100000 - 1001.1, 1e-9);
    assert_int_equal(hydra_sim_step(f.sim), 0);
    a = account(&f);
    assert_near(a.cash, 98978.88, 1e-9);
    assert_near(a.equity, 98978.88 + 10 * 101, 1e-9); /* marked at bar 1 close */
    hydra_broker_position p = position(&f, "AAPL");
    assert_near(p.qty, 10, EPS);
    assert_near(p.avg_entry_price, 102.102, 1e-12);
    assert_near(p.current_price, 101, EPS);
    assert_near(p.market_value, 1010, EPS);
    assert_near(p.unrealized_pl, -11.02, 1e-9);
    assert_int_equal(p.asset_class, HYDRA_ASSET_EQUITY);

    /* Bar 1: buy 5 limit 101.5 -> bar 2 (O 101, L 100) fills at 101, fee 0.05. */
    r = req("a2", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_DAY, 5, 0, 101.5);
    assert_int_equal(submit(&f, &r, &err), 0);
    /* Bar 1: 0.01 BTC at market -> bar 2 open 40150 * 1.001 = 40190.15, fee 25 bps. */
    r = req("a3", "BTC/USD", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_GTC, 0.01, 0, 0);
    assert_int_equal(submit(&f, &r, &err), 0);
    assert_int_equal(hydra_sim_step(f.sim), 0);
    double btc_cost = 401.9015; /* the 25 bps fee is taken in coin, not dollars */
    double cash = 98978.88 - 505.05 - btc_cost;
    a = account(&f);
    assert_near(a.cash, cash, 1e-9);
    p = position(&f, "AAPL");
    assert_near(p.qty, 15, EPS);
    assert_near(p.avg_entry_price, (1021.02 + 505) / 15, 1e-9);
    hydra_broker_position pb = position(&f, "BTC/USD");
    assert_near(pb.qty, 0.01 * (1 - 0.0025), EPS);
    assert_near(order(&f, "a3").filled_qty, 0.01, EPS);
    assert_near(order(&f, "a3").fee_qty, 0.01 * 0.0025, EPS);
    assert_int_equal(pb.asset_class, HYDRA_ASSET_CRYPTO);
    assert_near(a.equity, cash + 15 * 103 + 0.009975 * 40200, 1e-9);

    /* Bar 2: sell 6 at market -> bar 3 open 103 * 0.999 = 102.897, fee 0.06. */
    r = req("a4", "AAPL", HYDRA_SIDE_SELL, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 6, 0, 0);
    assert_int_equal(submit(&f, &r, &err), 0);
    /* The 6 are held for the open sell: only 9 more may be sold. */
    r = req("a5", "AAPL", HYDRA_SIDE_SELL, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 10, 0, 0);
    assert_int_equal(submit(&f, &r, &err), HYDRA_EREJECTED);
    assert_string_equal(err.msg,
                        "insufficient qty available for order (requested: 10, available: 9)");
    assert_int_equal(hydra_sim_step(f.sim), 0);
    cash += 617.382 - 0.06;
    a = account(&f);
    assert_near(a.cash, cash, 1e-9);
    double equity_bar3 = cash + 9 * 104 + 0.009975 * 40300;
    assert_near(a.equity, equity_bar3, 1e-9);
    assert_near(a.last_equity, 100000, EPS);
    p = position(&f, "AAPL");
    assert_near(p.qty, 9, EPS);
    assert_near(p.avg_entry_price, (1021.02 + 505) / 15, 1e-9);

    /* Tuesday's first bar: last_equity becomes Monday's closing equity. */
    assert_int_equal(hydra_sim_step(f.sim), 0);
    a = account(&f);
    assert_near(a.last_equity, equity_bar3, 1e-9);
    assert_near(a.equity, cash + 9 * 105 + 0.009975 * 40500, 1e-9);
    hydra_sim_close(f.sim);
}

/* Cash plus every position's market value, from the positions call (never remembered). */
static double equity_from_positions(fixture *f)
{
    hydra_broker_position p[8];
    size_t n = 0;
    hydra_broker_err err;
    assert_int_equal(f->b.ops->positions(f->b.ctx, p, 8, &n, &err), 0);
    double eq = account(f).cash;
    for (size_t i = 0; i < n; i++)
        eq += p[i].market_value;
    return eq;
}

#define assert_equity_current(f) assert_near(account(f).equity, equity_from_positions(f), 1e-9)

/*
 * The account's equity is remembered for one clock and one book: a change
 * of the book at the same clock (a position from outside, a partial fill,
 * an option's settlement) or of the market zone must show at once.
 */
static void test_equity_follows_every_change(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    open_std(&f, &cfg);
    hydra_broker_err err = {0};
    assert_near(account(&f).equity, 100000, EPS);
    hydra_order_request r =
        req("e1", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 10, 0, 0);
    assert_int_equal(submit(&f, &r, &err), 0);
    assert_int_equal(hydra_sim_step(f.sim), 0);
    double eq = account(&f).equity;
    assert_equity_current(&f);

    /* Same clock, 5 more from outside: marked at the bar's close (101), cash untouched. */
    assert_int_equal(hydra_sim_adjust_position(f.sim, "AAPL", 5, 100, &err), 0);
    assert_near(account(&f).equity, eq + 5 * 101, 1e-9);
    assert_equity_current(&f);

    /* Same clock, a partial fill: cash and position both move. */
    r = req("e2", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 10, 0, 90);
    assert_int_equal(submit(&f, &r, &err), 0);
    eq = account(&f).equity;
    assert_int_equal(hydra_sim_partial_cancel(f.sim, order(&f, "e2").id, 0.3, &err), 0);
    assert_true(fabs(account(&f).equity - eq) > 1e-6);
    assert_equity_current(&f);

    /* An option's mark depends on its expiry, a market-zone time: a new zone moves it. */
    assert_int_equal(hydra_sim_adjust_position(f.sim, OPT, 1, 2, &err), 0);
    eq = account(&f).equity;
    assert_equity_current(&f);
    assert_int_equal(hydra_tz_set("America/New_York"), 0);
    assert_true(fabs(account(&f).equity - eq) > 1e-6);
    assert_equity_current(&f);
    assert_int_equal(hydra_tz_set("America/Los_Angeles"), 0);
    assert_near(account(&f).equity, eq, 1e-9);

    /* Selling it all at the same clock: back to cash and AAPL. */
    assert_int_equal(hydra_sim_adjust_position(f.sim, OPT, -1, 0, &err), 0);
    assert_equity_current(&f);
    while (hydra_sim_step(f.sim) == 0)
        assert_equity_current(&f);
    hydra_sim_close(f.sim);
}

static void test_order_validation(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    open_std(&f, &cfg);
    static const struct {
        hydra_order_request r;
        const char *msg;
    } bad[] = {
        {{"v1", "MSFT", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0, 0},
         "asset MSFT not found"},
        {{"v2", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 100, 0},
         "exactly one of qty and notional must be a positive number"},
        {{"v3", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 0, 0, 0},
         "exactly one of qty and notional must be a positive number"},
        {{"v4", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, NAN, 0, 0},
         "exactly one of qty and notional must be a positive number"},
        {{"v5", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, INFINITY, 0, 0},
         "exactly one of qty and notional must be a positive number"},
        {{"v6", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_DAY, 1, 0, 0},
         "limit orders require a positive limit_price"},
        {{"v7", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_DAY, 0, 100, 99},
         "notional orders must be market orders"},
        {{"v8", "AAPL", 0, 9, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0, 0}, "invalid side 9"},
        {{"v9", "AAPL", 0, HYDRA_SIDE_BUY, 7, HYDRA_TIF_DAY, 1, 0, 0}, "invalid order type 7"},
        {{"v10", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, 0, 1, 0, 0},
         "invalid time_in_force 0"},
        {{"v11", "BTC/USD", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0, 0},
         "crypto orders must be time_in_force gtc or ioc"},
        {{"v12", OPT, 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1.5, 0, 0},
         "options are ordered in whole contracts"},
        {{"v13", OPT, 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_GTC, 1, 0, 0},
         "options orders must be time_in_force day"},
        /* Strike 130 is beyond +15% of 100; expiry 2024-01-13 is a Saturday. */
        {{"v14", "AAPL240112C00130000", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0,
          0},
         "option contract AAPL240112C00130000 is not listed"},
        {{"v15", "AAPL240113C00100000", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0,
          0},
         "option contract AAPL240113C00100000 is not listed"},
        {{"v16", "AAPL240105C00100000", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0,
          0},
         "option contract AAPL240105C00100000 has expired"},
        {{"v17", "MSFT240112C00100000", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0,
          0},
         "asset MSFT240112C00100000 not found"},
        {{"v18", "AAPL", HYDRA_ASSET_CRYPTO, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1,
          0, 0},
         "asset class 2 does not match symbol AAPL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hydra_broker_err err = {0};
        assert_int_equal(submit(&f, &bad[i].r, &err), HYDRA_EREJECTED);
        assert_string_equal(err.msg, bad[i].msg);
    }
    size_t n = 99;
    hydra_order open[4];
    hydra_broker_err err;
    assert_int_equal(f.b.ops->open_orders(f.b.ctx, open, 4, &n, &err), 0);
    assert_int_equal(n, 0);

    /* Ids are deterministic; a client_order_id can never be used twice. */
    hydra_order o;
    hydra_order_request r =
        req("dup", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 1, 0, 90);
    assert_int_equal(f.b.ops->submit(f.b.ctx, &r, &o, &err), 0);
    assert_string_equal(o.id, "6e789e6a-a1b9-45f4-86c4-454f00000001"); /* salt 0, seq 1 */
    assert_string_equal(o.client_order_id, "dup");
    assert_int_equal(o.status, HYDRA_BOS_NEW);
    assert_int_equal(o.submitted_ms, t0_ms());
    assert_int_equal(f.b.ops->submit(f.b.ctx, &r, &o, &err), HYDRA_EREJECTED);
    assert_string_equal(err.msg, "client_order_id must be unique");
    assert_int_equal(err.http_status, 422);
    /* Canceled orders keep their id, and can still be looked up. */
    assert_int_equal(f.b.ops->cancel_all(f.b.ctx, &err), 0);
    assert_int_equal(f.b.ops->submit(f.b.ctx, &r, &o, &err), HYDRA_EREJECTED);
    assert_int_equal(order(&f, "dup").status, HYDRA_BOS_CANCELED);
    assert_int_equal(f.b.ops->order_by_client_id(f.b.ctx, "nope", &o, &err), HYDRA_ENOTFOUND);
    hydra_sim_close(f.sim);
}

static void test_day_orders_expire_gtc_stays(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    open_std(&f, &cfg);
    hydra_broker_err err;
    hydra_order_request day =
        req("day", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_DAY, 1, 0, 90);
    hydra_order_request gtc =
        req("gtc", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 1, 0, 90);
    assert_int_equal(submit(&f, &day, &err), 0);
    assert_int_equal(submit(&f, &gtc, &err), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hydra_sim_step(f.sim), 0);
    assert_int_equal(order(&f, "day").status, HYDRA_BOS_NEW);
    /* Sent after Monday's last bar: it belongs to Tuesday and fills there (L 104, O 105). */
    hydra_order_request late =
        req("late", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_DAY, 1, 0, 104.5);
    assert_int_equal(submit(&f, &late, &err), 0);
    /* Tuesday's bar: Monday's day order is over; the GTC order keeps working. */
    assert_int_equal(hydra_sim_step(f.sim), 0);
    assert_int_equal(order(&f, "day").status, HYDRA_BOS_EXPIRED);
    assert_int_equal(order(&f, "gtc").status, HYDRA_BOS_NEW);
    hydra_order late_o = order(&f, "late");
    assert_int_equal(late_o.status, HYDRA_BOS_FILLED);
    assert_near(late_o.filled_avg_price, 104.5, EPS);
    hydra_account a = account(&f);
    assert_near(a.cash, 100000 - 104.51, 1e-9);
    assert_near(a.buying_power, 100000 - 104.51 - 90.01, 1e-9);
    assert_int_equal(hydra_sim_step(f.sim), HYDRA_EEOF);
    hydra_sim_close(f.sim);
}

/*
 * Forget mode (a backtest's exchange): a closed order is still there through
 * the next whole trading day, then gone; a working order is never forgotten,
 * and the client-id index follows the shortened list. Without the mode
 * nothing is forgotten.
 */
static void test_forget_closed_orders(void **state)
{
    (void)state;
    static const ohlc WEEK[] = {
        {0, 100, 101, 99, 100},          {DAY_MS, 101, 102, 100, 101},
        {2 * DAY_MS, 102, 103, 101, 102}, {3 * DAY_MS, 103, 104, 102, 103},
        {4 * DAY_MS, 104, 105, 103, 104},
    };
    for (int forget = 0; forget <= 1; forget++) {
        hydra_sim_cfg cfg = base_cfg();
        cfg.bar_seconds = 86400;
        fixture f;
        hydra_series s = make_series("AAPL", t0_ms(), WEEK, sizeof WEEK / sizeof WEEK[0]);
        char errtext[256] = "";
        hydra_clock_init_sim(&f.clock, 0);
        assert_int_equal(hydra_sim_open(&cfg, &s, 1, &f.clock, &f.sim, errtext, sizeof errtext), 0);
        f.b = hydra_sim_broker(f.sim);
        if (forget)
            hydra_sim_forget_closed_orders(f.sim);
        hydra_broker_err err;
        hydra_order_request mkt =
            req("mkt", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0, 0);
        hydra_order_request gtc =
            req("gtc", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 1, 0, 50);
        assert_int_equal(submit(&f, &mkt, &err), 0);
        assert_int_equal(submit(&f, &gtc, &err), 0);
        assert_int_equal(hydra_sim_step(f.sim), 0); /* Tuesday: the market order fills */
        assert_int_equal(order(&f, "mkt").status, HYDRA_BOS_FILLED);
        assert_int_equal(hydra_sim_step(f.sim), 0); /* Wednesday: still there */
        assert_int_equal(order(&f, "mkt").status, HYDRA_BOS_FILLED);
        assert_int_equal(hydra_sim_step(f.sim), 0); /* Thursday */
        hydra_order o;
        int rc = f.b.ops->order_by_client_id(f.b.ctx, "mkt", &o, &err);
        if (forget) {
            assert_int_equal(rc, HYDRA_ENOTFOUND);
            assert_int_equal(hydra_sim_order_count(f.sim), 1);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(hydra_sim_order_count(f.sim), 2);
        }
        /* The working order is found by id, and a new one is indexed beside it. */
        assert_int_equal(order(&f, "gtc").status, HYDRA_BOS_NEW);
        hydra_order_request again =
            req("mkt2", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0, 0);
        assert_int_equal(submit(&f, &again, &err), 0);
        assert_int_equal(hydra_sim_step(f.sim), 0); /* Friday */
        assert_int_equal(order(&f, "mkt2").status, HYDRA_BOS_FILLED);
        assert_int_equal(order(&f, "gtc").status, HYDRA_BOS_NEW);
        assert_true(account(&f).cash < 100000 - 2 * 100);
        hydra_sim_close(f.sim);
    }
}

static void test_cancel_all_and_close_all(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    open_std(&f, &cfg);
    hydra_broker_err err;
    hydra_order_request r =
        req("b1", "AAPL", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 10, 0, 0);
    assert_int_equal(submit(&f, &r, &err), 0);
    r = req("b2", "BTC/USD", HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_GTC, 0.5, 0, 0);
    assert_int_equal(submit(&f, &r, &err), 0);
    assert_int_equal(hydra_sim_step(f.sim), 0);
    r = req("lim", "AAPL", HYDRA_SIDE_SELL, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 10, 0, 200);
    assert_int_equal(submit(&f, &r, &err), 0);

    assert_int_equal(f.b.ops->close_all(f.b.ctx, &err), 0);
    assert_int_equal(order(&f, "lim").status, HYDRA_BOS_CANCELED);
    hydra_order open[8];
    size_t n = 0;
    assert_int_equal(f.b.ops->open_orders(f.b.ctx, open, 8, &n, &err), 0);
    assert_int_equal(n, 2);
    /* One market sell per position, in symbol order. */
    assert_string_equal(open[0].symbol, "AAPL");
    assert_string_equal(open[0].client_order_id, "sim-close-00000004");
    assert_int_equal(open[0].side, HYDRA_SIDE_SELL);
    assert_int_equal(open[0].type, HYDRA_ORDER_MARKET);
    assert_near(open[0].qty, 10, EPS);
    assert_string_equal(open[1].symbol, "BTC/USD");
    assert_int_equal(open[1].tif, HYDRA_TIF_GTC);
    assert_near(open[1].qty, 0.5 * 0.9975, EPS); /* what the coin fee left */
    /* Too little room is an error, never a silent cut. */
    assert_int_equal(f.b.ops->open_orders(f.b.ctx, open, 1, &n, &err), HYDRA_EFULL);

    assert_int_equal(hydra_sim_step(f.sim), 0);
    hydra_broker_position pos[4];
    assert_int_equal(f.b.ops->positions(f.b.ctx, pos, 4, &n, &err), 0);
    assert_int_equal(n, 0);
    /* Bought at 102.102 and 40140.1, sold at 101 * 0.999 and 40150 * 0.999. */
    double cash = 100000 - (1021.02 + 0.1) - 20070.05 + (1008.99 - 0.1) +
                  (0.5 * 0.9975 * 40150 * 0.999) * 0.9975;
    hydra_account a = account(&f);
    assert_near(a.cash, cash, 1e-6);
    assert_near(a.equity, cash, 1e-6);
    hydra_sim_close(f.sim);
}

/* ---- options ---------------------------------------------------------------- */

static void test_black_scholes_textbook(void **state)
{
    (void)state;
    /* Hull's example: S=100, K=100, r=5%, sigma=20%, T=1. */
    assert_near(hydra_bs_price(1, 100, 100, 0.05, 0.2, 1), 10.4506, 5e-5);
    assert_near(hydra_bs_price(0, 100, 100, 0.05, 0.2, 1), 5.5735, 5e-5);
    assert_near(hydra_bs_delta(1, 100, 100, 0.05, 0.2, 1), 0.6368, 5e-5);
    assert_near(hydra_bs_delta(0, 100, 100, 0.05, 0.2, 1), 0.6368 - 1, 5e-5);
    /* Put-call parity: C - P = S - K e^{-rT}. */
    double c = hydra_bs_price(1, 42, 40, 0.1, 0.2, 0.5);
    double p = hydra_bs_price(0, 42, 40, 0.1, 0.2, 0.5);
    assert_near(c, 4.7594, 5e-5);
    assert_near(p, 0.8086, 5e-5);
    assert_near(c - p, 42 - 40 * exp(-0.05), 1e-12);
    /* At and after expiry: intrinsic value, delta 0 or 1. */
    assert_near(hydra_bs_price(1, 110, 100, 0.05, 0.2, 0), 10, EPS);
    assert_near(hydra_bs_price(0, 110, 100, 0.05, 0.2, -1), 0, EPS);
    assert_near(hydra_bs_delta(1, 110, 100, 0.05, 0.2, 0), 1, EPS);
    assert_near(hydra_bs_delta(0, 110, 100, 0.05, 0.2, 0), 0, EPS);
    /* Far out of the money stays a tiny positive number, not a cancellation error. */
    double far = hydra_bs_price(1, 100, 400, 0.0, 0.2, 0.1);
    assert_true(far >= 0 && far < 1e-30);
    assert_true(isnan(hydra_bs_price(1, -1, 100, 0.05, 0.2, 1)));
    assert_true(isnan(hydra_bs_delta(1, 100, NAN, 0.05, 0.2, 1)));
}

/*
 * The chain filter narrows what is priced but never loses a contract the
 * rules admit: the filtered chain holds every contract of the full chain
 * whose days to expiry and |delta| pass, and little more.
 */
static void test_option_chain_filter_is_a_tight_superset(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    open_std(&f, &cfg);
    hydra_broker_err err;
    size_t cap = 1000, n_all = 0, n_f = 0;
    hydra_option_quote *all = calloc(cap, sizeof *all), *sub = calloc(cap, sizeof *sub);
    assert_non_null(all);
    assert_non_null(sub);
    assert_int_equal(f.b.ops->option_chain(f.b.ctx, "AAPL", NULL, all, cap, &n_all, &err), 0);
    hydra_chain_filter rules = {7, 45, 0.25, 0.60};
    assert_int_equal(f.b.ops->option_chain(f.b.ctx, "AAPL", &rules, sub, cap, &n_f, &err), 0);
    /* Monday 2024-01-08: Friday 2024-01-12 is 4 days out, 2024-02-23 is 46. */
    size_t admitted = 0;
    for (size_t i = 0; i < n_all; i++) {
        int dte = all[i].expiry_yyyymmdd - 20240108;
        if (all[i].expiry_yyyymmdd >= 20240201)
            dte = 24 + (all[i].expiry_yyyymmdd - 20240201);
        if (all[i].expiry_yyyymmdd >= 20240301)
            dte = 53 + (all[i].expiry_yyyymmdd - 20240301);
        double ad = fabs(all[i].delta);
        if (dte < 7 || dte > 45 || ad < 0.25 || ad > 0.60)
            continue;
        admitted++;
        int found = 0;
        for (size_t j = 0; j < n_f && !found; j++)
            found = strcmp(sub[j].symbol, all[i].symbol) == 0 &&
                    sub[j].last == all[i].last && sub[j].delta == all[i].delta;
        if (!found)
            fail_msg("%s (dte %d, delta %.4f) missing from the filtered chain", all[i].symbol, dte,
                     all[i].delta);
    }
    print_message("full chain %zu, admitted by the rules %zu, returned %zu\n", n_all, admitted, n_f);
    assert_true(admitted > 0);
    assert_true(n_f >= admitted);
    assert_true(n_f <= admitted + 4 * 6 * 2); /* at most a grid step of margin per side */
    /* A filter that makes no sense is refused. */
    hydra_chain_filter bad = {10, 5, 0.0, 1.0};
    assert_int_equal(f.b.ops->option_chain(f.b.ctx, "AAPL", &bad, sub, cap, &n_f, &err),
                     HYDRA_EREJECTED);
    free(all);
    free(sub);
    hydra_sim_close(f.sim);
}

static void test_option_chain(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    open_std(&f, &cfg);
    hydra_broker_err err;
    size_t cap = 1000, n = 0;
    hydra_option_quote *q = calloc(cap, sizeof *q);
    assert_non_null(q);
    /* Monday 2024-01-08, AAPL 100: Fridays Jan 12 .. Mar 8 (60 days), strikes 85..115 by 1. */
    assert_int_equal(f.b.ops->option_chain(f.b.ctx, "AAPL", &(hydra_chain_filter){0, 90, 0.0, 1.0}, q, cap, &n, &err), 0);
    assert_int_equal(n, 9 * 31 * 2);
    assert_string_equal(q[0].symbol, "AAPL240112C00085000");
    assert_string_equal(q[1].symbol, "AAPL240112P00085000");
    assert_string_equal(q[n - 1].symbol, "AAPL240308P00115000");
    assert_string_equal(q[0].underlying, "AAPL");
    assert_int_equal(q[0].multiplier, 100);
    for (size_t i = 0; i < n; i++) {
        assert_true(q[i].bid > 0 && q[i].bid < q[i].last && q[i].last < q[i].ask);
        assert_near(q[i].ask - q[i].bid, q[i].last * 0.02, 1e-12);
        if (q[i].is_call)
            assert_true(q[i].delta > 0 && q[i].delta < 1);
        else
            assert_true(q[i].delta < 0 && q[i].delta > -1);
        assert_true(q[i].gamma > 0 && q[i].vega > 0);
    }
    /* The Jan 12 100 call, priced at S=100 with T = 4 days 6.5 hours. */
    size_t k = 2 * (100 - 85);
    assert_string_equal(q[k].symbol, OPT);
    double T = (double)(hydra_utc_from_local(2024, 1, 12, 13, 0, 0) - t0_ms()) / (365.0 * DAY_MS);
    double model = hydra_bs_price(1, 100, 100, 0.04, 0.30, T);
    assert_near(q[k].last, model, 1e-12);
    assert_near(q[k].ask, model * 1.01, 1e-12);
    assert_near(q[k].delta, hydra_bs_delta(1, 100, 100, 0.04, 0.30, T), 1e-12);
    assert_int_equal(q[k].expiry_yyyymmdd, 20240112);

    /* max_dte counts calendar days: Jan 19 is 11 days out. Too small a buffer is EFULL. */
    assert_int_equal(f.b.ops->option_chain(f.b.ctx, "AAPL", &(hydra_chain_filter){0, 11, 0.0, 1.0}, q, cap, &n, &err), 0);
    assert_int_equal(n, 2 * 31 * 2);
    assert_string_equal(q[n - 1].symbol, "AAPL240119P00115000");
    assert_int_equal(f.b.ops->option_chain(f.b.ctx, "AAPL", &(hydra_chain_filter){0, 10, 0.0, 1.0}, q, cap, &n, &err), 0);
    assert_int_equal(n, 31 * 2);
    assert_int_equal(f.b.ops->option_chain(f.b.ctx, "AAPL", &(hydra_chain_filter){0, 10, 0.0, 1.0}, q, 5, &n, &err), HYDRA_EFULL);
    assert_int_equal(f.b.ops->option_chain(f.b.ctx, "BTC/USD", &(hydra_chain_filter){0, 10, 0.0, 1.0}, q, cap, &n, &err),
                     HYDRA_ENOTFOUND);
    assert_int_equal(f.b.ops->option_chain(f.b.ctx, "MSFT", &(hydra_chain_filter){0, 10, 0.0, 1.0}, q, cap, &n, &err), HYDRA_ENOTFOUND);

    /* The contract's latest price is its model value. */
    const char *syms[2] = {OPT, "AAPL"};
    hydra_quote lq[2];
    assert_int_equal(f.b.ops->latest_prices(f.b.ctx, syms, 2, lq, &err), 0);
    assert_near(lq[0].price, model, 1e-12);
    assert_near(lq[1].price, 100, EPS);
    assert_int_equal(lq[1].t_ms, t0_ms());
    free(q);
    hydra_sim_close(f.sim);
}

/* Strike grid by price band: 0.5 below 25, 1 below 200, 5 below 1000, 10 above. */
static void test_option_strike_grid(void **state)
{
    (void)state;
    static const struct {
        double price;
        const char *first, *last;
        size_t strikes;
    } cases[] = {
        {20, "X240112C00017000", "X240112C00023000", 13},
        {100, "X240112C00085000", "X240112C00115000", 31},
        {500, "X240112C00425000", "X240112C00575000", 31},
        {2000, "X240112C01700000", "X240112C02300000", 61},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double px = cases[i].price;
        const ohlc rows[] = {{0, px, px, px, px}};
        hydra_series s = make_series("X", t0_ms(), rows, 1);
        hydra_sim_cfg cfg = base_cfg();
        fixture f;
        char err[256];
        hydra_clock_init_sim(&f.clock, 0);
        assert_int_equal(hydra_sim_open(&cfg, &s, 1, &f.clock, &f.sim, err, sizeof err), 0);
        f.b = hydra_sim_broker(f.sim);
        hydra_option_quote q[200];
        size_t n = 0;
        hydra_broker_err berr;
        assert_int_equal(f.b.ops->option_chain(f.b.ctx, "X", &(hydra_chain_filter){0, 4, 0.0, 1.0}, q, 200, &n, &berr), 0);
        assert_int_equal(n, cases[i].strikes * 2);
        assert_string_equal(q[0].symbol, cases[i].first);
        assert_string_equal(q[n - 2].symbol, cases[i].last);
        hydra_sim_close(f.sim);
    }
}

static void test_option_expiry_settles_at_intrinsic(void **state)
{
    (void)state;
    /* Monday 06:30 and 06:31; Friday 12:00 (close 110); the next Monday. */
    const ohlc rows[] = {
        {0, 100, 100, 100, 100},
        {MIN_MS, 100, 100, 100, 100},
        {4 * DAY_MS - 30 * MIN_MS + 6 * 60 * MIN_MS, 110, 110, 110, 110},
        {7 * DAY_MS, 111, 111, 111, 111},
    };
    hydra_series s = make_series("AAPL", t0_ms(), rows, 4);
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    char errs[256];
    hydra_clock_init_sim(&f.clock, 0);
    assert_int_equal(hydra_sim_open(&cfg, &s, 1, &f.clock, &f.sim, errs, sizeof errs), 0);
    f.b = hydra_sim_broker(f.sim);
    hydra_broker_err err;
    hydra_order_request r =
        req("c", OPT, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 1, 0, 0);
    assert_int_equal(submit(&f, &r, &err), 0);
    assert_int_equal(hydra_sim_step(f.sim), 0);
    hydra_order o = order(&f, "c");
    assert_int_equal(o.status, HYDRA_BOS_FILLED);
    double cash = 100000 - o.filled_avg_price * 100 - 0.01;
    assert_near(account(&f).cash, cash, 1e-9);
    hydra_broker_position p = position(&f, OPT);
    assert_int_equal(p.asset_class, HYDRA_ASSET_OPTION);
    assert_near(p.qty, 1, EPS);

    /* Friday 12:00: still held, marked at the model value. */
    assert_int_equal(hydra_sim_step(f.sim), 0);
    double T = (double)(60 * MIN_MS) / (365.0 * DAY_MS);
    double mark = hydra_bs_price(1, 110, 100, 0.04, 0.30, T);
    p = position(&f, OPT);
    assert_near(p.current_price, mark, 1e-12);
    assert_near(p.market_value, mark * 100, 1e-9);
    assert_near(account(&f).equity, cash + mark * 100, 1e-9);

    /* Next Monday: the contract expired Friday 13:00 with AAPL at 110 -> 10 * 100. */
    assert_int_equal(hydra_sim_step(f.sim), 0);
    size_t n = 9;
    hydra_broker_position pos[2];
    assert_int_equal(f.b.ops->positions(f.b.ctx, pos, 2, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_near(account(&f).cash, cash + 1000, 1e-9);
    hydra_sim_close(f.sim);
}

/* ---- clocks ----------------------------------------------------------------- */

static void test_clock_steps_and_jumps_gaps(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture f;
    open_std(&f, &cfg);
    int64_t t0 = t0_ms();
    assert_int_equal(f.clock.sim_now_ms, t0);
    const int64_t want[] = {t0 + MIN_MS, t0 + 2 * MIN_MS, t0 + 3 * MIN_MS, t0 + DAY_MS};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(hydra_sim_step(f.sim), 0);
        assert_int_equal(f.clock.sim_now_ms, want[i]);
    }
    assert_int_equal(hydra_sim_step(f.sim), HYDRA_EEOF);
    assert_int_equal(hydra_sim_step(f.sim), HYDRA_EEOF);
    assert_int_equal(f.clock.sim_now_ms, t0 + DAY_MS);
    size_t n = 0;
    const hydra_series *s = hydra_sim_series(f.sim, &n);
    assert_int_equal(n, 2);
    assert_string_equal(s[1].symbol, "BTC/USD");

    /* Bars up to the clock, oldest first; the last close is the last price. */
    hydra_bar bars[10];
    hydra_broker_err err;
    assert_int_equal(f.b.ops->bars(f.b.ctx, "AAPL", 60, 3, bars, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(bars[0].t_ms, t0 + 2 * MIN_MS);
    assert_int_equal(bars[2].t_ms, t0 + DAY_MS);
    assert_int_equal(f.b.ops->bars(f.b.ctx, "MSFT", 60, 3, bars, &n, &err), HYDRA_ENOTFOUND);
    hydra_sim_close(f.sim);

    /* A start before the first bar jumps to it; two bars per tick; nothing after the clock is
     * shown. */
    cfg = base_cfg();
    snprintf(cfg.start, sizeof cfg.start, "2024-01-08 06:00");
    cfg.bars_per_tick = 2;
    open_std(&f, &cfg);
    assert_int_equal(f.clock.sim_now_ms, t0 - 30 * MIN_MS);
    const char *syms[] = {"AAPL"};
    hydra_quote q;
    assert_int_equal(f.b.ops->latest_prices(f.b.ctx, syms, 1, &q, &err), HYDRA_ENOTFOUND);
    assert_int_equal(f.b.ops->bars(f.b.ctx, "AAPL", 60, 10, bars, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(hydra_sim_step(f.sim), 0);
    assert_int_equal(f.clock.sim_now_ms, t0 + MIN_MS);
    assert_int_equal(f.b.ops->latest_prices(f.b.ctx, syms, 1, &q, &err), 0);
    assert_near(q.price, 101, EPS);
    assert_int_equal(q.t_ms, t0 + MIN_MS);
    assert_int_equal(hydra_sim_step(f.sim), 0);
    assert_int_equal(f.clock.sim_now_ms, t0 + 3 * MIN_MS);
    /* Only one bar was left: the tick still moves, and the next one reports the end. */
    assert_int_equal(hydra_sim_step(f.sim), 0);
    assert_int_equal(f.clock.sim_now_ms, t0 + DAY_MS);
    assert_int_equal(hydra_sim_step(f.sim), HYDRA_EEOF);
    hydra_sim_close(f.sim);
}

static hydra_market_clock market_clock_at(const char *start)
{
    hydra_sim_cfg cfg = base_cfg();
    snprintf(cfg.start, sizeof cfg.start, "%s", start);
    fixture f;
    open_std(&f, &cfg);
    hydra_market_clock mc;
    hydra_broker_err err;
    assert_int_equal(f.b.ops->clock(f.b.ctx, &mc, &err), 0);
    assert_int_equal(mc.now_ms, f.clock.sim_now_ms);
    hydra_sim_close(f.sim);
    return mc;
}

static void test_market_clock_los_angeles(void **state)
{
    (void)state;
    static const struct {
        const char *at;
        int is_open;
        int open[5], close[5]; /* y m d h mi, market zone */
    } cases[] = {
        /* Monday in the session. */
        {"2024-01-08 06:30", 1, {2024, 1, 9, 6, 30}, {2024, 1, 8, 13, 0}},
        {"2024-01-08 13:00", 1, {2024, 1, 9, 6, 30}, {2024, 1, 8, 13, 0}},
        /* Monday before the open and after the close. */
        {"2024-01-08 06:29", 0, {2024, 1, 8, 6, 30}, {2024, 1, 8, 13, 0}},
        {"2024-01-08 13:01", 0, {2024, 1, 9, 6, 30}, {2024, 1, 9, 13, 0}},
        /* Friday evening and Saturday: the next session is Monday. */
        {"2024-01-12 13:30", 0, {2024, 1, 15, 6, 30}, {2024, 1, 15, 13, 0}},
        {"2024-01-13 09:00", 0, {2024, 1, 15, 6, 30}, {2024, 1, 15, 13, 0}},
        /* Across the spring-forward weekend (2024-03-10). */
        {"2024-03-08 14:00", 0, {2024, 3, 11, 6, 30}, {2024, 3, 11, 13, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hydra_market_clock mc = market_clock_at(cases[i].at);
        const int *o = cases[i].open, *c = cases[i].close;
        assert_int_equal(mc.is_open, cases[i].is_open);
        assert_int_equal(mc.next_open_ms, hydra_utc_from_local(o[0], o[1], o[2], o[3], o[4], 0));
        assert_int_equal(mc.next_close_ms, hydra_utc_from_local(c[0], c[1], c[2], c[3], c[4], 0));
    }
    /* 06:30 PDT is 13:30 UTC. */
    hydra_market_clock mc = market_clock_at("2024-03-08 14:00");
    char buf[32];
    hydra_format_utc(mc.next_open_ms, buf, sizeof buf);
    assert_string_equal(buf, "2024-03-11T13:30:00.000Z");
}

/*
 * The clock as the sim answered it before it remembered sessions: every
 * weekday from today on, its open and close converted afresh.
 */
static hydra_market_clock clock_reference(int64_t now)
{
    hydra_market_clock mc = {.now_ms = now};
    hydra_local_time lt;
    hydra_local_from_utc(now, &lt);
    for (long d = lt.days; d <= lt.days + 7; d++) {
        time_t noon = (time_t)(d * 86400 + 43200);
        struct tm tm;
        gmtime_r(&noon, &tm);
        if (tm.tm_wday == 0 || tm.tm_wday == 6)
            continue;
        int y = tm.tm_year + 1900, m = tm.tm_mon + 1;
        int64_t open = hydra_utc_from_local(y, m, tm.tm_mday, 6, 30, 0);
        int64_t close = hydra_utc_from_local(y, m, tm.tm_mday, 13, 0, 0);
        if (d == lt.days && open <= now && now <= close)
            mc.is_open = 1;
        if (mc.next_open_ms == 0 && open > now)
            mc.next_open_ms = open;
        if (mc.next_close_ms == 0 && close >= now)
            mc.next_close_ms = close;
    }
    return mc;
}

/*
 * One sim stepped through three weeks of half-hourly bars, weekends and
 * the spring-forward change included, answers every step's clock as the
 * reference does: the sessions it remembers from step to step never go
 * stale.
 */
static void test_market_clock_stays_right_while_stepping(void **state)
{
    (void)state;
    enum { N = 21 * 48 };
    static ohlc rows[N];
    for (int i = 0; i < N; i++)
        rows[i] = (ohlc){(int64_t)i * 30 * MIN_MS, 100, 101, 99, 100};
    hydra_sim_cfg cfg = base_cfg();
    cfg.bar_seconds = 1800;
    hydra_series s = make_series("AAPL", hydra_utc_from_local(2024, 3, 1, 0, 0, 0), rows, N);
    hydra_clock clock;
    hydra_clock_init_sim(&clock, 0);
    hydra_sim *sim = NULL;
    char err[256] = "";
    if (hydra_sim_open(&cfg, &s, 1, &clock, &sim, err, sizeof err) != 0)
        fail_msg("hydra_sim_open: %s", err);
    hydra_broker b = hydra_sim_broker(sim);
    int steps = 0, open_steps = 0;
    do {
        hydra_market_clock got, want = clock_reference(clock.sim_now_ms);
        hydra_broker_err e;
        assert_int_equal(b.ops->clock(b.ctx, &got, &e), 0);
        if (got.is_open != want.is_open || got.next_open_ms != want.next_open_ms ||
            got.next_close_ms != want.next_close_ms || got.now_ms != want.now_ms)
            fail_msg("step %d at %lld: open %d/%d next_open %lld/%lld next_close %lld/%lld", steps,
                     (long long)clock.sim_now_ms, got.is_open, want.is_open,
                     (long long)got.next_open_ms, (long long)want.next_open_ms,
                     (long long)got.next_close_ms, (long long)want.next_close_ms);
        steps++;
        open_steps += got.is_open;
    } while (hydra_sim_step(sim) == 0);
    assert_int_equal(steps, N);
    assert_true(open_steps > 100);
    hydra_sim_close(sim);
}

static void test_open_rejects_bad_configuration(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        int bar_seconds;
        const char *start, *open, *close;
        double cash;
    } bad[] = {
        {"zero bar_seconds", 0, "", "06:30", "13:00", 1000},
        {"bad start", 60, "2024-01-08", "06:30", "13:00", 1000},
        {"bad session", 60, "", "6:30", "13:00", 1000},
        {"close before open", 60, "", "13:00", "06:30", 1000},
        {"negative cash", 60, "", "06:30", "13:00", -1},
        {"NaN cash", 60, "", "06:30", "13:00", NAN},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hydra_sim_cfg cfg = base_cfg();
        cfg.bar_seconds = bad[i].bar_seconds;
        snprintf(cfg.start, sizeof cfg.start, "%s", bad[i].start);
        snprintf(cfg.session_open, sizeof cfg.session_open, "%s", bad[i].open);
        snprintf(cfg.session_close, sizeof cfg.session_close, "%s", bad[i].close);
        cfg.initial_cash = bad[i].cash;
        hydra_series s = make_series("AAPL", t0_ms(), AAPL_BARS, 2);
        hydra_clock clock;
        hydra_clock_init_sim(&clock, 0);
        hydra_sim *sim = (hydra_sim *)&clock;
        char err[256] = "";
        print_message("case: %s\n", bad[i].what);
        assert_int_equal(hydra_sim_open(&cfg, &s, 1, &clock, &sim, err, sizeof err), HYDRA_EINVAL);
        assert_null(sim);
        assert_true(strncmp(err, "sim: ", 5) == 0);
        /* The bars were taken over and freed either way. */
        assert_null(s.bars);
    }
    /* Out-of-order bars, duplicate symbols and a wall clock are refused. */
    hydra_sim_cfg cfg = base_cfg();
    const ohlc back[] = {{MIN_MS, 1, 1, 1, 1}, {0, 1, 1, 1, 1}};
    hydra_series s2[2] = {make_series("A", t0_ms(), back, 2), make_series("B", t0_ms(), back, 1)};
    hydra_clock clock;
    hydra_clock_init_sim(&clock, 0);
    hydra_sim *sim = NULL;
    char err[256];
    assert_int_equal(hydra_sim_open(&cfg, s2, 2, &clock, &sim, err, sizeof err), HYDRA_EINVAL);
    assert_string_equal(err, "sim: A bar 1: out of time order");
    hydra_series s3[2] = {make_series("A", t0_ms(), back, 1), make_series("A", t0_ms(), back, 1)};
    assert_int_equal(hydra_sim_open(&cfg, s3, 2, &clock, &sim, err, sizeof err), HYDRA_EINVAL);
    assert_string_equal(err, "sim: two series for A");
    hydra_series s4 = make_series("A", t0_ms(), back, 1);
    hydra_clock_init_wall(&clock);
    assert_int_equal(hydra_sim_open(&cfg, &s4, 1, &clock, &sim, err, sizeof err), HYDRA_EINVAL);
}

/* ---- persistence and determinism --------------------------------------------- */

/* Every observable of the account, with floats in hex so equality is bit for bit. */
static char *serialize(fixture *f)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    hydra_broker_err err;
    hydra_account a = account(f);
    len += (size_t)snprintf(buf + len, cap - len, "now %lld cash %a eq %a bp %a last %a\n",
                            (long long)f->clock.sim_now_ms, a.cash, a.equity, a.buying_power,
                            a.last_equity);
    hydra_broker_position pos[16];
    size_t n = 0;
    assert_int_equal(f->b.ops->positions(f->b.ctx, pos, 16, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "pos %s %u %a %a %a %a %a\n", pos[i].symbol,
                                pos[i].asset_class, pos[i].qty, pos[i].avg_entry_price,
                                pos[i].current_price, pos[i].market_value, pos[i].unrealized_pl);
    /*
     * Orders by client_order_id, without the broker ids: those carry a salt
     * of the account's own (0 in memory), checked in test_order_ids.
     */
    for (int k = 1;; k++) {
        char cid[64];
        hydra_order o;
        snprintf(cid, sizeof cid, "o%d", k);
        if (f->b.ops->order_by_client_id(f->b.ctx, cid, &o, &err) != 0)
            break;
        len += (size_t)snprintf(
            buf + len, cap - len, "ord %s %s %u %d %d %d %a %a %a %d %a %a %a %lld %lld %a\n",
            o.client_order_id, o.symbol, o.asset_class, o.side, o.type, o.tif, o.qty, o.notional,
            o.limit_price, o.status, o.filled_qty, o.filled_avg_price, o.fee,
            (long long)o.submitted_ms, (long long)o.filled_ms, o.fee_qty);
    }
    hydra_order open[16];
    assert_int_equal(f->b.ops->open_orders(f->b.ctx, open, 16, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "open %s\n", open[i].client_order_id);
    assert_true(len < cap);
    return buf;
}

/*
 * A session touching every kind of order, two orders per bar; orders are
 * named o1, o2, ... Runs steps [first, last) so a session can be split
 * across a restart.
 */
static void scripted_session(fixture *f, int first, int last)
{
    static const hydra_order_request script[] = {
        {"o1", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 7, 0, 0},
        {"o2", "BTC/USD", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_GTC, 0, 2500, 0},
        {"o3", OPT, 0, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, HYDRA_TIF_DAY, 3, 0, 0},
        {"o4", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 3, 0, 100.5},
        {"o5", "AAPL", 0, HYDRA_SIDE_SELL, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 4, 0, 103.5},
        {"o6", "BTC/USD", 0, HYDRA_SIDE_SELL, HYDRA_ORDER_MARKET, HYDRA_TIF_GTC, 0, 1000, 0},
        {"o7", "AAPL", 0, HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, HYDRA_TIF_GTC, 1, 0, 50},
    };
    hydra_broker_err err;
    for (int s = first; s < last; s++) {
        for (size_t k = 2 * (size_t)s;
             k < 2 * (size_t)s + 2 && k < sizeof script / sizeof script[0]; k++)
            assert_int_equal(submit(f, &script[k], &err), 0);
        assert_int_equal(hydra_sim_step(f->sim), 0);
    }
}

static void test_deterministic_sessions(void **state)
{
    (void)state;
    hydra_sim_cfg cfg = base_cfg();
    fixture a, b;
    open_std(&a, &cfg);
    open_std(&b, &cfg);
    scripted_session(&a, 0, 4);
    scripted_session(&b, 0, 4);
    char *sa = serialize(&a), *sb = serialize(&b);
    assert_true(strlen(sa) > 500);
    assert_string_equal(sa, sb);
    assert_memory_equal(sa, sb, strlen(sa) + 1);
    /* The session really traded: o1..o6 filled, o7 (limit 50) still open. */
    assert_non_null(strstr(sa, "open o7\n"));
    assert_int_equal(order(&a, "o5").status, HYDRA_BOS_FILLED);
    assert_int_equal(order(&a, "o6").status, HYDRA_BOS_FILLED);
    free(sa);
    free(sb);
    hydra_sim_close(a.sim);
    hydra_sim_close(b.sim);
}

static void test_persistence_continues_account(void **state)
{
    (void)state;
    char dir[256];
    assert_non_null(tu_mkdtemp(dir, sizeof dir));
    hydra_sim_cfg cfg = base_cfg();
    snprintf(cfg.db_path, sizeof cfg.db_path, "%s/paper.db", dir);

    fixture f;
    open_std(&f, &cfg);
    scripted_session(&f, 0, 3);
    char *before = serialize(&f);
    int64_t now = f.clock.sim_now_ms;
    hydra_sim_close(f.sim);

    /* Reopen: same account, same clock, even with a different configured start. */
    snprintf(cfg.start, sizeof cfg.start, "2024-01-08 06:00");
    open_std(&f, &cfg);
    assert_int_equal(f.clock.sim_now_ms, now);
    char *after = serialize(&f);
    assert_string_equal(before, after);
    /* The continued account keeps trading: ids carry on, fills match a fresh run. */
    scripted_session(&f, 3, 4);
    char *continued = serialize(&f);
    hydra_sim_close(f.sim);

    hydra_sim_cfg mem = base_cfg();
    fixture g;
    open_std(&g, &mem);
    scripted_session(&g, 0, 4);
    char *straight = serialize(&g);
    hydra_sim_close(g.sim);
    assert_string_equal(continued, straight);

    /* Reset: the next open starts fresh at the configured start. */
    char err[256];
    assert_int_equal(hydra_sim_reset(cfg.db_path, err, sizeof err), 0);
    open_std(&f, &cfg);
    assert_int_equal(f.clock.sim_now_ms, t0_ms() - 30 * MIN_MS);
    hydra_account a = account(&f);
    assert_near(a.cash, 100000, EPS);
    size_t n = 9;
    hydra_broker_position pos[4];
    hydra_broker_err berr;
    assert_int_equal(f.b.ops->positions(f.b.ctx, pos, 4, &n, &berr), 0);
    assert_int_equal(n, 0);
    hydra_order o;
    assert_int_equal(f.b.ops->order_by_client_id(f.b.ctx, "o1", &o, &berr), HYDRA_ENOTFOUND);
    hydra_sim_close(f.sim);

    /* Resetting nothing is fine; an unusable path is an error with a message. */
    assert_int_equal(hydra_sim_reset(":memory:", err, sizeof err), 0);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.db", dir);
    assert_int_equal(hydra_sim_reset(missing, err, sizeof err), 0);
    snprintf(cfg.db_path, sizeof cfg.db_path, "%s/no/such/dir/paper.db", dir);
    hydra_series s = make_series("AAPL", t0_ms(), AAPL_BARS, 2);
    hydra_sim *sim = NULL;
    hydra_clock clock;
    hydra_clock_init_sim(&clock, 0);
    assert_int_equal(hydra_sim_open(&cfg, &s, 1, &clock, &sim, err, sizeof err), HYDRA_EIO);
    assert_non_null(strstr(err, "no/such/dir/paper.db"));

    free(before);
    free(after);
    free(continued);
    free(straight);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_rules_table),
        cmocka_unit_test(test_ext_order_rules_table),
        cmocka_unit_test(test_account_events),
        cmocka_unit_test(test_account_math_scripted),
        cmocka_unit_test(test_equity_follows_every_change),
        cmocka_unit_test(test_order_validation),
        cmocka_unit_test(test_day_orders_expire_gtc_stays),
        cmocka_unit_test(test_forget_closed_orders),
        cmocka_unit_test(test_cancel_all_and_close_all),
        cmocka_unit_test(test_black_scholes_textbook),
        cmocka_unit_test(test_option_chain),
        cmocka_unit_test(test_option_chain_filter_is_a_tight_superset),
        cmocka_unit_test(test_option_strike_grid),
        cmocka_unit_test(test_option_expiry_settles_at_intrinsic),
        cmocka_unit_test(test_clock_steps_and_jumps_gaps),
        cmocka_unit_test(test_market_clock_los_angeles),
        cmocka_unit_test(test_market_clock_stays_right_while_stepping),
        cmocka_unit_test(test_open_rejects_bad_configuration),
        cmocka_unit_test(test_deterministic_sessions),
        cmocka_unit_test(test_persistence_continues_account),
    };
    return cmocka_run_group_tests(tests, setup_tz, NULL);
}
