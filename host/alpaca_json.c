#include "alpaca_json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "error.h"

static int malformed(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int malformed(char *why, size_t whysz, const char *fmt, ...)
{
    if (why != NULL && whysz > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whysz, fmt, ap);
        va_end(ap);
    }
    return HYDRA_EMALFORMED;
}

int hydra_alpaca_json_load(const char *body, size_t len, json_t **out, char *why, size_t whysz)
{
    json_error_t jerr;
    *out = json_loadb(body != NULL ? body : "", body != NULL ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL) {
        if (why != NULL && whysz > 0)
            snprintf(why, whysz, "answer is not JSON: %s at line %d column %d", jerr.text,
                     jerr.line, jerr.column);
        return HYDRA_EMALFORMED;
    }
    return 0;
}

/* A decimal as Alpaca writes it: optional sign, digits, optional fraction and exponent. */
static int parse_decimal_text(const char *s, double *out)
{
    size_t i = 0, digits = 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    for (; isdigit((unsigned char)s[i]); i++)
        digits++;
    if (s[i] == '.')
        for (i++; isdigit((unsigned char)s[i]); i++)
            digits++;
    if (digits == 0)
        return -1;
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '-' || s[i] == '+')
            i++;
        if (!isdigit((unsigned char)s[i]))
            return -1;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    if (s[i] != '\0')
        return -1;
    errno = 0;
    double v = strtod(s, NULL);
    if (errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int hydra_alpaca_decimal(const json_t *obj, const char *key, double *out, char *why, size_t whysz)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (v == NULL || json_is_null(v))
        return HYDRA_ENOTFOUND;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (!isfinite(d))
            return malformed(why, whysz, "field %s is not a finite number", key);
        *out = d;
        return 0;
    }
    if (json_is_string(v)) {
        if (parse_decimal_text(json_string_value(v), out) != 0)
            return malformed(why, whysz, "field %s is not a decimal: \"%.40s\"", key,
                             json_string_value(v));
        return 0;
    }
    return malformed(why, whysz, "field %s has the wrong type (expected a decimal)", key);
}

/* A decimal the host decides on: absent is as bad as garbage. */
static int need_decimal(const json_t *obj, const char *key, double *out, char *why, size_t whysz)
{
    int rc = hydra_alpaca_decimal(obj, key, out, why, whysz);
    if (rc == HYDRA_ENOTFOUND)
        return malformed(why, whysz, "required field %s is missing or null", key);
    return rc;
}

/* A decimal shown to people only: NaN when absent, still malformed when garbage. */
static int opt_decimal(const json_t *obj, const char *key, double *out, char *why, size_t whysz)
{
    int rc = hydra_alpaca_decimal(obj, key, out, why, whysz);
    if (rc == HYDRA_ENOTFOUND) {
        *out = NAN;
        return 0;
    }
    return rc;
}

static int need_string(const json_t *obj, const char *key, const char **out, char *why,
                       size_t whysz)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return malformed(why, whysz, "required field %s is missing or null", key);
    if (!json_is_string(v))
        return malformed(why, whysz, "field %s has the wrong type (expected a string)", key);
    *out = json_string_value(v);
    return 0;
}

static const char *opt_string(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A copy that must fit: a truncated symbol or id would name something else. */
static int copy_field(char *dst, size_t dstsz, const char *src, const char *key, char *why,
                      size_t whysz)
{
    if (strlen(src) >= dstsz)
        return malformed(why, whysz, "field %s is too long: \"%.60s\"", key, src);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

/* A boolean field; absent or null reads as `dflt`, any other type is malformed. */
static int opt_bool(const json_t *obj, const char *key, int dflt, int *out, char *why, size_t whysz)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v))
        return malformed(why, whysz, "field %s has the wrong type (expected a boolean)", key);
    *out = json_is_true(v);
    return 0;
}

/* An RFC 3339 time: 0 when absent or null (and not required), malformed when unparsable. */
static int time_field(const json_t *obj, const char *key, int required, int64_t *out, char *why,
                      size_t whysz)
{
    const json_t *v = json_object_get(obj, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return required ? malformed(why, whysz, "required time %s is missing or null", key)
                        : 0;
    if (!json_is_string(v) || hydra_parse_rfc3339(json_string_value(v), out) != 0)
        return malformed(why, whysz, "field %s is not an RFC 3339 time", key);
    return 0;
}

int hydra_alpaca_parse_error(const char *body, size_t len, hydra_alpaca_error *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = NULL;
    if (hydra_alpaca_json_load(body, len, &j, NULL, 0) != 0)
        return HYDRA_EMALFORMED;
    int rc = HYDRA_EMALFORMED;
    if (json_is_object(j)) {
        const json_t *code = json_object_get(j, "code");
        if (json_is_integer(code))
            out->code = (long)json_integer_value(code);
        const char *msg = opt_string(j, "message");
        if (msg != NULL) {
            /* Keep the message printable: it goes into logs verbatim. */
            size_t k = 0;
            for (size_t i = 0; msg[i] != '\0' && k + 1 < sizeof out->message; i++)
                out->message[k++] = isprint((unsigned char)msg[i]) ? msg[i] : '?';
            out->message[k] = '\0';
        }
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/* Crypto quote currencies Alpaca lists pairs against, longest first. */
static const char *const QUOTE_CCY[] = {"USDT", "USDC", "USD", "BTC", "ETH", NULL};

void hydra_alpaca_normalise_symbol(const char *symbol, int is_crypto, char *out, size_t outsz)
{
    size_t len = strlen(symbol);
    if (is_crypto && strchr(symbol, '/') == NULL) {
        for (int i = 0; QUOTE_CCY[i] != NULL; i++) {
            size_t q = strlen(QUOTE_CCY[i]);
            if (len > q && strcmp(symbol + len - q, QUOTE_CCY[i]) == 0) {
                snprintf(out, outsz, "%.*s/%s", (int)(len - q), symbol, QUOTE_CCY[i]);
                return;
            }
        }
    }
    snprintf(out, outsz, "%s", symbol);
}

static unsigned asset_class_of(const json_t *j, const char *symbol)
{
    const char *ac = opt_string(j, "asset_class");
    if (ac != NULL) {
        if (strcmp(ac, "crypto") == 0)
            return HYDRA_ASSET_CRYPTO;
        if (strcmp(ac, "us_option") == 0)
            return HYDRA_ASSET_OPTION;
        if (strcmp(ac, "us_equity") == 0)
            return HYDRA_ASSET_EQUITY;
    }
    return hydra_symbol_asset_class(symbol);
}

/*
 * Prices from Alpaca are rounded to 8 decimals: Alpaca's average fill prices
 * carry up to 7 ("105.8988475") and sub-cent coins quote to 1e-8, so nothing
 * real is lost, while the noise of binary floating point
 * ("192.43000000099997") goes before it reaches the journal and PnL.
 */
static double price8(double v)
{
    return isfinite(v) && fabs(v) < 1e9 ? round(v * 1e8) / 1e8 : v;
}

int hydra_alpaca_parse_account(const json_t *j, hydra_account *out, char *why, size_t whysz)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(j))
        return malformed(why, whysz, "account answer is not an object");
    const char *id, *status;
    int rc, tb = 0, ab = 0, ts = 0;
    if ((rc = need_string(j, "id", &id, why, whysz)) != 0 ||
        (rc = need_string(j, "status", &status, why, whysz)) != 0 ||
        (rc = need_decimal(j, "cash", &out->cash, why, whysz)) != 0 ||
        (rc = need_decimal(j, "equity", &out->equity, why, whysz)) != 0 ||
        (rc = need_decimal(j, "buying_power", &out->buying_power, why, whysz)) != 0 ||
        (rc = opt_decimal(j, "last_equity", &out->last_equity, why, whysz)) != 0 ||
        (rc = opt_bool(j, "trading_blocked", 0, &tb, why, whysz)) != 0 ||
        (rc = opt_bool(j, "account_blocked", 0, &ab, why, whysz)) != 0 ||
        (rc = opt_bool(j, "trade_suspended_by_user", 0, &ts, why, whysz)) != 0)
        return rc;
    snprintf(out->account_id, sizeof out->account_id, "%s", id);
    out->active = strcmp(status, "ACTIVE") == 0;
    out->trading_blocked = tb || ab || ts;
    return 0;
}

int hydra_alpaca_parse_position(const json_t *j, hydra_broker_position *out, char *why,
                                size_t whysz)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(j))
        return malformed(why, whysz, "position is not an object");
    const char *symbol;
    int rc;
    if ((rc = need_string(j, "symbol", &symbol, why, whysz)) != 0)
        return rc;
    unsigned ac = asset_class_of(j, symbol);
    char norm[64];
    hydra_alpaca_normalise_symbol(symbol, ac == HYDRA_ASSET_CRYPTO, norm, sizeof norm);
    if ((rc = copy_field(out->symbol, sizeof out->symbol, norm, "symbol", why, whysz)) != 0)
        return rc;
    out->asset_class = ac;
    if ((rc = need_decimal(j, "qty", &out->qty, why, whysz)) != 0 ||
        (rc = need_decimal(j, "avg_entry_price", &out->avg_entry_price, why, whysz)) != 0 ||
        (rc = opt_decimal(j, "current_price", &out->current_price, why, whysz)) != 0 ||
        (rc = opt_decimal(j, "market_value", &out->market_value, why, whysz)) != 0 ||
        (rc = opt_decimal(j, "unrealized_pl", &out->unrealized_pl, why, whysz)) != 0)
        return rc;
    /* A short position may be reported with a positive qty and side "short". */
    const char *side = opt_string(j, "side");
    if (side != NULL && strcmp(side, "short") == 0 && out->qty > 0)
        out->qty = -out->qty;
    return 0;
}

int hydra_alpaca_parse_positions(const json_t *j, hydra_broker_position *out, size_t cap,
                                 size_t *n, char *why, size_t whysz)
{
    *n = 0;
    if (!json_is_array(j))
        return malformed(why, whysz, "positions answer is not an array");
    if (json_array_size(j) > cap)
        return HYDRA_EFULL;
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v)
    {
        int rc = hydra_alpaca_parse_position(v, &out[i], why, whysz);
        if (rc != 0)
            return rc;
    }
    *n = json_array_size(j);
    return 0;
}

static int status_of(const char *s)
{
    static const struct {
        const char *name;
        int status;
    } map[] = {
        {"partially_filled", HYDRA_BOS_PARTIALLY_FILLED},
        {"filled", HYDRA_BOS_FILLED},
        {"canceled", HYDRA_BOS_CANCELED},
        {"expired", HYDRA_BOS_EXPIRED},
        {"rejected", HYDRA_BOS_REJECTED},
        {"replaced", HYDRA_BOS_REPLACED},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i].name) == 0)
            return map[i].status;
    /*
     * new, accepted, pending_new, held, done_for_day, pending_cancel, ... and
     * any status Alpaca adds later: still working. Reading an unknown status
     * as final could hide an order that can still fill.
     */
    return HYDRA_BOS_NEW;
}

int hydra_alpaca_parse_order(const json_t *j, hydra_order *out, char *why, size_t whysz)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(j))
        return malformed(why, whysz, "order is not an object");
    const char *id, *cid, *symbol, *side, *status;
    int rc;
    if ((rc = need_string(j, "id", &id, why, whysz)) != 0 ||
        (rc = need_string(j, "client_order_id", &cid, why, whysz)) != 0 ||
        (rc = need_string(j, "symbol", &symbol, why, whysz)) != 0 ||
        (rc = need_string(j, "side", &side, why, whysz)) != 0 ||
        (rc = need_string(j, "status", &status, why, whysz)) != 0)
        return rc;
    if ((rc = copy_field(out->id, sizeof out->id, id, "id", why, whysz)) != 0 ||
        (rc = copy_field(out->client_order_id, sizeof out->client_order_id, cid,
                         "client_order_id", why, whysz)) != 0)
        return rc;
    out->asset_class = asset_class_of(j, symbol);
    char norm[64];
    hydra_alpaca_normalise_symbol(symbol, out->asset_class == HYDRA_ASSET_CRYPTO, norm, sizeof norm);
    if ((rc = copy_field(out->symbol, sizeof out->symbol, norm, "symbol", why, whysz)) != 0)
        return rc;
    if (strcmp(side, "buy") == 0)
        out->side = HYDRA_SIDE_BUY;
    else if (strcmp(side, "sell") == 0)
        out->side = HYDRA_SIDE_SELL;
    else
        return malformed(why, whysz, "order side is \"%.20s\"", side);
    const char *type = opt_string(j, "type");
    if (type == NULL)
        type = opt_string(j, "order_type");
    out->type = type == NULL ? 0
                : strcmp(type, "market") == 0 ? HYDRA_ORDER_MARKET
                : strcmp(type, "limit") == 0  ? HYDRA_ORDER_LIMIT
                                              : 0;
    const char *tif = opt_string(j, "time_in_force");
    out->tif = tif == NULL ? 0
               : strcmp(tif, "day") == 0 ? HYDRA_TIF_DAY
               : strcmp(tif, "gtc") == 0 ? HYDRA_TIF_GTC
               : strcmp(tif, "ioc") == 0 ? HYDRA_TIF_IOC
                                         : 0;
    out->status = status_of(status);

    /* Exactly the quantities the order was placed with: qty or notional. */
    int rq = hydra_alpaca_decimal(j, "qty", &out->qty, why, whysz);
    int rn = hydra_alpaca_decimal(j, "notional", &out->notional, why, whysz);
    if (rq == HYDRA_EMALFORMED || rn == HYDRA_EMALFORMED)
        return HYDRA_EMALFORMED;
    if (rq == HYDRA_ENOTFOUND && rn == HYDRA_ENOTFOUND)
        return malformed(why, whysz, "order %.60s has neither qty nor notional", cid);
    if (rq == HYDRA_ENOTFOUND)
        out->qty = 0;
    if (rn == HYDRA_ENOTFOUND)
        out->notional = 0;
    if ((rc = need_decimal(j, "filled_qty", &out->filled_qty, why, whysz)) != 0)
        return rc;
    rc = hydra_alpaca_decimal(j, "filled_avg_price", &out->filled_avg_price, why, whysz);
    if (rc == HYDRA_EMALFORMED)
        return rc;
    if (rc == HYDRA_ENOTFOUND) {
        /* No price is only acceptable while nothing has filled. */
        if (out->filled_qty != 0)
            return malformed(why, whysz,
                             "order %.60s has filled_qty but no filled_avg_price", cid);
        out->filled_avg_price = 0;
    }
    out->filled_avg_price = price8(out->filled_avg_price);
    const char *rb = opt_string(j, "replaced_by");
    if (rb != NULL && (rc = copy_field(out->replaced_by, sizeof out->replaced_by, rb, "replaced_by",
                                       why, whysz)) != 0)
        return rc;
    rc = hydra_alpaca_decimal(j, "limit_price", &out->limit_price, why, whysz);
    if (rc == HYDRA_EMALFORMED)
        return rc;
    if (rc == HYDRA_ENOTFOUND)
        out->limit_price = 0;
    if (out->type == HYDRA_ORDER_LIMIT && !(out->limit_price > 0))
        return malformed(why, whysz, "limit order %.60s has no limit_price", cid);
    rc = hydra_alpaca_decimal(j, "commission", &out->fee, why, whysz);
    if (rc == HYDRA_EMALFORMED)
        return rc;
    if (rc == HYDRA_ENOTFOUND)
        out->fee = 0;
    if ((rc = time_field(j, "submitted_at", 0, &out->submitted_ms, why, whysz)) != 0 ||
        (rc = time_field(j, "filled_at", 0, &out->filled_ms, why, whysz)) != 0)
        return rc;
    if (out->submitted_ms == 0 &&
        (rc = time_field(j, "created_at", 0, &out->submitted_ms, why, whysz)) != 0)
        return rc;
    return 0;
}

int hydra_alpaca_parse_orders(const json_t *j, hydra_order *out, size_t cap, size_t *n, char *why,
                              size_t whysz)
{
    *n = 0;
    if (!json_is_array(j))
        return malformed(why, whysz, "orders answer is not an array");
    if (json_array_size(j) > cap)
        return HYDRA_EFULL;
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v)
    {
        int rc = hydra_alpaca_parse_order(v, &out[i], why, whysz);
        if (rc != 0)
            return rc;
    }
    *n = json_array_size(j);
    return 0;
}

int hydra_alpaca_parse_multi_status(const json_t *j, hydra_alpaca_multi *out, char *why,
                                    size_t whysz)
{
    memset(out, 0, sizeof *out);
    if (!json_is_array(j))
        return malformed(why, whysz, "multi-status answer is not an array");
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v)
    {
        if (!json_is_object(v))
            return malformed(why, whysz, "multi-status element is not an object");
        /* The status is an integer in practice; the old spec says string. */
        const json_t *st = json_object_get(v, "status");
        long status;
        if (json_is_integer(st))
            status = (long)json_integer_value(st);
        else if (json_is_string(st) && isdigit((unsigned char)json_string_value(st)[0]))
            status = strtol(json_string_value(st), NULL, 10);
        else
            return malformed(why, whysz, "multi-status element has no usable status");
        out->n++;
        if (status == 200) {
            out->n_ok++;
            continue;
        }
        if (status == 404)
            out->n_not_found++;
        else if (status >= 500)
            out->n_server++;
        else
            out->n_failed++;
        if (out->first_failure[0] == '\0') {
            const char *name = opt_string(v, "symbol");
            if (name == NULL)
                name = opt_string(v, "id");
            const json_t *body = json_object_get(v, "body");
            const char *msg = opt_string(body, "message");
            snprintf(out->first_failure, sizeof out->first_failure, "%.60s: %ld %.100s",
                     name != NULL ? name : "?", status, msg != NULL ? msg : "");
        }
    }
    return 0;
}

static int parse_trade(const json_t *t, const char *symbol, hydra_quote *q, char *why,
                       size_t whysz)
{
    snprintf(q->symbol, sizeof q->symbol, "%s", symbol);
    if (!json_is_object(t))
        return malformed(why, whysz, "latest trade of %.40s is not an object", symbol);
    int rc = hydra_alpaca_decimal(t, "p", &q->price, why, whysz);
    if (rc == HYDRA_ENOTFOUND)
        return malformed(why, whysz, "latest trade of %.40s has no price", symbol);
    if (rc != 0)
        return malformed(why, whysz, "latest trade of %.40s: price is not a finite number",
                         symbol);
    q->price = price8(q->price);
    if (time_field(t, "t", 1, &q->t_ms, why, whysz) != 0)
        return malformed(why, whysz, "latest trade of %.40s has no usable time t", symbol);
    return 0;
}

int hydra_alpaca_parse_latest_trades(const json_t *j, const char *const *symbols, size_t n,
                                     hydra_quote *out, char *why, size_t whysz)
{
    const json_t *trades = json_is_object(j) ? json_object_get(j, "trades") : NULL;
    if (!json_is_object(trades))
        return malformed(why, whysz, "latest trades answer has no \"trades\" object");
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        const json_t *t = json_object_get(trades, symbols[i]);
        /* Alpaca leaves out a symbol it has no trade for: that one stays unpriced (zeroes). */
        if (t == NULL || json_is_null(t))
            continue;
        int rc = parse_trade(t, symbols[i], &out[i], why, whysz);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int hydra_alpaca_parse_bars(const json_t *j, const char *symbol, hydra_bar *out, size_t cap,
                            size_t *n, char *why, size_t whysz)
{
    *n = 0;
    const json_t *bars = json_is_object(j) ? json_object_get(j, "bars") : NULL;
    if (bars == NULL)
        return malformed(why, whysz, "bars answer has no \"bars\"");
    if (json_is_null(bars))
        return 0; /* no bars in the range */
    if (json_is_object(bars)) {
        bars = json_object_get(bars, symbol);
        if (bars == NULL || json_is_null(bars))
            return 0;
    }
    if (!json_is_array(bars))
        return malformed(why, whysz, "bars of %.40s are not an array", symbol);
    if (json_array_size(bars) > cap)
        return HYDRA_EFULL;
    size_t i;
    json_t *b;
    json_array_foreach(bars, i, b)
    {
        hydra_bar *o = &out[i];
        if (!json_is_object(b))
            return malformed(why, whysz, "a bar of %.40s is not an object", symbol);
        int rc;
        if ((rc = time_field(b, "t", 1, &o->t_ms, why, whysz)) != 0 ||
            (rc = need_decimal(b, "o", &o->open, why, whysz)) != 0 ||
            (rc = need_decimal(b, "h", &o->high, why, whysz)) != 0 ||
            (rc = need_decimal(b, "l", &o->low, why, whysz)) != 0 ||
            (rc = need_decimal(b, "c", &o->close, why, whysz)) != 0 ||
            (rc = need_decimal(b, "v", &o->volume, why, whysz)) != 0)
            return rc;
    }
    *n = json_array_size(bars);
    return 0;
}

int hydra_alpaca_next_page_token(const json_t *j, char *out, size_t outsz, char *why, size_t whysz)
{
    out[0] = '\0';
    const json_t *t = json_is_object(j) ? json_object_get(j, "next_page_token") : NULL;
    if (t == NULL || json_is_null(t))
        return 0;
    if (!json_is_string(t))
        return malformed(why, whysz, "next_page_token has the wrong type");
    return copy_field(out, outsz, json_string_value(t), "next_page_token", why, whysz);
}

int hydra_alpaca_option_from_occ(const char *occ, hydra_option_quote *out)
{
    memset(out, 0, sizeof *out);
    char root[16];
    if (strlen(occ) >= sizeof out->symbol ||
        hydra_occ_parse(occ, root, sizeof root, &out->expiry_yyyymmdd, &out->is_call,
                        &out->strike) != 0)
        return HYDRA_EMALFORMED;
    snprintf(out->symbol, sizeof out->symbol, "%s", occ);
    snprintf(out->underlying, sizeof out->underlying, "%s", root);
    out->bid = out->ask = out->last = NAN;
    out->iv = out->delta = out->gamma = out->theta = out->vega = NAN;
    out->multiplier = 100;
    return 0;
}

/* "2026-01-16" -> 20260116. */
static int parse_date(const char *s, int *out)
{
    int y, m, d;
    char extra;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    *out = y * 10000 + m * 100 + d;
    return 0;
}

int hydra_alpaca_parse_option_contracts(const json_t *j, hydra_option_quote *out, size_t cap,
                                        size_t *n, char *why, size_t whysz)
{
    const json_t *list = json_is_object(j) ? json_object_get(j, "option_contracts") : NULL;
    if (!json_is_array(list))
        return malformed(why, whysz, "answer has no \"option_contracts\" array");
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        if (*n >= cap)
            return HYDRA_EFULL;
        const char *symbol, *type, *exp;
        double strike;
        int rc;
        if ((rc = need_string(c, "symbol", &symbol, why, whysz)) != 0 ||
            (rc = need_string(c, "type", &type, why, whysz)) != 0 ||
            (rc = need_string(c, "expiration_date", &exp, why, whysz)) != 0 ||
            (rc = need_decimal(c, "strike_price", &strike, why, whysz)) != 0)
            return rc;
        hydra_option_quote *q = &out[*n];
        if (hydra_alpaca_option_from_occ(symbol, q) != 0)
            return malformed(why, whysz, "contract symbol \"%.40s\" is not an OCC symbol",
                             symbol);
        if (strcmp(type, "call") != 0 && strcmp(type, "put") != 0)
            return malformed(why, whysz, "contract %.40s has type \"%.10s\"", symbol, type);
        int expiry;
        if (parse_date(exp, &expiry) != 0)
            return malformed(why, whysz, "contract %.40s has expiration_date \"%.20s\"", symbol,
                             exp);
        q->is_call = strcmp(type, "call") == 0;
        q->strike = strike;
        q->expiry_yyyymmdd = expiry;
        const char *und = opt_string(c, "underlying_symbol");
        if (und != NULL && strlen(und) < sizeof q->underlying)
            snprintf(q->underlying, sizeof q->underlying, "%s", und);
        double size;
        rc = hydra_alpaca_decimal(c, "size", &size, why, whysz);
        if (rc == HYDRA_EMALFORMED)
            return rc;
        /* The standard contract is 100 shares; Alpaca always sends size, older mocks do not. */
        if (rc == 0) {
            if (!(size >= 1 && size <= 1e6))
                return malformed(why, whysz, "contract %.40s has size %g, out of range", symbol, size);
            q->multiplier = (int)size;
        }
        (*n)++;
    }
    return 0;
}

/* A number inside a nested object: NaN when the object or the key is absent. */
static int nested(const json_t *obj, const char *key, double *out, char *why, size_t whysz)
{
    return opt_decimal(obj, key, out, why, whysz);
}

int hydra_alpaca_apply_option_snapshots(const json_t *j, hydra_option_quote *q, size_t n,
                                        size_t *matched, char *why, size_t whysz)
{
    *matched = 0;
    const json_t *snaps = json_is_object(j) ? json_object_get(j, "snapshots") : NULL;
    if (!json_is_object(snaps))
        return malformed(why, whysz, "answer has no \"snapshots\" object");
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_object_get(snaps, q[i].symbol);
        if (s == NULL)
            continue;
        if (!json_is_object(s))
            return malformed(why, whysz, "snapshot of %.40s is not an object", q[i].symbol);
        const json_t *quote = json_object_get(s, "latestQuote");
        const json_t *trade = json_object_get(s, "latestTrade");
        const json_t *greeks = json_object_get(s, "greeks");
        int rc;
        if ((rc = nested(quote, "bp", &q[i].bid, why, whysz)) != 0 ||
            (rc = nested(quote, "ap", &q[i].ask, why, whysz)) != 0 ||
            (rc = nested(trade, "p", &q[i].last, why, whysz)) != 0 ||
            (rc = nested(s, "impliedVolatility", &q[i].iv, why, whysz)) != 0 ||
            (rc = nested(greeks, "delta", &q[i].delta, why, whysz)) != 0 ||
            (rc = nested(greeks, "gamma", &q[i].gamma, why, whysz)) != 0 ||
            (rc = nested(greeks, "theta", &q[i].theta, why, whysz)) != 0 ||
            (rc = nested(greeks, "vega", &q[i].vega, why, whysz)) != 0)
            return rc;
        if (isfinite(q[i].delta) && (q[i].delta < -1.0 || q[i].delta > 1.0))
            return malformed(why, whysz, "snapshot of %.40s has delta %g, outside -1..1",
                             q[i].symbol, q[i].delta);
        (*matched)++;
    }
    return 0;
}

int hydra_alpaca_parse_option_prices(const json_t *j, const char *const *symbols, size_t n,
                                     hydra_quote *out, char *why, size_t whysz)
{
    const json_t *snaps = json_is_object(j) ? json_object_get(j, "snapshots") : NULL;
    if (!json_is_object(snaps))
        return malformed(why, whysz, "answer has no \"snapshots\" object");
    for (size_t i = 0; i < n; i++) {
        hydra_quote *q = &out[i];
        memset(q, 0, sizeof *q);
        snprintf(q->symbol, sizeof q->symbol, "%s", symbols[i]);
        const json_t *s = json_object_get(snaps, symbols[i]);
        if (!json_is_object(s))
            return malformed(why, whysz, "no snapshot for %.40s in the answer", symbols[i]);
        const json_t *quote = json_object_get(s, "latestQuote");
        const json_t *trade = json_object_get(s, "latestTrade");
        double bid, ask, last;
        int rc;
        if ((rc = opt_decimal(quote, "bp", &bid, why, whysz)) != 0 ||
            (rc = opt_decimal(quote, "ap", &ask, why, whysz)) != 0 ||
            (rc = opt_decimal(trade, "p", &last, why, whysz)) != 0)
            return rc;
        if (bid > 0 && ask > 0) {
            q->price = (bid + ask) / 2;
            rc = time_field(quote, "t", 1, &q->t_ms, why, whysz);
        } else if (last > 0) {
            q->price = last;
            rc = time_field(trade, "t", 1, &q->t_ms, why, whysz);
        } else {
            return malformed(why, whysz, "snapshot of %.40s has no usable price", symbols[i]);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int hydra_alpaca_parse_clock(const json_t *j, hydra_market_clock *out, char *why, size_t whysz)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(j))
        return malformed(why, whysz, "clock answer is not an object");
    const json_t *open = json_object_get(j, "is_open");
    if (!json_is_boolean(open))
        return malformed(why, whysz, "clock field is_open is missing or not a boolean");
    out->is_open = json_is_true(open);
    int rc;
    if ((rc = time_field(j, "timestamp", 1, &out->now_ms, why, whysz)) != 0 ||
        (rc = time_field(j, "next_open", 1, &out->next_open_ms, why, whysz)) != 0 ||
        (rc = time_field(j, "next_close", 1, &out->next_close_ms, why, whysz)) != 0)
        return rc;
    return 0;
}

int hydra_alpaca_parse_asset(const json_t *j, hydra_asset *out, char *why, size_t whysz)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(j))
        return malformed(why, whysz, "asset answer is not an object");
    const char *symbol, *cls, *status;
    int rc;
    if ((rc = need_string(j, "symbol", &symbol, why, whysz)) != 0 ||
        (rc = need_string(j, "class", &cls, why, whysz)) != 0 ||
        (rc = need_string(j, "status", &status, why, whysz)) != 0)
        return rc;
    if (strcmp(cls, "us_equity") == 0)
        out->asset_class = HYDRA_ASSET_EQUITY;
    else if (strcmp(cls, "crypto") == 0)
        out->asset_class = HYDRA_ASSET_CRYPTO;
    else
        return malformed(why, whysz, "asset class is \"%.20s\"", cls);
    if (strcmp(status, "active") == 0)
        out->active = 1;
    else if (strcmp(status, "inactive") != 0)
        return malformed(why, whysz, "asset status is \"%.20s\"", status);
    const json_t *tradable = json_object_get(j, "tradable");
    const json_t *fractionable = json_object_get(j, "fractionable");
    if (!json_is_boolean(tradable) || !json_is_boolean(fractionable))
        return malformed(why, whysz, "asset fields tradable and fractionable must be booleans");
    out->tradable = json_is_true(tradable);
    out->fractionable = json_is_true(fractionable);
    char norm[64];
    hydra_alpaca_normalise_symbol(symbol, out->asset_class == HYDRA_ASSET_CRYPTO, norm, sizeof norm);
    return copy_field(out->symbol, sizeof out->symbol, norm, "symbol", why, whysz);
}

/* The zone Alpaca's calendar writes its dates and times in. */
#define ALPACA_CALENDAR_ZONE "America/New_York"

/* Exactly "HH:MM" with 00..23 and 00..59. */
static int hhmm_field(const json_t *day, const char *key, int *minute, char *why, size_t whysz)
{
    const char *s = json_string_value(json_object_get(day, key));
    if (s == NULL || strlen(s) != 5 || hydra_parse_hhmm(s, minute) != 0)
        return malformed(why, whysz, "calendar field %s is missing or not HH:MM", key);
    return 0;
}

int hydra_alpaca_parse_calendar(const json_t *j, hydra_session *out, size_t cap, size_t *n,
                                char *why, size_t whysz)
{
    *n = 0;
    if (!json_is_array(j))
        return malformed(why, whysz, "calendar answer is not an array");
    if (json_array_size(j) > cap)
        return HYDRA_EFULL;
    for (size_t i = 0; i < json_array_size(j); i++) {
        const json_t *d = json_array_get(j, i);
        if (!json_is_object(d))
            return malformed(why, whysz, "calendar day %zu is not an object", i);
        const char *date = json_string_value(json_object_get(d, "date"));
        int y, m, dd, open, close;
        char tail;
        if (date == NULL || strlen(date) != 10 ||
            sscanf(date, "%4d-%2d-%2d%c", &y, &m, &dd, &tail) != 3 || m < 1 || m > 12 || dd < 1 ||
            dd > 31 || y < 1900 || y > 2200)
            return malformed(why, whysz, "calendar day %zu: date is missing or not YYYY-MM-DD", i);
        int rc;
        if ((rc = hhmm_field(d, "open", &open, why, whysz)) != 0 ||
            (rc = hhmm_field(d, "close", &close, why, whysz)) != 0)
            return rc;
        if (open >= close)
            return malformed(why, whysz, "calendar %s: open %02d:%02d is not before close %02d:%02d",
                             date, open / 60, open % 60, close / 60, close % 60);
        hydra_session *s = &out[i];
        s->date = y * 10000 + m * 100 + dd;
        if (i > 0 && s->date <= out[i - 1].date)
            return malformed(why, whysz, "calendar days out of order at %s", date);
        s->open_ms = hydra_utc_from_zone(ALPACA_CALENDAR_ZONE, y, m, dd, open / 60, open % 60, 0);
        s->close_ms = hydra_utc_from_zone(ALPACA_CALENDAR_ZONE, y, m, dd, close / 60, close % 60, 0);
    }
    *n = json_array_size(j);
    return 0;
}
