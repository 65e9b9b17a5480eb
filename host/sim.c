#define _GNU_SOURCE
#include "sim.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

#define MS_PER_DAY 86400000LL
#define YEAR_MS (365.0 * (double)MS_PER_DAY)
#define OPTION_MULTIPLIER 100
#define CHAIN_MAX_DAYS 60
#define CHAIN_STRIKE_RANGE 0.15
#define QTY_EPS 1e-9
#define MONEY_EPS 1e-9
#define SCHEMA_VERSION 2

/* db_save's statements, prepared once per connection: a save runs every step. */
enum {
    SAVE_BEGIN,
    SAVE_ACCOUNT,
    SAVE_POS_CLEAR,
    SAVE_POS_INSERT,
    SAVE_ORDER,
    SAVE_COMMIT,
    SAVE_N
};

/* An order as the exchange keeps it: the public record plus what it holds back. */
typedef struct sim_order {
    hydra_order o;
    long long seq;   /* submission number; orders are kept and listed in this order */
    double reserved; /* cash held back from buying power while a buy works */
    double held_qty; /* position held back from other sells while a sell works */
    int trade_date;  /* market-zone yyyymmdd of the first bar after submission; 0 before it */
    int dirty;       /* changed since the last save */
    hydra_sim_order_ext x; /* stop and trailing fields, end times, replace chain */
    int triggered;   /* a stop_limit whose stop was reached: a limit order from then on */
    double cls_close; /* a cls order: the close of the latest bar of its session so far */
    int closed_days; /* changes of trading day seen since it stopped working (forget mode) */
} sim_order;

typedef struct sim_position {
    char symbol[48];
    unsigned asset_class;
    double qty;
    double avg_entry;
    const hydra_series *series; /* a stock's or pair's own series, found once; NULL for options */
} sim_position;

/* An option contract named by an OCC symbol, tied to the series of its underlying. */
typedef struct sim_contract {
    char root[8];
    int expiry;
    int is_call;
    double strike;
    const hydra_series *under;
    int64_t expiry_ms; /* session close on the expiry date, market zone */
} sim_contract;

/* A weekday's regular session: days since 1970-01-01 (local date), open and close in UTC ms. */
typedef struct sim_session {
    long day;
    int64_t open, close;
} sim_session;

struct hydra_sim {
    hydra_sim_cfg cfg;
    hydra_series *series;
    size_t n_series;
    hydra_clock *clock;
    int64_t now;
    int open_min, close_min;
    double cash;
    double last_equity;
    uint64_t id_salt; /* makes order ids unique to this account; 0 in memory */
    int day; /* market-zone yyyymmdd of the last trading-day change */
    int forget_closed; /* hydra_sim_forget_closed_orders */
    long long next_seq;
    sim_position *pos; /* sorted by symbol */
    size_t n_pos, cap_pos;
    size_t n_option_pos; /* positions in options: settle_expired has nothing to do without one */
    sim_order *orders; /* every accepted order, in submission order */
    size_t n_orders, cap_orders;
    size_t *work; /* indices of working orders, in submission order */
    size_t n_work, cap_work;
    sqlite3 *db; /* NULL when nothing is kept (":memory:") */
    sqlite3_stmt *save[SAVE_N]; /* prepared on the first save */
    int pos_dirty;         /* positions changed since the last save */
    char dberr[200];
    /*
     * client_order_id -> 1 + index into orders in the low 32 bits (0 = empty
     * slot), the id's hash in the high 32: a probe compares the hash first,
     * so it touches an order (a cache miss each) only when the id is likely
     * it. Open addressing.
     */
    uint64_t *cid_index;
    size_t cid_cap;     /* a power of two, at least twice the orders indexed */
    size_t cid_indexed; /* orders[0 .. cid_indexed) are in the index */
    /*
     * Per series, the last answer of first_after: a cache, not state (never
     * saved, rebuilt by any bisection), so const functions may update it.
     */
    size_t *cursor;
    /*
     * The sessions the clock answers from: the first weekday on or after
     * the local date `sessions_today`, and the weekday after it. A cache
     * keyed by that date and the zone's generation; on a daily series every
     * step is a new date, and today's session is yesterday's next one.
     */
    long sessions_today;
    unsigned sessions_zone;
    sim_session cur_session, next_session;
    /*
     * equity_now's last answer: the account is read several times a bar and
     * the day's last equity once a day, mostly at one clock with the same
     * book. Keyed by the clock, by book_gen (bumped by every change of cash
     * or of a position) and by the zone (an option's expiry is a market-zone
     * time). A cache, not state: never saved.
     */
    unsigned long long book_gen;
    int equity_valid;
    int64_t equity_now_ms;
    unsigned long long equity_gen;
    unsigned equity_zone;
    double equity;
};

/* Copies src into dst, cut to fit (snprintf's "%s" without its cost). */
static void copy_bounded(char *dst, size_t dstsz, const char *src)
{
    size_t n = strnlen(src, dstsz - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- Black-Scholes ------------------------------------------------------- */

static double norm_cdf(double x)
{
    /* erfc keeps full relative accuracy in the far tails, unlike 1 + erf. */
    return 0.5 * erfc(-x / M_SQRT2);
}

static double norm_pdf(double x)
{
    return exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

static int bs_args_ok(double S, double K, double r, double sigma, double T)
{
    return isfinite(S) && isfinite(K) && isfinite(r) && isfinite(sigma) && isfinite(T) && S > 0 &&
           K > 0;
}

double hydra_bs_price(int is_call, double S, double K, double r, double sigma, double T)
{
    if (!bs_args_ok(S, K, r, sigma, T))
        return NAN;
    if (T <= 0)
        return is_call ? fmax(0.0, S - K) : fmax(0.0, K - S);
    double disc_k = K * exp(-r * T);
    if (sigma <= 0)
        return is_call ? fmax(0.0, S - disc_k) : fmax(0.0, disc_k - S);
    double sd = sigma * sqrt(T);
    double d1 = (log(S / K) + (r + 0.5 * sigma * sigma) * T) / sd;
    double d2 = d1 - sd;
    if (is_call)
        return S * norm_cdf(d1) - disc_k * norm_cdf(d2);
    return disc_k * norm_cdf(-d2) - S * norm_cdf(-d1);
}

double hydra_bs_delta(int is_call, double S, double K, double r, double sigma, double T)
{
    if (!bs_args_ok(S, K, r, sigma, T))
        return NAN;
    if (T <= 0 || sigma <= 0) {
        double forward_itm = T <= 0 ? S > K : S > K * exp(-r * T);
        return is_call ? forward_itm : forward_itm - 1.0;
    }
    double d1 = (log(S / K) + (r + 0.5 * sigma * sigma) * T) / (sigma * sqrt(T));
    return is_call ? norm_cdf(d1) : norm_cdf(d1) - 1.0;
}

/*
 * Gamma per dollar, theta per calendar day and vega per volatility point
 * (0.01), the units option chains are usually quoted in. Zero at and after
 * expiry.
 */
static void bs_greeks(int is_call, double S, double K, double r, double sigma, double T,
                      double *gamma, double *theta, double *vega)
{
    *gamma = *theta = *vega = 0;
    if (!bs_args_ok(S, K, r, sigma, T) || T <= 0 || sigma <= 0)
        return;
    double sq = sqrt(T);
    double d1 = (log(S / K) + (r + 0.5 * sigma * sigma) * T) / (sigma * sq);
    double d2 = d1 - sigma * sq;
    double pdf = norm_pdf(d1), disc_k = K * exp(-r * T);
    *gamma = pdf / (S * sigma * sq);
    *vega = S * pdf * sq / 100.0;
    double decay = -S * pdf * sigma / (2.0 * sq);
    double carry = is_call ? -r * disc_k * norm_cdf(d2) : r * disc_k * norm_cdf(-d2);
    *theta = (decay + carry) / 365.0;
}

/* ---- dates and times ----------------------------------------------------- */

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */

static int date_from_days(long z)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp + (mp < 10 ? 3 : -9);
    return (int)((y + (m <= 2)) * 10000 + m * 100 + d);
}

/* 0 = Sunday, as struct tm. 1970-01-01 was a Thursday. */
static int weekday_of_days(long days)
{
    long w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

/*
 * UTC ms of a market-zone minute of day on a date. The zone's last span is
 * remembered by the clock (hydra_utc_from_local_day), so this is cheap;
 * the clock's sessions are kept in the sim itself (sessions_at).
 */
static int64_t session_ms(int yyyymmdd, int minute_of_day)
{
    return hydra_utc_from_local_day((long)hydra_days_from_date(yyyymmdd), minute_of_day);
}

/* The session of weekday d (days since 1970-01-01, local date). */
static sim_session session_on(const hydra_sim *sim, long d)
{
    return (sim_session){d, hydra_utc_from_local_day(d, sim->open_min),
                         hydra_utc_from_local_day(d, sim->close_min)};
}

/* Brings cur_session and next_session to the local day `today`. */
static void sessions_at(hydra_sim *sim, long today)
{
    unsigned zone = hydra_tz_generation();
    if (sim->sessions_zone == zone && sim->sessions_today == today && sim->cur_session.day != 0)
        return;
    /*
     * The first weekday on or after today and the weekday after it, from
     * today's weekday alone: Saturday and Sunday lead to Monday, Friday's
     * next is Monday.
     */
    int wd = weekday_of_days(today);
    long first = wd == 6 ? today + 2 : wd == 0 ? today + 1 : today;
    long after = first + (wd == 5 ? 3 : 1);
    if (sim->sessions_zone == zone && sim->next_session.day == first && first != 0)
        sim->cur_session = sim->next_session;
    else
        sim->cur_session = session_on(sim, first);
    sim->next_session = session_on(sim, after);
    sim->sessions_today = today;
    sim->sessions_zone = zone;
}

/* ---- series -------------------------------------------------------------- */

static const hydra_series *find_series(const hydra_sim *sim, const char *symbol)
{
    for (size_t i = 0; i < sim->n_series; i++)
        if (strcmp(sim->series[i].symbol, symbol) == 0)
            return &sim->series[i];
    return NULL;
}

#define CURSOR_WALK 8

/* first_after's walk from the cursor, or its bisection: kept out of line, off the usual path. */
static __attribute__((noinline)) size_t first_after_walk(const hydra_series *s, size_t *cursor,
                                                         int64_t t)
{
    size_t k = *cursor;
    for (int i = 0; i < CURSOR_WALK && k < s->n && s->bars[k].t_ms <= t; i++)
        k++;
    for (int i = 0; i < CURSOR_WALK && k > 0 && s->bars[k - 1].t_ms > t; i++)
        k--;
    if ((k < s->n && s->bars[k].t_ms <= t) || (k > 0 && s->bars[k - 1].t_ms > t))
        k = (size_t)(hydra_series_index_at(s, t) + 1);
    *cursor = k;
    return k;
}

/*
 * Index of the first bar stamped after t (s->n when none is); s is one of
 * the sim's series. The clock moves a bar at a time and every step asks
 * about the same few instants, so each series walks from its last answer
 * (a bisection of a million bars per question was most of a replay's
 * step); a jump of more than a few bars either way is bisected. The two
 * usual answers, the same bar as last time and the one after it, are
 * checked inline.
 */
static inline size_t first_after(const hydra_sim *sim, const hydra_series *s, int64_t t)
{
    size_t *cursor = &sim->cursor[s - sim->series];
    size_t k = *cursor;
    if ((k == s->n || s->bars[k].t_ms > t) && (k == 0 || s->bars[k - 1].t_ms <= t))
        return k; /* the same as last time */
    if (k < s->n && s->bars[k].t_ms <= t && (k + 1 == s->n || s->bars[k + 1].t_ms > t)) {
        *cursor = k + 1; /* the clock moved one bar on */
        return k + 1;
    }
    return first_after_walk(s, cursor, t);
}

/* The latest bar stamped <= t, or NULL before the first bar. */
static const hydra_bar *bar_at(const hydra_sim *sim, const hydra_series *s, int64_t t)
{
    size_t i = first_after(sim, s, t);
    return i == 0 ? NULL : &s->bars[i - 1];
}

/* ---- options ------------------------------------------------------------- */

/*
 * The strike grid, roughly 1% of the underlying's price rounded to the
 * increments listed options use: 0.50 below $25, 1 below $200, 5 below
 * $1000, 10 above.
 */
static double strike_increment(double price)
{
    if (price < 25)
        return 0.5;
    if (price < 200)
        return 1;
    if (price < 1000)
        return 5;
    return 10;
}

static void strike_range(double price, double inc, long *lo, long *hi)
{
    *lo = (long)ceil(price * (1.0 - CHAIN_STRIKE_RANGE) / inc - 1e-9);
    *hi = (long)floor(price * (1.0 + CHAIN_STRIKE_RANGE) / inc + 1e-9);
    if (*lo < 1)
        *lo = 1;
}

static int contract_parse(const hydra_sim *sim, const char *symbol, sim_contract *c)
{
    if (hydra_occ_parse(symbol, c->root, sizeof c->root, &c->expiry, &c->is_call, &c->strike) != 0)
        return HYDRA_EINVAL;
    c->under = find_series(sim, c->root);
    if (c->under == NULL || hydra_symbol_asset_class(c->root) != HYDRA_ASSET_EQUITY)
        return HYDRA_ENOTFOUND;
    c->expiry_ms = session_ms(c->expiry, sim->close_min);
    return 0;
}

static double years_to_expiry(const sim_contract *c, int64_t t)
{
    return (double)(c->expiry_ms - t) / YEAR_MS;
}

static double option_model(const hydra_sim *sim, const sim_contract *c, double S, int64_t t)
{
    return hydra_bs_price(c->is_call, S, c->strike, sim->cfg.option_rate, sim->cfg.option_iv,
                          years_to_expiry(c, t));
}

static void option_bid_ask(const hydra_sim *sim, double model, double *bid, double *ask)
{
    double half = sim->cfg.option_spread_pct / 200.0;
    *bid = model * (1.0 - half);
    *ask = model * (1.0 + half);
}

/*
 * Whether the generated chain lists a contract right now: its expiry is a
 * Friday no more than 60 days out whose close is still ahead, and its strike
 * is on the grid within +-15% of the underlying's last price.
 */
static int contract_listed(const hydra_sim *sim, const sim_contract *c, double under_price)
{
    long today = hydra_local_days(sim->now);
    long exp_days = (long)hydra_days_from_date(c->expiry);
    if (weekday_of_days(exp_days) != 5 || exp_days - today > CHAIN_MAX_DAYS ||
        c->expiry_ms <= sim->now)
        return 0;
    double inc = strike_increment(under_price);
    double steps = c->strike / inc;
    if (fabs(steps - round(steps)) > 1e-9)
        return 0;
    long lo, hi;
    strike_range(under_price, inc, &lo, &hi);
    long i = lround(steps);
    return i >= lo && i <= hi;
}

/* ---- account ------------------------------------------------------------- */

static double multiplier_of(unsigned asset_class)
{
    return asset_class == HYDRA_ASSET_OPTION ? OPTION_MULTIPLIER : 1;
}

/*
 * The mark of a position at the clock: the last close for equities and
 * crypto, the Black-Scholes value (mid) at the underlying's last close for
 * options. Without any price yet, the entry price.
 */
static double mark_price(const hydra_sim *sim, const sim_position *p)
{
    if (p->asset_class == HYDRA_ASSET_OPTION) {
        sim_contract c;
        if (contract_parse(sim, p->symbol, &c) != 0)
            return p->avg_entry;
        const hydra_bar *b = bar_at(sim, c.under, sim->now);
        return b == NULL ? p->avg_entry : option_model(sim, &c, b->close, sim->now);
    }
    const hydra_bar *b = p->series == NULL ? NULL : bar_at(sim, p->series, sim->now);
    return b == NULL ? p->avg_entry : b->close;
}

/* Cash plus every position at its mark, remembered in the sim (equity_now). */
static __attribute__((noinline)) double equity_mark(hydra_sim *sim, unsigned zone)
{
    double eq = sim->cash;
    for (size_t i = 0; i < sim->n_pos; i++) {
        const sim_position *p = &sim->pos[i];
        eq += p->qty * mark_price(sim, p) * multiplier_of(p->asset_class);
    }
    sim->equity_valid = 1;
    sim->equity_now_ms = sim->now;
    sim->equity_gen = sim->book_gen;
    sim->equity_zone = zone;
    sim->equity = eq;
    return eq;
}

static inline double equity_now(hydra_sim *sim)
{
    unsigned zone = hydra_tz_generation();
    if (sim->equity_valid && sim->equity_now_ms == sim->now && sim->equity_gen == sim->book_gen &&
        sim->equity_zone == zone)
        return sim->equity;
    return equity_mark(sim, zone);
}

static double reserved_total(const hydra_sim *sim)
{
    double r = 0;
    for (size_t i = 0; i < sim->n_work; i++)
        r += sim->orders[sim->work[i]].reserved;
    return r;
}

static double held_by_sells(const hydra_sim *sim, const char *symbol)
{
    double h = 0;
    for (size_t i = 0; i < sim->n_work; i++) {
        const sim_order *so = &sim->orders[sim->work[i]];
        if (strcmp(so->o.symbol, symbol) == 0)
            h += so->held_qty;
    }
    return h;
}

static sim_position *find_position(hydra_sim *sim, const char *symbol)
{
    for (size_t i = 0; i < sim->n_pos; i++)
        if (strcmp(sim->pos[i].symbol, symbol) == 0)
            return &sim->pos[i];
    return NULL;
}

/* Adds a position in symbol order, so listings never depend on trade order. */
static sim_position *add_position(hydra_sim *sim, const char *symbol, unsigned asset_class)
{
    if (sim->n_pos == sim->cap_pos) {
        size_t cap = sim->cap_pos ? sim->cap_pos * 2 : 16;
        sim_position *p = realloc(sim->pos, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        sim->pos = p;
        sim->cap_pos = cap;
    }
    size_t at = 0;
    while (at < sim->n_pos && strcmp(sim->pos[at].symbol, symbol) < 0)
        at++;
    memmove(&sim->pos[at + 1], &sim->pos[at], (sim->n_pos - at) * sizeof *sim->pos);
    sim->n_pos++;
    sim_position *p = &sim->pos[at];
    memset(p, 0, sizeof *p);
    copy_bounded(p->symbol, sizeof p->symbol, symbol);
    p->asset_class = asset_class;
    sim->n_option_pos += asset_class == HYDRA_ASSET_OPTION;
    /* Marked every step: the series is looked up here, not by name each time. */
    p->series = asset_class == HYDRA_ASSET_OPTION ? NULL : find_series(sim, symbol);
    sim->pos_dirty = 1;
    sim->book_gen++;
    return p;
}

static void remove_position(hydra_sim *sim, sim_position *p)
{
    size_t at = (size_t)(p - sim->pos);
    sim->n_option_pos -= p->asset_class == HYDRA_ASSET_OPTION;
    memmove(&sim->pos[at], &sim->pos[at + 1], (sim->n_pos - at - 1) * sizeof *sim->pos);
    sim->n_pos--;
    sim->pos_dirty = 1;
    sim->book_gen++;
}

/* ---- orders -------------------------------------------------------------- */

static int is_working(int status)
{
    return status == HYDRA_BOS_NEW || status == HYDRA_BOS_PARTIALLY_FILLED;
}

static void finish_order(sim_order *so, int status, int64_t t)
{
    so->o.status = status;
    if (status == HYDRA_BOS_CANCELED)
        so->x.canceled_ms = t;
    else if (status == HYDRA_BOS_EXPIRED)
        so->x.expired_ms = t;
    so->reserved = 0;
    so->held_qty = 0;
    so->dirty = 1;
}

/* Drops orders that are no longer working from the working list. */
static void compact_work(hydra_sim *sim)
{
    size_t k = 0;
    for (size_t i = 0; i < sim->n_work; i++)
        if (is_working(sim->orders[sim->work[i]].o.status))
            sim->work[k++] = sim->work[i];
    sim->n_work = k;
}

/*
 * Forget mode, at a change of trading day: orders closed two day changes
 * ago go; the rest keep their submission order, the working list and the
 * client-id index are rebuilt over the new positions.
 */
static void forget_closed(hydra_sim *sim)
{
    size_t k = 0;
    for (size_t i = 0; i < sim->n_orders; i++) {
        sim_order *so = &sim->orders[i];
        if (!is_working(so->o.status) && ++so->closed_days >= 2)
            continue;
        if (k != i)
            sim->orders[k] = *so;
        k++;
    }
    if (k == sim->n_orders)
        return;
    sim->n_orders = k;
    sim->n_work = 0;
    for (size_t i = 0; i < k; i++)
        if (is_working(sim->orders[i].o.status))
            sim->work[sim->n_work++] = i;
    sim->cid_indexed = SIZE_MAX; /* rebuilt at the next lookup */
}

/* The fee in dollars. A crypto buy pays none: its fee is taken in coin (coin_fee). */
static double fee_for(const hydra_sim *sim, unsigned asset_class, int side, double qty,
                      double gross)
{
    if (asset_class == HYDRA_ASSET_CRYPTO)
        return side == HYDRA_SIDE_BUY ? 0 : gross * sim->cfg.crypto_fee_bps / 10000.0;
    return qty * sim->cfg.fee_per_share;
}

/* The fee a crypto buy of qty coins pays in coin, as Alpaca charges it on the asset received. */
static double coin_fee(const hydra_sim *sim, unsigned asset_class, int side, double qty)
{
    if (asset_class != HYDRA_ASSET_CRYPTO || side != HYDRA_SIDE_BUY)
        return 0;
    return qty * sim->cfg.crypto_fee_bps / 10000.0;
}

/*
 * Books a fill at `price` (per share, coin or contract premium). A notional
 * order becomes qty = notional / price here; a sell never takes more than
 * the position holds (a notional sell filled below the estimate is cut).
 */
static int book_fill(hydra_sim *sim, sim_order *so, double price, int64_t t)
{
    hydra_order *o = &so->o;
    double mult = multiplier_of(o->asset_class);
    double qty = o->qty > 0 ? o->qty : o->notional / (price * mult);
    sim_position *p = find_position(sim, o->symbol);
    if (o->side == HYDRA_SIDE_SELL) {
        if (p == NULL) {
            finish_order(so, HYDRA_BOS_CANCELED, sim->now);
            return 0;
        }
        if (qty > p->qty)
            qty = p->qty;
    }
    double gross = o->notional > 0 && o->side == HYDRA_SIDE_BUY ? o->notional : qty * price * mult;
    double fee = fee_for(sim, o->asset_class, o->side, qty, gross);
    double fee_qty = coin_fee(sim, o->asset_class, o->side, qty);
    sim->pos_dirty = 1;
    sim->book_gen++;
    if (o->side == HYDRA_SIDE_BUY) {
        if (p == NULL && (p = add_position(sim, o->symbol, o->asset_class)) == NULL)
            return HYDRA_ENOMEM;
        double got = qty - fee_qty;
        double total = p->qty + got;
        p->avg_entry = (p->qty * p->avg_entry + got * price) / total;
        p->qty = total;
        sim->cash -= gross + fee;
        /* The coin taken, valued at the fill price: the dollar figure of the fee. */
        fee += fee_qty * price;
    } else {
        p->qty -= qty;
        sim->cash += gross - fee;
        if (p->qty <= QTY_EPS)
            remove_position(sim, p);
    }
    o->filled_qty = qty;
    o->filled_avg_price = price;
    o->fee = fee;
    o->fee_qty = fee_qty;
    o->filled_ms = t;
    finish_order(so, HYDRA_BOS_FILLED, t);
    return 0;
}

/*
 * The price an order fills at on bar b, or 0 when it does not fill there.
 * Equities and crypto: market at the open plus slippage against the taker;
 * a limit when the bar trades through it, at the open if it gapped through.
 * Options: the model quote at the underlying's open; buys at the ask, sells
 * at the bid, a limit only when that quote is at or better than the limit.
 */
/* The stop a trailing order stands at for a water mark. */
static double trail_stop(const sim_order *so, double mark)
{
    int buy = so->o.side == HYDRA_SIDE_BUY;
    if (so->x.trail_price > 0)
        return buy ? mark + so->x.trail_price : mark - so->x.trail_price;
    return buy ? mark * (1.0 + so->x.trail_percent / 100.0)
               : mark * (1.0 - so->x.trail_percent / 100.0);
}

/*
 * Stop, stop_limit and trailing_stop orders on bar b (equities and crypto):
 * the price, or 0 when the order does not fill there. Updates the trigger
 * and the trailing water mark.
 */
static double stop_fill_price(const hydra_sim *sim, sim_order *so, const hydra_bar *b)
{
    const hydra_order *o = &so->o;
    int buy = o->side == HYDRA_SIDE_BUY;
    double slip = sim->cfg.slippage_bps / 10000.0;
    double stop = so->x.stop_price;
    if (o->type == HYDRA_ORDER_STOP_LIMIT && so->triggered) {
        if (buy)
            return b->low <= o->limit_price ? fmin(b->open, o->limit_price) : 0;
        return b->high >= o->limit_price ? fmax(b->open, o->limit_price) : 0;
    }
    int hit = buy ? b->high >= stop : b->low <= stop;
    if (!hit) {
        if (o->type == HYDRA_ORDER_TRAILING_STOP) {
            /* The mark moves after the bar: the bar is judged against the stop it found. */
            double mark = buy ? fmin(so->x.hwm, b->low) : fmax(so->x.hwm, b->high);
            if (mark != so->x.hwm) {
                so->x.hwm = mark;
                so->x.stop_price = trail_stop(so, mark);
                so->dirty = 1;
            }
        }
        return 0;
    }
    double trig = buy ? fmax(b->open, stop) : fmin(b->open, stop);
    if (o->type == HYDRA_ORDER_STOP_LIMIT) {
        so->triggered = 1;
        so->dirty = 1;
        return (buy ? trig <= o->limit_price : trig >= o->limit_price) ? trig : 0;
    }
    return buy ? trig * (1.0 + slip) : trig * (1.0 - slip);
}

static double fill_price(const hydra_sim *sim, sim_order *so, const hydra_bar *b)
{
    const hydra_order *o = &so->o;
    int buy = o->side == HYDRA_SIDE_BUY;
    if (o->asset_class == HYDRA_ASSET_OPTION) {
        sim_contract c;
        if (contract_parse(sim, o->symbol, &c) != 0)
            return 0;
        double bid, ask;
        option_bid_ask(sim, option_model(sim, &c, b->open, b->t_ms), &bid, &ask);
        double px = buy ? ask : bid;
        if (!(px > 0))
            return 0;
        if (o->type == HYDRA_ORDER_LIMIT && (buy ? px > o->limit_price : px < o->limit_price))
            return 0;
        return px;
    }
    double slip = sim->cfg.slippage_bps / 10000.0;
    if (o->type == HYDRA_ORDER_STOP || o->type == HYDRA_ORDER_STOP_LIMIT ||
        o->type == HYDRA_ORDER_TRAILING_STOP)
        return stop_fill_price(sim, so, b);
    if (o->type == HYDRA_ORDER_MARKET)
        return buy ? b->open * (1.0 + slip) : b->open * (1.0 - slip);
    if (buy)
        return b->low <= o->limit_price ? fmin(b->open, o->limit_price) : 0;
    return b->high >= o->limit_price ? fmax(b->open, o->limit_price) : 0;
}

/* Minute of the day of t in the market zone, and whether its date is a weekday. */
static int minute_of(int64_t t, int *weekday)
{
    hydra_local_time lt;
    hydra_local_from_utc(t, &lt);
    int wd = weekday_of_days((long)hydra_days_from_date(lt.date));
    *weekday = wd != 0 && wd != 6;
    return lt.hour * 60 + lt.minute;
}

/* An auction price against a limit: the price, or 0 when a limit order is not met. */
static double auction_price(const sim_order *so, double px)
{
    const hydra_order *o = &so->o;
    if (o->type != HYDRA_ORDER_LIMIT)
        return px;
    return (o->side == HYDRA_SIDE_BUY ? px <= o->limit_price : px >= o->limit_price) ? px : 0;
}

/*
 * opg and cls orders on bar b: opg at the open of the first bar of a
 * session, cls at the close of the last bar of its session. Returns 1 when
 * the order keeps waiting, else 0 (filled or canceled) or an error.
 */
static int auction(hydra_sim *sim, sim_order *so, const hydra_bar *b)
{
    int weekday, mod = minute_of(b->t_ms, &weekday);
    if (so->o.tif == HYDRA_TIF_OPG) {
        if (!weekday || mod < sim->open_min || mod > sim->close_min)
            return 1;
        double px = auction_price(so, b->open);
        if (px > 0)
            return book_fill(sim, so, px, b->t_ms);
        finish_order(so, HYDRA_BOS_CANCELED, b->t_ms);
        return 0;
    }
    int date = hydra_local_date(b->t_ms);
    int in_session = weekday && mod >= sim->open_min && mod <= sim->close_min;
    if (so->trade_date != 0 && (date != so->trade_date || mod > sim->close_min) &&
        so->cls_close > 0) {
        /* A bar after the session: the session's last bar was the one before. */
        double px = auction_price(so, so->cls_close);
        if (px > 0)
            return book_fill(sim, so, px, b->t_ms);
        finish_order(so, HYDRA_BOS_CANCELED, b->t_ms);
        return 0;
    }
    if (!in_session)
        return 1;
    so->trade_date = date;
    so->cls_close = b->close;
    so->dirty = 1;
    if (mod == sim->close_min) {
        double px = auction_price(so, b->close);
        if (px > 0)
            return book_fill(sim, so, px, b->t_ms);
        finish_order(so, HYDRA_BOS_CANCELED, b->t_ms);
        return 0;
    }
    return 1;
}

/* Runs one working order over the bars that arrived in (prev, now]. */
static int process_order(hydra_sim *sim, sim_order *so, int64_t prev)
{
    hydra_order *o = &so->o;
    const hydra_series *s;
    sim_contract c = {0};
    int option = o->asset_class == HYDRA_ASSET_OPTION;
    if (option)
        s = contract_parse(sim, o->symbol, &c) == 0 ? c.under : NULL;
    else
        s = find_series(sim, o->symbol);
    if (s == NULL)
        return 0;
    int64_t from = prev > o->submitted_ms ? prev : o->submitted_ms;
    for (size_t i = first_after(sim, s, from); i < s->n && s->bars[i].t_ms <= sim->now; i++) {
        const hydra_bar *b = &s->bars[i];
        if (option && b->t_ms >= c.expiry_ms) {
            finish_order(so, HYDRA_BOS_EXPIRED, sim->now);
            return 0;
        }
        if (o->tif == HYDRA_TIF_DAY) {
            int d = hydra_local_date(b->t_ms);
            if (so->trade_date == 0) {
                so->trade_date = d;
                so->dirty = 1;
            } else if (d > so->trade_date) {
                finish_order(so, HYDRA_BOS_EXPIRED, sim->now);
                return 0;
            }
        }
        if (o->tif == HYDRA_TIF_OPG || o->tif == HYDRA_TIF_CLS) {
            int rc = auction(sim, so, b);
            if (rc != 1)
                return rc;
            continue;
        }
        double px = fill_price(sim, so, b);
        if (px > 0)
            return book_fill(sim, so, px, b->t_ms);
        if (o->tif == HYDRA_TIF_IOC || o->tif == HYDRA_TIF_FOK) {
            finish_order(so, HYDRA_BOS_CANCELED, sim->now);
            return 0;
        }
    }
    return 0;
}

/*
 * Settles option positions whose expiry (session close on the expiry date)
 * the clock has reached: cash at intrinsic value, from the underlying's last
 * close at expiry. Orders still working on the contract expire with it.
 */
static void settle_expired(hydra_sim *sim)
{
    if (sim->n_option_pos == 0)
        return;
    for (size_t i = sim->n_pos; i-- > 0;) {
        sim_position *p = &sim->pos[i];
        sim_contract c;
        if (p->asset_class != HYDRA_ASSET_OPTION || contract_parse(sim, p->symbol, &c) != 0 ||
            c.expiry_ms > sim->now)
            continue;
        const hydra_bar *b = bar_at(sim, c.under, c.expiry_ms);
        double S = b == NULL ? 0 : b->close;
        double intrinsic = c.is_call ? fmax(0.0, S - c.strike) : fmax(0.0, c.strike - S);
        sim->cash += p->qty * intrinsic * OPTION_MULTIPLIER;
        sim->book_gen++;
        for (size_t k = 0; k < sim->n_work; k++) {
            sim_order *so = &sim->orders[sim->work[k]];
            if (strcmp(so->o.symbol, p->symbol) == 0 && is_working(so->o.status))
                finish_order(so, HYDRA_BOS_EXPIRED, sim->now);
        }
        remove_position(sim, p);
    }
}

/* Moves the clock to `next` and lets the new bars act on the book. */
static int advance(hydra_sim *sim, int64_t next)
{
    int64_t prev = sim->now;
    int date = hydra_local_date(next);
    if (date != sim->day) {
        /* The equity the previous day ended with, marked before the new bars. */
        sim->last_equity = equity_now(sim);
        sim->day = date;
        if (sim->forget_closed)
            forget_closed(sim);
    }
    sim->now = next;
    hydra_clock_set(sim->clock, next);
    for (size_t i = 0; i < sim->n_work; i++) {
        int rc = process_order(sim, &sim->orders[sim->work[i]], prev);
        if (rc != 0)
            return rc;
    }
    settle_expired(sim);
    for (size_t i = 0; i < sim->n_work; i++) {
        sim_order *so = &sim->orders[sim->work[i]];
        if (is_working(so->o.status) && so->o.tif == HYDRA_TIF_DAY && so->trade_date != 0 &&
            date > so->trade_date)
            finish_order(so, HYDRA_BOS_EXPIRED, sim->now);
    }
    compact_work(sim);
    return 0;
}

/* ---- persistence --------------------------------------------------------- */

/* Schema 2 (stop and trailing orders, end times, replace chains, coin fees) adds these. */
#define ORDER_COLUMNS_V2                                                                          \
    ", stop_price REAL NOT NULL DEFAULT 0, trail_price REAL NOT NULL DEFAULT 0,"                  \
    " trail_percent REAL NOT NULL DEFAULT 0, hwm REAL NOT NULL DEFAULT 0,"                        \
    " extended_hours INTEGER NOT NULL DEFAULT 0, canceled_ms INTEGER NOT NULL DEFAULT 0,"         \
    " expired_ms INTEGER NOT NULL DEFAULT 0, replaced_ms INTEGER NOT NULL DEFAULT 0,"             \
    " replaced_by TEXT NOT NULL DEFAULT '', replaces TEXT NOT NULL DEFAULT '',"                   \
    " triggered INTEGER NOT NULL DEFAULT 0, cls_close REAL NOT NULL DEFAULT 0,"                   \
    " fee_qty REAL NOT NULL DEFAULT 0"

static const char *const SCHEMA_SQL =
    "CREATE TABLE IF NOT EXISTS sim_account("
    " id INTEGER PRIMARY KEY CHECK (id = 1), schema_version INTEGER NOT NULL,"
    " cash REAL NOT NULL, last_equity REAL NOT NULL, day INTEGER NOT NULL,"
    " now_ms INTEGER NOT NULL, next_seq INTEGER NOT NULL, id_salt INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS sim_positions("
    " symbol TEXT PRIMARY KEY, asset_class INTEGER NOT NULL, qty REAL NOT NULL,"
    " avg_entry REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sim_orders("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, client_order_id TEXT NOT NULL UNIQUE,"
    " symbol TEXT NOT NULL, asset_class INTEGER NOT NULL, side INTEGER NOT NULL,"
    " type INTEGER NOT NULL, tif INTEGER NOT NULL, qty REAL NOT NULL, notional REAL NOT NULL,"
    " limit_price REAL NOT NULL, status INTEGER NOT NULL, filled_qty REAL NOT NULL,"
    " filled_avg_price REAL NOT NULL, fee REAL NOT NULL, submitted_ms INTEGER NOT NULL,"
    " filled_ms INTEGER NOT NULL, reserved REAL NOT NULL, held_qty REAL NOT NULL,"
    " trade_date INTEGER NOT NULL" ORDER_COLUMNS_V2 ");";

static const char *const MIGRATE_V1_SQL =
    "ALTER TABLE sim_account ADD COLUMN id_salt INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN stop_price REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN trail_price REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN trail_percent REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN hwm REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN extended_hours INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN canceled_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN expired_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN replaced_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN replaced_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sim_orders ADD COLUMN replaces TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sim_orders ADD COLUMN triggered INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN cls_close REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_orders ADD COLUMN fee_qty REAL NOT NULL DEFAULT 0;";

static int db_fail(hydra_sim *sim, const char *what)
{
    snprintf(sim->dberr, sizeof sim->dberr, "%s: %s", what, sqlite3_errmsg(sim->db));
    return HYDRA_EIO;
}

static const char *const SAVE_SQL[SAVE_N] = {
    [SAVE_BEGIN] = "BEGIN IMMEDIATE",
    [SAVE_ACCOUNT] = "INSERT OR REPLACE INTO sim_account VALUES (1,?,?,?,?,?,?,?)",
    [SAVE_POS_CLEAR] = "DELETE FROM sim_positions",
    [SAVE_POS_INSERT] = "INSERT INTO sim_positions VALUES (?,?,?,?)",
    [SAVE_ORDER] = "INSERT OR REPLACE INTO sim_orders VALUES "
                   "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [SAVE_COMMIT] = "COMMIT",
};

static const char *const SAVE_WHAT[SAVE_N] = {
    [SAVE_BEGIN] = "begin",          [SAVE_ACCOUNT] = "save account",
    [SAVE_POS_CLEAR] = "save positions", [SAVE_POS_INSERT] = "save positions",
    [SAVE_ORDER] = "save orders",    [SAVE_COMMIT] = "commit",
};

/* Runs one save statement with its bindings to completion and resets it. */
static int save_step(hydra_sim *sim, int which)
{
    sqlite3_stmt *st = sim->save[which];
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(sim, SAVE_WHAT[which]);
    sqlite3_reset(st);
    return rc;
}

/*
 * Writes the account, the positions when they changed since the last save
 * (the table then already holds exactly these rows) and the changed orders,
 * in one transaction. The account row, with the clock, is written every
 * time, so a restart continues from the last step as before.
 */
static int db_save(hydra_sim *sim)
{
    int in_tx = 0;
    if (sim->db == NULL)
        return 0;
    for (int i = 0; i < SAVE_N; i++)
        if (sim->save[i] == NULL &&
            sqlite3_prepare_v3(sim->db, SAVE_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &sim->save[i],
                               NULL) != SQLITE_OK) {
            db_fail(sim, SAVE_WHAT[i]);
            return HYDRA_EIO;
        }
    if (save_step(sim, SAVE_BEGIN) != 0)
        goto fail;
    in_tx = 1;
    sqlite3_stmt *st = sim->save[SAVE_ACCOUNT];
    sqlite3_bind_int(st, 1, SCHEMA_VERSION);
    sqlite3_bind_double(st, 2, sim->cash);
    sqlite3_bind_double(st, 3, sim->last_equity);
    sqlite3_bind_int(st, 4, sim->day);
    sqlite3_bind_int64(st, 5, sim->now);
    sqlite3_bind_int64(st, 6, sim->next_seq);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)sim->id_salt);
    if (save_step(sim, SAVE_ACCOUNT) != 0)
        goto fail;
    if (sim->pos_dirty) {
        if (save_step(sim, SAVE_POS_CLEAR) != 0)
            goto fail;
        st = sim->save[SAVE_POS_INSERT];
        for (size_t i = 0; i < sim->n_pos; i++) {
            const sim_position *p = &sim->pos[i];
            sqlite3_bind_text(st, 1, p->symbol, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 2, (int)p->asset_class);
            sqlite3_bind_double(st, 3, p->qty);
            sqlite3_bind_double(st, 4, p->avg_entry);
            if (save_step(sim, SAVE_POS_INSERT) != 0)
                goto fail;
        }
    }
    st = sim->save[SAVE_ORDER];
    for (size_t i = 0; i < sim->n_orders; i++) {
        const sim_order *so = &sim->orders[i];
        const hydra_order *o = &so->o;
        if (!so->dirty)
            continue;
        sqlite3_bind_int64(st, 1, so->seq);
        sqlite3_bind_text(st, 2, o->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, o->client_order_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, o->symbol, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, (int)o->asset_class);
        sqlite3_bind_int(st, 6, o->side);
        sqlite3_bind_int(st, 7, o->type);
        sqlite3_bind_int(st, 8, o->tif);
        sqlite3_bind_double(st, 9, o->qty);
        sqlite3_bind_double(st, 10, o->notional);
        sqlite3_bind_double(st, 11, o->limit_price);
        sqlite3_bind_int(st, 12, o->status);
        sqlite3_bind_double(st, 13, o->filled_qty);
        sqlite3_bind_double(st, 14, o->filled_avg_price);
        sqlite3_bind_double(st, 15, o->fee);
        sqlite3_bind_int64(st, 16, o->submitted_ms);
        sqlite3_bind_int64(st, 17, o->filled_ms);
        sqlite3_bind_double(st, 18, so->reserved);
        sqlite3_bind_double(st, 19, so->held_qty);
        sqlite3_bind_int(st, 20, so->trade_date);
        sqlite3_bind_double(st, 21, so->x.stop_price);
        sqlite3_bind_double(st, 22, so->x.trail_price);
        sqlite3_bind_double(st, 23, so->x.trail_percent);
        sqlite3_bind_double(st, 24, so->x.hwm);
        sqlite3_bind_int(st, 25, so->x.extended_hours);
        sqlite3_bind_int64(st, 26, so->x.canceled_ms);
        sqlite3_bind_int64(st, 27, so->x.expired_ms);
        sqlite3_bind_int64(st, 28, so->x.replaced_ms);
        sqlite3_bind_text(st, 29, so->x.replaced_by, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 30, so->x.replaces, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 31, so->triggered);
        sqlite3_bind_double(st, 32, so->cls_close);
        sqlite3_bind_double(st, 33, o->fee_qty);
        if (save_step(sim, SAVE_ORDER) != 0)
            goto fail;
    }
    /* The text binds point into orders and positions: none may outlive this save. */
    sqlite3_clear_bindings(sim->save[SAVE_POS_INSERT]);
    sqlite3_clear_bindings(sim->save[SAVE_ORDER]);
    if (save_step(sim, SAVE_COMMIT) != 0)
        goto fail;
    for (size_t i = 0; i < sim->n_orders; i++)
        sim->orders[i].dirty = 0;
    sim->pos_dirty = 0;
    return 0;
fail:
    sqlite3_clear_bindings(sim->save[SAVE_POS_INSERT]);
    sqlite3_clear_bindings(sim->save[SAVE_ORDER]);
    if (in_tx)
        sqlite3_exec(sim->db, "ROLLBACK", NULL, NULL, NULL);
    return HYDRA_EIO;
}

static int push_order(hydra_sim *sim, const sim_order *so)
{
    if (sim->n_orders == sim->cap_orders) {
        size_t cap = sim->cap_orders ? sim->cap_orders * 2 : 64;
        sim_order *p = realloc(sim->orders, cap * sizeof *p);
        if (p == NULL)
            return HYDRA_ENOMEM;
        sim->orders = p;
        sim->cap_orders = cap;
    }
    if (sim->n_work == sim->cap_work) {
        size_t cap = sim->cap_work ? sim->cap_work * 2 : 64;
        size_t *w = realloc(sim->work, cap * sizeof *w);
        if (w == NULL)
            return HYDRA_ENOMEM;
        sim->work = w;
        sim->cap_work = cap;
    }
    sim->orders[sim->n_orders] = *so;
    if (is_working(so->o.status))
        sim->work[sim->n_work++] = sim->n_orders;
    sim->n_orders++;
    return 0;
}

static void copy_text(char *dst, size_t dstsz, const unsigned char *src)
{
    snprintf(dst, dstsz, "%s", src != NULL ? (const char *)src : "");
}

/* Loads a saved account. 1 when there was one, 0 when the file is fresh, or an error. */
static int db_load(hydra_sim *sim, char *err, size_t errsz)
{
    sqlite3_stmt *st = NULL;
    int rc = HYDRA_EIO, found = 0;
    if (sqlite3_prepare_v2(sim->db,
                           "SELECT schema_version, cash, last_equity, day, now_ms, next_seq, "
                           "id_salt FROM sim_account WHERE id = 1",
                           -1, &st, NULL) != SQLITE_OK)
        goto db_error;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        int version = sqlite3_column_int(st, 0);
        if (version == 1) {
            /* A schema-1 account gains the new columns; its ids keep salt 0. */
            sqlite3_finalize(st);
            st = NULL;
            if (sqlite3_exec(sim->db, MIGRATE_V1_SQL, NULL, NULL, NULL) != SQLITE_OK ||
                sqlite3_exec(sim->db, "UPDATE sim_account SET schema_version = 2", NULL, NULL,
                             NULL) != SQLITE_OK)
                goto db_error;
            return db_load(sim, err, errsz);
        }
        if (version != SCHEMA_VERSION) {
            snprintf(err, errsz, "sim: %s: paper account schema version %d is not %d",
                     sim->cfg.db_path, sqlite3_column_int(st, 0), SCHEMA_VERSION);
            rc = HYDRA_ESTATE;
            goto fail;
        }
        sim->cash = sqlite3_column_double(st, 1);
        sim->book_gen++;
        sim->last_equity = sqlite3_column_double(st, 2);
        sim->day = sqlite3_column_int(st, 3);
        sim->now = sqlite3_column_int64(st, 4);
        sim->next_seq = sqlite3_column_int64(st, 5);
        sim->id_salt = (uint64_t)sqlite3_column_int64(st, 6);
        found = 1;
    } else if (step != SQLITE_DONE) {
        goto db_error;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!found)
        return 0;

    if (sqlite3_prepare_v2(sim->db,
                           "SELECT symbol, asset_class, qty, avg_entry FROM sim_positions "
                           "ORDER BY symbol",
                           -1, &st, NULL) != SQLITE_OK)
        goto db_error;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        char symbol[48];
        copy_text(symbol, sizeof symbol, sqlite3_column_text(st, 0));
        sim_position *p = add_position(sim, symbol, (unsigned)sqlite3_column_int(st, 1));
        if (p == NULL) {
            rc = HYDRA_ENOMEM;
            snprintf(err, errsz, "sim: out of memory loading positions");
            goto fail;
        }
        p->qty = sqlite3_column_double(st, 2);
        p->avg_entry = sqlite3_column_double(st, 3);
        sim->book_gen++;
    }
    if (step != SQLITE_DONE)
        goto db_error;
    sqlite3_finalize(st);
    st = NULL;

    if (sqlite3_prepare_v2(sim->db, "SELECT * FROM sim_orders ORDER BY seq", -1, &st, NULL) !=
        SQLITE_OK)
        goto db_error;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        sim_order so;
        memset(&so, 0, sizeof so);
        hydra_order *o = &so.o;
        so.seq = sqlite3_column_int64(st, 0);
        copy_text(o->id, sizeof o->id, sqlite3_column_text(st, 1));
        copy_text(o->client_order_id, sizeof o->client_order_id, sqlite3_column_text(st, 2));
        copy_text(o->symbol, sizeof o->symbol, sqlite3_column_text(st, 3));
        o->asset_class = (unsigned)sqlite3_column_int(st, 4);
        o->side = sqlite3_column_int(st, 5);
        o->type = sqlite3_column_int(st, 6);
        o->tif = sqlite3_column_int(st, 7);
        o->qty = sqlite3_column_double(st, 8);
        o->notional = sqlite3_column_double(st, 9);
        o->limit_price = sqlite3_column_double(st, 10);
        o->status = sqlite3_column_int(st, 11);
        o->filled_qty = sqlite3_column_double(st, 12);
        o->filled_avg_price = sqlite3_column_double(st, 13);
        o->fee = sqlite3_column_double(st, 14);
        o->submitted_ms = sqlite3_column_int64(st, 15);
        o->filled_ms = sqlite3_column_int64(st, 16);
        so.reserved = sqlite3_column_double(st, 17);
        so.held_qty = sqlite3_column_double(st, 18);
        so.trade_date = sqlite3_column_int(st, 19);
        so.x.stop_price = sqlite3_column_double(st, 20);
        so.x.trail_price = sqlite3_column_double(st, 21);
        so.x.trail_percent = sqlite3_column_double(st, 22);
        so.x.hwm = sqlite3_column_double(st, 23);
        so.x.extended_hours = sqlite3_column_int(st, 24);
        so.x.canceled_ms = sqlite3_column_int64(st, 25);
        so.x.expired_ms = sqlite3_column_int64(st, 26);
        so.x.replaced_ms = sqlite3_column_int64(st, 27);
        copy_text(so.x.replaced_by, sizeof so.x.replaced_by, sqlite3_column_text(st, 28));
        copy_text(so.x.replaces, sizeof so.x.replaces, sqlite3_column_text(st, 29));
        so.triggered = sqlite3_column_int(st, 30);
        so.cls_close = sqlite3_column_double(st, 31);
        o->fee_qty = sqlite3_column_double(st, 32);
        if (push_order(sim, &so) != 0) {
            rc = HYDRA_ENOMEM;
            snprintf(err, errsz, "sim: out of memory loading orders");
            goto fail;
        }
    }
    if (step != SQLITE_DONE)
        goto db_error;
    sqlite3_finalize(st);
    return 1;
db_error:
    snprintf(err, errsz, "sim: %s: reading the paper account: %s", sim->cfg.db_path,
             sqlite3_errmsg(sim->db));
fail:
    sqlite3_finalize(st);
    return rc;
}

static int memory_only(const char *db_path)
{
    return db_path[0] == '\0' || strcmp(db_path, ":memory:") == 0;
}

static int db_open(hydra_sim *sim, char *err, size_t errsz)
{
    const char *path = sim->cfg.db_path;
    if (sqlite3_open_v2(path, &sim->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errsz, "sim: cannot open paper account %s: %s", path,
                 sim->db ? sqlite3_errmsg(sim->db) : "out of memory");
        return HYDRA_EIO;
    }
    sqlite3_busy_timeout(sim->db, 2000);
    /*
     * WAL: each step and each submission is one transaction, so a restart
     * after a crash continues exactly where the account was. NORMAL sync
     * skips an fsync per step; only a power cut could lose the last steps,
     * and the host's reconciliation would then refuse to trade on the gap.
     */
    if (sqlite3_exec(sim->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(sim->db, SCHEMA_SQL, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errsz, "sim: cannot prepare paper account %s: %s", path,
                 sqlite3_errmsg(sim->db));
        return HYDRA_EIO;
    }
    return 0;
}

int hydra_sim_reset(const char *db_path, char *err, size_t errsz)
{
    sqlite3 *db = NULL;
    if (db_path == NULL)
        return HYDRA_EINVAL;
    if (memory_only(db_path) || access(db_path, F_OK) != 0)
        return 0;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(db, 2000);
    if (sqlite3_exec(db,
                     "BEGIN IMMEDIATE; DROP TABLE IF EXISTS sim_orders;"
                     " DROP TABLE IF EXISTS sim_positions; DROP TABLE IF EXISTS sim_account;"
                     " COMMIT;",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_close(db);
    return 0;
fail:
    snprintf(err, errsz, "sim: cannot reset paper account %s: %s", db_path,
             db ? sqlite3_errmsg(db) : "out of memory");
    if (db != NULL) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
    }
    return HYDRA_EIO;
}

/* ---- broker calls -------------------------------------------------------- */

static int sim_account(void *ctx, hydra_account *out, hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    if (out == NULL)
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: account: no output");
    /* Member by member, not memset: the account is read three times a bar in a backtest. */
    out->account_id[0] = '\0';
    out->cash = sim->cash;
    out->equity = equity_now(sim);
    out->buying_power = sim->cash - reserved_total(sim);
    out->last_equity = sim->last_equity;
    out->active = 1;
    out->trading_blocked = 0;
    return 0;
}

static int sim_positions(void *ctx, hydra_broker_position *out, size_t cap, size_t *n,
                         hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    if (n == NULL || (out == NULL && cap > 0))
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: positions: no output");
    *n = sim->n_pos;
    if (sim->n_pos > cap)
        return hydra_broker_fail(err, HYDRA_EFULL, 0, "sim: %zu positions, room for %zu",
                                 sim->n_pos, cap);
    for (size_t i = 0; i < sim->n_pos; i++) {
        const sim_position *p = &sim->pos[i];
        hydra_broker_position *q = &out[i];
        double mult = multiplier_of(p->asset_class);
        memset(q, 0, sizeof *q);
        copy_bounded(q->symbol, sizeof q->symbol, p->symbol);
        q->asset_class = p->asset_class;
        q->qty = p->qty;
        q->avg_entry_price = p->avg_entry;
        q->current_price = mark_price(sim, p);
        q->market_value = p->qty * q->current_price * mult;
        q->unrealized_pl = (q->current_price - p->avg_entry) * p->qty * mult;
    }
    return 0;
}

static int sim_open_orders(void *ctx, hydra_order *out, size_t cap, size_t *n,
                           hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    if (n == NULL || (out == NULL && cap > 0))
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: open orders: no output");
    *n = sim->n_work;
    if (sim->n_work > cap)
        return hydra_broker_fail(err, HYDRA_EFULL, 0, "sim: %zu open orders, room for %zu",
                                 sim->n_work, cap);
    for (size_t i = 0; i < sim->n_work; i++)
        out[i] = sim->orders[sim->work[i]].o;
    return 0;
}

static uint64_t cid_hash(const char *cid)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *cid; cid++) {
        h ^= (unsigned char)*cid;
        h *= 1099511628211ULL;
    }
    return h;
}

static void cid_insert(hydra_sim *sim, size_t i)
{
    size_t mask = sim->cid_cap - 1;
    uint64_t h = cid_hash(sim->orders[i].o.client_order_id);
    size_t k = (size_t)h & mask;
    while (sim->cid_index[k] != 0)
        k = (k + 1) & mask;
    sim->cid_index[k] = (h & 0xffffffff00000000ULL) | (uint64_t)(i + 1);
}

/*
 * Brings the index up to date with the order list: a submission that was
 * taken back (the list got shorter) or a full table rebuilds it, new orders
 * are added. Returns 0, or HYDRA_ENOMEM (then lookups fall back to a scan).
 */
static int cid_sync(hydra_sim *sim)
{
    if (sim->cid_indexed > sim->n_orders && sim->n_orders * 2 < sim->cid_cap &&
        sim->cid_cap <= 4096) {
        /*
         * Orders were forgotten (a backtest does it daily): a small index
         * is rebuilt in place; a large one is reallocated at its new size below.
         */
        memset(sim->cid_index, 0, sim->cid_cap * sizeof *sim->cid_index);
        sim->cid_indexed = 0;
    }
    if (sim->cid_indexed > sim->n_orders || sim->n_orders * 2 >= sim->cid_cap) {
        size_t cap = sim->cid_cap ? sim->cid_cap : 256;
        while (sim->n_orders * 2 >= cap)
            cap *= 2;
        if (sim->n_orders >= UINT32_MAX)
            return HYDRA_ENOMEM;
        uint64_t *idx = calloc(cap, sizeof *idx);
        if (idx == NULL)
            return HYDRA_ENOMEM;
        free(sim->cid_index);
        sim->cid_index = idx;
        sim->cid_cap = cap;
        sim->cid_indexed = 0;
    }
    for (; sim->cid_indexed < sim->n_orders; sim->cid_indexed++)
        cid_insert(sim, sim->cid_indexed);
    return 0;
}

/*
 * The order with this client_order_id. Every submission checks that its id
 * is new and every journal sync asks for its orders by id, so this is a
 * hash lookup: a long replay accumulates tens of thousands of orders.
 */
static const sim_order *find_by_cid(hydra_sim *sim, const char *cid)
{
    if (cid_sync(sim) != 0) {
        for (size_t i = 0; i < sim->n_orders; i++)
            if (strcmp(sim->orders[i].o.client_order_id, cid) == 0)
                return &sim->orders[i];
        return NULL;
    }
    size_t mask = sim->cid_cap - 1;
    uint64_t h = cid_hash(cid);
    for (size_t k = (size_t)h & mask; sim->cid_index[k] != 0; k = (k + 1) & mask) {
        uint64_t e = sim->cid_index[k];
        if ((e ^ h) >> 32 != 0)
            continue;
        const sim_order *so = &sim->orders[(uint32_t)e - 1];
        if (strcmp(so->o.client_order_id, cid) == 0)
            return so;
    }
    return NULL;
}

static int bounded(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* Checks an order request on its own, before anything about the account. */
static int validate_request(const hydra_order_request *req, const hydra_sim_order_ext *x,
                            unsigned cls, hydra_broker_err *err)
{
    int stop_type = req->type == HYDRA_ORDER_STOP || req->type == HYDRA_ORDER_STOP_LIMIT;
    if (req->asset_class != 0 && req->asset_class != cls)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                 "asset class %u does not match symbol %s", req->asset_class,
                                 req->symbol);
    if (req->side != HYDRA_SIDE_BUY && req->side != HYDRA_SIDE_SELL)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "invalid side %d", req->side);
    if (req->type != HYDRA_ORDER_MARKET && req->type != HYDRA_ORDER_LIMIT && !stop_type &&
        req->type != HYDRA_ORDER_TRAILING_STOP)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "invalid order type %d", req->type);
    if (req->tif != HYDRA_TIF_DAY && req->tif != HYDRA_TIF_GTC && req->tif != HYDRA_TIF_IOC &&
        req->tif != HYDRA_TIF_OPG && req->tif != HYDRA_TIF_CLS && req->tif != HYDRA_TIF_FOK)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "invalid time_in_force %d", req->tif);
    if (stop_type && !(isfinite(x->stop_price) && x->stop_price > 0))
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                 "stop_price is required for stop and stop_limit orders");
    if (req->type == HYDRA_ORDER_TRAILING_STOP) {
        int tp = isfinite(x->trail_price) && x->trail_price > 0;
        int pc = isfinite(x->trail_percent) && x->trail_percent > 0 && x->trail_percent < 100;
        if (tp == pc)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                     "trailing_stop orders require exactly one of trail_price "
                                     "and trail_percent");
        if (req->tif != HYDRA_TIF_DAY && req->tif != HYDRA_TIF_GTC)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                     "trailing_stop orders must be day or gtc");
    }
    if ((req->tif == HYDRA_TIF_OPG || req->tif == HYDRA_TIF_CLS) &&
        req->type != HYDRA_ORDER_MARKET && req->type != HYDRA_ORDER_LIMIT)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                 "opg and cls orders must be market or limit orders");
    int has_qty = isfinite(req->qty) && req->qty > 0;
    int has_notional = isfinite(req->notional) && req->notional > 0;
    if (has_qty == has_notional || (!has_qty && req->qty != 0) ||
        (!has_notional && req->notional != 0))
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                 "exactly one of qty and notional must be a positive number");
    if ((req->type == HYDRA_ORDER_LIMIT || req->type == HYDRA_ORDER_STOP_LIMIT) &&
        !(isfinite(req->limit_price) && req->limit_price > 0))
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                 "limit orders require a positive limit_price");
    if (has_notional && req->type != HYDRA_ORDER_MARKET)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                 "notional orders must be market orders");
    if (cls == HYDRA_ASSET_OPTION) {
        if (has_notional || req->qty != floor(req->qty))
            return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                     "options are ordered in whole contracts");
        if (req->tif != HYDRA_TIF_DAY)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                     "options orders must be time_in_force day");
        if (req->type != HYDRA_ORDER_MARKET && req->type != HYDRA_ORDER_LIMIT)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                     "options orders must be market or limit orders");
    }
    if (cls == HYDRA_ASSET_CRYPTO) {
        if (req->tif != HYDRA_TIF_GTC && req->tif != HYDRA_TIF_IOC && req->tif != HYDRA_TIF_FOK)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                     "crypto orders must be time_in_force gtc or ioc");
        if (req->type == HYDRA_ORDER_STOP || req->type == HYDRA_ORDER_TRAILING_STOP)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                     "crypto orders must be market, limit or stop_limit");
    }
    return 0;
}

/*
 * The price an order is estimated at when submitted: for equities and
 * crypto the last close; for options the quote (ask for buys, bid for
 * sells) at the underlying's last close. Buys of contracts the chain does
 * not list are refused.
 */
static int estimate_price(const hydra_sim *sim, const hydra_order_request *req, unsigned cls,
                          double *px, hydra_broker_err *err)
{
    if (cls == HYDRA_ASSET_OPTION) {
        sim_contract c;
        int rc = contract_parse(sim, req->symbol, &c);
        if (rc != 0)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "asset %s not found", req->symbol);
        const hydra_bar *b = bar_at(sim, c.under, sim->now);
        if (b == NULL)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 403, "no price for %s yet", c.root);
        if (c.expiry_ms <= sim->now)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 403, "option contract %s has expired",
                                     req->symbol);
        if (req->side == HYDRA_SIDE_BUY && !contract_listed(sim, &c, b->close))
            return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "option contract %s is not listed",
                                     req->symbol);
        double bid, ask;
        option_bid_ask(sim, option_model(sim, &c, b->close, sim->now), &bid, &ask);
        *px = req->side == HYDRA_SIDE_BUY ? ask : bid;
        return 0;
    }
    const hydra_series *s = find_series(sim, req->symbol);
    if (s == NULL)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "asset %s not found", req->symbol);
    const hydra_bar *b = bar_at(sim, s, sim->now);
    if (b == NULL)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 403, "no price for %s yet", req->symbol);
    *px = b->close;
    return 0;
}

/*
 * Whether an opg or cls order may be sent now: Alpaca refuses opg from 9:28
 * until 19:00 and cls from 15:50 until 19:00 (market zone).
 */
static int auction_window_ok(const hydra_sim *sim, int tif)
{
    int weekday, mod = minute_of(sim->now, &weekday);
    if (!weekday)
        return 1;
    if (tif == HYDRA_TIF_OPG)
        return mod < sim->open_min - 2 || mod >= sim->close_min + 180;
    if (tif == HYDRA_TIF_CLS)
        return mod < sim->close_min - 10 || mod >= sim->close_min + 180;
    return 1;
}

/* A UUID (version 4 form) from the account's salt and an order's submission number. */
/* Writes the low `digits` hex digits of v (lower case), returns the end. */
static char *put_hex(char *p, uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
    return p + digits;
}

/* Writes a 36-character UUID and its NUL to out. */
static void order_uuid(uint64_t salt, long long seq, char out[37])
{
    uint64_t a = salt ^ ((uint64_t)seq * 0x9E3779B97F4A7C15ULL), b;
    /* splitmix64, twice: deterministic for a salt and seq, spread over every digit. */
    a += 0x9E3779B97F4A7C15ULL;
    b = a;
    b = (b ^ (b >> 30)) * 0xBF58476D1CE4E5B9ULL;
    b = (b ^ (b >> 27)) * 0x94D049BB133111EBULL;
    b ^= b >> 31;
    a += 0x9E3779B97F4A7C15ULL;
    a = (a ^ (a >> 30)) * 0xBF58476D1CE4E5B9ULL;
    a = (a ^ (a >> 27)) * 0x94D049BB133111EBULL;
    a ^= a >> 31;
    /*
     * "%08x-%04x-4%03x-%04x-%012llx", written by hand: formatting it with
     * snprintf was most of an order's cost in a backtest. The last twelve
     * digits carry seq itself, so two orders of an account never share an id.
     */
    char *p = out;
    p = put_hex(p, b >> 32, 8);
    *p++ = '-';
    p = put_hex(p, (b >> 16) & 0xffffu, 4);
    *p++ = '-';
    *p++ = '4';
    p = put_hex(p, b & 0xfffu, 3);
    *p++ = '-';
    p = put_hex(p, 0x8000u | ((a >> 48) & 0x3fffu), 4);
    *p++ = '-';
    p = put_hex(p, (((a & 0xffffu) << 32) ^ (uint64_t)seq) & 0xffffffffffffULL, 12);
    *p = '\0';
}

static int sim_submit(void *ctx, const hydra_order_request *req, hydra_order *out,
                      hydra_broker_err *err)
{
    return hydra_sim_submit_ext(ctx, req, NULL, out, NULL, err);
}

int hydra_sim_submit_ext(hydra_sim *sim, const hydra_order_request *req,
                         const hydra_sim_order_ext *ext, hydra_order *out,
                         hydra_sim_order_ext *xout, hydra_broker_err *err)
{
    hydra_sim_order_ext none;
    memset(&none, 0, sizeof none);
    if (ext == NULL)
        ext = &none;
    if (sim == NULL || req == NULL || out == NULL)
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: submit: no request or output");
    if (!bounded(req->client_order_id, sizeof req->client_order_id) ||
        !bounded(req->symbol, sizeof req->symbol) || req->symbol[0] == '\0')
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "symbol or client_order_id invalid");
    unsigned cls = hydra_symbol_asset_class(req->symbol);
    int rc = validate_request(req, ext, cls, err);
    if (rc != 0)
        return rc;
    if (!auction_window_ok(sim, req->tif))
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                 "%s orders are not accepted at this time of day",
                                 req->tif == HYDRA_TIF_OPG ? "opg" : "cls");
    if (req->client_order_id[0] != '\0' && find_by_cid(sim, req->client_order_id) != NULL)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "client_order_id must be unique");
    double px = 0;
    if ((rc = estimate_price(sim, req, cls, &px, err)) != 0)
        return rc;

    double mult = multiplier_of(cls);
    sim_order so;
    memset(&so, 0, sizeof so);
    if (req->side == HYDRA_SIDE_SELL) {
        const sim_position *p = find_position(sim, req->symbol);
        double avail = (p != NULL ? p->qty : 0) - held_by_sells(sim, req->symbol);
        if (fabs(avail) < QTY_EPS)
            avail = 0;
        double want = req->qty > 0 ? req->qty : req->notional / px;
        if (want > avail + QTY_EPS)
            return hydra_broker_fail(
                err, HYDRA_EREJECTED, 403,
                "insufficient qty available for order (requested: %.9g, available: %.9g)", want,
                avail);
        so.held_qty = want;
    } else {
        /*
         * A limit buy pays at most its limit; a market buy is estimated with
         * slippage; a stop buy at its stop (or the last price above it) with
         * slippage; a trailing buy at the last price plus the trail.
         */
        double slip = cls == HYDRA_ASSET_OPTION ? 1.0 : 1.0 + sim->cfg.slippage_bps / 10000.0;
        double unit = px * slip;
        if (req->type == HYDRA_ORDER_LIMIT || req->type == HYDRA_ORDER_STOP_LIMIT)
            unit = req->limit_price;
        else if (req->type == HYDRA_ORDER_STOP)
            unit = fmax(px, ext->stop_price) * slip;
        else if (req->type == HYDRA_ORDER_TRAILING_STOP)
            unit = (ext->trail_price > 0 ? px + ext->trail_price
                                         : px * (1.0 + ext->trail_percent / 100.0)) *
                   slip;
        double qty = req->qty > 0 ? req->qty : req->notional / unit;
        double gross = req->qty > 0 ? qty * unit * mult : req->notional;
        double cost = gross + fee_for(sim, cls, req->side, qty, gross);
        if (cost > sim->cash - reserved_total(sim) + MONEY_EPS)
            return hydra_broker_fail(err, HYDRA_EREJECTED, 403, "insufficient buying power");
        so.reserved = cost;
    }

    so.seq = sim->next_seq;
    hydra_order *o = &so.o;
    _Static_assert(sizeof o->id >= 37 && sizeof o->client_order_id >= sizeof o->id,
                   "an order id is a UUID, and may stand as the client_order_id");
    order_uuid(sim->id_salt, so.seq, o->id);
    if (req->client_order_id[0] != '\0')
        copy_bounded(o->client_order_id, sizeof o->client_order_id, req->client_order_id);
    else
        memcpy(o->client_order_id, o->id, sizeof o->id);
    if (req->client_order_id[0] == '\0' && find_by_cid(sim, o->client_order_id) != NULL)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "client_order_id must be unique");
    copy_bounded(o->symbol, sizeof o->symbol, req->symbol);
    o->asset_class = cls;
    o->side = req->side;
    o->type = req->type;
    o->tif = req->tif;
    o->qty = req->qty;
    o->notional = req->notional;
    o->limit_price =
        req->type == HYDRA_ORDER_LIMIT || req->type == HYDRA_ORDER_STOP_LIMIT ? req->limit_price : 0;
    o->status = HYDRA_BOS_NEW;
    o->submitted_ms = sim->now;
    so.x.extended_hours = ext->extended_hours != 0;
    if (req->type == HYDRA_ORDER_STOP || req->type == HYDRA_ORDER_STOP_LIMIT)
        so.x.stop_price = ext->stop_price;
    if (req->type == HYDRA_ORDER_TRAILING_STOP) {
        so.x.trail_price = ext->trail_price > 0 ? ext->trail_price : 0;
        so.x.trail_percent = ext->trail_price > 0 ? 0 : ext->trail_percent;
        so.x.hwm = px;
        so.x.stop_price = trail_stop(&so, px);
    }
    so.dirty = 1;
    if (push_order(sim, &so) != 0)
        return hydra_broker_fail(err, HYDRA_ETRANSIENT, 0, "sim: out of memory");
    sim->next_seq++;
    if (db_save(sim) != 0) {
        /* Not saved means not accepted: take it back so memory matches the file. */
        sim->n_orders--;
        sim->n_work--;
        sim->next_seq--;
        return hydra_broker_fail(err, HYDRA_ETRANSIENT, 0, "sim: saving the order failed: %s",
                                 sim->dberr);
    }
    *out = *o;
    if (xout != NULL)
        *xout = so.x;
    return 0;
}

static int sim_order_by_client_id(void *ctx, const char *cid, hydra_order *out,
                                  hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    if (cid == NULL || out == NULL)
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: order lookup: no id or output");
    const sim_order *so = find_by_cid(sim, cid);
    if (so == NULL)
        return hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "order not found: %s", cid);
    *out = so->o;
    return 0;
}

static int sim_order_by_id(void *ctx, const char *id, hydra_order *out, hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    for (size_t i = 0; i < sim->n_orders; i++)
        if (strcmp(sim->orders[i].o.id, id) == 0) {
            *out = sim->orders[i].o;
            return 0;
        }
    return hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "order not found: %s", id);
}

static int sim_submit(void *ctx, const hydra_order_request *req, hydra_order *out,
                      hydra_broker_err *err);

int hydra_sim_replace_by_cid(hydra_sim *sim, const char *cid, double qty, double limit_price,
                      const char *new_cid, hydra_order *out, hydra_broker_err *err)
{
    sim_order *so = (sim_order *)find_by_cid(sim, cid);
    if (so == NULL)
        return hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "order not found: %s", cid);
    if (so->o.status != HYDRA_BOS_NEW && so->o.status != HYDRA_BOS_PARTIALLY_FILLED)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "order %s is not working", cid);
    hydra_order_request req;
    memset(&req, 0, sizeof req);
    copy_bounded(req.client_order_id, sizeof req.client_order_id, new_cid);
    copy_bounded(req.symbol, sizeof req.symbol, so->o.symbol);
    req.asset_class = so->o.asset_class;
    req.side = so->o.side;
    req.type = so->o.type;
    req.tif = so->o.tif;
    req.qty = qty;
    req.limit_price = so->o.type == HYDRA_ORDER_LIMIT ? limit_price : 0;
    /* The old order stops working first, so its reservation is free for the new one. */
    finish_order(so, HYDRA_BOS_REPLACED, sim->now);
    compact_work(sim);
    int rc = sim_submit(sim, &req, out, err);
    so = (sim_order *)find_by_cid(sim, cid);
    if (rc == 0 && so != NULL) {
        copy_bounded(so->o.replaced_by, sizeof so->o.replaced_by, out->id);
        so->dirty = 1;
    }
    return rc;
}

static int sim_cancel_all(void *ctx, hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    for (size_t i = 0; i < sim->n_work; i++)
        finish_order(&sim->orders[sim->work[i]], HYDRA_BOS_CANCELED, sim->now);
    compact_work(sim);
    if (db_save(sim) != 0)
        return hydra_broker_fail(err, HYDRA_ETRANSIENT, 0, "sim: saving cancellations failed: %s",
                                 sim->dberr);
    return 0;
}

/* One working order by its id; a finished one cannot be canceled (hydra_sim_end_order). */
static int sim_cancel_order(void *ctx, const char *order_id, hydra_broker_err *err)
{
    return hydra_sim_end_order(ctx, order_id, HYDRA_BOS_CANCELED, err);
}

/*
 * Cancels every working order, then submits a market sell for each
 * position (they fill on the next bar like any market order). Every
 * position is tried; the first failure is the answer.
 */
static int sim_close_all(void *ctx, hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    int rc = sim_cancel_all(ctx, err);
    if (rc != 0)
        return rc;
    int first = 0;
    hydra_broker_err first_err = {0};
    for (size_t i = 0; i < sim->n_pos; i++) {
        const sim_position *p = &sim->pos[i];
        hydra_order_request req;
        memset(&req, 0, sizeof req);
        snprintf(req.client_order_id, sizeof req.client_order_id, "sim-close-%08lld",
                 sim->next_seq);
        copy_bounded(req.symbol, sizeof req.symbol, p->symbol);
        req.asset_class = p->asset_class;
        req.side = HYDRA_SIDE_SELL;
        req.type = HYDRA_ORDER_MARKET;
        req.tif = p->asset_class == HYDRA_ASSET_CRYPTO ? HYDRA_TIF_GTC : HYDRA_TIF_DAY;
        req.qty = p->qty;
        hydra_order placed;
        hydra_broker_err one = {0};
        rc = sim_submit(ctx, &req, &placed, &one);
        if (rc != 0 && first == 0) {
            first = rc;
            first_err = one;
        }
    }
    if (first != 0) {
        if (err != NULL)
            *err = first_err;
        return first;
    }
    return 0;
}

static int sim_latest_prices(void *ctx, const char *const *symbols, size_t n, hydra_quote *out,
                             hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    if (n > 0 && (symbols == NULL || out == NULL))
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: latest prices: no symbols or output");
    for (size_t i = 0; i < n; i++) {
        const char *sym = symbols[i];
        if (sym == NULL)
            return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: latest prices: symbol %zu is NULL",
                                     i);
        memset(&out[i], 0, sizeof out[i]);
        copy_bounded(out[i].symbol, sizeof out[i].symbol, sym);
        if (hydra_symbol_asset_class(sym) == HYDRA_ASSET_OPTION) {
            sim_contract c;
            const hydra_bar *b = NULL;
            if (contract_parse(sim, sym, &c) == 0)
                b = bar_at(sim, c.under, sim->now);
            if (b == NULL)
                return hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "no price for %s", sym);
            out[i].price = option_model(sim, &c, b->close, sim->now);
            out[i].t_ms = b->t_ms;
            continue;
        }
        const hydra_series *s = find_series(sim, sym);
        const hydra_bar *b = s == NULL ? NULL : bar_at(sim, s, sim->now);
        if (b == NULL)
            return hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "no price for %s", sym);
        out[i].price = b->close;
        out[i].t_ms = b->t_ms;
    }
    return 0;
}

/*
 * The series' own bars up to the clock (stamped <= now), oldest first. The
 * series is not resampled: timeframe_s only has to be positive.
 */
static int sim_bars(void *ctx, const char *symbol, int timeframe_s, size_t limit, hydra_bar *out,
                    size_t *n, hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    if (symbol == NULL || n == NULL || (out == NULL && limit > 0))
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: bars: no symbol or output");
    *n = 0;
    if (timeframe_s <= 0)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "invalid timeframe %d s", timeframe_s);
    const hydra_series *s = find_series(sim, symbol);
    if (s == NULL)
        return hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "no bars for %s", symbol);
    size_t end = first_after(sim, s, sim->now);
    size_t k = end < limit ? end : limit;
    if (k > 0)
        memcpy(out, &s->bars[end - k], k * sizeof *out);
    *n = k;
    return 0;
}

static void fill_option_quote(const hydra_sim *sim, const sim_contract *c, const char *symbol,
                              double S, hydra_option_quote *q)
{
    double r = sim->cfg.option_rate, sigma = sim->cfg.option_iv;
    double T = years_to_expiry(c, sim->now);
    memset(q, 0, sizeof *q);
    /* Plain copies (the struct is zeroed, so they stay terminated): no printf per contract. */
    memcpy(q->symbol, symbol, strnlen(symbol, sizeof q->symbol - 1));
    memcpy(q->underlying, c->root, strnlen(c->root, sizeof c->root - 1));
    q->is_call = c->is_call;
    q->strike = c->strike;
    q->expiry_yyyymmdd = c->expiry;
    q->last = option_model(sim, c, S, sim->now);
    option_bid_ask(sim, q->last, &q->bid, &q->ask);
    q->iv = sigma;
    q->delta = hydra_bs_delta(c->is_call, S, c->strike, r, sigma, T);
    bs_greeks(c->is_call, S, c->strike, r, sigma, T, &q->gamma, &q->theta, &q->vega);
    q->multiplier = OPTION_MULTIPLIER;
}

/*
 * First k in [lo, hi + 1] whose call delta is below `x`. A call's delta falls
 * as the strike rises, so the strikes whose |delta| lies in a band form one
 * run of the grid, found by bisection instead of pricing every strike.
 */
static long first_strike_below(const hydra_sim *sim, sim_contract *c, double S, double inc, long lo,
                               long hi, double x)
{
    double r = sim->cfg.option_rate, sigma = sim->cfg.option_iv;
    double T = years_to_expiry(c, sim->now);
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (hydra_bs_delta(1, S, (double)mid * inc, r, sigma, T) < x)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return lo;
}

/*
 * The generated chain: every Friday from today (if its close is still
 * ahead) out to 60 calendar days, within the filter's days to expiry;
 * strikes on the grid within +-15% of the underlying's last close whose
 * |delta| may lie in the filter's band (one grid step of margin each side:
 * the host applies the band exactly); ordered by expiry, strike, then call
 * before put. Only those contracts are priced.
 */
static int sim_option_chain(void *ctx, const char *underlying, const hydra_chain_filter *filter,
                            hydra_option_quote *out, size_t cap, size_t *n, hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    if (underlying == NULL || n == NULL || (out == NULL && cap > 0))
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: option chain: no symbol or output");
    *n = 0;
    hydra_chain_filter all = {0, CHAIN_MAX_DAYS, 0.0, 1.0};
    const hydra_chain_filter *f = filter != NULL ? filter : &all;
    if (f->max_dte < 0 || f->min_dte > f->max_dte || !(f->delta_min <= f->delta_max))
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                 "invalid chain filter: dte %d..%d, delta %g..%g", f->min_dte,
                                 f->max_dte, f->delta_min, f->delta_max);
    const hydra_series *s = find_series(sim, underlying);
    char probe[32];
    if (s == NULL || hydra_symbol_asset_class(underlying) != HYDRA_ASSET_EQUITY ||
        hydra_occ_format(underlying, 20000101, 1, 1, probe, sizeof probe) != 0)
        return hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "no option contracts for %s",
                                 underlying);
    const hydra_bar *b = bar_at(sim, s, sim->now);
    if (b == NULL)
        return hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "no price for %s yet", underlying);
    double S = b->close, inc = strike_increment(S);
    long lo, hi;
    strike_range(S, inc, &lo, &hi);
    long today = hydra_local_days(sim->now);
    int horizon = f->max_dte < CHAIN_MAX_DAYS ? f->max_dte : CHAIN_MAX_DAYS;
    int all_deltas = f->delta_min <= 0.0 && f->delta_max >= 1.0;
    size_t count = 0;
    for (long d = today + (f->min_dte > 0 ? f->min_dte : 0); d <= today + horizon; d++) {
        if (weekday_of_days(d) != 5)
            continue;
        sim_contract c;
        memset(&c, 0, sizeof c);
        copy_bounded(c.root, sizeof c.root, underlying);
        c.under = s;
        c.expiry = date_from_days(d);
        c.expiry_ms = session_ms(c.expiry, sim->close_min);
        if (c.expiry_ms <= sim->now)
            continue;
        /* Calls: delta in [dmin, dmax]; puts: |delta| = 1 - call delta in the same band. */
        long call_from = lo, call_to = hi, put_from = lo, put_to = hi;
        if (!all_deltas) {
            call_from = first_strike_below(sim, &c, S, inc, lo, hi, f->delta_max) - 1;
            call_to = first_strike_below(sim, &c, S, inc, lo, hi, f->delta_min);
            put_from = first_strike_below(sim, &c, S, inc, lo, hi, 1.0 - f->delta_min) - 1;
            put_to = first_strike_below(sim, &c, S, inc, lo, hi, 1.0 - f->delta_max);
        }
        long from = call_from < put_from ? call_from : put_from;
        long to = call_to > put_to ? call_to : put_to;
        for (long k = from < lo ? lo : from; k <= (to > hi ? hi : to); k++) {
            c.strike = (double)k * inc;
            for (int call = 1; call >= 0; call--) {
                if (call ? (k < call_from || k > call_to) : (k < put_from || k > put_to))
                    continue;
                c.is_call = call;
                if (count < cap) {
                    char occ[32];
                    hydra_occ_format(c.root, c.expiry, c.is_call, c.strike, occ, sizeof occ);
                    fill_option_quote(sim, &c, occ, S, &out[count]);
                }
                count++;
            }
        }
    }
    *n = count;
    if (count > cap)
        return hydra_broker_fail(err, HYDRA_EFULL, 0, "sim: %zu contracts for %s, room for %zu",
                                 count, underlying, cap);
    return 0;
}

/*
 * The regular session is [session_open, session_close] market-zone time on
 * weekdays. There is no holiday calendar: every weekday is a trading day.
 */
static int sim_clock(void *ctx, hydra_market_clock *out, hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    if (out == NULL)
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: clock: no output");
    memset(out, 0, sizeof *out);
    out->now_ms = sim->now;
    long today = hydra_local_days(sim->now);
    sessions_at(sim, today);
    /*
     * The first weekday's session on or after today, then the next one: a
     * later local date's open and close are always ahead of now.
     */
    const sim_session *c = &sim->cur_session, *n = &sim->next_session;
    out->is_open = c->day == today && c->open <= sim->now && sim->now <= c->close;
    out->next_open_ms = c->open > sim->now ? c->open : n->open;
    out->next_close_ms = c->close >= sim->now ? c->close : n->close;
    return 0;
}

/*
 * The calendar the clock above follows: every weekday from..to is a trading
 * day with the configured session (no holidays, no early closes).
 */
static int sim_calendar(void *ctx, int from, int to, hydra_session *out, size_t cap, size_t *n,
                        hydra_broker_err *err)
{
    hydra_sim *sim = ctx;
    *n = 0;
    long first = (long)hydra_days_from_date(from), last = (long)hydra_days_from_date(to);
    for (long d = first; d <= last; d++) {
        int wd = weekday_of_days(d);
        if (wd == 0 || wd == 6)
            continue;
        if (*n >= cap)
            return hydra_broker_fail(err, HYDRA_EFULL, 0, "sim: calendar: more than %zu days", cap);
        int date = date_from_days(d);
        out[*n].date = date;
        out[*n].open_ms = session_ms(date, sim->open_min);
        out[*n].close_ms = session_ms(date, sim->close_min);
        (*n)++;
    }
    return 0;
}

/* The sim's lifetime belongs to hydra_sim_open/hydra_sim_close, not to its broker handle. */
static void sim_destroy(void *ctx)
{
    (void)ctx;
}

static const hydra_broker_ops SIM_OPS = {
    .name = "sim",
    .account = sim_account,
    .positions = sim_positions,
    .open_orders = sim_open_orders,
    .submit = sim_submit,
    .order_by_client_id = sim_order_by_client_id,
    .cancel_all = sim_cancel_all,
    .close_all = sim_close_all,
    .cancel_order = sim_cancel_order,
    .latest_prices = sim_latest_prices,
    .bars = sim_bars,
    .option_chain = sim_option_chain,
    .clock = sim_clock,
    .destroy = sim_destroy,
    .calendar = sim_calendar,
    .order_by_id = sim_order_by_id,
};

hydra_broker hydra_sim_broker(hydra_sim *sim)
{
    hydra_broker b = {&SIM_OPS, sim};
    return b;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void release_series(hydra_series *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hydra_series_free(&s[i]);
}

static int check_cfg(const hydra_sim_cfg *cfg, int *open_min, int *close_min, char *err,
                     size_t errsz)
{
    if (cfg->bar_seconds <= 0 || cfg->bars_per_tick <= 0) {
        snprintf(err, errsz, "sim: bar_seconds (%d) and bars_per_tick (%d) must be positive",
                 cfg->bar_seconds, cfg->bars_per_tick);
        return HYDRA_EINVAL;
    }
    const struct {
        const char *name;
        double v, max;
    } money[] = {
        {"initial_cash", cfg->initial_cash, 1e15},
        {"slippage_bps", cfg->slippage_bps, 10000},
        {"fee_per_share", cfg->fee_per_share, 1e6},
        {"crypto_fee_bps", cfg->crypto_fee_bps, 10000},
        {"option_iv", cfg->option_iv, 100},
        {"option_spread_pct", cfg->option_spread_pct, 199},
    };
    for (size_t i = 0; i < sizeof money / sizeof money[0]; i++)
        if (!isfinite(money[i].v) || money[i].v < 0 || money[i].v > money[i].max) {
            snprintf(err, errsz, "sim: %s %g must be between 0 and %g", money[i].name, money[i].v,
                     money[i].max);
            return HYDRA_EINVAL;
        }
    if (!isfinite(cfg->option_rate) || fabs(cfg->option_rate) > 1) {
        snprintf(err, errsz, "sim: option_rate %g must be between -1 and 1", cfg->option_rate);
        return HYDRA_EINVAL;
    }
    if (hydra_parse_hhmm(cfg->session_open, open_min) != 0 ||
        hydra_parse_hhmm(cfg->session_close, close_min) != 0 || *open_min >= *close_min) {
        snprintf(err, errsz,
                 "sim: session \"%.6s\"-\"%.6s\" must be HH:MM times, open before close",
                 cfg->session_open, cfg->session_close);
        return HYDRA_EINVAL;
    }
    return 0;
}

static int check_series(const hydra_series *series, size_t n, char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++) {
        const hydra_series *s = &series[i];
        if (!bounded(s->symbol, sizeof s->symbol) || s->symbol[0] == '\0' ||
            (s->n > 0 && s->bars == NULL)) {
            snprintf(err, errsz, "sim: series %zu has no symbol or no bars array", i);
            return HYDRA_EINVAL;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(series[k].symbol, s->symbol) == 0) {
                snprintf(err, errsz, "sim: two series for %s", s->symbol);
                return HYDRA_EINVAL;
            }
        for (size_t k = 0; k < s->n; k++) {
            const hydra_bar *b = &s->bars[k];
            hydra_series_passed(s, k); /* a window at a time */
            int prices_ok = isfinite(b->open) && isfinite(b->high) && isfinite(b->low) &&
                            isfinite(b->close) && b->open > 0 && b->high > 0 && b->low > 0 &&
                            b->close > 0;
            if (!prices_ok || (k > 0 && b->t_ms < s->bars[k - 1].t_ms)) {
                snprintf(err, errsz, "sim: %s bar %zu: %s", s->symbol, k,
                         prices_ok ? "out of time order" : "prices must be positive numbers");
                return HYDRA_EINVAL;
            }
        }
        hydra_series_passed(s, s->n);
    }
    return 0;
}

static int parse_start(const char *s, int64_t *t)
{
    int y, mo, d, h, mi;
    char tail;
    if (strlen(s) != 16 || sscanf(s, "%4d-%2d-%2d %2d:%2d%c", &y, &mo, &d, &h, &mi, &tail) != 5 ||
        s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || mo < 1 || mo > 12 || d < 1 ||
        d > 31 || h > 23 || mi > 59)
        return HYDRA_EINVAL;
    *t = hydra_utc_from_local(y, mo, d, h, mi, 0);
    return 0;
}

void hydra_sim_close(hydra_sim *sim)
{
    if (sim == NULL)
        return;
    for (size_t i = 0; i < sizeof sim->save / sizeof sim->save[0]; i++)
        sqlite3_finalize(sim->save[i]);
    if (sim->db != NULL)
        sqlite3_close(sim->db);
    release_series(sim->series, sim->n_series);
    free(sim->series);
    free(sim->pos);
    free(sim->orders);
    free(sim->work);
    free(sim->cid_index);
    free(sim->cursor);
    free(sim);
}

int hydra_sim_open(const hydra_sim_cfg *cfg, hydra_series *series, size_t n, hydra_clock *clock,
                   hydra_sim **out, char *err, size_t errsz)
{
    char scratch[8];
    hydra_sim *sim = NULL;
    int rc = HYDRA_EINVAL;
    if (err == NULL) {
        err = scratch;
        errsz = sizeof scratch;
    }
    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (out != NULL)
        *out = NULL;
    if (series == NULL && n > 0)
        return HYDRA_EINVAL;
    /* Ownership of the bars moves here first, so they are freed on every path. */
    sim = calloc(1, sizeof *sim);
    if (sim != NULL) {
        sim->series = calloc(n > 0 ? n : 1, sizeof *sim->series);
        sim->cursor = calloc(n > 0 ? n : 1, sizeof *sim->cursor);
    }
    if (sim == NULL || sim->series == NULL || sim->cursor == NULL) {
        release_series(series, n);
        if (sim != NULL) {
            free(sim->series);
            free(sim->cursor);
            free(sim);
        }
        snprintf(err, errsz, "sim: out of memory");
        return HYDRA_ENOMEM;
    }
    if (n > 0)
        memcpy(sim->series, series, n * sizeof *series);
    sim->n_series = n;
    for (size_t i = 0; i < n; i++) {
        series[i].bars = NULL;
        series[i].n = series[i].cap = 0;
        series[i].map = NULL; /* the sim unmaps it */
        series[i].map_len = 0;
    }
    if (cfg == NULL || clock == NULL || out == NULL || !clock->simulated) {
        snprintf(err, errsz, "sim: needs a configuration, a simulated clock and an output");
        goto fail;
    }
    sim->cfg = *cfg;
    sim->clock = clock;
    if (!bounded(sim->cfg.db_path, sizeof sim->cfg.db_path) ||
        !bounded(sim->cfg.start, sizeof sim->cfg.start)) {
        snprintf(err, errsz, "sim: db_path or start is not a terminated string");
        goto fail;
    }
    if ((rc = check_cfg(&sim->cfg, &sim->open_min, &sim->close_min, err, errsz)) != 0 ||
        (rc = check_series(sim->series, n, err, errsz)) != 0)
        goto fail;

    int64_t first = INT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (sim->series[i].n > 0 && sim->series[i].bars[0].t_ms < first)
            first = sim->series[i].bars[0].t_ms;
    if (first == INT64_MAX) {
        snprintf(err, errsz, "sim: no series has any bars to replay");
        rc = HYDRA_EINVAL;
        goto fail;
    }
    int64_t start = first;
    if (sim->cfg.start[0] != '\0' && parse_start(sim->cfg.start, &start) != 0) {
        snprintf(err, errsz, "sim: start \"%s\" is not \"YYYY-MM-DD HH:MM\"", sim->cfg.start);
        rc = HYDRA_EINVAL;
        goto fail;
    }

    int loaded = 0;
    if (!memory_only(sim->cfg.db_path)) {
        if ((rc = db_open(sim, err, errsz)) != 0)
            goto fail;
        if ((loaded = db_load(sim, err, errsz)) < 0) {
            rc = loaded;
            goto fail;
        }
    }
    if (!loaded) {
        sim->cash = sim->cfg.initial_cash;
        sim->book_gen++;
        sim->last_equity = sim->cash;
        sim->now = start;
        sim->day = hydra_local_date(start);
        sim->next_seq = 1;
        sim->id_salt = 0;
        if (sim->db != NULL) {
            /* A kept account's ids differ from any other account's, as a broker's do. */
            FILE *r = fopen("/dev/urandom", "rb");
            if (r == NULL || fread(&sim->id_salt, sizeof sim->id_salt, 1, r) != 1)
                sim->id_salt = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
            if (r != NULL)
                fclose(r);
        }
    }
    hydra_clock_set(clock, sim->now);
    if (db_save(sim) != 0) {
        snprintf(err, errsz, "sim: %s: %s", sim->cfg.db_path, sim->dberr);
        rc = HYDRA_EIO;
        goto fail;
    }
    *out = sim;
    return 0;
fail:
    hydra_sim_close(sim);
    return rc;
}

/* The earliest bar stamped after t in any series; 0 when all are exhausted. */
static int earliest_after(const hydra_sim *sim, int64_t t, int64_t *next)
{
    int found = 0;
    for (size_t i = 0; i < sim->n_series; i++) {
        const hydra_series *s = &sim->series[i];
        size_t k = first_after(sim, s, t);
        if (k < s->n && (!found || s->bars[k].t_ms < *next)) {
            *next = s->bars[k].t_ms;
            found = 1;
        }
    }
    return found;
}

int hydra_sim_step(hydra_sim *sim)
{
    if (sim == NULL)
        return HYDRA_EINVAL;
    int moved = 0;
    for (int k = 0; k < sim->cfg.bars_per_tick; k++) {
        /*
         * The ordinary step when some series has a bar within it; with no
         * bar anywhere in the next step, a jump to the next bar instead of
         * ticking through the gap.
         */
        int64_t step = sim->now + (int64_t)sim->cfg.bar_seconds * 1000, next = 0;
        if (!earliest_after(sim, sim->now, &next))
            break;
        if (next <= step)
            next = step;
        int rc = advance(sim, next);
        if (rc != 0)
            return rc;
        moved = 1;
    }
    if (!moved)
        return HYDRA_EEOF;
    /* Nothing to save without a file (":memory:", every backtest): no call. */
    return sim->db == NULL || db_save(sim) == 0 ? 0 : HYDRA_EIO;
}

const hydra_series *hydra_sim_series(const hydra_sim *sim, size_t *n)
{
    if (n != NULL)
        *n = sim != NULL ? sim->n_series : 0;
    return sim != NULL ? sim->series : NULL;
}

/* ---- what hydra-exchange serves beyond the broker interface --------------- */

void hydra_sim_forget_closed_orders(hydra_sim *sim)
{
    if (sim != NULL)
        sim->forget_closed = 1;
}

size_t hydra_sim_order_count(const hydra_sim *sim)
{
    return sim != NULL ? sim->n_orders : 0;
}

int hydra_sim_order_at(const hydra_sim *sim, size_t i, hydra_order *o, hydra_sim_order_ext *x)
{
    if (sim == NULL || i >= sim->n_orders)
        return HYDRA_ENOTFOUND;
    if (o != NULL)
        *o = sim->orders[i].o;
    if (x != NULL)
        *x = sim->orders[i].x;
    return 0;
}

static sim_order *find_by_id(const hydra_sim *sim, const char *id)
{
    /* Orders by id are asked for one at a time by clients, not every tick: a scan does. */
    for (size_t i = sim->n_orders; i-- > 0;)
        if (strcmp(sim->orders[i].o.id, id) == 0)
            return &sim->orders[i];
    return NULL;
}

int hydra_sim_order_by_id(const hydra_sim *sim, const char *id, hydra_order *o,
                          hydra_sim_order_ext *x)
{
    const sim_order *so = sim != NULL && id != NULL ? find_by_id(sim, id) : NULL;
    if (so == NULL)
        return HYDRA_ENOTFOUND;
    if (o != NULL)
        *o = so->o;
    if (x != NULL)
        *x = so->x;
    return 0;
}

/* The working order with this id, or a failure saying why there is none. */
static sim_order *working_order(hydra_sim *sim, const char *id, hydra_broker_err *err)
{
    sim_order *so = id != NULL ? find_by_id(sim, id) : NULL;
    if (so == NULL) {
        hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "order not found");
        return NULL;
    }
    if (!is_working(so->o.status)) {
        hydra_broker_fail(err, HYDRA_EREJECTED, 422, "order is not cancelable");
        return NULL;
    }
    return so;
}

static int save_or_fail(hydra_sim *sim, const char *what, hydra_broker_err *err)
{
    if (db_save(sim) != 0)
        return hydra_broker_fail(err, HYDRA_ETRANSIENT, 0, "sim: saving %s failed: %s", what,
                                 sim->dberr);
    return 0;
}

int hydra_sim_end_order(hydra_sim *sim, const char *id, int status, hydra_broker_err *err)
{
    if (status != HYDRA_BOS_CANCELED && status != HYDRA_BOS_EXPIRED)
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: an order ends canceled or expired");
    sim_order *so = working_order(sim, id, err);
    if (so == NULL)
        return err->code;
    finish_order(so, status, sim->now);
    compact_work(sim);
    return save_or_fail(sim, "the order", err);
}

int hydra_sim_close_position(hydra_sim *sim, const char *symbol, double qty, hydra_order *out,
                             hydra_broker_err *err)
{
    const sim_position *p = symbol != NULL ? find_position(sim, symbol) : NULL;
    if (p == NULL)
        return hydra_broker_fail(err, HYDRA_ENOTFOUND, 404, "position does not exist");
    if (qty > p->qty + QTY_EPS)
        return hydra_broker_fail(
            err, HYDRA_EREJECTED, 403,
            "insufficient qty available for order (requested: %.9g, available: %.9g)", qty,
            p->qty);
    hydra_order_request req;
    memset(&req, 0, sizeof req);
    copy_bounded(req.symbol, sizeof req.symbol, p->symbol);
    req.asset_class = p->asset_class;
    req.side = HYDRA_SIDE_SELL;
    req.type = HYDRA_ORDER_MARKET;
    req.tif = p->asset_class == HYDRA_ASSET_CRYPTO ? HYDRA_TIF_GTC : HYDRA_TIF_DAY;
    req.qty = qty > 0 ? qty : p->qty;
    return hydra_sim_submit_ext(sim, &req, NULL, out, NULL, err);
}

int hydra_sim_replace(hydra_sim *sim, const char *id, double qty, hydra_order *out,
                      hydra_broker_err *err)
{
    sim_order *so = working_order(sim, id, err);
    if (so == NULL)
        return err->code;
    /* The replacement inherits the order's terms; its hold is taken over, not added. */
    hydra_order_request req;
    memset(&req, 0, sizeof req);
    const hydra_order *o = &so->o;
    copy_bounded(req.symbol, sizeof req.symbol, o->symbol);
    req.asset_class = o->asset_class;
    req.side = o->side;
    req.type = o->type;
    req.tif = o->tif;
    req.qty = qty > 0 ? qty : o->qty;
    req.notional = qty > 0 ? 0 : o->notional;
    req.limit_price = o->limit_price;
    hydra_sim_order_ext ext = so->x;
    double reserved = so->reserved, held = so->held_qty;
    so->reserved = 0;
    so->held_qty = 0;
    size_t at = (size_t)(so - sim->orders);
    int rc = hydra_sim_submit_ext(sim, &req, &ext, out, NULL, err);
    so = &sim->orders[at]; /* the submission may have moved the list */
    if (rc != 0) {
        so->reserved = reserved;
        so->held_qty = held;
        return rc;
    }
    sim_order *nw = &sim->orders[sim->n_orders - 1];
    copy_bounded(nw->x.replaces, sizeof nw->x.replaces, so->o.id);
    copy_bounded(so->x.replaced_by, sizeof so->x.replaced_by, nw->o.id);
    copy_bounded(so->o.replaced_by, sizeof so->o.replaced_by, nw->o.id);
    so->x.replaced_ms = sim->now;
    finish_order(so, HYDRA_BOS_REPLACED, sim->now);
    compact_work(sim);
    *out = nw->o;
    return save_or_fail(sim, "the replacement", err);
}

int hydra_sim_partial_cancel(hydra_sim *sim, const char *id, double fraction,
                             hydra_broker_err *err)
{
    sim_order *so = working_order(sim, id, err);
    if (so == NULL)
        return err->code;
    hydra_order *o = &so->o;
    if (!(fraction > 0 && fraction < 1) || o->qty <= 0)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422,
                                 "a partial fill needs a fraction in (0, 1) and a qty order");
    hydra_quote q;
    const char *sym[1] = {o->symbol};
    if (sim_latest_prices(sim, sym, 1, &q, err) != 0)
        return err->code;
    /* Book the part as a fill of a smaller order, then restore the order's size and cancel. */
    double full = o->qty;
    double part = o->asset_class == HYDRA_ASSET_CRYPTO ? full * fraction : floor(full * fraction);
    if (part <= 0)
        part = o->asset_class == HYDRA_ASSET_CRYPTO ? full / 2 : 1;
    if (part >= full)
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "order too small to fill in part");
    o->qty = part;
    int rc = book_fill(sim, so, q.price, sim->now);
    o->qty = full;
    if (rc != 0)
        return hydra_broker_fail(err, rc, 0, "sim: booking the partial fill failed");
    finish_order(so, HYDRA_BOS_CANCELED, sim->now);
    compact_work(sim);
    return save_or_fail(sim, "the partial fill", err);
}

int hydra_sim_adjust_position(hydra_sim *sim, const char *symbol, double qty, double price,
                              hydra_broker_err *err)
{
    if (symbol == NULL || !isfinite(qty) || qty == 0 || !isfinite(price) || price < 0)
        return hydra_broker_fail(err, HYDRA_EINVAL, 0, "sim: adjust position: bad arguments");
    sim_position *p = find_position(sim, symbol);
    if (qty < 0 && (p == NULL || p->qty + qty < -QTY_EPS))
        return hydra_broker_fail(err, HYDRA_EREJECTED, 422, "position %s holds less than %g",
                                 symbol, -qty);
    if (p == NULL) {
        hydra_quote q;
        const char *sym[1] = {symbol};
        if (price <= 0 && sim_latest_prices(sim, sym, 1, &q, err) != 0)
            return err->code;
        if ((p = add_position(sim, symbol, hydra_symbol_asset_class(symbol))) == NULL)
            return hydra_broker_fail(err, HYDRA_ENOMEM, 0, "sim: out of memory");
        p->avg_entry = price > 0 ? price : q.price;
    } else if (qty > 0 && price > 0) {
        p->avg_entry = (p->qty * p->avg_entry + qty * price) / (p->qty + qty);
    }
    p->qty += qty;
    sim->pos_dirty = 1;
    sim->book_gen++;
    if (p->qty <= QTY_EPS)
        remove_position(sim, p);
    return save_or_fail(sim, "the position", err);
}
