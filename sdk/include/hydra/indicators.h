/*
 * Hydra SDK: technical indicators for bots, header-only and allocation-free.
 *
 * Two ways to use each indicator:
 *
 *   - Over a series the host already shows (the bars of a symbol view):
 *     hydra_sma(hydra_series_closes(v->bars, v->n_bars), 30, &out). A
 *     series is a strided view, so it reads the closes (or highs, lows...)
 *     of a bar array in place; hydra_series_drop(s, 1) is the same series
 *     one bar earlier. Recursive indicators (EMA, RSI, ATR) start at the
 *     first value of the series they are given.
 *
 *   - Streaming: the caller owns a state struct (on the stack or in its
 *     bot struct; nothing is allocated) and pushes one value or bar at a
 *     time. hydra_window holds the last n values (n up to
 *     HYDRA_IND_CAPACITY) and gives SMA, Bollinger bands, rolling max/min
 *     and rate of change over them; hydra_ema, hydra_rsi and hydra_atr keep
 *     their recursions.
 *
 * Every read returns 0 and writes *out, or -1 (and leaves *out alone)
 * while the indicator is warming up, when an argument is invalid, or when
 * a value it would read is not finite (hydra_sma also when the sum
 * overflows). A streaming push of a non-finite value is refused (-1) and
 * leaves the state as it was.
 *
 * Sums are exact window sums: SMA and Bollinger add up their window afresh,
 * oldest value first, on every read, never a running sum that adds the new
 * value and subtracts the old one. A running sum drifts by an ulp on real
 * prices, and a crossover compares two averages that can be equal (ORCL's
 * 10- and 30-day SMAs on 2004-06-29 are both 11.374999999999998; a running
 * sum makes them 11.375000000000004 and 11.37499999999998). A streaming
 * window and a series with the same last n values give bit-identical
 * results.
 *
 * C11 and C++17. Thread-safe in the only sense that matters here: the
 * functions touch nothing but their arguments.
 */
#ifndef HYDRA_INDICATORS_H
#define HYDRA_INDICATORS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest window a hydra_window holds (the host shows 120 bars per symbol). */
#define HYDRA_IND_CAPACITY 256u

/* ------------------------------------------------------------------------ */
/* Series: a read-only strided view of doubles                                */
/* ------------------------------------------------------------------------ */

typedef struct hydra_series {
    const unsigned char *first; /* element 0, the oldest */
    size_t stride;              /* bytes from one element to the next */
    uint32_t len;
} hydra_series;

/* A plain array of len doubles, oldest first. */
static inline hydra_series hydra_series_of(const double *x, uint32_t len)
{
    hydra_series s;
    s.first = (const unsigned char *)x;
    s.stride = sizeof(double);
    s.len = x != NULL ? len : 0;
    return s;
}

/* One double field of each bar, e.g. offsetof(hydra_bar, high). */
static inline hydra_series hydra_series_bar_field(const hydra_bar *bars, uint32_t n_bars,
                                                  size_t field_offset)
{
    hydra_series s;
    s.first = bars != NULL ? (const unsigned char *)bars + field_offset : NULL;
    s.stride = sizeof(hydra_bar);
    s.len = bars != NULL ? n_bars : 0;
    return s;
}

static inline hydra_series hydra_series_closes(const hydra_bar *bars, uint32_t n_bars)
{
    return hydra_series_bar_field(bars, n_bars, offsetof(hydra_bar, close));
}

static inline hydra_series hydra_series_highs(const hydra_bar *bars, uint32_t n_bars)
{
    return hydra_series_bar_field(bars, n_bars, offsetof(hydra_bar, high));
}

static inline hydra_series hydra_series_lows(const hydra_bar *bars, uint32_t n_bars)
{
    return hydra_series_bar_field(bars, n_bars, offsetof(hydra_bar, low));
}

/* Element i, 0 = oldest. The caller keeps i < s.len. */
static inline double hydra_series_at(hydra_series s, uint32_t i)
{
    double x;
    memcpy(&x, s.first + (size_t)i * s.stride, sizeof x);
    return x;
}

/* The series without its last `back` elements: the same indicator `back` steps earlier. */
static inline hydra_series hydra_series_drop(hydra_series s, uint32_t back)
{
    s.len = back < s.len ? s.len - back : 0;
    return s;
}

/* ------------------------------------------------------------------------ */
/* Window indicators over the last n values of a series                       */
/* ------------------------------------------------------------------------ */

/*
 * Simple moving average of the last n values: their sum, oldest first,
 * divided by n. Finiteness is checked once, on the sum: a NaN or an
 * infinity among the values makes the sum one too, and a sum that
 * overflows has no finite average either. The loop is then a load and an
 * add a value, which matters to a bot that reads a few SMAs every bar.
 */
static inline int hydra_sma(hydra_series s, uint32_t n, double *out)
{
    double sum = 0.0;
    const unsigned char *p;
    uint32_t i;
    if (n == 0 || s.len < n || out == NULL)
        return -1;
    p = s.first + (size_t)(s.len - n) * s.stride;
    for (i = 0; i < n; i++, p += s.stride) {
        double x;
        memcpy(&x, p, sizeof x);
        sum += x;
    }
    if (!isfinite(sum))
        return -1;
    *out = sum / (double)n;
    return 0;
}

/* The highest (want_max) or lowest of the last n values. */
static inline int hydra_rolling_extreme_(hydra_series s, uint32_t n, int want_max, double *out)
{
    double m = 0.0;
    uint32_t i;
    if (n == 0 || s.len < n || out == NULL)
        return -1;
    for (i = s.len - n; i < s.len; i++) {
        double x = hydra_series_at(s, i);
        if (!isfinite(x))
            return -1;
        if (i == s.len - n || (want_max ? x > m : x < m))
            m = x;
    }
    *out = m;
    return 0;
}

/* Highest of the last n values. */
static inline int hydra_rolling_max(hydra_series s, uint32_t n, double *out)
{
    return hydra_rolling_extreme_(s, n, 1, out);
}

/* Lowest of the last n values. */
static inline int hydra_rolling_min(hydra_series s, uint32_t n, double *out)
{
    return hydra_rolling_extreme_(s, n, 0, out);
}

/*
 * Rate of change over n steps, in percent: (last / value n steps earlier -
 * 1) x 100. Needs n + 1 values; both must be finite and positive (prices).
 */
static inline int hydra_roc_pct(hydra_series s, uint32_t n, double *out)
{
    double now, then;
    if (n == 0 || s.len < n + 1 || out == NULL)
        return -1;
    now = hydra_series_at(s, s.len - 1);
    then = hydra_series_at(s, s.len - 1 - n);
    if (!isfinite(now) || !isfinite(then) || !(now > 0.0) || !(then > 0.0))
        return -1;
    *out = (now / then - 1.0) * 100.0;
    return 0;
}

/* Bollinger bands: the SMA and the SMA plus and minus k population standard deviations. */
typedef struct hydra_bands {
    double lower;
    double middle; /* hydra_sma of the same window, bit for bit */
    double upper;
    double stddev; /* population (divided by n), as Bollinger defines it */
} hydra_bands;

static inline int hydra_bollinger(hydra_series s, uint32_t n, double k, hydra_bands *out)
{
    double mid, ss = 0.0, sd;
    uint32_t i;
    if (out == NULL || !isfinite(k) || hydra_sma(s, n, &mid) != 0)
        return -1;
    for (i = s.len - n; i < s.len; i++) {
        double d = hydra_series_at(s, i) - mid;
        ss += d * d;
    }
    sd = sqrt(ss / (double)n);
    out->middle = mid;
    out->stddev = sd;
    out->upper = mid + k * sd;
    out->lower = mid - k * sd;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Streaming window: the last n values, contiguous, oldest first              */
/* ------------------------------------------------------------------------ */

/*
 * Values are appended to v; when v is full the last n - 1 are moved to its
 * front, so a push costs O(1) amortised and the window is always one
 * contiguous run that hydra_window_series() exposes to the functions above.
 */
typedef struct hydra_window {
    uint32_t n;   /* window length, 1..HYDRA_IND_CAPACITY */
    uint32_t len; /* values held, up to n */
    uint32_t end; /* one past the newest value in v */
    double v[HYDRA_IND_CAPACITY];
} hydra_window;

/* Returns 0, or -1 when n is 0 or above HYDRA_IND_CAPACITY. */
static inline int hydra_window_init(hydra_window *w, uint32_t n)
{
    if (w == NULL || n == 0 || n > HYDRA_IND_CAPACITY)
        return -1;
    memset(w, 0, sizeof *w);
    w->n = n;
    return 0;
}

static inline int hydra_window_push(hydra_window *w, double x)
{
    if (w == NULL || w->n == 0 || !isfinite(x))
        return -1;
    if (w->end == HYDRA_IND_CAPACITY) {
        uint32_t keep = w->len < w->n ? w->len : w->n - 1;
        memmove(w->v, w->v + (w->end - keep), (size_t)keep * sizeof w->v[0]);
        w->end = keep;
        w->len = keep;
    }
    w->v[w->end++] = x;
    if (w->len < w->n)
        w->len++;
    return 0;
}

/* True once the window holds n values. */
static inline int hydra_window_full(const hydra_window *w)
{
    return w != NULL && w->n > 0 && w->len == w->n;
}

/* The values held, oldest first (fewer than n while warming up). */
static inline hydra_series hydra_window_series(const hydra_window *w)
{
    if (w == NULL)
        return hydra_series_of(NULL, 0);
    return hydra_series_of(w->v + (w->end - w->len), w->len);
}

/* ------------------------------------------------------------------------ */
/* Recursive indicators: EMA, RSI (Wilder), ATR (Wilder)                       */
/* ------------------------------------------------------------------------ */

/*
 * Exponential moving average with alpha = 2 / (n + 1), seeded with the SMA
 * of the first n values: ema = alpha * x + (1 - alpha) * ema. Ready after
 * n values.
 */
typedef struct hydra_ema {
    uint32_t n;
    uint32_t count; /* values pushed, saturating at n */
    double alpha;
    double sum;     /* of the first n values, for the seed */
    double value;
} hydra_ema;

static inline int hydra_ema_init(hydra_ema *e, uint32_t n)
{
    if (e == NULL || n == 0)
        return -1;
    memset(e, 0, sizeof *e);
    e->n = n;
    e->alpha = 2.0 / ((double)n + 1.0);
    return 0;
}

static inline int hydra_ema_push(hydra_ema *e, double x)
{
    if (e == NULL || e->n == 0 || !isfinite(x))
        return -1;
    if (e->count < e->n) {
        e->sum += x;
        if (++e->count == e->n)
            e->value = e->sum / (double)e->n;
    } else {
        e->value = e->alpha * x + (1.0 - e->alpha) * e->value;
    }
    return 0;
}

static inline int hydra_ema_value(const hydra_ema *e, double *out)
{
    if (e == NULL || out == NULL || e->n == 0 || e->count < e->n)
        return -1;
    *out = e->value;
    return 0;
}

/*
 * Relative strength index, Wilder's smoothing: the first average gain and
 * loss are the plain means of the first n changes, then
 * avg = (avg * (n - 1) + change) / n. RSI = 100 - 100 / (1 + gain / loss);
 * 100 when there were no losses, 50 when nothing moved. Ready after n + 1
 * values (n changes).
 */
typedef struct hydra_rsi {
    uint32_t n;
    uint32_t changes; /* changes seen, saturating at n */
    int have_prev;
    double prev;
    double avg_gain;  /* a sum until `changes` reaches n */
    double avg_loss;
} hydra_rsi;

static inline int hydra_rsi_init(hydra_rsi *r, uint32_t n)
{
    if (r == NULL || n == 0)
        return -1;
    memset(r, 0, sizeof *r);
    r->n = n;
    return 0;
}

static inline int hydra_rsi_push(hydra_rsi *r, double x)
{
    double d, gain, loss;
    if (r == NULL || r->n == 0 || !isfinite(x))
        return -1;
    if (!r->have_prev) {
        r->have_prev = 1;
        r->prev = x;
        return 0;
    }
    d = x - r->prev;
    r->prev = x;
    gain = d > 0.0 ? d : 0.0;
    loss = d < 0.0 ? -d : 0.0;
    if (r->changes < r->n) {
        r->avg_gain += gain;
        r->avg_loss += loss;
        if (++r->changes == r->n) {
            r->avg_gain /= (double)r->n;
            r->avg_loss /= (double)r->n;
        }
    } else {
        r->avg_gain = (r->avg_gain * (double)(r->n - 1) + gain) / (double)r->n;
        r->avg_loss = (r->avg_loss * (double)(r->n - 1) + loss) / (double)r->n;
    }
    return 0;
}

static inline int hydra_rsi_value(const hydra_rsi *r, double *out)
{
    if (r == NULL || out == NULL || r->n == 0 || r->changes < r->n)
        return -1;
    if (r->avg_loss == 0.0)
        *out = r->avg_gain == 0.0 ? 50.0 : 100.0;
    else
        *out = 100.0 - 100.0 / (1.0 + r->avg_gain / r->avg_loss);
    return 0;
}

/*
 * Average true range, Wilder's smoothing. A bar's true range is the largest
 * of high - low, |high - previous close| and |low - previous close|, so the
 * first bar only supplies a close. The first ATR is the mean of the first n
 * true ranges, then atr = (atr * (n - 1) + tr) / n. Ready after n + 1 bars.
 */
typedef struct hydra_atr {
    uint32_t n;
    uint32_t ranges; /* true ranges seen, saturating at n */
    int have_prev;
    double prev_close;
    double value;    /* a sum until `ranges` reaches n */
} hydra_atr;

static inline int hydra_atr_init(hydra_atr *a, uint32_t n)
{
    if (a == NULL || n == 0)
        return -1;
    memset(a, 0, sizeof *a);
    a->n = n;
    return 0;
}

static inline int hydra_atr_push(hydra_atr *a, double high, double low, double close)
{
    double tr, up, down;
    if (a == NULL || a->n == 0 || !isfinite(high) || !isfinite(low) || !isfinite(close))
        return -1;
    if (!a->have_prev) {
        a->have_prev = 1;
        a->prev_close = close;
        return 0;
    }
    up = fabs(high - a->prev_close);
    down = fabs(low - a->prev_close);
    tr = high - low;
    if (up > tr)
        tr = up;
    if (down > tr)
        tr = down;
    a->prev_close = close;
    if (a->ranges < a->n) {
        a->value += tr;
        if (++a->ranges == a->n)
            a->value /= (double)a->n;
    } else {
        a->value = (a->value * (double)(a->n - 1) + tr) / (double)a->n;
    }
    return 0;
}

static inline int hydra_atr_value(const hydra_atr *a, double *out)
{
    if (a == NULL || out == NULL || a->n == 0 || a->ranges < a->n)
        return -1;
    *out = a->value;
    return 0;
}

/* The recursive indicators over a whole series or bar array, from its first element. */
static inline int hydra_ema_of(hydra_series s, uint32_t n, double *out)
{
    hydra_ema e;
    uint32_t i;
    if (hydra_ema_init(&e, n) != 0)
        return -1;
    for (i = 0; i < s.len; i++)
        if (hydra_ema_push(&e, hydra_series_at(s, i)) != 0)
            return -1;
    return hydra_ema_value(&e, out);
}

static inline int hydra_rsi_of(hydra_series s, uint32_t n, double *out)
{
    hydra_rsi r;
    uint32_t i;
    if (hydra_rsi_init(&r, n) != 0)
        return -1;
    for (i = 0; i < s.len; i++)
        if (hydra_rsi_push(&r, hydra_series_at(s, i)) != 0)
            return -1;
    return hydra_rsi_value(&r, out);
}

static inline int hydra_atr_of(const hydra_bar *bars, uint32_t n_bars, uint32_t n, double *out)
{
    hydra_atr a;
    uint32_t i;
    if (bars == NULL || hydra_atr_init(&a, n) != 0)
        return -1;
    for (i = 0; i < n_bars; i++)
        if (hydra_atr_push(&a, bars[i].high, bars[i].low, bars[i].close) != 0)
            return -1;
    return hydra_atr_value(&a, out);
}

#ifdef __cplusplus
}
#endif

#endif
