#define _GNU_SOURCE
#include "alpaca.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "alpaca_json.h"
#include "clock.h"
#include "error.h"

/* Contracts asked for per page, and symbols per snapshot request (Alpaca's documented limits allow more). */
#define CONTRACTS_PER_PAGE 1000
#define SNAPSHOT_BATCH 100
#define MAX_PAGES 64
#define MAX_OPEN_ORDERS_PAGE 500

/* One base URL and its reused handle; rate-limit state is per host. */
typedef struct conn {
    CURL *h;
    char base[HYDRA_PATH_LEN];
    int64_t blocked_until_ms; /* wall-clock ms: a 429 said wait until then */
} conn;

typedef struct alpaca {
    hydra_alpaca_cfg cfg;
    struct curl_slist *headers; /* the key headers; wiped before they are freed */
    conn trading, data;
    /* The answer being received. */
    char *buf;
    size_t len, cap;
    int too_big;
    long reset_s; /* X-Ratelimit-Reset of the last answer, 0 when absent */
    int64_t last_retry_at_ms; /* wall-clock ms the last 429 asked to wait for */
    /* The broker's time as of its last /v2/clock answer, to know "today" for option expiries. */
    int64_t broker_now_ms, broker_mono_ms;
} alpaca;

/* ---- the transport ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    alpaca *a = userdata;
    size_t n = size * nmemb;
    if (a->len + n + 1 > (size_t)a->cfg.max_response_bytes) {
        a->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 16384;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *p = realloc(a->buf, cap);
        if (p == NULL)
            return 0;
        a->buf = p;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, ptr, n);
    a->len += n;
    a->buf[a->len] = '\0';
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    alpaca *a = userdata;
    size_t n = size * nmemb;
    static const char name[] = "x-ratelimit-reset:";
    if (n > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
        char val[32];
        size_t k = 0;
        for (size_t i = sizeof name - 1; i < n && k + 1 < sizeof val; i++)
            if (isdigit((unsigned char)ptr[i]))
                val[k++] = ptr[i];
        val[k] = '\0';
        a->reset_s = k > 0 ? strtol(val, NULL, 10) : 0;
    }
    return n;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The body of the last answer, for messages: at most 120 printable characters. */
static void answer_message(const alpaca *a, char *out, size_t outsz)
{
    hydra_alpaca_error e;
    if (hydra_alpaca_parse_error(a->buf, a->len, &e) == 0 && e.message[0] != '\0')
        snprintf(out, outsz, "%s", e.message);
    else
        snprintf(out, outsz, "%s", a->len == 0 ? "(empty answer)" : "(answer not an error object)");
}

/*
 * Sends one request and receives the answer into a->buf. Returns 0 when an
 * HTTP answer arrived (any status, in *status), or HYDRA_ETRANSIENT /
 * HYDRA_EMALFORMED with *err filled. `what` names the call in messages;
 * `path` (which never carries a credential) is appended to the base URL.
 */
static int send_once(alpaca *a, conn *c, const char *method, const char *what, const char *path,
                     const char *body, long *status, hydra_broker_err *err)
{
    int64_t now = wall_ms();
    if (now < c->blocked_until_ms) {
        /* Held, not sent: the 429 that set the hold was the failure, this is not another one. */
        hydra_broker_fail(err, HYDRA_ETRANSIENT, 429,
                          "%s: rate limited by %s for another %lld ms (X-Ratelimit-Reset); "
                          "held, not sent",
                          what, c->base, (long long)(c->blocked_until_ms - now));
        err->held = 1;
        err->retry_at_ms = c->blocked_until_ms;
        return HYDRA_ETRANSIENT;
    }
    char url[HYDRA_PATH_LEN + 2048];
    if (snprintf(url, sizeof url, "%s%s", c->base, path) >= (int)sizeof url)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 0, "%s: request URL too long", what);
    a->len = 0;
    a->too_big = 0;
    a->reset_s = 0;
    if (a->buf != NULL)
        a->buf[0] = '\0';

    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    /*
     * curl silently sends a request again when a reused connection turns out
     * dead. For an order that would be a blind retry, so a POST always gets
     * a fresh connection, where curl never repeats it.
     */
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, strcmp(method, "POST") == 0 ? 1L : 0L);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") == 0 ? NULL : method);
    }
    CURLcode cc = curl_easy_perform(h);
    if (a->too_big)
        return hydra_broker_fail(err, HYDRA_EMALFORMED, 0,
                                 "%s: answer larger than alpaca.max_response_bytes (%ld)", what,
                                 a->cfg.max_response_bytes);
    if (cc == CURLE_FILESIZE_EXCEEDED)
        return hydra_broker_fail(err, HYDRA_EMALFORMED, 0,
                                 "%s: announced answer larger than alpaca.max_response_bytes (%ld)",
                                 what, a->cfg.max_response_bytes);
    if (cc != CURLE_OK) {
        /* curl's message names the host at most, never the headers. */
        return hydra_broker_fail(err, HYDRA_ETRANSIENT, 0, "%s: %s %s: %s", what, method, c->base,
                                 curl_easy_strerror(cc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (a->buf == NULL) {
        a->buf = malloc(1);
        if (a->buf == NULL)
            return hydra_broker_fail(err, HYDRA_ENOMEM, 0, "%s: out of memory", what);
        a->cap = 1;
        a->buf[0] = '\0';
    }
    return 0;
}

/* Remembers a 429's reset time; returns how long to wait for it (ms). */
static int64_t note_rate_limit(alpaca *a, conn *c)
{
    int64_t now = wall_ms();
    int64_t until = a->reset_s > 0 ? (int64_t)a->reset_s * 1000 : now + 1000;
    if (until < now)
        until = now;
    c->blocked_until_ms = until;
    a->last_retry_at_ms = until;
    return until - now;
}

/*
 * send_once plus the 429 rule: a reset within a short wait is waited for
 * and the request repeated once (never for an order submission).
 */
static int send_req(alpaca *a, conn *c, const char *method, const char *what, const char *path,
                    const char *body, int may_repeat, long *status, hydra_broker_err *err)
{
    int rc = send_once(a, c, method, what, path, body, status, err);
    if (rc != 0 || *status != 429)
        return rc;
    int64_t wait = note_rate_limit(a, c);
    int64_t max_wait = a->cfg.timeout_ms < 1000 ? a->cfg.timeout_ms : 1000;
    if (!may_repeat || wait > max_wait)
        return 0;
    sleep_ms(wait);
    c->blocked_until_ms = 0;
    rc = send_once(a, c, method, what, path, body, status, err);
    if (rc == 0 && *status == 429)
        note_rate_limit(a, c);
    return rc;
}

/* Maps a non-2xx status to a broker class, with the answer's message. */
static int status_error(alpaca *a, const char *what, long status, hydra_broker_err *err)
{
    char msg[200];
    answer_message(a, msg, sizeof msg);
    int code;
    if (status == 429 || status >= 500 || status < 200)
        code = HYDRA_ETRANSIENT;
    else if (status == 401)
        code = HYDRA_EAUTH;
    else if (status == 403) {
        hydra_alpaca_error e;
        code = hydra_alpaca_parse_error(a->buf, a->len, &e) == 0 && e.code == 40110000
                   ? HYDRA_EAUTH
                   : HYDRA_EREJECTED;
    } else if (status == 404)
        code = HYDRA_ENOTFOUND;
    else
        code = HYDRA_EREJECTED;
    hydra_broker_fail(err, code, (int)status, "%s: HTTP %ld: %s", what, status, msg);
    if (status == 429)
        err->retry_at_ms = a->last_retry_at_ms;
    return code;
}

/*
 * A GET (or DELETE) whose 2xx answer is JSON. On success *out holds the
 * parsed answer (caller json_decref()s) and *status the HTTP status. A 404
 * is HYDRA_ENOTFOUND only for a lookup; anywhere else the route itself is
 * missing, which is a refusal.
 */
static int call_json_ex(alpaca *a, conn *c, const char *method, const char *what, const char *path,
                        int lookup, json_t **out, long *status_out, hydra_broker_err *err)
{
    long status = 0;
    *out = NULL;
    int rc = send_req(a, c, method, what, path, NULL, 1, &status, err);
    if (rc != 0)
        return rc;
    if (status_out != NULL)
        *status_out = status;
    if (status < 200 || status > 299) {
        rc = status_error(a, what, status, err);
        if (rc == HYDRA_ENOTFOUND && !lookup)
            rc = err->code = HYDRA_EREJECTED;
        return rc;
    }
    char why[200];
    if (hydra_alpaca_json_load(a->buf, a->len, out, why, sizeof why) != 0)
        return hydra_broker_fail(err, HYDRA_EMALFORMED, (int)status, "%s: %s", what, why);
    return 0;
}

static int call_json(alpaca *a, conn *c, const char *method, const char *what, const char *path,
                     json_t **out, long *status_out, hydra_broker_err *err)
{
    return call_json_ex(a, c, method, what, path, 0, out, status_out, err);
}

static int malformed_answer(hydra_broker_err *err, const char *what, int rc, const char *why)
{
    if (rc == HYDRA_EFULL)
        return hydra_broker_fail(err, HYDRA_EFULL, 200, "%s: more items than the host can hold",
                                 what);
    return hydra_broker_fail(err, HYDRA_EMALFORMED, 200, "%s: %s", what, why);
}

/* Appends "&key=value" (value URL-encoded) to a path being built. */
static int add_param(CURL *h, char *path, size_t pathsz, const char *key, const char *value)
{
    char *esc = curl_easy_escape(h, value, 0);
    if (esc == NULL)
        return HYDRA_ENOMEM;
    size_t len = strlen(path);
    int n = snprintf(path + len, pathsz - len, "%s%s=%s", strchr(path, '?') ? "&" : "?", key, esc);
    curl_free(esc);
    return n > 0 && (size_t)n < pathsz - len ? 0 : HYDRA_EFULL;
}

/* "A,B,C" from a list of symbols (each URL-encoded by add_param later as one value). */
static int join_symbols(const char *const *symbols, size_t n, char *out, size_t outsz)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(out + len, outsz - len, "%s%s", i ? "," : "", symbols[i]);
        if (k < 0 || (size_t)k >= outsz - len)
            return HYDRA_EFULL;
        len += (size_t)k;
    }
    return 0;
}

/* The broker's time now: its last clock answer moved on by the monotonic clock, else the wall clock. */
static int64_t broker_now(const alpaca *a)
{
    if (a->broker_mono_ms == 0)
        return wall_ms();
    return a->broker_now_ms + (hydra_monotonic_ms() - a->broker_mono_ms);
}

/* ---- the calls ---- */

static int op_account(void *ctx, hydra_account *out, hydra_broker_err *err)
{
    alpaca *a = ctx;
    json_t *j;
    int rc = call_json(a, &a->trading, "GET", "account", "/v2/account", &j, NULL, err);
    if (rc != 0)
        return rc;
    char why[200];
    rc = hydra_alpaca_parse_account(j, out, why, sizeof why);
    json_decref(j);
    return rc != 0 ? malformed_answer(err, "account", rc, why) : 0;
}

static int op_positions(void *ctx, hydra_broker_position *out, size_t cap, size_t *n,
                        hydra_broker_err *err)
{
    alpaca *a = ctx;
    json_t *j;
    *n = 0;
    int rc = call_json(a, &a->trading, "GET", "positions", "/v2/positions", &j, NULL, err);
    if (rc != 0)
        return rc;
    char why[200];
    rc = hydra_alpaca_parse_positions(j, out, cap, n, why, sizeof why);
    json_decref(j);
    return rc != 0 ? malformed_answer(err, "positions", rc, why) : 0;
}

static int op_open_orders(void *ctx, hydra_order *out, size_t cap, size_t *n,
                          hydra_broker_err *err)
{
    alpaca *a = ctx;
    json_t *j;
    *n = 0;
    int rc = call_json(a, &a->trading, "GET", "open_orders",
                       "/v2/orders?status=open&limit=500&direction=asc&nested=false", &j, NULL,
                       err);
    if (rc != 0)
        return rc;
    char why[200];
    /* A full page may hide more orders: refuse rather than return part of the book. */
    if (json_is_array(j) && json_array_size(j) >= MAX_OPEN_ORDERS_PAGE) {
        json_decref(j);
        return hydra_broker_fail(err, HYDRA_EFULL, 200, "open_orders: %d or more open orders",
                                 MAX_OPEN_ORDERS_PAGE);
    }
    rc = hydra_alpaca_parse_orders(j, out, cap, n, why, sizeof why);
    json_decref(j);
    return rc != 0 ? malformed_answer(err, "open_orders", rc, why) : 0;
}

/*
 * GET of one order, parsed strictly. The caller checks the answer is the
 * order it asked about: an answer about another order is malformed.
 */
static int get_order(alpaca *a, const char *what, const char *path, hydra_order *out,
                     hydra_broker_err *err)
{
    json_t *j;
    int rc = call_json_ex(a, &a->trading, "GET", what, path, 1, &j, NULL, err);
    if (rc != 0)
        return rc;
    char why[200];
    rc = hydra_alpaca_parse_order(j, out, why, sizeof why);
    json_decref(j);
    return rc != 0 ? malformed_answer(err, what, rc, why) : 0;
}

static int op_order_by_client_id(void *ctx, const char *cid, hydra_order *out,
                                 hydra_broker_err *err)
{
    alpaca *a = ctx;
    char path[256] = "/v2/orders:by_client_order_id";
    if (add_param(a->trading.h, path, sizeof path, "client_order_id", cid) != 0)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 0, "order_by_client_id: id too long");
    int rc = get_order(a, "order_by_client_id", path, out, err);
    if (rc == 0 && strcmp(out->client_order_id, cid) != 0)
        return hydra_broker_fail(err, HYDRA_EMALFORMED, 200,
                                 "order_by_client_id %s: answer is order %s", cid,
                                 out->client_order_id);
    return rc;
}

static int op_order_by_id(void *ctx, const char *id, hydra_order *out, hydra_broker_err *err)
{
    alpaca *a = ctx;
    char path[256];
    /* Alpaca's order ids are UUIDs; anything else is not sent into a URL. */
    for (const char *c = id; *c != '\0'; c++)
        if (!(isalnum((unsigned char)*c) || *c == '-'))
            return hydra_broker_fail(err, HYDRA_EMALFORMED, 0, "order_by_id: id is not a UUID");
    if (id[0] == '\0' || snprintf(path, sizeof path, "/v2/orders/%s", id) >= (int)sizeof path)
        return hydra_broker_fail(err, HYDRA_EMALFORMED, 0, "order_by_id: bad id");
    int rc = get_order(a, "order_by_id", path, out, err);
    if (rc == 0 && strcmp(out->id, id) != 0)
        return hydra_broker_fail(err, HYDRA_EMALFORMED, 200, "order_by_id %s: answer is order %s",
                                 id, out->id);
    return rc;
}

static int op_asset(void *ctx, const char *symbol, hydra_asset *out, hydra_broker_err *err)
{
    alpaca *a = ctx;
    char name[48], path[128];
    size_t k = 0;
    for (const char *c = symbol; *c != '\0'; c++) {
        if (*c == '/')
            continue;
        if (!(isalnum((unsigned char)*c) || *c == '.') || k + 1 >= sizeof name)
            return hydra_broker_fail(err, HYDRA_EMALFORMED, 0, "asset: symbol is not a ticker");
        name[k++] = *c;
    }
    name[k] = '\0';
    if (k == 0)
        return hydra_broker_fail(err, HYDRA_EMALFORMED, 0, "asset: empty symbol");
    snprintf(path, sizeof path, "/v2/assets/%s", name);
    json_t *j;
    int rc = call_json_ex(a, &a->trading, "GET", "asset", path, 1, &j, NULL, err);
    if (rc != 0)
        return rc;
    char why[200];
    rc = hydra_alpaca_parse_asset(j, out, why, sizeof why);
    json_decref(j);
    if (rc != 0)
        return malformed_answer(err, "asset", rc, why);
    char want[64];
    hydra_alpaca_normalise_symbol(symbol, hydra_symbol_asset_class(symbol) == HYDRA_ASSET_CRYPTO,
                                  want, sizeof want);
    if (strcmp(out->symbol, want) != 0)
        return hydra_broker_fail(err, HYDRA_EMALFORMED, 200, "asset %s: answer is about %s", want,
                                 out->symbol);
    return 0;
}

/* A decimal for a request body: up to 9 decimals, no trailing zeros. */
static void fmt_decimal(double v, char *out, size_t outsz)
{
    snprintf(out, outsz, "%.9f", v);
    char *dot = strchr(out, '.');
    if (dot != NULL) {
        char *end = out + strlen(out) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
}

static int build_order_body(const hydra_order_request *req, char **body, hydra_broker_err *err)
{
    const char *side = req->side == HYDRA_SIDE_BUY ? "buy" : req->side == HYDRA_SIDE_SELL ? "sell" : NULL;
    const char *type = req->type == HYDRA_ORDER_MARKET  ? "market"
                       : req->type == HYDRA_ORDER_LIMIT ? "limit"
                                                        : NULL;
    const char *tif = req->tif == HYDRA_TIF_DAY   ? "day"
                      : req->tif == HYDRA_TIF_GTC ? "gtc"
                      : req->tif == HYDRA_TIF_IOC ? "ioc"
                                                  : NULL;
    if (side == NULL || type == NULL || tif == NULL)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 0,
                                 "submit %s: side, type or time in force not supported",
                                 req->client_order_id);
    double qty = req->qty, notional = req->notional;
    if (!isfinite(qty) || !isfinite(notional) || (qty > 0) == (notional > 0))
        return hydra_broker_fail(err, HYDRA_EREJECTED, 0,
                                 "submit %s: exactly one of qty and notional must be positive",
                                 req->client_order_id);
    if (req->type == HYDRA_ORDER_LIMIT && !(isfinite(req->limit_price) && req->limit_price > 0))
        return hydra_broker_fail(err, HYDRA_EREJECTED, 0, "submit %s: limit order without a price",
                                 req->client_order_id);
    if (notional > 0 && req->type == HYDRA_ORDER_LIMIT) {
        /* Alpaca takes notional on market orders only: size the limit order in units instead. */
        if (req->asset_class == HYDRA_ASSET_CRYPTO)
            qty = floor(notional / req->limit_price * 1e9) / 1e9;
        else
            qty = floor(notional / req->limit_price);
        notional = 0;
        if (!(qty > 0))
            return hydra_broker_fail(err, HYDRA_EREJECTED, 0,
                                     "submit %s: notional %.2f buys less than one unit at limit %.4f",
                                     req->client_order_id, req->notional, req->limit_price);
    }
    char qbuf[64], nbuf[64], lbuf[64];
    fmt_decimal(qty, qbuf, sizeof qbuf);
    fmt_decimal(notional, nbuf, sizeof nbuf);
    fmt_decimal(req->limit_price, lbuf, sizeof lbuf);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "symbol", req->symbol, "side", side, "type",
                          type, "time_in_force", tif, "client_order_id", req->client_order_id);
    if (o == NULL)
        return hydra_broker_fail(err, HYDRA_ENOMEM, 0, "submit: out of memory");
    json_object_set_new(o, qty > 0 ? "qty" : "notional", json_string(qty > 0 ? qbuf : nbuf));
    if (req->type == HYDRA_ORDER_LIMIT)
        json_object_set_new(o, "limit_price", json_string(lbuf));
    *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (*body == NULL)
        return hydra_broker_fail(err, HYDRA_ENOMEM, 0, "submit: out of memory");
    return 0;
}

/*
 * The submission's outcome is unknown (or disputed): ask by client_order_id.
 * Found: adopt it (0). Not found: the order was not placed; `first` says why.
 */
static int resolve_by_client_id(alpaca *a, const hydra_order_request *req, hydra_order *out,
                                const hydra_broker_err *first, hydra_broker_err *err)
{
    hydra_broker_err look = {0};
    int rc = op_order_by_client_id(a, req->client_order_id, out, &look);
    if (rc == 0) {
        /* Adopted: success, with the failure it recovered from left in *err for the record. */
        hydra_broker_fail(err, first->code, first->http_status,
                          "%.180s; order %s found by client_order_id and adopted", first->msg,
                          req->client_order_id);
        return 0;
    }
    if (rc == HYDRA_ENOTFOUND)
        return hydra_broker_fail(err, first->code == HYDRA_EREJECTED ? HYDRA_EREJECTED
                                                                     : HYDRA_ETRANSIENT,
                                 first->http_status, "%.150s; no order %s at the broker: not placed",
                                 first->msg, req->client_order_id);
    return hydra_broker_fail(err, HYDRA_ETRANSIENT, first->http_status,
                             "%.120s; outcome unknown, lookup failed: %.100s", first->msg, look.msg);
}

static int op_submit(void *ctx, const hydra_order_request *req, hydra_order *out,
                     hydra_broker_err *err)
{
    alpaca *a = ctx;
    char *body = NULL;
    memset(out, 0, sizeof *out);
    int rc = build_order_body(req, &body, err);
    if (rc != 0)
        return rc;
    long status = 0;
    hydra_broker_err first = {0};
    char what[160];
    snprintf(what, sizeof what, "submit %s", req->client_order_id);
    rc = send_req(a, &a->trading, "POST", what, "/v2/orders", body, 0, &status, &first);
    free(body);
    if (rc == HYDRA_ETRANSIENT && first.held) {
        /* Held by a rate limit: certainly not sent, so there is nothing to look up. */
        *err = first;
        return rc;
    }
    if (rc == HYDRA_ETRANSIENT)
        return resolve_by_client_id(a, req, out, &first, err);
    if (rc != 0) {
        *err = first;
        return rc;
    }
    if (status == 200 || status == 201) {
        json_t *j = NULL;
        char why[200];
        rc = hydra_alpaca_json_load(a->buf, a->len, &j, why, sizeof why);
        if (rc == 0)
            rc = hydra_alpaca_parse_order(j, out, why, sizeof why);
        json_decref(j);
        if (rc == 0 && strcmp(out->client_order_id, req->client_order_id) == 0)
            return 0;
        if (rc == 0)
            snprintf(why, sizeof why, "answer is order %s", out->client_order_id);
        /* Accepted, but the answer is unusable: the broker's own record decides. */
        hydra_broker_fail(&first, HYDRA_EMALFORMED, (int)status, "%s: %s", what, why);
        rc = resolve_by_client_id(a, req, out, &first, err);
        if (rc == HYDRA_EREJECTED)
            err->code = rc = HYDRA_EMALFORMED;
        return rc;
    }
    status_error(a, what, status, &first);
    if (first.code == HYDRA_ETRANSIENT)
        return resolve_by_client_id(a, req, out, &first, err);
    if (status == 422 && strcasestr(first.msg, "client_order_id must be unique") != NULL) {
        /* The id is taken: an earlier attempt landed. That order is the answer. */
        rc = resolve_by_client_id(a, req, out, &first, err);
        return rc;
    }
    *err = first;
    return first.code == HYDRA_ENOTFOUND ? (err->code = HYDRA_EREJECTED) : first.code;
}

/* cancel all and close all: 207 with one element per order or position. */
static int multi_status(alpaca *a, const char *what, const char *path, int not_found_ok,
                        hydra_broker_err *err)
{
    json_t *j;
    long status = 0;
    int rc = call_json(a, &a->trading, "DELETE", what, path, &j, &status, err);
    if (rc != 0)
        return rc;
    hydra_alpaca_multi m;
    char why[200];
    rc = hydra_alpaca_parse_multi_status(j, &m, why, sizeof why);
    json_decref(j);
    if (rc != 0)
        return malformed_answer(err, what, rc, why);
    size_t failed = m.n_failed + (not_found_ok ? 0 : m.n_not_found);
    if (m.n_server > 0)
        return hydra_broker_fail(err, HYDRA_ETRANSIENT, (int)status,
                                 "%s: %zu of %zu failed on the server, first %s", what,
                                 m.n_server + failed, m.n, m.first_failure);
    if (failed > 0)
        return hydra_broker_fail(err, HYDRA_EREJECTED, (int)status, "%s: %zu of %zu refused, first %s",
                                 what, failed, m.n, m.first_failure);
    return 0;
}

static int op_cancel_all(void *ctx, hydra_broker_err *err)
{
    /* An order that is gone (404) needs no cancel. */
    return multi_status(ctx, "cancel_all", "/v2/orders", 1, err);
}

static int op_close_all(void *ctx, hydra_broker_err *err)
{
    return multi_status(ctx, "close_all", "/v2/positions?cancel_orders=true", 1, err);
}

/*
 * DELETE /v2/orders/{id}: 204 (or 200) when Alpaca takes the cancel, which
 * completes asynchronously (pending_cancel, then canceled). 404 is an id
 * Alpaca does not know; 422 an order no longer cancelable.
 */
static int op_cancel_order(void *ctx, const char *order_id, hydra_broker_err *err)
{
    alpaca *a = ctx;
    if (order_id == NULL || order_id[0] == '\0')
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "cancel_order: no order id");
    char path[160] = "/v2/orders/";
    char *esc = curl_easy_escape(a->trading.h, order_id, 0);
    if (esc == NULL)
        return hydra_broker_fail(err, HYDRA_ENOMEM, 0, "cancel_order: out of memory");
    int n = snprintf(path + strlen(path), sizeof path - strlen(path), "%s", esc);
    curl_free(esc);
    if (n < 0 || (size_t)n >= sizeof path - strlen("/v2/orders/"))
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "cancel_order: order id too long");
    long status = 0;
    int rc = send_req(a, &a->trading, "DELETE", "cancel_order", path, NULL, 1, &status, err);
    if (rc != 0)
        return rc;
    if (status >= 200 && status <= 299)
        return 0;
    return status_error(a, "cancel_order", status, err);
}

/* Latest prices for one asset class in one request; idx maps answers back to the caller's order. */
static int latest_group(alpaca *a, unsigned ac, const char *const *symbols, const size_t *idx,
                        size_t n, hydra_quote *out, hydra_broker_err *err)
{
    if (n == 0)
        return 0;
    const char **group = calloc(n, sizeof *group);
    hydra_quote *q = calloc(n, sizeof *q);
    char *list = malloc(8192);
    char *path = malloc(12288);
    json_t *j = NULL;
    int rc = HYDRA_ENOMEM;
    const char *what = ac == HYDRA_ASSET_CRYPTO   ? "latest_prices crypto"
                       : ac == HYDRA_ASSET_OPTION ? "latest_prices options"
                                                  : "latest_prices stocks";
    if (group == NULL || q == NULL || list == NULL || path == NULL) {
        hydra_broker_fail(err, HYDRA_ENOMEM, 0, "%s: out of memory", what);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        group[i] = symbols[idx[i]];
    if ((rc = join_symbols(group, n, list, 8192)) != 0) {
        hydra_broker_fail(err, HYDRA_EREJECTED, 0, "%s: too many symbols for one request", what);
        goto fail;
    }
    snprintf(path, 12288, "%s",
             ac == HYDRA_ASSET_CRYPTO   ? "/v1beta3/crypto/us/latest/trades"
             : ac == HYDRA_ASSET_OPTION ? "/v1beta1/options/snapshots"
                                        : "/v2/stocks/trades/latest");
    rc = add_param(a->data.h, path, 12288, "symbols", list);
    if (rc == 0 && ac == HYDRA_ASSET_EQUITY)
        rc = add_param(a->data.h, path, 12288, "feed", a->cfg.stock_feed);
    if (rc != 0) {
        hydra_broker_fail(err, HYDRA_EREJECTED, 0, "%s: request too long", what);
        goto fail;
    }
    if ((rc = call_json(a, &a->data, "GET", what, path, &j, NULL, err)) != 0)
        goto fail;
    char why[200];
    rc = ac == HYDRA_ASSET_OPTION ? hydra_alpaca_parse_option_prices(j, group, n, q, why, sizeof why)
                                  : hydra_alpaca_parse_latest_trades(j, group, n, q, why, sizeof why);
    if (rc != 0) {
        malformed_answer(err, what, rc, why);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        out[idx[i]] = q[i];
fail:
    json_decref(j);
    free(group);
    free(q);
    free(list);
    free(path);
    return rc;
}

static int op_latest_prices(void *ctx, const char *const *symbols, size_t n, hydra_quote *out,
                            hydra_broker_err *err)
{
    alpaca *a = ctx;
    static const unsigned classes[] = {HYDRA_ASSET_EQUITY, HYDRA_ASSET_CRYPTO, HYDRA_ASSET_OPTION};
    size_t *idx = calloc(n > 0 ? n : 1, sizeof *idx);
    if (idx == NULL)
        return hydra_broker_fail(err, HYDRA_ENOMEM, 0, "latest_prices: out of memory");
    int rc = 0;
    for (size_t c = 0; c < 3 && rc == 0; c++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (hydra_symbol_asset_class(symbols[i]) == classes[c])
                idx[k++] = i;
        rc = latest_group(a, classes[c], symbols, idx, k, out, err);
    }
    free(idx);
    return rc;
}

/* Alpaca's timeframe for a bar length: 1Min..59Min, 1Hour..23Hour, 1Day. */
static int timeframe_of(int seconds, char *out, size_t outsz)
{
    if (seconds >= 60 && seconds < 3600 && seconds % 60 == 0)
        snprintf(out, outsz, "%dMin", seconds / 60);
    else if (seconds >= 3600 && seconds < 86400 && seconds % 3600 == 0)
        snprintf(out, outsz, "%dHour", seconds / 3600);
    else if (seconds == 86400)
        snprintf(out, outsz, "1Day");
    else
        return HYDRA_EINVAL;
    return 0;
}

static int op_bars(void *ctx, const char *symbol, int timeframe_s, size_t limit, hydra_bar *out,
                   size_t *n, hydra_broker_err *err)
{
    alpaca *a = ctx;
    *n = 0;
    char tf[16], start[32], lim[24], path[1024];
    if (timeframe_of(timeframe_s, tf, sizeof tf) != 0)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 0, "bars %s: no Alpaca timeframe for %d s",
                                 symbol, timeframe_s);
    if (limit == 0)
        return 0;
    /* Far enough back to cover nights, weekends and holidays; the newest `limit` bars are asked for. */
    int64_t span = (int64_t)limit * timeframe_s * 1000 * 3;
    if (span < 5LL * 86400 * 1000)
        span = 5LL * 86400 * 1000;
    hydra_format_utc(broker_now(a) - span, start, sizeof start);
    snprintf(lim, sizeof lim, "%zu", limit);
    int crypto = hydra_symbol_asset_class(symbol) == HYDRA_ASSET_CRYPTO;
    snprintf(path, sizeof path, "%s", crypto ? "/v1beta3/crypto/us/bars" : "/v2/stocks/bars");
    int rc = add_param(a->data.h, path, sizeof path, "symbols", symbol);
    if (rc == 0)
        rc = add_param(a->data.h, path, sizeof path, "timeframe", tf);
    if (rc == 0)
        rc = add_param(a->data.h, path, sizeof path, "start", start);
    if (rc == 0)
        rc = add_param(a->data.h, path, sizeof path, "limit", lim);
    if (rc == 0)
        rc = add_param(a->data.h, path, sizeof path, "sort", "desc");
    if (rc == 0 && !crypto)
        rc = add_param(a->data.h, path, sizeof path, "feed", a->cfg.stock_feed);
    if (rc != 0)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 0, "bars %s: request too long", symbol);
    json_t *j;
    char what[80];
    snprintf(what, sizeof what, "bars %s", symbol);
    if ((rc = call_json(a, &a->data, "GET", what, path, &j, NULL, err)) != 0)
        return rc;
    char why[200];
    rc = hydra_alpaca_parse_bars(j, symbol, out, limit, n, why, sizeof why);
    json_decref(j);
    if (rc != 0) {
        *n = 0;
        return malformed_answer(err, what, rc, why);
    }
    /* Asked newest first (so `limit` keeps the newest); the interface wants oldest first. */
    if (*n > 1 && out[0].t_ms > out[*n - 1].t_ms)
        for (size_t i = 0, k = *n - 1; i < k; i++, k--) {
            hydra_bar t = out[i];
            out[i] = out[k];
            out[k] = t;
        }
    for (size_t i = 1; i < *n; i++)
        if (out[i].t_ms <= out[i - 1].t_ms) {
            *n = 0;
            return hydra_broker_fail(err, HYDRA_EMALFORMED, 200, "%s: bars out of order", what);
        }
    return 0;
}

/* Contracts expiring between today and today + max_dte, every page. */
static int fetch_contracts(alpaca *a, const char *underlying, int max_dte, hydra_option_quote *q,
                           size_t cap, size_t *n, hydra_broker_err *err)
{
    char gte[16], lte[16], token[512] = "", path[2048], lim[16];
    int64_t now = broker_now(a);
    hydra_day_key(now, gte, sizeof gte);
    hydra_day_key(now + (int64_t)max_dte * 86400 * 1000, lte, sizeof lte);
    snprintf(lim, sizeof lim, "%d", CONTRACTS_PER_PAGE);
    char what[64];
    snprintf(what, sizeof what, "option_contracts %s", underlying);
    for (int page = 0;; page++) {
        if (page >= MAX_PAGES)
            return hydra_broker_fail(err, HYDRA_EFULL, 200, "%s: more than %d pages", what,
                                     MAX_PAGES);
        snprintf(path, sizeof path, "/v2/options/contracts");
        int rc = add_param(a->trading.h, path, sizeof path, "underlying_symbols", underlying);
        if (rc == 0)
            rc = add_param(a->trading.h, path, sizeof path, "status", "active");
        if (rc == 0)
            rc = add_param(a->trading.h, path, sizeof path, "expiration_date_gte", gte);
        if (rc == 0)
            rc = add_param(a->trading.h, path, sizeof path, "expiration_date_lte", lte);
        if (rc == 0)
            rc = add_param(a->trading.h, path, sizeof path, "limit", lim);
        if (rc == 0 && token[0] != '\0')
            rc = add_param(a->trading.h, path, sizeof path, "page_token", token);
        if (rc != 0)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 0, "%s: request too long", what);
        json_t *j;
        if ((rc = call_json(a, &a->trading, "GET", what, path, &j, NULL, err)) != 0)
            return rc;
        char why[200];
        rc = hydra_alpaca_parse_option_contracts(j, q, cap, n, why, sizeof why);
        if (rc == 0)
            rc = hydra_alpaca_next_page_token(j, token, sizeof token, why, sizeof why);
        json_decref(j);
        if (rc != 0)
            return malformed_answer(err, what, rc, why);
        if (token[0] == '\0')
            return 0;
    }
}

/* Quotes and greeks for q[0..n), SNAPSHOT_BATCH contracts a request. */
static int fetch_snapshots(alpaca *a, const char *underlying, hydra_option_quote *q, size_t n,
                           hydra_broker_err *err)
{
    char *list = malloc(SNAPSHOT_BATCH * 32), *path = malloc(SNAPSHOT_BATCH * 48 + 512);
    const char **syms = calloc(SNAPSHOT_BATCH, sizeof *syms);
    size_t list_sz = SNAPSHOT_BATCH * 32, path_sz = SNAPSHOT_BATCH * 48 + 512;
    char what[64], token[512];
    int rc = 0;
    snprintf(what, sizeof what, "option_snapshots %s", underlying);
    if (list == NULL || path == NULL || syms == NULL) {
        rc = hydra_broker_fail(err, HYDRA_ENOMEM, 0, "%s: out of memory", what);
        goto fail;
    }
    for (size_t off = 0; off < n && rc == 0; off += SNAPSHOT_BATCH) {
        size_t k = n - off < SNAPSHOT_BATCH ? n - off : SNAPSHOT_BATCH;
        for (size_t i = 0; i < k; i++)
            syms[i] = q[off + i].symbol;
        join_symbols(syms, k, list, list_sz);
        token[0] = '\0';
        for (int page = 0;; page++) {
            if (page >= MAX_PAGES) {
                rc = hydra_broker_fail(err, HYDRA_EFULL, 200, "%s: more than %d pages", what,
                                       MAX_PAGES);
                break;
            }
            snprintf(path, path_sz, "/v1beta1/options/snapshots");
            rc = add_param(a->data.h, path, path_sz, "symbols", list);
            if (rc == 0)
                rc = add_param(a->data.h, path, path_sz, "limit", "1000");
            if (rc == 0 && token[0] != '\0')
                rc = add_param(a->data.h, path, path_sz, "page_token", token);
            if (rc != 0) {
                rc = hydra_broker_fail(err, HYDRA_EREJECTED, 0, "%s: request too long", what);
                break;
            }
            json_t *j;
            if ((rc = call_json(a, &a->data, "GET", what, path, &j, NULL, err)) != 0)
                break;
            char why[200];
            size_t matched = 0;
            rc = hydra_alpaca_apply_option_snapshots(j, q + off, k, &matched, why, sizeof why);
            if (rc == 0)
                rc = hydra_alpaca_next_page_token(j, token, sizeof token, why, sizeof why);
            json_decref(j);
            if (rc != 0) {
                rc = malformed_answer(err, what, rc, why);
                break;
            }
            if (token[0] == '\0')
                break;
        }
    }
fail:
    free(list);
    free(path);
    free(syms);
    return rc;
}

static int op_option_chain(void *ctx, const char *underlying, const hydra_chain_filter *filter,
                           hydra_option_quote *out, size_t cap, size_t *n, hydra_broker_err *err)
{
    alpaca *a = ctx;
    *n = 0;
    size_t got = 0;
    /* Expiries are bounded in the request; the delta band is applied below. */
    int max_dte = filter != NULL ? filter->max_dte : 60;
    double dmin = filter != NULL ? filter->delta_min : 0.0;
    double dmax = filter != NULL ? filter->delta_max : 1.0;
    int rc = fetch_contracts(a, underlying, max_dte, out, cap, &got, err);
    if (rc == 0)
        rc = fetch_snapshots(a, underlying, out, got, err);
    if (rc != 0)
        return rc;
    /*
     * Only contracts with a two-sided quote, an implied volatility and a delta
     * can be chosen by the chain rules; the rest are left out rather than
     * offered with unknown values.
     */
    size_t k = 0;
    for (size_t i = 0; i < got; i++) {
        const hydra_option_quote *q = &out[i];
        if (isfinite(q->bid) && q->bid >= 0 && isfinite(q->ask) && q->ask > 0 && q->ask >= q->bid &&
            isfinite(q->iv) && isfinite(q->delta) && fabs(q->delta) >= dmin &&
            fabs(q->delta) <= dmax)
            out[k++] = *q;
    }
    *n = k;
    return 0;
}

static int op_clock(void *ctx, hydra_market_clock *out, hydra_broker_err *err)
{
    alpaca *a = ctx;
    json_t *j;
    int rc = call_json(a, &a->trading, "GET", "clock", "/v2/clock", &j, NULL, err);
    if (rc != 0)
        return rc;
    char why[200];
    rc = hydra_alpaca_parse_clock(j, out, why, sizeof why);
    json_decref(j);
    if (rc != 0)
        return malformed_answer(err, "clock", rc, why);
    a->broker_now_ms = out->now_ms;
    a->broker_mono_ms = hydra_monotonic_ms();
    if (a->broker_mono_ms == 0)
        a->broker_mono_ms = 1;
    return 0;
}

static int op_calendar(void *ctx, int from, int to, hydra_session *out, size_t cap, size_t *n,
                       hydra_broker_err *err)
{
    alpaca *a = ctx;
    *n = 0;
    char path[128];
    snprintf(path, sizeof path, "/v2/calendar?start=%04d-%02d-%02d&end=%04d-%02d-%02d", from / 10000,
             from / 100 % 100, from % 100, to / 10000, to / 100 % 100, to % 100);
    json_t *j;
    int rc = call_json(a, &a->trading, "GET", "calendar", path, &j, NULL, err);
    if (rc != 0)
        return rc;
    char why[200];
    rc = hydra_alpaca_parse_calendar(j, out, cap, n, why, sizeof why);
    json_decref(j);
    if (rc != 0)
        return malformed_answer(err, "calendar", rc, why);
    /* An answer outside what was asked is not this calendar: refuse it rather than guess. */
    for (size_t i = 0; i < *n; i++)
        if (out[i].date < from || out[i].date > to) {
            *n = 0;
            return hydra_broker_fail(err, HYDRA_EMALFORMED, 200,
                                     "calendar: day %d outside the %d..%d asked for", out[i].date,
                                     from, to);
        }
    return 0;
}

static void wipe_headers(struct curl_slist *h)
{
    for (; h != NULL; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
}

static void op_destroy(void *ctx)
{
    alpaca *a = ctx;
    if (a == NULL)
        return;
    if (a->trading.h != NULL)
        curl_easy_cleanup(a->trading.h);
    if (a->data.h != NULL)
        curl_easy_cleanup(a->data.h);
    wipe_headers(a->headers);
    curl_slist_free_all(a->headers);
    free(a->buf);
    explicit_bzero(a, sizeof *a);
    free(a);
}

static const hydra_broker_ops ALPACA_OPS = {
    .name = "alpaca",
    .account = op_account,
    .positions = op_positions,
    .open_orders = op_open_orders,
    .submit = op_submit,
    .order_by_client_id = op_order_by_client_id,
    .cancel_all = op_cancel_all,
    .close_all = op_close_all,
    .cancel_order = op_cancel_order,
    .latest_prices = op_latest_prices,
    .bars = op_bars,
    .option_chain = op_option_chain,
    .clock = op_clock,
    .destroy = op_destroy,
    .calendar = op_calendar,
    .order_by_id = op_order_by_id,
    .asset = op_asset,
};

int hydra_alpaca_bars_page(const hydra_broker *b, const hydra_bars_request *q, json_t **answer,
                           hydra_broker_err *err)
{
    *answer = NULL;
    if (b == NULL || b->ops != &ALPACA_OPS)
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "bars: not an Alpaca broker");
    alpaca *a = b->ctx;
    char what[96], lim[24], path[2048];
    snprintf(what, sizeof what, "bars %.60s %.16s", q->symbol, q->timeframe);
    if (q->limit < 1 || q->limit > 10000)
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "%s: limit %d outside 1..10000", what,
                                 q->limit);
    snprintf(lim, sizeof lim, "%d", q->limit);
    snprintf(path, sizeof path, "%s", q->crypto ? "/v1beta3/crypto/us/bars" : "/v2/stocks/bars");
    int rc = add_param(a->data.h, path, sizeof path, "symbols", q->symbol);
    if (rc == 0)
        rc = add_param(a->data.h, path, sizeof path, "timeframe", q->timeframe);
    if (rc == 0)
        rc = add_param(a->data.h, path, sizeof path, "start", q->start);
    if (rc == 0)
        rc = add_param(a->data.h, path, sizeof path, "end", q->end);
    if (rc == 0)
        rc = add_param(a->data.h, path, sizeof path, "limit", lim);
    if (rc == 0)
        rc = add_param(a->data.h, path, sizeof path, "sort", "asc");
    if (rc == 0 && !q->crypto)
        rc = add_param(a->data.h, path, sizeof path, "feed",
                       q->feed != NULL && q->feed[0] != '\0' ? q->feed : a->cfg.stock_feed);
    if (rc == 0 && !q->crypto && q->adjustment != NULL && q->adjustment[0] != '\0')
        rc = add_param(a->data.h, path, sizeof path, "adjustment", q->adjustment);
    if (rc == 0 && q->page_token != NULL && q->page_token[0] != '\0')
        rc = add_param(a->data.h, path, sizeof path, "page_token", q->page_token);
    if (rc != 0)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 0, "%s: request too long", what);
    return call_json(a, &a->data, "GET", what, path, answer, NULL, err);
}

/* ---- opening ---- */

/* http:// only to this machine; everything else must be https://. Returns 0 or -1. */
static int url_ok(const char *url)
{
    if (strncmp(url, "https://", 8) == 0)
        return url[8] != '\0' ? 0 : -1;
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *host = url + 7;
    static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]", NULL};
    for (int i = 0; loopback[i] != NULL; i++) {
        size_t l = strlen(loopback[i]);
        if (strncmp(host, loopback[i], l) == 0 && (host[l] == '\0' || host[l] == ':' || host[l] == '/'))
            return 0;
    }
    return -1;
}

static int open_conn(alpaca *a, conn *c, const char *base)
{
    snprintf(c->base, sizeof c->base, "%s", base);
    size_t l = strlen(c->base);
    while (l > 0 && c->base[l - 1] == '/')
        c->base[--l] = '\0';
    c->h = curl_easy_init();
    if (c->h == NULL)
        return HYDRA_ENOMEM;
    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, a->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)a->cfg.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)a->cfg.timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)a->cfg.max_response_bytes);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hydra/" HYDRA_VERSION);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
    return 0;
}

/* A header line "Name: value"; a value with a line break could inject headers. */
static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    if (strpbrk(value, "\r\n") != NULL)
        return HYDRA_ECONFIG;
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (line == NULL)
        return HYDRA_ENOMEM;
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *next = curl_slist_append(*list, line);
    explicit_bzero(line, n);
    free(line);
    if (next == NULL)
        return HYDRA_ENOMEM;
    *list = next;
    return 0;
}

int hydra_alpaca_open(const hydra_alpaca_cfg *cfg, const hydra_credentials *creds,
                      hydra_broker *out, char *err, size_t errsz)
{
    int rc;
    alpaca *a = NULL;
    out->ops = NULL;
    out->ctx = NULL;
    if (creds->key[0] == '\0' || creds->secret[0] == '\0') {
        snprintf(err, errsz, "broker alpaca: %s is not set (environment or .env)",
                 creds->key[0] == '\0' ? "ALPACA_KEY" : "ALPACA_SECRET");
        return HYDRA_ECONFIG;
    }
    if (url_ok(cfg->trading_url) != 0 || url_ok(cfg->data_url) != 0) {
        snprintf(err, errsz,
                 "settings.yaml: alpaca.%s must be an https:// URL (http:// only for 127.0.0.1 or "
                 "localhost): \"%.200s\"",
                 url_ok(cfg->trading_url) != 0 ? "trading_url" : "data_url",
                 url_ok(cfg->trading_url) != 0 ? cfg->trading_url : cfg->data_url);
        return HYDRA_ECONFIG;
    }
    if (cfg->connect_timeout_ms <= 0 || cfg->timeout_ms <= 0 || cfg->max_response_bytes <= 0) {
        snprintf(err, errsz,
                 "settings.yaml: alpaca.connect_timeout_ms, timeout_ms and max_response_bytes must "
                 "be positive");
        return HYDRA_ECONFIG;
    }
    if (cfg->stock_feed[0] == '\0') {
        snprintf(err, errsz, "settings.yaml: alpaca.stock_feed must not be empty");
        return HYDRA_ECONFIG;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errsz, "broker alpaca: libcurl failed to initialise");
        return HYDRA_ENOMEM;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        rc = HYDRA_ENOMEM;
        snprintf(err, errsz, "broker alpaca: out of memory");
        goto fail;
    }
    a->cfg = *cfg;
    if ((rc = add_header(&a->headers, "APCA-API-KEY-ID", creds->key)) != 0 ||
        (rc = add_header(&a->headers, "APCA-API-SECRET-KEY", creds->secret)) != 0 ||
        (rc = add_header(&a->headers, "Accept", "application/json")) != 0 ||
        (rc = add_header(&a->headers, "Content-Type", "application/json")) != 0) {
        snprintf(err, errsz, "broker alpaca: %s",
                 rc == HYDRA_ECONFIG ? "ALPACA_KEY or ALPACA_SECRET contains a line break"
                                     : "out of memory");
        goto fail;
    }
    if ((rc = open_conn(a, &a->trading, cfg->trading_url)) != 0 ||
        (rc = open_conn(a, &a->data, cfg->data_url)) != 0) {
        snprintf(err, errsz, "broker alpaca: cannot create a curl handle");
        goto fail;
    }
    out->ops = &ALPACA_OPS;
    out->ctx = a;
    return 0;
fail:
    op_destroy(a);
    return rc;
}

int hydra_alpaca_resolve_mode(const hydra_alpaca_cfg *cfg, const hydra_credentials *creds,
                              int live_flag, int allow_live, hydra_alpaca_cfg *cfg_out,
                              int *is_live, char *err, size_t errsz)
{
    *cfg_out = *cfg;
    *is_live = 0;
    if (!creds->have_keys || creds->key[0] == '\0' || creds->secret[0] == '\0') {
        snprintf(err, errsz,
                 "broker alpaca needs credentials: %s not set (environment or .env); "
                 "use broker: sim to run without an account",
                 creds->key[0] == '\0' && creds->secret[0] == '\0' ? "ALPACA_KEY and ALPACA_SECRET"
                 : creds->key[0] == '\0'                            ? "ALPACA_KEY"
                                                                    : "ALPACA_SECRET");
        return HYDRA_ECONFIG;
    }
    int wants_live = live_flag || !creds->paper;
    if (wants_live) {
        char missing[256] = "";
        if (!live_flag)
            strcat(missing, "the --live flag");
        if (creds->paper)
            strcat(strcat(missing, missing[0] ? ", " : ""), "ALPACA_PAPER=false");
        if (!allow_live)
            strcat(strcat(missing, missing[0] ? ", " : ""), "safety.allow_live: true in settings.yaml");
        if (missing[0] != '\0') {
            snprintf(err, errsz,
                     "live trading refused: it needs --live, ALPACA_PAPER=false and "
                     "safety.allow_live: true; missing: %s",
                     missing);
            return HYDRA_ECONFIG;
        }
        *is_live = 1;
        if (strcmp(cfg->trading_url, HYDRA_ALPACA_PAPER_URL) == 0)
            snprintf(cfg_out->trading_url, sizeof cfg_out->trading_url, "%s", HYDRA_ALPACA_LIVE_URL);
        return 0;
    }
    if (strncmp(cfg->trading_url, HYDRA_ALPACA_LIVE_URL, strlen(HYDRA_ALPACA_LIVE_URL)) == 0) {
        snprintf(err, errsz,
                 "settings.yaml: alpaca.trading_url is Alpaca's live host but this is a paper run; "
                 "live trading needs --live, ALPACA_PAPER=false and safety.allow_live: true");
        return HYDRA_ECONFIG;
    }
    return 0;
}
