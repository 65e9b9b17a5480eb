/*
 * The Alpaca answer parsers over every recorded body in
 * tests/fixtures/alpaca/ (copied from the shared API notes, including the
 * hand-written SDK mocks with numeric decimals), plus mutations of them:
 * each required field removed, nulled, made non-finite or given the wrong
 * type must make the answer malformed, never a zero and never a crash.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alpaca.h"
#include "alpaca_json.h"
#include "clock.h"
#include "error.h"
#include "testutil.h"

#define FIXTURES HYDRA_SOURCE_DIR "/tests/fixtures/alpaca/"

static json_t *fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, FIXTURES "%s", name);
    size_t len = 0;
    char *text = tu_read_file(path, &len);
    assert_non_null(text);
    json_t *j = NULL;
    char why[200];
    assert_int_equal(hydra_alpaca_json_load(text, len, &j, why, sizeof why), 0);
    free(text);
    return j;
}

static int64_t t_of(const char *rfc3339)
{
    int64_t t = 0;
    assert_int_equal(hydra_parse_rfc3339(rfc3339, &t), 0);
    return t;
}

/* ---- every fixture is covered by a test below; a new file fails this ---- */

static const char *const COVERED[] = {
    "PROVENANCE.json", "README.md", "account.json", "account_configurations.json",
    "order_market_accepted.json", "order_accepted_notional.json", "order_filled.json",
    "trade_update_fill.json", "orders_list.json", "cancel_all_207.json", "positions.json",
    "position_single.json", "close_all_positions_207.json", "close_position_order.json",
    "option_contracts.json", "option_contracts_page.json", "clock.json", "calendar.json",
    "latest_trade_stock.json", "latest_trades_stock_multi.json",
    "latest_trade_stock_not_found.json", "latest_trade_stock_single.json",
    "latest_quote_stock.json", "bars_stock.json", "latest_trade_crypto.json", "bars_crypto.json",
    "option_snapshots.json", "option_snapshots_by_symbol.json",
    "option_snapshot_quote_only.json", "error_403.json", "error_422.json",
    "error_extended_hours.json", "error_404_order_not_found.json", NULL};

static void test_every_fixture_is_covered(void **state)
{
    (void)state;
    DIR *d = opendir(FIXTURES);
    assert_non_null(d);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        int known = 0;
        for (int i = 0; COVERED[i] != NULL; i++)
            known |= strcmp(COVERED[i], de->d_name) == 0;
        if (!known)
            fail_msg("fixture %s has no parser test", de->d_name);
        files++;
    }
    closedir(d);
    assert_int_equal(files, 33);
}

/* ---- decimals ---- */

static void test_decimals_strings_and_numbers(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:s,s:f,s:i,s:s,s:s,s:s,s:s,s:s,s:n,s:b,s:s,s:s}", "a", "103820.56", "b",
                          1.5, "c", 7, "d", "-23140.2", "e", "nan", "f", "inf", "g", "", "h",
                          "1e3", "i", "j", 1, "k", "0x10", "l", "12abc");
    double v = 0;
    char why[200];
    assert_int_equal(hydra_alpaca_decimal(j, "a", &v, why, sizeof why), 0);
    assert_true(v == 103820.56);
    assert_int_equal(hydra_alpaca_decimal(j, "b", &v, why, sizeof why), 0);
    assert_true(v == 1.5);
    assert_int_equal(hydra_alpaca_decimal(j, "c", &v, why, sizeof why), 0);
    assert_true(v == 7);
    assert_int_equal(hydra_alpaca_decimal(j, "d", &v, why, sizeof why), 0);
    assert_true(v == -23140.2);
    assert_int_equal(hydra_alpaca_decimal(j, "h", &v, why, sizeof why), 0);
    assert_true(v == 1000);
    const char *bad[] = {"e", "f", "g", "j", "k", "l"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        assert_int_equal(hydra_alpaca_decimal(j, bad[i], &v, why, sizeof why), HYDRA_EMALFORMED);
        assert_true(v == 42);
        assert_non_null(strstr(why, bad[i]));
    }
    assert_int_equal(hydra_alpaca_decimal(j, "i", &v, why, sizeof why), HYDRA_ENOTFOUND);
    assert_int_equal(hydra_alpaca_decimal(j, "absent", &v, why, sizeof why), HYDRA_ENOTFOUND);
    json_decref(j);
}

/* ---- account ---- */

static void test_account_fixture(void **state)
{
    (void)state;
    json_t *j = fixture("account.json");
    hydra_account a;
    char why[200];
    assert_int_equal(hydra_alpaca_parse_account(j, &a, why, sizeof why), 0);
    assert_true(a.equity == 103820.56);
    assert_true(a.cash == -23140.2);
    assert_true(a.buying_power == 262113.632);
    assert_true(a.last_equity == 103529.24);
    assert_int_equal(a.active, 1);
    assert_int_equal(a.trading_blocked, 0);

    /* Each flag alone blocks trading; a status other than ACTIVE is not active. */
    const char *flags[] = {"trading_blocked", "account_blocked", "trade_suspended_by_user"};
    for (int i = 0; i < 3; i++) {
        json_t *c = json_deep_copy(j);
        json_object_set_new(c, flags[i], json_true());
        assert_int_equal(hydra_alpaca_parse_account(c, &a, why, sizeof why), 0);
        assert_int_equal(a.trading_blocked, 1);
        json_decref(c);
    }
    json_t *c = json_deep_copy(j);
    json_object_set_new(c, "status", json_string("ACCOUNT_CLOSED"));
    assert_int_equal(hydra_alpaca_parse_account(c, &a, why, sizeof why), 0);
    assert_int_equal(a.active, 0);
    json_decref(c);

    /* PDT fields went away in 2026: their absence changes nothing. */
    c = json_deep_copy(j);
    json_object_del(c, "pattern_day_trader");
    json_object_del(c, "daytrade_count");
    json_object_del(c, "daytrading_buying_power");
    json_object_del(c, "last_equity");
    assert_int_equal(hydra_alpaca_parse_account(c, &a, why, sizeof why), 0);
    assert_true(isnan(a.last_equity));
    json_decref(c);
    json_decref(j);
}

/* Removing, nulling, breaking or retyping any of `keys` makes `parse` fail as malformed. */
typedef int (*parse_fn)(const json_t *j, void *out, char *why, size_t whysz);

static void mutate_required(const json_t *good, const char *const *keys, parse_fn parse,
                            void *out)
{
    char why[200];
    assert_int_equal(parse(good, out, why, sizeof why), 0);
    for (int k = 0; keys[k] != NULL; k++) {
        json_t *muts[4] = {json_deep_copy(good), json_deep_copy(good), json_deep_copy(good),
                           json_deep_copy(good)};
        json_object_del(muts[0], keys[k]);
        json_object_set_new(muts[1], keys[k], json_null());
        json_object_set_new(muts[2], keys[k], json_string("NaN"));
        json_object_set_new(muts[3], keys[k], json_pack("{s:i}", "x", 1));
        for (int m = 0; m < 4; m++) {
            why[0] = '\0';
            int rc = parse(muts[m], out, why, sizeof why);
            /* A string "NaN" is a legal value only for string fields. */
            if (m == 2 && rc == 0)
                continue;
            if (rc != HYDRA_EMALFORMED)
                fail_msg("mutation %d of %s parsed (rc %d)", m, keys[k], rc);
            assert_non_null(strstr(why, keys[k]));
            json_decref(muts[m]);
            muts[m] = NULL;
        }
        for (int m = 0; m < 4; m++)
            json_decref(muts[m]);
    }
}

static int parse_account_v(const json_t *j, void *out, char *why, size_t whysz)
{
    return hydra_alpaca_parse_account(j, out, why, whysz);
}
static int parse_position_v(const json_t *j, void *out, char *why, size_t whysz)
{
    return hydra_alpaca_parse_position(j, out, why, whysz);
}
static int parse_order_v(const json_t *j, void *out, char *why, size_t whysz)
{
    return hydra_alpaca_parse_order(j, out, why, whysz);
}
static int parse_clock_v(const json_t *j, void *out, char *why, size_t whysz)
{
    return hydra_alpaca_parse_clock(j, out, why, whysz);
}

static void test_account_required_fields(void **state)
{
    (void)state;
    json_t *j = fixture("account.json");
    hydra_account a;
    const char *keys[] = {"id", "status", "cash", "equity", "buying_power", NULL};
    mutate_required(j, keys, parse_account_v, &a);
    /* Wrong type on a boolean is malformed too; an unknown key is ignored. */
    json_t *c = json_deep_copy(j);
    char why[200];
    json_object_set_new(c, "trading_blocked", json_string("false"));
    assert_int_equal(hydra_alpaca_parse_account(c, &a, why, sizeof why), HYDRA_EMALFORMED);
    json_object_set_new(c, "trading_blocked", json_false());
    json_object_set_new(c, "brand_new_field", json_pack("[i,i]", 1, 2));
    assert_int_equal(hydra_alpaca_parse_account(c, &a, why, sizeof why), 0);
    json_decref(c);
    /* Not an object at all. */
    json_t *calendar = fixture("calendar.json");
    assert_int_equal(hydra_alpaca_parse_account(calendar, &a, why, sizeof why), HYDRA_EMALFORMED);
    json_t *conf = fixture("account_configurations.json");
    assert_int_equal(hydra_alpaca_parse_account(conf, &a, why, sizeof why), HYDRA_EMALFORMED);
    json_decref(calendar);
    json_decref(conf);
    json_decref(j);
}

/* ---- positions ---- */

static void test_positions_fixtures(void **state)
{
    (void)state;
    json_t *j = fixture("positions.json");
    hydra_broker_position p[4];
    size_t n = 0;
    char why[200];
    assert_int_equal(hydra_alpaca_parse_positions(j, p, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 1);
    assert_string_equal(p[0].symbol, "AAPL");
    assert_int_equal(p[0].asset_class, HYDRA_ASSET_EQUITY);
    assert_true(p[0].qty == 5);
    assert_true(p[0].avg_entry_price == 100.0);
    assert_true(p[0].current_price == 120.0);
    assert_true(p[0].market_value == 600.0);
    assert_true(p[0].unrealized_pl == 100.0);
    assert_int_equal(hydra_alpaca_parse_positions(j, p, 0, &n, why, sizeof why), HYDRA_EFULL);
    json_decref(j);

    j = fixture("position_single.json");
    assert_int_equal(hydra_alpaca_parse_position(j, &p[0], why, sizeof why), 0);
    assert_true(p[0].qty == 2);
    assert_true(p[0].unrealized_pl == -0.98);
    const char *keys[] = {"symbol", "qty", "avg_entry_price", NULL};
    mutate_required(j, keys, parse_position_v, &p[0]);

    /* Crypto positions come back without the slash; short positions with side "short". */
    json_t *c = json_deep_copy(j);
    json_object_set_new(c, "symbol", json_string("BTCUSD"));
    json_object_set_new(c, "asset_class", json_string("crypto"));
    json_object_set_new(c, "qty", json_string("0.0283"));
    assert_int_equal(hydra_alpaca_parse_position(c, &p[0], why, sizeof why), 0);
    assert_string_equal(p[0].symbol, "BTC/USD");
    assert_int_equal(p[0].asset_class, HYDRA_ASSET_CRYPTO);
    assert_true(p[0].qty == 0.0283);
    json_object_set_new(c, "symbol", json_string("ETHUSDT"));
    assert_int_equal(hydra_alpaca_parse_position(c, &p[0], why, sizeof why), 0);
    assert_string_equal(p[0].symbol, "ETH/USDT");
    json_object_set_new(c, "symbol", json_string("AAPL"));
    json_object_set_new(c, "asset_class", json_string("us_equity"));
    json_object_set_new(c, "side", json_string("short"));
    json_object_set_new(c, "qty", json_string("3"));
    assert_int_equal(hydra_alpaca_parse_position(c, &p[0], why, sizeof why), 0);
    assert_true(p[0].qty == -3);
    json_object_set_new(c, "qty", json_string("-3"));
    assert_int_equal(hydra_alpaca_parse_position(c, &p[0], why, sizeof why), 0);
    assert_true(p[0].qty == -3);
    /* Optional display fields: absent is NaN, not zero. */
    json_object_del(c, "current_price");
    json_object_del(c, "unrealized_pl");
    assert_int_equal(hydra_alpaca_parse_position(c, &p[0], why, sizeof why), 0);
    assert_true(isnan(p[0].current_price));
    assert_true(isnan(p[0].unrealized_pl));
    json_decref(c);
    json_decref(j);

    j = json_array();
    assert_int_equal(hydra_alpaca_parse_positions(j, p, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 0);
    json_decref(j);
}

/* ---- orders ---- */

static void test_order_fixtures(void **state)
{
    (void)state;
    hydra_order o;
    char why[200];

    /* Hand-written mock: numeric qty and commission, a stray backtick in the symbol. */
    json_t *j = fixture("order_market_accepted.json");
    assert_int_equal(hydra_alpaca_parse_order(j, &o, why, sizeof why), 0);
    assert_string_equal(o.id, "61e69015-8549-4bfd-b9c3-01e75843f47d");
    assert_string_equal(o.client_order_id, "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4");
    assert_string_equal(o.symbol, "AAPL`");
    assert_true(o.qty == 1);
    assert_true(o.notional == 0);
    assert_true(o.fee == 1.25);
    assert_int_equal(o.status, HYDRA_BOS_NEW);
    assert_int_equal(o.side, HYDRA_SIDE_BUY);
    assert_int_equal(o.type, HYDRA_ORDER_MARKET);
    assert_int_equal(o.tif, HYDRA_TIF_DAY);
    assert_true(o.filled_qty == 0);
    assert_true(o.filled_avg_price == 0);
    assert_true(o.submitted_ms == t_of("2021-03-16T18:38:01.937734Z"));
    assert_true(o.filled_ms == 0);
    json_decref(j);

    j = fixture("order_accepted_notional.json");
    assert_int_equal(hydra_alpaca_parse_order(j, &o, why, sizeof why), 0);
    assert_true(o.notional > 0);
    assert_true(o.qty == 0);
    json_decref(j);

    /* Filled crypto order in the old symbol form, created_at with -04:00, filled_at in Z. */
    j = fixture("order_filled.json");
    assert_int_equal(hydra_alpaca_parse_order(j, &o, why, sizeof why), 0);
    assert_string_equal(o.symbol, "SOL/USD");
    assert_int_equal(o.asset_class, HYDRA_ASSET_CRYPTO);
    assert_int_equal(o.status, HYDRA_BOS_FILLED);
    assert_int_equal(o.side, HYDRA_SIDE_SELL);
    assert_int_equal(o.tif, HYDRA_TIF_GTC);
    assert_true(o.filled_qty == 1790.86);
    assert_true(o.filled_avg_price == 105.8988475);
    assert_true(o.filled_ms == t_of("2022-04-19T17:45:05.024Z"));
    assert_true(o.submitted_ms == t_of("2022-04-19T17:45:04.980Z"));
    const char *keys[] = {"id", "client_order_id", "symbol", "side", "status", "filled_qty",
                          "filled_avg_price", NULL};
    mutate_required(j, keys, parse_order_v, &o);
    /* A time that is present must parse. */
    json_t *c = json_deep_copy(j);
    json_object_set_new(c, "filled_at", json_string("yesterday"));
    assert_int_equal(hydra_alpaca_parse_order(c, &o, why, sizeof why), HYDRA_EMALFORMED);
    assert_non_null(strstr(why, "filled_at"));
    /* Neither qty nor notional. */
    json_object_set_new(c, "filled_at", json_null());
    json_object_set_new(c, "qty", json_null());
    assert_int_equal(hydra_alpaca_parse_order(c, &o, why, sizeof why), HYDRA_EMALFORMED);
    /* A limit order without a price is not a usable order. */
    json_object_set_new(c, "qty", json_string("1"));
    json_object_set_new(c, "type", json_string("limit"));
    assert_int_equal(hydra_alpaca_parse_order(c, &o, why, sizeof why), HYDRA_EMALFORMED);
    json_object_set_new(c, "limit_price", json_string("101.5"));
    assert_int_equal(hydra_alpaca_parse_order(c, &o, why, sizeof why), 0);
    assert_true(o.limit_price == 101.5);
    json_decref(c);
    json_decref(j);

    /* The websocket event carries the same Order entity under data.order. */
    j = fixture("trade_update_fill.json");
    assert_int_equal(hydra_alpaca_parse_order(json_object_get(json_object_get(j, "data"), "order"),
                                              &o, why, sizeof why),
                     0);
    assert_int_equal(o.status, HYDRA_BOS_FILLED);
    assert_int_equal(hydra_alpaca_parse_order(j, &o, why, sizeof why), HYDRA_EMALFORMED);
    json_decref(j);

    j = fixture("close_position_order.json");
    assert_int_equal(hydra_alpaca_parse_order(j, &o, why, sizeof why), 0);
    assert_int_equal(o.side, HYDRA_SIDE_SELL);
    json_decref(j);
}

static void test_order_statuses(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int status;
    } cases[] = {
        {"new", HYDRA_BOS_NEW},           {"accepted", HYDRA_BOS_NEW},
        {"pending_new", HYDRA_BOS_NEW},   {"held", HYDRA_BOS_NEW},
        {"done_for_day", HYDRA_BOS_NEW},  {"pending_cancel", HYDRA_BOS_NEW},
        {"some_future_status", HYDRA_BOS_NEW},
        {"partially_filled", HYDRA_BOS_PARTIALLY_FILLED},
        {"filled", HYDRA_BOS_FILLED},     {"canceled", HYDRA_BOS_CANCELED},
        {"expired", HYDRA_BOS_EXPIRED},   {"rejected", HYDRA_BOS_REJECTED},
        {"replaced", HYDRA_BOS_REPLACED},
    };
    json_t *j = fixture("order_filled.json");
    char why[200];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hydra_order o;
        json_object_set_new(j, "status", json_string(cases[i].name));
        assert_int_equal(hydra_alpaca_parse_order(j, &o, why, sizeof why), 0);
        assert_int_equal(o.status, cases[i].status);
    }
    json_decref(j);
}

static void test_orders_list_mock(void **state)
{
    (void)state;
    json_t *j = fixture("orders_list.json");
    hydra_order o[4];
    size_t n = 0;
    char why[200];
    assert_int_equal(hydra_alpaca_parse_orders(j, o, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 1);
    assert_string_equal(o[0].symbol, "SPY");
    assert_true(o[0].qty == 1);
    assert_int_equal(o[0].type, 0); /* a stop order: not a type Hydra places */
    assert_int_equal(o[0].status, HYDRA_BOS_NEW);
    assert_int_equal(hydra_alpaca_parse_orders(j, o, 0, &n, why, sizeof why), HYDRA_EFULL);
    json_decref(j);
}

/* ---- 207 multi-status ---- */

static void test_multi_status_fixtures(void **state)
{
    (void)state;
    hydra_alpaca_multi m;
    char why[200];
    json_t *j = fixture("cancel_all_207.json");
    assert_int_equal(hydra_alpaca_parse_multi_status(j, &m, why, sizeof why), 0);
    assert_int_equal(m.n, 2);
    assert_int_equal(m.n_ok, 1);
    assert_int_equal(m.n_not_found, 1);
    assert_int_equal(m.n_failed, 0);
    assert_non_null(strstr(m.first_failure, "order not found"));
    json_decref(j);

    j = fixture("close_all_positions_207.json");
    assert_int_equal(hydra_alpaca_parse_multi_status(j, &m, why, sizeof why), 0);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.n_ok, 1);
    assert_int_equal(m.n_failed, 2);
    assert_non_null(strstr(m.first_failure, "SQQQ: 403 insufficient qty available"));
    /* The success element's body is an Order. */
    hydra_order o;
    assert_int_equal(
        hydra_alpaca_parse_order(json_object_get(json_array_get(j, 0), "body"), &o, why, sizeof why),
        0);
    assert_string_equal(o.symbol, "BTC/USD");
    /* A status as a string (the old spec's type) is understood; a missing one is not. */
    json_object_set_new(json_array_get(j, 0), "status", json_string("200"));
    assert_int_equal(hydra_alpaca_parse_multi_status(j, &m, why, sizeof why), 0);
    assert_int_equal(m.n_ok, 1);
    json_object_del(json_array_get(j, 0), "status");
    assert_int_equal(hydra_alpaca_parse_multi_status(j, &m, why, sizeof why), HYDRA_EMALFORMED);
    json_decref(j);

    j = json_array();
    assert_int_equal(hydra_alpaca_parse_multi_status(j, &m, why, sizeof why), 0);
    assert_int_equal(m.n, 0);
    json_decref(j);
}

/* ---- market data ---- */

static void test_latest_trades_fixtures(void **state)
{
    (void)state;
    hydra_quote q[2];
    char why[200];
    json_t *j = fixture("latest_trades_stock_multi.json");
    const char *both[] = {"TSLA", "AAPL"};
    assert_int_equal(hydra_alpaca_parse_latest_trades(j, both, 2, q, why, sizeof why), 0);
    assert_string_equal(q[0].symbol, "TSLA");
    assert_true(q[0].price == 720.19);
    assert_true(q[0].t_ms == t_of("2022-07-15T19:59:59.405Z"));
    assert_true(q[1].price == 161.2958);
    /* A symbol the answer leaves out (no trade for it) is unpriced; the others are priced. */
    const char *missing[] = {"AAPL", "MSFT"};
    assert_int_equal(hydra_alpaca_parse_latest_trades(j, missing, 2, q, why, sizeof why), 0);
    assert_true(q[0].price == 161.2958);
    assert_true(q[1].price == 0 && q[1].t_ms == 0);
    /* A price that is not finite, or a trade without a time. */
    json_t *t = json_object_get(json_object_get(j, "trades"), "AAPL");
    json_object_set_new(t, "p", json_string("inf"));
    assert_int_equal(hydra_alpaca_parse_latest_trades(j, both, 2, q, why, sizeof why),
                     HYDRA_EMALFORMED);
    assert_non_null(strstr(why, "AAPL"));
    json_object_set_new(t, "p", json_real(1.0));
    json_object_del(t, "t");
    assert_int_equal(hydra_alpaca_parse_latest_trades(j, both, 2, q, why, sizeof why),
                     HYDRA_EMALFORMED);
    json_decref(j);

    j = fixture("latest_trade_stock.json");
    const char *aapl[] = {"AAPL"};
    assert_int_equal(hydra_alpaca_parse_latest_trades(j, aapl, 1, q, why, sizeof why), 0);
    assert_true(q[0].price == 161.2958);
    json_decref(j);

    /* Alpaca's answer without the symbol: unpriced (zeroes), not a malformed answer. */
    j = fixture("latest_trade_stock_not_found.json");
    assert_int_equal(hydra_alpaca_parse_latest_trades(j, aapl, 1, q, why, sizeof why), 0);
    assert_true(q[0].price == 0 && q[0].t_ms == 0);
    json_decref(j);

    /* The single-symbol and quote forms are other endpoints' answers: not latest trades. */
    j = fixture("latest_trade_stock_single.json");
    assert_int_equal(hydra_alpaca_parse_latest_trades(j, aapl, 1, q, why, sizeof why),
                     HYDRA_EMALFORMED);
    json_decref(j);
    j = fixture("latest_quote_stock.json");
    assert_int_equal(hydra_alpaca_parse_latest_trades(j, aapl, 1, q, why, sizeof why),
                     HYDRA_EMALFORMED);
    json_decref(j);

    j = fixture("latest_trade_crypto.json");
    const char *btc[] = {"BTC/USD"};
    assert_int_equal(hydra_alpaca_parse_latest_trades(j, btc, 1, q, why, sizeof why), 0);
    assert_true(q[0].price == 40650);
    assert_true(q[0].t_ms == t_of("2022-03-18T14:03:31.960Z"));
    json_decref(j);
}

static void test_bars_fixtures(void **state)
{
    (void)state;
    hydra_bar b[4];
    size_t n = 0;
    char why[200], token[128];
    json_t *j = fixture("bars_stock.json");
    assert_int_equal(hydra_alpaca_parse_bars(j, "AAPL", b, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 2);
    assert_true(b[0].t_ms == t_of("2022-02-01T05:00:00Z"));
    assert_true(b[0].open == 174 && b[0].high == 174.84 && b[0].low == 172.31 &&
                b[0].close == 174.61 && b[0].volume == 85998033);
    assert_int_equal(hydra_alpaca_next_page_token(j, token, sizeof token, why, sizeof why), 0);
    assert_string_equal(token, "QUFQTHxEfDIwMjItMDItMDJUMDU6MDA6MDAuMDAwMDAwMDAwWg==");
    assert_int_equal(hydra_alpaca_parse_bars(j, "AAPL", b, 1, &n, why, sizeof why), HYDRA_EFULL);
    assert_int_equal(hydra_alpaca_parse_bars(j, "MSFT", b, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 0);
    /* A bar with a missing close is malformed, not a zero close. */
    json_object_del(json_array_get(json_object_get(json_object_get(j, "bars"), "AAPL"), 1), "c");
    assert_int_equal(hydra_alpaca_parse_bars(j, "AAPL", b, 4, &n, why, sizeof why),
                     HYDRA_EMALFORMED);
    json_decref(j);

    j = fixture("bars_crypto.json");
    assert_int_equal(hydra_alpaca_parse_bars(j, "ETH/USD", b, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 1);
    assert_true(b[0].close == 858.97);
    assert_int_equal(hydra_alpaca_next_page_token(j, token, sizeof token, why, sizeof why), 0);
    assert_string_equal(token, "");
    json_decref(j);

    /* The single-symbol form. */
    j = json_pack("{s:[{s:s,s:f,s:f,s:f,s:f,s:i}],s:s,s:n}", "bars", "t", "2026-01-02T14:30:00Z",
                  "o", 1.0, "h", 2.0, "l", 0.5, "c", 1.5, "v", 10, "symbol", "AAPL",
                  "next_page_token");
    assert_int_equal(hydra_alpaca_parse_bars(j, "AAPL", b, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 1);
    json_decref(j);
}

static void test_option_fixtures(void **state)
{
    (void)state;
    hydra_option_quote q[4];
    size_t n = 0, matched = 0;
    char why[200], token[64];
    json_t *j = fixture("option_contracts.json");
    assert_int_equal(hydra_alpaca_parse_option_contracts(j, q, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 1);
    assert_string_equal(q[0].symbol, "AAPL231103C00170000");
    assert_string_equal(q[0].underlying, "AAPL");
    assert_int_equal(q[0].is_call, 1);
    assert_true(q[0].strike == 170);
    assert_int_equal(q[0].expiry_yyyymmdd, 20231103);
    assert_int_equal(q[0].multiplier, 100);
    assert_true(isnan(q[0].bid) && isnan(q[0].delta));
    assert_int_equal(hydra_alpaca_next_page_token(j, token, sizeof token, why, sizeof why), 0);
    assert_string_equal(token, "");
    json_t *c = json_deep_copy(j);
    json_object_del(json_array_get(json_object_get(c, "option_contracts"), 0), "strike_price");
    n = 0;
    assert_int_equal(hydra_alpaca_parse_option_contracts(c, q, 4, &n, why, sizeof why),
                     HYDRA_EMALFORMED);
    assert_non_null(strstr(why, "strike_price"));
    json_decref(c);
    json_decref(j);

    j = fixture("option_contracts_page.json");
    n = 0;
    assert_int_equal(hydra_alpaca_parse_option_contracts(j, q, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 1);
    assert_int_equal(hydra_alpaca_next_page_token(j, token, sizeof token, why, sizeof why), 0);
    assert_string_equal(token, "MA==");
    /* Pages append to what earlier pages gave, up to the capacity. */
    assert_int_equal(hydra_alpaca_parse_option_contracts(j, q, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 2);
    assert_int_equal(hydra_alpaca_parse_option_contracts(j, q, 2, &n, why, sizeof why), HYDRA_EFULL);
    json_decref(j);

    /* Snapshots with greeks join onto contracts by symbol. */
    j = fixture("option_snapshots.json");
    assert_int_equal(hydra_alpaca_option_from_occ("AAPL240503P00155000", &q[0]), 0);
    assert_int_equal(hydra_alpaca_option_from_occ("AAPL240503C00160000", &q[1]), 0);
    assert_int_equal(hydra_alpaca_apply_option_snapshots(j, q, 2, &matched, why, sizeof why), 0);
    assert_int_equal(matched, 1);
    assert_int_equal(q[0].is_call, 0);
    assert_true(q[0].strike == 155);
    assert_true(q[0].bid == 0.32 && q[0].ask == 0.35 && q[0].last == 0.34);
    assert_true(fabs(q[0].delta + 0.0696235) < 1e-6);
    assert_true(fabs(q[0].iv - 0.4584478) < 1e-6);
    assert_true(isnan(q[1].bid));
    json_object_set_new(json_object_get(json_object_get(json_object_get(j, "snapshots"),
                                                        "AAPL240503P00155000"),
                                        "greeks"),
                        "delta", json_real(-3.0));
    assert_int_equal(hydra_alpaca_apply_option_snapshots(j, q, 2, &matched, why, sizeof why),
                     HYDRA_EMALFORMED);
    json_decref(j);

    j = fixture("option_snapshots_by_symbol.json");
    assert_int_equal(hydra_alpaca_option_from_occ("AAPL240126P00050000", &q[0]), 0);
    assert_int_equal(hydra_alpaca_apply_option_snapshots(j, q, 1, &matched, why, sizeof why), 0);
    assert_int_equal(matched, 1);
    assert_true(q[0].ask == 0.59);
    const char *sym[] = {"AAPL240126P00050000"};
    hydra_quote price;
    assert_int_equal(hydra_alpaca_parse_option_prices(j, sym, 1, &price, why, sizeof why), 0);
    assert_true(fabs(price.price - 0.535) < 1e-9);
    assert_true(price.t_ms == t_of("2024-02-02T20:59:59.731Z"));
    json_decref(j);

    /* Greeks, IV and the last trade may be absent: NaN, never zero. */
    j = fixture("option_snapshot_quote_only.json");
    assert_int_equal(hydra_alpaca_option_from_occ("AAPL240126P00050000", &q[0]), 0);
    assert_int_equal(hydra_alpaca_apply_option_snapshots(j, q, 1, &matched, why, sizeof why), 0);
    assert_true(q[0].bid == 0.48);
    assert_true(isnan(q[0].delta) && isnan(q[0].iv) && isnan(q[0].last));
    const char *other[] = {"AAPL240126C00050000"};
    assert_int_equal(hydra_alpaca_parse_option_prices(j, other, 1, &price, why, sizeof why),
                     HYDRA_EMALFORMED);
    assert_non_null(strstr(why, "AAPL240126C00050000"));
    json_decref(j);
}

/* ---- calendar ---- */

static int parse_calendar_text(const char *text, hydra_session *out, size_t cap, size_t *n)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    char why[200] = "";
    int rc = hydra_alpaca_parse_calendar(j, out, cap, n, why, sizeof why);
    if (rc == HYDRA_EMALFORMED)
        assert_true(why[0] != '\0');
    json_decref(j);
    return rc;
}

static void test_calendar_fixture(void **state)
{
    (void)state;
    json_t *j = fixture("calendar.json");
    hydra_session s[4];
    size_t n = 0;
    char why[200];
    assert_int_equal(hydra_alpaca_parse_calendar(j, s, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 2);
    /* New York times: 09:30 and 16:00 EDT are 13:30 and 20:00 UTC. */
    assert_int_equal(s[0].date, 20220516);
    assert_true(s[0].open_ms == t_of("2022-05-16T13:30:00Z"));
    assert_true(s[0].close_ms == t_of("2022-05-16T20:00:00Z"));
    assert_int_equal(s[1].date, 20220517);
    /* More days than the caller holds: EFULL, never a silent cut. */
    assert_int_equal(hydra_alpaca_parse_calendar(j, s, 1, &n, why, sizeof why), HYDRA_EFULL);
    json_decref(j);

    /* An early close (the day after Thanksgiving, EST) and unknown fields. */
    assert_int_equal(parse_calendar_text("[{\"date\":\"2022-11-25\",\"open\":\"09:30\",\"close\":"
                                         "\"13:00\",\"settlement_date\":\"2022-11-29\"}]",
                                         s, 4, &n),
                     0);
    assert_true(s[0].close_ms == t_of("2022-11-25T18:00:00Z"));
    assert_int_equal(parse_calendar_text("[]", s, 4, &n), 0);
    assert_int_equal(n, 0);

    static const char *const bad[] = {
        "{}",
        "[1]",
        "[{\"open\":\"09:30\",\"close\":\"16:00\"}]",
        "[{\"date\":\"2022-5-16\",\"open\":\"09:30\",\"close\":\"16:00\"}]",
        "[{\"date\":\"2022-05-16x\",\"open\":\"09:30\",\"close\":\"16:00\"}]",
        "[{\"date\":\"2022-13-16\",\"open\":\"09:30\",\"close\":\"16:00\"}]",
        "[{\"date\":\"2022-05-16\",\"open\":\"9:30\",\"close\":\"16:00\"}]",
        "[{\"date\":\"2022-05-16\",\"open\":\"09:30\"}]",
        "[{\"date\":\"2022-05-16\",\"open\":930,\"close\":\"16:00\"}]",
        "[{\"date\":\"2022-05-16\",\"open\":\"16:00\",\"close\":\"09:30\"}]",
        "[{\"date\":\"2022-05-16\",\"open\":\"09:30\",\"close\":\"24:00\"}]",
        "[{\"date\":\"2022-05-17\",\"open\":\"09:30\",\"close\":\"16:00\"},"
        "{\"date\":\"2022-05-16\",\"open\":\"09:30\",\"close\":\"16:00\"}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 99;
        if (parse_calendar_text(bad[i], s, 4, &n) != HYDRA_EMALFORMED)
            fail_msg("calendar accepted: %s", bad[i]);
        assert_int_equal(n, 0);
    }
}

static void test_clock_fixture(void **state)
{
    (void)state;
    json_t *j = fixture("clock.json");
    hydra_market_clock c;
    char why[200];
    assert_int_equal(hydra_alpaca_parse_clock(j, &c, why, sizeof why), 0);
    assert_int_equal(c.is_open, 0);
    /* 16:32:24.143 at -04:00 is 20:32:24.143 UTC: eight fractional digits, an offset. */
    assert_true(c.now_ms == t_of("2022-05-16T20:32:24.143Z"));
    assert_true(c.next_open_ms == t_of("2022-05-17T13:30:00Z"));
    assert_true(c.next_close_ms == t_of("2022-05-17T20:00:00Z"));
    const char *keys[] = {"timestamp", "is_open", "next_open", "next_close", NULL};
    mutate_required(j, keys, parse_clock_v, &c);
    json_decref(j);
}

static int parse_asset_v(const json_t *j, void *out, char *why, size_t whysz)
{
    return hydra_alpaca_parse_asset(j, out, why, whysz);
}

/* /v2/assets/{symbol}: the example of Alpaca's OpenAPI document, then each required field broken. */
static void test_asset_answer(void **state)
{
    (void)state;
    json_error_t e;
    json_t *j = json_loads("{\"id\": \"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415\", \"class\": \"us_equity\","
                           " \"exchange\": \"NASDAQ\", \"symbol\": \"AAPL\", \"name\": \"Apple Inc."
                           " Common Stock\", \"status\": \"active\", \"tradable\": true,"
                           " \"marginable\": true, \"shortable\": true, \"easy_to_borrow\": true,"
                           " \"fractionable\": true}",
                           0, &e);
    assert_non_null(j);
    hydra_asset a;
    char why[200];
    assert_int_equal(hydra_alpaca_parse_asset(j, &a, why, sizeof why), 0);
    assert_string_equal(a.symbol, "AAPL");
    assert_int_equal(a.asset_class, HYDRA_ASSET_EQUITY);
    assert_true(a.active && a.tradable && a.fractionable);
    const char *keys[] = {"symbol", "class", "status", "tradable", "fractionable", NULL};
    mutate_required(j, keys, parse_asset_v, &a);
    /* A delisted crypto pair, written without its slash. */
    json_object_set_new(j, "class", json_string("crypto"));
    json_object_set_new(j, "symbol", json_string("BTCUSD"));
    json_object_set_new(j, "status", json_string("inactive"));
    json_object_set_new(j, "tradable", json_false());
    assert_int_equal(hydra_alpaca_parse_asset(j, &a, why, sizeof why), 0);
    assert_string_equal(a.symbol, "BTC/USD");
    assert_int_equal(a.asset_class, HYDRA_ASSET_CRYPTO);
    assert_true(!a.active && !a.tradable);
    /* Classes and statuses Hydra does not know are not guessed at. */
    json_object_set_new(j, "class", json_string("us_option"));
    assert_int_equal(hydra_alpaca_parse_asset(j, &a, why, sizeof why), HYDRA_EMALFORMED);
    json_object_set_new(j, "class", json_string("crypto"));
    json_object_set_new(j, "status", json_string("delisted"));
    assert_int_equal(hydra_alpaca_parse_asset(j, &a, why, sizeof why), HYDRA_EMALFORMED);
    json_decref(j);
}

static void test_error_fixtures(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        long code;
        const char *message;
    } cases[] = {
        {"error_403.json", 40310000, "insufficient buying power"},
        {"error_422.json", 40010001, "order_id is missing"},
        {"error_404_order_not_found.json", 40410000, "order not found"},
        {"error_extended_hours.json", 42210000, "extended hours orders"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, FIXTURES "%s", cases[i].file);
        size_t len = 0;
        char *text = tu_read_file(path, &len);
        assert_non_null(text);
        hydra_alpaca_error e;
        assert_int_equal(hydra_alpaca_parse_error(text, len, &e), 0);
        assert_int_equal(e.code, cases[i].code);
        assert_non_null(strstr(e.message, cases[i].message));
        free(text);
    }
    /* Market-data errors have no code; garbage is not an error object. */
    hydra_alpaca_error e;
    const char *md = "{\"message\":\"subscription does not permit querying recent SIP data\"}";
    assert_int_equal(hydra_alpaca_parse_error(md, strlen(md), &e), 0);
    assert_int_equal(e.code, 0);
    assert_int_equal(hydra_alpaca_parse_error("<html>", 6, &e), HYDRA_EMALFORMED);
}

/* Truncating any fixture anywhere is malformed (or, by chance, still valid JSON), never a crash. */
static void test_truncated_bodies(void **state)
{
    (void)state;
    const char *files[] = {"account.json", "order_filled.json", "positions.json",
                           "option_snapshots.json", "close_all_positions_207.json"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[512];
        snprintf(path, sizeof path, FIXTURES "%s", files[f]);
        size_t len = 0;
        char *text = tu_read_file(path, &len);
        assert_non_null(text);
        for (size_t cut = 0; cut + 1 < len; cut++) {
            json_t *j = NULL;
            char why[200];
            int rc = hydra_alpaca_json_load(text, cut, &j, why, sizeof why);
            if (rc == 0) {
                json_decref(j);
                continue;
            }
            assert_int_equal(rc, HYDRA_EMALFORMED);
        }
        free(text);
    }
}

/* ---- live mode needs all three switches ---- */

static void test_live_needs_all_three(void **state)
{
    (void)state;
    hydra_alpaca_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.trading_url, sizeof cfg.trading_url, "%s", HYDRA_ALPACA_PAPER_URL);
    hydra_credentials cr;
    memset(&cr, 0, sizeof cr);
    snprintf(cr.key, sizeof cr.key, "FAKEKEYID0000");
    snprintf(cr.secret, sizeof cr.secret, "fake-secret-0000");
    cr.have_keys = 1;
    hydra_alpaca_cfg out;
    int live = -1;
    char err[512];
    for (int mask = 0; mask < 8; mask++) {
        int flag = mask & 1, paper_false = (mask >> 1) & 1, allow = (mask >> 2) & 1;
        cr.paper = !paper_false;
        err[0] = '\0';
        int rc = hydra_alpaca_resolve_mode(&cfg, &cr, flag, allow, &out, &live, err, sizeof err);
        if (mask == 7) {
            assert_int_equal(rc, 0);
            assert_int_equal(live, 1);
            assert_string_equal(out.trading_url, HYDRA_ALPACA_LIVE_URL);
        } else if (!flag && !paper_false) {
            assert_int_equal(rc, 0); /* paper: allow_live alone asks for nothing */
            assert_int_equal(live, 0);
            assert_string_equal(out.trading_url, HYDRA_ALPACA_PAPER_URL);
        } else {
            assert_int_equal(rc, HYDRA_ECONFIG);
            assert_int_equal(live, 0);
            assert_true((strstr(err, "missing: ") != NULL));
            const char *m = strstr(err, "missing: ");
            assert_int_equal(strstr(m, "--live") != NULL, !flag);
            assert_int_equal(strstr(m, "ALPACA_PAPER=false") != NULL, !paper_false);
            assert_int_equal(strstr(m, "safety.allow_live") != NULL, !allow);
        }
        assert_null(strstr(err, cr.key));
        assert_null(strstr(err, cr.secret));
    }
    /* A paper run pointed at the live host is refused. */
    cr.paper = 1;
    snprintf(cfg.trading_url, sizeof cfg.trading_url, "%s", HYDRA_ALPACA_LIVE_URL);
    assert_int_equal(hydra_alpaca_resolve_mode(&cfg, &cr, 0, 1, &out, &live, err, sizeof err),
                     HYDRA_ECONFIG);
    /* Missing keys are named, never shown. */
    cr.secret[0] = '\0';
    cr.have_keys = 0;
    snprintf(cfg.trading_url, sizeof cfg.trading_url, "%s", HYDRA_ALPACA_PAPER_URL);
    assert_int_equal(hydra_alpaca_resolve_mode(&cfg, &cr, 0, 0, &out, &live, err, sizeof err),
                     HYDRA_ECONFIG);
    assert_non_null(strstr(err, "ALPACA_SECRET"));
    assert_null(strstr(err, cr.key));
}

static void test_open_refuses_bad_settings(void **state)
{
    (void)state;
    hydra_alpaca_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.trading_url, sizeof cfg.trading_url, "http://paper-api.example.com");
    snprintf(cfg.data_url, sizeof cfg.data_url, "http://127.0.0.1:9");
    snprintf(cfg.stock_feed, sizeof cfg.stock_feed, "iex");
    cfg.connect_timeout_ms = 100;
    cfg.timeout_ms = 100;
    cfg.max_response_bytes = 1 << 20;
    hydra_credentials cr;
    memset(&cr, 0, sizeof cr);
    snprintf(cr.key, sizeof cr.key, "FAKEKEYID0000");
    snprintf(cr.secret, sizeof cr.secret, "fake-secret-0000");
    cr.have_keys = 1;
    hydra_broker b;
    char err[512];
    /* Plain http to anywhere but this machine would send the keys in the clear. */
    assert_int_equal(hydra_alpaca_open(&cfg, &cr, &b, err, sizeof err), HYDRA_ECONFIG);
    assert_non_null(strstr(err, "trading_url"));
    snprintf(cfg.trading_url, sizeof cfg.trading_url, "http://localhost:9");
    snprintf(cr.secret, sizeof cr.secret, "fake\r\nX-Injected: 1");
    assert_int_equal(hydra_alpaca_open(&cfg, &cr, &b, err, sizeof err), HYDRA_ECONFIG);
    assert_null(strstr(err, "Injected"));
    snprintf(cr.secret, sizeof cr.secret, "fake-secret-0000");
    assert_int_equal(hydra_alpaca_open(&cfg, &cr, &b, err, sizeof err), 0);
    /* Nothing listens on port 9: a transport failure, classified transient, no secret in it. */
    hydra_account a;
    hydra_broker_err be = {0};
    assert_int_equal(b.ops->account(b.ctx, &a, &be), HYDRA_ETRANSIENT);
    assert_null(strstr(be.msg, cr.key));
    assert_null(strstr(be.msg, cr.secret));
    b.ops->destroy(b.ctx);
}

int main(void)
{
    hydra_tz_set("America/New_York");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_fixture_is_covered),
        cmocka_unit_test(test_decimals_strings_and_numbers),
        cmocka_unit_test(test_account_fixture),
        cmocka_unit_test(test_account_required_fields),
        cmocka_unit_test(test_positions_fixtures),
        cmocka_unit_test(test_order_fixtures),
        cmocka_unit_test(test_order_statuses),
        cmocka_unit_test(test_orders_list_mock),
        cmocka_unit_test(test_multi_status_fixtures),
        cmocka_unit_test(test_latest_trades_fixtures),
        cmocka_unit_test(test_bars_fixtures),
        cmocka_unit_test(test_option_fixtures),
        cmocka_unit_test(test_clock_fixture),
        cmocka_unit_test(test_asset_answer),
        cmocka_unit_test(test_calendar_fixture),
        cmocka_unit_test(test_error_fixtures),
        cmocka_unit_test(test_truncated_bodies),
        cmocka_unit_test(test_live_needs_all_three),
        cmocka_unit_test(test_open_refuses_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
