#define _GNU_SOURCE
#include "exchange_server.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "error.h"

#define MAX_RULES 32
#define MAX_BODY (1 << 20)
#define MAX_ITEMS 4096
#define MAX_CIDS 20000

typedef enum fault_kind {
    F_NONE = 0,
    F_STATUS,      /* 500, 503, 401, 403, 429 */
    F_TIMEOUT,
    F_SLOW,
    F_MALFORMED,
    F_TRUNCATED,
    F_WRONG_TYPES,
    F_DROP,
    F_REFUSE
} fault_kind;

typedef struct rule {
    char method[8];
    char path[128];
    fault_kind kind;
    int status;
    int skip;
    int count;      /* fires left; -1 = unlimited */
    int delay_ms;
    int process;
    int reset_in_s; /* an injected 429's X-Ratelimit-Reset, seconds from now */
} rule;

typedef struct cid_stat {
    char cid[49];
    int attempts;
    int accepted;
} cid_stat;

struct hydra_exchange {
    struct MHD_Daemon *d;
    int port;
    int down; /* a "refuse" fault or a pause: every request is dropped */
    char key[256], secret[256];
    pthread_mutex_t mu; /* the sim, the clock, rules, counters */
    hydra_sim *sim;
    hydra_broker broker;
    hydra_clock *clock;
    rule rules[MAX_RULES];
    int n_rules;
    int rate_limit;
    int64_t window_start_s;
    int window_count;
    long requests, faults_fired, orders_accepted, duplicates_refused, rate_limited;
    cid_stat *cids;
    size_t n_cids;
};

/* One request being received. */
typedef struct req_ctx {
    char *body;
    size_t len;
    int too_big;
} req_ctx;

/* ---- JSON helpers in Alpaca's shapes ---- */

/* Alpaca sends trading decimals as strings. */
static json_t *dec(double v)
{
    if (!isfinite(v))
        return json_null();
    char buf[64];
    snprintf(buf, sizeof buf, "%.12g", v);
    return json_string(buf);
}

/* RFC 3339 in the market zone with its offset, as Alpaca's clock writes times. */
static json_t *local_time(int64_t ms)
{
    hydra_local_time lt;
    hydra_local_from_utc(ms, &lt);
    char buf[48];
    int off = lt.utc_offset_min;
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02d:%02d", lt.year, lt.month,
             lt.day, lt.hour, lt.minute, lt.second, (int)(((ms % 1000) + 1000) % 1000),
             off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
    return json_string(buf);
}

static json_t *utc_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[32];
    hydra_format_utc(ms, buf, sizeof buf);
    return json_string(buf);
}

/* "BTC/USD" -> "BTCUSD", as Alpaca reports crypto positions. */
static void strip_slash(const char *in, char *out, size_t outsz)
{
    size_t k = 0;
    for (size_t i = 0; in[i] != '\0' && k + 1 < outsz; i++)
        if (in[i] != '/')
            out[k++] = in[i];
    out[k] = '\0';
}

static const char *asset_class_name(unsigned ac)
{
    return ac == HYDRA_ASSET_CRYPTO ? "crypto" : ac == HYDRA_ASSET_OPTION ? "us_option" : "us_equity";
}

static const char *status_name(int s)
{
    switch (s) {
    case HYDRA_BOS_PARTIALLY_FILLED: return "partially_filled";
    case HYDRA_BOS_FILLED: return "filled";
    case HYDRA_BOS_CANCELED: return "canceled";
    case HYDRA_BOS_EXPIRED: return "expired";
    case HYDRA_BOS_REJECTED: return "rejected";
    case HYDRA_BOS_REPLACED: return "replaced";
    default: return "new";
    }
}

static json_t *order_json(const hydra_order *o)
{
    const char *type = o->type == HYDRA_ORDER_LIMIT ? "limit" : "market";
    const char *tif = o->tif == HYDRA_TIF_GTC ? "gtc" : o->tif == HYDRA_TIF_IOC ? "ioc" : "day";
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(o->id));
    json_object_set_new(j, "client_order_id", json_string(o->client_order_id));
    json_object_set_new(j, "created_at", utc_time(o->submitted_ms));
    json_object_set_new(j, "updated_at", utc_time(o->filled_ms > 0 ? o->filled_ms : o->submitted_ms));
    json_object_set_new(j, "submitted_at", utc_time(o->submitted_ms));
    json_object_set_new(j, "filled_at", o->status == HYDRA_BOS_FILLED ? utc_time(o->filled_ms) : json_null());
    json_object_set_new(j, "expired_at", json_null());
    json_object_set_new(j, "canceled_at", json_null());
    json_object_set_new(j, "asset_id", json_string("00000000-0000-4000-8000-000000000000"));
    json_object_set_new(j, "symbol", json_string(o->symbol));
    json_object_set_new(j, "asset_class", json_string(asset_class_name(o->asset_class)));
    json_object_set_new(j, "qty", o->qty > 0 ? dec(o->qty) : json_null());
    json_object_set_new(j, "notional", o->notional > 0 ? dec(o->notional) : json_null());
    json_object_set_new(j, "filled_qty", dec(o->filled_qty));
    json_object_set_new(j, "filled_avg_price", o->filled_qty > 0 ? dec(o->filled_avg_price) : json_null());
    json_object_set_new(j, "order_class", json_string(""));
    json_object_set_new(j, "order_type", json_string(type));
    json_object_set_new(j, "type", json_string(type));
    json_object_set_new(j, "side", json_string(o->side == HYDRA_SIDE_SELL ? "sell" : "buy"));
    json_object_set_new(j, "time_in_force", json_string(tif));
    json_object_set_new(j, "limit_price", o->type == HYDRA_ORDER_LIMIT ? dec(o->limit_price) : json_null());
    json_object_set_new(j, "stop_price", json_null());
    json_object_set_new(j, "status", json_string(status_name(o->status)));
    json_object_set_new(j, "extended_hours", json_false());
    json_object_set_new(j, "legs", json_null());
    json_object_set_new(j, "commission", dec(o->fee));
    return j;
}

static json_t *error_json(long code, const char *message)
{
    return code != 0 ? json_pack("{s:I,s:s}", "code", (json_int_t)code, "message", message)
                     : json_pack("{s:s}", "message", message);
}

/* The HTTP status for a broker failure of the exchange core. */
static int status_of_err(const hydra_broker_err *e)
{
    if (e->http_status >= 400)
        return e->http_status;
    switch (e->code) {
    case HYDRA_EREJECTED: return 422;
    case HYDRA_ENOTFOUND: return 404;
    case HYDRA_EAUTH: return 401;
    default: return 500;
    }
}

static long code_of_status(int status)
{
    switch (status) {
    case 401: return 40110000;
    case 403: return 40310000;
    case 404: return 40410000;
    case 422: return 40010001;
    default: return 0;
    }
}

/* ---- the Alpaca endpoints (called with the mutex held) ---- */

typedef struct answer {
    int status;
    json_t *body;
} answer;

static void fail_answer(answer *a, const hydra_broker_err *e)
{
    a->status = status_of_err(e);
    a->body = error_json(code_of_status(a->status), e->msg);
}

static const char *arg(struct MHD_Connection *c, const char *key)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static void get_account(hydra_exchange *ex, answer *a)
{
    hydra_account acc;
    hydra_broker_err e = {0};
    if (ex->broker.ops->account(ex->broker.ctx, &acc, &e) != 0)
        return fail_answer(a, &e);
    a->status = 200;
    a->body = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:b,s:b,s:b,s:b}", "id",
                        "6f1ac1a0-0000-4000-8000-000000000001", "account_number", "HYDRA0001",
                        "status", acc.active ? "ACTIVE" : "INACTIVE", "currency", "USD", "cash",
                        dec(acc.cash), "equity", dec(acc.equity), "portfolio_value",
                        dec(acc.equity), "last_equity", dec(acc.last_equity), "buying_power",
                        dec(acc.buying_power), "multiplier", dec(1), "crypto_status", "ACTIVE",
                        "trading_blocked", acc.trading_blocked, "account_blocked", 0,
                        "trade_suspended_by_user", 0, "shorting_enabled", 0);
}

static json_t *position_json(const hydra_broker_position *p)
{
    char sym[48];
    if (p->asset_class == HYDRA_ASSET_CRYPTO)
        strip_slash(p->symbol, sym, sizeof sym);
    else
        snprintf(sym, sizeof sym, "%s", p->symbol);
    double mult = p->asset_class == HYDRA_ASSET_OPTION ? 100 : 1;
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:o}", "asset_id",
                     "00000000-0000-4000-8000-000000000000", "symbol", sym, "exchange",
                     p->asset_class == HYDRA_ASSET_CRYPTO ? "CRYPTO" : "NASDAQ", "asset_class",
                     asset_class_name(p->asset_class), "qty", dec(p->qty), "qty_available",
                     dec(p->qty), "side", p->qty < 0 ? "short" : "long", "avg_entry_price",
                     dec(p->avg_entry_price), "current_price", dec(p->current_price),
                     "market_value", dec(p->market_value), "cost_basis",
                     dec(p->avg_entry_price * p->qty * mult), "unrealized_pl",
                     dec(p->unrealized_pl));
}

static void get_positions(hydra_exchange *ex, answer *a)
{
    hydra_broker_position *p = calloc(MAX_ITEMS, sizeof *p);
    size_t n = 0;
    hydra_broker_err e = {0};
    if (p == NULL || ex->broker.ops->positions(ex->broker.ctx, p, MAX_ITEMS, &n, &e) != 0) {
        if (p == NULL)
            hydra_broker_fail(&e, HYDRA_ENOMEM, 500, "out of memory");
        fail_answer(a, &e);
        free(p);
        return;
    }
    a->status = 200;
    a->body = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a->body, position_json(&p[i]));
    free(p);
}

static int open_orders(hydra_exchange *ex, hydra_order **out, size_t *n, hydra_broker_err *e)
{
    *out = calloc(MAX_ITEMS, sizeof **out);
    *n = 0;
    if (*out == NULL)
        return hydra_broker_fail(e, HYDRA_ENOMEM, 500, "out of memory");
    return ex->broker.ops->open_orders(ex->broker.ctx, *out, MAX_ITEMS, n, e);
}

static void get_orders(hydra_exchange *ex, struct MHD_Connection *c, answer *a)
{
    const char *status = arg(c, "status");
    if (status != NULL && strcmp(status, "open") != 0) {
        a->status = 422;
        a->body = error_json(40010001, "hydra-exchange serves status=open only");
        return;
    }
    hydra_order *o = NULL;
    size_t n = 0;
    hydra_broker_err e = {0};
    if (open_orders(ex, &o, &n, &e) != 0) {
        fail_answer(a, &e);
        free(o);
        return;
    }
    a->status = 200;
    a->body = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a->body, order_json(&o[i]));
    free(o);
}

static cid_stat *cid_stat_of(hydra_exchange *ex, const char *cid)
{
    for (size_t i = 0; i < ex->n_cids; i++)
        if (strcmp(ex->cids[i].cid, cid) == 0)
            return &ex->cids[i];
    if (ex->n_cids >= MAX_CIDS)
        return NULL;
    cid_stat *s = &ex->cids[ex->n_cids++];
    memset(s, 0, sizeof *s);
    snprintf(s->cid, sizeof s->cid, "%s", cid);
    return s;
}

/* A decimal in a request: Alpaca accepts strings and numbers. */
static int req_decimal(const json_t *o, const char *key, double *out)
{
    const json_t *v = json_object_get(o, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out) ? 0 : -1;
    }
    if (json_is_string(v)) {
        char *end;
        *out = strtod(json_string_value(v), &end);
        return *end == '\0' && end != json_string_value(v) && isfinite(*out) ? 0 : -1;
    }
    return -1;
}

static void post_order(hydra_exchange *ex, const char *body, size_t len, answer *a)
{
    json_error_t jerr;
    json_t *j = json_loadb(body != NULL ? body : "", len, 0, &jerr);
    const char *symbol = json_string_value(json_object_get(j, "symbol"));
    const char *side = json_string_value(json_object_get(j, "side"));
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *tif = json_string_value(json_object_get(j, "time_in_force"));
    const char *cid = json_string_value(json_object_get(j, "client_order_id"));
    hydra_order_request r;
    memset(&r, 0, sizeof r);
    const char *bad = NULL;
    if (!json_is_object(j))
        bad = "request body is not a JSON object";
    else if (symbol == NULL || strlen(symbol) >= sizeof r.symbol)
        bad = "symbol is required";
    else if (side == NULL || (strcmp(side, "buy") != 0 && strcmp(side, "sell") != 0))
        bad = "invalid side";
    else if (type == NULL || (strcmp(type, "market") != 0 && strcmp(type, "limit") != 0))
        bad = "invalid order type";
    else if (tif == NULL || (strcmp(tif, "day") != 0 && strcmp(tif, "gtc") != 0 && strcmp(tif, "ioc") != 0))
        bad = "invalid time_in_force";
    else if (cid != NULL && strlen(cid) >= sizeof r.client_order_id)
        bad = "client_order_id must be no more than 48 characters";
    else if (req_decimal(j, "qty", &r.qty) != 0 || req_decimal(j, "notional", &r.notional) != 0 ||
             req_decimal(j, "limit_price", &r.limit_price) != 0)
        bad = "qty, notional or limit_price is not a decimal";
    else if ((r.qty > 0) == (r.notional > 0))
        bad = "qty or notional is required, not both";
    else if (strcmp(type, "limit") == 0 && !(r.limit_price > 0))
        bad = "limit_price is required for limit orders";
    else if (strcmp(type, "limit") == 0 && r.notional > 0)
        bad = "notional orders must be market orders";
    if (bad != NULL) {
        a->status = 422;
        a->body = error_json(40010001, bad);
        json_decref(j);
        return;
    }
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    snprintf(r.client_order_id, sizeof r.client_order_id, "%s", cid != NULL ? cid : "");
    r.asset_class = hydra_symbol_asset_class(symbol);
    r.side = strcmp(side, "buy") == 0 ? HYDRA_SIDE_BUY : HYDRA_SIDE_SELL;
    r.type = strcmp(type, "limit") == 0 ? HYDRA_ORDER_LIMIT : HYDRA_ORDER_MARKET;
    r.tif = strcmp(tif, "gtc") == 0 ? HYDRA_TIF_GTC : strcmp(tif, "ioc") == 0 ? HYDRA_TIF_IOC : HYDRA_TIF_DAY;
    json_decref(j);

    cid_stat *st = r.client_order_id[0] ? cid_stat_of(ex, r.client_order_id) : NULL;
    if (st != NULL)
        st->attempts++;
    hydra_order o;
    hydra_broker_err e = {0};
    if (ex->broker.ops->submit(ex->broker.ctx, &r, &o, &e) != 0) {
        if (strstr(e.msg, "client_order_id must be unique") != NULL)
            ex->duplicates_refused++;
        return fail_answer(a, &e);
    }
    ex->orders_accepted++;
    if (st != NULL)
        st->accepted++;
    a->status = 200;
    a->body = order_json(&o);
}

static void get_order_by_cid(hydra_exchange *ex, struct MHD_Connection *c, answer *a)
{
    const char *cid = arg(c, "client_order_id");
    if (cid == NULL || cid[0] == '\0') {
        a->status = 422;
        a->body = error_json(40010001, "client_order_id is required");
        return;
    }
    hydra_order o;
    hydra_broker_err e = {0};
    int rc = ex->broker.ops->order_by_client_id(ex->broker.ctx, cid, &o, &e);
    if (rc == HYDRA_ENOTFOUND) {
        a->status = 404;
        a->body = error_json(40410000, "order not found");
        return;
    }
    if (rc != 0)
        return fail_answer(a, &e);
    a->status = 200;
    a->body = order_json(&o);
}

static void cancel_all(hydra_exchange *ex, answer *a)
{
    hydra_order *o = NULL;
    size_t n = 0;
    hydra_broker_err e = {0};
    if (open_orders(ex, &o, &n, &e) != 0 || ex->broker.ops->cancel_all(ex->broker.ctx, &e) != 0) {
        free(o);
        return fail_answer(a, &e);
    }
    a->status = 207;
    a->body = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a->body, json_pack("{s:s,s:i}", "id", o[i].id, "status", 200));
    free(o);
}

/* DELETE /v2/orders/{id}: 204 when taken, 404 for an unknown id, 422 when no longer cancelable. */
static void cancel_one(hydra_exchange *ex, const char *id, answer *a)
{
    hydra_broker_err e = {0};
    int rc = ex->broker.ops->cancel_order(ex->broker.ctx, id, &e);
    if (rc == HYDRA_ENOTFOUND) {
        a->status = 404;
        a->body = error_json(40410000, "order not found");
        return;
    }
    if (rc == HYDRA_EREJECTED) {
        a->status = 422;
        a->body = error_json(42210000, "order is not cancelable");
        return;
    }
    if (rc != 0)
        return fail_answer(a, &e);
    a->status = 204;
    a->body = NULL;
}

static void close_all(hydra_exchange *ex, answer *a)
{
    hydra_broker_position *p = calloc(MAX_ITEMS, sizeof *p);
    hydra_order *o = NULL;
    size_t np = 0, no = 0;
    hydra_broker_err e = {0};
    if (p == NULL || ex->broker.ops->positions(ex->broker.ctx, p, MAX_ITEMS, &np, &e) != 0 ||
        ex->broker.ops->close_all(ex->broker.ctx, &e) != 0 || open_orders(ex, &o, &no, &e) != 0) {
        if (p == NULL)
            hydra_broker_fail(&e, HYDRA_ENOMEM, 500, "out of memory");
        fail_answer(a, &e);
        goto done;
    }
    a->status = 207;
    a->body = json_array();
    for (size_t i = 0; i < np; i++) {
        char sym[48];
        if (p[i].asset_class == HYDRA_ASSET_CRYPTO)
            strip_slash(p[i].symbol, sym, sizeof sym);
        else
            snprintf(sym, sizeof sym, "%s", p[i].symbol);
        json_t *body = NULL;
        for (size_t k = 0; k < no && body == NULL; k++)
            if (strcmp(o[k].symbol, p[i].symbol) == 0)
                body = order_json(&o[k]);
        json_array_append_new(a->body, json_pack("{s:s,s:i,s:o}", "symbol", sym, "status", 200,
                                                 "body", body != NULL ? body : json_object()));
    }
done:
    free(p);
    free(o);
}

static void get_clock(hydra_exchange *ex, answer *a)
{
    hydra_market_clock mc;
    hydra_broker_err e = {0};
    if (ex->broker.ops->clock(ex->broker.ctx, &mc, &e) != 0)
        return fail_answer(a, &e);
    a->status = 200;
    a->body = json_pack("{s:o,s:b,s:o,s:o}", "timestamp", local_time(mc.now_ms), "is_open",
                        mc.is_open, "next_open", local_time(mc.next_open_ms), "next_close",
                        local_time(mc.next_close_ms));
}

/* Splits "A,B,C" into at most `cap` names (in place). */
static size_t split_symbols(char *list, char **out, size_t cap)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL && n < cap;
         t = strtok_r(NULL, ",", &save))
        out[n++] = t;
    return n;
}

static void latest_trades(hydra_exchange *ex, struct MHD_Connection *c, answer *a)
{
    const char *symbols = arg(c, "symbols");
    if (symbols == NULL) {
        a->status = 400;
        a->body = error_json(0, "missing symbols");
        return;
    }
    char *list = strdup(symbols);
    char *names[256];
    size_t n = list != NULL ? split_symbols(list, names, 256) : 0;
    json_t *trades = json_object();
    for (size_t i = 0; i < n; i++) {
        hydra_quote q;
        hydra_broker_err e = {0};
        const char *one[1] = {names[i]};
        /* Alpaca leaves out symbols it has no trade for. */
        if (ex->broker.ops->latest_prices(ex->broker.ctx, one, 1, &q, &e) != 0)
            continue;
        json_object_set_new(trades, names[i],
                            json_pack("{s:o,s:f,s:i,s:I}", "t", utc_time(q.t_ms), "p", q.price, "s",
                                      100, "i", (json_int_t)(q.t_ms / 1000)));
    }
    free(list);
    a->status = 200;
    a->body = json_pack("{s:o}", "trades", trades);
}

static int timeframe_seconds(const char *tf)
{
    char *end;
    long n = strtol(tf, &end, 10);
    if (n <= 0)
        return -1;
    if (strcmp(end, "Min") == 0 || strcmp(end, "T") == 0)
        return (int)n * 60;
    if (strcmp(end, "Hour") == 0 || strcmp(end, "H") == 0)
        return (int)n * 3600;
    if (strcmp(end, "Day") == 0 || strcmp(end, "D") == 0)
        return (int)n * 86400;
    return -1;
}

static void get_bars(hydra_exchange *ex, struct MHD_Connection *c, answer *a)
{
    const char *symbols = arg(c, "symbols"), *tf = arg(c, "timeframe"), *lim = arg(c, "limit"),
               *sort = arg(c, "sort");
    int tf_s = tf != NULL ? timeframe_seconds(tf) : -1;
    long limit = lim != NULL ? strtol(lim, NULL, 10) : 1000;
    if (symbols == NULL || tf_s <= 0 || limit <= 0 || limit > 10000) {
        a->status = 400;
        a->body = error_json(0, "invalid symbols, timeframe or limit");
        return;
    }
    char *list = strdup(symbols);
    char *names[64];
    size_t n = list != NULL ? split_symbols(list, names, 64) : 0;
    hydra_bar *bars = calloc((size_t)limit, sizeof *bars);
    json_t *all = json_object();
    for (size_t i = 0; i < n && bars != NULL; i++) {
        size_t got = 0;
        hydra_broker_err e = {0};
        if (ex->broker.ops->bars(ex->broker.ctx, names[i], tf_s, (size_t)limit, bars, &got, &e) != 0)
            continue;
        json_t *arr = json_array();
        int desc = sort != NULL && strcmp(sort, "desc") == 0;
        for (size_t k = 0; k < got; k++) {
            const hydra_bar *b = &bars[desc ? got - 1 - k : k];
            json_array_append_new(arr, json_pack("{s:o,s:f,s:f,s:f,s:f,s:f,s:i,s:f}", "t",
                                                 utc_time(b->t_ms), "o", b->open, "h", b->high, "l",
                                                 b->low, "c", b->close, "v", b->volume, "n", 1,
                                                 "vw", (b->high + b->low + b->close) / 3));
        }
        json_object_set_new(all, names[i], arr);
    }
    free(bars);
    free(list);
    a->status = 200;
    a->body = json_pack("{s:o,s:n}", "bars", all, "next_page_token");
}

static int parse_ymd(const char *s, int *out)
{
    int y, m, d;
    if (s == NULL || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return -1;
    *out = y * 10000 + m * 100 + d;
    return 0;
}

static int days_from_today(hydra_exchange *ex, int yyyymmdd)
{
    hydra_local_time lt;
    hydra_local_from_utc(hydra_clock_now_ms(ex->clock), &lt);
    struct tm a = {0}, b = {0};
    a.tm_year = lt.year - 1900;
    a.tm_mon = lt.month - 1;
    a.tm_mday = lt.day;
    b.tm_year = yyyymmdd / 10000 - 1900;
    b.tm_mon = yyyymmdd / 100 % 100 - 1;
    b.tm_mday = yyyymmdd % 100;
    return (int)((timegm(&b) - timegm(&a)) / 86400);
}

static void get_contracts(hydra_exchange *ex, struct MHD_Connection *c, answer *a)
{
    const char *und = arg(c, "underlying_symbols"), *lim = arg(c, "limit"), *tok = arg(c, "page_token");
    int gte = 0, lte = 99991231;
    parse_ymd(arg(c, "expiration_date_gte"), &gte);
    parse_ymd(arg(c, "expiration_date_lte"), &lte);
    long limit = lim != NULL ? strtol(lim, NULL, 10) : 100;
    long offset = tok != NULL ? strtol(tok, NULL, 10) : 0;
    if (und == NULL || strchr(und, ',') != NULL || limit <= 0 || limit > 10000 || offset < 0) {
        a->status = 422;
        a->body = error_json(40010001, "hydra-exchange needs one underlying_symbols and a valid limit");
        return;
    }
    int max_dte = lte == 99991231 ? 60 : days_from_today(ex, lte);
    hydra_option_quote *q = calloc(MAX_ITEMS, sizeof *q);
    size_t n = 0;
    hydra_broker_err e = {0};
    if (q == NULL || max_dte < 0 ||
        ex->broker.ops->option_chain(ex->broker.ctx, und, &(hydra_chain_filter){0, max_dte, 0.0, 1.0},
                                     q, MAX_ITEMS, &n, &e) != 0)
        n = 0;
    json_t *list = json_array();
    long seen = 0;
    size_t i = 0;
    for (; i < n && (long)json_array_size(list) < limit; i++) {
        if (q[i].expiry_yyyymmdd < gte || q[i].expiry_yyyymmdd > lte)
            continue;
        if (seen++ < offset)
            continue;
        char exp[16], root[16];
        int ex_d, call;
        double k;
        snprintf(exp, sizeof exp, "%04d-%02d-%02d", q[i].expiry_yyyymmdd / 10000,
                 q[i].expiry_yyyymmdd / 100 % 100, q[i].expiry_yyyymmdd % 100);
        if (hydra_occ_parse(q[i].symbol, root, sizeof root, &ex_d, &call, &k) != 0)
            snprintf(root, sizeof root, "%s", q[i].underlying);
        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:n}", "id",
                            "00000000-0000-4000-8000-000000000000", "symbol", q[i].symbol, "name",
                            q[i].symbol, "status", "active", "tradable", 1, "expiration_date", exp,
                            "root_symbol", root, "underlying_symbol", und, "type",
                            q[i].is_call ? "call" : "put", "style", "american", "strike_price",
                            dec(q[i].strike), "size", dec(q[i].multiplier > 0 ? q[i].multiplier : 100),
                            "open_interest", "0", "close_price"));
    }
    /* More matching contracts after this page: hand out the offset as the token. */
    int more = 0;
    for (; i < n && !more; i++)
        more = q[i].expiry_yyyymmdd >= gte && q[i].expiry_yyyymmdd <= lte;
    free(q);
    char next[32];
    snprintf(next, sizeof next, "%ld", offset + (long)json_array_size(list));
    a->status = 200;
    a->body = json_pack("{s:o,s:o}", "option_contracts", list, "next_page_token",
                        more ? json_string(next) : json_null());
}

static void get_snapshots(hydra_exchange *ex, struct MHD_Connection *c, answer *a)
{
    const char *symbols = arg(c, "symbols");
    if (symbols == NULL) {
        a->status = 400;
        a->body = error_json(0, "missing symbols");
        return;
    }
    char *list = strdup(symbols);
    char *names[1000];
    size_t n = list != NULL ? split_symbols(list, names, 1000) : 0;
    hydra_option_quote *chain = calloc(MAX_ITEMS, sizeof *chain);
    char chain_root[16] = "";
    int chain_dte = -1;
    size_t nchain = 0;
    json_t *snaps = json_object();
    int64_t now = hydra_clock_now_ms(ex->clock);
    for (size_t i = 0; i < n && chain != NULL; i++) {
        char root[16];
        int expiry, call;
        double strike;
        if (hydra_occ_parse(names[i], root, sizeof root, &expiry, &call, &strike) != 0)
            continue;
        int dte = days_from_today(ex, expiry);
        if (strcmp(root, chain_root) != 0 || dte > chain_dte) {
            hydra_broker_err e = {0};
            int max_dte = dte > 60 ? dte : 60;
            nchain = 0;
            if (ex->broker.ops->option_chain(ex->broker.ctx, root,
                                             &(hydra_chain_filter){0, max_dte, 0.0, 1.0}, chain,
                                             MAX_ITEMS,
                                             &nchain, &e) != 0)
                nchain = 0;
            snprintf(chain_root, sizeof chain_root, "%s", root);
            chain_dte = max_dte;
        }
        for (size_t k = 0; k < nchain; k++) {
            const hydra_option_quote *q = &chain[k];
            if (strcmp(q->symbol, names[i]) != 0)
                continue;
            json_t *s = json_pack(
                "{s:{s:f,s:f,s:f,s:f,s:f},s:f,s:{s:f,s:i,s:s,s:f,s:i,s:s,s:s,s:o}}", "greeks",
                "delta", q->delta, "gamma", q->gamma, "rho", 0.0, "theta", q->theta, "vega",
                q->vega, "impliedVolatility", q->iv, "latestQuote", "ap", q->ask, "as", 10, "ax",
                "C", "bp", q->bid, "bs", 10, "bx", "C", "c", "A", "t", utc_time(now));
            if (s != NULL && isfinite(q->last) && q->last > 0)
                json_object_set_new(s, "latestTrade",
                                    json_pack("{s:f,s:i,s:o,s:s,s:s}", "p", q->last, "s", 1, "t",
                                              utc_time(now), "x", "C", "c", "I"));
            if (s != NULL)
                json_object_set_new(snaps, names[i], s);
            break;
        }
    }
    free(chain);
    free(list);
    a->status = 200;
    a->body = json_pack("{s:o,s:n}", "snapshots", snaps, "next_page_token");
}

/* Routes an Alpaca request. */
static void route(hydra_exchange *ex, struct MHD_Connection *c, const char *method, const char *url,
                  const req_ctx *rc, answer *a)
{
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
        del = strcmp(method, "DELETE") == 0;
    if (get && strcmp(url, "/v2/account") == 0)
        get_account(ex, a);
    else if (get && strcmp(url, "/v2/positions") == 0)
        get_positions(ex, a);
    else if (del && strcmp(url, "/v2/positions") == 0)
        close_all(ex, a);
    else if (get && strcmp(url, "/v2/orders") == 0)
        get_orders(ex, c, a);
    else if (post && strcmp(url, "/v2/orders") == 0)
        post_order(ex, rc->body, rc->len, a);
    else if (del && strcmp(url, "/v2/orders") == 0)
        cancel_all(ex, a);
    else if (del && strncmp(url, "/v2/orders/", 11) == 0 && url[11] != '\0')
        cancel_one(ex, url + 11, a);
    else if (get && strcmp(url, "/v2/orders:by_client_order_id") == 0)
        get_order_by_cid(ex, c, a);
    else if (get && strcmp(url, "/v2/clock") == 0)
        get_clock(ex, a);
    else if (get && strcmp(url, "/v2/options/contracts") == 0)
        get_contracts(ex, c, a);
    else if (get && (strcmp(url, "/v2/stocks/trades/latest") == 0 ||
                     strcmp(url, "/v1beta3/crypto/us/latest/trades") == 0))
        latest_trades(ex, c, a);
    else if (get && (strcmp(url, "/v2/stocks/bars") == 0 || strcmp(url, "/v1beta3/crypto/us/bars") == 0))
        get_bars(ex, c, a);
    else if (get && strcmp(url, "/v1beta1/options/snapshots") == 0)
        get_snapshots(ex, c, a);
    else {
        a->status = 404;
        a->body = error_json(40410000, "route not found");
    }
}

/* ---- faults ---- */

static fault_kind kind_of(const char *s, int *status)
{
    *status = 0;
    if (s == NULL)
        return F_NONE;
    static const int statuses[] = {500, 503, 401, 403, 429};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char buf[8];
        snprintf(buf, sizeof buf, "%d", statuses[i]);
        if (strcmp(s, buf) == 0) {
            *status = statuses[i];
            return F_STATUS;
        }
    }
    static const struct {
        const char *name;
        fault_kind kind;
    } kinds[] = {{"timeout", F_TIMEOUT},     {"slow", F_SLOW},   {"malformed", F_MALFORMED},
                 {"truncated", F_TRUNCATED}, {"wrong_types", F_WRONG_TYPES},
                 {"drop", F_DROP},           {"refuse", F_REFUSE}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(s, kinds[i].name) == 0)
            return kinds[i].kind;
    return F_NONE;
}

/* The rule that fires for this request, consumed; a zeroed rule when none does. */
static rule take_fault(hydra_exchange *ex, const char *method, const char *url)
{
    rule none;
    memset(&none, 0, sizeof none);
    for (int i = 0; i < ex->n_rules; i++) {
        rule *r = &ex->rules[i];
        if (r->count == 0)
            continue;
        if (strcmp(r->method, "*") != 0 && strcmp(r->method, method) != 0)
            continue;
        if (strncmp(url, r->path, strlen(r->path)) != 0)
            continue;
        if (r->skip > 0) {
            r->skip--;
            continue;
        }
        if (r->count > 0)
            r->count--;
        ex->faults_fired++;
        return *r;
    }
    return none;
}

static json_t *set_faults(hydra_exchange *ex, const char *body, size_t len, int *status)
{
    json_error_t jerr;
    json_t *j = json_loadb(body != NULL ? body : "", len, 0, &jerr);
    const json_t *rules = json_object_get(j, "rules");
    if (!json_is_object(j) || (rules != NULL && !json_is_array(rules)) ||
        json_array_size(rules) > MAX_RULES) {
        json_decref(j);
        *status = 400;
        return error_json(0, "expected {\"rules\":[...]} with at most 32 rules");
    }
    rule next[MAX_RULES];
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        rule *x = &next[n];
        memset(x, 0, sizeof *x);
        const char *m = json_string_value(json_object_get(r, "method"));
        const char *p = json_string_value(json_object_get(r, "path"));
        x->kind = kind_of(json_string_value(json_object_get(r, "fault")), &x->status);
        if (x->kind == F_NONE || p == NULL || strlen(p) >= sizeof x->path) {
            json_decref(j);
            *status = 400;
            return error_json(0, "each rule needs a path and a known fault");
        }
        snprintf(x->method, sizeof x->method, "%s", m != NULL ? m : "*");
        snprintf(x->path, sizeof x->path, "%s", p);
        x->skip = (int)json_integer_value(json_object_get(r, "skip"));
        json_int_t count = json_integer_value(json_object_get(r, "count"));
        x->count = count > 0 ? (int)count : -1;
        x->delay_ms = (int)json_integer_value(json_object_get(r, "delay_ms"));
        const json_t *reset = json_object_get(r, "reset_in_s");
        x->reset_in_s = json_is_integer(reset) ? (int)json_integer_value(reset) : 2;
        if (x->delay_ms <= 0)
            x->delay_ms = x->kind == F_TIMEOUT ? 3000 : 500;
        const json_t *proc = json_object_get(r, "process");
        x->process = json_is_boolean(proc) ? json_is_true(proc)
                                           : (x->kind == F_SLOW || x->kind == F_MALFORMED ||
                                              x->kind == F_TRUNCATED || x->kind == F_WRONG_TYPES ||
                                              x->kind == F_DROP);
        n++;
    }
    memcpy(ex->rules, next, sizeof next);
    ex->n_rules = n;
    const json_t *rl = json_object_get(j, "rate_limit");
    if (json_is_integer(rl) && json_integer_value(rl) > 0)
        ex->rate_limit = (int)json_integer_value(rl);
    json_decref(j);
    *status = 200;
    return json_pack("{s:i,s:i}", "rules", n, "rate_limit", ex->rate_limit);
}

/* The value a field of the wrong type gets: numbers become strings, strings numbers, booleans strings. */
static json_t *mistyped(const json_t *v)
{
    if (json_is_number(v))
        return json_string("not-a-number");
    if (json_is_string(v))
        return json_integer(12345);
    if (json_is_boolean(v))
        return json_string("yes");
    return NULL;
}

/* Every scalar field gets the wrong type; an empty list becomes an object. */
static json_t *wrong_types(json_t *j)
{
    if (json_is_array(j) && json_array_size(j) == 0) {
        json_decref(j);
        return json_object();
    }
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(j, tmp, k, v)
        {
            json_t *w = mistyped(v);
            if (w != NULL)
                json_object_set_new(j, k, w);
            else
                json_object_set_new(j, k, wrong_types(json_incref(v)));
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            json_t *v = json_array_get(j, i);
            json_t *w = mistyped(v);
            json_array_set_new(j, i, w != NULL ? w : wrong_types(json_incref(v)));
        }
    }
    return j;
}

/* ---- HTTP plumbing ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void rate_headers(hydra_exchange *ex, struct MHD_Response *r, long reset_s)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d", ex->rate_limit);
    MHD_add_response_header(r, "X-Ratelimit-Limit", buf);
    snprintf(buf, sizeof buf, "%d", ex->rate_limit > ex->window_count ? ex->rate_limit - ex->window_count : 0);
    MHD_add_response_header(r, "X-Ratelimit-Remaining", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)(reset_s > 0 ? reset_s : ex->window_start_s + 60));
    MHD_add_response_header(r, "X-Ratelimit-Reset", buf);
}

static enum MHD_Result send_text(hydra_exchange *ex, struct MHD_Connection *c, int status,
                                 const char *text, int with_rate, long reset_s)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (with_rate) {
        pthread_mutex_lock(&ex->mu);
        rate_headers(ex, r, reset_s);
        pthread_mutex_unlock(&ex->mu);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(hydra_exchange *ex, struct MHD_Connection *c, int status,
                                 json_t *body, int with_rate, long reset_s)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    /* 204 (a cancel taken) has no body at all. */
    enum MHD_Result ret = send_text(ex, c, status, status == 204 ? "" : text != NULL ? text : "{}",
                                    with_rate, reset_s);
    free(text);
    return ret;
}

/* A body that stops halfway while Content-Length promised all of it. */
typedef struct cut_body {
    char *text;
    size_t half;
} cut_body;

static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    cut_body *b = cls;
    if (pos >= b->half)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = b->half - (size_t)pos < max ? b->half - (size_t)pos : max;
    memcpy(buf, b->text + pos, n);
    return (ssize_t)n;
}

static void cut_free(void *cls)
{
    cut_body *b = cls;
    free(b->text);
    free(b);
}

static enum MHD_Result send_truncated(hydra_exchange *ex, struct MHD_Connection *c, int status,
                                      json_t *body)
{
    cut_body *b = calloc(1, sizeof *b);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (b == NULL || text == NULL) {
        free(b);
        free(text);
        return MHD_NO;
    }
    b->text = text;
    b->half = strlen(text) / 2;
    struct MHD_Response *r = MHD_create_response_from_callback(strlen(text), 4096, cut_reader, b, cut_free);
    if (r == NULL) {
        cut_free(b);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    pthread_mutex_lock(&ex->mu);
    rate_headers(ex, r, 0);
    pthread_mutex_unlock(&ex->mu);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static void go_down(hydra_exchange *ex)
{
    __atomic_store_n(&ex->down, 1, __ATOMIC_SEQ_CST);
    MHD_socket fd = MHD_quiesce_daemon(ex->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

static json_t *stats_json(hydra_exchange *ex)
{
    json_t *submits = json_object();
    for (size_t i = 0; i < ex->n_cids; i++)
        json_object_set_new(submits, ex->cids[i].cid,
                            json_pack("{s:i,s:i}", "attempts", ex->cids[i].attempts, "accepted",
                                      ex->cids[i].accepted));
    char now[32];
    hydra_format_utc(hydra_clock_now_ms(ex->clock), now, sizeof now);
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:o}", "requests", (json_int_t)ex->requests,
                     "faults_fired", (json_int_t)ex->faults_fired, "orders_accepted",
                     (json_int_t)ex->orders_accepted, "duplicates_refused",
                     (json_int_t)ex->duplicates_refused, "rate_limited",
                     (json_int_t)ex->rate_limited, "clock", now, "submits", submits);
}

static enum MHD_Result control(hydra_exchange *ex, struct MHD_Connection *c, const char *method,
                               const char *url, const req_ctx *rc)
{
    int status = 200;
    json_t *out = NULL;
    pthread_mutex_lock(&ex->mu);
    if (strcmp(url, "/_hydra/step") == 0 && strcmp(method, "POST") == 0) {
        json_error_t jerr;
        json_t *j = rc->len > 0 ? json_loadb(rc->body, rc->len, 0, &jerr) : NULL;
        json_int_t steps = j != NULL ? json_integer_value(json_object_get(j, "steps")) : 0;
        json_decref(j);
        if (steps <= 0)
            steps = 1;
        int res = 0;
        for (json_int_t i = 0; i < steps && res == 0; i++)
            res = hydra_sim_step(ex->sim);
        char now[32];
        hydra_format_utc(hydra_clock_now_ms(ex->clock), now, sizeof now);
        out = json_pack("{s:s,s:b}", "clock", now, "finished", res == HYDRA_EEOF);
    } else if (strcmp(url, "/_hydra/faults") == 0 && strcmp(method, "POST") == 0) {
        out = set_faults(ex, rc->body, rc->len, &status);
    } else if (strcmp(url, "/_hydra/faults") == 0 && strcmp(method, "DELETE") == 0) {
        ex->n_rules = 0;
        out = json_pack("{s:i}", "rules", 0);
    } else if (strcmp(url, "/_hydra/stats") == 0 && strcmp(method, "GET") == 0) {
        out = stats_json(ex);
    } else {
        status = 404;
        out = error_json(0, "unknown control endpoint");
    }
    pthread_mutex_unlock(&ex->mu);
    return send_json(ex, c, status, out, 0, 0);
}

static int authorised(hydra_exchange *ex, struct MHD_Connection *c)
{
    const char *k = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "APCA-API-KEY-ID");
    const char *s = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "APCA-API-SECRET-KEY");
    return k != NULL && s != NULL && strcmp(k, ex->key) == 0 && strcmp(s, ex->secret) == 0;
}

/* Counts the request in the current one-minute window; 0 when over the limit. */
static int within_rate(hydra_exchange *ex)
{
    int64_t now = (int64_t)time(NULL);
    if (now >= ex->window_start_s + 60) {
        ex->window_start_s = now;
        ex->window_count = 0;
    }
    if (ex->window_count >= ex->rate_limit) {
        ex->rate_limited++;
        return 0;
    }
    ex->window_count++;
    return 1;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    hydra_exchange *ex = cls;
    req_ctx *rc = *con_cls;
    if (rc == NULL) {
        rc = calloc(1, sizeof *rc);
        if (rc == NULL)
            return MHD_NO;
        *con_cls = rc;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (rc->len + *upload_data_size > MAX_BODY) {
            rc->too_big = 1;
        } else {
            char *p = realloc(rc->body, rc->len + *upload_data_size + 1);
            if (p == NULL)
                return MHD_NO;
            rc->body = p;
            memcpy(rc->body + rc->len, upload_data, *upload_data_size);
            rc->len += *upload_data_size;
            rc->body[rc->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (__atomic_load_n(&ex->down, __ATOMIC_SEQ_CST))
        return MHD_NO;
    if (strncmp(url, "/_hydra/", 8) == 0)
        return control(ex, c, method, url, rc);
    if (rc->too_big)
        return send_json(ex, c, 413, error_json(0, "request body too large"), 0, 0);

    pthread_mutex_lock(&ex->mu);
    ex->requests++;
    int ok_rate = within_rate(ex);
    pthread_mutex_unlock(&ex->mu);
    if (!authorised(ex, c))
        return send_json(ex, c, 401, error_json(40110000, "request is not authorized"), 1, 0);
    if (!ok_rate)
        return send_json(ex, c, 429, error_json(0, "rate limit exceeded"), 1, 0);

    pthread_mutex_lock(&ex->mu);
    rule f = take_fault(ex, method, url);
    if (f.kind == F_REFUSE) {
        go_down(ex);
        pthread_mutex_unlock(&ex->mu);
        return MHD_NO;
    }
    answer a = {0, NULL};
    if (f.kind == F_NONE || f.process)
        route(ex, c, method, url, rc, &a);
    pthread_mutex_unlock(&ex->mu);

    switch (f.kind) {
    case F_STATUS:
        json_decref(a.body);
        return send_json(ex, c, f.status,
                         error_json(code_of_status(f.status),
                                    f.status == 429 ? "rate limit exceeded" : "injected fault"),
                         1, f.status == 429 ? (long)time(NULL) + f.reset_in_s : 0);
    case F_TIMEOUT:
        json_decref(a.body);
        sleep_ms(f.delay_ms);
        return MHD_NO;
    case F_DROP:
        json_decref(a.body);
        return MHD_NO;
    case F_SLOW:
        sleep_ms(f.delay_ms);
        break;
    case F_MALFORMED:
        json_decref(a.body);
        return send_text(ex, c, 200, "{\"id\": \"0b11f089\", \"status\": [1, 2,", 1, 0);
    case F_TRUNCATED:
        return send_truncated(ex, c, a.status, a.body);
    case F_WRONG_TYPES:
        a.body = wrong_types(a.body);
        break;
    default:
        break;
    }
    return send_json(ex, c, a.status, a.body, 1, 0);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    req_ctx *rc = *con_cls;
    if (rc != NULL) {
        free(rc->body);
        free(rc);
    }
    *con_cls = NULL;
}

static int listen_on(hydra_exchange *ex, int port, char *err, size_t errsz)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, never a public interface */
    ex->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                 MHD_USE_ITC,
                             (uint16_t)port, NULL, NULL, handler, ex, MHD_OPTION_SOCK_ADDR, &addr,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, ex,
                             MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (ex->d == NULL) {
        snprintf(err, errsz, "hydra-exchange: cannot listen on 127.0.0.1:%d", port);
        return HYDRA_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(ex->d, MHD_DAEMON_INFO_BIND_PORT);
    ex->port = info != NULL ? info->port : port;
    __atomic_store_n(&ex->down, 0, __ATOMIC_SEQ_CST);
    return 0;
}

int hydra_exchange_start(hydra_sim *sim, hydra_clock *clock, const hydra_exchange_opts *opts,
                         hydra_exchange **out, char *err, size_t errsz)
{
    *out = NULL;
    if (opts->key == NULL || opts->secret == NULL || opts->key[0] == '\0' || opts->secret[0] == '\0') {
        snprintf(err, errsz, "hydra-exchange: a key and a secret are required");
        return HYDRA_ECONFIG;
    }
    hydra_exchange *ex = calloc(1, sizeof *ex);
    int rc = HYDRA_ENOMEM;
    if (ex == NULL || (ex->cids = calloc(MAX_CIDS, sizeof *ex->cids)) == NULL) {
        snprintf(err, errsz, "hydra-exchange: out of memory");
        goto fail;
    }
    pthread_mutex_init(&ex->mu, NULL);
    snprintf(ex->key, sizeof ex->key, "%s", opts->key);
    snprintf(ex->secret, sizeof ex->secret, "%s", opts->secret);
    ex->sim = sim;
    ex->broker = hydra_sim_broker(sim);
    ex->clock = clock;
    ex->rate_limit = opts->rate_limit > 0 ? opts->rate_limit : 200;
    ex->window_start_s = (int64_t)time(NULL);
    if ((rc = listen_on(ex, opts->port, err, errsz)) != 0) {
        pthread_mutex_destroy(&ex->mu);
        goto fail;
    }
    *out = ex;
    return 0;
fail:
    if (ex != NULL)
        free(ex->cids);
    free(ex);
    return rc;
}

int hydra_exchange_port(const hydra_exchange *ex)
{
    return ex->port;
}

int hydra_exchange_step(hydra_exchange *ex, int steps)
{
    int rc = 0;
    pthread_mutex_lock(&ex->mu);
    for (int i = 0; i < steps && rc == 0; i++)
        rc = hydra_sim_step(ex->sim);
    pthread_mutex_unlock(&ex->mu);
    return rc;
}

void hydra_exchange_pause(hydra_exchange *ex)
{
    pthread_mutex_lock(&ex->mu);
    if (!__atomic_load_n(&ex->down, __ATOMIC_SEQ_CST))
        go_down(ex);
    pthread_mutex_unlock(&ex->mu);
}

int hydra_exchange_restart(hydra_exchange *ex, char *err, size_t errsz)
{
    if (ex->d != NULL)
        MHD_stop_daemon(ex->d);
    ex->d = NULL;
    return listen_on(ex, ex->port, err, errsz);
}

void hydra_exchange_stop(hydra_exchange *ex)
{
    if (ex == NULL)
        return;
    if (ex->d != NULL)
        MHD_stop_daemon(ex->d);
    pthread_mutex_destroy(&ex->mu);
    explicit_bzero(ex->secret, sizeof ex->secret);
    free(ex->cids);
    free(ex);
}
