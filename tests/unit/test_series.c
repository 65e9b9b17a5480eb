/*
 * Data series: every file in data/ loads with the row count its README
 * gives, the layouts and quirks are read right (raw OHLC not Adj Close,
 * the 1-minute file's short header, CRLF, milliseconds, a duplicate
 * timestamp), every malformed file in tests/data/ fails with its exact
 * "path:line: what" message, generated series are deterministic and
 * well-formed, and index_at finds the right bar at the boundaries. The
 * binary cache gives the CSV's bars exactly, in place (mapped), survives
 * pages handed back and appends, and a damaged cache is never used.
 */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "error.h"
#include "series.h"
#include "seriescache.h"
#include "testutil.h"

#define DATA_DIR HYDRA_SOURCE_DIR "/data/"
#define TEST_DATA_DIR HYDRA_SOURCE_DIR "/tests/data/"

/* UTC calendar time -> ms since the epoch, without the code under test. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000;
}

static void load_ok(const char *path, const char *tz, int open_min, hydra_series *s)
{
    char err[512] = "";
    int rc = hydra_series_load_csv(path, "TEST", tz, open_min, s, err, sizeof err);
    if (rc != 0)
        fail_msg("%s: rc %d: %s", path, rc, err);
}

static void assert_bar(const hydra_bar *b, int64_t t, double o, double h, double l, double c,
                       double v)
{
    assert_int_equal(b->t_ms, t);
    assert_true(b->open == o);
    assert_true(b->high == h);
    assert_true(b->low == l);
    assert_true(b->close == c);
    assert_true(b->volume == v);
}

/* Ascending time, and every bar a possible bar. */
static void assert_well_formed(const hydra_series *s)
{
    for (size_t i = 0; i < s->n; i++) {
        const hydra_bar *b = &s->bars[i];
        assert_true(b->low > 0);
        assert_true(b->high >= fmax(b->open, b->close));
        assert_true(b->low <= fmin(b->open, b->close));
        assert_true(b->volume >= 0);
        if (i > 0)
            assert_true(b->t_ms >= s->bars[i - 1].t_ms);
    }
}

static int set_los_angeles(void **state)
{
    (void)state;
    return hydra_tz_set("America/Los_Angeles");
}

static void test_every_data_file_loads(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        size_t rows;
        int daily;
    } files[] = {
        {"orcl-1995-2014.txt", 5036, 1}, {"nvda-1999-2014.txt", 4012, 1},
        {"yhoo-1996-2014.txt", 4713, 1}, {"2006-day-001.txt", 255, 1},
        {"2006-min-005.txt", 2142, 0},   {"2006-01-02-volume-min-001.txt", 30889, 0},
        {"ticksample.csv", 135, 0},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", DATA_DIR, files[i].file);
        hydra_series s;
        load_ok(path, NULL, 390, &s);
        assert_int_equal(s.n, files[i].rows);
        assert_int_equal(s.daily, files[i].daily);
        assert_int_equal(s.generated, 0);
        assert_string_equal(s.source, path);
        assert_string_equal(s.symbol, "TEST");
        assert_true(s.cap >= s.n);
        assert_well_formed(&s);
        hydra_series_free(&s);
        assert_null(s.bars);
        assert_int_equal(s.n, 0);
    }
}

static void test_daily_file_uses_raw_ohlc(void **state)
{
    (void)state;
    hydra_series s;
    /* 1995-01-03,2.179012,2.191358,2.117284,2.117284,1.883304,36301200: Adj Close is skipped. */
    load_ok(DATA_DIR "orcl-1995-2014.txt", "America/New_York", 9 * 60 + 30, &s);
    assert_int_equal(s.n, 5036);
    assert_int_equal(s.daily, 1);
    assert_bar(&s.bars[0], utc(1995, 1, 3, 14, 30, 0), 2.179012, 2.191358, 2.117284, 2.117284,
               36301200);
    /* 2014-12-31,45.450001,45.560001,44.970001,44.970001,42.303135,13269200 */
    assert_bar(&s.bars[s.n - 1], utc(2014, 12, 31, 14, 30, 0), 45.450001, 45.560001, 44.970001,
               44.970001, 13269200);
    /* Summer bars are stamped at 09:30 EDT, an hour earlier in UTC. */
    long july = hydra_series_index_at(&s, utc(2014, 7, 1, 23, 0, 0));
    assert_true(july > 0);
    assert_int_equal(s.bars[july].t_ms, utc(2014, 7, 1, 13, 30, 0));
    hydra_series_free(&s);

    /* No zone given: the market zone (Los Angeles), 06:30 PST. */
    load_ok(DATA_DIR "orcl-1995-2014.txt", NULL, 6 * 60 + 30, &s);
    assert_int_equal(s.bars[0].t_ms, utc(1995, 1, 3, 14, 30, 0));
    hydra_series_free(&s);
    load_ok(DATA_DIR "orcl-1995-2014.txt", "", 0, &s);
    assert_int_equal(s.bars[0].t_ms, utc(1995, 1, 3, 8, 0, 0));
    hydra_series_free(&s);
}

static void test_volume_column_by_header(void **state)
{
    (void)state;
    hydra_series s;
    /* Date,Open,High,Low,Close,Volume,OpenInterest on a file without a header: column 6. */
    load_ok(TEST_DATA_DIR "no-header.csv", "UTC", 0, &s);
    assert_int_equal(s.n, 2);
    assert_bar(&s.bars[0], utc(2006, 1, 2, 0, 0, 0), 10, 11, 9, 10.5, 123);
    assert_bar(&s.bars[1], utc(2006, 1, 3, 0, 0, 0), 10.5, 11, 10, 10.75, 124);
    hydra_series_free(&s);

    load_ok(TEST_DATA_DIR "bom.csv", "UTC", 0, &s);
    assert_int_equal(s.n, 1);
    assert_bar(&s.bars[0], utc(2006, 1, 2, 0, 0, 0), 10, 11, 9, 10.5, 123);
    hydra_series_free(&s);

    /* The index future's daily file: volume (0) then open interest (0). */
    load_ok(DATA_DIR "2006-day-001.txt", "Europe/Berlin", 9 * 60, &s);
    assert_bar(&s.bars[0], utc(2006, 1, 2, 8, 0, 0), 3578.73, 3605.95, 3578.73, 3604.33, 0);
    assert_bar(&s.bars[s.n - 1], utc(2006, 12, 29, 8, 0, 0), 4130.12, 4142.01, 4119.94, 4119.94, 0);
    hydra_series_free(&s);
}

static void test_minute_file(void **state)
{
    (void)state;
    hydra_series s;
    int64_t t0 = hydra_monotonic_us();
    load_ok(DATA_DIR "2006-01-02-volume-min-001.txt", "Europe/Berlin", 0, &s);
    int64_t took = hydra_monotonic_us() - t0;
    print_message("loaded 30889 one-minute bars in %lld us\n", (long long)took);

    /* CRLF line ends and a header without Time: the rows decide. */
    assert_int_equal(s.n, 30889);
    assert_int_equal(s.daily, 0);
    /* 2006-01-02,09:01:00,3602.00,3603.00,3597.00,3599.00,5699,0 in Berlin (CET). */
    assert_bar(&s.bars[0], utc(2006, 1, 2, 8, 1, 0), 3602, 3603, 3597, 3599, 5699);
    assert_bar(&s.bars[1], utc(2006, 1, 2, 8, 2, 0), 3600, 3601, 3598, 3599, 894);
    /* 2006-02-27,22:00:00,3840.00,3840.00,3838.00,3838.00,327,0 */
    assert_bar(&s.bars[s.n - 1], utc(2006, 2, 27, 21, 0, 0), 3840, 3840, 3838, 3838, 327);
    assert_bar(&s.bars[s.n - 2], utc(2006, 2, 27, 20, 59, 0), 3841, 3841, 3840, 3840, 120);
    hydra_series_free(&s);

    /* The same file in the market zone is stamped in Los Angeles time instead. */
    load_ok(DATA_DIR "2006-01-02-volume-min-001.txt", NULL, 0, &s);
    assert_int_equal(s.bars[0].t_ms, utc(2006, 1, 2, 17, 1, 0));
    hydra_series_free(&s);

    load_ok(DATA_DIR "2006-min-005.txt", "Europe/Berlin", 0, &s);
    assert_int_equal(s.n, 2142);
    assert_bar(&s.bars[0], utc(2006, 1, 2, 8, 5, 0), 3578.73, 3587.88, 3578.73, 3582.99, 0);
    assert_bar(&s.bars[s.n - 1], utc(2006, 1, 30, 16, 30, 0), 3679.29, 3679.40, 3676.31, 3677.52,
               0);
    hydra_series_free(&s);
}

static void test_crlf_short_header_and_no_final_newline(void **state)
{
    (void)state;
    hydra_series s;
    load_ok(TEST_DATA_DIR "crlf-no-time-header.csv", "UTC", 0, &s);
    assert_int_equal(s.n, 3);
    assert_bar(&s.bars[0], utc(2006, 1, 2, 9, 1, 0), 10, 11, 9, 10.5, 100);
    assert_bar(&s.bars[1], utc(2006, 1, 2, 9, 2, 0), 10.5, 12, 10, 11, 200);
    assert_bar(&s.bars[2], utc(2006, 1, 2, 9, 2, 0), 11, 11.5, 10.5, 11.25, 300);
    hydra_series_free(&s);
}

static void test_ticks_with_ms_and_duplicate(void **state)
{
    (void)state;
    hydra_series s;
    load_ok(DATA_DIR "ticksample.csv", "UTC", 0, &s);
    assert_int_equal(s.n, 135);
    assert_bar(&s.bars[0], utc(2015, 9, 23, 20, 57, 42) + 146, 3067, 3067, 3067, 3067, 180);
    assert_bar(&s.bars[134], utc(2015, 9, 23, 21, 0, 0) + 238, 3069, 3069, 3069, 3069, 1);

    /* Lines 23 and 24 share 20:58:22.316: both kept, in file order. */
    int64_t dup = utc(2015, 9, 23, 20, 58, 22) + 316;
    assert_bar(&s.bars[21], dup, 3068, 3068, 3068, 3068, 60);
    assert_bar(&s.bars[22], dup, 3069, 3069, 3069, 3069, 1);
    assert_true(s.bars[20].t_ms < dup);
    assert_true(s.bars[23].t_ms > dup);
    assert_int_equal(hydra_series_index_at(&s, dup), 22);
    assert_int_equal(hydra_series_index_at(&s, dup - 1), 20);
    hydra_series_free(&s);
}

/* Plain decimals take a fast path; it must give the same doubles strtod does. */
static void test_numbers_match_strtod(void **state)
{
    (void)state;
    static const char *const prices[] = {"0.1",
                                         "2.179012",
                                         "1e2",
                                         "123456789.123456789",
                                         ".5",
                                         "0.30000000000000004",
                                         "4503599627370497.5",
                                         "999999999999999"};
    static const char *const volumes[] = {"0", "36301200", "1.5E+1", "+4", "7.", "0", "0", "0"};
    hydra_series s;
    load_ok(TEST_DATA_DIR "numbers.csv", "UTC", 0, &s);
    assert_int_equal(s.n, 8);
    for (size_t i = 0; i < s.n; i++) {
        double p = strtod(prices[i], NULL), v = strtod(volumes[i], NULL);
        if (memcmp(&s.bars[i].open, &p, sizeof p) != 0 ||
            memcmp(&s.bars[i].close, &p, sizeof p) != 0)
            fail_msg("\"%s\" read as %a, strtod says %a", prices[i], s.bars[i].open, p);
        if (memcmp(&s.bars[i].volume, &v, sizeof v) != 0)
            fail_msg("\"%s\" read as %a, strtod says %a", volumes[i], s.bars[i].volume, v);
    }
    hydra_series_free(&s);
}

/* '#' lines before the header (a fetched file's provenance) are skipped; the rows are all read. */
static void test_leading_comments_are_skipped(void **state)
{
    (void)state;
    hydra_series s;
    load_ok(TEST_DATA_DIR "provenance.csv", "America/New_York", 16 * 60, &s);
    assert_int_equal(s.n, 2);
    assert_true(s.daily);
    assert_bar(&s.bars[0], utc(2024, 1, 2, 21, 0, 0), 10, 11, 9, 10.5, 100);
    assert_bar(&s.bars[1], utc(2024, 1, 3, 21, 0, 0), 10.5, 12, 10, 11, 200);
    hydra_series_free(&s);
}

static void test_malformed_files_fail_with_line(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int rc;
        const char *message; /* after the path */
    } cases[] = {
        {"bad-field-count.csv", HYDRA_EINVAL, ":3: expected 8 fields, got 5"},
        {"bad-number.csv", HYDRA_EINVAL, ":3: field 4 (High) is not a number: \"abc\""},
        {"bad-nan.csv", HYDRA_EINVAL, ":2: field 2 (Open) is not finite: \"nan\""},
        {"bad-trailing.csv", HYDRA_EINVAL, ":3: field 5 (Close) is not a number: \"10.5x\""},
        {"bad-high-low.csv", HYDRA_EINVAL, ":3: high 9 is below low 11"},
        {"bad-high-body.csv", HYDRA_EINVAL, ":2: high 10.5 is below max(open, close) 11"},
        {"bad-low-body.csv", HYDRA_EINVAL, ":2: low 10.5 is above min(open, close) 10"},
        {"bad-low-zero.csv", HYDRA_EINVAL, ":2: low 0 is not positive"},
        {"bad-volume.csv", HYDRA_EINVAL, ":2: volume -5 is negative"},
        {"bad-order.csv", HYDRA_EINVAL,
         ":4: timestamp 2006-01-02 09:03 is before the previous row"},
        {"bad-order-daily.csv", HYDRA_EINVAL,
         ":3: timestamp 2006-01-02 is before the previous row"},
        {"bad-order-ms.csv", HYDRA_EINVAL,
         ":3: timestamp 2015-09-23 20:57:42.145 is before the previous row"},
        {"bad-date.csv", HYDRA_EINVAL, ":3: field 1 (Date) is not a date: \"2006-02-30\""},
        {"bad-time.csv", HYDRA_EINVAL, ":2: field 2 (Time) is not a time: \"25:00:00\""},
        {"bad-datetime.csv", HYDRA_EINVAL,
         ":2: field 1 (Datetime) is not a date and time: \"2015-09-23T20:61:00.000\""},
        {"bad-datetime-first.csv", HYDRA_EINVAL,
         ":2: field 1 (Datetime) is not a date and time: \"2015-02-30T20:57:42.146\""},
        {"bad-blank-line.csv", HYDRA_EINVAL, ":3: empty line"},
        {"bad-comment-late.csv", HYDRA_EINVAL,
         ":3: expected 7 fields, got 1"},
        {"bad-too-few.csv", HYDRA_EINVAL,
         ":2: expected at least 5 fields (Date, Open, High, Low, Close), got 3"},
        {"empty.csv", HYDRA_EINVAL, ": empty file"},
        {"header-only.csv", HYDRA_EINVAL, ": header only, no data rows"},
        {"does-not-exist.csv", HYDRA_EIO, ": cannot open: No such file or directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], want[1024], err[1024];
        snprintf(path, sizeof path, "%s%s", TEST_DATA_DIR, cases[i].file);
        snprintf(want, sizeof want, "%s%s", path, cases[i].message);
        hydra_series s;
        memset(&s, 0x5a, sizeof s);
        strcpy(err, "untouched");
        int rc = hydra_series_load_csv(path, "BAD", "UTC", 0, &s, err, sizeof err);
        if (rc != cases[i].rc || strcmp(err, want) != 0)
            fail_msg("%s: rc %d, \"%s\"; want rc %d, \"%s\"", cases[i].file, rc, err, cases[i].rc,
                     want);
        /* A failed load leaves an empty series that is safe to free. */
        assert_null(s.bars);
        assert_int_equal(s.n, 0);
        hydra_series_free(&s);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    hydra_series s;
    char err[512];
    assert_int_equal(
        hydra_series_load_csv(DATA_DIR "ticksample.csv", "X", "Not/AZone", 0, &s, err, sizeof err),
        HYDRA_EINVAL);
    assert_string_equal(err, DATA_DIR "ticksample.csv: unknown time zone \"Not/AZone\"");
    assert_int_equal(hydra_series_load_csv(DATA_DIR "ticksample.csv", "X", "../etc/passwd", 0, &s,
                                           err, sizeof err),
                     HYDRA_EINVAL);
    assert_int_equal(
        hydra_series_load_csv(DATA_DIR "ticksample.csv", "X", NULL, 1440, &s, err, sizeof err),
        HYDRA_EINVAL);
    assert_int_equal(
        hydra_series_load_csv(DATA_DIR "ticksample.csv", "X", NULL, -1, &s, err, sizeof err),
        HYDRA_EINVAL);
    assert_int_equal(
        hydra_series_load_csv(HYDRA_SOURCE_DIR "/data", "X", NULL, 0, &s, err, sizeof err),
        HYDRA_EIO);
    assert_string_equal(err, HYDRA_SOURCE_DIR "/data: not a regular file");
    /* No message buffer is fine too. */
    assert_int_equal(
        hydra_series_load_csv(TEST_DATA_DIR "bad-number.csv", "X", NULL, 0, &s, NULL, 0),
        HYDRA_EINVAL);
    /* A message buffer too small is cut, not overrun. */
    char small[8];
    memset(small, 'x', sizeof small);
    assert_int_equal(
        hydra_series_load_csv(TEST_DATA_DIR "bad-number.csv", "X", NULL, 0, &s, small, 6),
        HYDRA_EINVAL);
    assert_int_equal(strlen(small), 5);
    assert_int_equal(small[6], 'x');
}

static void test_generate_is_deterministic(void **state)
{
    (void)state;
    hydra_series a, b, c;
    int64_t t0 = utc(2006, 1, 2, 14, 0, 0);
    assert_int_equal(
        hydra_series_generate("BTC/USD", 20060102, 40000, 0.0, 3.0, t0, 60000, 5000, &a), 0);
    assert_int_equal(
        hydra_series_generate("BTC/USD", 20060102, 40000, 0.0, 3.0, t0, 60000, 5000, &b), 0);
    assert_int_equal(
        hydra_series_generate("BTC/USD", 20060103, 40000, 0.0, 3.0, t0, 60000, 5000, &c), 0);
    assert_int_equal(a.n, 5000);
    assert_memory_equal(a.bars, b.bars, a.n * sizeof a.bars[0]);
    assert_string_equal(a.source, "generated: gbm seed=20060102 start=40000 vol=3%/day");
    assert_string_equal(c.source, "generated: gbm seed=20060103 start=40000 vol=3%/day");
    assert_string_equal(a.symbol, "BTC/USD");
    assert_int_equal(a.generated, 1);
    assert_int_equal(a.daily, 0);
    /* A different seed gives a different path from the first step. */
    assert_true(a.bars[0].close != c.bars[0].close);
    assert_memory_not_equal(a.bars, c.bars, a.n * sizeof a.bars[0]);

    /*
     * The first bars of this seed, bit for bit. The generator uses only
     * basic IEEE arithmetic, so these hold on every machine; a change here
     * changes every generated series and must be deliberate.
     */
    static const struct {
        size_t i;
        double close;
    } golden[] = {
        {0, 0x1.383a4a0d2a251p+15},
        {1, 0x1.3800cc92ec465p+15},
        {2, 0x1.37fa085060986p+15},
        {4999, 0x1.24b8b2302f219p+15},
    };
    for (size_t k = 0; k < sizeof golden / sizeof golden[0]; k++)
        if (a.bars[golden[k].i].close != golden[k].close)
            fail_msg("bar %zu close %a, want %a", golden[k].i, a.bars[golden[k].i].close,
                     golden[k].close);
    assert_bar(&a.bars[0], t0, 40000, 0x1.389ea7d451642p+15, 0x1.381fda401fc21p+15,
               0x1.383a4a0d2a251p+15, 160);

    hydra_series_free(&a);
    hydra_series_free(&b);
    hydra_series_free(&c);
}

static void test_generate_bars_are_well_formed(void **state)
{
    (void)state;
    hydra_series s;
    int64_t t0 = utc(2006, 1, 2, 14, 0, 0);
    assert_int_equal(
        hydra_series_generate("ETH/USD", 20060103, 2500, 0.0, 4.0, t0, 60000, 20000, &s), 0);
    assert_well_formed(&s);
    assert_true(s.bars[0].open == 2500);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.bars[i].t_ms, t0 + (int64_t)i * 60000);
        if (i > 0)
            assert_true(s.bars[i].open == s.bars[i - 1].close);
        assert_true(s.bars[i].volume >= 100 && s.bars[i].volume < 10000);
        assert_true(s.bars[i].volume == floor(s.bars[i].volume));
    }
    /* Wicks exist: some bars reach beyond their body on both sides. */
    size_t upper = 0, lower = 0;
    for (size_t i = 0; i < s.n; i++) {
        upper += s.bars[i].high > fmax(s.bars[i].open, s.bars[i].close);
        lower += s.bars[i].low < fmin(s.bars[i].open, s.bars[i].close);
    }
    assert_true(upper > s.n / 2);
    assert_true(lower > s.n / 2);
    assert_int_equal(hydra_series_index_at(&s, t0 + 60000 * 100 + 59999), 100);
    hydra_series_free(&s);

    /* Zero volatility: a flat line at the start price. */
    assert_int_equal(hydra_series_generate("FLAT", 1, 100, 0.0, 0.0, 0, 1000, 10, &s), 0);
    for (size_t i = 0; i < s.n; i++)
        assert_bar(&s.bars[i], (int64_t)i * 1000, 100, 100, 100, 100, s.bars[i].volume);
    hydra_series_free(&s);
}

/* Standard deviation and mean of the log returns, scaled to one day. */
static void daily_moments(const hydra_series *s, int64_t step_ms, double *mean, double *vol)
{
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < s->n; i++) {
        double r = log(s->bars[i].close / s->bars[i].open);
        sum += r;
        sum2 += r * r;
    }
    double m = sum / (double)s->n;
    double var = sum2 / (double)s->n - m * m;
    double per_day = 86400000.0 / (double)step_ms;
    *mean = m * per_day;
    *vol = sqrt(var * per_day);
}

static void test_generate_scales_to_step(void **state)
{
    (void)state;
    hydra_series s;
    double mean, vol;
    /* 3 %/day with one-minute steps: 200,000 returns measure it to well under 1 %. */
    assert_int_equal(hydra_series_generate("M1", 7, 100, 0.0, 3.0, 0, 60000, 200000, &s), 0);
    daily_moments(&s, 60000, &mean, &vol);
    assert_true(fabs(vol - 0.03) < 0.03 * 0.02);
    hydra_series_free(&s);

    /* The same daily volatility with five-minute steps. */
    assert_int_equal(hydra_series_generate("M5", 8, 100, 0.0, 3.0, 0, 300000, 200000, &s), 0);
    daily_moments(&s, 300000, &mean, &vol);
    assert_true(fabs(vol - 0.03) < 0.03 * 0.02);
    hydra_series_free(&s);

    /*
     * Drift, 1 %/day with 0.5 %/day volatility in hourly steps: the mean log
     * return is mu - sigma^2 / 2 a day, measured over 20,000 steps (833
     * days, standard error 0.00017) to 0.0007.
     */
    assert_int_equal(hydra_series_generate("H", 9, 100, 1.0, 0.5, 0, 3600000, 20000, &s), 0);
    daily_moments(&s, 3600000, &mean, &vol);
    assert_true(fabs(mean - (0.01 - 0.5 * 0.005 * 0.005)) < 0.0007);
    assert_true(fabs(vol - 0.005) < 0.005 * 0.05);
    hydra_series_free(&s);
}

static void test_generate_rejects_bad_arguments(void **state)
{
    (void)state;
    hydra_series s;
    assert_int_equal(hydra_series_generate("X", 1, 0, 0, 1, 0, 1000, 10, &s), HYDRA_EINVAL);
    assert_int_equal(hydra_series_generate("X", 1, -5, 0, 1, 0, 1000, 10, &s), HYDRA_EINVAL);
    assert_int_equal(hydra_series_generate("X", 1, NAN, 0, 1, 0, 1000, 10, &s), HYDRA_EINVAL);
    assert_int_equal(hydra_series_generate("X", 1, 100, INFINITY, 1, 0, 1000, 10, &s),
                     HYDRA_EINVAL);
    assert_int_equal(hydra_series_generate("X", 1, 100, 0, -1, 0, 1000, 10, &s), HYDRA_EINVAL);
    assert_int_equal(hydra_series_generate("X", 1, 100, 0, 1, 0, 0, 10, &s), HYDRA_EINVAL);
    assert_int_equal(hydra_series_generate("X", 1, 100, 0, 1, 0, -1000, 10, &s), HYDRA_EINVAL);
    assert_int_equal(hydra_series_generate("X", 1, 100, 0, 1, 0, 1000, 0, &s), HYDRA_EINVAL);
    /* The last bar's time would overflow. */
    assert_int_equal(hydra_series_generate("X", 1, 100, 0, 1, INT64_MAX - 5000, 1000, 10, &s),
                     HYDRA_EINVAL);
    assert_null(s.bars);
    assert_int_equal(hydra_series_generate("X", 1, 100, 0, 1, INT64_MAX - 9000, 1000, 10, &s), 0);
    hydra_series_free(&s);
}

static void test_index_at_boundaries(void **state)
{
    (void)state;
    hydra_series s;
    memset(&s, 0, sizeof s);
    assert_int_equal(hydra_series_index_at(&s, 0), -1);

    static const int64_t times[] = {10, 20, 20, 30};
    for (size_t i = 0; i < 4; i++) {
        hydra_bar b = {times[i], 1, 1, 1, 1, (double)i};
        assert_int_equal(hydra_series_push(&s, &b), 0);
    }
    assert_int_equal(hydra_series_index_at(&s, INT64_MIN), -1);
    assert_int_equal(hydra_series_index_at(&s, 9), -1);
    assert_int_equal(hydra_series_index_at(&s, 10), 0);
    assert_int_equal(hydra_series_index_at(&s, 19), 0);
    assert_int_equal(hydra_series_index_at(&s, 20), 2); /* the last of the duplicates */
    assert_int_equal(hydra_series_index_at(&s, 29), 2);
    assert_int_equal(hydra_series_index_at(&s, 30), 3);
    assert_int_equal(hydra_series_index_at(&s, INT64_MAX), 3);
    hydra_series_free(&s);

    /* One bar. */
    hydra_bar one = {100, 1, 1, 1, 1, 0};
    assert_int_equal(hydra_series_push(&s, &one), 0);
    assert_int_equal(hydra_series_index_at(&s, 99), -1);
    assert_int_equal(hydra_series_index_at(&s, 100), 0);
    hydra_series_free(&s);

    /* Against a linear scan over a real file, at every bar time and either side of it. */
    load_ok(DATA_DIR "2006-min-005.txt", "Europe/Berlin", 0, &s);
    for (size_t i = 0; i < s.n; i += 7) {
        int64_t probes[3] = {s.bars[i].t_ms - 1, s.bars[i].t_ms, s.bars[i].t_ms + 1};
        for (int k = 0; k < 3; k++) {
            long want = -1;
            for (size_t j = 0; j < s.n && s.bars[j].t_ms <= probes[k]; j++)
                want = (long)j;
            assert_int_equal(hydra_series_index_at(&s, probes[k]), want);
        }
    }
    hydra_series_free(&s);
}

/* A search from any guess gives hydra_series_index_at's answer. */
static void test_index_near_matches_index_at(void **state)
{
    (void)state;
    hydra_series s;
    memset(&s, 0, sizeof s);
    assert_int_equal(hydra_series_index_near(&s, 0, 0), -1);
    static const int64_t times[] = {10, 20, 20, 20, 30, 40, 40, 50};
    for (size_t i = 0; i < 8; i++) {
        hydra_bar b = {times[i], 1, 1, 1, 1, (double)i};
        assert_int_equal(hydra_series_push(&s, &b), 0);
    }
    for (size_t guess = 0; guess <= 9; guess++)
        for (int64_t t = 0; t <= 60; t += 5) {
            assert_int_equal(hydra_series_index_near(&s, guess, t), hydra_series_index_at(&s, t));
            assert_int_equal(hydra_series_index_near(&s, guess, INT64_MIN), -1);
            assert_int_equal(hydra_series_index_near(&s, guess, INT64_MAX), 7);
        }
    hydra_series_free(&s);

    load_ok(DATA_DIR "2006-min-005.txt", "Europe/Berlin", 0, &s);
    size_t guesses[] = {0, 1, s.n / 3, s.n / 2, s.n - 2, s.n - 1, s.n};
    for (size_t g = 0; g < sizeof guesses / sizeof guesses[0]; g++)
        for (size_t i = 0; i < s.n; i += 13)
            for (int64_t d = -1; d <= 1; d++) {
                int64_t t = s.bars[i].t_ms + d;
                assert_int_equal(hydra_series_index_near(&s, guesses[g], t),
                                 hydra_series_index_at(&s, t));
            }
    hydra_series_free(&s);
}

static void test_push_grows(void **state)
{
    (void)state;
    hydra_series s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 10000; i++) {
        hydra_bar b = {i, i + 1.0, i + 2.0, i + 0.5, i + 1.5, i};
        assert_int_equal(hydra_series_push(&s, &b), 0);
        assert_true(s.cap >= s.n);
    }
    assert_int_equal(s.n, 10000);
    assert_true(s.cap < 2 * 10000 + 256);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(s.bars[i].t_ms, i);
        assert_true(s.bars[i].close == i + 1.5);
    }
    hydra_series_free(&s);
}

/* Loads data/orcl-1995-2014.txt through a cache in dir; asserts how it was served. */
static void load_orcl(const char *cache, hydra_series *s, hydra_cache_outcome want)
{
    char err[256] = "";
    hydra_cache_outcome how = 0;
    memset(s, 0, sizeof *s);
    assert_int_equal(hydra_series_load_cached(DATA_DIR "orcl-1995-2014.txt", "ORCL", NULL, 780,
                                              cache, s, &how, err, sizeof err),
                     0);
    assert_int_equal(how, want);
}

static void assert_same_bars(const hydra_series *a, const hydra_series *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->daily, b->daily);
    assert_memory_equal(a->bars, b->bars, a->n * sizeof *a->bars);
}

/* Resident kilobytes of this process's mapping that starts at `start` (/proc/self/smaps), -1 if none. */
static long mapping_rss_kb(const void *start)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    int in = 0;
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s ", &lo, &hi, perms) == 3) { /* a mapping's first line */
            in = lo == (unsigned long)(uintptr_t)start;
            continue;
        }
        if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

/*
 * A pass over a short mapped series (ORCL's 5,000 daily bars, less than a
 * window) hands its pages back when it ends, as a long one's are: 500 such
 * series loaded one after the other do not all stay resident.
 */
static void test_short_series_pass_hands_pages_back(void **state)
{
    (void)state;
    char dir[256];
    assert_non_null(tu_mkdtemp(dir, sizeof dir));
    hydra_series first, hit;
    load_orcl(dir, &first, HYDRA_CACHE_MISS);
    load_orcl(dir, &hit, HYDRA_CACHE_HIT);
    assert_non_null(hit.map);
    assert_true(hit.n < HYDRA_SERIES_WINDOW);
    /* Whole pages only are handed back: the one holding the last bars may stay. */
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    assert_in_range(mapping_rss_kb(hit.map), 0, page_kb); /* the load's check of the times */
    double sum = 0;
    for (size_t i = 0; i < hit.n; i++) {
        hydra_series_passed(&hit, i);
        sum += hit.bars[i].close;
    }
    assert_true(mapping_rss_kb(hit.map) > 16 * page_kb); /* read back in from the page cache */
    hydra_series_passed(&hit, hit.n);
    assert_in_range(mapping_rss_kb(hit.map), 0, page_kb);
    assert_true(sum > 0);
    hydra_series_free(&hit);
    hydra_series_free(&first);
    tu_rmtree(dir);
}

static void test_cache_maps_the_csv_bars(void **state)
{
    (void)state;
    char dir[256];
    assert_non_null(tu_mkdtemp(dir, sizeof dir));
    char err[256];
    hydra_series csv, first, hit;
    memset(&csv, 0, sizeof csv);
    assert_int_equal(hydra_series_load_csv(DATA_DIR "orcl-1995-2014.txt", "ORCL", NULL, 780, &csv,
                                           err, sizeof err),
                     0);
    load_orcl(dir, &first, HYDRA_CACHE_MISS);
    assert_same_bars(&csv, &first);
    assert_null(first.map); /* parsed, in heap memory */
    load_orcl(dir, &hit, HYDRA_CACHE_HIT);
    assert_same_bars(&csv, &hit);
    assert_non_null(hit.map); /* read in place */
    assert_string_equal(hit.source, DATA_DIR "orcl-1995-2014.txt");

    /* Pages handed back stay readable, with the same bars. */
    hydra_series_release_before(&hit, hit.n / 2);
    hydra_series_release_before(&hit, hit.n);
    assert_same_bars(&csv, &hit);

    /* An append copies the mapped bars out first: the file is not written. */
    hydra_bar extra = hit.bars[hit.n - 1];
    extra.t_ms += 86400000;
    assert_int_equal(hydra_series_push(&hit, &extra), 0);
    assert_null(hit.map);
    assert_int_equal(hit.n, csv.n + 1);
    assert_memory_equal(hit.bars, csv.bars, csv.n * sizeof *csv.bars);
    hydra_series again;
    load_orcl(dir, &again, HYDRA_CACHE_HIT);
    assert_same_bars(&csv, &again);

    hydra_series_free(&again);
    hydra_series_free(&hit);
    hydra_series_free(&first);
    hydra_series_free(&csv);
    tu_rmtree(dir);
}

/* A cache whose bars were damaged on disk (out of order, or cut short) is parsed again, never used. */
static void test_damaged_cache_is_not_used(void **state)
{
    (void)state;
    char dir[256], cpath[1024];
    assert_non_null(tu_mkdtemp(dir, sizeof dir));
    hydra_series good, s;
    load_orcl(dir, &good, HYDRA_CACHE_MISS);
    assert_int_equal(hydra_series_cache_path(DATA_DIR "orcl-1995-2014.txt", NULL, 780, dir, cpath,
                                             sizeof cpath),
                     0);
    size_t len = 0;
    char *bytes = tu_read_file(cpath, &len);
    assert_non_null(bytes);
    size_t header = len - good.n * sizeof(hydra_bar);

    /* Bar 10 stamped before bar 9. */
    hydra_bar *b = (hydra_bar *)(bytes + header);
    b[10].t_ms = b[9].t_ms - 1;
    FILE *f = fopen(cpath, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
    load_orcl(dir, &s, HYDRA_CACHE_MISS);
    assert_same_bars(&good, &s);
    hydra_series_free(&s);

    /* Cut short by one bar. */
    assert_int_equal(truncate(cpath, (off_t)(len - sizeof(hydra_bar))), 0);
    load_orcl(dir, &s, HYDRA_CACHE_MISS);
    assert_same_bars(&good, &s);
    hydra_series_free(&s);

    free(bytes);
    hydra_series_free(&good);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_data_file_loads),
        cmocka_unit_test(test_daily_file_uses_raw_ohlc),
        cmocka_unit_test(test_volume_column_by_header),
        cmocka_unit_test(test_minute_file),
        cmocka_unit_test(test_crlf_short_header_and_no_final_newline),
        cmocka_unit_test(test_ticks_with_ms_and_duplicate),
        cmocka_unit_test(test_numbers_match_strtod),
        cmocka_unit_test(test_leading_comments_are_skipped),
        cmocka_unit_test(test_malformed_files_fail_with_line),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_generate_is_deterministic),
        cmocka_unit_test(test_generate_bars_are_well_formed),
        cmocka_unit_test(test_generate_scales_to_step),
        cmocka_unit_test(test_generate_rejects_bad_arguments),
        cmocka_unit_test(test_index_at_boundaries),
        cmocka_unit_test(test_index_near_matches_index_at),
        cmocka_unit_test(test_push_grows),
        cmocka_unit_test(test_cache_maps_the_csv_bars),
        cmocka_unit_test(test_short_series_pass_hands_pages_back),
        cmocka_unit_test(test_damaged_cache_is_not_used),
    };
    return cmocka_run_group_tests_name("series", tests, set_los_angeles, NULL);
}
