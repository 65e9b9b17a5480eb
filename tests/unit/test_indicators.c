/*
 * The SDK's indicators (sdk/include/hydra/indicators.h) against values
 * computed independently: tests/data/indicators_reference.py evaluates each
 * one in exact rational arithmetic on the real ORCL daily bars that end on
 * 2004-06-29, and the literals below are its output. Then the properties a
 * bot relies on: SMAs are exact window sums (ORCL's 10- and 30-day SMAs are
 * equal that day, bit for bit), a streaming window gives bit-identical
 * results to the series it has seen across many buffer wraps, warm-up and
 * bad input are refused rather than guessed.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <hydra/indicators.h>

#include "testutil.h"

/* python3 tests/data/indicators_reference.py data/orcl-1995-2014.txt */
/* 2004-01-07 .. 2004-06-29, 120 bars */
#define REF_SMA10 11.375
#define REF_SMA30 11.375
#define REF_SMA10_PREV 11.369
#define REF_EMA10 11.497609732970009
#define REF_RSI14 57.881781398863325
#define REF_ATR14 0.2792296344270545
#define REF_ROC10 0.5123825789923033
#define REF_BB20_LOWER 10.845151429982197
#define REF_BB20_MIDDLE 11.3775
#define REF_BB20_UPPER 11.909848570017804
#define REF_BB20_SD 0.2661742850089018
#define REF_MAX20_HIGH 11.96
#define REF_MIN20_LOW 10.85

/* Rounding in ~120 double operations stays far below this relative error. */
#define assert_rel(got, want)                                                                      \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (!(fabs(g_ - w_) <= 1e-12 * fabs(w_))) {                                                \
            print_error("%s = %.17g, want %.17g\n", #got, g_, w_);                                 \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static hydra_bar *g_bars;
static uint32_t g_n;
static uint32_t g_end; /* index of 2004-06-29 */

static int load_orcl(void **state)
{
    (void)state;
    char *text = tu_read_file(HYDRA_SOURCE_DIR "/data/orcl-1995-2014.txt", NULL);
    if (text == NULL)
        return -1;
    size_t cap = 8192;
    g_bars = calloc(cap, sizeof *g_bars);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char date[16];
        double o, h, l, c, adj, v;
        if (sscanf(line, "%10[0-9-],%lf,%lf,%lf,%lf,%lf,%lf", date, &o, &h, &l, &c, &adj, &v) != 7 ||
            g_n == cap)
            continue;
        if (strcmp(date, "2004-06-29") == 0)
            g_end = g_n;
        g_bars[g_n].t_ms = g_n;
        g_bars[g_n].open = o;
        g_bars[g_n].high = h;
        g_bars[g_n].low = l;
        g_bars[g_n].close = c;
        g_bars[g_n].volume = v;
        g_n++;
    }
    free(text);
    return g_n > 5000 && g_end > 120 ? 0 : -1;
}

static int free_orcl(void **state)
{
    (void)state;
    free(g_bars);
    return 0;
}

/* The 120 bars the host would show a bot on 2004-06-29. */
static const hydra_bar *window_bars(void)
{
    return g_bars + g_end - 119;
}

static void test_window_indicators_match_reference(void **state)
{
    (void)state;
    hydra_series c = hydra_series_closes(window_bars(), 120);
    double x = 0.0;
    hydra_bands bb = {0, 0, 0, 0};
    assert_int_equal(hydra_sma(c, 10, &x), 0);
    assert_rel(x, REF_SMA10);
    assert_int_equal(hydra_sma(c, 30, &x), 0);
    assert_rel(x, REF_SMA30);
    assert_int_equal(hydra_sma(hydra_series_drop(c, 1), 10, &x), 0);
    assert_rel(x, REF_SMA10_PREV);
    assert_int_equal(hydra_roc_pct(c, 10, &x), 0);
    assert_rel(x, REF_ROC10);
    assert_int_equal(hydra_bollinger(c, 20, 2.0, &bb), 0);
    assert_rel(bb.lower, REF_BB20_LOWER);
    assert_rel(bb.middle, REF_BB20_MIDDLE);
    assert_rel(bb.upper, REF_BB20_UPPER);
    assert_rel(bb.stddev, REF_BB20_SD);
    assert_int_equal(hydra_rolling_max(hydra_series_highs(window_bars(), 120), 20, &x), 0);
    assert_true(x == REF_MAX20_HIGH);
    assert_int_equal(hydra_rolling_min(hydra_series_lows(window_bars(), 120), 20, &x), 0);
    assert_true(x == REF_MIN20_LOW);
}

static void test_recursive_indicators_match_reference(void **state)
{
    (void)state;
    hydra_series c = hydra_series_closes(window_bars(), 120);
    double x = 0.0;
    assert_int_equal(hydra_ema_of(c, 10, &x), 0);
    assert_rel(x, REF_EMA10);
    assert_int_equal(hydra_rsi_of(c, 14, &x), 0);
    assert_rel(x, REF_RSI14);
    assert_int_equal(hydra_atr_of(window_bars(), 120, 14, &x), 0);
    assert_rel(x, REF_ATR14);
}

/*
 * The day a running sum gets wrong: the exact sums make the 10- and 30-day
 * averages the same double, so "fast crossed above slow" is false as the
 * formula says.
 */
static void test_sma_is_an_exact_window_sum(void **state)
{
    (void)state;
    hydra_series c = hydra_series_closes(g_bars, g_end + 1);
    double fast, slow, running = 0.0;
    assert_int_equal(hydra_sma(c, 10, &fast), 0);
    assert_int_equal(hydra_sma(c, 30, &slow), 0);
    assert_true(fast == slow);
    assert_true(fast == 11.374999999999998);
    /* What the add-and-subtract shortcut would have said instead. */
    for (uint32_t i = 0; i <= g_end; i++) {
        running += g_bars[i].close;
        if (i >= 10)
            running -= g_bars[i - 10].close;
    }
    assert_true(running / 10 != fast);
}

/* A streaming window gives the series' answers bit for bit, through ~20 buffer wraps. */
static void test_streaming_equals_series(void **state)
{
    (void)state;
    static const uint32_t lengths[] = {1, 10, 30, 200, HYDRA_IND_CAPACITY};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        uint32_t n = lengths[k];
        hydra_window w, r;
        hydra_ema e;
        hydra_rsi rs;
        hydra_atr a;
        assert_int_equal(hydra_window_init(&w, n), 0);
        assert_int_equal(hydra_window_init(&r, n + 1 <= HYDRA_IND_CAPACITY ? n + 1 : n), 0);
        assert_int_equal(hydra_ema_init(&e, n), 0);
        assert_int_equal(hydra_rsi_init(&rs, n), 0);
        assert_int_equal(hydra_atr_init(&a, n), 0);
        for (uint32_t i = 0; i < g_n; i++) {
            const hydra_bar *b = &g_bars[i];
            hydra_series upto = hydra_series_closes(g_bars, i + 1);
            double got, want;
            hydra_bands gb, wb;
            assert_int_equal(hydra_window_push(&w, b->close), 0);
            assert_int_equal(hydra_window_push(&r, b->close), 0);
            assert_int_equal(hydra_ema_push(&e, b->close), 0);
            assert_int_equal(hydra_rsi_push(&rs, b->close), 0);
            assert_int_equal(hydra_atr_push(&a, b->high, b->low, b->close), 0);
            assert_int_equal(hydra_window_full(&w), i + 1 >= n);
            int rc = hydra_sma(hydra_window_series(&w), n, &got);
            assert_int_equal(rc, hydra_sma(upto, n, &want));
            if (rc == 0)
                assert_true(got == want);
            rc = hydra_rolling_max(hydra_window_series(&w), n, &got);
            assert_int_equal(rc, hydra_rolling_max(upto, n, &want));
            if (rc == 0)
                assert_true(got == want);
            rc = hydra_rolling_min(hydra_window_series(&w), n, &got);
            assert_int_equal(rc, hydra_rolling_min(upto, n, &want));
            if (rc == 0)
                assert_true(got == want);
            rc = hydra_bollinger(hydra_window_series(&w), n, 2.0, &gb);
            assert_int_equal(rc, hydra_bollinger(upto, n, 2.0, &wb));
            if (rc == 0)
                assert_memory_equal(&gb, &wb, sizeof gb);
            if (r.n == n + 1) {
                rc = hydra_roc_pct(hydra_window_series(&r), n, &got);
                assert_int_equal(rc, hydra_roc_pct(upto, n, &want));
                if (rc == 0)
                    assert_true(got == want);
            }
            /* Only spot-check the O(n) recomputations of the recursions. */
            if (i % 997 == 0 || i + 1 == n || i == n) {
                rc = hydra_ema_value(&e, &got);
                assert_int_equal(rc, hydra_ema_of(upto, n, &want));
                if (rc == 0)
                    assert_true(got == want);
                rc = hydra_rsi_value(&rs, &got);
                assert_int_equal(rc, hydra_rsi_of(upto, n, &want));
                if (rc == 0)
                    assert_true(got == want);
                rc = hydra_atr_value(&a, &got);
                assert_int_equal(rc, hydra_atr_of(g_bars, i + 1, n, &want));
                if (rc == 0)
                    assert_true(got == want);
            }
        }
    }
}

/* Each indicator is ready exactly when its documented warm-up is met. */
static void test_warm_up(void **state)
{
    (void)state;
    double x = -7.0;
    hydra_bands bb = {0, 0, 0, 0};
    hydra_series c = hydra_series_closes(g_bars, 1000);
    assert_int_equal(hydra_sma(hydra_series_drop(c, 1000 - 9), 10, &x), -1);
    assert_int_equal(hydra_sma(hydra_series_drop(c, 1000 - 10), 10, &x), 0);
    assert_int_equal(hydra_roc_pct(hydra_series_drop(c, 1000 - 10), 10, &x), -1);
    assert_int_equal(hydra_roc_pct(hydra_series_drop(c, 1000 - 11), 10, &x), 0);
    assert_int_equal(hydra_bollinger(hydra_series_drop(c, 1000 - 19), 20, 2.0, &bb), -1);
    assert_int_equal(hydra_rolling_max(hydra_series_drop(c, 1000 - 19), 20, &x), -1);
    assert_int_equal(hydra_ema_of(hydra_series_drop(c, 1000 - 9), 10, &x), -1);
    assert_int_equal(hydra_ema_of(hydra_series_drop(c, 1000 - 10), 10, &x), 0);
    assert_true(x == (g_bars[0].close + g_bars[1].close + g_bars[2].close + g_bars[3].close +
                      g_bars[4].close + g_bars[5].close + g_bars[6].close + g_bars[7].close +
                      g_bars[8].close + g_bars[9].close) / 10.0);
    assert_int_equal(hydra_rsi_of(hydra_series_drop(c, 1000 - 14), 14, &x), -1);
    assert_int_equal(hydra_rsi_of(hydra_series_drop(c, 1000 - 15), 14, &x), 0);
    assert_int_equal(hydra_atr_of(g_bars, 14, 14, &x), -1);
    assert_int_equal(hydra_atr_of(g_bars, 15, 14, &x), 0);
}

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    double v[12] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};
    double x = -7.0;
    hydra_window w;
    hydra_ema e;
    hydra_rsi r;
    hydra_atr a;
    assert_int_equal(hydra_window_init(&w, 0), -1);
    assert_int_equal(hydra_window_init(&w, HYDRA_IND_CAPACITY + 1), -1);
    assert_int_equal(hydra_ema_init(&e, 0), -1);
    assert_int_equal(hydra_rsi_init(&r, 0), -1);
    assert_int_equal(hydra_atr_init(&a, 0), -1);
    assert_int_equal(hydra_sma(hydra_series_of(v, 12), 0, &x), -1);
    assert_int_equal(hydra_sma(hydra_series_of(NULL, 12), 1, &x), -1);
    assert_true(x == -7.0);

    /* A NaN in the window: no average; once it leaves the window, averages again. */
    v[5] = NAN;
    assert_int_equal(hydra_sma(hydra_series_of(v, 12), 7, &x), -1);
    assert_int_equal(hydra_rolling_max(hydra_series_of(v, 12), 7, &x), -1);
    assert_int_equal(hydra_rolling_min(hydra_series_of(v, 12), 7, &x), -1);
    assert_int_equal(hydra_ema_of(hydra_series_of(v, 12), 3, &x), -1);
    assert_true(x == -7.0);
    assert_int_equal(hydra_sma(hydra_series_of(v, 12), 6, &x), 0);
    assert_true(x == (16.0 + 17 + 18 + 19 + 20 + 21) / 6);
    /* hydra_sma checks the sum: an infinity of either sign, both, or an overflow give none. */
    double inf[4] = {1.0, INFINITY, 2.0, 3.0}, both[3] = {INFINITY, -INFINITY, 1.0},
           huge[3] = {DBL_MAX, DBL_MAX, 1.0};
    x = -7.0;
    assert_int_equal(hydra_sma(hydra_series_of(inf, 4), 3, &x), -1);
    inf[1] = -INFINITY;
    assert_int_equal(hydra_sma(hydra_series_of(inf, 4), 4, &x), -1);
    assert_int_equal(hydra_sma(hydra_series_of(both, 3), 3, &x), -1);
    assert_int_equal(hydra_sma(hydra_series_of(huge, 3), 3, &x), -1);
    assert_true(x == -7.0);
    assert_int_equal(hydra_sma(hydra_series_of(inf, 4), 2, &x), 0);
    assert_true(x == 2.5);

    /* Rate of change needs positive prices at both ends. */
    v[1] = 0.0;
    assert_int_equal(hydra_roc_pct(hydra_series_of(v, 12), 10, &x), -1);
    v[1] = 11.0;
    assert_int_equal(hydra_roc_pct(hydra_series_of(v, 12), 10, &x), 0);
    assert_rel(x, (21.0 / 11.0 - 1.0) * 100.0);

    /* A streaming push of a non-finite value is refused and changes nothing. */
    assert_int_equal(hydra_window_init(&w, 3), 0);
    assert_int_equal(hydra_ema_init(&e, 2), 0);
    assert_int_equal(hydra_rsi_init(&r, 2), 0);
    assert_int_equal(hydra_atr_init(&a, 2), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(hydra_window_push(&w, 1.0 + i), 0);
        assert_int_equal(hydra_ema_push(&e, 1.0 + i), 0);
        assert_int_equal(hydra_rsi_push(&r, 1.0 + i), 0);
        assert_int_equal(hydra_atr_push(&a, 2.0 + i, 0.5 + i, 1.0 + i), 0);
    }
    hydra_window w0 = w;
    hydra_ema e0 = e;
    hydra_rsi r0 = r;
    hydra_atr a0 = a;
    assert_int_equal(hydra_window_push(&w, INFINITY), -1);
    assert_int_equal(hydra_ema_push(&e, NAN), -1);
    assert_int_equal(hydra_rsi_push(&r, -INFINITY), -1);
    assert_int_equal(hydra_atr_push(&a, 3.0, NAN, 2.0), -1);
    assert_memory_equal(&w, &w0, sizeof w);
    assert_memory_equal(&e, &e0, sizeof e);
    assert_memory_equal(&r, &r0, sizeof r);
    assert_memory_equal(&a, &a0, sizeof a);
}

/* RSI's ends of the scale: only gains is 100, only losses 0, no movement 50. */
static void test_rsi_extremes(void **state)
{
    (void)state;
    double up[6] = {1, 2, 3, 4, 5, 6}, down[6] = {6, 5, 4, 3, 2, 1}, flat[6] = {3, 3, 3, 3, 3, 3};
    double x = 0.0;
    assert_int_equal(hydra_rsi_of(hydra_series_of(up, 6), 5, &x), 0);
    assert_true(x == 100.0);
    assert_int_equal(hydra_rsi_of(hydra_series_of(down, 6), 5, &x), 0);
    assert_true(x == 0.0);
    assert_int_equal(hydra_rsi_of(hydra_series_of(flat, 6), 5, &x), 0);
    assert_true(x == 50.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_indicators_match_reference),
        cmocka_unit_test(test_recursive_indicators_match_reference),
        cmocka_unit_test(test_sma_is_an_exact_window_sum),
        cmocka_unit_test(test_streaming_equals_series),
        cmocka_unit_test(test_warm_up),
        cmocka_unit_test(test_bad_input_is_refused),
        cmocka_unit_test(test_rsi_extremes),
    };
    return cmocka_run_group_tests(tests, load_orcl, free_orcl);
}
