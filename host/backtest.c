/*
 * The backtest engine: the live tick (loop.c) replayed over data as fast as
 * the data allows.
 *
 * Shared with live, the same code and the same calls:
 *   - the simulated exchange (sim.c) in memory: clock steps, fill rules,
 *     slippage and fees, time in force, rejections, options pricing and
 *     settlement, the account's cash and equity;
 *   - the configuration (config.c) and the market zone (clock.c);
 *   - PortfolioBot's budgets (hydra_portfolio_compute's rows) at every rollover;
 *   - ExitBot's account rules (hydra_exitbot_daily_loss, _equity_jump),
 *     with the same halt, cooloff and flatten;
 *   - the host-enforced exits (hydra_exit_check), the intent structure
 *     check (hydra_gates_intent_defect) and every gate
 *     (hydra_gates_entry/exit), fed the same facts the live loop gathers;
 *   - the plugin ABI: bots are loaded with hydra_bot_load and called in
 *     rank order, manage every tick, on_tick when the preflight passes;
 *   - the position arithmetic (hydra_position_fill) and the
 *     client_order_id format "<bot>-<yyyymmdd>-<seq>".
 *
 * Not shared, and why:
 *   - SQLite state and the JSONL log: the live tick commits a transaction
 *     and writes log lines every tick, which costs milliseconds; here the
 *     book (positions per bot, working orders, daily counters, bot
 *     key-value state) is in memory, nothing survives the process, and the
 *     decisions go to <out>/decisions.jsonl only with --log all.
 *   - Health, the kill-switch file, API-failure windows, reconciliation
 *     and SIGHUP reloads: they watch a network and a running process; a
 *     replay has neither. Price staleness cannot arise: prices are the
 *     data's own.
 *   - Bots always run in process (isolation is ignored): a worker round
 *     trip per call would dominate a replay.
 *   - The snapshot points into the series instead of copying bars; the
 *     last HYDRA_SNAPSHOT_BARS bars are shown, as live. An options bot that
 *     asks for its chain (hydra.options-chain/1) gets it priced only when
 *     it asks, as live; one that reads the snapshot's chain is given it when
 *     it may enter or holds positions, and its manage() call without
 *     positions sees no chain (pricing a chain costs more than the rest of
 *     a bar, and manage can only exit what is held).
 *   - Time comes from the data: one tick per sim step, no sleeping.
 */
#define _GNU_SOURCE
#include "backtest.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "btrecord.h"
#include "clock.h"
#include "error.h"
#include "exitbot.h"
#include "exits.h"
#include "gates.h"
#include "loader.h"
#include "loop.h"
#include "marketdata.h"
#include "portfolio.h"
#include "series.h"
#include "seriescache.h"
#include "sim.h"
#include "state.h"

#define BT_MAX_POS 64
#define BT_MAX_INTENTS 32
#define BT_MAX_WORK 256
#define BT_RECENT 4096 /* order times kept for the orders-per-minute gate */

typedef struct bt_pos {
    hydra_bot_position p;
    double buy_fees; /* fees paid on the buys still held, for the trade's PnL */
    int series;      /* series index of an equity or crypto symbol, else -1: priced without a lookup */
} bt_pos;

/* A journal row that is not final yet. */
typedef struct bt_order {
    char cid[HYDRA_CID_LEN];
    int bot;                 /* index into bots */
    int kind, side, asset_class;
    char symbol[48];
    double qty, notional, limit_price;
    double filled_qty;
    char exit_reason[32];
    int type;                /* enum hydra_order_type, for the bot's view (ABI 1.1) */
    int64_t created_ms;
} bt_order;

typedef struct bt_kv {
    char bot_id[64];
    char key[129];
    char *value;
} bt_kv;

/*
 * A bot as the backtest runs it: always in process (the live slot's runner
 * may be a worker process), with the live slot's budget and quarantine.
 */
typedef struct bt_slot {
    const hydra_bot_cfg *cfg;
    hydra_bot_instance inst;
    int loaded;
    int quarantined;
    char quarantine_reason[256];
    hydra_budget budget;
    int have_budget;
} bt_slot;

typedef struct bt_bot {
    bt_slot slot;
    int series[HYDRA_MAX_BOT_SYMBOLS]; /* series index of each symbol, -1 = none */
    unsigned asset_class[HYDRA_MAX_BOT_SYMBOLS]; /* of each symbol, decided once at load */
    bt_pos pos[BT_MAX_POS];
    size_t npos;
    hydra_bot_day day;
    int seq;
    double realized; /* since the start, fees included */
    hydra_bt_bot_stats *stats;  /* in the result */
    const char *skip_reason;    /* the preflight's answer on the last tick (NULL: passed) */
    uint64_t skip_run;          /* consecutive ticks with that answer */
    int skip_slot;              /* its slot in stats->skipped, -1 when it passed */
    uint64_t version;           /* counts changes to its book: orders, cancels, fills */
} bt_bot;

/* Per-call views handed to a bot, reused across calls. */
typedef struct bt_scratch {
    hydra_symbol_view sym[HYDRA_MAX_BOT_SYMBOLS];
    const hydra_symbol_view *sym_p[HYDRA_MAX_BOT_SYMBOLS];
    hydra_position_view pos[BT_MAX_POS];
    const hydra_position_view *pos_p[BT_MAX_POS];
    hydra_option_view opt[HYDRA_MARKET_MAX_CONTRACTS];
    const hydra_option_view *opt_p[HYDRA_MARKET_MAX_CONTRACTS];
    hydra_order_view ord[BT_MAX_WORK];
    const hydra_order_view *ord_p[BT_MAX_WORK];
    hydra_budget_view budget;
    hydra_snapshot snap;
    hydra_intent intents[BT_MAX_INTENTS];
    hydra_intent_buf buf;
    /* Whose snapshot the views hold (reuse_snapshot). */
    int for_bot;
    uint64_t for_tick, for_version;
    int for_chain;
} bt_scratch;

struct hydra_backtest {
    hydra_backtest_options opt;
    hydra_config *cfg;
    hydra_clock clock;
    hydra_sim *sim;
    hydra_broker broker;
    const hydra_series *series;   /* the sim's */
    size_t n_series;
    size_t *cursor;               /* per series: bars stamped <= cursors_ms (cursor_at) */
    int64_t cursors_ms;
    size_t *release_at;           /* per series: the cursor at which the next step is handed back */
    hydra_series *owned;          /* the loaded series whose bars this backtest owns (series share them) */
    size_t n_owned;
    hydra_host_services svc;
    bt_bot *bots;                 /* rank order */
    int n_bots;
    bt_order work[BT_MAX_WORK];
    size_t n_work;
    int64_t recent[BT_RECENT];    /* creation times of recent orders, a ring */
    size_t recent_head, recent_n;
    bt_kv *kv;
    size_t n_kv, cap_kv;
    bt_scratch *s;
    hydra_market *market;         /* option chains of the current tick only (fetched on demand) */
    hydra_market_clock mclock;
    int64_t mclock_until;
    int64_t from_ms, to_ms;
    char gen_start[32];           /* sim.start as configured */
    int date;                     /* current market-zone yyyymmdd */
    char day[11];
    int day_year;                 /* the year whose digits day[0..3] hold */
    double day_start_equity, last_equity;
    hydra_portfolio_plan plan;    /* PortfolioBot's configuration, worked out once */
    int plan_ok;
    int budgets_valid;            /* the bots' budget rows hold a computation for budgets_equity */
    double budgets_equity;
    hydra_account account;
    /*
     * Whether `account` may differ from the exchange's: set when the clock
     * moves and by every call that changes the exchange's book (submit,
     * cancel). The finalize step reads the account only then; most bars
     * change nothing.
     */
    int account_stale;
    int64_t halt_until;
    uint64_t tick;
    int64_t now;
    hydra_local_time lt;          /* now in the market zone, converted once per tick */
    FILE *decisions;
    hydra_bt_result res;
    size_t cap_trades;
};

/* ---- small pieces ---- */

static double multiplier_of(unsigned asset_class)
{
    return asset_class == HYDRA_ASSET_OPTION ? 100.0 : 1.0;
}

/*
 * A cleared broker error report. `= {0}` zeroes the whole 256-byte message
 * with `rep stos`, a fixed cost that showed in every bar; a broker writes
 * code, status and message whenever it fails.
 */
static void err_clear(hydra_broker_err *err)
{
    err->code = 0;
    err->http_status = 0;
    err->msg[0] = '\0';
}

/* Copies a string that is known to fit (symbols and reasons already bounded); cut if not. */
static void copy_str(char *dst, size_t dstsz, const char *src)
{
    size_t n = strnlen(src, dstsz - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Adds one to the count named `name`; the 17th distinct name and later count as "other". */
static int count_add(hydra_bt_count *c, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(c[i].name, name) == 0) {
            c[i].n++;
            return i;
        }
    int i = *n;
    if (i == HYDRA_BT_MAX_COUNTS) {
        i = HYDRA_BT_MAX_COUNTS - 1;
        snprintf(c[i].name, sizeof c[i].name, "other");
    } else {
        copy_str(c[i].name, sizeof c[i].name, name);
        (*n)++;
    }
    c[i].n++;
    return i;
}

/* 1 with --log all. Per-order decisions are only formatted then: most runs never read them. */
static int logging(const hydra_backtest *bt)
{
    return bt->decisions != NULL;
}

static void decision(hydra_backtest *bt, const char *bot_id, const char *event, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* One JSONL line with --log all; the fields are already JSON (fmt builds them). */
static void decision(hydra_backtest *bt, const char *bot_id, const char *event, const char *fmt,
                     ...)
{
    if (bt->decisions == NULL)
        return;
    char ts[32];
    hydra_format_utc(bt->now, ts, sizeof ts);
    fprintf(bt->decisions, "{\"t\":\"%s\",\"tick\":%llu,\"event\":\"%s\",\"bot_id\":", ts,
            (unsigned long long)bt->tick, event);
    if (bot_id != NULL)
        fprintf(bt->decisions, "\"%s\"", bot_id);
    else
        fputs("null", bt->decisions);
    if (fmt != NULL && fmt[0] != '\0') {
        va_list ap;
        va_start(ap, fmt);
        fputc(',', bt->decisions);
        vfprintf(bt->decisions, fmt, ap);
        va_end(ap);
    }
    fputs("}\n", bt->decisions);
}

/* A string as a JSON string body: quotes, backslashes and control bytes escaped. */
static const char *json_text(const char *in, char *buf, size_t bufsz)
{
    size_t o = 0;
    for (; *in && o + 7 < bufsz; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(buf + o, bufsz - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ---- host services: bot log and bot key-value state, in memory ---- */

static void svc_log(void *ctx, const char *bot_id, int level, const char *event, const char *message)
{
    hydra_backtest *bt = ctx;
    (void)level;
    if (bt->decisions == NULL)
        return;
    char ev[128], msg[512];
    decision(bt, bot_id, "bot_log", "\"bot_event\":\"%s\",\"message\":\"%s\"",
             json_text(event != NULL ? event : "", ev, sizeof ev),
             json_text(message != NULL ? message : "", msg, sizeof msg));
}

static bt_kv *kv_find(hydra_backtest *bt, const char *bot_id, const char *key)
{
    for (size_t i = 0; i < bt->n_kv; i++)
        if (strcmp(bt->kv[i].bot_id, bot_id) == 0 && strcmp(bt->kv[i].key, key) == 0)
            return &bt->kv[i];
    return NULL;
}

static int svc_kv_get(void *ctx, const char *bot_id, const char *key, char *buf, size_t bufsz)
{
    bt_kv *kv = kv_find(ctx, bot_id, key);
    if (kv == NULL)
        return HYDRA_PARAM_MISSING;
    if (strlen(kv->value) >= bufsz)
        return HYDRA_PARAM_SPACE;
    memcpy(buf, kv->value, strlen(kv->value) + 1);
    return 0;
}

static int svc_kv_set(void *ctx, const char *bot_id, const char *key, const char *value)
{
    hydra_backtest *bt = ctx;
    if (strlen(bot_id) >= 64 || strlen(key) > 128 || strlen(value) > 4096)
        return HYDRA_EINVAL;
    char *copy = strdup(value);
    if (copy == NULL)
        return HYDRA_ENOMEM;
    bt_kv *kv = kv_find(bt, bot_id, key);
    if (kv == NULL) {
        if (bt->n_kv == bt->cap_kv) {
            size_t cap = bt->cap_kv ? bt->cap_kv * 2 : 16;
            bt_kv *p = realloc(bt->kv, cap * sizeof *p);
            if (p == NULL) {
                free(copy);
                return HYDRA_ENOMEM;
            }
            bt->kv = p;
            bt->cap_kv = cap;
        }
        kv = &bt->kv[bt->n_kv++];
        copy_str(kv->bot_id, sizeof kv->bot_id, bot_id);
        copy_str(kv->key, sizeof kv->key, key);
        kv->value = NULL;
    }
    free(kv->value);
    kv->value = copy;
    return 0;
}

/* ---- the market: prices from the series the sim replays ---- */

static int series_index(const hydra_backtest *bt, const char *symbol)
{
    for (size_t i = 0; i < bt->n_series; i++)
        if (strcmp(bt->series[i].symbol, symbol) == 0)
            return (int)i;
    return -1;
}

/*
 * Bars of series si stamped <= now. Every cursor is moved to the clock at
 * the first read of a tick (the clock only goes forward); a tick reads its
 * prices many times (snapshots, exits, marks), each then a load.
 */
static size_t cursor_at(hydra_backtest *bt, int si)
{
    if (bt->cursors_ms != bt->now) {
        for (size_t i = 0; i < bt->n_series; i++) {
            const hydra_series *s = &bt->series[i];
            size_t k = bt->cursor[i];
            while (k < s->n && s->bars[k].t_ms <= bt->now)
                k++;
            bt->cursor[i] = k;
        }
        bt->cursors_ms = bt->now;
    }
    return bt->cursor[si];
}

static double series_price(hydra_backtest *bt, int si, int64_t *t_ms)
{
    if (si < 0)
        return NAN;
    size_t k = cursor_at(bt, si);
    if (k == 0)
        return NAN;
    if (t_ms != NULL)
        *t_ms = bt->series[si].bars[k - 1].t_ms;
    return bt->series[si].bars[k - 1].close;
}

/* Last price of any symbol: a series close, or an option's model price from the exchange. */
static double price_of(hydra_backtest *bt, const char *symbol)
{
    if (hydra_symbol_asset_class(symbol) == HYDRA_ASSET_OPTION) {
        hydra_quote q;
        hydra_broker_err err;
        err_clear(&err);
        const char *syms[1] = {symbol};
        if (bt->broker.ops->latest_prices(bt->broker.ctx, syms, 1, &q, &err) != 0)
            return NAN;
        return q.price;
    }
    return series_price(bt, series_index(bt, symbol), NULL);
}

/* A held position's last price: price_of without looking its series up by name. */
static double position_price(hydra_backtest *bt, const bt_pos *bp)
{
    return bp->series >= 0 ? series_price(bt, bp->series, NULL) : price_of(bt, bp->p.symbol);
}

/* Reads the account from the exchange unless nothing has changed it since the last read. */
static __attribute__((noinline)) int fetch_account(hydra_backtest *bt)
{
    hydra_broker_err err;
    err_clear(&err);
    if (bt->broker.ops->account(bt->broker.ctx, &bt->account, &err) != 0)
        return HYDRA_EIO;
    bt->account_stale = 0;
    return 0;
}

/* The check inline, the read (a broker call and its error buffer) out of line. */
static inline int read_account(hydra_backtest *bt)
{
    return bt->account_stale ? fetch_account(bt) : 0;
}

/*
 * The market clock now, or NULL when the exchange cannot say. It changes
 * only at a session's open or close, so it is asked for again only then;
 * and it is asked for only when a rule reads it (flatten_before_close of a
 * bot that holds something), which on daily bars spares a clock a bar.
 */
static const hydra_market_clock *market_clock(hydra_backtest *bt)
{
    if (bt->now < bt->mclock_until && bt->mclock_until > 0) {
        bt->mclock.now_ms = bt->now;
        return &bt->mclock;
    }
    hydra_broker_err err;
    err_clear(&err);
    if (bt->broker.ops->clock(bt->broker.ctx, &bt->mclock, &err) != 0) {
        memset(&bt->mclock, 0, sizeof bt->mclock);
        bt->mclock_until = 0;
        return NULL;
    }
    int64_t a = bt->mclock.next_open_ms, b = bt->mclock.next_close_ms + 1;
    bt->mclock_until = a > 0 && b > 1 ? (a < b ? a : b) : 0;
    return bt->mclock_until > 0 ? &bt->mclock : NULL;
}

/* ---- the book ---- */

static bt_pos *find_pos(bt_bot *b, const char *symbol)
{
    for (size_t i = 0; i < b->npos; i++)
        if (strcmp(b->pos[i].p.symbol, symbol) == 0)
            return &b->pos[i];
    return NULL;
}

static int push_trade(hydra_backtest *bt, const hydra_bt_trade *t)
{
    hydra_bt_result *r = &bt->res;
    if (r->n_trades == bt->cap_trades) {
        size_t cap = bt->cap_trades ? bt->cap_trades * 2 : 256;
        hydra_bt_trade *p = realloc(r->trades, cap * sizeof *p);
        if (p == NULL)
            return HYDRA_ENOMEM;
        r->trades = p;
        bt->cap_trades = cap;
    }
    r->trades[r->n_trades++] = *t;
    return 0;
}

/* Books one fill of a bot's order: position, daily PnL, trade record, on_fill. */
static int book_fill(hydra_backtest *bt, bt_order *o, double qty, double price, double fee,
                     int64_t t)
{
    bt_bot *b = &bt->bots[o->bot];
    bt_pos *bp = find_pos(b, o->symbol);
    double mult = multiplier_of((unsigned)o->asset_class);
    b->version++;
    double realized = 0;
    if (o->side == HYDRA_SIDE_BUY) {
        if (bp == NULL) {
            if (b->npos == BT_MAX_POS)
                return HYDRA_EFULL;
            bp = &b->pos[b->npos++];
            memset(bp, 0, sizeof *bp);
            copy_str(bp->p.bot_id, sizeof bp->p.bot_id, b->slot.cfg->bot_id);
            copy_str(bp->p.symbol, sizeof bp->p.symbol, o->symbol);
            bp->series = o->asset_class == HYDRA_ASSET_OPTION ? -1 : series_index(bt, o->symbol);
            hydra_position_fill(&bp->p, 0, o->asset_class, mult, o->side, qty, price, fee, t,
                                &realized);
        } else {
            hydra_position_fill(&bp->p, 1, o->asset_class, mult, o->side, qty, price, fee, t,
                                &realized);
        }
        bp->buy_fees += fee;
        b->day.realized_pnl += -fee;
    } else {
        if (bp == NULL)
            return 0; /* the exchange cancels a sell without a position; nothing to book */
        double held = bp->p.qty, entry = bp->p.avg_price;
        double sold = qty < held ? qty : held;
        double buy_fee_part = held > 0 ? bp->buy_fees * (sold / held) : 0;
        hydra_bt_trade tr;
        memset(&tr, 0, sizeof tr);
        copy_str(tr.bot_id, sizeof tr.bot_id, b->slot.cfg->bot_id);
        copy_str(tr.symbol, sizeof tr.symbol, o->symbol);
        tr.entry_ms = bp->p.opened_ms;
        tr.exit_ms = t;
        tr.entry_price = entry;
        tr.exit_price = price;
        tr.qty = sold;
        int left = hydra_position_fill(&bp->p, 1, o->asset_class, mult, o->side, qty, price, fee,
                                       t, &realized);
        tr.pnl = realized - buy_fee_part;
        copy_str(tr.exit_reason, sizeof tr.exit_reason, o->exit_reason);
        bp->buy_fees -= buy_fee_part;
        b->day.realized_pnl += realized;
        if (left == 0)
            *bp = b->pos[--b->npos];
        int rc = push_trade(bt, &tr);
        if (rc != 0)
            return rc;
    }
    b->realized += realized;
    if (logging(bt))
        decision(bt, b->slot.cfg->bot_id, "order_fill",
             "\"client_order_id\":\"%s\",\"symbol\":\"%s\",\"side\":\"%s\",\"qty\":%.10g,"
             "\"price\":%.10g,\"fee\":%.10g,\"realized_pnl\":%.10g",
             o->cid, o->symbol, o->side == HYDRA_SIDE_BUY ? "buy" : "sell", qty, price, fee,
             realized);
    const hydra_plugin *p = b->slot.loaded ? b->slot.inst.plugin.entry : NULL;
    if (p != NULL && p->on_fill != NULL) {
        hydra_fill f = {sizeof f, (uint32_t)o->side, o->symbol, o->cid, qty, price, t};
        p->on_fill(b->slot.inst.bot, &f);
    }
    return 0;
}

/* Applies what the exchange did to one working order; 1 when the order is final. */
static int sync_order(hydra_backtest *bt, bt_order *o, int *rc_out)
{
    hydra_order x;
    hydra_broker_err err;
    err_clear(&err);
    *rc_out = 0;
    if (bt->broker.ops->order_by_client_id(bt->broker.ctx, o->cid, &x, &err) != 0)
        return 1; /* in memory an order cannot go missing; treat it as closed */
    double new_qty = x.filled_qty - o->filled_qty;
    if (new_qty > 1e-12 && isfinite(x.filled_avg_price) && x.filled_avg_price > 0) {
        double fee = x.fee > 0 && x.filled_qty > 0 ? x.fee * (new_qty / x.filled_qty) : 0;
        /* A crypto buy's fee taken in coin: the position grows by what arrived. */
        double got = new_qty - hydra_fee_qty_part(&x, new_qty);
        *rc_out = book_fill(bt, o, got, x.filled_avg_price, fee,
                            x.filled_ms > 0 ? x.filled_ms : bt->now);
        o->filled_qty = x.filled_qty;
    }
    int final = x.status == HYDRA_BOS_FILLED || x.status == HYDRA_BOS_CANCELED ||
                x.status == HYDRA_BOS_EXPIRED || x.status == HYDRA_BOS_REJECTED ||
                x.status == HYDRA_BOS_REPLACED;
    if (final && x.status != HYDRA_BOS_FILLED)
        decision(bt, bt->bots[o->bot].slot.cfg->bot_id, "order_closed",
                 "\"client_order_id\":\"%s\",\"status\":%d", o->cid, x.status);
    return final;
}

static int sync_orders(hydra_backtest *bt)
{
    int first = 0;
    for (size_t i = 0; i < bt->n_work;) {
        int rc = 0;
        if (sync_order(bt, &bt->work[i], &rc)) {
            memmove(&bt->work[i], &bt->work[i + 1], (bt->n_work - i - 1) * sizeof bt->work[0]);
            bt->n_work--;
        } else {
            i++;
        }
        if (rc != 0 && first == 0)
            first = rc;
    }
    return first;
}

static double working_qty(const hydra_backtest *bt, int bot, const char *symbol, int side)
{
    double q = 0;
    for (size_t i = 0; i < bt->n_work; i++) {
        const bt_order *o = &bt->work[i];
        if (o->bot == bot && o->side == side && strcmp(o->symbol, symbol) == 0)
            q += o->qty > 0 ? o->qty - o->filled_qty : 0;
    }
    return q;
}

static void working_entries(hydra_backtest *bt, int bot, int *count, double *risk)
{
    *count = 0;
    *risk = 0;
    if (bt->n_work == 0)
        return; /* the usual case: every bot's snapshot asks */
    const hydra_bot_cfg *cfg = bt->bots[bot].slot.cfg;
    for (size_t i = 0; i < bt->n_work; i++) {
        const bt_order *o = &bt->work[i];
        if (o->bot != bot || o->kind != HYDRA_INTENT_ENTRY)
            continue;
        (*count)++;
        double price = o->limit_price > 0 ? o->limit_price : price_of(bt, o->symbol);
        double notional = o->notional > 0 ? o->notional
                                          : o->qty * (isfinite(price) ? price : 0) *
                                                multiplier_of((unsigned)o->asset_class);
        *risk += hydra_gates_order_risk(cfg, notional);
    }
}

static int orders_since(hydra_backtest *bt, int64_t since)
{
    int n = 0;
    for (size_t i = 0; i < bt->recent_n; i++) {
        size_t k = (bt->recent_head + BT_RECENT - 1 - i) % BT_RECENT;
        if (bt->recent[k] < since)
            break;
        n++;
    }
    return n;
}

/* Journals (in memory) and submits one order, as hydra_orders_submit does live. */
static int submit(hydra_backtest *bt, int bot, const hydra_intent *in, const char *exit_reason,
                  const char *why)
{
    bt_bot *b = &bt->bots[bot];
    const hydra_bot_cfg *cfg = b->slot.cfg;
    if (bt->n_work == BT_MAX_WORK)
        return HYDRA_EFULL;
    bt_order *o = &bt->work[bt->n_work];
    memset(o, 0, sizeof *o);
    /* "<bot>-<yyyymmdd>-<seq>", written without snprintf (an order every few daily bars). */
    char seq[12];
    int ns = 0;
    for (unsigned v = (unsigned)b->seq + 1; v > 0 || ns == 0; v /= 10)
        seq[ns++] = (char)('0' + v % 10);
    size_t nb = strlen(cfg->bot_id);
    if (nb + 1 + 8 + 1 + (size_t)ns >= sizeof o->cid)
        return HYDRA_EINVAL;
    char *p = o->cid;
    memcpy(p, cfg->bot_id, nb);
    p += nb;
    *p++ = '-';
    const int ymd[8] = {0, 1, 2, 3, 5, 6, 8, 9}; /* yyyymmdd out of "yyyy-mm-dd" */
    for (int i = 0; i < 8; i++)
        *p++ = bt->day[ymd[i]];
    *p++ = '-';
    while (ns > 0)
        *p++ = seq[--ns];
    *p = '\0';
    b->seq++;
    o->bot = bot;
    o->kind = (int)in->kind;
    o->side = (int)in->side;
    o->asset_class = (int)in->asset_class;
    copy_str(o->symbol, sizeof o->symbol, in->symbol);
    o->qty = in->qty;
    o->notional = in->notional;
    o->limit_price = in->limit_price;
    o->type = (int)in->type;
    o->created_ms = bt->now;
    copy_str(o->exit_reason, sizeof o->exit_reason, exit_reason);

    hydra_order_request req;
    memset(&req, 0, sizeof req);
    copy_str(req.client_order_id, sizeof req.client_order_id, o->cid);
    copy_str(req.symbol, sizeof req.symbol, in->symbol);
    req.asset_class = in->asset_class;
    req.side = (int)in->side;
    req.type = (int)in->type;
    req.tif = in->tif != 0 ? (int)in->tif : cfg->tif;
    if (in->asset_class == HYDRA_ASSET_OPTION)
        req.tif = HYDRA_TIF_DAY; /* options trade day orders only */
    req.qty = in->qty;
    req.notional = in->notional;
    req.limit_price = in->limit_price;
    bt->recent[bt->recent_head] = bt->now;
    bt->recent_head = (bt->recent_head + 1) % BT_RECENT;
    if (bt->recent_n < BT_RECENT)
        bt->recent_n++;

    hydra_order x;
    hydra_broker_err err;
    err_clear(&err);
    int rc = bt->broker.ops->submit(bt->broker.ctx, &req, &x, &err);
    bt->account_stale = 1;
    b->version++;
    char w[256], e[300];
    if (rc != 0) {
        decision(bt, cfg->bot_id, "order_rejected",
                 "\"client_order_id\":\"%s\",\"symbol\":\"%s\",\"error\":\"%s\"", o->cid,
                 o->symbol, json_text(err.msg, e, sizeof e));
        return rc;
    }
    if (logging(bt))
        decision(bt, cfg->bot_id, "order_submitted",
             "\"client_order_id\":\"%s\",\"symbol\":\"%s\",\"side\":\"%s\",\"type\":\"%s\","
             "\"qty\":%.10g,\"notional\":%.10g,\"limit_price\":%.10g,\"reason\":\"%s\"",
             o->cid, o->symbol, in->side == HYDRA_SIDE_BUY ? "buy" : "sell",
             in->type == HYDRA_ORDER_LIMIT ? "limit" : "market", in->qty, in->notional,
             in->limit_price, json_text(why, w, sizeof w));
    bt->n_work++;
    return 0;
}

/* ---- halt and flatten (ExitBot) ---- */

static void flatten(hydra_backtest *bt, const char *reason)
{
    hydra_broker_err err;
    err_clear(&err);
    bt->broker.ops->cancel_all(bt->broker.ctx, &err);
    bt->account_stale = 1;
    sync_orders(bt);
    for (int i = 0; i < bt->n_bots; i++) {
        bt_bot *b = &bt->bots[i];
        for (size_t k = 0; k < b->npos; k++) {
            const hydra_bot_position *p = &b->pos[k].p;
            if (working_qty(bt, i, p->symbol, HYDRA_SIDE_SELL) >= p->qty - 1e-12)
                continue;
            hydra_intent in;
            memset(&in, 0, sizeof in);
            in.struct_size = sizeof in;
            in.kind = HYDRA_INTENT_EXIT;
            in.side = HYDRA_SIDE_SELL;
            in.type = HYDRA_ORDER_MARKET;
            in.asset_class = (uint32_t)p->asset_class;
            in.tif = p->asset_class == HYDRA_ASSET_CRYPTO ? HYDRA_TIF_GTC : HYDRA_TIF_DAY;
            copy_str(in.symbol, sizeof in.symbol, p->symbol);
            in.qty = p->qty;
            submit(bt, i, &in, "halt", reason);
        }
    }
}

static void halt(hydra_backtest *bt, const char *reason)
{
    char r[300];
    bt->halt_until = bt->now + (int64_t)bt->cfg->exitbot.cooloff_minutes * 60000;
    decision(bt, NULL, "system_halt", "\"reason\":\"%s\"", json_text(reason, r, sizeof r));
    flatten(bt, reason);
}

/* ExitBot's account rules; returns 1 while a halt is active. */
static int exitbot(hydra_backtest *bt)
{
    const hydra_exitbot_cfg *xb = &bt->cfg->exitbot;
    if (bt->halt_until > 0 && bt->now >= bt->halt_until) {
        bt->halt_until = 0;
        decision(bt, NULL, "halt_cleared", "\"reason\":\"expired\"");
    }
    if (bt->halt_until > 0) {
        int any = 0;
        for (int i = 0; i < bt->n_bots; i++)
            any |= bt->bots[i].npos > 0;
        if (any)
            flatten(bt, "halt active: closing remaining positions");
        return 1;
    }
    if (!xb->enabled)
        return 0;
    char why[256];
    const hydra_account *a = &bt->account;
    if (xb->anomaly_halt && (!isfinite(a->equity) || a->equity <= 0)) {
        snprintf(why, sizeof why, "equity is %g", a->equity);
        halt(bt, why);
        return 1;
    }
    if (xb->anomaly_halt && hydra_exitbot_equity_jump(bt->last_equity, a->equity,
                                                      bt->cfg->settings.max_equity_jump_pct, why,
                                                      sizeof why)) {
        halt(bt, why);
        return 1;
    }
    if (xb->max_daily_loss_halt &&
        hydra_exitbot_daily_loss(bt->day_start_equity, a->equity,
                                 bt->cfg->settings.global_max_daily_loss_pct, why, sizeof why)) {
        halt(bt, why);
        return 1;
    }
    return 0;
}

/* ---- the bot's snapshot ---- */

/* The bot's own working orders, as live (ABI 1.1). */
static uint32_t bt_order_views(const hydra_backtest *bt, int bi, hydra_order_view *ord,
                               const hydra_order_view **ord_p)
{
    uint32_t n = 0;
    for (size_t i = 0; i < bt->n_work; i++) {
        const bt_order *o = &bt->work[i];
        if (o->bot != bi)
            continue;
        ord[n] = (hydra_order_view){sizeof ord[n], (uint32_t)o->kind, (uint32_t)o->side,
                                    (uint32_t)o->type, (uint32_t)o->asset_class,
                                    HYDRA_ORDER_VIEW_OPEN, o->cid, o->symbol, o->qty, o->filled_qty,
                                    o->type == HYDRA_ORDER_LIMIT ? o->limit_price : 0,
                                    o->created_ms};
        ord_p[n] = &ord[n];
        n++;
    }
    return n;
}

/* A bot's cancel, as live: only its own working order, cancelled at the exchange by id. */
static void bt_cancel(hydra_backtest *bt, int bi, const hydra_intent *in)
{
    const char *bot_id = bt->bots[bi].slot.cfg->bot_id;
    for (size_t i = 0; i < bt->n_work; i++) {
        const bt_order *o = &bt->work[i];
        if (o->bot != bi || strcmp(o->cid, in->client_order_id) != 0)
            continue;
        hydra_order x;
        hydra_broker_err err;
        err_clear(&err);
        if (bt->broker.ops->order_by_client_id(bt->broker.ctx, o->cid, &x, &err) == 0)
            bt->broker.ops->cancel_order(bt->broker.ctx, x.id, &err);
        bt->account_stale = 1;
        bt->bots[bi].version++;
        decision(bt, bot_id, "bot_cancel", "\"client_order_id\":\"%s\"", o->cid);
        return;
    }
    count_add(bt->bots[bi].stats->rejected, &bt->bots[bi].stats->n_rejected, "cancel");
    char t[300];
    decision(bt, bot_id, "gate_reject",
             "\"source\":\"bot\",\"gate\":\"cancel\",\"client_order_id\":\"%s\","
             "\"detail\":\"not one of the bot's working orders\"",
             json_text(in->client_order_id, t, sizeof t));
}

static bt_bot *find_bot(hydra_backtest *bt, const char *bot_id)
{
    for (int i = 0; i < bt->n_bots; i++)
        if (strcmp(bt->bots[i].slot.cfg->bot_id, bot_id) == 0)
            return &bt->bots[i];
    return NULL;
}

/* hydra.options-chain/1, as the live loop serves it (hydra_loop_option_chain). */
static int svc_option_chain(void *ctx, const char *bot_id, const char *underlying,
                            uint32_t rights, hydra_option_view *out, uint32_t cap)
{
    hydra_backtest *bt = ctx;
    const bt_bot *b = find_bot(bt, bot_id);
    if (b == NULL || b->slot.cfg->asset_class != HYDRA_ASSET_OPTION ||
        !hydra_bot_declares(b->slot.cfg, underlying))
        return HYDRA_EINVAL;
    hydra_broker_err err;
    err_clear(&err);
    return hydra_market_bot_chain(bt->market, &bt->broker, b->slot.cfg, underlying, rights,
                                  bt->lt.date, out, cap, &err);
}

/*
 * Kept out of line: call_bot runs twice a tick and builds at most once, and
 * inlined, this function's registers and stack made every call pay for it
 * (the daily replay measured about 4% faster out of line).
 */
__attribute__((noinline)) static void build_snapshot(hydra_backtest *bt, int bi, int with_chain)
{
    bt_scratch *s = bt->s;
    bt_bot *b = &bt->bots[bi];
    const hydra_bot_cfg *cfg = b->slot.cfg;

    uint32_t ns = 0;
    for (int k = 0; k < cfg->n_symbols; k++) {
        hydra_symbol_view *v = &s->sym[ns];
        *v = (hydra_symbol_view){.struct_size = sizeof *v,
                                 .asset_class = b->asset_class[k],
                                 .symbol = cfg->symbols[k],
                                 .last_price = NAN};
        int si = b->series[k];
        if (si >= 0) {
            size_t end = cursor_at(bt, si);
            size_t n = end < HYDRA_SNAPSHOT_BARS ? end : HYDRA_SNAPSHOT_BARS;
            if (end > 0) {
                v->last_price = bt->series[si].bars[end - 1].close;
                v->last_time_ms = bt->series[si].bars[end - 1].t_ms;
                v->bars = &bt->series[si].bars[end - n];
                v->n_bars = (uint32_t)n;
            }
        }
        s->sym_p[ns++] = v;
    }

    double open_risk = 0;
    for (size_t i = 0; i < b->npos; i++) {
        const hydra_bot_position *p = &b->pos[i].p;
        hydra_position_view_of(p, position_price(bt, &b->pos[i]), &s->pos[i]);
        s->pos_p[i] = &s->pos[i];
        open_risk += hydra_gates_order_risk(cfg, p->qty * p->avg_price * p->multiplier);
    }

    uint32_t no = 0;
    if (cfg->asset_class == HYDRA_ASSET_OPTION && with_chain && !b->slot.inst.host.asks_chain)
        no = hydra_market_snapshot_chain(bt->market, &bt->broker, cfg, bt->lt.date, s->opt,
                                         s->opt_p);

    int working = 0;
    double working_risk = 0;
    working_entries(bt, bi, &working, &working_risk);
    /* Compound literals, not memset: the views are rebuilt for every call of every bot. */
    s->budget = (hydra_budget_view){.struct_size = sizeof s->budget};
    if (b->slot.have_budget) {
        s->budget.max_daily_loss = b->slot.budget.max_daily_loss;
        s->budget.max_open_risk = b->slot.budget.max_open_risk;
        int left = b->slot.budget.max_trades_per_day - b->day.trades;
        s->budget.trades_left_today = left > 0 ? (uint32_t)left : 0;
        s->budget.max_concurrent_positions = (uint32_t)b->slot.budget.max_concurrent_positions;
    }
    s->budget.open_risk_used = open_risk + working_risk;
    s->budget.realized_pnl_today = b->day.realized_pnl;
    s->budget.positions_open = (uint32_t)(b->npos + (size_t)working);
    s->budget.stop_loss_pct = cfg->stop_loss_pct;

    /*
     * Member by member: zeroing the snapshot first (memset or a compound
     * literal) compiles to `rep stos`, which cost more than the rest of
     * the snapshot, for every call of every bot. A member added to the
     * ABI struct (after budget) fails this assert until it is set here too.
     */
    _Static_assert(offsetof(hydra_snapshot, n_orders) + sizeof(uint32_t) + 4 ==
                       sizeof(hydra_snapshot),
                   "hydra_snapshot has a new member: set it here");
    s->snap.struct_size = sizeof s->snap;
    s->snap._reserved = 0;
    s->snap.tick = bt->tick;
    s->snap.now_ms = bt->now;
    s->snap.local_date = bt->lt.date;
    s->snap.local_minute = bt->lt.minute_of_day;
    s->snap.symbols = s->sym_p;
    s->snap.n_symbols = ns;
    s->snap.positions = s->pos_p;
    s->snap.n_positions = (uint32_t)b->npos;
    s->snap.options = s->opt_p;
    s->snap.n_options = no;
    s->snap.budget = &s->budget;
    s->snap.n_orders = bt_order_views(bt, bi, s->ord, s->ord_p);
    s->snap.orders = s->ord_p;

    s->for_bot = bi;
    s->for_tick = bt->tick;
    s->for_version = b->version;
    s->for_chain = with_chain;
}

/*
 * Whether the views still hold this bot's snapshot of this tick: its
 * on_tick call follows its manage call, and when manage asked for nothing
 * (the usual case) the bot's book, budget and prices are as they were, so
 * the snapshot would be rebuilt identical. Another bot's call in between
 * rebuilds the views for that bot, and any order, cancel or fill of this
 * bot changes its version. A bot's views are const, read-only by the ABI.
 */
static int reuse_snapshot(const hydra_backtest *bt, int bi, int with_chain)
{
    const bt_scratch *s = bt->s;
    return s->for_bot == bi && s->for_tick == bt->tick &&
           s->for_version == bt->bots[bi].version && (s->for_chain || !with_chain);
}

/* ---- intents: gates, then the exchange ---- */


static void handle_intent(hydra_backtest *bt, int bi, hydra_intent *in, const char *source,
                          const char *exit_reason)
{
    bt_bot *b = &bt->bots[bi];
    const hydra_bot_cfg *cfg = b->slot.cfg;
    if (in->kind == HYDRA_INTENT_CANCEL) {
        bt_cancel(bt, bi, in);
        return;
    }
    in->asset_class = hydra_symbol_asset_class(in->symbol); /* the host decides, not the bot */
    in->reason[sizeof in->reason - 1] = '\0';

    hydra_gate_facts f;
    memset(&f, 0, sizeof f);
    f.bot = cfg;
    f.budget = b->slot.have_budget ? &b->slot.budget : NULL;
    f.day = &b->day;
    int working = 0;
    double working_risk = 0;
    working_entries(bt, bi, &working, &working_risk);
    f.positions_open = (int)b->npos + working;
    f.open_risk_used = working_risk;
    for (size_t i = 0; i < b->npos; i++)
        f.open_risk_used += hydra_gates_order_risk(
            cfg, b->pos[i].p.qty * b->pos[i].p.avg_price * b->pos[i].p.multiplier);
    f.orders_last_minute = orders_since(bt, bt->now - 60000);
    f.max_orders_per_minute = bt->cfg->settings.max_orders_per_minute;
    unsigned ac = in->asset_class;
    f.last_price = price_of(bt, in->symbol);
    if (ac == HYDRA_ASSET_OPTION && in->side == HYDRA_SIDE_BUY) {
        const hydra_option_quote *q = hydra_market_option(bt->market, in->symbol);
        if (q != NULL)
            f.last_price = q->ask; /* what a buy will pay */
    }
    f.multiplier = multiplier_of(ac);
    f.spendable_cash = hydra_portfolio_spendable_cash(&bt->cfg->portfolio, bt->account.cash,
                                                      bt->account.equity);
    f.max_notional_per_order = bt->cfg->settings.max_notional_per_order;
    f.max_limit_distance_pct = bt->cfg->settings.max_limit_distance_pct;
    f.terse = !logging(bt); /* the detail of a passing intent is only ever logged */
    f.symbol_known = ac == HYDRA_ASSET_OPTION
                         ? hydra_market_offers(bt->market, cfg, in->symbol, bt->lt.date)
                         : hydra_bot_declares(cfg, in->symbol);
    const bt_pos *held = find_pos(b, in->symbol);
    f.held_qty = held != NULL ? held->p.qty : 0;
    f.held_qty -= working_qty(bt, bi, in->symbol, HYDRA_SIDE_SELL);
    if (f.held_qty < 0)
        f.held_qty = 0;

    hydra_gate_result r;
    if (in->kind == HYDRA_INTENT_ENTRY)
        hydra_gates_entry(&f, in, &r);
    else
        hydra_gates_exit(&f, in, &r);
    char t1[300], t2[200];
    if (!r.pass) {
        count_add(b->stats->rejected, &b->stats->n_rejected, r.gate);
        if (logging(bt))
            decision(bt, cfg->bot_id, "gate_reject",
                     "\"source\":\"%s\",\"symbol\":\"%s\",\"gate\":\"%s\",\"detail\":\"%s\","
                     "\"bot_reason\":\"%s\"",
                     source, in->symbol, r.gate, json_text(r.detail, t1, sizeof t1),
                     json_text(in->reason, t2, sizeof t2));
        return;
    }
    if (r.resized) {
        count_add(b->stats->resized, &b->stats->n_resized,
                  r.resized_by[0] != '\0' ? r.resized_by : "quantity");
        if (logging(bt))
            decision(bt, cfg->bot_id, "gate_resized",
                     "\"source\":\"%s\",\"symbol\":\"%s\",\"gate\":\"%s\",\"qty\":%.10g,"
                     "\"notional\":%.10g,\"detail\":\"%s\"",
                     source, in->symbol, r.resized_by, in->qty, in->notional,
                     json_text(r.detail, t1, sizeof t1));
    }
    if (in->type == HYDRA_ORDER_LIMIT && in->notional > 0) {
        /* As live: a limit order is sent as the quantity its notional buys at the limit. */
        in->qty = floor(in->notional / in->limit_price * 1e9) / 1e9;
        in->notional = 0;
    }
    t2[0] = '\0';
    if (logging(bt))
        snprintf(t2, sizeof t2, "%s: %.100s", source, in->reason);
    if (submit(bt, bi, in, exit_reason, t2) != 0)
        return;
    if (in->kind == HYDRA_INTENT_ENTRY) {
        b->day.trades++;
        b->stats->entries++;
    } else {
        b->stats->exits++;
    }
}

static void quarantine(hydra_backtest *bt, bt_bot *b, const char *why)
{
    char w[300];
    if (b->slot.quarantined)
        return;
    b->slot.quarantined = 1;
    copy_str(b->slot.quarantine_reason, sizeof b->slot.quarantine_reason, why);
    decision(bt, b->slot.cfg->bot_id, "bot_quarantined", "\"reason\":\"%s\"",
             json_text(why, w, sizeof w));
}

/*
 * Inlined into each of execute's two passes, each then a copy with
 * `entries` fixed (manage or on_tick): a call a bot and a pass saved, about
 * 2% of a daily replay's instructions.
 */
static inline __attribute__((always_inline)) void call_bot(hydra_backtest *bt, int bi, int entries,
                                                            int with_chain)
{
    bt_scratch *s = bt->s;
    bt_bot *b = &bt->bots[bi];
    const hydra_plugin *p = b->slot.inst.plugin.entry;
    if (!entries || !reuse_snapshot(bt, bi, with_chain))
        build_snapshot(bt, bi, with_chain);
    s->buf = (hydra_intent_buf){.struct_size = sizeof s->buf,
                                .item_size = sizeof(hydra_intent),
                                .capacity = BT_MAX_INTENTS,
                                .items = s->intents};
    int rc = entries ? p->on_tick(b->slot.inst.bot, &s->snap, &s->buf)
                     : p->manage(b->slot.inst.bot, &s->snap, &s->buf);
    char why[256];
    int n = hydra_gates_check_reply(entries ? "on_tick" : "manage", rc, &s->buf, s->intents,
                                    BT_MAX_INTENTS, entries, why, sizeof why);
    if (n < 0) {
        quarantine(bt, b, why);
        return;
    }
    for (int i = 0; i < n; i++)
        handle_intent(bt, bi, &s->intents[i], entries ? "bot_on_tick" : "bot_manage", "signal");
}

/* The live preflight doctrine, without the checks a replay cannot fail (health, market data). */
static const char *preflight(hydra_backtest *bt, bt_bot *b, int halted)
{
    const hydra_bot_cfg *cfg = b->slot.cfg;
    if (halted)
        return "global halt";
    if (!cfg->enabled)
        return "disabled";
    if (!b->slot.loaded)
        return "not loaded";
    if (b->slot.quarantined)
        return "quarantined";
    if (!b->slot.have_budget)
        return "missing budgets";
    if (!b->slot.budget.allowed || !b->slot.budget.enabled)
        return "disallowed";
    if (!(b->slot.budget.max_daily_loss > 0 && b->slot.budget.max_daily_loss < 1e12 &&
          b->slot.budget.max_open_risk > 0 && b->slot.budget.max_open_risk < 1e12))
        return "invalid budgets";
    /*
     * hydra_in_window on the tick's own conversion. A daily-bar bot's window
     * is read in trading days: its bars are stamped at the session close,
     * after any intraday window, and every trading day is inside.
     */
    if (cfg->bar_timeframe != HYDRA_BARS_DAY &&
        (bt->lt.minute_of_day < cfg->trade_start_min || bt->lt.minute_of_day > cfg->trade_end_min))
        return "outside trade window";
    return NULL;
}

/*
 * Counts the preflight's answer for the bot's tick and, with --log all,
 * writes a line only when the answer changes: the new reason, and the one
 * it ends with the number of ticks it lasted (a minute-bar bot outside its
 * window would otherwise write a line a bar).
 */
static void note_preflight(hydra_backtest *bt, bt_bot *b, const char *why)
{
    b->stats->ticks++;
    if (b->skip_run > 0 && why == b->skip_reason) { /* reasons are static strings */
        if (why != NULL)
            b->stats->skipped[b->skip_slot].n++;
        b->skip_run++;
        return;
    }
    if (logging(bt) && (why != NULL || b->skip_run > 0)) {
        char prev[80];
        if (b->skip_run == 0)
            snprintf(prev, sizeof prev, "null");
        else if (b->skip_reason == NULL)
            snprintf(prev, sizeof prev, "\"(none: on_tick called)\"");
        else
            snprintf(prev, sizeof prev, "\"%s\"", b->skip_reason);
        if (why != NULL)
            decision(bt, b->slot.cfg->bot_id, "preflight_skip",
                     "\"reason\":\"%s\",\"previous\":%s,\"previous_ticks\":%llu", why, prev,
                     (unsigned long long)b->skip_run);
        else
            decision(bt, b->slot.cfg->bot_id, "preflight_pass",
                     "\"previous\":%s,\"previous_ticks\":%llu", prev,
                     (unsigned long long)b->skip_run);
    }
    b->skip_reason = why;
    b->skip_run = 1;
    b->skip_slot = why != NULL ? count_add(b->stats->skipped, &b->stats->n_skipped, why) : -1;
}

static void host_exits(hydra_backtest *bt, int bi)
{
    bt_bot *b = &bt->bots[bi];
    if (b->npos == 0)
        return;
    /* hydra_exit_check reads the clock only for flatten_before_close. */
    const hydra_market_clock *mclock =
        b->slot.cfg->flatten_before_close_minutes > 0 ? market_clock(bt) : NULL;
    for (size_t i = 0; i < b->npos; i++) {
        const hydra_bot_position *p = &b->pos[i].p;
        double price = position_price(bt, &b->pos[i]);
        hydra_exit_reason why = hydra_exit_check(b->slot.cfg, p, price, bt->now, mclock);
        if (why == HYDRA_EXIT_NONE)
            continue;
        double working = working_qty(bt, bi, p->symbol, HYDRA_SIDE_SELL);
        if (working >= p->qty - 1e-12)
            continue;
        hydra_intent in;
        memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.kind = HYDRA_INTENT_EXIT;
        in.side = HYDRA_SIDE_SELL;
        in.type = HYDRA_ORDER_MARKET;
        in.tif = p->asset_class == HYDRA_ASSET_CRYPTO ? HYDRA_TIF_GTC : HYDRA_TIF_DAY;
        copy_str(in.symbol, sizeof in.symbol, p->symbol);
        in.qty = p->qty - working;
        snprintf(in.reason, sizeof in.reason, "%s at %.4f (entry %.4f)",
                 hydra_exit_reason_name(why), price, p->avg_price);
        handle_intent(bt, bi, &in, "exit_rule", hydra_exit_reason_name(why));
    }
}

/*
 * Step 5 in the live loop's three passes over the bots in rank order: host
 * exits for every bot, then every manage, then on_tick for every bot whose
 * preflight passes. The options chain is priced for a bot only when it may
 * enter or holds something.
 */
static void execute(hydra_backtest *bt, int halted)
{
    hydra_market_forget_chains(bt->market); /* last tick's prices */
    /*
     * The preflight is asked once: between the passes only a bot's own
     * quarantine (by its manage call) can change its answer.
     */
    int ready[HYDRA_MAX_BOTS];
    for (int i = 0; i < bt->n_bots; i++)
        host_exits(bt, i);
    for (int i = 0; i < bt->n_bots; i++) {
        bt_bot *b = &bt->bots[i];
        const char *why = preflight(bt, b, halted);
        note_preflight(bt, b, why);
        ready[i] = why == NULL;
        int chain = ready[i] || b->npos > 0;
        if (b->slot.loaded && !b->slot.quarantined)
            call_bot(bt, i, 0, chain);
    }
    for (int i = 0; i < bt->n_bots; i++)
        if (ready[i] && !bt->bots[i].slot.quarantined)
            call_bot(bt, i, 1, 1);
}

/* ---- the day and the equity record ---- */

static int record_day(hydra_backtest *bt)
{
    return hydra_bt_record_day(&bt->res, bt->date, bt->now);
}

/* Stores the current equity of the account and of each bot as the current day's point. */
static void mark_equity(hydra_backtest *bt)
{
    hydra_bt_result *r = &bt->res;
    size_t day = r->n_days;
    hydra_bt_record_time(r, bt->now);
    r->equity[0][day] = bt->account.equity;
    int any = 0;
    for (int i = 0; i < bt->n_bots; i++) {
        bt_bot *b = &bt->bots[i];
        double unreal = 0;
        for (size_t k = 0; k < b->npos; k++) {
            const hydra_bot_position *p = &b->pos[k].p;
            double px = position_price(bt, &b->pos[k]);
            if (isfinite(px))
                unreal += (px - p->avg_price) * p->qty * p->multiplier;
        }
        r->equity[1 + i][day] = r->initial_cash + b->realized + unreal;
        if (b->npos > 0) {
            r->exposed_bars[1 + i]++;
            any = 1;
        }
    }
    if (any)
        r->exposed_bars[0]++;
}

/*
 * Bars far behind every reader (a snapshot shows at most
 * HYDRA_SNAPSHOT_BARS; the exchange looks back less) are handed back, so a
 * long replay's resident memory does not grow with the file. They stay
 * readable. The step is a quarter of the series, between 512 and 8,192
 * bars (24 to 384 KB): a handful of calls a series, and a universe of many
 * short series (500 of ten years) does not keep every bar it has passed.
 */
enum { RELEASE_BEHIND = 4 * HYDRA_SNAPSHOT_BARS, RELEASE_MIN = 512, RELEASE_MAX = 8192 };

static size_t release_step(const hydra_series *s)
{
    size_t step = s->n / 4;
    return step < RELEASE_MIN ? RELEASE_MIN : step > RELEASE_MAX ? RELEASE_MAX : step;
}

/* Bars of series si before this have been handed back (release_at is a step past it). */
static size_t released_before(const hydra_backtest *bt, size_t si)
{
    return bt->release_at[si] - release_step(&bt->series[si]) - RELEASE_BEHIND;
}

static void release_history(hydra_backtest *bt)
{
    for (size_t si = 0; si < bt->n_series; si++) {
        size_t k = bt->cursor[si];
        if (k < bt->release_at[si])
            continue;
        bt->release_at[si] = k + release_step(&bt->series[si]);
        hydra_series_release_before(&bt->series[si], k - RELEASE_BEHIND);
    }
}

/*
 * At the end, every page is handed back, what the last searches read in
 * too: the reports read the series again a window at a time.
 */
static void release_all(hydra_backtest *bt)
{
    for (size_t si = 0; si < bt->n_series; si++)
        hydra_series_release_before(&bt->series[si], bt->series[si].n);
}

static const char TWO_DIGITS[32][2] = {
    "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15",
    "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31"};

/*
 * hydra_day_key's text from the tick's own conversion, without snprintf (a
 * rollover a bar on daily bars): the year's four digits are rewritten only
 * when the year changes, the month's and the day's come from a table.
 */
static void day_text(hydra_backtest *bt)
{
    int y = bt->lt.year, m = bt->lt.month, d = bt->lt.day;
    char *p = bt->day;
    if (y < 0 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31) {
        hydra_day_key(bt->now, bt->day, sizeof bt->day);
        bt->day_year = -1;
        return;
    }
    if (y != bt->day_year) {
        p[0] = (char)('0' + y / 1000);
        p[1] = (char)('0' + y / 100 % 10);
        p[2] = (char)('0' + y / 10 % 10);
        p[3] = (char)('0' + y % 10);
        p[4] = '-';
        p[7] = '-';
        p[10] = '\0';
        bt->day_year = y;
    }
    memcpy(p + 5, TWO_DIGITS[m], 2);
    memcpy(p + 8, TWO_DIGITS[d], 2);
}

/*
 * PortfolioBot's budgets for the day, as live: computed from the day's
 * starting equity. They depend on nothing else that changes in a replay
 * (the configuration is fixed), so a day that starts with the equity the
 * last computation had keeps its rows, with the new day's key and time:
 * on daily bars a bot that holds nothing starts most days so.
 */
static void day_budgets(hydra_backtest *bt)
{
    if (!bt->cfg->portfolio.enabled)
        return;
    if (!bt->budgets_valid || bt->budgets_equity != bt->day_start_equity) {
        /* As hydra_portfolio_compute, which is the plan's rows: all of them, or none. */
        int rc = bt->plan_ok ? 0 : HYDRA_EINVAL;
        for (int i = 0; i < bt->n_bots && rc == 0; i++)
            rc = hydra_portfolio_row(&bt->plan, bt->bots[i].slot.cfg, bt->day_start_equity,
                                     bt->day, bt->now, &bt->bots[i].slot.budget);
        bt->budgets_valid = rc == 0;
        bt->budgets_equity = bt->day_start_equity;
        if (rc != 0)
            return; /* asked again the next day, as live */
    }
    for (int i = 0; i < bt->n_bots; i++) {
        bt_bot *b = &bt->bots[i];
        _Static_assert(sizeof b->slot.budget.day == sizeof bt->day, "one day key");
        memcpy(b->slot.budget.day, bt->day, sizeof bt->day);
        b->slot.budget.updated_ms = bt->now;
        b->slot.have_budget = 1;
    }
}

static int rollover(hydra_backtest *bt, int date)
{
    release_history(bt);
    if (read_account(bt) != 0)
        return HYDRA_EIO;
    bt->date = date;
    day_text(bt);
    bt->day_start_equity = bt->account.equity;
    bt->last_equity = bt->account.equity;
    for (int i = 0; i < bt->n_bots; i++) {
        bt_bot *b = &bt->bots[i];
        /* Field by field: a memset of the 256-byte reason is a `rep stos` a bar on daily bars. */
        b->day.trades = 0;
        b->day.realized_pnl = 0;
        b->day.quarantined = 0;
        b->day.quarantine_reason[0] = '\0';
        b->seq = 0;
        b->slot.quarantined = 0;
        b->slot.have_budget = 0;
    }
    day_budgets(bt);
    return record_day(bt);
}

/* One tick, in the order of the live tick. */
static int tick(hydra_backtest *bt)
{
    hydra_local_from_utc(bt->now, &bt->lt);
    bt->tick++;
    bt->account_stale = 1; /* the clock has moved: marks, fills, the day's last_equity */
    /* 1. Bootstrap: rollover, then the journal. */
    int rc = 0;
    if (bt->lt.date != bt->date && (rc = rollover(bt, bt->lt.date)) != 0)
        return rc;
    if ((rc = sync_orders(bt)) != 0)
        return rc;
    /*
     * 2. ExitBot, on the account as it is now (after a rollover, the one
     * it has just read: syncing the journal only reads the exchange).
     */
    if (read_account(bt) != 0)
        return HYDRA_EIO;
    int halted = exitbot(bt);
    bt->last_equity = bt->account.equity;
    /*
     * 3. Budgets were set at the rollover. 4. The market clock and prices
     * are read on demand (market_clock, cursor_at).
     */
    /* 5. Execution. */
    execute(bt, halted);
    /* 6. Finalize: the account after this tick's orders. */
    if (read_account(bt) != 0)
        return HYDRA_EIO;
    mark_equity(bt);
    return 0;
}

/* Positions still open at the end are valued at the last price: a trade with reason end_of_data. */
static int close_out(hydra_backtest *bt)
{
    for (int i = 0; i < bt->n_bots; i++) {
        bt_bot *b = &bt->bots[i];
        for (size_t k = 0; k < b->npos; k++) {
            const bt_pos *bp = &b->pos[k];
            double px = position_price(bt, bp);
            if (!isfinite(px))
                px = bp->p.avg_price;
            hydra_bt_trade tr;
            memset(&tr, 0, sizeof tr);
            copy_str(tr.bot_id, sizeof tr.bot_id, b->slot.cfg->bot_id);
            copy_str(tr.symbol, sizeof tr.symbol, bp->p.symbol);
            tr.entry_ms = bp->p.opened_ms;
            tr.exit_ms = bt->now;
            tr.entry_price = bp->p.avg_price;
            tr.exit_price = px;
            tr.qty = bp->p.qty;
            tr.pnl = (px - bp->p.avg_price) * bp->p.qty * bp->p.multiplier - bp->buy_fees;
            snprintf(tr.exit_reason, sizeof tr.exit_reason, "end_of_data");
            int rc = push_trade(bt, &tr);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* ---- open, run, close ---- */

static int parse_day(const char *s, int end_of_day, int64_t *out)
{
    int y, m, d;
    char extra;
    if (s == NULL || s[0] == '\0')
        return 1;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
        return HYDRA_EINVAL;
    int64_t t = hydra_utc_from_local(y, m, d, 0, 0, 0);
    if (end_of_day)
        t = hydra_utc_from_local(y, m, d, 23, 59, 59) + 999; /* the day's last instant */
    *out = t;
    return 0;
}

/* Loads every configured series, sharing one bar array among series of the same file. */
static int load_series(hydra_backtest *bt, hydra_series *series, char *err, size_t errsz)
{
    const hydra_sim_cfg *sc = &bt->cfg->settings.sim;
    int close_min = 0;
    hydra_parse_hhmm(sc->session_close, &close_min);
    bt->owned = calloc((size_t)sc->n_series + 1, sizeof *bt->owned);
    if (bt->owned == NULL)
        return HYDRA_ENOMEM;
    size_t note = 0;
    for (int i = 0; i < sc->n_series; i++) {
        const hydra_sim_series_cfg *c = &sc->series[i];
        int rc = 0, shared = -1;
        for (int k = 0; k < i && !c->generated; k++)
            if (!sc->series[k].generated && strcmp(sc->series[k].file, c->file) == 0 &&
                strcmp(sc->series[k].timezone, c->timezone) == 0)
                shared = k;
        if (shared >= 0) {
            series[i] = series[shared];
            copy_str(series[i].symbol, sizeof series[i].symbol, c->symbol);
        } else if (c->generated) {
            int64_t t0 = 0;
            int y, mo, d, h, mi;
            if (sscanf(bt->gen_start, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) == 5)
                t0 = hydra_utc_from_local(y, mo, d, 0, 0, 0);
            size_t bars = (size_t)(60LL * 86400 / sc->bar_seconds);
            rc = hydra_series_generate(c->symbol, c->seed, c->start_price, c->drift_pct_per_day,
                                       c->vol_pct_per_day, t0, (int64_t)sc->bar_seconds * 1000,
                                       bars, &series[i]);
            if (rc != 0)
                snprintf(err, errsz, "sim.series[%d] %s: cannot generate: %s", i, c->symbol,
                         hydra_strerror(rc));
        } else {
            rc = hydra_series_load_cached(c->file, c->symbol, c->timezone, close_min,
                                          bt->opt.cache_dir, &series[i], NULL, err, errsz);
        }
        if (rc != 0)
            return rc;
        if (shared < 0) {
            bt->owned[bt->n_owned++] = series[i];
            bt->res.rows_loaded += series[i].n;
        }
        series[i].borrowed = 1;
        if (bt->to_ms > 0) {
            long last = hydra_series_index_at(&series[i], bt->to_ms);
            series[i].n = (size_t)(last + 1);
        }
        int w = snprintf(bt->res.series_note + note, sizeof bt->res.series_note - note,
                         "%s%s = %s", i ? "; " : "", c->symbol, series[i].source);
        if (w > 0 && note + (size_t)w < sizeof bt->res.series_note)
            note += (size_t)w;
    }
    return 0;
}

static int named(const char (*list)[64], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

static int named_symbol(const hydra_backtest_options *o, const char *symbol)
{
    for (int i = 0; i < o->n_only_symbols; i++)
        if (strcmp(o->only_symbols[i], symbol) == 0)
            return 1;
    return 0;
}

/*
 * --bot and --symbol, applied to this backtest's own copy of the
 * configuration before anything is loaded. --bot runs the named bots (even
 * one bots.yaml disables) and no other, so PortfolioBot shares the budget
 * among the bots that run. --symbol keeps only the named series; a bot
 * keeps the symbols that are left and one left with none does not run.
 */
static int apply_filters(hydra_backtest *bt, char *err, size_t errsz)
{
    const hydra_backtest_options *o = &bt->opt;
    hydra_config *cfg = bt->cfg;
    for (int i = 0; i < o->n_only_bots; i++)
        if (hydra_config_find_bot(cfg, o->only_bots[i]) == NULL) {
            snprintf(err, errsz, "--bot %s: no bot with that id in %s/bots.yaml", o->only_bots[i],
                     o->config_dir);
            return HYDRA_EINVAL;
        }
    if (o->n_only_bots > 0)
        for (int i = 0; i < cfg->n_bots; i++)
            cfg->bots[i].enabled = named(o->only_bots, o->n_only_bots, cfg->bots[i].bot_id);
    if (o->n_only_symbols == 0)
        return 0;
    hydra_sim_cfg *sc = &cfg->settings.sim;
    for (int i = 0; i < o->n_only_symbols; i++) {
        int found = 0;
        for (int k = 0; k < sc->n_series; k++)
            found |= strcmp(sc->series[k].symbol, o->only_symbols[i]) == 0;
        if (!found) {
            snprintf(err, errsz, "--symbol %s: no series with that symbol in %s/settings.yaml",
                     o->only_symbols[i], o->config_dir);
            return HYDRA_EINVAL;
        }
    }
    int n = 0;
    for (int k = 0; k < sc->n_series; k++)
        if (named_symbol(o, sc->series[k].symbol))
            sc->series[n++] = sc->series[k];
    sc->n_series = n;
    for (int i = 0; i < cfg->n_bots; i++) {
        hydra_bot_cfg *b = &cfg->bots[i];
        int kept = 0;
        for (int k = 0; k < b->n_symbols; k++)
            if (named_symbol(o, b->symbols[k]))
                memmove(b->symbols[kept++], b->symbols[k], sizeof b->symbols[k]);
        b->n_symbols = kept;
        if (kept == 0) {
            if (b->enabled && named(o->only_bots, o->n_only_bots, b->bot_id)) {
                snprintf(err, errsz, "--bot %s trades none of the --symbol series", b->bot_id);
                return HYDRA_EINVAL;
            }
            b->enabled = 0;
        }
    }
    return 0;
}

static int load_bots(hydra_backtest *bt, char *err, size_t errsz)
{
    hydra_config *cfg = bt->cfg;
    bt->bots = calloc((size_t)(cfg->n_bots > 0 ? cfg->n_bots : 1), sizeof *bt->bots);
    if (bt->bots == NULL)
        return HYDRA_ENOMEM;
    /* Rank order, highest first, ties by id: the live loop's order. */
    int order[HYDRA_MAX_BOTS];
    for (int i = 0; i < cfg->n_bots; i++)
        order[i] = i;
    for (int i = 1; i < cfg->n_bots; i++)
        for (int j = i; j > 0; j--) {
            const hydra_bot_cfg *a = &cfg->bots[order[j - 1]], *b = &cfg->bots[order[j]];
            if (a->rank > b->rank || (a->rank == b->rank && strcmp(a->bot_id, b->bot_id) <= 0))
                break;
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int i = 0; i < cfg->n_bots; i++) {
        const hydra_bot_cfg *c = &cfg->bots[order[i]];
        if (!c->enabled)
            continue;
        bt_bot *b = &bt->bots[bt->n_bots];
        b->slot.cfg = c;
        for (int k = 0; k < c->n_symbols; k++) {
            b->series[k] = series_index(bt, c->symbols[k]);
            b->asset_class[k] = hydra_symbol_asset_class(c->symbols[k]);
        }
        int rc = hydra_bot_load(&b->slot.inst, bt->opt.plugins_dir, c, &bt->svc, err, errsz);
        if (rc != 0)
            return rc;
        b->slot.loaded = 1;
        bt->n_bots++;
    }
    return 0;
}

int hydra_backtest_open(const hydra_backtest_options *opt, hydra_backtest **out, char *err,
                        size_t errsz, int *exit_code)
{
    int rc = HYDRA_ENOMEM;
    hydra_series *series = NULL;
    *out = NULL;
    *exit_code = 1;
    hydra_backtest *bt = calloc(1, sizeof *bt);
    if (bt == NULL)
        return HYDRA_ENOMEM;
    bt->opt = *opt;
    bt->day_year = -1; /* no year's digits written yet */
    bt->cfg = calloc(1, sizeof *bt->cfg);
    bt->s = calloc(1, sizeof *bt->s);
    bt->market = calloc(1, sizeof *bt->market);
    if (bt->cfg == NULL || bt->s == NULL || bt->market == NULL)
        goto fail;

    *exit_code = 2;
    rc = hydra_config_load_msg(opt->config_dir, bt->cfg, err, errsz);
    if (rc == 0 && opt->configure != NULL)
        rc = opt->configure(opt->configure_ctx, bt->cfg, err, errsz);
    if (rc != 0)
        goto fail;
    hydra_tz_set(bt->cfg->settings.timezone);
    if ((rc = apply_filters(bt, err, errsz)) != 0)
        goto fail;
    hydra_sim_cfg *sc = &bt->cfg->settings.sim;
    snprintf(sc->db_path, sizeof sc->db_path, ":memory:");
    if (opt->cash >= 0)
        sc->initial_cash = opt->cash;
    if (opt->fee_per_share >= 0)
        sc->fee_per_share = opt->fee_per_share;
    if (opt->slippage_bps >= 0)
        sc->slippage_bps = opt->slippage_bps;
    if (!(sc->initial_cash > 0)) {
        snprintf(err, errsz, "--cash: the initial cash must be positive");
        rc = HYDRA_EINVAL;
        goto fail;
    }
    bt->res.initial_cash = sc->initial_cash;
    int rf = parse_day(opt->from, 0, &bt->from_ms), rt = parse_day(opt->to, 1, &bt->to_ms);
    if (rf < 0 || rt < 0) {
        snprintf(err, errsz, "--%s: expected a date YYYY-MM-DD, got \"%s\"", rf < 0 ? "from" : "to",
                 rf < 0 ? opt->from : opt->to);
        rc = HYDRA_EINVAL;
        goto fail;
    }
    if (bt->from_ms > 0 && bt->to_ms > 0 && bt->to_ms < bt->from_ms) {
        snprintf(err, errsz, "--to %s is before --from %s", opt->to, opt->from);
        rc = HYDRA_EINVAL;
        goto fail;
    }
    /* Generated series start at the configured replay start, as live. */
    copy_str(bt->gen_start, sizeof bt->gen_start, sc->start);
    /* The replay starts at --from (earlier bars are history the bots see), else at the data. */
    if (rf == 0) {
        hydra_local_time lt;
        hydra_local_from_utc(bt->from_ms, &lt);
        snprintf(sc->start, sizeof sc->start, "%04d-%02d-%02d 00:00", lt.year, lt.month, lt.day);
    } else {
        sc->start[0] = '\0';
    }

    int64_t t0 = hydra_monotonic_us();
    series = calloc((size_t)sc->n_series + 1, sizeof *series);
    if (series == NULL) {
        rc = HYDRA_ENOMEM;
        goto fail;
    }
    if ((rc = load_series(bt, series, err, errsz)) != 0)
        goto fail;
    bt->res.load_us = hydra_monotonic_us() - t0;
    hydra_clock_init_sim(&bt->clock, 0);
    rc = hydra_sim_open(sc, series, (size_t)sc->n_series, &bt->clock, &bt->sim, err, errsz);
    if (rc != 0)
        goto fail;
    bt->broker = hydra_sim_broker(bt->sim);
    hydra_sim_forget_closed_orders(bt->sim); /* the backtest reads an order's end within a tick */
    bt->series = hydra_sim_series(bt->sim, &bt->n_series);
    bt->res.series = bt->series;
    bt->res.n_series = bt->n_series;
    bt->cursor = calloc(bt->n_series + 1, sizeof *bt->cursor);
    bt->cursors_ms = INT64_MIN; /* moved at the first read */
    bt->release_at = calloc(bt->n_series + 1, sizeof *bt->release_at);
    if (bt->cursor == NULL || bt->release_at == NULL) {
        rc = HYDRA_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < bt->n_series; i++)
        bt->release_at[i] = RELEASE_BEHIND + release_step(&bt->series[i]);

    bt->svc.log = svc_log;
    bt->svc.kv_get = svc_kv_get;
    bt->svc.kv_set = svc_kv_set;
    bt->svc.option_chain = svc_option_chain;
    bt->svc.ctx = bt;
    if (opt->out_dir[0] != '\0') {
        if (mkdir(opt->out_dir, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errsz, "%s: cannot create the output directory: %s", opt->out_dir,
                     strerror(errno));
            rc = HYDRA_EIO;
            goto fail;
        }
        if (opt->log_all) {
            char path[HYDRA_PATH_LEN + 32];
            snprintf(path, sizeof path, "%s/decisions.jsonl", opt->out_dir);
            bt->decisions = fopen(path, "w");
            if (bt->decisions == NULL) {
                snprintf(err, errsz, "%s: %s", path, strerror(errno));
                rc = HYDRA_EIO;
                goto fail;
            }
        }
    }
    bt->plan_ok = hydra_portfolio_plan_make(bt->cfg, &bt->plan) == 0;
    if ((rc = load_bots(bt, err, errsz)) != 0)
        goto fail;
    bt->res.n_bots = bt->n_bots;
    bt->res.bot_ids = calloc((size_t)bt->n_bots + 1, sizeof *bt->res.bot_ids);
    bt->res.exposed_bars = calloc((size_t)bt->n_bots + 1, sizeof *bt->res.exposed_bars);
    if (bt->res.bot_ids == NULL || bt->res.exposed_bars == NULL) {
        rc = HYDRA_ENOMEM;
        goto fail;
    }
    bt->res.bot_stats = calloc((size_t)bt->n_bots + 1, sizeof *bt->res.bot_stats);
    if (bt->res.bot_stats == NULL) {
        rc = HYDRA_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < bt->n_bots; i++) {
        const hydra_bot_cfg *c = bt->bots[i].slot.cfg;
        hydra_bt_bot_stats *st = &bt->res.bot_stats[i];
        copy_str(bt->res.bot_ids[i], sizeof bt->res.bot_ids[i], c->bot_id);
        bt->bots[i].stats = st;
        bt->bots[i].skip_slot = -1;
        st->trade_start_min = c->trade_start_min;
        st->trade_end_min = c->trade_end_min;
        st->bar_timeframe = c->bar_timeframe;
        st->max_trades_per_day = c->max_trades_per_day;
        st->max_concurrent = c->max_concurrent_positions;
    }
    bt->res.max_daily_loss_pct = bt->cfg->settings.global_max_daily_loss_pct;
    bt->res.max_notional_per_order = bt->cfg->settings.max_notional_per_order;
    bt->res.cash_reserve_pct = bt->cfg->portfolio.cash_reserve_pct;
    bt->res.max_orders_per_minute = bt->cfg->settings.max_orders_per_minute;
    free(series);
    *exit_code = 0;
    *out = bt;
    return 0;
fail:
    free(series);
    hydra_backtest_close(bt);
    return rc != 0 ? rc : HYDRA_EINVAL;
}

int hydra_backtest_run(hydra_backtest *bt, char *err, size_t errsz)
{
    /* The span's bars, for the progress report: the longest series inside it. */
    uint64_t total = 0;
    for (size_t i = 0; i < bt->n_series; i++) {
        long a = bt->from_ms > 0 ? hydra_series_index_at(&bt->series[i], bt->from_ms) + 1 : 0;
        uint64_t n = bt->series[i].n - (size_t)a;
        if (n > total)
            total = n;
    }
    int64_t t0 = hydra_monotonic_us(), first_ms = 0;
    int rc = 0;
    for (;;) {
        rc = hydra_sim_step(bt->sim);
        if (rc == HYDRA_EEOF) {
            rc = 0;
            break;
        }
        if (rc != 0)
            break;
        bt->now = hydra_clock_now_ms(&bt->clock);
        if (bt->to_ms > 0 && bt->now > bt->to_ms)
            break;
        if ((rc = tick(bt)) != 0)
            break;
        if (bt->res.bars++ == 0)
            first_ms = bt->now;
        if (bt->opt.progress != NULL && (bt->res.bars & 0xffff) == 0)
            bt->opt.progress(bt->opt.progress_ctx, bt->res.bars, total);
    }
    if (rc == 0)
        rc = close_out(bt);
    bt->res.replay_us = hydra_monotonic_us() - t0;
    /*
     * Searched from near the answers (the replay's released mark for the
     * last tick, the start for the first), so that a mapped series' middle,
     * handed back long ago, is not read in again.
     */
    for (size_t i = 0; bt->res.bars > 0 && i < bt->n_series; i++)
        bt->res.series_bars +=
            (uint64_t)(hydra_series_index_near(&bt->series[i], released_before(bt, i), bt->now) -
                       hydra_series_index_near(&bt->series[i], 0, first_ms - 1));
    release_all(bt);
    if (bt->opt.progress != NULL)
        bt->opt.progress(bt->opt.progress_ctx, bt->res.bars, total);
    if (bt->decisions != NULL && fflush(bt->decisions) != 0 && rc == 0)
        rc = HYDRA_EIO;
    if (rc != 0)
        snprintf(err, errsz, "backtest stopped at tick %llu: %s", (unsigned long long)bt->tick,
                 hydra_strerror(rc));
    return rc;
}

const hydra_bt_result *hydra_backtest_result(const hydra_backtest *bt)
{
    return &bt->res;
}

void hydra_backtest_close(hydra_backtest *bt)
{
    if (bt == NULL)
        return;
    for (int i = 0; i < bt->n_bots; i++)
        if (bt->bots[i].slot.loaded)
            hydra_bot_unload(&bt->bots[i].slot.inst);
    free(bt->bots);
    if (bt->sim != NULL)
        hydra_sim_close(bt->sim);
    for (size_t i = 0; i < bt->n_owned; i++)
        hydra_series_free(&bt->owned[i]);
    free(bt->owned);
    free(bt->cursor);
    free(bt->release_at);
    for (size_t i = 0; i < bt->n_kv; i++)
        free(bt->kv[i].value);
    free(bt->kv);
    if (bt->decisions != NULL)
        fclose(bt->decisions);
    free(bt->res.bot_ids);
    free(bt->res.bot_stats);
    hydra_bt_record_free(&bt->res);
    free(bt->res.exposed_bars);
    free(bt->res.trades);
    free(bt->s);
    if (bt->market != NULL)
        hydra_market_free(bt->market);
    free(bt->market);
    free(bt->cfg);
    free(bt);
}
