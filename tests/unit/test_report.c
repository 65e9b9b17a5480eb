/*
 * The pure parts of the backtest reports (report.h): 1/2/5 value ticks,
 * calendar ticks, monthly returns of an equity curve built here, the
 * downsampling of long curves, and the exact decimals of trades.csv.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static void assert_ticks(double lo, double hi, int max, const double *want, int n_want,
                         double want_step)
{
    double t[64], step = 0;
    int n = hydra_report_nice_ticks(lo, hi, max, t, &step);
    assert_int_equal(n, n_want);
    assert_near(step, want_step, want_step * 1e-12);
    for (int i = 0; i < n; i++)
        assert_near(t[i], want[i], want_step * 1e-9);
}

static void test_nice_ticks_known_ranges(void **state)
{
    (void)state;
    /* Twenty would give six ticks: fifty is the finest step with at most five. */
    assert_ticks(0, 100, 5, (double[]){0, 50, 100}, 3, 50);
    /* The shipped run's equity: 99522.11 to 100000. */
    assert_ticks(99522.11, 100000, 5, (double[]){99600, 99700, 99800, 99900, 100000}, 5, 100);
    /* A drawdown axis, as fractions, ending at an exact zero. */
    assert_ticks(-0.0048, 0, 4, (double[]){-0.004, -0.002, 0}, 3, 0.002);
    /* Decimal steps that binary cannot hold: 0.1 / 0.05 is not a whole number in doubles. */
    assert_ticks(0.1, 0.3, 10, (double[]){0.1, 0.15, 0.2, 0.25, 0.3}, 5, 0.05);
    /* A flat line is widened around its value. */
    assert_ticks(5, 5, 4, (double[]){4, 5, 6}, 3, 1);
    double t[8], step;
    int n = hydra_report_nice_ticks(-0.0048, 0, 4, t, &step);
    assert_int_equal(n, 3);
    assert_false(signbit(t[2])); /* 0, never -0 (a "-0.0%" label) */
}

/* Over many ranges: every tick inside, at most max of them, a 1/2/5 x 10^k step, evenly spaced. */
static void test_nice_ticks_properties(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    int tested = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double lo = ((double)(x % 2000001) - 1000000) * pow(10, (int)(x >> 40) % 12 - 8);
        double hi = lo + (double)(x >> 20 & 0xfffff) * pow(10, (int)(x >> 50) % 12 - 8) + 1e-12;
        int max = 2 + (int)(x >> 33) % 12;
        if (hi - lo < 1e-6 * fabs(lo))
            continue; /* a flat line is widened; tested above */
        double t[32], step;
        int n = hydra_report_nice_ticks(lo, hi, max, t, &step);
        assert_true(n >= 1 && n <= max);
        double mant = step / pow(10, floor(log10(step) + 1e-12));
        assert_true(fabs(mant - 1) < 1e-9 || fabs(mant - 2) < 1e-9 || fabs(mant - 5) < 1e-9);
        for (int k = 0; k < n; k++) {
            assert_true(t[k] >= lo - step * 1e-6 && t[k] <= hi + step * 1e-6);
            if (k > 0)
                assert_near(t[k] - t[k - 1], step, step * 1e-6);
        }
        /* No finer 1/2/5 step fits: the next finer one would overflow max. */
        double finer = fabs(mant - 1) < 1e-9   ? step / 2
                       : fabs(mant - 2) < 1e-9 ? step / 2
                                               : step * 2 / 5;
        double count = floor(hi / finer + 1e-9) - ceil(lo / finer - 1e-9) + 1;
        assert_true(count > max);
        tested++;
    }
    assert_true(tested > 15000);
}

static void assert_dates(int from, int to, int max, const int *want, int n_want, char want_unit)
{
    int d[64];
    char unit = 0;
    int n = hydra_report_date_ticks(hydra_report_ms_of_date(from),
                                    hydra_report_ms_of_date(to) + 12 * 3600000LL, max, d, &unit);
    assert_int_equal(unit, want_unit);
    assert_int_equal(n, n_want);
    for (int i = 0; i < n; i++)
        assert_int_equal(d[i], want[i]);
}

static void test_date_ticks(void **state)
{
    (void)state;
    /* The shipped data's span: every second year. */
    assert_dates(19950104, 20141231, 13,
                 (int[]){19960101, 19980101, 20000101, 20020101, 20040101, 20060101, 20080101,
                         20100101, 20120101, 20140101},
                 10, 'y');
    /* Two months of minutes: Mondays (2006-01-02 was one). */
    assert_dates(20060102, 20060303, 10,
                 (int[]){20060102, 20060109, 20060116, 20060123, 20060130, 20060206, 20060213,
                         20060220, 20060227},
                 9, 'd');
    /* A year: every second month, on the 1st. */
    assert_dates(20040629, 20050630, 8,
                 (int[]){20040701, 20040901, 20041101, 20050101, 20050301, 20050501}, 6, 'm');
    /* Before 1970 (negative day numbers), the first day itself a tick. */
    assert_dates(19500101, 19600601, 6,
                 (int[]){19500101, 19520101, 19540101, 19560101, 19580101, 19600101}, 6, 'y');
    /* A million days: centuries. */
    int d[16];
    char unit;
    int n = hydra_report_date_ticks(hydra_report_ms_of_date(19500101),
                                    hydra_report_ms_of_date(19500101) + 1000000LL * 86400000LL, 12,
                                    d, &unit);
    assert_int_equal(unit, 'y');
    assert_int_equal(n, 6); /* 2000, 2500, ... 4500: every 500 years */
    assert_int_equal(d[0], 20000101);
    assert_int_equal(d[5], 45000101);
}

/*
 * An equity curve built by hand: 100 at the start, +10% in December 2023,
 * +10% in January 2024, -10% in February, nothing from March to November,
 * +10% in December, +10% in January 2025. Mid-month points must not count.
 */
static void test_monthly_returns(void **state)
{
    (void)state;
    int dates[] = {20231229, 20231229, 20240102, 20240131, 20240215, 20240229, 20241231, 20250102};
    double eq[] = {100, 110, 99, 121, 100, 108.9, 119.79, 131.769};
    hydra_report_year y[4];
    size_t n = hydra_report_monthly_returns(dates, eq, 8, y, 4);
    assert_int_equal(n, 3);
    assert_int_equal(y[0].year, 2023);
    assert_near(y[0].month[11], 0.10, 1e-12);
    assert_near(y[0].total, 0.10, 1e-12);
    for (int m = 0; m < 11; m++)
        assert_true(isnan(y[0].month[m]));
    assert_int_equal(y[1].year, 2024);
    assert_near(y[1].month[0], 0.10, 1e-12);
    assert_near(y[1].month[1], -0.10, 1e-12);
    for (int m = 2; m < 11; m++)
        assert_true(isnan(y[1].month[m]));
    assert_near(y[1].month[11], 0.10, 1e-12);
    /* The year compounds its months: 1.1 * 0.9 * 1.1 - 1. */
    assert_near(y[1].total, 1.1 * 0.9 * 1.1 - 1, 1e-12);
    assert_int_equal(y[2].year, 2025);
    assert_near(y[2].month[0], 0.10, 1e-12);
    assert_near(y[2].total, 0.10, 1e-12);
    /* Rows past cap are counted, not written. */
    memset(y, 0, sizeof y);
    assert_int_equal(hydra_report_monthly_returns(dates, eq, 8, y, 1), 3);
    assert_int_equal(y[0].year, 2023);
    assert_int_equal(y[1].year, 0);
    assert_int_equal(hydra_report_monthly_returns(dates, eq, 8, NULL, 0), 3);
    /* The start alone has no month. */
    assert_int_equal(hydra_report_monthly_returns(dates, eq, 1, y, 4), 0);
}

static void test_downsample_keeps_extremes(void **state)
{
    (void)state;
    static double y[10000];
    for (int i = 0; i < 10000; i++)
        y[i] = sin(i / 300.0) + 0.1 * sin(i * 1.7);
    y[4321] = 5;
    y[8765] = -5;
    size_t idx[202];
    size_t n = hydra_report_downsample(y, 10000, 100, idx);
    assert_true(n > 100 && n <= 202);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[n - 1], 9999);
    int hi = 0, lo = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_true(idx[i] > idx[i - 1]);
        hi |= idx[i] == 4321;
        lo |= idx[i] == 8765;
    }
    assert_true(hi && lo);
    /* A short curve is kept whole. */
    assert_int_equal(hydra_report_downsample(y, 202, 100, idx), 202);
}

static void test_exact_decimals(void **state)
{
    (void)state;
    char b[48];
    assert_string_equal(hydra_report_exact(b, sizeof b, 11.5 * 1.001), "11.5115");
    assert_string_equal(hydra_report_exact(b, sizeof b, 10), "10");
    assert_string_equal(hydra_report_exact(b, sizeof b, 0.1 + 0.2), "0.3");
    assert_string_equal(hydra_report_exact(b, sizeof b, 68.224694123456), "68.22469412");
    assert_string_equal(hydra_report_exact(b, sizeof b, 0.00000001), "0.00000001");
    assert_string_equal(hydra_report_exact(b, sizeof b, 12345678.5), "12345678.5");
    assert_string_equal(hydra_report_exact(b, sizeof b, (10.4895 - 11.5 * 1.001) * 10 - 0.2),
                        "-10.42");
    assert_string_equal(hydra_report_exact(b, sizeof b, -0.000000001), "0");
    assert_string_equal(hydra_report_exact(b, sizeof b, -0.0), "0");
    assert_string_equal(hydra_report_exact(b, sizeof b, -2.5), "-2.5");
}

/* A reproducible stream of 64-bit values (splitmix64). */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void check_fixed(double x, int decimals)
{
    char got[64], want[64];
    snprintf(want, sizeof want, "%.*f", decimals, x);
    hydra_report_fixed(got, sizeof got, x, decimals);
    if (strcmp(got, want) != 0)
        fail_msg("%%.%df of %a: \"%s\", the C library gives \"%s\"", decimals, x, got, want);
}

/*
 * The hand conversion prints what the C library prints, digit for digit:
 * random bit patterns over every magnitude it handles (and past it, where
 * it hands over), exact ties at every decimal, integers, halves, signed
 * zeros and subnormals, at 0 to 8 decimals.
 */
static void test_fixed_matches_the_c_library(void **state)
{
    (void)state;
    uint64_t seed = 42;
    for (int i = 0; i < 300000; i++) {
        uint64_t r = next_random(&seed);
        /* a finite double with an exponent from 2^-70 to 2^60, either sign */
        int exp2 = (int)(r % 131) - 70;
        double mant = 1.0 + (double)(next_random(&seed) >> 12) / 4503599627370496.0;
        double x = ldexp(mant, exp2) * ((r >> 40) & 1 ? -1 : 1);
        check_fixed(x, (int)((r >> 32) % 9));
    }
    for (int d = 0; d <= 8; d++) {
        for (long k = -2000; k <= 2000; k++) {
            check_fixed((double)k / 2.0, d);                 /* halves: ties at 0 decimals */
            check_fixed((double)k / 1024.0, d);              /* exact binary fractions */
            check_fixed((double)k * 0.005, d);               /* near-ties in decimal */
            check_fixed((double)k * 1e-9 + 5e-9, d);         /* around the last digit */
            check_fixed(12345678.0 + (double)k / 8.0, d);    /* large with ties */
        }
        const double special[] = {0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308,
                                  9007199254740991.0, -9007199254740991.0, 9007199254740992.0,
                                  1e300, -1e300, 0.5, 1.5, 2.5, 0.125, 0.375, 1e-8, 5e-9};
        for (size_t k = 0; k < sizeof special / sizeof special[0]; k++)
            check_fixed(special[k], d);
    }
}

/* Counts the "x,y" pairs of the points="..." that follows `after` in svg. */
static int points_after(const char *svg, const char *after)
{
    const char *p = strstr(svg, after);
    assert_non_null(p);
    p = strstr(p, "points=\"");
    assert_non_null(p);
    p += 8;
    int n = 0;
    for (; *p != '"'; p++)
        n += *p == ',';
    return n;
}

/*
 * A chart of three closes and two trades: the curve spans the panel from
 * its bottom (the lowest value) to its top, every fill is a marker point,
 * value ticks are the 1/2/5 ones and the dates are labelled.
 */
static void test_chart_draws_every_fill(void **state)
{
    (void)state;
    int64_t t[3], day = 86400000LL;
    t[0] = hydra_report_ms_of_date(20240102) + 16 * 3600000LL;
    t[1] = t[0] + day;
    t[2] = t[1] + day;
    double y[3] = {1, 3, 2};
    int64_t mt[2] = {t[0], t[1]};
    double my[2] = {1, 3};
    hydra_report_curve c = {.t = t, .y = y, .n = 3, .id = "close", .color = "#000"};
    hydra_report_marks m[2] = {
        {.t = mt, .y = my, .n = 2, .cls = "entries", .marker = "mk-entry"},
        {.t = mt + 1, .y = my + 1, .n = 1, .cls = "exits", .marker = "mk-exit"}};
    hydra_report_panel p = {
        .title = "TEST", .height = 240, .curves = &c, .n_curves = 1, .marks = m, .n_marks = 2};
    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    assert_non_null(f);
    hydra_report_chart(f, "chart", 900, t[0], t[2], &p, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(points_after(svg, "id=\"close\""), 3);
    assert_int_equal(points_after(svg, "class=\"entries\" data-n=\"2\""), 2);
    assert_int_equal(points_after(svg, "class=\"exits\" data-n=\"1\""), 1);
    /* The lowest close on the panel's bottom (30 + 240), the highest on its top. */
    assert_non_null(strstr(svg, "points=\"80.0,270.0 "));
    assert_non_null(strstr(svg, " 480.0,30.0 "));
    for (const char *label = "1.0"; label != NULL;) {
        char want[32];
        snprintf(want, sizeof want, ">%s</text>", label);
        assert_non_null(strstr(svg, want));
        label = strcmp(label, "1.0") == 0 ? "1.5" : strcmp(label, "1.5") == 0 ? "3.0" : NULL;
    }
    assert_non_null(strstr(svg, ">2024-01-03</text>"));
    assert_non_null(strstr(svg, "</svg>\n"));
    free(svg);
}

/* The chart of `panels` as text. */
static char *chart_text(double width, int64_t t0, int64_t t1, const hydra_report_panel *p, int np)
{
    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    assert_non_null(f);
    hydra_report_chart(f, "c", width, t0, t1, p, np);
    assert_int_equal(fclose(f), 0);
    return svg;
}

/*
 * A curve reduced as it is read draws, byte for byte, the chart of the
 * whole curve: short and long curves, either side of the point where
 * downsampling starts, with ties, a NaN and marks that widen the axis.
 */
static void test_reduced_curve_draws_the_same_chart(void **state)
{
    (void)state;
    enum { MAX = 20000 };
    static int64_t t[MAX];
    static double y[MAX];
    uint64_t seed = 7;
    double v = 100;
    for (int i = 0; i < MAX; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        v += (double)((int)(seed >> 60) - 8) * 0.25; /* steps of 0.25: many equal values */
        t[i] = hydra_report_ms_of_date(20000103) + (int64_t)i * 86400000LL +
               (int64_t)(seed >> 40) % 1000;
        y[i] = v;
    }
    y[777] = NAN;
    int64_t mt[2] = {t[5], t[9]};
    double my[2] = {50, 300};
    hydra_report_marks marks = {.t = mt, .y = my, .n = 2, .cls = "entries", .marker = "mk"};
    static const double widths[] = {900, 1240};
    static const size_t sizes[] = {0,    1,    2,    3,    100,  1601, 1602,
                                   1603, 1604, 2281, 2282, 2283, 5000, MAX};
    for (size_t w = 0; w < 2; w++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            for (int with_marks = 0; with_marks < 2; with_marks++) {
                /* The whole curve, point 0 as the lead the equity charts used. */
                hydra_report_curve whole = {.t = t + 1,
                                            .y = y + 1,
                                            .n = n,
                                            .lead = 1,
                                            .lead_t = t[0],
                                            .lead_y = y[0],
                                            .id = "e",
                                            .color = "#000",
                                            .fill_down = with_marks};
                hydra_report_reducer rd;
                assert_int_equal(hydra_report_reduce_begin(&rd, n, widths[w]), 0);
                for (size_t i = 0; i < n; i++)
                    hydra_report_reduce_add(&rd, t[i], y[i]);
                hydra_report_curve reduced = whole;
                hydra_report_reduce_curve(&rd, &reduced);
                assert_true(reduced.n <= n && reduced.n <= 2 * (size_t)(widths[w] - 100) + 2);
                hydra_report_panel a = {.title = "T",
                                        .height = 200,
                                        .curves = &whole,
                                        .n_curves = 1,
                                        .marks = &marks,
                                        .n_marks = with_marks};
                hydra_report_panel b = a;
                b.curves = &reduced;
                int64_t t1 = n > 0 ? t[n - 1] : t[0];
                char *sa = chart_text(widths[w], t[0], t1, &a, 1);
                char *sb = chart_text(widths[w], t[0], t1, &b, 1);
                assert_string_equal(sa, sb);
                free(sa);
                free(sb);
                hydra_report_reduce_free(&rd);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_ticks_known_ranges),
        cmocka_unit_test(test_nice_ticks_properties),
        cmocka_unit_test(test_date_ticks),
        cmocka_unit_test(test_monthly_returns),
        cmocka_unit_test(test_downsample_keeps_extremes),
        cmocka_unit_test(test_exact_decimals),
        cmocka_unit_test(test_fixed_matches_the_c_library),
        cmocka_unit_test(test_chart_draws_every_fill),
        cmocka_unit_test(test_reduced_curve_draws_the_same_chart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
