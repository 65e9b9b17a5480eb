#define _GNU_SOURCE
#include "exchange_server.h"

#include <arpa/inet.h>
#include <ctype.h>
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
#define ACCOUNT_ID "6f1ac1a0-5c3e-4b7d-9a21-0c0d1e2f3a4b"

typedef enum fault_kind {
    F_NONE = 0,
    F_STATUS,      /* 500, 503, 401, 403, 429 */
    F_TIMEOUT,
    F_SLOW,
    F_MALFORMED,
    F_TRUNCATED,
    F_WRONG_TYPES,
    F_DROP,
    F_REFUSE,
    F_BAD_BAR,     /* one bar of a bars answer edited into a bad one ("edit", "bar") */
    /* Account events: done to the account before the request is answered as usual. */
    F_REPLACED,      /* the order is replaced outside (status replaced, replaced_by the new one) */
    F_EXPIRE,        /* the exchange expires the order */
    F_CANCEL,        /* the exchange cancels the order */
    F_PARTIAL_CANCEL,/* part of the order fills, then the exchange cancels the rest */
    F_POSITION,      /* a position appears from outside */
    F_COIN_FEE       /* coin taken from a crypto position as a fee */
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
    char symbol[48]; /* account events: the order's or position's symbol ("" = any order) */
    double qty;      /* replaced: the new qty; position: qty added; coin_fee: coin taken */
    double price;    /* position: entry price (0 = last price) */
    double fraction; /* partial_cancel: the part filled (default 0.5) */
    char edit[24];   /* bad_bar: nan, text, negative, high_below_low, duplicate, out_of_order, drop */
    int bar;         /* bad_bar: index of the bar in the answer's first symbol */
} rule;

typedef struct cid_stat {
    char cid[HYDRA_BROKER_CID_LEN];
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
    long requests, bar_requests, faults_fired, orders_accepted, duplicates_refused, rate_limited;
    cid_stat *cids;
    size_t n_cids;
    /* /_hydra/market: a day with no session (the clock says closed), a day that closes early. */
    int closed_date;                 /* market-zone yyyymmdd; 0 = none */
    int early_date, early_close_min; /* market-zone yyyymmdd and minute of day; 0 = none */
    struct answer_override *overrides; /* see /_hydra/override */
    size_t n_overrides;
    json_t *asset_notes; /* /_hydra/asset: symbol (no slash, upper case) -> {status, tradable} */
};

/*
 * What the exchange reports about one order in place of the core's figures:
 * a broker contradiction no honest matching engine produces (a fill beyond
 * the order's size), for testing the client's refusal.
 */
#define MAX_OVERRIDES 64
typedef struct answer_override {
    char cid[HYDRA_BROKER_CID_LEN];
    double filled_qty; /* reported filled quantity; the order is reported filled */
} answer_override;

static void apply_override(const hydra_exchange *ex, hydra_order *o);

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

/* Days since 1970-01-01 of the n-th (1-based; 0 = last) Sunday of a month. */
static long nth_sunday(int year, int month, int n)
{
    long first = (long)hydra_days_from_date(year * 10000 + month * 100 + 1);
    long wd = ((first + 4) % 7 + 7) % 7; /* 0 = Sunday; 1970-01-01 was a Thursday */
    long sun = first + (7 - wd) % 7;
    if (n > 0)
        return sun + 7L * (n - 1);
    int nm = month == 12 ? 1 : month + 1, ny = month == 12 ? year + 1 : year;
    long next = (long)hydra_days_from_date(ny * 10000 + nm * 100 + 1);
    long last = next - 1, lwd = ((last + 4) % 7 + 7) % 7;
    return last - lwd;
}

/*
 * US/Eastern's offset at a UTC instant, in minutes: -240 in daylight time,
 * else -300. The rules since 2007 (second Sunday of March to the first of
 * November, 02:00 local) and from 1987 to 2006 (first Sunday of April to the
 * last of October). Alpaca writes its clock and calendar in this zone
 * whatever the replayed data's zone is, so it is computed here, not taken
 * from the process's market zone.
 */
static int eastern_offset_min(int64_t ms)
{
    int64_t days = ms / 86400000 - (ms % 86400000 < 0);
    int year = 1970 + (int)(days / 365.2425);
    long start, end;
    for (int k = 0; k < 2; k++) {
        if (year >= 2007) {
            start = nth_sunday(year, 3, 2);
            end = nth_sunday(year, 11, 1);
        } else {
            start = nth_sunday(year, 4, 1);
            end = nth_sunday(year, 10, 0);
        }
        /* 02:00 EST = 07:00 UTC starts daylight time; 02:00 EDT = 06:00 UTC ends it. */
        int64_t s_ms = (int64_t)start * 86400000 + 7 * 3600000;
        int64_t e_ms = (int64_t)end * 86400000 + 6 * 3600000;
        if (ms < (int64_t)hydra_days_from_date(year * 10000 + 101) * 86400000) {
            year--;
            continue;
        }
        return ms >= s_ms && ms < e_ms ? -240 : -300;
    }
    return -300;
}

/* RFC 3339 in US/Eastern with its offset, as Alpaca's clock writes times. */
static void eastern_text(int64_t ms, int with_ms, char *buf, size_t bufsz)
{
    int off = eastern_offset_min(ms);
    int64_t l = ms + (int64_t)off * 60000;
    int64_t days = l / 86400000 - (l % 86400000 < 0);
    int64_t in_day = l - days * 86400000;
    int date = 0;
    /* Civil date from days (Howard Hinnant's algorithm). */
    {
        int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
        int64_t m = mp + (mp < 10 ? 3 : -9);
        date = (int)((y + (m <= 2)) * 10000 + m * 100 + d);
    }
    int h = (int)(in_day / 3600000), mi = (int)(in_day / 60000 % 60), sec = (int)(in_day / 1000 % 60);
    char frac[8] = "";
    if (with_ms)
        snprintf(frac, sizeof frac, ".%03d", (int)(in_day % 1000));
    snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d%s-%02d:00", date / 10000, date / 100 % 100,
             date % 100, h, mi, sec, frac, -off / 60);
}

static json_t *local_time(int64_t ms, int with_ms)
{
    char buf[48];
    eastern_text(ms, with_ms, buf, sizeof buf);
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

static const char *type_name(int t)
{
    switch (t) {
    case HYDRA_ORDER_LIMIT: return "limit";
    case HYDRA_ORDER_STOP: return "stop";
    case HYDRA_ORDER_STOP_LIMIT: return "stop_limit";
    case HYDRA_ORDER_TRAILING_STOP: return "trailing_stop";
    default: return "market";
    }
}

static const char *tif_name(int t)
{
    switch (t) {
    case HYDRA_TIF_GTC: return "gtc";
    case HYDRA_TIF_IOC: return "ioc";
    case HYDRA_TIF_OPG: return "opg";
    case HYDRA_TIF_CLS: return "cls";
    case HYDRA_TIF_FOK: return "fok";
    default: return "day";
    }
}

static json_t *dec_or_null(double v)
{
    return v > 0 ? dec(v) : json_null();
}

static json_t *str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* A stable asset id for a symbol (UUID form), so the same asset always has the same id. */
static void asset_uuid(const char *symbol, char *out, size_t outsz)
{
    uint64_t h = 14695981039346656037ULL, g = 1099511628211ULL;
    for (const char *c = symbol; *c; c++)
        if (*c != '/') {
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
            g = (g ^ (unsigned char)*c) * 0x100000001B3ULL + 0x9E37;
        }
    snprintf(out, outsz, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(h >> 32),
             (unsigned)(h >> 16) & 0xffffu, (unsigned)h & 0xfffu, 0x8000u | ((unsigned)(g >> 48) & 0x3fffu),
             (unsigned long long)(g & 0xffffffffffffULL));
}

/* An order in Alpaca's shape: every field of the Order entity, decimals as strings. */
static json_t *order_json(const hydra_order *o, const hydra_sim_order_ext *x)
{
    const char *type = type_name(o->type);
    char asset_id[40];
    asset_uuid(o->symbol, asset_id, sizeof asset_id);
    int64_t updated = o->submitted_ms;
    if (o->filled_ms > updated)
        updated = o->filled_ms;
    if (x->canceled_ms > updated)
        updated = x->canceled_ms;
    if (x->expired_ms > updated)
        updated = x->expired_ms;
    if (x->replaced_ms > updated)
        updated = x->replaced_ms;
    /* A coin fee is not a commission: Alpaca's fills carry no fee for crypto. */
    double commission = o->fee - o->fee_qty * o->filled_avg_price;
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(o->id));
    json_object_set_new(j, "client_order_id", json_string(o->client_order_id));
    json_object_set_new(j, "created_at", utc_time(o->submitted_ms));
    json_object_set_new(j, "updated_at", utc_time(updated));
    json_object_set_new(j, "submitted_at", utc_time(o->submitted_ms));
    json_object_set_new(j, "filled_at", o->status == HYDRA_BOS_FILLED ? utc_time(o->filled_ms) : json_null());
    json_object_set_new(j, "expired_at", x->expired_ms > 0 ? utc_time(x->expired_ms) : json_null());
    json_object_set_new(j, "canceled_at", x->canceled_ms > 0 ? utc_time(x->canceled_ms) : json_null());
    json_object_set_new(j, "failed_at", json_null());
    json_object_set_new(j, "replaced_at", x->replaced_ms > 0 ? utc_time(x->replaced_ms) : json_null());
    json_object_set_new(j, "replaced_by", str_or_null(x->replaced_by));
    json_object_set_new(j, "replaces", str_or_null(x->replaces));
    json_object_set_new(j, "asset_id", json_string(asset_id));
    json_object_set_new(j, "symbol", json_string(o->symbol));
    json_object_set_new(j, "asset_class", json_string(asset_class_name(o->asset_class)));
    json_object_set_new(j, "notional", o->notional > 0 ? dec(o->notional) : json_null());
    json_object_set_new(j, "qty", o->qty > 0 ? dec(o->qty) : json_null());
    json_object_set_new(j, "filled_qty", dec(o->filled_qty));
    json_object_set_new(j, "filled_avg_price", o->filled_qty > 0 ? dec(o->filled_avg_price) : json_null());
    json_object_set_new(j, "order_class", json_string(""));
    json_object_set_new(j, "order_type", json_string(type));
    json_object_set_new(j, "type", json_string(type));
    json_object_set_new(j, "side", json_string(o->side == HYDRA_SIDE_SELL ? "sell" : "buy"));
    json_object_set_new(j, "position_intent",
                        json_string(o->side == HYDRA_SIDE_SELL ? "sell_to_close" : "buy_to_open"));
    json_object_set_new(j, "time_in_force", json_string(tif_name(o->tif)));
    json_object_set_new(j, "limit_price", dec_or_null(o->limit_price));
    json_object_set_new(j, "stop_price", dec_or_null(x->stop_price));
    json_object_set_new(j, "status", json_string(status_name(o->status)));
    json_object_set_new(j, "extended_hours", json_boolean(x->extended_hours));
    json_object_set_new(j, "legs", json_null());
    json_object_set_new(j, "trail_percent", dec_or_null(x->trail_percent));
    json_object_set_new(j, "trail_price", dec_or_null(x->trail_price));
    json_object_set_new(j, "hwm", o->type == HYDRA_ORDER_TRAILING_STOP ? dec(x->hwm) : json_null());
    json_object_set_new(j, "subtag", json_null());
    json_object_set_new(j, "source", json_null());
    json_object_set_new(j, "expires_at", json_null());
    json_object_set_new(j, "commission", dec(commission > 1e-12 ? commission : 0));
    json_object_set_new(j, "replaced_by", o->replaced_by[0] ? json_string(o->replaced_by) : json_null());
    return j;
}

/* The order's JSON by its id, for the places that only hold a hydra_order. */
static json_t *order_json_of(hydra_exchange *ex, const hydra_order *o)
{
    hydra_sim_order_ext x;
    hydra_order cur;
    if (hydra_sim_order_by_id(ex->sim, o->id, &cur, &x) != 0) {
        memset(&x, 0, sizeof x);
        cur = *o;
    }
    apply_override(ex, &cur);
    return order_json(&cur, &x);
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

static void fail_msg(answer *a, int status, long code, const char *msg)
{
    a->status = status;
    a->body = error_json(code, msg);
}

static int positions_all(hydra_exchange *ex, hydra_broker_position **out, size_t *n,
                         hydra_broker_err *e)
{
    *out = calloc(MAX_ITEMS, sizeof **out);
    *n = 0;
    if (*out == NULL)
        return hydra_broker_fail(e, HYDRA_ENOMEM, 500, "out of memory");
    return ex->broker.ops->positions(ex->broker.ctx, *out, MAX_ITEMS, n, e);
}

static int open_orders(hydra_exchange *ex, hydra_order **out, size_t *n, hydra_broker_err *e)
{
    *out = calloc(MAX_ITEMS, sizeof **out);
    *n = 0;
    if (*out == NULL)
        return hydra_broker_fail(e, HYDRA_ENOMEM, 500, "out of memory");
    return ex->broker.ops->open_orders(ex->broker.ctx, *out, MAX_ITEMS, n, e);
}

/* The market-zone date of an instant. */
static int date_of(int64_t ms)
{
    hydra_local_time lt;
    hydra_local_from_utc(ms, &lt);
    return lt.date;
}

/* The series a symbol replays ("BTCUSD" finds "BTC/USD"), or NULL. */
static const hydra_series *series_of(hydra_exchange *ex, const char *symbol)
{
    size_t n = 0;
    const hydra_series *s = hydra_sim_series(ex->sim, &n);
    char want[48], have[48];
    strip_slash(symbol, want, sizeof want);
    for (size_t i = 0; i < n; i++) {
        strip_slash(s[i].symbol, have, sizeof have);
        if (strcasecmp(have, want) == 0)
            return &s[i];
    }
    return NULL;
}

/* The close of the last bar of an earlier day than the clock's: Alpaca's lastday_price. */
static double lastday_close(hydra_exchange *ex, const char *symbol, double fallback)
{
    const hydra_series *s = series_of(ex, symbol);
    int64_t now = hydra_clock_now_ms(ex->clock);
    if (s == NULL)
        return fallback;
    int today = date_of(now);
    for (long k = hydra_series_index_at(s, now); k >= 0; k--)
        if (date_of(s->bars[k].t_ms) < today)
            return s->bars[k].close;
    return fallback;
}

static void get_account(hydra_exchange *ex, answer *a)
{
    hydra_account acc;
    hydra_broker_err e = {0};
    hydra_broker_position *p = NULL;
    size_t np = 0;
    if (ex->broker.ops->account(ex->broker.ctx, &acc, &e) != 0 || positions_all(ex, &p, &np, &e) != 0) {
        free(p);
        return fail_answer(a, &e);
    }
    double lmv = 0, smv = 0;
    for (size_t i = 0; i < np; i++) {
        if (p[i].market_value >= 0)
            lmv += p[i].market_value;
        else
            smv += p[i].market_value;
    }
    free(p);
    char day[16];
    int d = date_of(hydra_clock_now_ms(ex->clock));
    snprintf(day, sizeof day, "%04d-%02d-%02d", d / 10000, d / 100 % 100, d % 100);
    /* A cash account (multiplier 1): every buying power is the cash not held by open buys. */
    a->status = 200;
    a->body = json_object();
    json_t *j = a->body;
    json_object_set_new(j, "id", json_string(ACCOUNT_ID));
    json_object_set_new(j, "account_number", json_string("PA0HYDRA0001"));
    json_object_set_new(j, "status", json_string(acc.active ? "ACTIVE" : "INACTIVE"));
    json_object_set_new(j, "crypto_status", json_string("ACTIVE"));
    json_object_set_new(j, "options_approved_level", json_integer(2));
    json_object_set_new(j, "options_trading_level", json_integer(2));
    json_object_set_new(j, "currency", json_string("USD"));
    json_object_set_new(j, "buying_power", dec(acc.buying_power));
    json_object_set_new(j, "regt_buying_power", dec(acc.buying_power));
    json_object_set_new(j, "daytrading_buying_power", dec(0));
    json_object_set_new(j, "effective_buying_power", dec(acc.buying_power));
    json_object_set_new(j, "non_marginable_buying_power", dec(acc.buying_power));
    json_object_set_new(j, "options_buying_power", dec(acc.buying_power));
    json_object_set_new(j, "bod_dtbp", dec(0));
    json_object_set_new(j, "cash", dec(acc.cash));
    json_object_set_new(j, "accrued_fees", dec(0));
    json_object_set_new(j, "portfolio_value", dec(acc.equity));
    json_object_set_new(j, "pattern_day_trader", json_false());
    json_object_set_new(j, "trading_blocked", json_boolean(acc.trading_blocked));
    json_object_set_new(j, "transfers_blocked", json_false());
    json_object_set_new(j, "account_blocked", json_false());
    json_object_set_new(j, "created_at", json_string("2024-01-01T00:00:00Z"));
    json_object_set_new(j, "trade_suspended_by_user", json_false());
    json_object_set_new(j, "multiplier", dec(1));
    json_object_set_new(j, "shorting_enabled", json_false());
    json_object_set_new(j, "equity", dec(acc.equity));
    json_object_set_new(j, "last_equity", dec(acc.last_equity));
    json_object_set_new(j, "long_market_value", dec(lmv));
    json_object_set_new(j, "short_market_value", dec(smv));
    json_object_set_new(j, "position_market_value", dec(lmv - smv));
    json_object_set_new(j, "initial_margin", dec(lmv));
    json_object_set_new(j, "maintenance_margin", dec(lmv));
    json_object_set_new(j, "last_maintenance_margin", dec(lmv));
    json_object_set_new(j, "sma", dec(0));
    json_object_set_new(j, "daytrade_count", json_integer(0));
    json_object_set_new(j, "balance_asof", json_string(day));
    json_object_set_new(j, "crypto_tier", json_integer(1));
    json_object_set_new(j, "intraday_adjustments", dec(0));
    json_object_set_new(j, "pending_reg_taf_fees", dec(0));
}

static void get_account_configurations(answer *a)
{
    a->status = 200;
    a->body = json_pack("{s:s,s:b,s:b,s:b,s:s,s:s,s:s,s:b,s:i}", "dtbp_check", "entry",
                        "no_shorting", 1, "suspend_trade", 0, "fractional_trading", 1,
                        "max_margin_multiplier", "1", "pdt_check", "entry", "trade_confirm_email",
                        "none", "ptp_no_exception_entry", 0, "max_options_trading_level", 2);
}

/* Quantity of a symbol that working sells hold back: the position less this is available. */
static double held_by_open_sells(const hydra_order *o, size_t n, const char *symbol)
{
    double h = 0;
    for (size_t i = 0; i < n; i++)
        if (o[i].side == HYDRA_SIDE_SELL && strcmp(o[i].symbol, symbol) == 0)
            h += (o[i].qty > 0 ? o[i].qty : 0) - o[i].filled_qty;
    return h;
}

static json_t *position_json(hydra_exchange *ex, const hydra_broker_position *p, double held)
{
    char sym[48], asset_id[40];
    if (p->asset_class == HYDRA_ASSET_CRYPTO)
        strip_slash(p->symbol, sym, sizeof sym);
    else
        snprintf(sym, sizeof sym, "%s", p->symbol);
    asset_uuid(p->symbol, asset_id, sizeof asset_id);
    double mult = p->asset_class == HYDRA_ASSET_OPTION ? 100 : 1;
    double cost = p->avg_entry_price * p->qty * mult;
    double last = p->asset_class == HYDRA_ASSET_OPTION
                      ? p->current_price
                      : lastday_close(ex, p->symbol, p->current_price);
    double intraday = (p->current_price - last) * p->qty * mult;
    double last_value = last * p->qty * mult;
    json_t *j = json_object();
    json_object_set_new(j, "asset_id", json_string(asset_id));
    json_object_set_new(j, "symbol", json_string(sym));
    json_object_set_new(j, "exchange", json_string(p->asset_class == HYDRA_ASSET_CRYPTO ? "CRYPTO"
                                                   : p->asset_class == HYDRA_ASSET_OPTION ? ""
                                                                                           : "NASDAQ"));
    json_object_set_new(j, "asset_class", json_string(asset_class_name(p->asset_class)));
    json_object_set_new(j, "asset_marginable", json_false());
    json_object_set_new(j, "qty", dec(p->qty));
    json_object_set_new(j, "qty_available", dec(p->qty - held > 0 ? p->qty - held : 0));
    json_object_set_new(j, "avg_entry_price", dec(p->avg_entry_price));
    json_object_set_new(j, "side", json_string(p->qty < 0 ? "short" : "long"));
    json_object_set_new(j, "market_value", dec(p->market_value));
    json_object_set_new(j, "cost_basis", dec(cost));
    json_object_set_new(j, "unrealized_pl", dec(p->unrealized_pl));
    json_object_set_new(j, "unrealized_plpc", dec(cost != 0 ? p->unrealized_pl / fabs(cost) : 0));
    json_object_set_new(j, "unrealized_intraday_pl", dec(intraday));
    json_object_set_new(j, "unrealized_intraday_plpc",
                        dec(last_value != 0 ? intraday / fabs(last_value) : 0));
    json_object_set_new(j, "current_price", dec(p->current_price));
    json_object_set_new(j, "lastday_price", dec(last));
    json_object_set_new(j, "change_today", dec(last > 0 ? p->current_price / last - 1 : 0));
    return j;
}

/* Positions as JSON: all of them (symbol NULL) or the one whose symbol matches (NULL if none). */
static json_t *positions_json(hydra_exchange *ex, const char *symbol, hydra_broker_err *e)
{
    hydra_broker_position *p = NULL;
    hydra_order *o = NULL;
    size_t np = 0, no = 0;
    json_t *out = NULL;
    if (positions_all(ex, &p, &np, e) != 0 || open_orders(ex, &o, &no, e) != 0)
        goto done;
    char want[48], have[48];
    if (symbol != NULL)
        strip_slash(symbol, want, sizeof want);
    out = symbol == NULL ? json_array() : NULL;
    for (size_t i = 0; i < np; i++) {
        json_t *one = position_json(ex, &p[i], held_by_open_sells(o, no, p[i].symbol));
        if (symbol == NULL) {
            json_array_append_new(out, one);
            continue;
        }
        strip_slash(p[i].symbol, have, sizeof have);
        if (strcasecmp(have, want) == 0) {
            out = one;
            break;
        }
        json_decref(one);
    }
    if (symbol != NULL && out == NULL)
        hydra_broker_fail(e, HYDRA_ENOTFOUND, 404, "position does not exist");
done:
    free(p);
    free(o);
    return out;
}

static void get_positions(hydra_exchange *ex, answer *a)
{
    hydra_broker_err e = {0};
    json_t *j = positions_json(ex, NULL, &e);
    if (j == NULL)
        return fail_answer(a, &e);
    a->status = 200;
    a->body = j;
}

static void get_position(hydra_exchange *ex, const char *symbol, answer *a)
{
    hydra_broker_err e = {0};
    json_t *j = positions_json(ex, symbol, &e);
    if (j == NULL)
        return fail_answer(a, &e);
    a->status = 200;
    a->body = j;
}

/* The position's symbol as the sim keeps it ("BTCUSD" -> "BTC/USD"). */
static int position_symbol(hydra_exchange *ex, const char *symbol, char *out, size_t outsz,
                           double *qty)
{
    hydra_broker_position *p = NULL;
    size_t np = 0;
    hydra_broker_err e = {0};
    int found = 0;
    char want[48], have[48];
    strip_slash(symbol, want, sizeof want);
    if (positions_all(ex, &p, &np, &e) == 0)
        for (size_t i = 0; i < np && !found; i++) {
            strip_slash(p[i].symbol, have, sizeof have);
            if (strcasecmp(have, want) == 0) {
                snprintf(out, outsz, "%s", p[i].symbol);
                *qty = p[i].qty;
                found = 1;
            }
        }
    free(p);
    return found;
}

/* DELETE /v2/positions/{symbol}?qty=|percentage=: a market order closing that much. */
static void close_position(hydra_exchange *ex, struct MHD_Connection *c, const char *symbol,
                           answer *a)
{
    const char *q = arg(c, "qty"), *pct = arg(c, "percentage");
    char sym[48];
    double held = 0, want = 0;
    if (!position_symbol(ex, symbol, sym, sizeof sym, &held))
        return fail_msg(a, 404, 40410000, "position does not exist");
    if (q != NULL && pct != NULL)
        return fail_msg(a, 422, 40010001, "only one of qty or percentage may be given");
    char *end = NULL;
    if (q != NULL) {
        want = strtod(q, &end);
        if (end == q || *end != '\0' || !(want > 0))
            return fail_msg(a, 422, 40010001, "qty must be a positive decimal");
    } else if (pct != NULL) {
        double v = strtod(pct, &end);
        if (end == pct || *end != '\0' || !(v > 0) || v > 100)
            return fail_msg(a, 422, 40010001, "percentage must be between 0 and 100");
        want = v >= 100 ? 0 : held * v / 100.0;
        /* Whole shares stay whole unless the position is fractional. */
        if (want > 0 && held == floor(held) && hydra_symbol_asset_class(sym) != HYDRA_ASSET_CRYPTO)
            want = floor(want);
        if (v < 100 && want <= 0)
            return fail_msg(a, 422, 40010001, "percentage leaves nothing to close");
    }
    hydra_order o;
    hydra_broker_err e = {0};
    if (hydra_sim_close_position(ex->sim, sym, want, &o, &e) != 0)
        return fail_answer(a, &e);
    ex->orders_accepted++;
    a->status = 200;
    a->body = order_json_of(ex, &o);
}

/* An RFC 3339 instant or a YYYY-MM-DD date (midnight UTC, as Alpaca reads it) in a query. */
static int query_time(const char *s, int64_t *out)
{
    if (s == NULL)
        return 0;
    if (hydra_parse_rfc3339(s, out) == 0)
        return 1;
    int y, m, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3) {
        *out = (int64_t)hydra_days_from_date(y * 10000 + m * 100 + d) * 86400000;
        return 1;
    }
    return -1;
}

static int in_symbol_list(const char *list, const char *symbol)
{
    char want[48];
    strip_slash(symbol, want, sizeof want);
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char one[64];
        if (len < sizeof one) {
            memcpy(one, p, len);
            one[len] = '\0';
            char norm[64];
            strip_slash(one, norm, sizeof norm);
            if (strcasecmp(norm, want) == 0)
                return 1;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

/*
 * GET /v2/orders: status open (default), closed or all; limit (default 50,
 * at most 500); after and until (exclusive, on submitted_at); direction
 * desc (default) or asc; symbols; side; nested (accepted; simple orders
 * have no legs).
 */
static void get_orders(hydra_exchange *ex, struct MHD_Connection *c, answer *a)
{
    const char *status = arg(c, "status"), *lim = arg(c, "limit"), *dir = arg(c, "direction"),
               *symbols = arg(c, "symbols"), *side = arg(c, "side");
    int want_open = status == NULL || strcmp(status, "open") == 0;
    int want_closed = status != NULL && strcmp(status, "closed") == 0;
    if (status != NULL && !want_open && !want_closed && strcmp(status, "all") != 0)
        return fail_msg(a, 422, 40010001, "invalid status");
    if (status != NULL && strcmp(status, "all") == 0)
        want_open = want_closed = 0;
    long limit = 50;
    if (lim != NULL) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*end != '\0' || limit <= 0)
            return fail_msg(a, 422, 40010001, "invalid limit");
        if (limit > 500)
            limit = 500;
    }
    int asc = dir != NULL && strcmp(dir, "asc") == 0;
    if (dir != NULL && !asc && strcmp(dir, "desc") != 0)
        return fail_msg(a, 422, 40010001, "invalid direction");
    int64_t after = 0, until = 0;
    int ha = query_time(arg(c, "after"), &after), hu = query_time(arg(c, "until"), &until);
    if (ha < 0 || hu < 0)
        return fail_msg(a, 422, 40010001, "invalid after or until");
    a->status = 200;
    a->body = json_array();
    size_t n = hydra_sim_order_count(ex->sim);
    for (size_t k = 0; k < n && (long)json_array_size(a->body) < limit; k++) {
        hydra_order o;
        hydra_sim_order_ext x;
        hydra_sim_order_at(ex->sim, asc ? k : n - 1 - k, &o, &x);
        int open = o.status == HYDRA_BOS_NEW || o.status == HYDRA_BOS_PARTIALLY_FILLED;
        if ((want_open && !open) || (want_closed && open))
            continue;
        if ((ha && o.submitted_ms <= after) || (hu && o.submitted_ms >= until))
            continue;
        if (symbols != NULL && !in_symbol_list(symbols, o.symbol))
            continue;
        if (side != NULL && strcmp(side, o.side == HYDRA_SIDE_BUY ? "buy" : "sell") != 0)
            continue;
        apply_override(ex, &o);
        json_array_append_new(a->body, order_json(&o, &x));
    }
}

/* An order id in a path: Alpaca refuses what is not a UUID with 422 "order_id is missing". */
static int uuid_shaped(const char *s)
{
    static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof pat - 1)
        return 0;
    for (size_t i = 0; i < sizeof pat - 1; i++)
        if (pat[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static void get_order_by_id(hydra_exchange *ex, const char *id, answer *a)
{
    if (!uuid_shaped(id))
        return fail_msg(a, 422, 40010001, "order_id is missing");
    hydra_order o;
    hydra_sim_order_ext x;
    if (hydra_sim_order_by_id(ex->sim, id, &o, &x) != 0)
        return fail_msg(a, 404, 40410000, "order not found");
    apply_override(ex, &o);
    a->status = 200;
    a->body = order_json(&o, &x);
}

/* DELETE /v2/orders/{id}: 204 with no body; 404 unknown; 422 when it no longer works. */
static void cancel_order(hydra_exchange *ex, const char *id, answer *a)
{
    if (!uuid_shaped(id))
        return fail_msg(a, 422, 40010001, "order_id is missing");
    hydra_broker_err e = {0};
    if (hydra_sim_end_order(ex->sim, id, HYDRA_BOS_CANCELED, &e) != 0) {
        if (e.code == HYDRA_ENOTFOUND)
            return fail_msg(a, 404, 40410000, "order not found");
        if (e.code == HYDRA_EREJECTED)
            return fail_msg(a, 422, 42210000, "order is not cancelable");
        return fail_answer(a, &e);
    }
    a->status = 204;
    a->body = NULL;
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

/* Decimal places a price was written with ("1.2300" counts 2; numbers by their shortest form). */
static int price_decimals(const json_t *v)
{
    char buf[64];
    const char *t;
    if (json_is_string(v)) {
        t = json_string_value(v);
    } else {
        snprintf(buf, sizeof buf, "%.10f", json_number_value(v));
        t = buf;
    }
    const char *dot = strchr(t, '.');
    if (dot == NULL)
        return 0;
    int n = (int)strspn(dot + 1, "0123456789");
    while (n > 0 && dot[n] == '0')
        n--;
    return n;
}

/*
 * Alpaca's sub-penny rule for stock prices: at $1 and above at most 2
 * decimals, below $1 at most 4. 0 when the price is fine.
 */
static int sub_penny(const json_t *j, const char *key, char *msg, size_t msgsz)
{
    const json_t *v = json_object_get(j, key);
    if (v == NULL || json_is_null(v))
        return 0;
    double x = json_is_string(v) ? strtod(json_string_value(v), NULL) : json_number_value(v);
    int places = price_decimals(v);
    if (places <= (x >= 1.0 ? 2 : 4))
        return 0;
    snprintf(msg, msgsz,
             "invalid %s %.10g. sub-penny increment does not fulfill minimum pricing criteria", key,
             x);
    return 1;
}

static int parse_type(const char *t)
{
    static const struct {
        const char *name;
        int v;
    } m[] = {{"market", HYDRA_ORDER_MARKET},
             {"limit", HYDRA_ORDER_LIMIT},
             {"stop", HYDRA_ORDER_STOP},
             {"stop_limit", HYDRA_ORDER_STOP_LIMIT},
             {"trailing_stop", HYDRA_ORDER_TRAILING_STOP}};
    for (size_t i = 0; t != NULL && i < sizeof m / sizeof m[0]; i++)
        if (strcmp(t, m[i].name) == 0)
            return m[i].v;
    return 0;
}

static int parse_tif(const char *t)
{
    static const struct {
        const char *name;
        int v;
    } m[] = {{"day", HYDRA_TIF_DAY}, {"gtc", HYDRA_TIF_GTC}, {"ioc", HYDRA_TIF_IOC},
             {"opg", HYDRA_TIF_OPG}, {"cls", HYDRA_TIF_CLS}, {"fok", HYDRA_TIF_FOK}};
    for (size_t i = 0; t != NULL && i < sizeof m / sizeof m[0]; i++)
        if (strcmp(t, m[i].name) == 0)
            return m[i].v;
    return 0;
}

/*
 * POST /v2/orders. Alpaca's refusals, with its statuses and codes: 422
 * 40010001 for a malformed request (missing or invalid fields, a
 * client_order_id over 128 characters, a duplicate one); 422 42210000 for
 * what Alpaca does not allow (sub-penny prices, fractional or notional stock
 * orders that are not day, extended hours other than a day limit order);
 * 403 40310000 for the account (buying power, quantity available).
 */
static void post_order(hydra_exchange *ex, const char *body, size_t len, answer *a)
{
    json_error_t jerr;
    json_t *j = json_loadb(body != NULL ? body : "", len, 0, &jerr);
    const char *symbol = json_string_value(json_object_get(j, "symbol"));
    const char *side = json_string_value(json_object_get(j, "side"));
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *tif = json_string_value(json_object_get(j, "time_in_force"));
    const char *cid = json_string_value(json_object_get(j, "client_order_id"));
    const json_t *ext_hours = json_object_get(j, "extended_hours");
    const char *order_class = json_string_value(json_object_get(j, "order_class"));
    hydra_order_request r;
    hydra_sim_order_ext x;
    memset(&r, 0, sizeof r);
    memset(&x, 0, sizeof x);
    const char *bad = NULL, *refused = NULL;
    char msg[200];
    r.type = parse_type(type);
    r.tif = parse_tif(tif);
    if (!json_is_object(j))
        bad = "request body is not a JSON object";
    else if (symbol == NULL || symbol[0] == '\0' || strlen(symbol) >= sizeof r.symbol)
        bad = "symbol is required";
    else if (side == NULL || (strcmp(side, "buy") != 0 && strcmp(side, "sell") != 0))
        bad = "invalid side";
    else if (r.type == 0)
        bad = "invalid order type";
    else if (r.tif == 0)
        bad = "invalid time_in_force";
    else if (order_class != NULL && order_class[0] != '\0' && strcmp(order_class, "simple") != 0)
        bad = "hydra-exchange takes simple orders only (order_class simple)";
    else if (cid != NULL && strlen(cid) > 128)
        bad = "client_order_id must be no more than 128 characters";
    else if (ext_hours != NULL && !json_is_boolean(ext_hours) && !json_is_null(ext_hours))
        bad = "extended_hours must be a boolean";
    else if (req_decimal(j, "qty", &r.qty) != 0 || req_decimal(j, "notional", &r.notional) != 0 ||
             req_decimal(j, "limit_price", &r.limit_price) != 0 ||
             req_decimal(j, "stop_price", &x.stop_price) != 0 ||
             req_decimal(j, "trail_price", &x.trail_price) != 0 ||
             req_decimal(j, "trail_percent", &x.trail_percent) != 0)
        bad = "qty, notional or a price is not a decimal";
    else if ((r.qty > 0) == (r.notional > 0))
        bad = "qty or notional is required, not both";
    else if ((r.type == HYDRA_ORDER_LIMIT || r.type == HYDRA_ORDER_STOP_LIMIT) && !(r.limit_price > 0))
        bad = "limit_price is required for limit orders";
    else if ((r.type == HYDRA_ORDER_STOP || r.type == HYDRA_ORDER_STOP_LIMIT) && !(x.stop_price > 0))
        bad = "stop_price is required for stop orders";
    if (bad == NULL) {
        unsigned cls = hydra_symbol_asset_class(symbol);
        int fractional = r.notional > 0 || r.qty != floor(r.qty);
        x.extended_hours = json_is_true(ext_hours);
        if (cls == HYDRA_ASSET_EQUITY && (sub_penny(j, "limit_price", msg, sizeof msg) ||
                                          sub_penny(j, "stop_price", msg, sizeof msg)))
            refused = msg;
        else if (cls == HYDRA_ASSET_EQUITY && fractional && r.tif != HYDRA_TIF_DAY)
            refused = "fractional orders must be DAY orders";
        else if (r.notional > 0 && r.type != HYDRA_ORDER_MARKET)
            refused = "notional orders must be market orders";
        else if (x.extended_hours && (r.type != HYDRA_ORDER_LIMIT || r.tif != HYDRA_TIF_DAY))
            refused = "extended hours order must be DAY limit orders";
    }
    if (bad != NULL || refused != NULL) {
        a->status = 422;
        a->body = error_json(bad != NULL ? 40010001 : 42210000, bad != NULL ? bad : refused);
        json_decref(j);
        return;
    }
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    snprintf(r.client_order_id, sizeof r.client_order_id, "%s", cid != NULL ? cid : "");
    r.asset_class = hydra_symbol_asset_class(symbol);
    r.side = strcmp(side, "buy") == 0 ? HYDRA_SIDE_BUY : HYDRA_SIDE_SELL;
    json_decref(j);

    cid_stat *st = r.client_order_id[0] ? cid_stat_of(ex, r.client_order_id) : NULL;
    if (st != NULL)
        st->attempts++;
    hydra_order o;
    hydra_sim_order_ext xo;
    hydra_broker_err e = {0};
    if (hydra_sim_submit_ext(ex->sim, &r, &x, &o, &xo, &e) != 0) {
        if (strstr(e.msg, "client_order_id must be unique") != NULL)
            ex->duplicates_refused++;
        return fail_answer(a, &e);
    }
    ex->orders_accepted++;
    if (st != NULL)
        st->accepted++;
    a->status = 200;
    a->body = order_json(&o, &xo);
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
    a->body = order_json_of(ex, &o);
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
                body = order_json_of(ex, &o[k]);
        json_array_append_new(a->body, json_pack("{s:s,s:i,s:o}", "symbol", sym, "status", 200,
                                                 "body", body != NULL ? body : json_object()));
    }
done:
    free(p);
    free(o);
}

/* ---- the market calendar, with the closures and early closes set through /_hydra/market ---- */

#define CALENDAR_MAX_DAYS 400

static int parse_ymd(const char *s, int *out);

static int date_plus_days(int yyyymmdd, int days)
{
    int64_t t = hydra_utc_from_local(yyyymmdd / 10000, yyyymmdd / 100 % 100, yyyymmdd % 100, 12, 0,
                                     0) + (int64_t)days * 86400000;
    hydra_local_time lt;
    hydra_local_from_utc(t, &lt);
    return lt.date;
}

/* The sim's sessions from..to, less the closed day, with the early close applied. */
static int sessions(hydra_exchange *ex, int from, int to, hydra_session *out, size_t cap, size_t *n,
                    hydra_broker_err *e)
{
    size_t got = 0;
    int rc = ex->broker.ops->calendar(ex->broker.ctx, from, to, out, cap, &got, e);
    if (rc != 0)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < got; i++) {
        if (out[i].date == ex->closed_date)
            continue;
        hydra_session d = out[i];
        if (d.date == ex->early_date) {
            int64_t close = hydra_utc_from_local(d.date / 10000, d.date / 100 % 100, d.date % 100,
                                                 ex->early_close_min / 60, ex->early_close_min % 60, 0);
            if (close > d.open_ms && close < d.close_ms)
                d.close_ms = close;
        }
        out[k++] = d;
    }
    *n = k;
    return 0;
}

/* The clock from the same sessions when a closure or early close is declared (else the sim's). */
static void market_overrides(hydra_exchange *ex, hydra_market_clock *mc)
{
    if (ex->closed_date == 0 && ex->early_date == 0)
        return;
    hydra_local_time lt;
    hydra_local_from_utc(mc->now_ms, &lt);
    hydra_session days[16];
    size_t n = 0;
    hydra_broker_err e = {0};
    if (sessions(ex, lt.date, date_plus_days(lt.date, 14), days, 16, &n, &e) != 0)
        return;
    mc->is_open = 0;
    mc->next_open_ms = mc->next_close_ms = 0;
    for (size_t i = 0; i < n; i++) {
        if (days[i].open_ms <= mc->now_ms && mc->now_ms < days[i].close_ms)
            mc->is_open = 1;
        if (mc->next_open_ms == 0 && days[i].open_ms > mc->now_ms)
            mc->next_open_ms = days[i].open_ms;
        if (mc->next_close_ms == 0 && days[i].close_ms > mc->now_ms)
            mc->next_close_ms = days[i].close_ms;
    }
}

/* "HH:MM" of a UTC time in Alpaca's calendar zone (New York; sessions never span a DST change). */
static json_t *ny_hhmm(int date, int64_t utc_ms)
{
    int64_t midnight =
        hydra_utc_from_zone("America/New_York", date / 10000, date / 100 % 100, date % 100, 0, 0, 0);
    long min = (long)((utc_ms - midnight) / 60000);
    char buf[8];
    snprintf(buf, sizeof buf, "%02ld:%02ld", (min / 60) % 24, min % 60);
    return json_string(buf);
}

/* GET /v2/calendar?start=&end=: Alpaca's shape, times in New York. */
static void get_calendar(hydra_exchange *ex, struct MHD_Connection *c, answer *a)
{
    hydra_local_time lt;
    hydra_local_from_utc(hydra_clock_now_ms(ex->clock), &lt);
    int from = lt.date, to = 0;
    const char *start = arg(c, "start"), *end = arg(c, "end");
    if ((start != NULL && parse_ymd(start, &from) != 0) || (end != NULL && parse_ymd(end, &to) != 0)) {
        a->status = 422;
        a->body = error_json(40010001, "start and end must be dates (YYYY-MM-DD)");
        return;
    }
    if (to == 0)
        to = date_plus_days(from, 30);
    if (to < from || hydra_days_between(from, to) > CALENDAR_MAX_DAYS) {
        a->status = 422;
        a->body = error_json(40010001, "end must be after start, at most 400 days later");
        return;
    }
    hydra_session *days = calloc(CALENDAR_MAX_DAYS + 1, sizeof *days);
    size_t n = 0;
    hydra_broker_err e = {0};
    if (days == NULL || sessions(ex, from, to, days, CALENDAR_MAX_DAYS + 1, &n, &e) != 0) {
        if (days == NULL)
            hydra_broker_fail(&e, HYDRA_ENOMEM, 500, "out of memory");
        fail_answer(a, &e);
        free(days);
        return;
    }
    a->status = 200;
    a->body = json_array();
    for (size_t i = 0; i < n; i++) {
        char date[16];
        snprintf(date, sizeof date, "%04d-%02d-%02d", days[i].date / 10000,
                 days[i].date / 100 % 100, days[i].date % 100);
        json_array_append_new(a->body, json_pack("{s:s,s:o,s:o,s:s,s:s}", "date", date, "open",
                                                 ny_hhmm(days[i].date, days[i].open_ms), "close",
                                                 ny_hhmm(days[i].date, days[i].close_ms),
                                                 "session_open", "0400", "session_close", "2000"));
    }
    free(days);
}

/*
 * POST /_hydra/market {"closed": true} makes a day (default today, or
 * "date": "YYYY-MM-DD") one with no session; {"early_close": "HH:MM"} makes
 * it close early (market-zone time). DELETE clears both.
 */
static json_t *set_market(hydra_exchange *ex, const char *body, size_t len, int *status)
{
    json_error_t jerr;
    json_t *j = len > 0 ? json_loadb(body, len, 0, &jerr) : NULL;
    hydra_local_time lt;
    hydra_local_from_utc(hydra_clock_now_ms(ex->clock), &lt);
    int date = lt.date, minute = -1;
    const char *d = json_string_value(json_object_get(j, "date"));
    const char *ec = json_string_value(json_object_get(j, "early_close"));
    const json_t *closed = json_object_get(j, "closed");
    if (!json_is_object(j) || (d != NULL && parse_ymd(d, &date) != 0) ||
        (ec != NULL && hydra_parse_hhmm(ec, &minute) != 0) ||
        (closed != NULL && !json_is_boolean(closed)) || (ec == NULL && closed == NULL)) {
        json_decref(j);
        *status = 400;
        return error_json(0, "expected {\"closed\": bool} or {\"early_close\": \"HH:MM\"}, "
                             "optional \"date\": \"YYYY-MM-DD\"");
    }
    if (closed != NULL)
        ex->closed_date = json_is_true(closed) ? date : 0;
    if (ec != NULL) {
        ex->early_date = date;
        ex->early_close_min = minute;
    }
    json_decref(j);
    *status = 200;
    return json_pack("{s:i,s:i,s:i}", "closed_date", ex->closed_date, "early_close_date",
                     ex->early_date, "early_close_minute", ex->early_date ? ex->early_close_min : -1);
}

static void get_clock(hydra_exchange *ex, answer *a)
{
    hydra_market_clock mc;
    hydra_broker_err e = {0};
    if (ex->broker.ops->clock(ex->broker.ctx, &mc, &e) != 0)
        return fail_answer(a, &e);
    market_overrides(ex, &mc);
    a->status = 200;
    a->body = json_pack("{s:o,s:b,s:o,s:o}", "timestamp", local_time(mc.now_ms, 1), "is_open",
                        mc.is_open, "next_open", local_time(mc.next_open_ms, 0), "next_close",
                        local_time(mc.next_close_ms, 0));
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

/* The latest trade of a symbol, Alpaca's shape (crypto trades carry a taker side, no exchange). */
static json_t *trade_json(const hydra_quote *q, int crypto)
{
    if (crypto)
        return json_pack("{s:o,s:f,s:f,s:I,s:s}", "t", utc_time(q->t_ms), "p", q->price, "s", 0.01,
                         "i", (json_int_t)(q->t_ms / 1000), "tks", "B");
    return json_pack("{s:o,s:s,s:f,s:i,s:[s],s:I,s:s}", "t", utc_time(q->t_ms), "x", "V", "p",
                     q->price, "s", 100, "c", "@", "i", (json_int_t)(q->t_ms / 1000), "z", "C");
}

/*
 * The quote around the last price: half a spread of 1 bp either side, at
 * least a cent for stocks; sizes fixed. The sim has trades only.
 */
static json_t *quote_json(const hydra_quote *q, int crypto)
{
    double half = q->price * 0.00005;
    if (!crypto && half < 0.01)
        half = 0.01;
    double bid = q->price - half, ask = q->price + half;
    if (!crypto) {
        bid = floor(bid * 100 + 1e-9) / 100;
        ask = ceil(ask * 100 - 1e-9) / 100;
    }
    if (crypto)
        return json_pack("{s:o,s:f,s:f,s:f,s:f}", "t", utc_time(q->t_ms), "bp", bid, "bs", 1.0,
                         "ap", ask, "as", 1.0);
    return json_pack("{s:o,s:s,s:f,s:i,s:s,s:f,s:i,s:[s],s:s}", "t", utc_time(q->t_ms), "ax", "V",
                     "ap", ask, "as", 1, "bx", "V", "bp", bid, "bs", 1, "c", "R", "z", "C");
}

static int last_trade(hydra_exchange *ex, const char *symbol, hydra_quote *q)
{
    hydra_broker_err e = {0};
    const char *one[1] = {symbol};
    return ex->broker.ops->latest_prices(ex->broker.ctx, one, 1, q, &e);
}

/* GET .../trades/latest and .../quotes/latest for many symbols: {"trades"|"quotes": {sym: ...}}. */
static void latest_many(hydra_exchange *ex, struct MHD_Connection *c, int quotes, int crypto,
                        answer *a)
{
    const char *symbols = arg(c, "symbols");
    if (symbols == NULL || symbols[0] == '\0')
        return fail_msg(a, 400, 0, "missing symbols");
    char *list = strdup(symbols);
    char *names[256];
    size_t n = list != NULL ? split_symbols(list, names, 256) : 0;
    json_t *all = json_object();
    for (size_t i = 0; i < n; i++) {
        hydra_quote q;
        /* Alpaca leaves out symbols it has nothing for. */
        if (last_trade(ex, names[i], &q) != 0)
            continue;
        json_object_set_new(all, names[i], quotes ? quote_json(&q, crypto) : trade_json(&q, crypto));
    }
    free(list);
    a->status = 200;
    a->body = json_pack("{s:o}", quotes ? "quotes" : "trades", all);
}

/* GET /v2/stocks/{symbol}/trades/latest or /quotes/latest: {"symbol": ..., "trade"|"quote": ...}. */
static void latest_one(hydra_exchange *ex, const char *symbol, int quotes, answer *a)
{
    hydra_quote q;
    if (last_trade(ex, symbol, &q) != 0)
        return fail_msg(a, 404, 0, "no trade found for symbol");
    a->status = 200;
    a->body = json_pack("{s:s,s:o}", "symbol", symbol, quotes ? "quote" : "trade",
                        quotes ? quote_json(&q, 0) : trade_json(&q, 0));
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static json_t *bar_json(const hydra_bar *b)
{
    return json_pack("{s:o,s:f,s:f,s:f,s:f,s:f,s:i,s:f}", "t", utc_time(b->t_ms), "o", b->open,
                     "h", b->high, "l", b->low, "c", b->close, "v", b->volume, "n", 1, "vw",
                     (b->high + b->low + b->close) / 3);
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

/*
 * Bars, Alpaca's way: the series' own bars (not resampled to `timeframe`)
 * stamped in [start, end] and not after the clock; start defaults to the
 * current day's midnight in the market zone, end to now; symbols sorted by
 * name; `limit` (default 1000, at most 10000) counts every item across
 * symbols; `sort` asc (default) or desc within a symbol; more items give a
 * next_page_token, passed back as page_token. One symbol in the path
 * (/v2/stocks/{symbol}/bars) answers {"bars": [...], "symbol": ...}.
 */
static void get_bars(hydra_exchange *ex, struct MHD_Connection *c, const char *one_symbol,
                     answer *a)
{
    const char *symbols = one_symbol != NULL ? one_symbol : arg(c, "symbols");
    const char *tf = arg(c, "timeframe"), *lim = arg(c, "limit"), *sort = arg(c, "sort"),
               *tok = arg(c, "page_token");
    int tf_s = tf != NULL ? timeframe_seconds(tf) : -1;
    long limit = lim != NULL ? strtol(lim, NULL, 10) : 1000;
    long offset = tok != NULL ? strtol(tok, NULL, 10) : 0;
    int64_t now = hydra_clock_now_ms(ex->clock), start = 0, end = now;
    int hs = query_time(arg(c, "start"), &start), he = query_time(arg(c, "end"), &end);
    if (symbols == NULL || symbols[0] == '\0' || tf_s <= 0 || limit <= 0 || limit > 10000 ||
        offset < 0 || hs < 0 || he < 0)
        return fail_msg(a, 400, 0, "invalid symbols, timeframe, start, end, limit or page_token");
    if (!hs) {
        hydra_local_time lt;
        hydra_local_from_utc(now, &lt);
        start = hydra_utc_from_local(lt.year, lt.month, lt.day, 0, 0, 0);
    }
    if (end > now)
        end = now;
    int desc = sort != NULL && strcmp(sort, "desc") == 0;
    char *list = strdup(symbols);
    char *names[64];
    size_t n = list != NULL ? split_symbols(list, names, 64) : 0;
    qsort(names, n, sizeof names[0], cmp_names);
    json_t *all = json_object(), *single = json_array();
    long seen = 0, put = 0;
    int more = 0;
    for (size_t i = 0; i < n && !more; i++) {
        const hydra_series *s = series_of(ex, names[i]);
        if (s == NULL)
            continue;
        long lo = hydra_series_index_at(s, start - 1) + 1, hi = hydra_series_index_at(s, end) + 1;
        json_t *arr = NULL;
        for (long k = 0; k < hi - lo; k++) {
            if (seen++ < offset)
                continue;
            if (put == limit) {
                more = 1;
                break;
            }
            if (arr == NULL)
                arr = one_symbol != NULL ? single : json_array();
            json_array_append_new(arr, bar_json(&s->bars[desc ? hi - 1 - k : lo + k]));
            put++;
        }
        if (arr != NULL && one_symbol == NULL)
            json_object_set_new(all, names[i], arr);
    }
    free(list);
    char next[32];
    snprintf(next, sizeof next, "%ld", offset + put);
    json_t *token = more ? json_string(next) : json_null();
    a->status = 200;
    if (one_symbol != NULL) {
        json_decref(all);
        a->body = json_pack("{s:o,s:s,s:o}", "bars", single, "symbol", one_symbol,
                            "next_page_token", token);
    } else {
        json_decref(single);
        a->body = json_pack("{s:o,s:o}", "bars", all, "next_page_token", token);
    }
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

/* An option contract in Alpaca's shape. */
static json_t *contract_json(const hydra_option_quote *q, double under_close)
{
    char exp[16], root[16], id[40];
    int ex_d, call;
    double k;
    snprintf(exp, sizeof exp, "%04d-%02d-%02d", q->expiry_yyyymmdd / 10000,
             q->expiry_yyyymmdd / 100 % 100, q->expiry_yyyymmdd % 100);
    if (hydra_occ_parse(q->symbol, root, sizeof root, &ex_d, &call, &k) != 0)
        snprintf(root, sizeof root, "%s", q->underlying);
    asset_uuid(q->symbol, id, sizeof id);
    (void)under_close;
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:n,s:n,s:n,s:s,s:s}",
                     "id", id, "symbol", q->symbol, "name", q->symbol, "status", "active",
                     "tradable", 1, "expiration_date", exp, "root_symbol", root,
                     "underlying_symbol", q->underlying, "type", q->is_call ? "call" : "put",
                     "style", "american", "strike_price", dec(q->strike), "size",
                     dec(q->multiplier > 0 ? q->multiplier : 100), "open_interest", "0",
                     "open_interest_date", "close_price", "close_price_date", "underlying_asset_id",
                     "00000000-0000-4000-8000-000000000000", "deliverables", "");
}

/* GET /v2/options/contracts/{symbol}: one listed contract, or 404. */
static void get_contract(hydra_exchange *ex, const char *symbol, answer *a)
{
    char root[16];
    int expiry, call;
    double strike;
    if (hydra_occ_parse(symbol, root, sizeof root, &expiry, &call, &strike) != 0)
        return fail_msg(a, 404, 40410000, "option contract not found");
    int dte = days_from_today(ex, expiry);
    hydra_option_quote *q = calloc(MAX_ITEMS, sizeof *q);
    size_t n = 0;
    hydra_broker_err e = {0};
    json_t *found = NULL;
    if (q != NULL && dte >= 0 &&
        ex->broker.ops->option_chain(ex->broker.ctx, root, &(hydra_chain_filter){dte, dte, 0.0, 1.0},
                                     q, MAX_ITEMS, &n, &e) == 0)
        for (size_t i = 0; i < n && found == NULL; i++)
            if (strcmp(q[i].symbol, symbol) == 0) {
                found = contract_json(&q[i], 0);
                json_object_set_new(found, "underlying_symbol", json_string(root));
            }
    free(q);
    if (found == NULL)
        return fail_msg(a, 404, 40410000, "option contract not found");
    a->status = 200;
    a->body = found;
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
        json_t *one = contract_json(&q[i], 0);
        json_object_set_new(one, "underlying_symbol", json_string(und));
        json_array_append_new(list, one);
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

/* An option snapshot: greeks, implied volatility, the latest quote and trade. */
static json_t *snapshot_json(const hydra_option_quote *q, int64_t now)
{
    json_t *s = json_pack("{s:{s:f,s:f,s:f,s:f,s:f},s:f,s:{s:f,s:i,s:s,s:f,s:i,s:s,s:s,s:o}}",
                          "greeks", "delta", q->delta, "gamma", q->gamma, "rho", 0.0, "theta",
                          q->theta, "vega", q->vega, "impliedVolatility", q->iv, "latestQuote",
                          "ap", q->ask, "as", 10, "ax", "C", "bp", q->bid, "bs", 10, "bx", "C", "c",
                          "A", "t", utc_time(now));
    if (s != NULL && isfinite(q->last) && q->last > 0)
        json_object_set_new(s, "latestTrade",
                            json_pack("{s:f,s:i,s:o,s:s,s:s}", "p", q->last, "s", 1, "t",
                                      utc_time(now), "x", "C", "c", "I"));
    return s;
}

/*
 * GET /v1beta1/options/snapshots/{underlying}: the chain, filtered by type,
 * strike_price_gte/lte, expiration_date, expiration_date_gte/lte; limit
 * (default 100, at most 1000) and page_token (an offset).
 */
static void get_chain_snapshots(hydra_exchange *ex, struct MHD_Connection *c, const char *und,
                                answer *a)
{
    const char *type = arg(c, "type"), *lim = arg(c, "limit"), *tok = arg(c, "page_token");
    const char *sg = arg(c, "strike_price_gte"), *sl = arg(c, "strike_price_lte");
    int gte = 0, lte = 99991231, on = 0;
    parse_ymd(arg(c, "expiration_date_gte"), &gte);
    parse_ymd(arg(c, "expiration_date_lte"), &lte);
    if (parse_ymd(arg(c, "expiration_date"), &on) == 0)
        gte = lte = on;
    double kmin = sg != NULL ? strtod(sg, NULL) : 0, kmax = sl != NULL ? strtod(sl, NULL) : INFINITY;
    long limit = lim != NULL ? strtol(lim, NULL, 10) : 100;
    long offset = tok != NULL ? strtol(tok, NULL, 10) : 0;
    if (limit > 1000)
        limit = 1000; /* Alpaca's page size for snapshots; larger asks get full pages */
    if (limit <= 0 || offset < 0 ||
        (type != NULL && strcmp(type, "call") != 0 && strcmp(type, "put") != 0))
        return fail_msg(a, 400, 0, "invalid type, limit or page_token");
    hydra_option_quote *q = calloc(MAX_ITEMS, sizeof *q);
    size_t n = 0;
    hydra_broker_err e = {0};
    if (q == NULL || ex->broker.ops->option_chain(ex->broker.ctx, und, NULL, q, MAX_ITEMS, &n, &e) != 0)
        n = 0;
    int64_t now = hydra_clock_now_ms(ex->clock);
    json_t *snaps = json_object();
    long seen = 0, put = 0;
    int more = 0;
    for (size_t i = 0; i < n && !more; i++) {
        if (q[i].expiry_yyyymmdd < gte || q[i].expiry_yyyymmdd > lte || q[i].strike < kmin ||
            q[i].strike > kmax || (type != NULL && (strcmp(type, "call") == 0) != q[i].is_call))
            continue;
        if (seen++ < offset)
            continue;
        if (put == limit) {
            more = 1;
            break;
        }
        json_object_set_new(snaps, q[i].symbol, snapshot_json(&q[i], now));
        put++;
    }
    free(q);
    char next[32];
    snprintf(next, sizeof next, "%ld", offset + put);
    a->status = 200;
    a->body = json_pack("{s:o,s:o}", "snapshots", snaps, "next_page_token",
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
            json_t *s = snapshot_json(q, now);
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

/* An asset in Alpaca's shape. */
static json_t *asset_json(const char *symbol)
{
    char id[40];
    asset_uuid(symbol, id, sizeof id);
    int crypto = hydra_symbol_asset_class(symbol) == HYDRA_ASSET_CRYPTO;
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:i,s:b,s:b,s:b,s:[]}", "id", id,
                          "class", crypto ? "crypto" : "us_equity", "exchange",
                          crypto ? "CRYPTO" : "NASDAQ", "symbol", symbol, "name", symbol, "status",
                          "active", "tradable", 1, "marginable", 0,
                          "maintenance_margin_requirement", 100, "shortable", 0, "easy_to_borrow",
                          0, "fractionable", 1, "attributes");
    if (crypto) {
        json_object_set_new(j, "min_order_size", json_string("0.000001"));
        json_object_set_new(j, "min_trade_increment", json_string("0.000000001"));
        json_object_set_new(j, "price_increment", json_string("0.01"));
    }
    return j;
}

/* The key of a symbol in asset_notes: without its slash, upper case. */
static void asset_key(const char *symbol, char *out, size_t outsz)
{
    strip_slash(symbol, out, outsz);
    for (char *c = out; *c != '\0'; c++)
        *c = (char)toupper((unsigned char)*c);
}

/*
 * GET /v2/assets (status, asset_class) and /v2/assets/{symbol}: the replayed
 * series, active and tradable, as /_hydra/asset has marked them; a symbol
 * marked there exists even without a series (a listed asset with no data).
 */
static void get_assets(hydra_exchange *ex, struct MHD_Connection *c, const char *one, answer *a)
{
    size_t n = 0;
    const hydra_series *s = hydra_sim_series(ex->sim, &n);
    if (one != NULL) {
        const hydra_series *f = series_of(ex, one);
        char key[48];
        asset_key(one, key, sizeof key);
        const json_t *note = json_object_get(ex->asset_notes, key);
        if (f == NULL && note == NULL)
            return fail_msg(a, 404, 40410000, "asset not found");
        a->status = 200;
        a->body = asset_json(f != NULL ? f->symbol : key);
        if (note != NULL)
            json_object_update(a->body, (json_t *)note);
        return;
    }
    const char *status = arg(c, "status"), *cls = arg(c, "asset_class");
    a->status = 200;
    a->body = json_array();
    if (status != NULL && strcmp(status, "active") != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        int crypto = hydra_symbol_asset_class(s[i].symbol) == HYDRA_ASSET_CRYPTO;
        if (cls != NULL && strcmp(cls, crypto ? "crypto" : "us_equity") != 0)
            continue;
        json_array_append_new(a->body, asset_json(s[i].symbol));
    }
}

/* POST /_hydra/asset {"symbol": s, "status": "active"|"inactive", "tradable": bool}. */
static json_t *set_asset(hydra_exchange *ex, const char *body, size_t len, int *status)
{
    json_error_t jerr;
    json_t *j = len > 0 ? json_loadb(body, len, 0, &jerr) : NULL;
    const char *sym = json_string_value(json_object_get(j, "symbol"));
    const char *st = json_string_value(json_object_get(j, "status"));
    const json_t *tradable = json_object_get(j, "tradable");
    if (sym == NULL || sym[0] == '\0' || strlen(sym) >= 40 || st == NULL ||
        (strcmp(st, "active") != 0 && strcmp(st, "inactive") != 0) || !json_is_boolean(tradable)) {
        json_decref(j);
        *status = 400;
        return error_json(0, "expected {\"symbol\": s, \"status\": \"active\"|\"inactive\", "
                             "\"tradable\": bool}");
    }
    if (ex->asset_notes == NULL)
        ex->asset_notes = json_object();
    char key[48];
    asset_key(sym, key, sizeof key);
    json_object_set_new(ex->asset_notes, key,
                        json_pack("{s:s,s:O}", "status", st, "tradable", tradable));
    json_decref(j);
    *status = 200;
    return json_pack("{s:s}", "symbol", key);
}

/* The rest of a path after a prefix, when it is one non-empty segment; else NULL. */
static const char *tail_of(const char *url, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(url, prefix, n) != 0 || url[n] == '\0')
        return NULL;
    return url + n;
}

/* "/v2/stocks/AAPL/bars" with prefix "/v2/stocks/" and suffix "/bars": "AAPL" into out. */
static int middle_of(const char *url, const char *prefix, const char *suffix, char *out,
                     size_t outsz)
{
    size_t np = strlen(prefix), ns = strlen(suffix), nu = strlen(url);
    if (nu <= np + ns || strncmp(url, prefix, np) != 0 || strcmp(url + nu - ns, suffix) != 0 ||
        nu - np - ns >= outsz)
        return 0;
    memcpy(out, url + np, nu - np - ns);
    out[nu - np - ns] = '\0';
    return strchr(out, '/') == NULL || hydra_symbol_asset_class(out) == HYDRA_ASSET_CRYPTO;
}

/* Routes an Alpaca request. */
static void route(hydra_exchange *ex, struct MHD_Connection *c, const char *method, const char *url,
                  const req_ctx *rc, answer *a)
{
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
        del = strcmp(method, "DELETE") == 0;
    const char *t;
    char sym[64];
    if (get && strcmp(url, "/v2/account") == 0)
        get_account(ex, a);
    else if (get && strcmp(url, "/v2/account/configurations") == 0)
        get_account_configurations(a);
    else if (get && strcmp(url, "/v2/positions") == 0)
        get_positions(ex, a);
    else if (del && strcmp(url, "/v2/positions") == 0)
        close_all(ex, a);
    else if (get && (t = tail_of(url, "/v2/positions/")) != NULL)
        get_position(ex, t, a);
    else if (del && (t = tail_of(url, "/v2/positions/")) != NULL)
        close_position(ex, c, t, a);
    else if (get && strcmp(url, "/v2/orders") == 0)
        get_orders(ex, c, a);
    else if (post && strcmp(url, "/v2/orders") == 0)
        post_order(ex, rc->body, rc->len, a);
    else if (del && strcmp(url, "/v2/orders") == 0)
        cancel_all(ex, a);
    else if (get && strcmp(url, "/v2/orders:by_client_order_id") == 0)
        get_order_by_cid(ex, c, a);
    else if (get && (t = tail_of(url, "/v2/orders/")) != NULL)
        get_order_by_id(ex, t, a);
    else if (del && (t = tail_of(url, "/v2/orders/")) != NULL)
        cancel_order(ex, t, a);
    else if (get && strcmp(url, "/v2/clock") == 0)
        get_clock(ex, a);
    else if (get && strcmp(url, "/v2/calendar") == 0)
        get_calendar(ex, c, a);
    else if (get && strcmp(url, "/v2/assets") == 0)
        get_assets(ex, c, NULL, a);
    else if (get && (t = tail_of(url, "/v2/assets/")) != NULL)
        get_assets(ex, c, t, a);
    else if (get && strcmp(url, "/v2/options/contracts") == 0)
        get_contracts(ex, c, a);
    else if (get && (t = tail_of(url, "/v2/options/contracts/")) != NULL)
        get_contract(ex, t, a);
    else if (get && strcmp(url, "/v2/stocks/trades/latest") == 0)
        latest_many(ex, c, 0, 0, a);
    else if (get && strcmp(url, "/v1beta3/crypto/us/latest/trades") == 0)
        latest_many(ex, c, 0, 1, a);
    else if (get && strcmp(url, "/v2/stocks/quotes/latest") == 0)
        latest_many(ex, c, 1, 0, a);
    else if (get && strcmp(url, "/v1beta3/crypto/us/latest/quotes") == 0)
        latest_many(ex, c, 1, 1, a);
    else if (get && middle_of(url, "/v2/stocks/", "/trades/latest", sym, sizeof sym))
        latest_one(ex, sym, 0, a);
    else if (get && middle_of(url, "/v2/stocks/", "/quotes/latest", sym, sizeof sym))
        latest_one(ex, sym, 1, a);
    else if (get && (strcmp(url, "/v2/stocks/bars") == 0 || strcmp(url, "/v1beta3/crypto/us/bars") == 0))
        get_bars(ex, c, NULL, a);
    else if (get && middle_of(url, "/v2/stocks/", "/bars", sym, sizeof sym))
        get_bars(ex, c, sym, a);
    else if (get && strcmp(url, "/v1beta1/options/snapshots") == 0)
        get_snapshots(ex, c, a);
    else if (get && (t = tail_of(url, "/v1beta1/options/snapshots/")) != NULL)
        get_chain_snapshots(ex, c, t, a);
    else
        fail_msg(a, 404, 40410000, "route not found");
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
                 {"drop", F_DROP},           {"refuse", F_REFUSE},
                 {"bad_bar", F_BAD_BAR},
                 {"replaced", F_REPLACED},   {"expire", F_EXPIRE},
                 {"cancel", F_CANCEL},       {"partial_cancel", F_PARTIAL_CANCEL},
                 {"position", F_POSITION},   {"coin_fee", F_COIN_FEE}};
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
        const char *sy = json_string_value(json_object_get(r, "symbol"));
        snprintf(x->symbol, sizeof x->symbol, "%s", sy != NULL ? sy : "");
        x->qty = json_number_value(json_object_get(r, "qty"));
        x->price = json_number_value(json_object_get(r, "price"));
        const json_t *fr = json_object_get(r, "fraction");
        x->fraction = json_is_number(fr) ? json_number_value(fr) : 0.5;
        if ((x->kind == F_POSITION || x->kind == F_COIN_FEE) &&
            (x->symbol[0] == '\0' || !(x->qty > 0))) {
            json_decref(j);
            *status = 400;
            return error_json(0, "position and coin_fee rules need a symbol and a positive qty");
        }
        const char *ed = json_string_value(json_object_get(r, "edit"));
        snprintf(x->edit, sizeof x->edit, "%s", ed != NULL ? ed : "");
        x->bar = (int)json_integer_value(json_object_get(r, "bar"));
        static const char *const edits[] = {"nan", "text", "negative", "high_below_low",
                                            "duplicate", "out_of_order", "drop"};
        int known = 0;
        for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++)
            known |= strcmp(x->edit, edits[e]) == 0;
        int needs_prev = strcmp(x->edit, "duplicate") == 0 || strcmp(x->edit, "out_of_order") == 0;
        if (x->kind == F_BAD_BAR && (!known || x->bar < (needs_prev ? 1 : 0))) {
            json_decref(j);
            *status = 400;
            return error_json(0, "a bad_bar rule needs a known edit and a bar index (at least 1 "
                                 "for duplicate and out_of_order)");
        }
        const json_t *proc = json_object_get(r, "process");
        x->process = json_is_boolean(proc) ? json_is_true(proc)
                                           : (x->kind == F_SLOW || x->kind == F_MALFORMED ||
                                              x->kind == F_TRUNCATED || x->kind == F_WRONG_TYPES ||
                                              x->kind == F_DROP || x->kind == F_BAD_BAR);
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

/*
 * A bad_bar rule: the answer's bar `i` (of its first symbol) made bad the
 * way `edit` says, so a client's refusal of each kind can be tested. An
 * answer with fewer bars is left as it is.
 */
static void edit_bars(json_t *body, const char *edit, int i)
{
    json_t *bars = json_object_get(body, "bars");
    if (json_is_object(bars)) {
        void *it = json_object_iter(bars);
        bars = it != NULL ? json_object_iter_value(it) : NULL;
    }
    if (!json_is_array(bars) || i < 0 || (size_t)i >= json_array_size(bars))
        return;
    json_t *b = json_array_get(bars, (size_t)i);
    json_t *prev = i > 0 ? json_array_get(bars, (size_t)i - 1) : NULL;
    if (strcmp(edit, "nan") == 0) {
        json_object_set_new(b, "c", json_string("NaN"));
    } else if (strcmp(edit, "text") == 0) {
        json_object_set_new(b, "o", json_string("12.5x"));
    } else if (strcmp(edit, "negative") == 0) {
        json_object_set_new(b, "l", json_real(-json_number_value(json_object_get(b, "l"))));
    } else if (strcmp(edit, "high_below_low") == 0) {
        json_t *h = json_incref(json_object_get(b, "h"));
        json_object_set(b, "h", json_object_get(b, "l"));
        json_object_set_new(b, "l", h);
    } else if (strcmp(edit, "duplicate") == 0 && prev != NULL) {
        json_object_set(b, "t", json_object_get(prev, "t"));
    } else if (strcmp(edit, "out_of_order") == 0 && prev != NULL) {
        json_t *t = json_incref(json_object_get(b, "t"));
        json_object_set(b, "t", json_object_get(prev, "t"));
        json_object_set_new(prev, "t", t);
    } else if (strcmp(edit, "drop") == 0) {
        json_array_remove(bars, (size_t)i);
    }
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

/*
 * The order an account event acts on: the one the request names (by id in
 * the path or by client_order_id), else the newest working order (of the
 * rule's symbol when it names one). 0 with its id, or -1 when none.
 */
static int event_target(hydra_exchange *ex, struct MHD_Connection *c, const char *url,
                        const rule *f, char *id, size_t idsz)
{
    hydra_order o;
    hydra_broker_err e = {0};
    const char *t = tail_of(url, "/v2/orders/");
    if (t != NULL) {
        snprintf(id, idsz, "%s", t);
        return 0;
    }
    const char *cid = arg(c, "client_order_id");
    if (strcmp(url, "/v2/orders:by_client_order_id") == 0 && cid != NULL) {
        if (ex->broker.ops->order_by_client_id(ex->broker.ctx, cid, &o, &e) != 0)
            return -1;
        snprintf(id, idsz, "%s", o.id);
        return 0;
    }
    for (size_t k = hydra_sim_order_count(ex->sim); k-- > 0;) {
        hydra_sim_order_at(ex->sim, k, &o, NULL);
        int working = o.status == HYDRA_BOS_NEW || o.status == HYDRA_BOS_PARTIALLY_FILLED;
        if (working && (f->symbol[0] == '\0' || strcmp(f->symbol, o.symbol) == 0)) {
            snprintf(id, idsz, "%s", o.id);
            return 0;
        }
    }
    return -1;
}

/* Carries out an account event rule (called with the mutex held); a miss changes nothing. */
static void account_event(hydra_exchange *ex, struct MHD_Connection *c, const char *url,
                          const rule *f)
{
    hydra_broker_err e = {0};
    char id[64];
    hydra_order o;
    if (f->kind == F_POSITION) {
        hydra_sim_adjust_position(ex->sim, f->symbol, f->qty, f->price, &e);
        return;
    }
    if (f->kind == F_COIN_FEE) {
        hydra_sim_adjust_position(ex->sim, f->symbol, -f->qty, 0, &e);
        return;
    }
    if (event_target(ex, c, url, f, id, sizeof id) != 0)
        return;
    switch (f->kind) {
    case F_REPLACED: hydra_sim_replace(ex->sim, id, f->qty, &o, &e); break;
    case F_EXPIRE: hydra_sim_end_order(ex->sim, id, HYDRA_BOS_EXPIRED, &e); break;
    case F_CANCEL: hydra_sim_end_order(ex->sim, id, HYDRA_BOS_CANCELED, &e); break;
    case F_PARTIAL_CANCEL: hydra_sim_partial_cancel(ex->sim, id, f->fraction, &e); break;
    default: break;
    }
}

/*
 * POST /_hydra/replace {"client_order_id": id, "qty": q, "limit_price": p}:
 * the order is replaced as from Alpaca's dashboard; the replacement gets the
 * client_order_id "dashboard-<n>", which no client chose.
 */
static json_t *replace_order(hydra_exchange *ex, const char *body, size_t len, int *status)
{
    json_error_t jerr;
    json_t *j = json_loadb(body != NULL ? body : "", len, 0, &jerr);
    const char *cid = json_string_value(json_object_get(j, "client_order_id"));
    double qty = json_number_value(json_object_get(j, "qty"));
    double limit = json_number_value(json_object_get(j, "limit_price"));
    static int n;
    char new_cid[HYDRA_BROKER_CID_LEN]; /* the size the exchange copies it into */
    snprintf(new_cid, sizeof new_cid, "dashboard-%d", ++n);
    hydra_order o;
    hydra_broker_err e = {0};
    if (cid == NULL || !(qty > 0) ||
        hydra_sim_replace_by_cid(ex->sim, cid, qty, limit, new_cid, &o, &e) != 0) {
        json_decref(j);
        *status = 400;
        return error_json(0, e.msg[0] ? e.msg : "expected {\"client_order_id\", \"qty\"}");
    }
    json_decref(j);
    *status = 200;
    return order_json_of(ex, &o);
}

/* ---- answer overrides ---- */

static void apply_override(const hydra_exchange *ex, hydra_order *o)
{
    for (size_t i = 0; i < ex->n_overrides; i++) {
        const answer_override *v = &ex->overrides[i];
        if (strcmp(v->cid, o->client_order_id) != 0)
            continue;
        if (!(o->filled_avg_price > 0))
            o->filled_avg_price = o->limit_price > 0 ? o->limit_price : 1;
        o->filled_qty = v->filled_qty;
        o->status = HYDRA_BOS_FILLED;
        if (o->filled_ms <= 0)
            o->filled_ms = o->submitted_ms;
    }
}

/* POST /_hydra/override {"client_order_id": cid, "filled_qty": x}: answers about cid say so. */
static json_t *set_override(hydra_exchange *ex, const char *body, size_t len, int *status)
{
    json_error_t jerr;
    json_t *j = json_loadb(body != NULL ? body : "", len, 0, &jerr);
    const char *cid = json_string_value(json_object_get(j, "client_order_id"));
    const json_t *q = json_object_get(j, "filled_qty");
    if (ex->overrides == NULL)
        ex->overrides = calloc(MAX_OVERRIDES, sizeof *ex->overrides);
    if (cid == NULL || strlen(cid) >= HYDRA_BROKER_CID_LEN || !json_is_number(q) ||
        ex->overrides == NULL || ex->n_overrides >= MAX_OVERRIDES) {
        json_decref(j);
        *status = 400;
        return error_json(0, "expected {\"client_order_id\": id, \"filled_qty\": number}");
    }
    answer_override *v = &ex->overrides[ex->n_overrides++];
    snprintf(v->cid, sizeof v->cid, "%s", cid);
    v->filled_qty = json_number_value(q);
    json_decref(j);
    *status = 200;
    return json_pack("{s:i}", "overrides", (int)ex->n_overrides);
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
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
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
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:o}", "requests", (json_int_t)ex->requests,
                     "bar_requests", (json_int_t)ex->bar_requests,
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
    } else if (strcmp(url, "/_hydra/market") == 0 && strcmp(method, "POST") == 0) {
        out = set_market(ex, rc->body, rc->len, &status);
    } else if (strcmp(url, "/_hydra/market") == 0 && strcmp(method, "DELETE") == 0) {
        ex->closed_date = ex->early_date = 0;
        out = json_pack("{s:i}", "closed_date", 0);
    } else if (strcmp(url, "/_hydra/stats") == 0 && strcmp(method, "GET") == 0) {
        out = stats_json(ex);
    } else if (strcmp(url, "/_hydra/replace") == 0 && strcmp(method, "POST") == 0) {
        out = replace_order(ex, rc->body, rc->len, &status);
    } else if (strcmp(url, "/_hydra/override") == 0 && strcmp(method, "POST") == 0) {
        out = set_override(ex, rc->body, rc->len, &status);
    } else if (strcmp(url, "/_hydra/asset") == 0 && strcmp(method, "POST") == 0) {
        out = set_asset(ex, rc->body, rc->len, &status);
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
    if (strstr(url, "/bars") != NULL)
        ex->bar_requests++;
    int ok_rate = within_rate(ex);
    pthread_mutex_unlock(&ex->mu);
    /* Alpaca's crypto market data needs no keys; everything else does. */
    if (strncmp(url, "/v1beta3/crypto/", 16) != 0 && !authorised(ex, c))
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
    if (f.kind >= F_REPLACED) {
        account_event(ex, c, url, &f);
        f.kind = F_NONE;
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
    case F_BAD_BAR:
        edit_bars(a.body, f.edit, f.bar);
        break;
    default:
        break;
    }
    if (a.status == 204) {
        json_decref(a.body);
        return send_text(ex, c, 204, "", 1, 0);
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
    free(ex->overrides);
    json_decref(ex->asset_notes);
    free(ex->cids);
    free(ex);
}
