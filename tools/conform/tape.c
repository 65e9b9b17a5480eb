/*
 * The synthetic market. Prices follow a seeded random walk whose drift
 * switches between up, down and flat regimes, so momentum bots see signals
 * in both directions; bars close once a minute. Every number is derived
 * from the seed, so the same seed always gives the same tape.
 */
#define _GNU_SOURCE
#include "tape.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define TAPE_MAX_SYMBOLS HYDRA_MAX_BOT_SYMBOLS
#define TAPE_MAX_POSITIONS 64
#define TAPE_MAX_OPTIONS 2048
#define TAPE_WARM_BARS 80        /* history before the first tick, enough for long lookbacks */
#define TAPE_HUGE_WARM_BARS 100000
#define TAPE_WINDOW 120          /* bars shown per symbol */
#define TAPE_TICKS_PER_DAY 100   /* the budget's day */
#define TAPE_HOLD_TICKS 25       /* the host's time stop */
#define TAPE_START_MS 1709563200000LL /* 2024-03-04 14:40 UTC, 06:40 in the market zone used below */
#define TAPE_ZONE_OFFSET_MS (-8LL * 3600 * 1000)
#define TAPE_OCC_LEN 32

typedef struct tape_symbol {
    char symbol[HYDRA_SYMBOL_LEN];
    uint32_t asset_class;   /* of the symbol itself (an option bot's underlyings are equities) */
    int underlying;         /* 1: an option chain is generated around it */
    hydra_bar *bars;        /* warm + n_ticks bars */
    unsigned char *bad;     /* per tick: 1 when the fault hits this tick's price */
    hydra_bar *window;      /* the bars shown, copied so faults do not touch the history */
} tape_symbol;

typedef struct tape_position {
    char symbol[TAPE_OCC_LEN + HYDRA_SYMBOL_LEN];
    uint32_t asset_class;
    double qty;
    double entry;
    int64_t opened_ms;
    int opened_tick;
} tape_position;

struct conform_tape {
    hydra_bot_cfg cfg;
    int fault;
    int n_ticks;
    int warm;
    tape_symbol sym[TAPE_MAX_SYMBOLS];
    int n_sym;
    /* positions and budget, moved by fills */
    tape_position pos[TAPE_MAX_POSITIONS];
    int n_pos;
    int trades_today;
    int day;
    int tick;
    /* the snapshot under construction */
    hydra_symbol_view views[TAPE_MAX_SYMBOLS];
    const hydra_symbol_view *view_ptrs[TAPE_MAX_SYMBOLS];
    hydra_position_view pviews[TAPE_MAX_POSITIONS];
    const hydra_position_view *pview_ptrs[TAPE_MAX_POSITIONS];
    hydra_option_view *opts;
    const hydra_option_view **opt_ptrs;
    char (*opt_sym)[TAPE_OCC_LEN];
    int n_opts;
    /* working orders the bot did not place in this run (ABI 1.1), e.g. from before a restart */
    hydra_order_view oviews[2];
    const hydra_order_view *oview_ptrs[2];
    char ocid[2][48];
    hydra_budget_view budget;
    hydra_snapshot snap;
};

uint64_t conform_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double uniform(uint64_t *s)
{
    return ((double)(conform_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(uint64_t *s)
{
    double u1 = uniform(s), u2 = uniform(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- the intent buffer --------------------------------------------------- */

int conform_buf_open(conform_buf *b, uint32_t capacity, uint32_t item_size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (size_t)capacity * item_size;
    size_t data_pages = (data + page - 1) / page;
    unsigned char *map;

    memset(b, 0, sizeof *b);
    if (data_pages == 0)
        data_pages = 1;
    b->map_len = (data_pages + 1) * page;
    map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return -1;
    /* The page after the data is the guard: any byte written past the last item faults. */
    if (mprotect(map + data_pages * page, page, PROT_NONE) != 0) {
        munmap(map, b->map_len);
        return -1;
    }
    b->map = map;
    b->items = map + data_pages * page - data;
    b->capacity = capacity;
    b->item_size = item_size;
    conform_buf_reset(b);
    return 0;
}

void conform_buf_reset(conform_buf *b)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    memset(b->map, CONFORM_FILL_BYTE, b->map_len - page);
    b->buf.struct_size = sizeof b->buf;
    b->buf.item_size = b->item_size;
    b->buf.capacity = b->capacity;
    b->buf.count = 0;
    b->buf.items = b->items;
}

int conform_buf_verify(const conform_buf *b, int slack, char *why, size_t whysz)
{
    const unsigned char *p;
    size_t from, to, i;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    if (b->buf.struct_size != sizeof b->buf || b->buf.item_size != b->item_size ||
        b->buf.capacity != b->capacity || b->buf.items != b->items) {
        snprintf(why, whysz, "the bot changed the intent buffer's header (only count is the bot's to change)");
        return -1;
    }
    if (b->buf.count > b->capacity) {
        snprintf(why, whysz, "count %u is beyond capacity %u", (unsigned)b->buf.count,
                 (unsigned)b->capacity);
        return -1;
    }
    if (!slack)
        return 0;
    /* Everything in the data pages outside the pushed items must still hold the fill byte. */
    from = (size_t)((unsigned char *)b->items - b->map);
    to = from + (size_t)b->buf.count * b->item_size;
    for (i = 0; i < b->map_len - page; i++) {
        if (i >= from && i < to)
            continue;
        p = b->map + i;
        if (*p != CONFORM_FILL_BYTE) {
            if (i < from)
                snprintf(why, whysz, "byte %zu before the buffer's first item was written",
                         from - i);
            else
                snprintf(why, whysz,
                         "byte %zu past the last pushed item (count %u, capacity %u, item_size %u) was written",
                         i - to, (unsigned)b->buf.count, (unsigned)b->capacity,
                         (unsigned)b->item_size);
            return -1;
        }
    }
    return 0;
}

void conform_buf_close(conform_buf *b)
{
    if (b->map != NULL)
        munmap(b->map, b->map_len);
    memset(b, 0, sizeof *b);
}

/* ---- building the tape --------------------------------------------------- */

/* A start price that looks like the symbol's market, so sizes are realistic. */
static double start_price(const char *symbol, uint64_t *rng)
{
    static const struct {
        const char *symbol;
        double price;
    } known[] = {{"AAPL", 180}, {"TSLA", 200}, {"SPY", 480}, {"QQQ", 400},
                 {"BTC/USD", 60000}, {"ETH/USD", 3000}};
    size_t i;
    for (i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].symbol, symbol) == 0)
            return known[i].price;
    return 20.0 + 480.0 * uniform(rng);
}

static int64_t bar_time(const conform_tape *t, int k)
{
    int64_t ms = TAPE_START_MS + (int64_t)(k - t->warm) * 60000;
    if (t->fault == TAPE_HUGE)
        ms += 250000000000000LL; /* about the year 9900 */
    if (t->fault == TAPE_BACKWARDS && k >= t->warm) {
        int tick = k - t->warm + 1;
        if (tick > t->n_ticks / 3)
            ms -= 86400000LL; /* the clock is set back a day */
        if (tick % 7 == 0)
            ms -= 180000; /* and now and then a bar is stamped before the previous one */
    }
    return ms;
}

static int gen_symbol(conform_tape *t, tape_symbol *s, uint64_t *rng)
{
    int total = t->warm + t->n_ticks, k;
    double price = start_price(s->symbol, rng), drift = 0.0;
    double scale = t->fault == TAPE_HUGE ? 1e300 / price : 1.0;

    s->bars = calloc((size_t)total, sizeof *s->bars);
    s->bad = calloc((size_t)t->n_ticks + 2, 1);
    s->window = calloc((size_t)total, sizeof *s->window);
    if (s->bars == NULL || s->bad == NULL || s->window == NULL)
        return -1;
    for (k = 0; k < total; k++) {
        double open = price, hi, lo, vol = 0.002;
        /* Regimes of 40 bars: up, flat, down, each strong enough to cross entry thresholds. */
        if (k % 40 == 0) {
            double u = uniform(rng);
            drift = u < 0.4 ? 0.0025 : u < 0.7 ? -0.0025 : 0.0;
        }
        price = price * exp(drift + vol * normal(rng));
        hi = fmax(open, price) * (1.0 + 0.001 * uniform(rng));
        lo = fmin(open, price) * (1.0 - 0.001 * uniform(rng));
        s->bars[k].t_ms = bar_time(t, k);
        s->bars[k].open = open * scale;
        s->bars[k].high = hi * scale;
        s->bars[k].low = lo * scale;
        s->bars[k].close = price * scale;
        s->bars[k].volume = t->fault == TAPE_HUGE ? DBL_MAX * uniform(rng) : 1000.0 + 9000.0 * uniform(rng);
    }
    if (t->fault >= TAPE_NAN && t->fault <= TAPE_NEGATIVE)
        for (k = 1; k <= t->n_ticks; k++)
            s->bad[k] = uniform(rng) < 0.5;
    return 0;
}

conform_tape *conform_tape_new(const hydra_bot_cfg *cfg, uint64_t seed, int n_ticks, int fault)
{
    conform_tape *t = calloc(1, sizeof *t);
    uint64_t rng = seed;
    int i;

    if (t == NULL)
        return NULL;
    t->cfg = *cfg;
    t->fault = fault;
    t->n_ticks = n_ticks;
    t->warm = fault == TAPE_HUGE ? TAPE_HUGE_WARM_BARS : TAPE_WARM_BARS;
    t->opts = calloc(TAPE_MAX_OPTIONS, sizeof *t->opts);
    t->opt_ptrs = calloc(TAPE_MAX_OPTIONS, sizeof *t->opt_ptrs);
    t->opt_sym = calloc(TAPE_MAX_OPTIONS, sizeof *t->opt_sym);
    if (t->opts == NULL || t->opt_ptrs == NULL || t->opt_sym == NULL)
        goto fail;
    for (i = 0; i < cfg->n_symbols && i < TAPE_MAX_SYMBOLS; i++) {
        tape_symbol *s = &t->sym[t->n_sym++];
        snprintf(s->symbol, sizeof s->symbol, "%s", cfg->symbols[i]);
        s->asset_class = strchr(s->symbol, '/') != NULL ? HYDRA_ASSET_CRYPTO : HYDRA_ASSET_EQUITY;
        s->underlying = (cfg->asset_class & HYDRA_ASSET_OPTION) != 0;
        if (gen_symbol(t, s, &rng) != 0)
            goto fail;
    }
    conform_tape_rewind(t);
    return t;

fail:
    conform_tape_free(t);
    return NULL;
}

void conform_tape_free(conform_tape *t)
{
    int i;
    if (t == NULL)
        return;
    for (i = 0; i < t->n_sym; i++) {
        free(t->sym[i].bars);
        free(t->sym[i].bad);
        free(t->sym[i].window);
    }
    free(t->opts);
    free(t->opt_ptrs);
    free(t->opt_sym);
    free(t);
}

void conform_tape_rewind(conform_tape *t)
{
    t->n_pos = 0;
    t->trades_today = 0;
    t->day = 0;
    t->tick = 0;
}

/* ---- one snapshot -------------------------------------------------------- */

static double bad_value(int fault, double price)
{
    switch (fault) {
    case TAPE_NAN:
        return NAN;
    case TAPE_INF:
        return INFINITY;
    case TAPE_NEG_INF:
        return -INFINITY;
    case TAPE_ZERO:
        return 0.0;
    case TAPE_NEGATIVE:
        return -fabs(price);
    default:
        return price;
    }
}

static double norm_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

static const tape_symbol *find_symbol(const conform_tape *t, const char *symbol)
{
    int i;
    for (i = 0; i < t->n_sym; i++)
        if (strcmp(t->sym[i].symbol, symbol) == 0)
            return &t->sym[i];
    return NULL;
}

/* Adds days to a yyyymmdd date. */
static int32_t add_days(int32_t date, int days, int *yy, int *mm, int *dd)
{
    struct tm tm;
    time_t when;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = date / 10000 - 1900;
    tm.tm_mon = date / 100 % 100 - 1;
    tm.tm_mday = date % 100 + days;
    tm.tm_hour = 12;
    when = timegm(&tm);
    gmtime_r(&when, &tm);
    *yy = tm.tm_year % 100;
    *mm = tm.tm_mon + 1;
    *dd = tm.tm_mday;
    return (int32_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
}

/*
 * The chain around one underlying: strikes in steps around the last good
 * price, three expiries, calls and puts, priced with Black-Scholes and
 * filtered by the bot's chain rules the way the host filters them.
 */
static void gen_chain(conform_tape *t, const tape_symbol *s, double spot, int bad_tick, uint64_t *rng)
{
    static const int dtes[] = {10, 24, 38};
    const double iv = 0.25, rate = 0.04;
    double step = spot < 50 ? 1.0 : spot < 200 ? 2.5 : 5.0;
    double base = round(spot / step) * step;
    size_t e;
    int k, call;

    if (!(spot > 0.0) || !isfinite(spot) || spot > 1e12)
        step = spot * 0.01, base = spot;
    for (e = 0; e < sizeof dtes / sizeof dtes[0]; e++) {
        int yy, mm, dd;
        int32_t expiry = add_days(t->snap.local_date, dtes[e], &yy, &mm, &dd);
        double tt = dtes[e] / 365.0;
        for (k = -6; k <= 6; k++) {
            double strike = base + k * step;
            double d1, d2, price, delta, milli;
            if (!(strike > 0.0))
                continue;
            d1 = (log(spot / strike) + (rate + iv * iv / 2) * tt) / (iv * sqrt(tt));
            d2 = d1 - iv * sqrt(tt);
            for (call = 1; call >= 0; call--) {
                hydra_option_view *o;
                if (t->n_opts >= TAPE_MAX_OPTIONS)
                    return;
                if (call) {
                    price = spot * norm_cdf(d1) - strike * exp(-rate * tt) * norm_cdf(d2);
                    delta = norm_cdf(d1);
                } else {
                    price = strike * exp(-rate * tt) * norm_cdf(-d2) - spot * norm_cdf(-d1);
                    delta = norm_cdf(d1) - 1.0;
                }
                if (t->cfg.delta_max > 0.0 &&
                    (fabs(delta) < t->cfg.delta_min || fabs(delta) > t->cfg.delta_max))
                    continue;
                if (t->cfg.dte_max > 0 && (dtes[e] < t->cfg.dte_min || dtes[e] > t->cfg.dte_max))
                    continue;
                o = &t->opts[t->n_opts];
                memset(o, 0, sizeof *o);
                /* OCC: root, YYMMDD, C or P, strike in thousandths on 8 digits (capped for huge tapes). */
                milli = strike * 1000.0;
                snprintf(t->opt_sym[t->n_opts], TAPE_OCC_LEN, "%.6s%02d%02d%02d%c%08lld", s->symbol, yy,
                         mm, dd, call ? 'C' : 'P',
                         milli < 99999999.0 ? (long long)llround(milli) : 99999999LL);
                o->struct_size = sizeof *o;
                o->is_call = (uint32_t)call;
                o->symbol = t->opt_sym[t->n_opts];
                o->underlying = s->symbol;
                o->strike = strike;
                o->expiry_yyyymmdd = expiry;
                o->dte = dtes[e];
                o->bid = fmax(price * 0.98, 0.01);
                o->ask = fmax(price * 1.02, 0.02);
                o->iv = iv;
                o->delta = delta;
                o->multiplier = 100;
                if (bad_tick && uniform(rng) < 0.25) {
                    o->bid = bad_value(t->fault, o->bid);
                    o->ask = bad_value(t->fault, o->ask);
                }
                t->opt_ptrs[t->n_opts] = o;
                t->n_opts++;
            }
        }
    }
}

/* The price of a held symbol now: the underlying's last close, or the contract's mid. */
static double position_price(const conform_tape *t, const char *symbol)
{
    const tape_symbol *s = find_symbol(t, symbol);
    int i;
    if (s != NULL)
        return t->views[s - t->sym].last_price;
    for (i = 0; i < t->n_opts; i++)
        if (strcmp(t->opts[i].symbol, symbol) == 0)
            return (t->opts[i].bid + t->opts[i].ask) / 2.0;
    return 0.0;
}

static int usable(double price);

const hydra_snapshot *conform_tape_snapshot(conform_tape *t, int tick)
{
    hydra_snapshot *snap = &t->snap;
    uint64_t rng = 0x5eed0000ULL + (uint64_t)tick * 7919u;
    int i, day;
    int64_t local;
    struct tm tm;
    time_t secs;
    double risk_used = 0.0;

    t->tick = tick;
    memset(snap, 0, sizeof *snap);
    snap->struct_size = sizeof *snap;
    snap->tick = t->fault == TAPE_HUGE ? UINT64_MAX / 2 + (uint64_t)tick : (uint64_t)tick;
    snap->now_ms = bar_time(t, t->warm + tick - 1) + 60000;
    local = snap->now_ms + TAPE_ZONE_OFFSET_MS;
    secs = (time_t)(local / 1000);
    gmtime_r(&secs, &tm);
    snap->local_date = (int32_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
    snap->local_minute = tm.tm_hour * 60 + tm.tm_min;

    day = (tick - 1) / TAPE_TICKS_PER_DAY;
    if (day != t->day) {
        t->day = day;
        t->trades_today = 0;
    }

    t->n_opts = 0;
    for (i = 0; i < t->n_sym; i++) {
        tape_symbol *s = &t->sym[i];
        hydra_symbol_view *v = &t->views[i];
        int avail = t->warm + tick;
        int window = t->fault == TAPE_HUGE ? avail : avail < TAPE_WINDOW ? avail : TAPE_WINDOW;
        hydra_bar *w = s->window;
        double good = s->bars[avail - 1].close;

        memcpy(w, s->bars + (avail - window), (size_t)window * sizeof *w);
        memset(v, 0, sizeof *v);
        v->struct_size = sizeof *v;
        v->asset_class = s->asset_class;
        v->symbol = s->symbol;
        v->last_price = good;
        v->last_time_ms = snap->now_ms;
        v->bars = w;
        v->n_bars = (uint32_t)window;
        /* Half the bad ticks spoil only the quote and leave the bars fine, as a feed glitch does. */
        if (s->bad[tick]) {
            double bad = bad_value(t->fault, good);
            hydra_bar *last = &w[window - 1];
            v->last_price = bad;
            if (uniform(&rng) < 0.5) {
                last->open = bad_value(t->fault, last->open);
                last->high = bad_value(t->fault, last->high);
                last->low = bad_value(t->fault, last->low);
                last->close = bad;
                /* Sometimes an older bar is bad too, so averages over the window see it. */
                if (uniform(&rng) < 0.25) {
                    hydra_bar *b = &w[(size_t)(uniform(&rng) * window)];
                    b->close = bad_value(t->fault, b->close);
                }
                if (uniform(&rng) < 0.125)
                    last->volume = bad_value(t->fault, last->volume);
            }
        }
        t->view_ptrs[i] = v;
        if (s->underlying)
            gen_chain(t, s, good, s->bad[tick], &rng);
    }
    snap->symbols = t->n_sym > 0 ? t->view_ptrs : NULL;
    snap->n_symbols = (uint32_t)t->n_sym;
    snap->options = t->n_opts > 0 ? t->opt_ptrs : NULL;
    snap->n_options = (uint32_t)t->n_opts;

    for (i = 0; i < t->n_pos; i++) {
        const tape_position *p = &t->pos[i];
        hydra_position_view *pv = &t->pviews[i];
        double price = position_price(t, p->symbol);
        double mult = p->asset_class == HYDRA_ASSET_OPTION ? 100.0 : 1.0;
        memset(pv, 0, sizeof *pv);
        pv->struct_size = sizeof *pv;
        pv->asset_class = p->asset_class;
        pv->symbol = p->symbol;
        pv->qty = p->qty;
        pv->avg_entry_price = p->entry;
        pv->current_price = price;
        pv->unrealized_pl = (price - p->entry) * p->qty * mult;
        pv->opened_ms = p->opened_ms;
        t->pview_ptrs[i] = pv;
        risk_used += t->cfg.stop_loss_pct > 0.0 ? p->entry * p->qty * mult * t->cfg.stop_loss_pct / 100.0
                                                : p->entry * p->qty * mult;
    }
    snap->positions = t->n_pos > 0 ? t->pview_ptrs : NULL;
    snap->n_positions = (uint32_t)t->n_pos;

    memset(&t->budget, 0, sizeof t->budget);
    t->budget.struct_size = sizeof t->budget;
    if (t->fault == TAPE_HUGE) {
        t->budget.max_daily_loss = DBL_MAX;
        t->budget.max_open_risk = DBL_MAX;
        t->budget.trades_left_today = UINT32_MAX;
        t->budget.max_concurrent_positions = UINT32_MAX;
    } else {
        int left = t->cfg.max_trades_per_day - t->trades_today;
        t->budget.max_daily_loss = 1000.0;
        t->budget.max_open_risk = 5000.0;
        t->budget.trades_left_today = left > 0 ? (uint32_t)left : 0;
        t->budget.max_concurrent_positions =
            t->cfg.max_concurrent_positions > 0 ? (uint32_t)t->cfg.max_concurrent_positions : 1;
    }
    t->budget.open_risk_used = risk_used;
    t->budget.positions_open = (uint32_t)t->n_pos;
    t->budget.stop_loss_pct = t->cfg.stop_loss_pct;
    snap->budget = &t->budget;

    /*
     * Working orders (ABI 1.1): every 5th tick a limit entry the bot did not
     * place in this run (journaled before a restart), every 7th a host exit
     * on a position the bot may no longer hold. A bot must tolerate both.
     */
    uint32_t no = 0;
    if (t->n_sym > 0 && t->fault != TAPE_HUGE) {
        const hydra_symbol_view *sv = &t->views[0];
        double px = usable(sv->last_price) ? sv->last_price : 1.0;
        if (tick % 5 == 0) {
            snprintf(t->ocid[no], sizeof t->ocid[no], "conform-earlier-%d", tick);
            t->oviews[no] = (hydra_order_view){sizeof(hydra_order_view), HYDRA_INTENT_ENTRY,
                                               HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT, sv->asset_class,
                                               HYDRA_ORDER_VIEW_OPEN, t->ocid[no], sv->symbol, 1.0,
                                               0.0, px * 0.97, snap->now_ms - 5 * 60000};
            no++;
        }
        if (tick % 7 == 0) {
            snprintf(t->ocid[no], sizeof t->ocid[no], "conform-host-exit-%d", tick);
            t->oviews[no] = (hydra_order_view){sizeof(hydra_order_view), HYDRA_INTENT_EXIT,
                                               HYDRA_SIDE_SELL, HYDRA_ORDER_MARKET, sv->asset_class,
                                               HYDRA_ORDER_VIEW_PENDING, t->ocid[no], sv->symbol,
                                               1.0, 0.0, 0.0, snap->now_ms};
            no++;
        }
    }
    for (uint32_t k = 0; k < no; k++)
        t->oview_ptrs[k] = &t->oviews[k];
    snap->orders = no > 0 ? t->oview_ptrs : NULL;
    snap->n_orders = no;
    return snap;
}

int conform_tape_price_bad(const conform_tape *t, int tick, const char *symbol)
{
    const tape_symbol *s = find_symbol(t, symbol);
    if (tick < 1 || tick > t->n_ticks)
        return 0;
    if (s != NULL)
        return s->bad[tick];
    return 0;
}

/* ---- fills --------------------------------------------------------------- */

void conform_tape_fill(conform_tape *t, const hydra_intent *in)
{
    const tape_symbol *s = find_symbol(t, in->symbol);
    double price = 0.0, qty;
    int i;

    if (in->kind == HYDRA_INTENT_CANCEL)
        return; /* nothing fills; the tape's orders are drawn afresh each tick */

    if (s != NULL) {
        price = t->views[s - t->sym].last_price;
    } else {
        for (i = 0; i < t->n_opts; i++)
            if (strcmp(t->opts[i].symbol, in->symbol) == 0)
                price = in->side == HYDRA_SIDE_BUY ? t->opts[i].ask : t->opts[i].bid;
    }
    if (!(price > 0.0) || !isfinite(price))
        return; /* the exchange rejects what it cannot price */
    qty = in->qty > 0.0 ? in->qty : in->notional / price;
    if (!(qty > 0.0) || !isfinite(qty))
        return;
    for (i = 0; i < t->n_pos; i++)
        if (strcmp(t->pos[i].symbol, in->symbol) == 0)
            break;
    if (in->side == HYDRA_SIDE_BUY) {
        if (i == t->n_pos) {
            if (t->n_pos >= TAPE_MAX_POSITIONS)
                return;
            memset(&t->pos[i], 0, sizeof t->pos[i]);
            snprintf(t->pos[i].symbol, sizeof t->pos[i].symbol, "%s", in->symbol);
            t->pos[i].asset_class = in->asset_class;
            t->pos[i].opened_ms = t->snap.now_ms;
            t->pos[i].opened_tick = t->tick;
            t->n_pos++;
        }
        t->pos[i].entry = (t->pos[i].entry * t->pos[i].qty + price * qty) / (t->pos[i].qty + qty);
        t->pos[i].qty += qty;
        if (in->kind == HYDRA_INTENT_ENTRY)
            t->trades_today++;
    } else if (i < t->n_pos) {
        t->pos[i].qty -= qty;
        if (t->pos[i].qty <= 1e-9) {
            t->pos[i] = t->pos[t->n_pos - 1];
            t->n_pos--;
        }
    }
}

void conform_tape_end_tick(conform_tape *t, int tick)
{
    int i = 0;
    /* The host's time stop closes what the bot has held too long, so slots free up again. */
    while (i < t->n_pos) {
        if (tick - t->pos[i].opened_tick >= TAPE_HOLD_TICKS) {
            t->pos[i] = t->pos[t->n_pos - 1];
            t->n_pos--;
        } else {
            i++;
        }
    }
}

/* ---- intent rules -------------------------------------------------------- */

void conform_intent_describe(const hydra_intent *in, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s %s %s %s qty %g notional %g limit %g",
             in->kind == HYDRA_INTENT_ENTRY ? "entry" : in->kind == HYDRA_INTENT_EXIT ? "exit"
                                     : in->kind == HYDRA_INTENT_CANCEL ? "cancel" : "kind?",
             in->side == HYDRA_SIDE_BUY ? "buy" : in->side == HYDRA_SIDE_SELL ? "sell" : "side?",
             in->type == HYDRA_ORDER_MARKET ? "market" : in->type == HYDRA_ORDER_LIMIT ? "limit" : "type?",
             in->symbol, in->qty, in->notional, in->limit_price);
}

int conform_intent_raw_check(const hydra_intent_buf *buf, uint32_t i, char *why, size_t whysz)
{
    const unsigned char *item = (const unsigned char *)buf->items + (size_t)i * buf->item_size;
    uint32_t size;
    memcpy(&size, item, sizeof size);
    if (size < offsetof(hydra_intent, limit_price) + sizeof(double) || size > buf->item_size) {
        snprintf(why, whysz, "intent %u has struct_size %u (an intent needs %zu to %u bytes)",
                 (unsigned)i, (unsigned)size, offsetof(hydra_intent, limit_price) + sizeof(double),
                 (unsigned)buf->item_size);
        return -1;
    }
    if (memchr(item + offsetof(hydra_intent, symbol), '\0', sizeof(((hydra_intent *)0)->symbol)) == NULL) {
        snprintf(why, whysz, "intent %u's symbol is not NUL-terminated within its 48 bytes", (unsigned)i);
        return -1;
    }
    if (size >= offsetof(hydra_intent, reason) + sizeof(((hydra_intent *)0)->reason) &&
        memchr(item + offsetof(hydra_intent, reason), '\0', sizeof(((hydra_intent *)0)->reason)) == NULL) {
        snprintf(why, whysz, "intent %u's reason is not NUL-terminated within its 96 bytes", (unsigned)i);
        return -1;
    }
    return 0;
}

static const hydra_symbol_view *snap_symbol(const hydra_snapshot *snap, const char *symbol)
{
    uint32_t i;
    for (i = 0; i < snap->n_symbols; i++)
        if (strcmp(snap->symbols[i]->symbol, symbol) == 0)
            return snap->symbols[i];
    return NULL;
}

static const hydra_option_view *snap_option(const hydra_snapshot *snap, const char *symbol)
{
    uint32_t i;
    for (i = 0; i < snap->n_options; i++)
        if (strcmp(snap->options[i]->symbol, symbol) == 0)
            return snap->options[i];
    return NULL;
}

static const hydra_position_view *snap_position(const hydra_snapshot *snap, const char *symbol)
{
    uint32_t i;
    for (i = 0; i < snap->n_positions; i++)
        if (strcmp(snap->positions[i]->symbol, symbol) == 0)
            return snap->positions[i];
    return NULL;
}

static int declared(const hydra_bot_cfg *cfg, const char *symbol)
{
    int i;
    for (i = 0; i < cfg->n_symbols; i++)
        if (strcmp(cfg->symbols[i], symbol) == 0)
            return 1;
    return 0;
}

static int usable(double price)
{
    return price > 0.0 && isfinite(price);
}

int conform_intent_check(const hydra_bot_cfg *cfg, const hydra_snapshot *snap, int from_manage,
                         const hydra_intent *in, char *why, size_t whysz)
{
    const hydra_symbol_view *sv = snap_symbol(snap, in->symbol);
    const hydra_option_view *ov = snap_option(snap, in->symbol);
    const hydra_position_view *pv = snap_position(snap, in->symbol);
    uint32_t want_class;

    if (in->kind == HYDRA_INTENT_CANCEL) {
        /* A bot cancels only its own working orders: one its snapshot shows. */
        if (memchr(in->client_order_id, '\0', sizeof in->client_order_id) == NULL)
            return snprintf(why, whysz, "cancel intent's client_order_id is not NUL-terminated"), -1;
        for (uint32_t k = 0; k < snap->n_orders; k++)
            if (strcmp(snap->orders[k]->client_order_id, in->client_order_id) == 0)
                return 0;
        return snprintf(why, whysz, "cancel of \"%.60s\", which is not one of the bot's working orders",
                        in->client_order_id), -1;
    }
    if (in->kind != HYDRA_INTENT_ENTRY && in->kind != HYDRA_INTENT_EXIT)
        return snprintf(why, whysz, "kind %u is not an intent kind", (unsigned)in->kind), -1;
    if (from_manage && in->kind != HYDRA_INTENT_EXIT)
        return snprintf(why, whysz, "manage pushed an entry (manage may only exit)"), -1;
    if (in->side != HYDRA_SIDE_BUY && in->side != HYDRA_SIDE_SELL)
        return snprintf(why, whysz, "side %u is not buy or sell", (unsigned)in->side), -1;
    if (in->type != HYDRA_ORDER_MARKET && in->type != HYDRA_ORDER_LIMIT)
        return snprintf(why, whysz, "order type %u is not market or limit", (unsigned)in->type), -1;
    if (in->tif > HYDRA_TIF_IOC)
        return snprintf(why, whysz, "tif %u is not a time in force", (unsigned)in->tif), -1;
    if (in->asset_class != HYDRA_ASSET_EQUITY && in->asset_class != HYDRA_ASSET_CRYPTO &&
        in->asset_class != HYDRA_ASSET_OPTION)
        return snprintf(why, whysz, "asset class %u is not one asset class", (unsigned)in->asset_class), -1;

    if (ov != NULL)
        want_class = HYDRA_ASSET_OPTION;
    else if (sv != NULL && declared(cfg, in->symbol))
        want_class = sv->asset_class;
    else if (pv != NULL)
        want_class = pv->asset_class;
    else if (declared(cfg, in->symbol))
        want_class = strchr(in->symbol, '/') != NULL ? HYDRA_ASSET_CRYPTO : HYDRA_ASSET_EQUITY;
    else
        return snprintf(why, whysz,
                        "unknown symbol \"%s\" (not declared, not held, not in the option chain)",
                        in->symbol), -1;
    if (in->asset_class != want_class)
        return snprintf(why, whysz, "asset class %u for %s, which is %u", (unsigned)in->asset_class,
                        in->symbol, (unsigned)want_class), -1;

    if (!isfinite(in->qty) || !isfinite(in->notional) || in->qty < 0.0 || in->notional < 0.0)
        return snprintf(why, whysz, "qty %g and notional %g must be finite and not negative", in->qty,
                        in->notional), -1;
    if ((in->qty > 0.0) == (in->notional > 0.0))
        return snprintf(why, whysz, "exactly one of qty (%g) and notional (%g) must be positive", in->qty,
                        in->notional), -1;
    if (!isfinite(in->limit_price) || in->limit_price < 0.0)
        return snprintf(why, whysz, "limit price %g is not a finite price", in->limit_price), -1;
    if (in->type == HYDRA_ORDER_LIMIT && !(in->limit_price > 0.0))
        return snprintf(why, whysz, "a limit order without a positive limit price"), -1;

    if (in->kind == HYDRA_INTENT_ENTRY) {
        int priced;
        if (in->side != HYDRA_SIDE_BUY)
            return snprintf(why, whysz, "an entry that sells (v1 bots do not short)"), -1;
        if (ov != NULL)
            priced = usable(ov->ask);
        else
            priced = sv != NULL && (usable(sv->last_price) ||
                                    (sv->n_bars > 0 && usable(sv->bars[sv->n_bars - 1].close)));
        if (!priced)
            return snprintf(why, whysz, "an entry for %s while the snapshot has no valid price for it",
                            in->symbol), -1;
    } else {
        if (in->side != HYDRA_SIDE_SELL)
            return snprintf(why, whysz, "an exit that buys (v1 bots hold long positions only)"), -1;
        if (pv == NULL)
            return snprintf(why, whysz, "an exit for %s, which the bot does not hold", in->symbol), -1;
        if (in->qty > pv->qty * (1.0 + 1e-9))
            return snprintf(why, whysz, "an exit of %g %s while the bot holds %g", in->qty, in->symbol,
                            pv->qty), -1;
    }
    return 0;
}
