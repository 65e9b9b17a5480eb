/*
 * hydra-exchange over HTTP on 127.0.0.1, as any Alpaca client sees it: the
 * routes a trading client calls, Alpaca's refusals with its statuses and
 * codes, the fields of the account and positions, US/Eastern clock times,
 * paging, and the account events of the fault rules (replaced, expire,
 * cancel, partial_cancel, position, coin_fee).
 *
 * The server runs in this process over the shipped configuration in a
 * temporary directory (its own paper account file); the clock moves only
 * when a test steps it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enginetest.h"
#include "error.h"
#include "exchange_server.h"
#include "testutil.h"

#define KEY "PKTESTEXCHANGEKEY0001"
#define SECRET "test-exchange-secret-0001"

typedef struct fixture {
    char dir[256];
    hydra_config *cfg;
    hydra_clock clock;
    hydra_sim *sim;
    hydra_exchange *ex;
    int port;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    f->cfg = calloc(1, sizeof *f->cfg);
    hydra_diag d;
    hydra_diag_init(&d);
    char cdir[600], err[1024] = "";
    snprintf(cdir, sizeof cdir, "%s/config", f->dir);
    assert_int_equal(hydra_config_load(cdir, f->cfg, &d), 0);
    hydra_diag_free(&d);
    hydra_tz_set(f->cfg->settings.timezone);
    hydra_clock_init_sim(&f->clock, 0);
    if (hydra_engine_open_sim(&f->cfg->settings.sim, &f->clock, &f->sim, err, sizeof err) != 0)
        fail_msg("sim: %s", err);
    hydra_exchange_opts o = {KEY, SECRET, 0, 1000000};
    if (hydra_exchange_start(f->sim, &f->clock, &o, &f->ex, err, sizeof err) != 0)
        fail_msg("exchange: %s", err);
    f->port = hydra_exchange_port(f->ex);
    /* Into the first session: 06:30 local, after the overnight step. */
    assert_int_equal(hydra_exchange_step(f->ex, 35), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    hydra_exchange_stop(f->ex);
    hydra_sim_close(f->sim);
    free(f->cfg);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    buf *b = ud;
    char *q = realloc(b->p, b->n + s * n + 1);
    if (q == NULL)
        return 0;
    memcpy(q + b->n, p, s * n);
    b->n += s * n;
    q[b->n] = '\0';
    b->p = q;
    return s * n;
}

/*
 * One request with the key headers (auth = 0: without them). Returns the
 * parsed body (NULL for an empty one) and the status in *status.
 */
static json_t *call(fixture *f, const char *method, const char *path, const char *body, int auth,
                    long *status)
{
    CURL *h = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    struct curl_slist *hd = NULL;
    if (auth) {
        hd = curl_slist_append(hd, "APCA-API-KEY-ID: " KEY);
        hd = curl_slist_append(hd, "APCA-API-SECRET-KEY: " SECRET);
    }
    buf b = {NULL, 0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (body != NULL)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hd);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    json_error_t e;
    json_t *j = b.n > 0 ? json_loads(b.p, 0, &e) : NULL;
    if (b.n > 0 && j == NULL)
        fail_msg("%s %s: answer is not JSON: %s", method, path, b.p);
    free(b.p);
    return j;
}

/* A request that must answer `want`; returns the body. */
static json_t *expect(fixture *f, const char *method, const char *path, const char *body,
                      long want)
{
    long status;
    json_t *j = call(f, method, path, body, 1, &status);
    if (status != want) {
        char *t = j != NULL ? json_dumps(j, 0) : NULL;
        fail_msg("%s %s: status %ld, expected %ld: %s", method, path, status, want,
                 t != NULL ? t : "(no body)");
    }
    return j;
}

static const char *sget(const json_t *j, const char *key)
{
    const char *v = json_string_value(json_object_get(j, key));
    if (v == NULL)
        fail_msg("field %s is not a string", key);
    return v;
}

static double dget(const json_t *j, const char *key)
{
    return strtod(sget(j, key), NULL);
}

static void step(fixture *f, int n)
{
    assert_int_equal(hydra_exchange_step(f->ex, n), 0);
}

/* Submits an order and returns its id (into id). */
static void place(fixture *f, const char *body, char *id, size_t idsz)
{
    json_t *o = expect(f, "POST", "/v2/orders", body, 200);
    snprintf(id, idsz, "%s", sget(o, "id"));
    json_decref(o);
}

static int matches(const char *re, const char *s)
{
    regex_t r;
    assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    int ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

#define UUID_RE "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

/* ---- refusals ---------------------------------------------------------------- */

typedef struct refusal {
    const char *name;
    const char *method, *path, *body;
    long status;
    long code; /* 0: the body has no code */
    const char *message;
} refusal;

#define CID129                                                                                     \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const refusal REFUSALS[] = {
    {"sub-penny limit at or above $1", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"limit\",\"limit_price\":\"10.123\","
     "\"time_in_force\":\"day\"}",
     422, 42210000,
     "invalid limit_price 10.123. sub-penny increment does not fulfill minimum pricing criteria"},
    {"five decimals below $1", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"limit\",\"limit_price\":0.12345,"
     "\"time_in_force\":\"day\"}",
     422, 42210000,
     "invalid limit_price 0.12345. sub-penny increment does not fulfill minimum pricing criteria"},
    {"sub-penny stop", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"stop\",\"stop_price\":\"20.001\","
     "\"time_in_force\":\"day\"}",
     422, 42210000,
     "invalid stop_price 20.001. sub-penny increment does not fulfill minimum pricing criteria"},
    {"fractional gtc", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"1.5\",\"side\":\"buy\",\"type\":\"market\",\"time_in_force\":\"gtc\"}",
     422, 42210000, "fractional orders must be DAY orders"},
    {"notional ioc", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"notional\":\"100\",\"side\":\"buy\",\"type\":\"market\","
     "\"time_in_force\":\"ioc\"}",
     422, 42210000, "fractional orders must be DAY orders"},
    {"extended hours on a market order", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"market\",\"time_in_force\":\"day\","
     "\"extended_hours\":true}",
     422, 42210000, "extended hours order must be DAY limit orders"},
    {"extended hours on a gtc limit", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"limit\",\"limit_price\":\"5\","
     "\"time_in_force\":\"gtc\",\"extended_hours\":true}",
     422, 42210000, "extended hours order must be DAY limit orders"},
    {"client_order_id of 129 characters", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"market\",\"time_in_force\":\"day\","
     "\"client_order_id\":\"" CID129 "\"}",
     422, 40010001, "client_order_id must be no more than 128 characters"},
    {"unknown type", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"iceberg\",\"time_in_force\":\"day\"}",
     422, 40010001, "invalid order type"},
    {"trailing stop with both trails", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"trailing_stop\",\"trail_price\":\"1\","
     "\"trail_percent\":\"1\",\"time_in_force\":\"day\"}",
     422, 40010001, "trailing_stop orders require exactly one of trail_price and trail_percent"},
    {"sell without a position", "POST", "/v2/orders",
     "{\"symbol\":\"ORCL\",\"qty\":\"5\",\"side\":\"sell\",\"type\":\"market\",\"time_in_force\":\"day\"}",
     403, 40310000, "insufficient qty available for order (requested: 5, available: 0)"},
    {"order id that is not a UUID", "GET", "/v2/orders/some_order_id", NULL, 422, 40010001,
     "order_id is missing"},
    {"unknown order", "GET", "/v2/orders/0f0f0f0f-0000-4000-8000-000000000000", NULL, 404, 40410000,
     "order not found"},
    {"cancel an unknown order", "DELETE", "/v2/orders/0f0f0f0f-0000-4000-8000-000000000000", NULL,
     404, 40410000, "order not found"},
    {"unknown client_order_id", "GET", "/v2/orders:by_client_order_id?client_order_id=nope", NULL,
     404, 40410000, "order not found"},
    {"position not held", "GET", "/v2/positions/YHOO", NULL, 404, 40410000,
     "position does not exist"},
    {"close a position not held", "DELETE", "/v2/positions/YHOO", NULL, 404, 40410000,
     "position does not exist"},
    {"unknown asset", "GET", "/v2/assets/ZZZZ", NULL, 404, 40410000, "asset not found"},
    {"unknown option contract", "GET", "/v2/options/contracts/ORCL200117C00010000", NULL, 404,
     40410000, "option contract not found"},
};

static void test_refusals_table(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < sizeof REFUSALS / sizeof REFUSALS[0]; i++) {
        const refusal *r = &REFUSALS[i];
        print_message("case: %s\n", r->name);
        long status;
        json_t *j = call(f, r->method, r->path, r->body, 1, &status);
        assert_int_equal(status, r->status);
        assert_non_null(j);
        assert_string_equal(sget(j, "message"), r->message);
        if (r->code != 0)
            assert_int_equal(json_integer_value(json_object_get(j, "code")), r->code);
        json_decref(j);
    }
    /* Nothing refused was booked: no order exists. */
    json_t *all = expect(f, "GET", "/v2/orders?status=all", NULL, 200);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
    /* The limits themselves are accepted: 128 characters, 4 decimals below $1, 2 above. */
    char body[512], id[64];
    snprintf(body, sizeof body,
             "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"limit\",\"limit_price\":\"0.1234\","
             "\"time_in_force\":\"day\",\"client_order_id\":\"%.128s\"}",
             CID129);
    place(f, body, id, sizeof id);
    place(f, "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"limit\",\"limit_price\":\"5.10\","
             "\"time_in_force\":\"day\",\"extended_hours\":true}",
          id, sizeof id);
    place(f, "{\"symbol\":\"ORCL\",\"notional\":\"50\",\"side\":\"buy\",\"type\":\"market\","
             "\"time_in_force\":\"day\"}",
          id, sizeof id);
    /* Keys are required, except for crypto market data. */
    long status;
    json_t *j = call(f, "GET", "/v2/account", NULL, 0, &status);
    assert_int_equal(status, 401);
    assert_int_equal(json_integer_value(json_object_get(j, "code")), 40110000);
    json_decref(j);
    j = call(f, "GET", "/v1beta3/crypto/us/latest/trades?symbols=BTC/USD", NULL, 0, &status);
    assert_int_equal(status, 200);
    assert_non_null(json_object_get(json_object_get(j, "trades"), "BTC/USD"));
    json_decref(j);
    j = call(f, "GET", "/v1beta3/crypto/us/bars?symbols=BTC/USD&timeframe=1Min", NULL, 0, &status);
    assert_int_equal(status, 200);
    assert_true(json_array_size(json_object_get(json_object_get(j, "bars"), "BTC/USD")) > 0);
    json_decref(j);
}

/* ---- the routes ---------------------------------------------------------------- */

/* Alpaca's account fields (fixture account.json) and position fields (positions.json). */
static const char *const ACCOUNT_FIELDS[] = {
    "account_blocked", "accrued_fees", "account_number", "buying_power", "cash", "created_at",
    "currency", "daytrade_count", "daytrading_buying_power", "equity", "id", "initial_margin",
    "last_equity", "last_maintenance_margin", "non_marginable_buying_power", "long_market_value",
    "maintenance_margin", "multiplier", "pattern_day_trader", "portfolio_value",
    "regt_buying_power", "short_market_value", "shorting_enabled", "sma", "status",
    "trade_suspended_by_user", "trading_blocked", "transfers_blocked", "options_buying_power",
    "options_approved_level", "options_trading_level", "crypto_status", "balance_asof"};
static const char *const DECIMAL_ACCOUNT_FIELDS[] = {"buying_power", "cash", "equity",
                                                     "last_equity", "portfolio_value", "multiplier",
                                                     "long_market_value", "regt_buying_power"};
static const char *const POSITION_FIELDS[] = {
    "asset_id", "symbol", "exchange", "asset_class", "avg_entry_price", "qty", "qty_available",
    "side", "market_value", "cost_basis", "unrealized_pl", "unrealized_plpc",
    "unrealized_intraday_pl", "unrealized_intraday_plpc", "current_price", "lastday_price",
    "change_today", "asset_marginable"};

static void test_account_orders_positions(void **state)
{
    fixture *f = *state;
    json_t *acc = expect(f, "GET", "/v2/account", NULL, 200);
    for (size_t i = 0; i < sizeof ACCOUNT_FIELDS / sizeof ACCOUNT_FIELDS[0]; i++)
        if (json_object_get(acc, ACCOUNT_FIELDS[i]) == NULL)
            fail_msg("account lacks %s", ACCOUNT_FIELDS[i]);
    for (size_t i = 0; i < sizeof DECIMAL_ACCOUNT_FIELDS / sizeof DECIMAL_ACCOUNT_FIELDS[0]; i++)
        assert_true(json_is_string(json_object_get(acc, DECIMAL_ACCOUNT_FIELDS[i])));
    assert_true(matches(UUID_RE, sget(acc, "id")));
    assert_float_equal(dget(acc, "cash"), 100000, 1e-9);
    json_decref(acc);
    json_decref(expect(f, "GET", "/v2/account/configurations", NULL, 200));

    /* The clock in US/Eastern with its offset; 06:30 Pacific is 09:30 Eastern. */
    json_t *clk = expect(f, "GET", "/v2/clock", NULL, 200);
    assert_true(matches("^2006-01-0[0-9]T09:3[0-9]:00\\.000-05:00$", sget(clk, "timestamp")));
    assert_true(matches("T16:00:00-05:00$", sget(clk, "next_close")));
    assert_true(json_is_true(json_object_get(clk, "is_open")));
    json_decref(clk);

    /* Orders: ids are UUIDs; by id, by client_order_id, listed with filters, canceled. */
    char a[64], b[64], c[64];
    place(f, "{\"symbol\":\"FESX\",\"qty\":\"10\",\"side\":\"buy\",\"type\":\"market\","
             "\"time_in_force\":\"day\",\"client_order_id\":\"buy-aapl\"}",
          a, sizeof a);
    place(f, "{\"symbol\":\"BTC/USD\",\"qty\":\"0.1\",\"side\":\"buy\",\"type\":\"market\","
             "\"time_in_force\":\"gtc\",\"client_order_id\":\"buy-btc\"}",
          b, sizeof b);
    place(f, "{\"symbol\":\"ORCL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"limit\",\"limit_price\":\"1\","
             "\"time_in_force\":\"gtc\",\"client_order_id\":\"far-limit\"}",
          c, sizeof c);
    assert_true(matches(UUID_RE, a) && matches(UUID_RE, b) && matches(UUID_RE, c));
    char path[256];
    snprintf(path, sizeof path, "/v2/orders/%s?nested=true", c);
    json_t *o = expect(f, "GET", path, NULL, 200);
    assert_string_equal(sget(o, "client_order_id"), "far-limit");
    assert_string_equal(sget(o, "status"), "new");
    assert_string_equal(sget(o, "limit_price"), "1");
    assert_true(json_is_null(json_object_get(o, "stop_price")));
    json_decref(o);
    step(f, 3);
    json_t *list = expect(f, "GET", "/v2/orders?status=closed", NULL, 200);
    assert_int_equal(json_array_size(list), 2);
    /* Newest first by default. */
    assert_string_equal(sget(json_array_get(list, 0), "client_order_id"), "buy-btc");
    json_decref(list);
    list = expect(f, "GET", "/v2/orders?status=all&direction=asc&limit=2", NULL, 200);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(sget(json_array_get(list, 0), "client_order_id"), "buy-aapl");
    json_decref(list);
    list = expect(f, "GET", "/v2/orders?status=all&symbols=BTC/USD", NULL, 200);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    list = expect(f, "GET", "/v2/orders?status=all&until=2000-01-01", NULL, 200);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    list = expect(f, "GET", "/v2/orders", NULL, 200);
    assert_int_equal(json_array_size(list), 1); /* open by default: the far limit */
    json_decref(list);
    snprintf(path, sizeof path, "/v2/orders/%s", c);
    assert_null(expect(f, "DELETE", path, NULL, 204));
    json_t *gone = expect(f, "DELETE", path, NULL, 422);
    assert_string_equal(sget(gone, "message"), "order is not cancelable");
    json_decref(gone);
    o = expect(f, "GET", path, NULL, 200);
    assert_string_equal(sget(o, "status"), "canceled");
    assert_true(json_is_string(json_object_get(o, "canceled_at")));
    json_decref(o);

    /* The crypto buy paid its fee in coin: filled 0.1, holding 0.1 less 25 bps. */
    o = expect(f, "GET", "/v2/orders:by_client_order_id?client_order_id=buy-btc", NULL, 200);
    assert_string_equal(sget(o, "status"), "filled");
    assert_float_equal(dget(o, "filled_qty"), 0.1, 1e-12);
    json_decref(o);
    json_t *pos = expect(f, "GET", "/v2/positions", NULL, 200);
    assert_int_equal(json_array_size(pos), 2);
    for (size_t k = 0; k < json_array_size(pos); k++)
        for (size_t i = 0; i < sizeof POSITION_FIELDS / sizeof POSITION_FIELDS[0]; i++)
            if (json_object_get(json_array_get(pos, k), POSITION_FIELDS[i]) == NULL)
                fail_msg("position lacks %s", POSITION_FIELDS[i]);
    json_decref(pos);
    json_t *btc = expect(f, "GET", "/v2/positions/BTCUSD", NULL, 200);
    assert_string_equal(sget(btc, "symbol"), "BTCUSD");
    assert_float_equal(dget(btc, "qty"), 0.1 * 0.9975, 1e-12);
    json_decref(btc);
    json_decref(expect(f, "GET", "/v2/positions/BTC%2FUSD", NULL, 200));

    /* Close part of a position by qty, then by percentage. */
    o = expect(f, "DELETE", "/v2/positions/FESX?qty=4", NULL, 200);
    assert_string_equal(sget(o, "side"), "sell");
    assert_float_equal(dget(o, "qty"), 4, 1e-12);
    json_decref(o);
    json_t *spy = expect(f, "GET", "/v2/positions/FESX", NULL, 200);
    assert_float_equal(dget(spy, "qty_available"), 6, 1e-12); /* 4 held by the working sell */
    json_decref(spy);
    json_decref(expect(f, "DELETE", "/v2/positions/FESX?qty=7", NULL, 403));
    step(f, 1);
    o = expect(f, "DELETE", "/v2/positions/FESX?percentage=50", NULL, 200);
    assert_float_equal(dget(o, "qty"), 3, 1e-12);
    json_decref(o);
    json_decref(expect(f, "DELETE", "/v2/positions/FESX?percentage=150", NULL, 422));
}

static void test_market_data(void **state)
{
    fixture *f = *state;
    json_t *t = expect(f, "GET", "/v2/stocks/ORCL/trades/latest?feed=iex", NULL, 200);
    assert_string_equal(sget(t, "symbol"), "ORCL");
    double p = json_number_value(json_object_get(json_object_get(t, "trade"), "p"));
    assert_true(p > 0);
    json_decref(t);
    json_t *q = expect(f, "GET", "/v2/stocks/ORCL/quotes/latest", NULL, 200);
    json_t *qq = json_object_get(q, "quote");
    assert_true(json_number_value(json_object_get(qq, "bp")) < p);
    assert_true(json_number_value(json_object_get(qq, "ap")) > p);
    json_decref(q);
    q = expect(f, "GET", "/v2/stocks/quotes/latest?symbols=ORCL,NVDA,NOPE", NULL, 200);
    assert_int_equal(json_object_size(json_object_get(q, "quotes")), 2);
    json_decref(q);

    /* Bars with paging: three pages of two give the same six bars as one request. */
    json_t *all = expect(f, "GET", "/v2/stocks/bars?symbols=FESX&timeframe=1Min&limit=6", NULL, 200);
    json_t *whole = json_object_get(json_object_get(all, "bars"), "FESX");
    assert_int_equal(json_array_size(whole), 6);
    assert_true(json_is_string(json_object_get(all, "next_page_token")));
    char path[256];
    const char *token = NULL;
    char tok[32] = "";
    size_t got = 0;
    for (int page = 0; page < 3; page++) {
        snprintf(path, sizeof path, "/v2/stocks/FESX/bars?timeframe=1Min&limit=2%s%s",
                 tok[0] ? "&page_token=" : "", tok);
        json_t *pg = expect(f, "GET", path, NULL, 200);
        assert_string_equal(sget(pg, "symbol"), "FESX");
        json_t *bars = json_object_get(pg, "bars");
        for (size_t i = 0; i < json_array_size(bars); i++, got++)
            assert_true(json_equal(json_array_get(bars, i), json_array_get(whole, got)));
        token = json_string_value(json_object_get(pg, "next_page_token"));
        snprintf(tok, sizeof tok, "%s", token != NULL ? token : "");
        json_decref(pg);
    }
    assert_int_equal(got, 6);
    assert_non_null(token); /* more bars than six exist */
    json_decref(all);
    json_t *desc = expect(f, "GET", "/v1beta3/crypto/us/bars?symbols=BTC/USD&timeframe=1Min&limit=3&sort=desc",
                          NULL, 200);
    json_t *bb = json_object_get(json_object_get(desc, "bars"), "BTC/USD");
    assert_int_equal(json_array_size(bb), 3);
    assert_true(strcmp(sget(json_array_get(bb, 0), "t"), sget(json_array_get(bb, 1), "t")) > 0);
    json_decref(desc);

    /* Options: one contract by symbol, the chain's snapshots, paged. */
    json_t *cs = expect(f, "GET", "/v2/options/contracts?underlying_symbols=ORCL&limit=1", NULL, 200);
    const char *occ = sget(json_array_get(json_object_get(cs, "option_contracts"), 0), "symbol");
    snprintf(path, sizeof path, "/v2/options/contracts/%s", occ);
    json_t *one = expect(f, "GET", path, NULL, 200);
    assert_string_equal(sget(one, "symbol"), occ);
    assert_string_equal(sget(one, "underlying_symbol"), "ORCL");
    assert_true(matches(UUID_RE, sget(one, "id")));
    json_decref(one);
    json_decref(cs);
    json_t *chain = expect(f, "GET", "/v1beta1/options/snapshots/ORCL?type=call&limit=3", NULL, 200);
    json_t *snaps = json_object_get(chain, "snapshots");
    assert_int_equal(json_object_size(snaps), 3);
    const char *k;
    json_t *v;
    json_object_foreach(snaps, k, v)
    {
        assert_non_null(strstr(k, "C"));
        assert_true(json_is_number(json_object_get(json_object_get(v, "greeks"), "delta")));
        assert_true(json_is_object(json_object_get(v, "latestQuote")));
    }
    assert_true(json_is_string(json_object_get(chain, "next_page_token")));
    json_decref(chain);

    json_t *assets = expect(f, "GET", "/v2/assets?asset_class=crypto", NULL, 200);
    assert_true(json_array_size(assets) >= 1);
    for (size_t i = 0; i < json_array_size(assets); i++)
        assert_string_equal(sget(json_array_get(assets, i), "class"), "crypto");
    json_decref(assets);
    json_t *aapl = expect(f, "GET", "/v2/assets/FESX", NULL, 200);
    assert_string_equal(sget(aapl, "class"), "us_equity");
    json_decref(aapl);
}

/* ---- the account events of the fault rules ---------------------------------- */

static void set_rules(fixture *f, const char *rules)
{
    long status;
    json_decref(call(f, "POST", "/_hydra/faults", rules, 0, &status));
    assert_int_equal(status, 200);
}

static json_t *by_cid(fixture *f, const char *cid)
{
    char path[200];
    snprintf(path, sizeof path, "/v2/orders:by_client_order_id?client_order_id=%s", cid);
    return expect(f, "GET", path, NULL, 200);
}

static void test_fault_events(void **state)
{
    fixture *f = *state;
    char id[64];
    /* replaced: the order the lookup names is replaced outside; the lookup sees it. */
    place(f, "{\"symbol\":\"ORCL\",\"qty\":\"10\",\"side\":\"buy\",\"type\":\"limit\",\"limit_price\":\"2\","
             "\"time_in_force\":\"gtc\",\"client_order_id\":\"r1\"}",
          id, sizeof id);
    set_rules(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/orders:by_client_order_id\","
                 "\"fault\":\"replaced\",\"qty\":4,\"count\":1}]}");
    json_t *o = by_cid(f, "r1");
    assert_string_equal(sget(o, "status"), "replaced");
    char path[200];
    snprintf(path, sizeof path, "/v2/orders/%s", sget(o, "replaced_by"));
    json_t *n = expect(f, "GET", path, NULL, 200);
    assert_string_equal(sget(n, "replaces"), id);
    assert_string_equal(sget(n, "status"), "new");
    assert_float_equal(dget(n, "qty"), 4, 1e-12);
    char nid[64];
    snprintf(nid, sizeof nid, "%s", sget(n, "id"));
    json_decref(n);
    json_decref(o);
    json_decref(by_cid(f, "r1")); /* count 1: the rule is spent */

    /* expire and cancel by the exchange, named by id in the path. */
    set_rules(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/orders/\",\"fault\":\"expire\","
                 "\"count\":1}]}");
    snprintf(path, sizeof path, "/v2/orders/%s", nid);
    o = expect(f, "GET", path, NULL, 200);
    assert_string_equal(sget(o, "status"), "expired");
    assert_true(json_is_string(json_object_get(o, "expired_at")));
    json_decref(o);
    place(f, "{\"symbol\":\"ORCL\",\"qty\":\"3\",\"side\":\"buy\",\"type\":\"limit\",\"limit_price\":\"2\","
             "\"time_in_force\":\"gtc\",\"client_order_id\":\"c1\"}",
          id, sizeof id);
    set_rules(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/orders\",\"fault\":\"cancel\","
                 "\"count\":1}]}");
    json_t *open = expect(f, "GET", "/v2/orders?status=open", NULL, 200);
    assert_int_equal(json_array_size(open), 0); /* canceled before the list was made */
    json_decref(open);
    o = by_cid(f, "c1");
    assert_string_equal(sget(o, "status"), "canceled");
    json_decref(o);

    /* partial fill then cancel: 6 of 10 filled at the last price, the rest canceled. */
    place(f, "{\"symbol\":\"ORCL\",\"qty\":\"10\",\"side\":\"buy\",\"type\":\"limit\",\"limit_price\":\"2\","
             "\"time_in_force\":\"gtc\",\"client_order_id\":\"p1\"}",
          id, sizeof id);
    set_rules(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/orders:by\",\"fault\":\"partial_cancel\","
                 "\"fraction\":0.6,\"count\":1}]}");
    o = by_cid(f, "p1");
    assert_string_equal(sget(o, "status"), "canceled");
    assert_float_equal(dget(o, "filled_qty"), 6, 1e-12);
    assert_true(json_is_string(json_object_get(o, "filled_avg_price")));
    json_decref(o);
    json_t *spy = expect(f, "GET", "/v2/positions/ORCL", NULL, 200);
    assert_float_equal(dget(spy, "qty"), 6, 1e-12);
    json_decref(spy);

    /* A position from outside, and a fee taken later in coin. */
    set_rules(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/positions\",\"fault\":\"position\","
                 "\"symbol\":\"YHOO\",\"qty\":7,\"price\":20,\"count\":1},"
                 "{\"method\":\"GET\",\"path\":\"/v2/account\",\"fault\":\"position\","
                 "\"symbol\":\"BTC/USD\",\"qty\":0.5,\"count\":1}]}");
    json_t *tsla = expect(f, "GET", "/v2/positions/YHOO", NULL, 200);
    assert_float_equal(dget(tsla, "qty"), 7, 1e-12);
    assert_float_equal(dget(tsla, "avg_entry_price"), 20, 1e-12);
    json_decref(tsla);
    json_t *acc = expect(f, "GET", "/v2/account", NULL, 200);
    json_decref(acc);
    set_rules(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/positions\",\"fault\":\"coin_fee\","
                 "\"symbol\":\"BTC/USD\",\"qty\":0.00125,\"count\":1}]}");
    json_t *btc = expect(f, "GET", "/v2/positions/BTCUSD", NULL, 200);
    assert_float_equal(dget(btc, "qty"), 0.49875, 1e-12);
    json_decref(btc);
    /* A rule that lacks what it acts on is refused. */
    long status;
    json_decref(call(f, "POST", "/_hydra/faults",
                     "{\"rules\":[{\"path\":\"/v2/account\",\"fault\":\"coin_fee\"}]}", 0, &status));
    assert_int_equal(status, 400);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusals_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_orders_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_market_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_events, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
