/*
 * Small pieces the shipped bots share: finding a symbol or a position in a
 * snapshot, rate of change and moving average over a symbol's completed
 * bars (the SDK's indicators, with the bots' price checks), price rounding,
 * and reading signal.params with a default and a range.
 *
 * Header-only (static inline) so each plugin stays one self-contained .so
 * that sees nothing but the SDK. No state: every function reads only its
 * arguments, so any number of bot instances can use them at once.
 */
#ifndef HYDRA_PLUGINS_SIGNALS_H
#define HYDRA_PLUGINS_SIGNALS_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hydra/indicators.h>
#include <hydra/plugin.h>

/* The snapshot's view of `symbol`, or NULL when the host sent none. */
static inline const hydra_symbol_view *sig_find_symbol(const hydra_snapshot *snap, const char *symbol)
{
    uint32_t i;
    for (i = 0; i < snap->n_symbols; i++) {
        const hydra_symbol_view *v = snap->symbols[i];
        if (v != NULL && v->symbol != NULL && strcmp(v->symbol, symbol) == 0)
            return v;
    }
    return NULL;
}

/* The bot's open quantity in `symbol` (0 when it holds none). */
static inline double sig_position_qty(const hydra_snapshot *snap, const char *symbol)
{
    double qty = 0.0;
    uint32_t i;
    for (i = 0; i < snap->n_positions; i++) {
        const hydra_position_view *p = snap->positions[i];
        if (p != NULL && p->symbol != NULL && strcmp(p->symbol, symbol) == 0 && isfinite(p->qty) &&
            p->qty > 0.0)
            qty += p->qty;
    }
    return qty;
}

static inline int sig_good_price(double x)
{
    return isfinite(x) && x > 0.0;
}

/*
 * Rate of change over `n` completed bars, in percent:
 * (close[last] / close[last - n] - 1) * 100. Returns 0 and sets *out, or -1
 * when there are fewer than n + 1 bars or a close is not a positive number.
 */
static inline int sig_roc_pct(const hydra_symbol_view *v, uint32_t n, double *out)
{
    if (v == NULL || v->bars == NULL)
        return -1;
    return hydra_roc_pct(hydra_series_closes(v->bars, v->n_bars), n, out);
}

/*
 * Simple moving average of the last `n` closes (an exact window sum).
 * Returns 0 and sets *out, or -1 as sig_roc_pct: a close of zero or below
 * is bad data, not a price to average.
 */
static inline int sig_sma(const hydra_symbol_view *v, uint32_t n, double *out)
{
    hydra_series closes;
    double lowest;
    if (v == NULL || v->bars == NULL)
        return -1;
    closes = hydra_series_closes(v->bars, v->n_bars);
    if (hydra_rolling_min(closes, n, &lowest) != 0 || !(lowest > 0.0))
        return -1;
    return hydra_sma(closes, n, out);
}

/*
 * Dollars of risk the budget still allows: max_open_risk - open_risk_used,
 * or 0 when the budget is missing, not a number or used up.
 */
static inline double sig_risk_room(const hydra_budget_view *b)
{
    double room;
    if (b == NULL || !isfinite(b->max_open_risk) || !isfinite(b->open_risk_used))
        return 0.0;
    room = b->max_open_risk - b->open_risk_used;
    return room > 0.0 ? room : 0.0;
}

/*
 * True when the budget allows one more entry after `pending` entries this
 * call: a trade left today and a free position slot.
 */
static inline int sig_can_enter(const hydra_budget_view *b, uint32_t pending)
{
    return b != NULL && b->trades_left_today > pending &&
           (uint64_t)b->positions_open + pending < b->max_concurrent_positions;
}

/* The last completed bar's close, or 0 when there is none. */
static inline double sig_last_close(const hydra_symbol_view *v)
{
    if (v == NULL || v->bars == NULL || v->n_bars == 0)
        return 0.0;
    return v->bars[v->n_bars - 1].close;
}

/*
 * Price increments: a cent at or above one dollar, a hundredth of a cent
 * below it (a one-cent step would be several percent of a cheap coin).
 */
static inline double sig_tick_for(double price)
{
    return price >= 1.0 ? 0.01 : 0.0001;
}

/* Rounds up to a whole number of ticks; the small epsilon absorbs binary noise (100.1 * 100). */
static inline double sig_round_up(double price, double tick)
{
    return ceil(price / tick - 1e-6) * tick;
}

static inline double sig_round_down(double price, double tick)
{
    return floor(price / tick + 1e-6) * tick;
}

/* Copies a symbol into an intent; returns -1 (and copies nothing) when it does not fit. */
static inline int sig_set_symbol(hydra_intent *in, const char *symbol)
{
    size_t n = strlen(symbol);
    if (n == 0 || n >= sizeof in->symbol)
        return -1;
    memcpy(in->symbol, symbol, n + 1);
    return 0;
}

/* A zeroed intent with its struct_size set. */
static inline hydra_intent sig_intent(uint32_t kind, uint32_t side, uint32_t asset_class)
{
    hydra_intent in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = kind;
    in.side = side;
    in.asset_class = asset_class;
    return in;
}

/* Logs a formatted line through the host API when the host offers log. */
static inline void sig_log(const hydra_host_api *api, hydra_host *host, int level, const char *event,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static inline void sig_log(const hydra_host_api *api, hydra_host *host, int level, const char *event,
                           const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (!HYDRA_HAS(api, log))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    api->log(host, level, event, msg);
}

/*
 * Reads an integer param into *out: `def` when absent, refused (with a log
 * line naming the bot and key) when it has the wrong type or lies outside
 * [min, max]. Returns 0 or HYDRA_BOT_BAD_CONFIG.
 */
static inline int sig_param_int(const hydra_host_api *api, hydra_host *host, const char *bot_id,
                                const char *key, int64_t def, int64_t min, int64_t max, int64_t *out)
{
    int64_t v = def;
    int rc = HYDRA_HAS(api, param_int) ? api->param_int(host, key, &v) : HYDRA_PARAM_MISSING;
    if (rc == HYDRA_PARAM_MISSING)
        v = def;
    else if (rc != HYDRA_PARAM_OK || v < min || v > max) {
        sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                "bot %s: signal.params.%s must be an integer from %lld to %lld", bot_id, key,
                (long long)min, (long long)max);
        return HYDRA_BOT_BAD_CONFIG;
    }
    *out = v;
    return 0;
}

/* As sig_param_int for a number (integers are accepted). */
static inline int sig_param_double(const hydra_host_api *api, hydra_host *host, const char *bot_id,
                                   const char *key, double def, double min, double max, double *out)
{
    double v = def;
    int rc = HYDRA_HAS(api, param_double) ? api->param_double(host, key, &v) : HYDRA_PARAM_MISSING;
    if (rc == HYDRA_PARAM_MISSING)
        v = def;
    else if (rc != HYDRA_PARAM_OK || !isfinite(v) || v < min || v > max) {
        sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                "bot %s: signal.params.%s must be a number from %g to %g", bot_id, key, min, max);
        return HYDRA_BOT_BAD_CONFIG;
    }
    *out = v;
    return 0;
}

/*
 * ABI 1.1: 1 when one of the bot's working entries is on `symbol`, so an
 * entry sent last tick and not yet filled is not sent again. A 1.0 host
 * shows no orders: 0 (the budget's open positions still count it there).
 */
static inline int sig_entry_working(const hydra_snapshot *snap, const char *symbol)
{
    uint32_t i;
    if (!HYDRA_COVERS(snap, n_orders))
        return 0;
    for (i = 0; i < snap->n_orders; i++) {
        const hydra_order_view *o = snap->orders[i];
        if (o != NULL && o->symbol != NULL && o->kind == HYDRA_INTENT_ENTRY &&
            strcmp(o->symbol, symbol) == 0) /* pending or open: both are still working */
            return 1;
    }
    return 0;
}

/*
 * ABI 1.1: asks the host to cancel each of the bot's working limit entries
 * that has been at the broker longer than max_age_ms without filling
 * completely (a limit that the market has walked away from only ties up a
 * position slot and budget). max_age_ms <= 0 turns this off, as does a 1.0
 * host (its snapshot has no orders). Returns how many cancels were pushed.
 */
static inline int sig_cancel_stale_entries(const hydra_snapshot *snap, int64_t max_age_ms,
                                           hydra_intent_buf *out)
{
    uint32_t i;
    int n = 0;
    if (max_age_ms <= 0 || !HYDRA_COVERS(snap, n_orders))
        return 0;
    for (i = 0; i < snap->n_orders; i++) {
        const hydra_order_view *o = snap->orders[i];
        hydra_intent in;
        size_t len;
        if (o == NULL || o->client_order_id == NULL || o->kind != HYDRA_INTENT_ENTRY ||
            o->type != HYDRA_ORDER_LIMIT || o->state != HYDRA_ORDER_VIEW_OPEN ||
            snap->now_ms - o->submitted_ms < max_age_ms)
            continue;
        len = strlen(o->client_order_id);
        if (len == 0 || len >= sizeof in.client_order_id)
            continue;
        memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.kind = HYDRA_INTENT_CANCEL;
        memcpy(in.client_order_id, o->client_order_id, len + 1);
        snprintf(in.reason, sizeof in.reason, "limit entry unfilled after %lld min",
                 (long long)((snap->now_ms - o->submitted_ms) / 60000));
        if (hydra_intent_push(out, &in) == 0)
            n++;
    }
    return n;
}

#endif
